//! The live progress display: the phase, the time left and the last
//! seconds' figures, redrawn in place on a terminal and logged as plain
//! lines otherwise.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::experiment::timeline::clock;
use serde::Serialize;

use crate::record::journal::Class;
use crate::record::live::Live;

/// A listener's last five whole seconds: what the progress line and the
/// admin API's run status show.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub listener: String,
    pub window_s: u64,
    pub requests_per_s: f64,
    pub error_rate: f64,
    pub p99_ms: Option<f64>,
    /// Graceful failures over all classified failures, at the observer.
    pub graceful_share: Option<f64>,
}

impl Figures {
    /// The figures at run second `now_s`; the current second is still
    /// filling, so the window ends one before it.
    pub fn recent(live: &Live, listener: &str, now_s: u64) -> Figures {
        let to = now_s.saturating_sub(1);
        let from = to.saturating_sub(4);
        let t = live.window(listener, "*", from, to);
        let window_s = to - from + 1;
        let graceful = t.classed(Class::Graceful);
        let ungraceful = t.classed(Class::Ungraceful);
        Figures {
            listener: listener.to_string(),
            window_s,
            requests_per_s: t.requests as f64 / window_s as f64,
            error_rate: t.error_rate(),
            p99_ms: (t.requests > 0).then(|| t.latency.value_at_quantile(0.99) as f64 / 1000.0),
            graceful_share: (graceful + ungraceful > 0).then(|| graceful as f64 / (graceful + ungraceful) as f64),
        }
    }
}

pub struct Progress {
    terminal: bool,
    enabled: bool,
    last_plain: Option<u64>,
}

impl Progress {
    /// Draws on stderr when enabled; in place only when stderr is a terminal.
    pub fn new(enabled: bool) -> Self {
        Progress { terminal: std::io::stderr().is_terminal(), enabled, last_plain: None }
    }

    /// Shows the state at run second `now_s` (`elapsed` precisely).
    pub fn show(&mut self, live: &Live, listener: &str, phase: &str, elapsed: Duration, total: Duration) {
        if !self.enabled {
            return;
        }
        let now_s = elapsed.as_secs();
        let f = Figures::recent(live, listener, now_s);
        let share = f.graceful_share.map_or_else(|| "-".into(), |s| format!("{:.0}%", s * 100.0));
        let (rps, p99) = (f.requests_per_s, f.p99_ms.unwrap_or(0.0));
        let left = total.saturating_sub(elapsed);
        let line = format!(
            "{} {phase:<28} {} left | {rps:>6.0} req/s | errors {:>5.1}% | p99 {p99:>7.1} ms | graceful {share}",
            clock(elapsed),
            clock(left),
            f.error_rate * 100.0
        );
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        } else if self.last_plain.is_none_or(|l| now_s >= l + 5) {
            self.last_plain = Some(now_s);
            let _ = writeln!(err, "{line}");
        }
    }

    /// Ends the in-place line.
    pub fn finish(&mut self) {
        if self.enabled && self.terminal {
            let _ = writeln!(std::io::stderr());
        }
    }
}
