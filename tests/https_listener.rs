//! HTTPS listeners: curl verifies a `tls = "auto"` listener with the
//! certificate `brownout ca` prints and speaks HTTP/1.1 or HTTP/2 by ALPN;
//! a listener with given certificate files serves hyper's client over
//! HTTP/2; HTTP/1.1 over TLS passes as bytes, as on a plain listener; a
//! key that is not the certificate's is refused before anything binds.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::ServerName;

use crate::support::client::read_body;
use crate::support::upstream::{self, full};
use crate::support::{self, LIMIT};

const BIN: &str = env!("CARGO_BIN_EXE_brownout");

/// A fresh CA and a certificate for `name` it signed, as PEM files in
/// `dir`: (the CA's certificate, the certificate, its key).
pub fn issue_files(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key")).expect("ca");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec![name.to_string(), "127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("cert");
    let paths = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&paths.0, ca.pem()).expect("write ca");
    std::fs::write(&paths.1, cert.pem()).expect("write cert");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write key");
    paths
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brownout-https-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// An upstream that says which protocol and scheme reached it.
async fn describing_upstream() -> std::net::SocketAddr {
    upstream::http(|req: Request<Incoming>| async move {
        let proto = req.headers().get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
        Response::new(full(format!("hello over {proto}")))
    })
    .await
}

/// A child process killed when the test ends, even by a failed assertion.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn curl_available() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("HTTP2"));
    if !ok {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "curl with HTTP/2 support is missing");
        eprintln!("skipped: curl with HTTP/2 support is missing (apt-get install curl)");
    }
    ok
}

/// Runs curl in a blocking thread (the upstream lives in this test's runtime).
async fn curl(args: Vec<String>) -> std::process::Output {
    let run = tokio::task::spawn_blocking(move || Command::new("curl").args(&args).output().expect("run curl"));
    tokio::time::timeout(LIMIT, run).await.expect("curl ended in time").expect("join")
}

#[tokio::test]
async fn curl_verifies_a_tls_auto_listener_with_the_brownout_ca_certificate_over_http1_and_http2() {
    if !curl_available() {
        return;
    }
    let home = temp_dir("home");
    let upstream = describing_upstream().await;
    let port = support::free_port();
    let config = home.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"payments\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:{port}\"\nupstream = \"http://{upstream}\"\ntls = {{ names = [\"payments.internal\"] }}\n"
        ),
    )
    .expect("config");
    let proxy = Killed(
        Command::new(BIN)
            .env("BROWNOUT_HOME", &home)
            .args(["proxy", "--no-record", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start brownout"),
    );
    let ca = Command::new(BIN).env("BROWNOUT_HOME", &home).arg("ca").output().expect("brownout ca");
    assert!(ca.status.success(), "{}", String::from_utf8_lossy(&ca.stderr));
    let pem = String::from_utf8(ca.stdout).expect("pem");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let path = Command::new(BIN).env("BROWNOUT_HOME", &home).args(["ca", "--path"]).output().expect("ca --path");
    let path = PathBuf::from(String::from_utf8(path.stdout).expect("path").trim());
    assert_eq!(path, home.join("ca/ca.pem"));
    assert_eq!(std::fs::read_to_string(&path).expect("ca.pem"), pem);
    let trusted = home.join("trusted.pem");
    std::fs::write(&trusted, &pem).expect("write");

    // The listener comes up once brownout has issued its certificate.
    let deadline = std::time::Instant::now() + LIMIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "brownout did not listen on {port}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let base = |version: &str, host: &str| -> Vec<String> {
        let mut args: Vec<String> = vec!["-sS".into(), "--cacert".into(), trusted.display().to_string()];
        args.extend([version.to_string(), "-w".into(), "\n%{http_version}".into()]);
        if host != "127.0.0.1" {
            args.extend(["--resolve".into(), format!("{host}:{port}:127.0.0.1")]);
        }
        args.push(format!("https://{host}:{port}/hello"));
        args
    };
    for (version, host, want) in [
        ("--http1.1", "localhost", "1.1"),
        ("--http2", "localhost", "2"),
        ("--http2", "payments.internal", "2"),
        ("--http1.1", "127.0.0.1", "1.1"),
    ] {
        let out = curl(base(version, host)).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "curl {version} {host}: {stdout} {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout, format!("hello over https\n{want}"), "curl {version} {host}");
    }
    // Without the authority, the certificate is not trusted: verification is real.
    let out = curl(vec!["-sS".into(), format!("https://localhost:{port}/hello")]).await;
    assert_eq!(out.status.code(), Some(60), "curl without --cacert: {}", String::from_utf8_lossy(&out.stderr));
    drop(proxy);
}

#[tokio::test]
async fn a_listener_with_certificate_files_serves_http2_by_alpn() {
    let dir = temp_dir("files");
    let (ca, cert, key) = issue_files(&dir, "localhost");
    let upstream = describing_upstream().await;
    let proxy = support::start(&support::http_target(
        "payments",
        upstream,
        &format!(
            "tls = {{ cert_file = {:?}, key_file = {:?} }}",
            cert.display().to_string(),
            key.display().to_string()
        ),
    ))
    .await;

    let mut roots = rustls::RootCertStore::empty();
    for c in brownout::tls::read_ca_file(&ca).expect("ca") {
        roots.add(c).expect("root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(proxy.addr("payments")).await.expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("h2");
    tokio::spawn(conn);
    let req = Request::get("https://localhost/hello").body(full("")).expect("req");
    let resp = tokio::time::timeout(LIMIT, sender.send_request(req)).await.expect("in time").expect("resp");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(read_body(resp).await, b"hello over https");

    // Faults work over the new path as over the old: a match and an opt-in header.
    proxy.switch("payments").set(support::faults(
        "http",
        "[[target.fault]]\nkind = \"error\"\nstatus = 503\nbody = \"down\"\nopt_in = \"x-chaos: on\"\nmatch = { path = \"/pay*\" }\n",
    ));
    for (path, chaos, want) in [("/pay", true, 503), ("/pay", false, 200), ("/hello", true, 200)] {
        let mut req = Request::get(format!("https://localhost{path}"));
        if chaos {
            req = req.header("x-chaos", "on");
        }
        let resp = tokio::time::timeout(LIMIT, sender.send_request(req.body(full("")).expect("req")))
            .await
            .expect("in time")
            .expect("resp");
        assert_eq!(resp.status().as_u16(), want, "{path} with x-chaos {chaos}");
    }
}

/// A raw upstream that keeps each request head it gets and answers with a
/// header whose name is not lower case (hyper would write it lower case).
async fn head_keeping_upstream() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    let heads: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let seen = heads.clone();
    let addr = upstream::raw_http(move |head| {
        seen.lock().unwrap().push(head);
        async { ("HTTP/1.1 200 OK\r\nX-Upstream-Case: Kept\r\nContent-Length: 2\r\n\r\nok".to_string(), false) }
    })
    .await;
    (addr, heads)
}

#[tokio::test]
async fn http1_over_tls_passes_as_bytes_as_on_a_plain_listener() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = temp_dir("plain");
    let (ca, cert, key) = issue_files(&dir, "localhost");
    let (upstream, heads) = head_keeping_upstream().await;
    let tls =
        format!("tls = {{ cert_file = {:?}, key_file = {:?} }}", cert.display().to_string(), key.display().to_string());
    let proxy = support::start(&support::http_target("payments", upstream, &tls)).await;
    let mut roots = rustls::RootCertStore::empty();
    for c in brownout::tls::read_ca_file(&ca).expect("ca") {
        roots.add(c).expect("root");
    }
    // With ALPN's http/1.1, and with no ALPN at all (as wrk and older
    // clients), where the listener tells HTTP/1.1 by its first bytes.
    for alpn in [vec![b"http/1.1".to_vec()], vec![]] {
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
        config.alpn_protocols = alpn.clone();
        let tcp = tokio::net::TcpStream::connect(proxy.addr("payments")).await.expect("connect");
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .expect("handshake");
        heads.lock().unwrap().clear();
        // Three requests pipelined in one write, the last asking to close.
        let requests = "GET /a HTTP/1.1\r\nHost: shop.example\r\nX-Client-Case: Kept\r\n\r\n\
                        GET /b HTTP/1.1\r\nHost: shop.example\r\n\r\n\
                        GET /c HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n";
        tls.write_all(requests.as_bytes()).await.expect("write");
        let mut got = Vec::new();
        tokio::time::timeout(LIMIT, tls.read_to_end(&mut got)).await.expect("in time").expect("read");
        let got = String::from_utf8_lossy(&got);
        // The upstream's bytes reach the client as they were sent: the
        // plain path's (hyper would have written `x-upstream-case`).
        let answer = "HTTP/1.1 200 OK\r\nX-Upstream-Case: Kept\r\nContent-Length: 2\r\n";
        assert_eq!(got.matches(answer).count(), 3, "ALPN {alpn:?}: {got}");
        let heads = heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 3, "ALPN {alpn:?}: {heads:#?}");
        assert!(heads[0].starts_with("GET /a HTTP/1.1\r\n"), "{}", heads[0]);
        assert!(heads[0].contains("\r\nX-Client-Case: Kept\r\n"), "the client's field changed: {}", heads[0]);
        assert!(heads[0].contains("\r\nx-forwarded-proto: https\r\n"), "{}", heads[0]);
    }
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_with_both_files_named() {
    let dir = temp_dir("mismatch");
    let (_, cert, _) = issue_files(&dir, "localhost");
    let other = temp_dir("mismatch-other");
    let (_, _, key) = issue_files(&other, "localhost");
    let text = format!(
        "[[target]]\nname = \"p\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\ntls = {{ cert_file = {:?}, key_file = {:?} }}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let err = brownout::config::parse("t.toml", &text, None).expect_err("a mismatched key").to_string();
    let want = format!(
        "t.toml:6:7: target[0].tls must name a usable certificate and key, but the key in {} is not the key of the certificate in {}",
        key.display(),
        cert.display()
    );
    assert!(err.contains(&want), "{err}");
}
