//! Which dependency failure hurt which user journey: each user-facing route
//! while a set of faults was on, against the same route while none was.
//!
//! Attribution here is by time: a request counts against the faults on
//! when it arrived. Faults on at the same time cannot be told apart that
//! way, so they share one joint row instead of each claiming the whole
//! effect. Attribution by trace, which follows a request to the dependency
//! calls it made, is `traces.rs`'s, against the same `baselines`.

use std::collections::BTreeMap;

use super::faults::on_intervals;
use super::model::{Attribution, FaultRef, FaultStats, Impact, Stats};
use super::stats::{Exchange, StatsBuilder};

/// Changes of the set of faults closer together than this are one change:
/// a phase swaps each target's faults one after another, microseconds apart.
const COALESCE_S: f64 = 0.010;
/// Fewer requests than this on either side are too few to compare.
pub const MIN_REQUESTS: u64 = 5;
/// An availability drop of at least this many percentage points is an effect.
pub const MIN_AVAILABILITY_DROP_PP: f64 = 1.0;
/// A p99 rise of at least this many milliseconds, and at least
/// [`MIN_P99_RISE_SHARE`] of the baseline's p99, is an effect.
pub const MIN_P99_RISE_MS: f64 = 50.0;
pub const MIN_P99_RISE_SHARE: f64 = 0.5;

/// A stretch of time with one set of faults on (indexes into the fault rows).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Segment {
    start: f64,
    end: f64,
    on: Vec<usize>,
}

/// The stretches of `[0, end)` by the set of faults on in each.
pub(super) fn segments(faults: &[FaultStats], end: f64) -> Vec<Segment> {
    let mut changes: Vec<(f64, usize, i32)> = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        for (on, off) in on_intervals(f, end) {
            changes.push((on, i, 1));
            changes.push((off.max(on), i, -1));
        }
    }
    changes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut open: BTreeMap<usize, i32> = BTreeMap::new();
    let mut out: Vec<Segment> = vec![Segment { start: 0.0, end, on: Vec::new() }];
    let mut k = 0;
    while k < changes.len() {
        // Every change within COALESCE_S of this one is taken with it.
        let at = changes[k].0;
        while k < changes.len() && changes[k].0 - at < COALESCE_S {
            let (_, i, d) = changes[k];
            *open.entry(i).or_default() += d;
            k += 1;
        }
        if at >= end {
            break;
        }
        let on: Vec<usize> = open.iter().filter(|(_, n)| **n > 0).map(|(i, _)| *i).collect();
        let last = out.last_mut().expect("starts with one segment");
        if last.on == on {
            continue;
        }
        if at <= last.start {
            last.on = on;
        } else {
            last.end = at;
            out.push(Segment { start: at, end, on });
        }
    }
    out
}

/// Impact rows by time: for each set of faults that was on together and
/// each user-facing route, the route then against the route while no
/// fault was on; ranked by effect, noise last with the reason.
pub(super) fn by_time(
    obs: &[Exchange],
    faults: &[FaultStats],
    names: &[String],
    end: f64,
    user_facing: impl Fn(usize) -> bool,
) -> Vec<Impact> {
    let segs = segments(faults, end);
    let set_of = |t: f64| -> &[usize] {
        let i = segs.partition_point(|s| s.start <= t).saturating_sub(1);
        &segs[i].on
    };
    let mut during: BTreeMap<(&[usize], usize), StatsBuilder> = BTreeMap::new();
    for o in obs.iter().filter(|o| user_facing(o.listener)) {
        let on = set_of(o.t);
        if !on.is_empty() {
            during.entry((on, o.route)).or_default().add(o);
        }
    }
    let baseline = baselines(obs, &segs, &user_facing);
    let mut on_for: BTreeMap<&[usize], f64> = BTreeMap::new();
    for s in &segs {
        *on_for.entry(&s.on).or_default() += s.end - s.start;
    }
    let mut out: Vec<Impact> = during
        .into_iter()
        .map(|((on, route), acc)| {
            let during = acc.finish();
            let base = baseline.get(&route).cloned().unwrap_or_default();
            let refs: Vec<FaultRef> = on
                .iter()
                .map(|&i| FaultRef { target: faults[i].target.clone(), fault: faults[i].name.clone() })
                .collect();
            let label = refs.iter().map(|r| format!("{}/{}", r.target, r.fault)).collect::<Vec<_>>().join(" + ");
            let availability_delta = during.availability.zip(base.availability).map(|(d, b)| d - b);
            let p99_delta_ms = during.p99_ms.zip(base.p99_ms).map(|(d, b)| d - b);
            Impact {
                target: refs[0].target.clone(),
                fault: refs[0].fault.clone(),
                on_s: on_for.get(on).copied().unwrap_or(0.0),
                faults: refs,
                label,
                route: names[route].clone(),
                noise: noise(&base, &during, Attribution::Time),
                baseline: base,
                during,
                availability_delta,
                p99_delta_ms,
                attribution: Attribution::Time,
                calls: None,
            }
        })
        .collect();
    out.sort_by(rank);
    out
}

/// Each user-facing route while no fault was on, by the [`segments`] of
/// the run: what every impact row compares against.
pub(super) fn baselines(
    obs: &[Exchange],
    segs: &[Segment],
    user_facing: impl Fn(usize) -> bool,
) -> BTreeMap<usize, Stats> {
    let quiet = |t: f64| {
        let i = segs.partition_point(|s| s.start <= t).saturating_sub(1);
        segs[i].on.is_empty()
    };
    let mut baseline: BTreeMap<usize, StatsBuilder> = BTreeMap::new();
    for o in obs.iter().filter(|o| user_facing(o.listener) && quiet(o.t)) {
        baseline.entry(o.route).or_default().add(o);
    }
    baseline.into_iter().map(|(r, b)| (r, b.finish())).collect()
}

/// Why a difference is not an effect, or `None` when it is one.
pub fn noise(baseline: &Stats, during: &Stats, attribution: Attribution) -> Option<String> {
    if during.requests < MIN_REQUESTS {
        let how = match attribution {
            Attribution::Time => "while on",
            Attribution::Trace => "met it",
        };
        return Some(format!(
            "{} {how}: too few to compare (at least {MIN_REQUESTS} are needed)",
            requests(during.requests)
        ));
    }
    if baseline.requests < MIN_REQUESTS {
        return Some(format!(
            "{} while no fault was on: too few to compare (at least {MIN_REQUESTS} are needed)",
            requests(baseline.requests)
        ));
    }
    let drop_pp = baseline.availability.zip(during.availability).map_or(0.0, |(b, d)| (b - d) * 100.0);
    let (base_p99, rise) = baseline.p99_ms.zip(during.p99_ms).map_or((0.0, 0.0), |(b, d)| (b, d - b));
    let slower = rise >= MIN_P99_RISE_MS && rise >= MIN_P99_RISE_SHARE * base_p99;
    if drop_pp >= MIN_AVAILABILITY_DROP_PP || slower {
        return None;
    }
    Some(format!(
        "availability {} pp, p99 {} ms: under the thresholds of a {MIN_AVAILABILITY_DROP_PP} pp drop or a p99 rise of {MIN_P99_RISE_MS} ms and {:.0}%",
        signed(-drop_pp),
        signed(rise),
        MIN_P99_RISE_SHARE * 100.0
    ))
}

/// `+1.5`, `-0.5`, and `+0.0` for anything that rounds to zero (never `-0.0`).
fn signed(x: f64) -> String {
    // Adding 0.0 turns a negative zero into a plain one.
    format!("{:+.1}", (x * 10.0).round() / 10.0 + 0.0)
}

fn requests(n: u64) -> String {
    if n == 1 {
        "1 request".into()
    } else {
        format!("{n} requests")
    }
}

/// Effects before noise; within each, the largest availability drop first,
/// then the largest p99 rise (a failure weighs more than a delay).
pub fn rank(a: &Impact, b: &Impact) -> std::cmp::Ordering {
    let drop = |i: &Impact| i.availability_delta.filter(|d| d.is_finite()).unwrap_or(0.0);
    let rise = |i: &Impact| i.p99_delta_ms.filter(|d| d.is_finite()).unwrap_or(0.0);
    a.noise
        .is_some()
        .cmp(&b.noise.is_some())
        .then(drop(a).total_cmp(&drop(b)))
        .then(rise(b).total_cmp(&rise(a)))
        .then(a.label.cmp(&b.label))
        .then(a.route.cmp(&b.route))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::FaultInterval;

    fn fault(name: &str, intervals: &[(f64, f64)]) -> FaultStats {
        FaultStats {
            target: "t".into(),
            name: name.into(),
            kind: "latency".into(),
            configured: String::new(),
            on_s: intervals[0].0,
            off_s: intervals.last().map(|v| v.1),
            applied: 1,
            eligible: None,
            uncounted: false,
            intervals: intervals
                .iter()
                .map(|&(on, off)| FaultInterval {
                    on_s: on,
                    off_s: Some(off),
                    configured: String::new(),
                    applied: 1,
                    eligible: None,
                })
                .collect(),
        }
    }

    fn seg(start: f64, end: f64, on: &[usize]) -> Segment {
        Segment { start, end, on: on.to_vec() }
    }

    #[test]
    fn overlapping_faults_make_a_joint_segment() {
        let faults = [fault("a", &[(10.0, 30.0)]), fault("b", &[(20.0, 40.0)])];
        assert_eq!(
            segments(&faults, 50.0),
            [
                seg(0.0, 10.0, &[]),
                seg(10.0, 20.0, &[0]),
                seg(20.0, 30.0, &[0, 1]),
                seg(30.0, 40.0, &[1]),
                seg(40.0, 50.0, &[])
            ]
        );
    }

    #[test]
    fn a_phase_swap_microseconds_apart_is_one_change_and_ramp_steps_are_one_fault() {
        // a's steps swap at 20 s; a goes off 20 us after b comes on.
        let faults = [fault("a", &[(10.0, 20.0), (20.0, 30.00002)]), fault("b", &[(30.0, 40.0)])];
        assert_eq!(segments(&faults, 40.0), [seg(0.0, 10.0, &[]), seg(10.0, 30.0, &[0]), seg(30.0, 40.0, &[1])]);
    }

    #[test]
    fn small_or_thin_differences_are_noise_with_the_reason() {
        let stats = |requests, availability: f64, p99| Stats {
            requests,
            availability: Some(availability),
            p99_ms: Some(p99),
            ..Stats::default()
        };
        let base = stats(100, 1.0, 5.0);
        let noise = |b: &Stats, d: &Stats| noise(b, d, Attribution::Time);
        assert!(noise(&base, &stats(4, 0.0, 5.0)).unwrap().starts_with("4 requests while on: too few"));
        assert!(super::noise(&base, &stats(4, 0.0, 5.0), Attribution::Trace).unwrap().starts_with("4 requests met it"));
        assert!(noise(&base, &stats(100, 0.995, 9.0)).unwrap().starts_with("availability -0.5 pp, p99 +4.0 ms"));
        assert!(noise(&base, &stats(100, 1.0, 5.0)).unwrap().starts_with("availability +0.0 pp, p99 +0.0 ms"));
        assert_eq!(noise(&base, &stats(100, 0.98, 5.0)), None, "a 2 pp drop is an effect");
        assert_eq!(noise(&base, &stats(100, 1.0, 80.0)), None, "a p99 from 5 to 80 ms is an effect");
        let slow_base = stats(100, 1.0, 400.0);
        assert!(noise(&slow_base, &stats(100, 1.0, 460.0)).is_some(), "60 ms on 400 ms is under 50%");
    }
}
