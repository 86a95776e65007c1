//! Generated values through validation and everything a valid file feeds:
//! no value of any key may panic `brownout check` or a run's schedule. The
//! values are drawn, seeded, from each kind's edges (zero, negatives, huge,
//! NaN, infinities, missing units, overflowing integers).

use std::time::Duration;

use rand::{Rng, SeedableRng};

const DURATIONS: &[&str] = &[
    "\"0s\"",
    "\"1ms\"",
    "\"250ms\"",
    "\"1.5s\"",
    "\"30s\"",
    "\"2m\"",
    "\"1h\"",
    "\"8760h\"",
    "\"8761h\"",
    "\"4000000000000000h\"",
    "\"-1s\"",
    "\"1e400s\"",
    "\"nans\"",
    "\"infs\"",
    "\"\"",
    "\"5 s\"",
    "\"ms\"",
    "\"99999999999999999999ms\"",
    "\"18446744073709551616s\"",
    "\"0.0000001us\"",
    "5",
    "-3",
    "true",
    "nan",
];
const NUMBERS: &[&str] =
    &["0", "-1", "1", "0.5", "1.5", "1e308", "-1e308", "1e20", "3", "1000000", "nan", "inf", "-inf", "\"x\""];
const INTEGERS: &[&str] =
    &["0", "-1", "1", "99", "200", "503", "600", "4294967296", "9223372036854775807", "1.5", "\"503\""];
const PERCENTS: &[&str] =
    &["\"0%\"", "\"99.9%\"", "\"100%\"", "\"101%\"", "\"-5%\"", "\"abc\"", "\"50\"", "\"nan%\"", "\"1e400%\""];
const RATES: &[&str] = &[
    "\"50/s\"",
    "\"0/s\"",
    "\"1e400/s\"",
    "\"100000/s\"",
    "\"100001/s\"",
    "\"-5/s\"",
    "\"5/x\"",
    "\"600/m\"",
    "\"nan/s\"",
];
const ROUTES: &[&str] = &["\"*\"", "\"GET /\"", "\"FETCH /x\"", "\"GET /*\"", "\"\"", "\"get /\""];
const METRICS: &[&str] = &["\"p99\"", "\"error_rate\"", "\"ungraceful_share\"", "\"p50\"", "\"p95\""];
const KINDS: &[&str] = &[
    "\"latency\"",
    "\"error\"",
    "\"rate_limit\"",
    "\"reset\"",
    "\"hang\"",
    "\"bandwidth\"",
    "\"truncate\"",
    "\"pool_exhaustion\"",
    "\"outage\"",
];

fn pick<'a>(rng: &mut rand::rngs::StdRng, pool: &[&'a str]) -> &'a str {
    pool[rng.random_range(0..pool.len())]
}

/// Each key of the generated experiment: its place, a value that passes,
/// and the pool its edge values come from.
const KEYS: &[(&str, &str, &[&str])] = &[
    ("seed", "7", INTEGERS),
    ("max_duration", "\"1h\"", DURATIONS),
    ("idle_timeout", "\"30s\"", DURATIONS),
    ("header_timeout", "\"5s\"", DURATIONS),
    ("max_connections", "100", INTEGERS),
    ("connect_timeout", "\"1s\"", DURATIONS),
    ("request_timeout", "\"5s\"", DURATIONS),
    ("slo_route", "\"GET /\"", ROUTES),
    ("availability", "\"99%\"", PERCENTS),
    ("error_rate", "\"1%\"", PERCENTS),
    ("p99", "\"500ms\"", DURATIONS),
    ("graceful_status", "503", INTEGERS),
    ("within", "\"1s\"", DURATIONS),
    ("at_least", "\"90%\"", PERCENTS),
    ("metric", "\"p99\"", METRICS),
    ("above", "\"2s\"", DURATIONS),
    ("for", "\"5s\"", DURATIONS),
    ("min_requests", "10", INTEGERS),
    ("phase_duration", "\"10s\"", DURATIONS),
    ("delay", "\"50ms\"", DURATIONS),
    ("probability", "0.5", NUMBERS),
    ("after", "\"1s\"", DURATIONS),
    ("lasting", "\"2s\"", DURATIONS),
    ("first", "5", INTEGERS),
    ("status", "503", INTEGERS),
    ("rate", "\"50/s\"", RATES),
    ("ramp_to", "\"60/s\"", RATES),
    ("concurrency", "64", INTEGERS),
    ("timeout", "\"5s\"", DURATIONS),
    ("spike_at", "\"2s\"", DURATIONS),
    ("spike_for", "\"1s\"", DURATIONS),
    ("factor", "3", NUMBERS),
    ("weight", "2", INTEGERS),
];

/// An experiment whose keys take values that pass, but `wild` of them drawn
/// from their pools of edges.
fn experiment(rng: &mut rand::rngs::StdRng, wild: f64) -> String {
    let mut v = std::collections::HashMap::new();
    for (key, good, pool) in KEYS {
        v.insert(*key, if rng.random_bool(wild) { pick(rng, pool) } else { good });
    }
    let latency = rng.random_bool(0.5);
    let fault = if latency {
        format!("kind = \"latency\", delay = {}", v["delay"])
    } else {
        format!("kind = \"error\", status = {}", v["status"])
    };
    format!(
        "title = \"generated\"\nseed = {}\nmax_duration = {}\n[admin]\nlisten = \"127.0.0.1:0\"\n[observer]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\nidle_timeout = {}\nheader_timeout = {}\nmax_connections = {}\n[[target]]\nname = \"t\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\nconnect_timeout = {}\nrequest_timeout = {}\n[hypothesis]\nslo = [{{ route = {}, availability = {}, error_rate = {}, p99 = {} }}]\ngraceful = [{{ route = \"GET /\", status = [{}], within = {}, at_least = {} }}]\n[guardrails]\nabort_if = [{{ metric = {}, above = {}, for = {}, min_requests = {} }}]\n[[phase]]\nname = \"quiet\"\nduration = \"1s\"\n[[phase]]\nname = \"fault\"\nduration = {}\nfaults = [{{ target = \"t\", {fault}, probability = {}, after = {}, lasting = {}, first = {} }}]\n[load]\ntarget = \"observer\"\nrate = {}\nramp_to = {}\nconcurrency = {}\ntimeout = {}\nspikes = [{{ at = {}, for = {}, factor = {} }}]\nrequests = [{{ method = \"GET\", path = \"/\", weight = {} }}]\n",
        v["seed"], v["max_duration"], v["idle_timeout"], v["header_timeout"], v["max_connections"], v["connect_timeout"],
        v["request_timeout"], v["slo_route"], v["availability"], v["error_rate"], v["p99"], v["graceful_status"],
        v["within"], v["at_least"], v["metric"],
        if v["metric"].contains('p') && !v["metric"].contains("share") { v["above"] } else { "\"50%\"" },
        v["for"], v["min_requests"], v["phase_duration"], v["probability"], v["after"], v["lasting"], v["first"],
        v["rate"], v["ramp_to"], v["concurrency"], v["timeout"], v["spike_at"], v["spike_for"], v["factor"],
        v["weight"]
    )
}

#[test]
fn no_generated_value_panics_validation_or_a_schedule() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..3000 {
        // Most cases change one or two keys of a valid file; some change many.
        let wild = if case % 4 == 0 { 0.5 } else { 0.04 };
        let text = experiment(&mut rng, wild);
        let parsed = std::panic::catch_unwind(|| brownout::experiment::parse("generated.toml", &text, None));
        let exp = match parsed {
            Err(_) => panic!("case {case} panicked validation:\n{text}"),
            Ok(Err(_)) => {
                invalid += 1;
                continue;
            }
            Ok(Ok(exp)) => exp,
        };
        valid += 1;
        // What a run computes from a valid experiment, with checked time.
        let result = std::panic::catch_unwind(|| {
            let timeline = brownout::experiment::Timeline::new(&exp);
            let start = std::time::Instant::now();
            assert!(start.checked_add(timeline.total).is_some());
            assert!(start.checked_add(exp.max_duration).is_some());
            for t in timeline.changes(&exp) {
                let _ = timeline.faults_at(&exp, t);
                let _ = timeline.phase_at(t);
            }
            let _ = exp.describe();
        });
        assert!(result.is_ok(), "case {case}: a valid experiment panicked its schedule:\n{text}");
    }
    // The pools reach both sides.
    assert!(valid > 300 && invalid > 300, "{valid} valid, {invalid} invalid");
}

#[test]
fn no_generated_value_panics_an_admin_fault_body() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(61);
    let keys =
        ["delay", "status", "rate", "bytes", "limit", "probability", "after", "lasting", "first", "burst", "shape"];
    for case in 0..3000 {
        let mut body = serde_json::Map::new();
        body.insert("kind".into(), serde_json::Value::String(pick(&mut rng, KINDS).trim_matches('"').into()));
        for key in keys {
            if rng.random_bool(0.4) {
                let raw = pick(&mut rng, &[DURATIONS, NUMBERS, INTEGERS, RATES].concat());
                let value = serde_json::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_string()));
                body.insert(key.into(), value);
            }
        }
        let value = serde_json::Value::Object(body);
        let shown = value.to_string();
        let result = std::panic::catch_unwind(|| brownout::config::fault::from_json(value, true, 7));
        assert!(result.is_ok(), "case {case} panicked: {shown}");
    }
}

#[test]
fn every_duration_brownout_accepts_fits_the_clock() {
    let now = tokio::time::Instant::now();
    for text in ["8760h", "525600m", "31536000s", "31536000000ms"] {
        let d = brownout::config::parse_duration(text).expect(text);
        assert!(now.checked_add(d * 1000).is_some(), "{text}");
    }
    assert!(brownout::config::parse_duration("31536000001ms").is_err());
    assert_eq!(brownout::config::MAX_DURATION, Duration::from_secs(365 * 24 * 3600));
}
