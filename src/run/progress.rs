//! The live progress display: the phase, the time left and the last
//! seconds' figures of that phase (the window restarts at each phase
//! boundary, so no figure is credited to the phase after it), redrawn in
//! place on a terminal and logged as plain lines otherwise.

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
        Figures::since(live, listener, now_s, 0).unwrap_or_else(|| Figures::of(live, listener, 0, 0))
    }

    /// The figures of the last five whole seconds at run second `now_s`
    /// that began at or after run second `from_s` (a phase's start, rounded
    /// up); `None` while no such second is complete.
    pub fn since(live: &Live, listener: &str, now_s: u64, from_s: u64) -> Option<Figures> {
        let to = now_s.checked_sub(1)?;
        let from = to.saturating_sub(4).max(from_s);
        (from <= to).then(|| Figures::of(live, listener, from, to))
    }

    /// The figures at `elapsed` into the run of the phase that began at
    /// `phase_start`: only that phase's whole seconds are counted (a second
    /// that began before the phase holds the phase before it).
    pub fn in_phase(live: &Live, listener: &str, phase_start: Duration, elapsed: Duration) -> Option<Figures> {
        let from_s = phase_start.as_secs() + u64::from(phase_start.subsec_nanos() > 0);
        Figures::since(live, listener, elapsed.as_secs(), from_s)
    }

    fn of(live: &Live, listener: &str, from: u64, to: u64) -> Figures {
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
    /// The phase of the last plain line: a new phase gets a line at once.
    phase: Option<String>,
}

impl Progress {
    /// Draws on stderr when enabled; in place only when stderr is a terminal.
    pub fn new(enabled: bool) -> Self {
        Progress { terminal: std::io::stderr().is_terminal(), enabled, last_plain: None, phase: None }
    }

    /// Shows the state at `elapsed` into the run, in the phase that began
    /// at `phase_start`: only that phase's seconds are counted.
    pub fn show(
        &mut self,
        live: &Live,
        listener: &str,
        phase: &str,
        phase_start: Duration,
        elapsed: Duration,
        total: Duration,
    ) {
        if !self.enabled {
            return;
        }
        let now_s = elapsed.as_secs();
        let left = total.saturating_sub(elapsed);
        let head = format!("{} {phase:<28} {} left", clock(elapsed), clock(left));
        let line = match Figures::in_phase(live, listener, phase_start, elapsed) {
            Some(f) => {
                let share = f.graceful_share.map_or_else(|| "-".into(), |s| format!("{:.0}%", s * 100.0));
                let (rps, p99) = (f.requests_per_s, f.p99_ms.unwrap_or(0.0));
                format!(
                    "{head} | last {}s: {rps:>6.0} req/s | errors {:>5.1}% | p99 {p99:>7.1} ms | graceful {share}",
                    f.window_s,
                    f.error_rate * 100.0
                )
            }
            None => format!("{head} | the phase has just begun: no whole second of it yet"),
        };
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        } else if self.last_plain.is_none_or(|l| now_s >= l + 5) || self.phase.as_deref() != Some(phase) {
            self.phase = Some(phase.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::journal::Origin;
    use crate::record::live::Exchange;

    fn add(live: &Live, second: u64, failed: bool) {
        live.add(Exchange {
            listener: "observer",
            route: "GET /",
            second,
            ended: std::time::SystemTime::now(),
            failed_origin: failed.then_some(Origin::Upstream),
            class: None,
            latency_us: 1000,
        });
    }

    /// The seconds of the phase before never count for the phase shown now.
    #[test]
    fn the_window_restarts_at_a_phase_boundary() {
        let live = Live::default();
        for second in 0..5 {
            add(&live, second, true);
        }
        for second in 5..8 {
            add(&live, second, false);
        }
        let all = Figures::recent(&live, "observer", 8);
        assert!(all.error_rate > 0.0, "seconds 3 to 7 mix both phases");
        let phase = Figures::since(&live, "observer", 8, 5).expect("seconds 5 to 7 are whole");
        assert_eq!((phase.window_s, phase.error_rate), (3, 0.0));
        assert!(Figures::since(&live, "observer", 5, 5).is_none(), "no whole second of the phase yet");
    }
}
