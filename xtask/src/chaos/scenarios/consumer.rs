//! The consuming process SIGKILLed every few seconds and replaced, as a
//! crash-looping deployment would: whatever it handled but had not yet
//! acknowledged comes again (duplicates), nothing is lost or reordered.

use futures::FutureExt;

use crate::chaos::workload::{FaultCtx, Faults};

/// SIGKILLs the consumer `times` times, evenly over the first 70% of the
/// run, starting a new one right after each kill.
pub fn kill_repeatedly(times: u32) -> Faults {
    Box::new(move |ctx: FaultCtx| {
        async move {
            let every = ctx.publish_for.mul_f64(0.7) / times;
            for kill in 1..=times {
                tokio::time::sleep(every).await;
                ctx.mark(format!("SIGKILL the consumer ({kill} of {times})"));
                ctx.consumers.lock().await.kill_and_replace()?;
            }
            Ok(())
        }
        .boxed()
    })
}
