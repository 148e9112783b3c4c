//! TLS and SCRAM on a test broker's client listener.

use std::fmt;

use crate::Secret;

/// The broker's TLS identity, PEM-encoded (a test generates it, e.g. with
/// `rcgen`).
#[derive(Clone)]
pub struct ServerTls {
    /// The broker's certificate chain, leaf first.
    pub certificate_chain_pem: String,
    /// The certificate's private key, unencrypted PKCS#8.
    pub private_key_pem: Secret,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("certificate_chain_pem", &"<pem>")
            .field("private_key_pem", &self.private_key_pem)
            .finish()
    }
}

/// A SCRAM user the broker knows from its first start, with credentials for
/// both SCRAM-SHA-256 and SCRAM-SHA-512.
#[derive(Debug, Clone)]
pub struct ScramUser {
    /// The user name.
    pub username: String,
    /// The password, hidden from `Debug`.
    pub password: Secret,
}

/// How clients reach a test broker.
///
/// The default is plaintext. With `tls` the client listener speaks TLS, with
/// `scram` it requires SASL/SCRAM; with both, `SASL_SSL`. The brokers talk to
/// each other and to the controllers over separate plaintext listeners, so
/// the testkit's own readiness checks need no credentials.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct BrokerSecurity {
    /// TLS on the client listener. Default: `None`.
    pub tls: Option<ServerTls>,
    /// SASL/SCRAM on the client listener. Default: `None`.
    pub scram: Option<ScramUser>,
}

impl BrokerSecurity {
    /// Plaintext, no authentication.
    pub fn plaintext() -> Self {
        Self::default()
    }

    /// Adds TLS with this identity.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Adds SASL/SCRAM with this user.
    pub fn scram(mut self, user: ScramUser) -> Self {
        self.scram = Some(user);
        self
    }

    /// Kafka's name for the client listener's protocol.
    pub(crate) fn protocol(&self) -> &'static str {
        match (&self.tls, &self.scram) {
            (None, None) => "PLAINTEXT",
            (Some(_), None) => "SSL",
            (None, Some(_)) => "SASL_PLAINTEXT",
            (Some(_), Some(_)) => "SASL_SSL",
        }
    }
}
