//! brownout under attack: each test is one thing a hostile page, client or
//! input once did to a live proxy, and what it gets now. Read the names as
//! a list of attacks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use brownout::record::RecordLayer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::client::call;
use crate::support::upstream;
use crate::support::{self, http_target, tcp_target, LIMIT};

const NONE: &[(&str, &str)] = &[];
const EVIL: &[(&str, &str)] = &[("origin", "http://evil.example"), ("content-type", "text/plain")];

/// A proxy with an HTTP target `t` that can start runs from files in its
/// experiments directory, as `brownout proxy` does.
struct Live {
    admin: SocketAddr,
    target: SocketAddr,
    dir: PathBuf,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn live(tag: &str, admin_extra: &str) -> Live {
    let up = upstream::mirror().await;
    let dir = std::env::temp_dir().join(format!("brownout-hostile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let text = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\nexperiments_dir = {:?}\n{admin_extra}\n[[target]]\nname = \"t\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{up}\"\n",
        dir.display().to_string()
    );
    let config = brownout::config::parse("hostile.toml", &text, None).expect("valid");
    let app = brownout::app::App::bind(&config).expect("bind").with_launcher(RecordLayer::new(), dir.clone(), config);
    let (admin, target) = (app.admin_addr().expect("admin"), app.proxy().target_addr("t").expect("t"));
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.serve(async move {
        let _ = rx.await;
    }));
    Live { admin, target, dir, _stop: stop }
}

fn short_run(faults: &str) -> String {
    format!("title = \"short\"\n[[phase]]\nname = \"one\"\nduration = \"200ms\"\nfaults = [{faults}]\n")
}

#[tokio::test]
async fn a_cross_site_page_cannot_create_a_relay_to_ssh_on_every_interface() {
    let l = live("relay", "").await;
    let body = r#"{"name": "ssh", "listen": "0.0.0.0:0", "upstream": "127.0.0.1:22"}"#;
    let (status, answer) = call(l.admin, "POST", "/proxies", body, EVIL).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("origin \\\"http://evil.example\\\" are refused"), "{answer}");
    // Without a browser's Origin, the listen address itself is refused: the
    // admin API has no token.
    let (status, answer) = call(l.admin, "POST", "/proxies", body, NONE).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("may listen only on a loopback address while the admin API has no token"), "{answer}");
    assert_eq!(call(l.admin, "GET", "/proxies", "", NONE).await, (200, "{}".into()), "no relay exists");
}

#[tokio::test]
async fn a_page_cannot_reach_any_mutating_route_from_another_origin() {
    let l = live("origins", "").await;
    let routes = [
        ("POST", "/targets/t/faults", r#"{"kind": "error", "status": 503}"#),
        ("PUT", "/targets/t/faults/error", r#"{"kind": "error", "status": 503}"#),
        ("DELETE", "/targets/t/faults/error", ""),
        ("DELETE", "/targets/t/faults", ""),
        ("POST", "/runs", "title = \"x\""),
        ("POST", "/run/stop", ""),
        ("POST", "/proxies", r#"{"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}"#),
        ("POST", "/populate", r#"[{"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}]"#),
        ("POST", "/reset", ""),
        ("POST", "/proxies/p", r#"{"enabled": false}"#),
        ("DELETE", "/proxies/p", ""),
        ("POST", "/proxies/p/toxics", r#"{"type": "latency", "attributes": {"latency": 100}}"#),
    ];
    for (method, path, body) in routes {
        for headers in [EVIL, &[("sec-fetch-site", "cross-site")][..], &[("origin", "null")][..]] {
            let (status, answer) = call(l.admin, method, path, body, headers).await;
            assert_eq!(status, 403, "{method} {path} with {headers:?}: {answer}");
        }
    }
    // Nothing changed: no fault, no proxy, no run.
    assert_eq!(call(l.admin, "GET", "/targets/t/faults", "", NONE).await.1, "[]");
    assert_eq!(call(l.admin, "GET", "/proxies", "", NONE).await.1, "{}");
    assert_eq!(call(l.admin, "GET", "/run", "", NONE).await.0, 404);
    // The listener's own origin is its own page, and allowed.
    let own = format!("http://{}", l.admin);
    let headers = [("origin", own.as_str()), ("host", &l.admin.to_string())];
    assert_eq!(call(l.admin, "GET", "/targets", "", &headers).await.0, 200);
}

#[tokio::test]
async fn a_dns_rebinding_page_is_refused_by_its_host_name() {
    let l = live("rebind", "").await;
    let host = format!("evil.example:{}", l.admin.port());
    for (method, path, body) in
        [("GET", "/targets", ""), ("POST", "/targets/t/faults", r#"{"kind": "error", "status": 503}"#)]
    {
        // A rebinding page is same-origin with its own name: Origin agrees with Host.
        let origin = format!("http://{host}");
        let (status, answer) =
            call(l.admin, method, path, body, &[("host", host.as_str()), ("origin", origin.as_str())]).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert!(answer.contains("is not a name of this admin listener"), "{answer}");
    }
    for ok in [format!("localhost:{}", l.admin.port()), l.admin.to_string()] {
        assert_eq!(call(l.admin, "GET", "/targets", "", &[("host", ok.as_str())]).await.0, 200, "{ok}");
    }
}

#[tokio::test]
async fn allowed_hosts_and_origins_are_served() {
    let l = live("allowed", "allowed_hosts = [\"brownout.staging\"]\nallowed_origins = [\"https://console.staging\"]")
        .await;
    let headers = [("host", "brownout.staging:8474"), ("origin", "https://console.staging")];
    assert_eq!(call(l.admin, "GET", "/targets", "", &headers).await.0, 200);
    let headers = [("host", "brownout.staging"), ("origin", "https://elsewhere.staging")];
    assert_eq!(call(l.admin, "GET", "/targets", "", &headers).await.0, 403);
}

#[tokio::test]
async fn an_endless_phase_is_refused_and_the_proxy_stays_free_for_the_next_run() {
    let l = live("endless", "").await;
    let endless = "title = \"wedge\"\n[[phase]]\nname = \"forever\"\nduration = \"4000000000000000h\"\nfaults = [{ target = \"t\", kind = \"error\", status = 503 }]\n";
    let (status, answer) = call(l.admin, "POST", "/runs", endless, NONE).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("is longer than a year, the longest brownout takes"), "{answer}");
    // The proxy is free: faults and runs are still taken.
    assert_eq!(call(l.admin, "POST", "/targets/t/faults", r#"{"kind": "latency", "delay": "1ms"}"#, NONE).await.0, 201);
    assert_eq!(call(l.admin, "DELETE", "/targets/t/faults", "", NONE).await.0, 204);
    let (status, answer) = call(l.admin, "POST", "/runs", &short_run(""), NONE).await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = call(l.admin, "POST", "/run/stop", "", NONE).await;
    assert!(status == 202 || status == 409, "{status} {answer}");
}

#[tokio::test]
async fn a_stop_ends_a_run_within_a_second() {
    let l = live("stop", "").await;
    let long = "title = \"long\"\n[[phase]]\nname = \"hang\"\nduration = \"60s\"\nfaults = [{ target = \"t\", kind = \"hang\" }]\n";
    assert_eq!(call(l.admin, "POST", "/runs", long, NONE).await.0, 201);
    // The phase is on before the request comes, so the request really hangs
    // (sent sooner, it could pass before the fault and prove nothing).
    let phase_on = Instant::now();
    while !call(l.admin, "GET", "/run", "", NONE).await.1.contains("\"name\":\"hang\",\"of\"") {
        assert!(phase_on.elapsed() < Duration::from_secs(5), "the run never reached its phase");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A request hangs on the fault while the run is stopped.
    let mut hung = TcpStream::connect(l.target).await.expect("connect");
    hung.write_all(b"GET /x HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    assert_eq!(call(l.admin, "POST", "/run/stop", "", NONE).await.0, 202);
    // Within a second the run no longer runs (its faults cleared); writing
    // its reports may take a little longer.
    loop {
        let (_, status) = call(l.admin, "GET", "/runs/1", "", NONE).await;
        if !status.contains("\"status\":\"running\"") {
            break;
        }
        assert!(asked.elapsed() < Duration::from_secs(1), "the run was still going 1 s after its stop: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    loop {
        let (_, status) = call(l.admin, "GET", "/runs/1", "", NONE).await;
        if status.contains("\"status\":\"interrupted\"") {
            break;
        }
        assert!(asked.elapsed() < LIMIT, "the stopped run never ended: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Released: a hang ends with the fault (the connection closes), or the
    // request came after it and was answered; either way nothing is held.
    let mut answer = [0u8; 12];
    let released = timeout(Duration::from_secs(5), hung.read(&mut answer)).await.expect("the hung request was held");
    assert!(released.is_err() || answer.starts_with(b"HTTP/1.1 200") || released.is_ok_and(|n| n == 0));
}

#[tokio::test]
async fn toxic_attributes_are_checked_like_native_faults() {
    let l = live("toxics", "").await;
    let proxy = r#"{"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}"#;
    assert_eq!(call(l.admin, "POST", "/proxies", proxy, NONE).await.0, 201);
    let bad = [
        (
            r#"{"type": "latency", "attributes": {"latency": "abc"}}"#,
            "attributes.latency must be a whole number of milliseconds",
        ),
        (
            r#"{"type": "latency", "attributes": {"latency": -5}}"#,
            "attributes.latency must be a whole number of milliseconds",
        ),
        (r#"{"type": "latency", "attributes": {"latency": 1e20}}"#, "from 0 to 31536000000, got 1e+20"),
        (
            r#"{"type": "latency", "attributes": {"latncy": 10}}"#,
            "attributes.latncy is not an attribute of a latency toxic",
        ),
        (r#"{"type": "bandwidth", "attributes": {"rate": 1.5}}"#, "attributes.rate must be a whole number of KB/s"),
        (r#"{"type": "latency", "toxicity": "all"}"#, "toxicity must be a number from 0 to 1"),
        (r#"{"type": "latency", "toxicity": 3}"#, "toxicity must be between 0 and 1"),
    ];
    for (body, why) in bad {
        let (status, answer) = call(l.admin, "POST", "/proxies/p/toxics", body, NONE).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.contains(why), "{body}: {answer}");
    }
    assert_eq!(call(l.admin, "GET", "/proxies/p/toxics", "", NONE).await, (200, "[]".into()), "none was added");
    let good = r#"{"name": "slow", "type": "latency", "attributes": {"latency": 100, "jitter": 10}}"#;
    assert_eq!(call(l.admin, "POST", "/proxies/p/toxics", good, NONE).await.0, 200);
    let (status, answer) =
        call(l.admin, "POST", "/proxies/p/toxics/slow", r#"{"attributes": {"latency": -1}}"#, NONE).await;
    assert_eq!(status, 400, "an update is checked too: {answer}");
}

#[tokio::test]
async fn run_files_are_read_only_from_the_experiments_directory() {
    let l = live("files", "").await;
    let refused = |f: &str| format!("\\\"{f}\\\" is not an experiment file in ");
    for file in ["/etc/shadow", "/etc/passwd", "/nowhere/x.toml", "../../../../etc/passwd", "/etc/hostname"] {
        let (status, answer) =
            call(l.admin, "POST", "/runs", &serde_json::json!({"file": file}).to_string(), NONE).await;
        assert_eq!(status, 403, "{file}: {answer}");
        assert!(answer.contains(&refused(file)), "{file}: {answer}");
        assert!(!answer.contains("root"), "{file}: the answer shows the file: {answer}");
    }
    std::fs::write(l.dir.join("ok.toml"), short_run("")).expect("write");
    let (status, answer) = call(l.admin, "POST", "/runs", r#"{"file": "ok.toml"}"#, NONE).await;
    assert_eq!(status, 201, "a file in the directory runs: {answer}");
}

#[tokio::test]
async fn the_bearer_scheme_is_taken_in_any_case() {
    let dir = std::env::temp_dir().join(format!("brownout-hostile-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let token = dir.join("token");
    std::fs::write(&token, "s3cret\n").expect("token");
    let up = upstream::mirror().await;
    let extra = format!("token_file = {:?}", token.display().to_string());
    let proxy = support::start(&http_target("t", up, "").replace("[admin]\n", &format!("[admin]\n{extra}\n"))).await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let auth = format!("{scheme} s3cret");
        assert_eq!(
            call(proxy.addr("admin"), "GET", "/targets", "", &[("authorization", &auth)]).await.0,
            200,
            "{scheme}"
        );
    }
    assert_eq!(call(proxy.addr("admin"), "GET", "/targets", "", &[("authorization", "Basic s3cret")]).await.0, 401);
}

#[tokio::test]
async fn a_body_the_upstream_breaks_off_resets_the_client_with_a_fault_active() {
    let up = upstream::tcp(|mut s: TcpStream| async move {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).await.is_ok_and(|n| n == 1) {
            head.push(byte[0]);
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = s.set_zero_linger();
    })
    .await;
    // A fault on another path keeps every request on the hyper path.
    let fault = "[[target.fault]]\nkind = \"error\"\nstatus = 503\nmatch = { path = \"/never\" }\n";
    let proxy = support::start(&http_target("t", up, fault)).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    client.write_all(b"GET /cut HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
    let mut got = Vec::new();
    let read = timeout(LIMIT, client.read_to_end(&mut got)).await.expect("no hang");
    assert!(read.is_err(), "a clean end after {:?}: the cut body looks whole", String::from_utf8_lossy(&got));
}

/// Whether the proxy closed `s` within `within` (an end or a reset).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match timeout(within, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn slowloris_idle_and_half_sent_connections_are_closed() {
    let up = upstream::mirror().await;
    let limits = "idle_timeout = \"600ms\"\nheader_timeout = \"300ms\"\n";
    let proxy = support::start(&http_target("t", up, limits)).await;
    let t = proxy.addr("t");
    // A thousand connections that never send a byte.
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(t).await.expect("connect"));
    }
    // A head sent a byte at a time, never finished.
    let mut slow_head = TcpStream::connect(t).await.expect("connect");
    slow_head.write_all(b"GET / HTTP/1.1\r\nHo").await.expect("write");
    // A body promised and never sent whole.
    let mut half_body = TcpStream::connect(t).await.expect("connect");
    half_body.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc").await.expect("write");
    // A keep-alive connection after one exchange.
    let mut kept = TcpStream::connect(t).await.expect("connect");
    kept.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).await.expect("answer");
    assert_eq!(&first, b"HTTP/1.1 200");
    let started = Instant::now();
    assert!(closed_within(&mut slow_head, Duration::from_secs(3)).await, "a half-sent head was held");
    assert!(closed_within(&mut half_body, Duration::from_secs(3)).await, "a half-sent body was held");
    assert!(closed_within(&mut kept, Duration::from_secs(3)).await, "an idle keep-alive connection was held");
    for (i, s) in idle.iter_mut().enumerate() {
        assert!(closed_within(s, Duration::from_secs(3)).await, "idle connection {i} was held");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "closing took {:?}", started.elapsed());
}

#[tokio::test]
async fn an_h2_preface_never_finished_is_closed() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("t", up, "header_timeout = \"300ms\"\n")).await;
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    s.write_all(b"PRI * HTTP/2.0\r\n").await.expect("write");
    assert!(closed_within(&mut s, Duration::from_secs(3)).await, "a half preface was held");
}

#[tokio::test]
async fn a_tcp_connection_with_no_bytes_either_way_is_closed_when_asked() {
    let up = upstream::tcp_echo().await;
    let proxy = support::start(&tcp_target("db", up, "idle_timeout = \"300ms\"\n")).await;
    let mut s = TcpStream::connect(proxy.addr("db")).await.expect("connect");
    // Traffic keeps it open past the timeout...
    for _ in 0..5 {
        s.write_all(b"ping").await.expect("write");
        let mut pong = [0u8; 4];
        s.read_exact(&mut pong).await.expect("echo");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // ...and silence ends it.
    assert!(closed_within(&mut s, Duration::from_secs(3)).await, "an idle TCP connection was held");
}

#[tokio::test]
async fn connections_past_max_connections_are_reset_as_they_arrive() {
    let up = upstream::tcp_echo().await;
    let proxy = support::start(&tcp_target("db", up, "max_connections = 3\n")).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(proxy.addr("db")).await.expect("connect");
        s.write_all(b"x").await.expect("write");
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.expect("echo");
        open.push(s);
    }
    let mut fourth = TcpStream::connect(proxy.addr("db")).await.expect("connect");
    assert!(closed_within(&mut fourth, Duration::from_secs(3)).await, "a fourth connection was served");
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = TcpStream::connect(proxy.addr("db")).await.expect("connect");
    again.write_all(b"y").await.expect("write");
    let mut b = [0u8; 1];
    timeout(LIMIT, again.read_exact(&mut b)).await.expect("served").expect("echo once a slot is free");
}

#[tokio::test]
async fn a_live_proxy_sent_every_bad_body_still_takes_a_fault_and_a_run() {
    let layer = RecordLayer::new();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer.clone()));
    let l = live("bad-bodies", "").await;
    let bodies = [
        "",
        "{",
        "null",
        "\u{0}\u{1}",
        "{\"kind\": 5}",
        "{\"kind\": \"error\", \"status\": 99999999999999999999}",
        "{\"kind\": \"latency\", \"delay\": \"4000000000000000h\"}",
        "{\"kind\": \"latency\", \"delay\": \"-1s\"}",
        "{\"kind\": \"rate_limit\", \"rate\": \"1e400/s\"}",
        "{\"kind\": \"error\", \"status\": 503, \"probability\": 1e308}",
        "title = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"4000000000000000h\"",
        "title = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"",
        "{\"file\": \"/etc/shadow\"}",
        "{\"file\": 5}",
        "{\"name\": \"p\", \"listen\": \"0.0.0.0:99999\", \"upstream\": \"x\"}",
        "{\"type\": \"latency\", \"attributes\": {\"latency\": 1e20}}",
    ];
    let routes = [
        ("POST", "/targets/t/faults"),
        ("PUT", "/targets/t/faults/error"),
        ("PATCH", "/targets/t/faults/error"),
        ("POST", "/runs"),
        ("POST", "/proxies"),
        ("POST", "/populate"),
        ("POST", "/proxies/none/toxics"),
    ];
    for (method, path) in routes {
        for body in bodies {
            let (status, answer) = call(l.admin, method, path, body, NONE).await;
            assert!((400..500).contains(&status), "{method} {path} {body:?}: {status} {answer}");
        }
    }
    assert_eq!(call(l.admin, "GET", "/health", "", NONE).await.0, 200);
    let (status, answer) =
        call(l.admin, "POST", "/targets/t/faults", r#"{"kind": "error", "status": 503}"#, NONE).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(crate::support::client::get(l.target, "/").await.0, 503);
    assert_eq!(call(l.admin, "DELETE", "/targets/t/faults", "", NONE).await.0, 204);
    let (status, answer) = call(l.admin, "POST", "/runs", &short_run(""), NONE).await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn the_admin_api_stays_reachable_when_the_data_path_has_used_every_descriptor() {
    let up = upstream::tcp_echo().await;
    let (admin, db) = (support::free_port(), support::free_port());
    let dir = std::env::temp_dir().join(format!("brownout-hostile-fds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("fds.toml");
    std::fs::write(
        &config,
        format!(
            "[admin]\nlisten = \"127.0.0.1:{admin}\"\n[[target]]\nname = \"db\"\nprotocol = \"tcp\"\nlisten = \"127.0.0.1:{db}\"\nupstream = \"{up}\"\n"
        ),
    )
    .expect("config");
    // At most 128 descriptors, hard limit included: each proxied connection
    // takes two (client and upstream), so 150 connections exhaust them.
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 128 && exec {} proxy --no-record --config {}",
            env!("CARGO_BIN_EXE_brownout"),
            config.display()
        ))
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let admin: SocketAddr = format!("127.0.0.1:{admin}").parse().expect("addr");
    let started = Instant::now();
    while TcpStream::connect(admin).await.is_err() {
        assert!(started.elapsed() < LIMIT, "the proxy never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut held = Vec::new();
    for _ in 0..150 {
        match TcpStream::connect(("127.0.0.1", db)).await {
            Ok(mut s) => {
                let _ = s.write_all(b"x").await;
                held.push(s);
            }
            Err(_) => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The data path is out of descriptors; the admin API answers anyway.
    for _ in 0..3 {
        let (status, body) = timeout(Duration::from_secs(10), call(admin, "GET", "/health", "", NONE))
            .await
            .expect("the admin API answered while the data path was out of descriptors");
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = call(admin, "GET", "/targets", "", NONE).await;
    assert_eq!(status, 200);
    drop(held);
    let _ = child.kill().await;
}
