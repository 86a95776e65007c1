//! Config files, experiment files and admin fault bodies from arbitrary
//! bytes: each may be refused, none may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = brownout::config::parse("fuzz.toml", text, None);
    if let Ok(exp) = brownout::experiment::parse("fuzz.toml", text, None) {
        // What a run computes from a valid experiment.
        let timeline = brownout::experiment::Timeline::new(&exp);
        for t in timeline.changes(&exp) {
            let _ = timeline.faults_at(&exp, t);
        }
        let _ = exp.describe();
    }
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = brownout::config::fault::from_json(value.clone(), true, 1);
        let _ = brownout::config::fault::from_json(value, false, 1);
    }
});
