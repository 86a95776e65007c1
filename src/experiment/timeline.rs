//! The timeline of an experiment: when each phase runs and which faults are
//! in force at any moment, ramps included. Pure: time is an argument.

use std::time::Duration;

use super::{Experiment, PhaseFault};
use crate::fault::{Distribution, Fault, HttpKind, Kind, TcpKind};

/// One phase placed on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub name: String,
    pub start: Duration,
    pub end: Duration,
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
