//! The traffic of a run: envelope `i` is a pure function of `i`, the same
//! function as `interop/go/spec.go`, so each side checks every field it
//! receives against what the other side was told to send, without trusting
//! either codec.

use evbus::{
    Envelope,
    envelope::{OffsetDateTime, TenantId},
};

/// One run's parameters (the Go tool's flags).
#[derive(Debug, Clone)]
pub struct Spec {
    pub count: usize,
    pub aggregates: usize,
    /// The version of each aggregate's first envelope.
    pub first_version: i64,
    /// The first 8 hex digits of the event ids: tells producers apart.
    pub id_prefix: String,
    /// Every fourth envelope in the Go SDK's pre-v1.1.38 form, tenant as a
    /// string (only a Go producer sends these).
    pub string_tenants: bool,
}

/// 2026-01-02T03:04:05Z.
const BASE_UNIX_NANOS: i128 = 1_767_323_045_000_000_000;

/// Envelope `i` of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub event_id: String,
    pub aggregate_id: String,
    pub event_type: String,
    pub event_version: i64,
    pub timestamp: OffsetDateTime,
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    pub tenant: Option<TenantId>,
    pub payload: String,
}

impl Spec {
    /// 1,000 envelopes over 100 aggregates, versions from 1.
    pub fn standard(id_prefix: &str) -> Self {
        Self {
            count: 1_000,
            aggregates: 100,
            first_version: 1,
            id_prefix: id_prefix.to_owned(),
            string_tenants: false,
        }
    }

    /// Envelope `i`.
    pub fn expected(&self, i: usize) -> Expected {
        let a = i % self.aggregates;
        let tenant = match i % 4 {
            0 => None,
            3 if self.string_tenants => Some(TenantId::Text(format!("tenant-{a:03}"))),
            _ => Some(TenantId::Number(a as i64 + 1)),
        };
        Expected {
            event_id: format!("{}-0000-7000-8000-{i:012}", self.id_prefix),
            aggregate_id: format!("order-{a:03}"),
            event_type: "order.updated".into(),
            event_version: self.first_version + (i / self.aggregates) as i64,
            // Go writes every third one in UTC+8; the instant is the same.
            timestamp: OffsetDateTime::from_unix_timestamp_nanos(
                BASE_UNIX_NANOS + i as i128 * 1_000_001,
            )
            .expect("in range"),
            trace_id: i.is_multiple_of(2).then(|| format!("trace-{i}")),
            correlation_id: (!i.is_multiple_of(5)).then(|| format!("corr-{a:03}")),
            tenant,
            payload: format!(r#"{{"seq":{i},"aggregate":"order-{a:03}","note":"Zoë 北京 ✓"}}"#),
        }
    }

    /// Envelope `i` as evbus publishes it.
    pub fn envelope(&self, i: usize) -> Envelope {
        let e = self.expected(i);
        let mut builder =
            Envelope::builder(e.aggregate_id, e.event_type, e.event_version, e.payload)
                .event_id(e.event_id)
                .timestamp(e.timestamp);
        if let Some(trace) = e.trace_id {
            builder = builder.trace_id(trace);
        }
        if let Some(correlation) = e.correlation_id {
            builder = builder.correlation_id(correlation);
        }
        if let Some(tenant) = e.tenant {
            builder = builder.tenant_id(tenant);
        }
        builder.build().expect("a valid envelope")
    }
}

impl Expected {
    /// `Ok` when `envelope` carries exactly these fields (the timestamp as
    /// an instant, the payload as bytes).
    pub fn matches(&self, envelope: &Envelope) -> Result<(), String> {
        let got = Expected {
            event_id: envelope.event_id().to_owned(),
            aggregate_id: envelope.aggregate_id().to_owned(),
            event_type: envelope.event_type().to_owned(),
            event_version: envelope.event_version(),
            timestamp: envelope.timestamp(),
            trace_id: envelope.trace_id().map(str::to_owned),
            correlation_id: envelope.correlation_id().map(str::to_owned),
            tenant: envelope.tenant_id().cloned(),
            payload: String::from_utf8_lossy(envelope.payload()).into_owned(),
        };
        if &got == self {
            Ok(())
        } else {
            Err(format!("got {got:?}, want {self:?}"))
        }
    }
}
