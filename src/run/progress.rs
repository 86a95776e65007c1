//! The live progress display: the phase, the time left and the last
//! seconds' figures, redrawn in place on a terminal and logged as plain
//! lines otherwise.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::experiment::timeline::clock;
use crate::record::live::Live;

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
        // The last five whole seconds: the current one is still filling.
        let to = now_s.saturating_sub(1);
        let from = to.saturating_sub(4);
        let t = live.window(listener, "*", from, to);
        let seconds = (to - from + 1) as f64;
        let rps = t.requests as f64 / seconds;
        let p99 = if t.requests > 0 { t.latency.value_at_quantile(0.99) as f64 / 1000.0 } else { 0.0 };
        let graceful = t.by_class.get("graceful").copied().unwrap_or(0);
        let ungraceful = t.by_class.get("ungraceful").copied().unwrap_or(0);
        let share = if graceful + ungraceful > 0 {
            format!("{:.0}%", graceful as f64 / (graceful + ungraceful) as f64 * 100.0)
        } else {
            "-".into()
        };
        let left = total.saturating_sub(elapsed);
        let line = format!(
            "{} {phase:<28} {} left | {rps:>6.0} req/s | errors {:>5.1}% | p99 {p99:>7.1} ms | graceful {share}",
            clock(elapsed),
            clock(left),
            t.error_rate() * 100.0
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
