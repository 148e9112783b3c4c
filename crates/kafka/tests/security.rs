//! TLS and SASL/SCRAM against an Apache Kafka broker configured that way,
//! with certificates generated here; the password never shows in errors or
//! `Debug` output.

mod common;

use std::{path::Path, time::Duration};

use anyhow::{Context as _, Result, ensure};
use evbus_kafka::{
    KafkaConfig, KafkaTransport, SaslConfig, SaslMechanism, Secret, TlsConfig,
    testkit::{BrokerOptions, BrokerSecurity, KafkaBroker, ScramUser, ServerTls},
};
use evbus_topics::{TopicAdmin as _, TopicOptions};
use evbus_transport::{OutgoingMessage, SubscribeOptions, Transport};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

const USER: &str = "evbus-alice";
const PASSWORD: &str = "hunter2-scram-secret";

/// A CA and a broker certificate for 127.0.0.1 signed by it; writes the CA
/// to `dir/ca.pem` for the client.
fn certificates(dir: &Path) -> Result<ServerTls> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "evbus test CA");
    let ca_cert = ca.self_signed(&ca_key)?;
    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    server
        .distinguished_name
        .push(DnType::CommonName, "evbus test broker");
    let cert = server.signed_by(&key, &issuer)?;
    Ok(ServerTls {
        certificate_chain_pem: cert.pem(),
        private_key_pem: Secret::new(key.serialize_pem()),
    })
}

fn secured(
    broker: &KafkaBroker,
    ca: &Path,
    mechanism: SaslMechanism,
    password: &str,
) -> KafkaConfig {
    let mut config = broker.config();
    let mut tls = TlsConfig::default();
    tls.ca_location = Some(ca.to_owned());
    config.tls = Some(tls);
    config.sasl = Some(SaslConfig::new(mechanism, USER, password));
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_scram_carry_messages_and_keep_the_password_secret() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut options = BrokerOptions::default();
    options.security = BrokerSecurity::plaintext()
        .tls(certificates(dir.path())?)
        .scram(ScramUser {
            username: USER.to_owned(),
            password: Secret::new(PASSWORD),
        });
    let broker = tokio::task::spawn_blocking(move || KafkaBroker::start_with(&options)).await??;
    println!("against {}", broker.describe());
    let ca = dir.path().join("ca.pem");

    for mechanism in [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512] {
        let config = secured(&broker, &ca, mechanism, PASSWORD);
        ensure!(
            !format!("{config:?}").contains(PASSWORD),
            "config Debug shows the password"
        );
        let transport = KafkaTransport::connect(config).await?;
        ensure!(
            !format!("{transport:?}").contains(PASSWORD),
            "transport Debug shows the password"
        );
        let topic = common::unique("secured");
        transport
            .admin()
            .create(&topic, &TopicOptions::new().partitions(1))
            .await
            .with_context(|| format!("creating {topic} over SASL_SSL ({mechanism:?})"))?;
        transport
            .publish(&topic, OutgoingMessage::new("over tls").with_key("k"))
            .await?;
        let mut sub = transport
            .subscribe(
                &topic,
                &common::unique("secured"),
                SubscribeOptions::default(),
            )
            .await?;
        let deadline = tokio::time::Instant::now() + common::WITHIN;
        let delivery = loop {
            ensure!(
                tokio::time::Instant::now() < deadline,
                "nothing delivered over TLS"
            );
            if let Some(d) = sub.next_batch(1).await?.into_iter().next() {
                break d;
            }
        };
        ensure!(&delivery.payload[..] == b"over tls");
        delivery.ack().await?;
        sub.close().await?;
        transport.close().await?;
        println!("{mechanism:?} over TLS: published, delivered, acked");
    }

    // A wrong password is refused, and no error says the password.
    let wrong = "not-the-password-9f3";
    let mut config = secured(&broker, &ca, SaslMechanism::ScramSha512, wrong);
    config.publish_timeout = Duration::from_secs(5);
    let outcome = match KafkaTransport::connect(config).await {
        Err(e) => Err(e),
        Ok(transport) => {
            let r = transport
                .publish(&common::unique("refused"), OutgoingMessage::new("x"))
                .await;
            let _ = transport.close().await;
            r.map(|_| ())
        }
    };
    let err = outcome.expect_err("a wrong password must not publish");
    let text = format!("{err} {err:?}");
    ensure!(!text.contains(wrong) && !text.contains(PASSWORD), "{text}");
    println!("wrong password refused: {err}");
    Ok(())
}
