//! `https://` upstreams: verified against a CA file from the config, and
//! refused when the certificate cannot be verified.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::time::timeout;

use crate::support::client::get;
use crate::support::upstream::full;
use crate::support::{self, LIMIT};

/// A TLS upstream for `localhost` signed by a fresh CA; returns its address
/// and the CA's PEM file.
async fn tls_upstream(tag: &str) -> (SocketAddr, PathBuf) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key")).expect("ca");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let dir = std::env::temp_dir().join(format!("brownout-tls-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write ca");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = service_fn(|req: Request<Incoming>| async move {
                    let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
                    Ok::<_, Infallible>(Response::new(full(format!("secure hello, host {host}"))))
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), svc).await;
            });
        }
    });
    (addr, ca_file)
}

fn https_config(port: u16, ca_file: Option<&PathBuf>) -> String {
    let ca = ca_file.map_or(String::new(), |f| format!("ca_file = {:?}\n", f.display().to_string()));
    format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"secure\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"https://localhost:{port}\"\n{ca}"
    )
}

#[tokio::test]
async fn an_https_upstream_is_verified_with_the_configured_ca_file() {
    let (addr, ca_file) = tls_upstream("ok").await;
    let proxy = support::start(&https_config(addr.port(), Some(&ca_file))).await;
    let (status, text) = timeout(LIMIT, get(proxy.addr("secure"), "/")).await.expect("in time");
    assert_eq!(status, 200, "{text}");
    assert_eq!(text, format!("secure hello, host localhost:{}", addr.port()));
}

#[tokio::test]
async fn an_https_upstream_whose_certificate_cannot_be_verified_gets_a_502() {
    let (addr, _ca_file) = tls_upstream("untrusted").await;
    // The system roots do not know the test CA.
    if let Err(why) = brownout::tls::client_config(None) {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI needs system root certificates: {why}");
        eprintln!("skipped: {why}");
        return;
    }
    let proxy = support::start(&https_config(addr.port(), None)).await;
    let (status, text) = timeout(LIMIT, get(proxy.addr("secure"), "/")).await.expect("in time");
    assert_eq!(status, 502, "{text}");
    assert!(
        text.contains("brownout could not reach upstream secure") && text.to_lowercase().contains("certificate"),
        "{text}"
    );
}
