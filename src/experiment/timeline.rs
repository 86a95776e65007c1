//! The timeline of an experiment: when each phase runs and which faults are
//! in force at any moment, ramps included. Pure: time is an argument.

use std::time::Duration;

use super::{Experiment, Phase, PhaseFault};
use crate::fault::{Distribution, Fault, HttpKind, Kind, TcpKind};

/// One phase placed on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub name: String,
    pub start: Duration,
    pub end: Duration,
}

impl Experiment {
    /// The same experiment with one quiet phase of `duration` instead of its
    /// own, and no guardrails: its load driven alone (`brownout load`).
    pub fn load_only(mut self, duration: Duration) -> Experiment {
        self.phases = vec![Phase { name: "load".into(), duration, faults: Vec::new() }];
        self.max_duration = duration + super::validate::SLACK;
        self.guardrails.clear();
        self
    }
}

#[derive(Debug, Clone)]
pub struct Timeline {
    pub spans: Vec<Span>,
    pub total: Duration,
}

impl Timeline {
    pub fn new(exp: &Experiment) -> Timeline {
        let mut start = Duration::ZERO;
        let spans = exp
            .phases
            .iter()
            .map(|p| {
                let span = Span { name: p.name.clone(), start, end: start + p.duration };
                start += p.duration;
                span
            })
            .collect();
        Timeline { spans, total: start }
    }

    /// The phase running at `t`, if any.
    pub fn phase_at(&self, t: Duration) -> Option<usize> {
        self.spans.iter().position(|s| t >= s.start && t < s.end)
    }

    /// The moments the active faults change: every phase start and every
    /// ramp step, ascending.
    pub fn changes(&self, exp: &Experiment) -> Vec<Duration> {
        let mut times = Vec::new();
        for (span, phase) in self.spans.iter().zip(&exp.phases) {
            times.push(span.start);
            for f in phase.faults.iter().filter_map(|f| f.ramp.as_ref()) {
                for k in 1..f.steps {
                    times.push(span.start + (span.end - span.start).mul_f64(f64::from(k) / f64::from(f.steps)));
                }
            }
        }
        times.sort();
        times.dedup();
        times
    }

    /// Every target's faults in force at `t` (targets without faults are
    /// listed with none, so that applying the result clears them).
    pub fn faults_at(&self, exp: &Experiment, t: Duration) -> Vec<(String, Vec<Fault>)> {
        let mut out: Vec<(String, Vec<Fault>)> =
            exp.config.targets.iter().map(|t| (t.name.clone(), Vec::new())).collect();
        let Some(i) = self.phase_at(t) else { return out };
        let span = &self.spans[i];
        let progress = (t - span.start).as_secs_f64() / (span.end - span.start).as_secs_f64().max(1e-9);
        for pf in &exp.phases[i].faults {
            if let Some((_, faults)) = out.iter_mut().find(|(name, _)| *name == pf.target) {
                faults.push(ramped(pf, progress));
            }
        }
        out
    }

    /// Lines for a dry run: `00:00-00:30 baseline: no faults`.
    pub fn describe(&self, exp: &Experiment) -> Vec<String> {
        self.spans
            .iter()
            .zip(&exp.phases)
            .map(|(span, phase)| {
                let faults: Vec<String> = phase
                    .faults
                    .iter()
                    .map(|f| {
                        let mut d = format!("{}: {}", f.target, f.fault.describe());
                        if let Some(r) = &f.ramp {
                            if let Some((a, b)) = r.probability {
                                d.push_str(&format!(", probability ramped {}% to {}%", a * 100.0, b * 100.0));
                            }
                            if let Some((a, b)) = r.delay {
                                d.push_str(&format!(", delay ramped {a:?} to {b:?}"));
                            }
                            d.push_str(&format!(" in {} steps", r.steps));
                        }
                        d
                    })
                    .collect();
                let what = if faults.is_empty() { "no faults".to_string() } else { faults.join("; ") };
                format!("{}-{} {}: {what}", clock(span.start), clock(span.end), span.name)
            })
            .collect()
    }
}

/// `mm:ss` (or `h:mm:ss` past an hour).
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// The fault with its ramped parameters at `progress` (0 to 1) of its phase:
/// the value of the step `progress` falls in, first step `from`, last `to`.
fn ramped(pf: &PhaseFault, progress: f64) -> Fault {
    let mut fault = pf.fault.clone();
    let Some(ramp) = &pf.ramp else { return fault };
    let steps = f64::from(ramp.steps);
    let step = (progress * steps).floor().min(steps - 1.0);
    let frac = step / (steps - 1.0);
    if let Some((a, b)) = ramp.probability {
        fault.scope.probability = a + (b - a) * frac;
    }
    if let Some((a, b)) = ramp.delay {
        let d = Duration::from_secs_f64(a.as_secs_f64() + (b.as_secs_f64() - a.as_secs_f64()) * frac);
        match &mut fault.kind {
            Kind::Http(HttpKind::Latency { delay, .. }) => *delay = Distribution::Fixed(d),
            Kind::Tcp(TcpKind::Latency { delay, .. }, _) => *delay = d,
            _ => {}
        }
    }
    fault
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment() -> Experiment {
        let text = r#"
title = "t"
[[target]]
name = "api"
protocol = "http"
listen = "127.0.0.1:0"
upstream = "http://127.0.0.1:9"
[[target]]
name = "db"
protocol = "tcp"
listen = "127.0.0.1:0"
upstream = "127.0.0.1:9"
[[phase]]
name = "baseline"
duration = "30s"
[[phase]]
name = "ramp"
duration = "40s"
faults = [{ target = "api", kind = "error", status = 503, probability = 0.1, ramp = { probability = [0.1, 1.0], steps = 4 } },
          { target = "db", kind = "latency", delay = "50ms", ramp = { delay = ["50ms", "2s"], steps = 4 } }]
[[phase]]
name = "recovery"
duration = "10s"
"#;
        crate::experiment::parse("t.toml", text, None).expect("valid")
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn phases_follow_each_other_without_gaps() {
        let exp = experiment();
        let tl = Timeline::new(&exp);
        assert_eq!(tl.total, secs(80.0));
        assert_eq!(tl.phase_at(secs(0.0)), Some(0));
        assert_eq!(tl.phase_at(secs(29.999)), Some(0));
        assert_eq!(tl.phase_at(secs(30.0)), Some(1));
        assert_eq!(tl.phase_at(secs(70.0)), Some(2));
        assert_eq!(tl.phase_at(secs(80.0)), None);
    }

    #[test]
    fn changes_fall_on_phase_starts_and_ramp_steps() {
        let exp = experiment();
        let tl = Timeline::new(&exp);
        let want: Vec<Duration> = [0.0, 30.0, 40.0, 50.0, 60.0, 70.0].into_iter().map(secs).collect();
        assert_eq!(tl.changes(&exp), want);
    }

    #[test]
    fn ramps_step_from_their_first_to_their_last_value() {
        let exp = experiment();
        let tl = Timeline::new(&exp);
        let at = |t: f64| {
            let faults = tl.faults_at(&exp, secs(t));
            let p = faults.iter().find(|(n, _)| n == "api").and_then(|(_, f)| f.first().map(|f| f.scope.probability));
            let d = faults.iter().find(|(n, _)| n == "db").and_then(|(_, f)| match f.first().map(|f| &f.kind) {
                Some(Kind::Tcp(TcpKind::Latency { delay, .. }, _)) => Some(*delay),
                _ => None,
            });
            (p, d)
        };
        assert_eq!(at(10.0), (None, None), "the baseline has no faults");
        let (p, d) = at(30.0);
        assert!((p.unwrap() - 0.1).abs() < 1e-9 && d == Some(secs(0.05)));
        let (p, _) = at(45.0);
        assert!((p.unwrap() - 0.4).abs() < 1e-9, "{p:?}");
        let (p, d) = at(69.9);
        assert!((p.unwrap() - 1.0).abs() < 1e-9 && d == Some(secs(2.0)));
        assert_eq!(at(75.0), (None, None), "recovery clears every fault");
        // Every target is listed, so applying a step clears targets without faults.
        assert_eq!(tl.faults_at(&exp, secs(75.0)).len(), 2);
    }

    #[test]
    fn a_dry_run_reads_as_a_timeline() {
        let exp = experiment();
        let lines = Timeline::new(&exp).describe(&exp);
        assert_eq!(lines[0], "00:00-00:30 baseline: no faults");
        assert!(
            lines[1].starts_with(
                "00:30-01:10 ramp: api: error-1: error status 503, 10%, probability ramped 10% to 100% in 4 steps"
            ),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], "01:10-01:20 recovery: no faults");
    }
}
