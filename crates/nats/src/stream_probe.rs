//! What a JetStream publish's "no responders" means. The server answers so
//! both when no stream stores the subject (a topic to configure: not
//! worth retrying) and when a stream does but no replica that could store
//! the message is reachable from this server (its leader is down or across
//! a partition, or an election is under way: worth retrying). The
//! JetStream API tells them apart; asking costs a request on this error
//! path only, and the answer is kept for [`KEEP`], so a window of failed
//! publishes asks once.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use async_nats::jetstream::{self, context::GetStreamByNameErrorKind};
use parking_lot::Mutex;

/// How long the API may take to answer: it answers in milliseconds when
/// reachable, and the publish that failed waits for it.
const ASK_WITHIN: Duration = Duration::from_secs(1);
/// How long an answer is reused for the same subject.
const KEEP: Duration = Duration::from_secs(1);

/// Why no stream answered a publish on a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No stream stores the subject.
    Missing,
    /// This stream stores it, but none of its replicas that could store
    /// the message answered.
    Unreachable(String),
    /// The JetStream API did not answer either: this server is most likely
    /// cut off from its cluster.
    Unknown,
}

/// The recent verdicts, per subject.
#[derive(Default)]
pub(crate) struct StreamProbe {
    recent: Mutex<HashMap<String, (Instant, Verdict)>>,
}

impl StreamProbe {
    /// Why no stream answered a publish on `subject`, asked of the
    /// JetStream API unless asked within [`KEEP`].
    pub(crate) async fn why_unanswered(
        &self,
        jetstream: &jetstream::Context,
        subject: &str,
    ) -> Verdict {
        if let Some((at, verdict)) = self.recent.lock().get(subject)
            && at.elapsed() < KEEP
        {
            return verdict.clone();
        }
        let answer = tokio::time::timeout(ASK_WITHIN, jetstream.stream_by_subject(subject)).await;
        let verdict = match answer {
            Ok(Ok(stream)) => Verdict::Unreachable(stream),
            Ok(Err(error)) if error.kind() == GetStreamByNameErrorKind::NotFound => {
                Verdict::Missing
            }
            Ok(Err(_)) | Err(_) => Verdict::Unknown,
        };
        let mut recent = self.recent.lock();
        recent.retain(|_, (at, _)| at.elapsed() < KEEP);
        recent.insert(subject.to_owned(), (Instant::now(), verdict.clone()));
        verdict
    }
}
