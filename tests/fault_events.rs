//! Every fault decision is recorded as a tracing event with stable field
//! names; what was configured and what was applied are told apart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use brownout::record::fields;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

use crate::support::client::get;
use crate::support::upstream;
use crate::support::{self, http_target};

type Events = Arc<Mutex<Vec<BTreeMap<String, String>>>>;

struct Collect(Events);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Collect {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut map = BTreeMap::new();
        event.record(&mut Fields(&mut map));
        self.0.lock().unwrap().push(map);
    }
}

#[tokio::test]
async fn every_decision_is_an_event_with_the_configured_and_the_applied_value() {
    let events: Events = Arc::default();
    let subscriber = tracing_subscriber::registry().with(Collect(events.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    let up = upstream::mirror().await;
    let faults = "[[target.fault]]\nname = \"slow\"\nkind = \"latency\"\ndistribution = \"uniform\"\nmin = \"10ms\"\nmax = \"30ms\"\n\
                  [[target.fault]]\nname = \"down\"\nkind = \"error\"\nstatus = 503\nmatch = { path = \"/pay\" }\n";
    let proxy = support::start(&http_target("payments", up, faults)).await;
    assert_eq!(get(proxy.addr("payments"), "/pay").await.0, 503);
    assert_eq!(get(proxy.addr("payments"), "/browse").await.0, 200);

    let events = events.lock().unwrap().clone();
    let with = |name: &str, message: &str| -> Vec<BTreeMap<String, String>> {
        events
            .iter()
            .filter(|e| e.get(fields::FAULT_NAME).map(String::as_str) == Some(name))
            .filter(|e| e.get("message").map(String::as_str) == Some(message))
            .cloned()
            .collect()
    };
    let on = with("slow", "fault on");
    assert_eq!(on.len(), 1, "{events:#?}");
    assert!(on[0][fields::FAULT_CONFIGURED].contains("uniform(10ms..30ms) before request"), "{:?}", on[0]);
    assert_eq!(on[0][fields::TARGET], "payments");

    let applied_slow = with("slow", "fault applied");
    // The error ends /pay before its delay stage, so only /browse is delayed.
    assert_eq!(applied_slow.len(), 1, "{events:#?}");
    for e in &applied_slow {
        assert_eq!(e[fields::FAULT_KIND], "latency");
        assert_eq!(e[fields::ORIGIN], fields::ORIGIN_INJECTED);
        let value = e[fields::FAULT_APPLIED].strip_prefix("delay ").expect("a sampled delay");
        let ms: f64 = value.split("ms").next().unwrap().parse().unwrap_or_else(|_| panic!("{value}"));
        assert!((10.0..=30.0).contains(&ms), "sampled {value}");
    }
    let applied_down = with("down", "fault applied");
    assert_eq!(applied_down.len(), 1, "only the matching request: {events:#?}");
    assert_eq!(applied_down[0][fields::FAULT_APPLIED], "status 503");
}
