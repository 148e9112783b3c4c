//! Forwards librdkafka's log lines and client errors to `tracing`.

use rdkafka::{config::RDKafkaLogLevel, error::KafkaError, types::RDKafkaErrorCode};

/// Logs a librdkafka log line at the matching `tracing` level.
pub(crate) fn log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", facility, "{message}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
    }
}

/// Logs a client error; lost connections are warnings (the client
/// reconnects by itself), the rest errors.
pub(crate) fn client_error(error: &KafkaError, reason: &str) {
    if is_connection_error(error) {
        tracing::warn!(target: "librdkafka", %error, "{reason}");
    } else {
        tracing::error!(target: "librdkafka", %error, "{reason}");
    }
}

/// Whether the error says the brokers cannot be reached.
pub(crate) fn is_connection_error(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
        )
    )
}
