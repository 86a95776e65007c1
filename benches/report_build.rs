//! How long building the reports from a large journal takes: writes a
//! synthetic journal of 1,000,000 request lines (two listeners, a handful
//! of routes, a fault window), then times `report::from_file` and the three
//! renderings. Run with `cargo bench --bench report_build`;
//! `BROWNOUT_BENCH_LINES` changes the line count.

use std::io::Write;
use std::time::Instant;

use brownout::record::journal::{Class, FaultOff, FaultOn, Line, Origin, Outcome, Request, Start, Stop};

fn main() {
    let lines: usize = std::env::var("BROWNOUT_BENCH_LINES").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("brownout-report-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("journal.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("journal"));
    let mut write = |line: &Line| {
        serde_json::to_writer(&mut out, line).expect("write");
        out.write_all(b"\n").expect("write");
    };
    write(&Line::Start(Start {
        ts: 1_795_000_000_000,
        schema: 1,
        title: "bench".into(),
        seed: Some(1),
        listeners: vec!["observer".into(), "payments".into()],
        experiment: None,
        version: None,
        command: None,
    }));
    let duration = 600.0;
    write(&Line::FaultOn(FaultOn {
        t: 200.0,
        target: "payments".into(),
        fault: "outage".into(),
        kind: "outage".into(),
        configured: "outage status 503".into(),
        uncounted: false,
    }));
    let routes = ["GET /", "GET /products/{id}", "POST /cart", "POST /checkout", "GET /search"];
    for i in 0..lines {
        let t = duration * i as f64 / lines as f64;
        let observer = i % 2 == 0;
        let in_fault = (200.0..400.0).contains(&t);
        let fail = in_fault && i % 5 == 0;
        let route = if observer { routes[i % routes.len()] } else { "POST /v1/charges" };
        let (method, path) = route.split_once(' ').expect("route");
        write(&Line::Request(Request {
            t,
            listener: if observer { "observer" } else { "payments" }.into(),
            method: method.into(),
            path: path.replace("{id}", &(i % 1000).to_string()),
            route: route.into(),
            status: Some(if fail { 503 } else { 200 }),
            grpc_status: None,
            latency_ms: 0.5 + (i % 997) as f64 / 10.0,
            ttfb_ms: Some(0.4),
            bytes_in: 0,
            bytes_out: 512,
            origin: fail.then_some(if observer { Origin::Upstream } else { Origin::Injected }),
            error: None,
            fault: (fail && !observer).then(|| "outage".to_string()),
            class: observer.then_some(if fail { Class::Graceful } else { Class::Ok }),
        }));
    }
    write(&Line::FaultOff(FaultOff {
        t: 400.0,
        target: "payments".into(),
        fault: "outage".into(),
        applied: 1,
        eligible: None,
    }));
    write(&Line::Stop(Stop { t: duration, outcome: Outcome::Stopped, dropped: 0 }));
    out.flush().expect("flush");
    drop(out);
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    let started = Instant::now();
    let report = brownout::report::from_file(&path).expect("report");
    let computed = started.elapsed();
    let written = brownout::report::write(&report, &dir).expect("write");
    let total = started.elapsed();
    println!(
        "report from a journal of {lines} lines ({:.0} MB): computed in {:.2} s, all three reports written in {:.2} s",
        size as f64 / 1e6,
        computed.as_secs_f64(),
        total.as_secs_f64()
    );
    println!("{}", written.html.display());
    let _ = std::fs::remove_file(&path);
}
