//! Whether a fix stayed fixed: an experiment's runs that proved something,
//! oldest first, read as streaks of held and failed (deviated or aborted).
//! A run that proved nothing is no evidence either way and is passed over.

use super::model::Trend;
use crate::report::verdict::Status;
use crate::report::words::{count, iso_utc};

/// The trend of `runs` (each run's verdict and start, oldest first), and
/// the sentence that says it.
pub fn of(runs: &[(Status, u64)]) -> (Trend, String) {
    let proofs: Vec<(bool, u64)> =
        runs.iter().filter(|(s, _)| super::compute::proves(*s)).map(|(s, at)| (*s == Status::Held, *at)).collect();
    let Some(&(last_held, _)) = proofs.last() else {
        return (Trend::Unproven, "no run proved anything yet".into());
    };
    // The latest streak: how many runs, since when; and the streak before it.
    let streak = proofs.iter().rev().take_while(|(h, _)| *h == last_held).count();
    let since = proofs[proofs.len() - streak].1;
    let before = &proofs[..proofs.len() - streak];
    let prior = before.iter().rev().take_while(|(h, _)| *h != last_held).count();
    // Earlier fixes that did not last: a held run followed by a failed one,
    // before the latest streaks.
    let regressions = proofs.windows(2).filter(|w| w[0].0 && !w[1].0).count() as u64;
    let runs_word = |n: usize| count(n as u64, ("run", "runs"));
    match (last_held, before.is_empty()) {
        (true, true) => (Trend::Held, format!("held in every run that proved something ({})", runs_word(streak))),
        (false, true) => (
            Trend::Failing,
            format!("keeps failing: deviated or aborted in every run that proved something ({})", runs_word(streak)),
        ),
        (true, false) => {
            let mut words = format!(
                "fixed: held in every run since {} ({}), after {} that deviated or aborted",
                iso_utc(since),
                runs_word(streak),
                runs_word(prior)
            );
            if regressions > 0 {
                words.push_str(&format!("; an earlier fix did not last ({})", count(regressions, ("time", "times"))));
            }
            (Trend::Fixed, words)
        }
        (false, false) => (
            Trend::Regressed,
            format!(
                "regressed: deviated or aborted since {} ({}), after holding in {}",
                iso_utc(since),
                runs_word(streak),
                runs_word(prior)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    /// 2026-03-02T10:00:00Z, and a day.
    const T: u64 = 1_772_445_600_000;
    const DAY: u64 = 86_400_000;

    fn days(statuses: &[Status]) -> Vec<(Status, u64)> {
        statuses.iter().enumerate().map(|(i, s)| (*s, T + i as u64 * DAY)).collect()
    }

    #[test]
    fn a_fix_that_lasted_a_regression_and_the_steady_cases_each_say_so() {
        let (trend, words) = of(&days(&[Deviated, Deviated, Inconclusive, Held, Held, Interrupted, Held]));
        assert_eq!(trend, Trend::Fixed);
        assert_eq!(
            words,
            "fixed: held in every run since 2026-03-05T10:00:00Z (3 runs), after 2 runs that deviated or aborted"
        );
        let (trend, words) = of(&days(&[Deviated, Held, Aborted, Held]));
        assert_eq!(trend, Trend::Fixed);
        assert!(
            words.ends_with("after 1 run that deviated or aborted; an earlier fix did not last (1 time)"),
            "{words}"
        );
        let (trend, words) = of(&days(&[Deviated, Held, Held, Deviated]));
        assert_eq!(trend, Trend::Regressed);
        assert_eq!(words, "regressed: deviated or aborted since 2026-03-05T10:00:00Z (1 run), after holding in 2 runs");
        assert_eq!(of(&days(&[Held, Inconclusive, Held])).0, Trend::Held);
        assert_eq!(of(&days(&[Aborted, Deviated])).0, Trend::Failing);
        assert_eq!(of(&days(&[Inconclusive, Failed])), (Trend::Unproven, "no run proved anything yet".into()));
    }
}
