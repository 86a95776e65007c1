//! The scoreboard's figures from the runs: each experiment's verdicts over
//! time and whether it is stale, a score per service, each journey's
//! failures, each standard's compliance, and the unclassified routes. Pure:
//! the time it is judged at is an argument.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::model::{
    CompliancePoint, ExperimentRecord, JourneyRecord, Rules, RunVerdict, ServiceScore, StandardRecord,
    UnclassifiedRecord,
};
use super::read::Run;
use crate::experiment::schedule::{Cron, Zone};
use crate::report::verdict::Status;
use crate::report::words::iso_utc;

/// A scheduled experiment is stale this long after a rerun was due and none proved anything.
pub const STALE_GRACE: Duration = Duration::from_secs(3600);
/// An experiment without a schedule is stale once its last proof is this old: the monthly review.
pub const UNSCHEDULED_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Points of an experiment by its latest run that proved something.
pub const HELD: u32 = 100;
pub const HELD_STALE: u32 = 75;
pub const DEVIATED: u32 = 50;
pub const NEVER_PROVED: u32 = 0;
/// What services are grouped under when their experiments name none.
pub const NO_SERVICE: &str = "(no service)";

/// The verdicts, in the order the scoreboard counts them.
const STATUSES: [Status; 7] = [
    Status::Held,
    Status::Deviated,
    Status::Aborted,
    Status::Inconclusive,
    Status::Interrupted,
    Status::Failed,
    Status::Unfinished,
];

/// A run that proved something: the hypothesis held, or it did not.
pub fn proves(status: Status) -> bool {
    matches!(status, Status::Held | Status::Deviated | Status::Aborted)
}

pub fn rules() -> Rules {
    Rules {
        stale_grace_s: STALE_GRACE.as_secs(),
        unscheduled_max_age_s: UNSCHEDULED_MAX_AGE.as_secs(),
        held: HELD,
        held_stale: HELD_STALE,
        deviated: DEVIATED,
        never_proved: NEVER_PROVED,
        score: format!(
            "Each experiment scores its latest run that proved something (held, deviated or aborted): held {HELD}, \
             held but stale {HELD_STALE}, deviated or aborted {DEVIATED}; an experiment with no such run scores \
             {NEVER_PROVED}. A service's score is the mean of its experiments' scores, rounded down. A run that \
             proves nothing (inconclusive, interrupted, failed, unfinished) neither raises nor lowers it. Every \
             verdict includes the standards' checks, so the score counts the organisation's standards."
        ),
        criticality: format!(
            "Per run, each user journey while a dependency's faults were on, against the same journey while no \
             fault was on: it fails when its availability fell by at least {} pp, degrades when it held but \
             its p99 rose by at least {} ms and {:.0}%, holds otherwise (at least {} requests on each side). Over \
             runs, a journey's effect is the one seen in most runs (a tie goes to the worse). A dependency is \
             hard when some journey fails, soft when none fails but some degrades, no effect when every journey \
             held.",
            crate::report::impact::MIN_AVAILABILITY_DROP_PP,
            crate::report::impact::MIN_P99_RISE_MS,
            crate::report::impact::MIN_P99_RISE_SHARE * 100.0,
            crate::report::impact::MIN_REQUESTS
        ),
    }
}

fn status(run: &Run) -> Status {
    run.report.verdict.as_ref().map_or(Status::Unfinished, |v| v.status)
}

fn service(run: &Run) -> Option<&str> {
    run.report.standards.as_ref().and_then(|s| s.service.as_deref())
}

/// What ties an experiment's runs together: its file as named, else its title.
fn key(run: &Run) -> String {
    match &run.report.reproduce.experiment {
        Some(file) => file.strip_prefix("./").unwrap_or(file).to_string(),
        None => run.report.title.clone(),
    }
}

/// Each experiment, its runs oldest first, judged at `now`.
pub(super) fn experiments(runs: &[Run], now: SystemTime) -> Vec<ExperimentRecord> {
    let mut groups: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
    for run in runs {
        groups.entry(key(run)).or_default().push(run);
    }
    groups.into_iter().map(|(key, runs)| experiment(key, &runs, now)).collect()
}

fn experiment(key: String, runs: &[&Run], now: SystemTime) -> ExperimentRecord {
    let latest = runs.last().expect("a group has a run");
    let history: Vec<RunVerdict> = runs
        .iter()
        .map(|r| {
            let v = r.report.verdict.as_ref();
            RunVerdict {
                started_ms: r.report.started_ms,
                started: iso_utc(r.report.started_ms),
                status: status(r).to_string(),
                failed: v.map_or(0, |v| v.failed().count() as u64),
                measured: v.map_or(0, |v| v.measured().count() as u64),
                dir: r.dir.clone(),
            }
        })
        .collect();
    let counts = STATUSES
        .iter()
        .map(|s| (s.to_string(), runs.iter().filter(|r| status(r) == *s).count() as u64))
        .filter(|(_, n)| *n > 0)
        .collect();
    let schedule = latest.report.schedule.as_ref();
    let proof = runs.iter().rev().find(|r| proves(status(r)));
    let staleness = proof.map(|p| Staleness::of(p.report.started_ms, schedule, now));
    let (stale, state, due) = match (&staleness, proof) {
        (Some(s), Some(_)) => (s.stale, s.words.clone(), s.due),
        _ => (
            true,
            format!(
                "never proved anything: {} ran, none held, deviated or aborted",
                crate::report::words::count(runs.len() as u64, ("run", "runs"))
            ),
            None,
        ),
    };
    let points = match proof.map(|p| status(p)) {
        Some(Status::Held) if stale => HELD_STALE,
        Some(Status::Held) => HELD,
        Some(_) => DEVIATED,
        None => NEVER_PROVED,
    };
    let verdicts: Vec<(Status, u64)> = runs.iter().map(|r| (status(r), r.report.started_ms)).collect();
    let (trend, trend_words) = super::trend::of(&verdicts);
    ExperimentRecord {
        trend,
        trend_words,
        key,
        title: latest.report.title.clone(),
        service: service(latest).map(str::to_string),
        schedule: schedule.map(|s| format!("{} ({})", s.cron, s.timezone)),
        runs: history,
        counts,
        last_run: iso_utc(latest.report.started_ms),
        last_proved: proof.map(|p| iso_utc(p.report.started_ms)),
        due: due.map(iso_utc),
        stale,
        state,
        points,
    }
}

/// Whether an experiment whose last proof started at `last_ms` is stale at `now`.
pub struct Staleness {
    pub stale: bool,
    /// When a rerun was due, for a scheduled experiment.
    pub due: Option<u64>,
    pub words: String,
}

impl Staleness {
    /// Scheduled: stale once the first time it was due after its last
    /// proof is more than [`STALE_GRACE`] past. Without a schedule (or one
    /// that never fires again): stale once the last proof is older than
    /// [`UNSCHEDULED_MAX_AGE`].
    pub fn of(last_ms: u64, schedule: Option<&crate::record::journal::ScheduleInfo>, now: SystemTime) -> Staleness {
        let now_ms = millis(now);
        let last = UNIX_EPOCH + Duration::from_millis(last_ms);
        let due = schedule.and_then(|s| {
            let (cron, zone) = (Cron::parse(&s.cron).ok()?, Zone::parse(&s.timezone).ok()?);
            cron.next_after(last, &zone).map(millis)
        });
        match due {
            Some(due) => {
                let stale_at = due + STALE_GRACE.as_millis() as u64;
                let words = if now_ms > stale_at {
                    format!("stale: a rerun was due at {}, and none has proved anything since", iso_utc(due))
                } else {
                    format!("fresh: a rerun is due at {}", iso_utc(due))
                };
                Staleness { stale: now_ms > stale_at, due: Some(due), words }
            }
            None => {
                let limit = last_ms + UNSCHEDULED_MAX_AGE.as_millis() as u64;
                let days = UNSCHEDULED_MAX_AGE.as_secs() / 86_400;
                let words = if now_ms > limit {
                    format!("stale: no schedule, and its last proof is over {days} days old")
                } else {
                    format!("fresh: no schedule; stale {days} days after its last proof, at {}", iso_utc(limit))
                };
                Staleness { stale: now_ms > limit, due: None, words }
            }
        }
    }
}

pub fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A score per service, from its experiments; the best first.
pub(super) fn services(experiments: &[ExperimentRecord], unclassified: &[UnclassifiedRecord]) -> Vec<ServiceScore> {
    let mut groups: BTreeMap<String, Vec<&ExperimentRecord>> = BTreeMap::new();
    for e in experiments {
        groups.entry(e.service.clone().unwrap_or_else(|| NO_SERVICE.into())).or_default().push(e);
    }
    let mut out: Vec<ServiceScore> = groups
        .into_iter()
        .map(|(service, exps)| {
            let n = exps.len() as u64;
            let count = |points: u32| exps.iter().filter(|e| e.points == points).count() as u64;
            let named = (service != NO_SERVICE).then_some(service.as_str());
            ServiceScore {
                score: (exps.iter().map(|e| u64::from(e.points)).sum::<u64>() / n.max(1)) as u32,
                experiments: n,
                held: count(HELD),
                stale: count(HELD_STALE),
                deviated: count(DEVIATED),
                never_proved: count(NEVER_PROVED),
                unclassified: unclassified.iter().filter(|u| u.service.as_deref() == named).count() as u64,
                service,
            }
        })
        .collect();
    out.sort_by(|a, b| b.score.cmp(&a.score).then(a.service.cmp(&b.service)));
    out
}

/// Each standard's compliance, run by run: the share of its checks that
/// measured something and passed.
pub(super) fn standards(runs: &[Run]) -> Vec<StandardRecord> {
    let mut by: BTreeMap<String, Vec<CompliancePoint>> = BTreeMap::new();
    for run in runs {
        let Some(v) = &run.report.verdict else { continue };
        let mut per: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for c in v.measured() {
            if let Some(s) = &c.standard {
                let e = per.entry(s).or_default();
                e.0 += u64::from(c.passed);
                e.1 += 1;
            }
        }
        for (standard, (passed, measured)) in per {
            by.entry(standard.to_string()).or_default().push(CompliancePoint {
                started_ms: run.report.started_ms,
                started: iso_utc(run.report.started_ms),
                experiment: run.report.title.clone(),
                passed,
                measured,
            });
        }
    }
    by.into_iter()
        .map(|(standard, points)| {
            let passed = points.iter().map(|p| p.passed).sum();
            let measured = points.iter().map(|p| p.measured).sum::<u64>();
            let compliance = (measured > 0).then(|| passed as f64 / measured as f64);
            StandardRecord { standard, points, passed, measured, compliance }
        })
        .collect()
}

/// Routes with traffic but no tier, per service, with how often and when last.
pub(super) fn unclassified(runs: &[Run]) -> Vec<UnclassifiedRecord> {
    let mut by: BTreeMap<(Option<String>, String), (u64, u64)> = BTreeMap::new();
    for run in runs {
        let Some(s) = &run.report.standards else { continue };
        for route in &s.unclassified {
            let e = by.entry((s.service.clone(), route.clone())).or_default();
            e.0 += 1;
            e.1 = e.1.max(run.report.started_ms);
        }
    }
    by.into_iter()
        .map(|((service, route), (runs, last))| UnclassifiedRecord { service, route, runs, last_seen: iso_utc(last) })
        .collect()
}

/// Each user journey (the observer's routes, else the load driver's) over every run.
pub(super) fn journeys(runs: &[Run]) -> Vec<JourneyRecord> {
    #[derive(Default)]
    struct Acc {
        runs: u64,
        runs_failed: u64,
        requests: u64,
        succeeded: u64,
        graceful: u64,
        ungraceful: u64,
        how: BTreeMap<String, u64>,
    }
    let mut by: BTreeMap<(Option<String>, String), Acc> = BTreeMap::new();
    for run in runs {
        let r = &run.report;
        let user = if r.routes.iter().any(|x| x.listener == "observer") {
            "observer"
        } else {
            crate::record::journal::LOAD_LISTENER
        };
        for route in r.routes.iter().filter(|x| x.listener == user && !x.is_tcp()) {
            let s = &route.stats;
            let a = by.entry((service(run).map(str::to_string), route.route.clone())).or_default();
            a.runs += 1;
            a.runs_failed += u64::from(s.requests > s.succeeded);
            a.requests += s.requests;
            a.succeeded += s.succeeded;
            a.graceful += s.graceful;
            a.ungraceful += s.ungraceful;
            for st in route.statuses.iter().filter(|st| st.origin.is_some()) {
                *a.how.entry(st.status.clone()).or_default() += st.count;
            }
        }
    }
    by.into_iter()
        .map(|((service, route), a)| {
            let mut how: Vec<(String, u64)> = a.how.into_iter().collect();
            how.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            JourneyRecord {
                service,
                route,
                runs: a.runs,
                runs_failed: a.runs_failed,
                requests: a.requests,
                failed: a.requests - a.succeeded,
                graceful: a.graceful,
                ungraceful: a.ungraceful,
                availability: (a.requests > 0).then(|| a.succeeded as f64 / a.requests as f64),
                how,
                hurt_by: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::journal::ScheduleInfo;

    /// 2026-03-02T10:00:00Z (a Monday), in milliseconds.
    const MONDAY_10: u64 = 1_772_445_600_000;
    const HOUR: u64 = 3_600_000;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn daily_at_3() -> ScheduleInfo {
        ScheduleInfo { cron: "0 3 * * *".into(), timezone: "UTC".into() }
    }

    #[test]
    fn a_scheduled_experiment_is_stale_an_hour_after_a_rerun_was_due() {
        assert_eq!(iso_utc(MONDAY_10), "2026-03-02T10:00:00Z");
        // Due the next day at 03:00; stale from 04:00 on.
        let fresh = Staleness::of(MONDAY_10, Some(&daily_at_3()), at(MONDAY_10 + 17 * HOUR));
        assert_eq!(fresh.due.map(iso_utc).as_deref(), Some("2026-03-03T03:00:00Z"));
        assert!(!fresh.stale, "{}", fresh.words);
        assert_eq!(fresh.words, "fresh: a rerun is due at 2026-03-03T03:00:00Z");
        let edge = Staleness::of(MONDAY_10, Some(&daily_at_3()), at(MONDAY_10 + 18 * HOUR));
        assert!(!edge.stale, "04:00 itself is within the grace");
        let stale = Staleness::of(MONDAY_10, Some(&daily_at_3()), at(MONDAY_10 + 18 * HOUR + 1));
        assert!(stale.stale);
        assert_eq!(stale.words, "stale: a rerun was due at 2026-03-03T03:00:00Z, and none has proved anything since");
        // Weekly on Tuesdays at 14:00 in Berlin (UTC+1 in March): due 13:00 UTC the next day.
        let weekly = ScheduleInfo { cron: "0 14 * * TUE".into(), timezone: "Europe/Berlin".into() };
        let s = Staleness::of(MONDAY_10, Some(&weekly), at(MONDAY_10 + 29 * HOUR));
        assert_eq!((s.due.map(iso_utc).as_deref(), s.stale), (Some("2026-03-03T13:00:00Z"), true));
    }

    #[test]
    fn an_unscheduled_experiment_is_stale_after_thirty_days() {
        let thirty_days = 30 * 24 * HOUR;
        let s = Staleness::of(MONDAY_10, None, at(MONDAY_10 + thirty_days));
        assert!(!s.stale);
        assert_eq!(s.words, "fresh: no schedule; stale 30 days after its last proof, at 2026-04-01T10:00:00Z");
        let s = Staleness::of(MONDAY_10, None, at(MONDAY_10 + thirty_days + 1));
        assert_eq!((s.stale, s.words.as_str()), (true, "stale: no schedule, and its last proof is over 30 days old"));
    }
}
