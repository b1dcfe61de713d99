//! Asking running steps to stop (an operator's Ctrl-C, a host shutting down).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A handle that asks the steps of a [`crate::Runtime`] to stop: the running one is
/// interrupted (its transaction comes back to be rolled back, like a step over its time
/// limit) and the engine starts no other. Clones share the request.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<State>);

#[derive(Debug, Default)]
struct State {
    asked: AtomicBool,
    notify: Notify,
}

impl Stop {
    /// Asks every step that runs or would run under this handle to stop.
    pub fn stop(&self) {
        self.0.asked.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }

    /// True once [`Stop::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.0.asked.load(Ordering::Acquire)
    }

    /// Returns once [`Stop::stop`] was called (at once if it already was).
    pub async fn stopped(&self) {
        let notified = self.0.notify.notified();
        tokio::pin!(notified);
        // Registered before the flag is read, so that a stop in between is not missed.
        notified.as_mut().enable();
        if self.is_stopped() {
            return;
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests {
    use super::Stop;

    #[tokio::test]
    async fn a_stop_wakes_every_waiter_and_stays_asked() {
        let stop = Stop::default();
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.stopped().await }
        });
        tokio::task::yield_now().await;
        assert!(!stop.is_stopped());
        stop.stop();
        waiter.await.unwrap();
        assert!(stop.is_stopped());
        stop.stopped().await;
    }
}
