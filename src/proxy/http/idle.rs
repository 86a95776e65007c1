//! An idle deadline that follows activity without a timer operation per
//! request: the timer is armed once, and when it fires it is re-armed to the
//! last activity plus the timeout if there was activity since. A busy
//! keep-alive connection then costs one timer operation per timeout period,
//! not one per request.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

pub struct IdleTimer {
    timeout: Option<Duration>,
    last: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl IdleTimer {
    /// A timer for `timeout` of inactivity (never, without one), counting
    /// from now.
    pub fn new(timeout: Option<Duration>) -> Self {
        IdleTimer { timeout, last: Instant::now(), sleep: None }
    }

    /// Something happened: the idle time counts from now.
    pub fn touch(&mut self) {
        if self.timeout.is_some() {
            self.last = Instant::now();
        }
    }

    /// Completes once nothing has happened for the timeout since the last
    /// [`touch`](Self::touch).
    pub async fn expired(&mut self) {
        let Some(timeout) = self.timeout else { return std::future::pending().await };
        loop {
            let due = self.last + timeout;
            let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
            sleep.as_mut().await;
            let due = self.last + timeout;
            if Instant::now() >= due {
                return;
            }
            sleep.as_mut().reset(due);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn activity_pushes_the_deadline_and_silence_ends_it() {
        let started = Instant::now();
        let mut idle = IdleTimer::new(Some(Duration::from_secs(10)));
        tokio::time::sleep(Duration::from_secs(6)).await;
        idle.touch();
        idle.expired().await;
        assert_eq!(started.elapsed(), Duration::from_secs(16), "10 s after the last touch, not the first");
        let mut never = IdleTimer::new(None);
        let waited = tokio::time::timeout(Duration::from_secs(3600), never.expired()).await;
        assert!(waited.is_err(), "no timeout: never idle");
    }
}
