//! Fault timelines from the journal's `fault_on` and `fault_off` lines: one
//! row per fault, with every interval it was on and the value it had in each.
//!
//! A ramp step or an edit through the admin API swaps a fault for its next
//! value: the new value's `fault_on` and the old value's `fault_off` come at
//! the same moment, in either order. A `fault_off` therefore closes the
//! oldest interval of that fault still open, never the one just opened.

use std::collections::HashMap;

use super::model::{FaultInterval, FaultStats};
use crate::record::journal::{FaultOff, FaultOn};

/// Builds the fault rows as the journal is read.
#[derive(Default)]
pub(super) struct Timelines {
    faults: Vec<FaultStats>,
    by_name: HashMap<(String, String), usize>,
    /// Applications counted from request and connection lines, per listener
    /// and fault name, for intervals without a `fault_off` (a killed process).
    counted: HashMap<(String, String), Vec<f64>>,
}

impl Timelines {
    pub fn on(&mut self, f: &FaultOn) {
        let key = (f.target.clone(), f.fault.clone());
        let next = self.faults.len();
        let i = *self.by_name.entry(key).or_insert(next);
        if i == next {
            self.faults.push(FaultStats {
                target: f.target.clone(),
                name: f.fault.clone(),
                kind: f.kind.clone(),
                configured: f.configured.clone(),
                on_s: f.t,
                off_s: None,
                applied: 0,
                eligible: Some(0),
                uncounted: false,
                intervals: Vec::new(),
            });
        }
        let row = &mut self.faults[i];
        row.uncounted |= f.uncounted;
        row.intervals.push(FaultInterval {
            on_s: f.t,
            off_s: None,
            configured: f.configured.clone(),
            applied: 0,
            eligible: None,
        });
    }

    pub fn off(&mut self, f: &FaultOff) {
        let Some(&i) = self.by_name.get(&(f.target.clone(), f.fault.clone())) else { return };
        if let Some(open) = self.faults[i].intervals.iter_mut().find(|v| v.off_s.is_none()) {
            open.off_s = Some(f.t);
            open.applied = f.applied;
            open.eligible = f.eligible;
        }
    }

    /// One application of `faults` (comma-separated names) at `listener`, at `t`.
    pub fn applied(&mut self, listener: &str, faults: &str, t: f64) {
        for name in faults.split(',') {
            self.counted.entry((listener.to_string(), name.to_string())).or_default().push(t);
        }
    }

    /// The rows: intervals still open ran to the end; an interval without a
    /// `fault_off` (or one whose count is 0) takes its count from the
    /// recorded exchanges instead.
    pub fn finish(mut self) -> Vec<FaultStats> {
        for f in &mut self.faults {
            let counted = self.counted.remove(&(f.target.clone(), f.name.clone())).unwrap_or_default();
            for v in f.intervals.iter_mut().filter(|v| v.off_s.is_none() || v.applied == 0) {
                let within = |t: f64| t >= v.on_s && v.off_s.is_none_or(|off| t < off);
                v.applied = v.applied.max(counted.iter().filter(|t| within(**t)).count() as u64);
            }
            f.on_s = f.intervals.first().map_or(f.on_s, |v| v.on_s);
            f.off_s = if f.intervals.iter().any(|v| v.off_s.is_none()) {
                None
            } else {
                f.intervals.iter().filter_map(|v| v.off_s).reduce(f64::max)
            };
            f.applied = f.intervals.iter().map(|v| v.applied).sum();
            f.eligible = f.intervals.iter().map(|v| v.eligible).sum();
        }
        self.faults
    }
}

/// The stretches of time each fault was on, `(on, off)`, with `end` for
/// one still on.
pub(super) fn on_intervals(f: &FaultStats, end: f64) -> impl Iterator<Item = (f64, f64)> + '_ {
    f.intervals.iter().map(move |v| (v.on_s, v.off_s.unwrap_or(end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(t: f64, configured: &str) -> FaultOn {
        FaultOn {
            t,
            target: "auth".into(),
            fault: "latency-1".into(),
            kind: "latency".into(),
            configured: configured.into(),
            uncounted: false,
        }
    }

    fn off(t: f64, applied: u64) -> FaultOff {
        FaultOff { t, target: "auth".into(), fault: "latency-1".into(), applied, eligible: Some(applied + 1) }
    }

    /// A journal written before the fix has each step's `fault_on` before
    /// the previous step's `fault_off`: the steps still line up.
    #[test]
    fn a_ramp_logged_on_before_off_gives_each_step_its_own_interval() {
        let mut t = Timelines::default();
        t.on(&on(3.0, "300ms"));
        t.on(&on(3.5, "900ms"));
        t.off(&off(3.5, 10));
        t.on(&on(4.0, "1.5s"));
        t.off(&off(4.0, 12));
        t.off(&off(4.5, 11));
        let rows = t.finish();
        assert_eq!(rows.len(), 1);
        let steps: Vec<(f64, Option<f64>, &str, u64)> =
            rows[0].intervals.iter().map(|v| (v.on_s, v.off_s, v.configured.as_str(), v.applied)).collect();
        assert_eq!(steps, [(3.0, Some(3.5), "300ms", 10), (3.5, Some(4.0), "900ms", 12), (4.0, Some(4.5), "1.5s", 11)]);
        assert_eq!((rows[0].on_s, rows[0].off_s, rows[0].applied, rows[0].eligible), (3.0, Some(4.5), 33, Some(36)));
    }

    #[test]
    fn a_fault_without_its_off_line_counts_what_was_recorded() {
        let mut t = Timelines::default();
        t.on(&on(1.0, "300ms"));
        t.applied("auth", "latency-1,other", 2.0);
        t.applied("auth", "latency-1", 2.5);
        let rows = t.finish();
        assert_eq!((rows[0].off_s, rows[0].applied, rows[0].eligible), (None, 2, None));
    }
}
