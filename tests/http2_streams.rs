//! Many streams on one HTTP/2 connection: each answered on its own, a
//! stream a fault holds or resets holding up or resetting no other, and the
//! held one released when its fault is removed.

use std::time::Duration;

use http::Request;
use http_body_util::BodyExt;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::upstream::{self, full, Body};
use crate::support::{self, http_target, LIMIT};

async fn h2_connection(addr: std::net::SocketAddr) -> SendRequest<Body> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    sender
}

/// Sends `GET path` with `extra` fields on the connection; the status and
/// body, or the error that ended the stream.
async fn get(
    mut sender: SendRequest<Body>,
    path: String,
    extra: Option<(&'static str, &'static str)>,
) -> Result<(u16, String), String> {
    let mut req = Request::get(format!("http://t{path}"));
    if let Some((k, v)) = extra {
        req = req.header(k, v);
    }
    let resp = sender.send_request(req.body(full("")).expect("req")).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[tokio::test]
async fn a_hundred_streams_on_one_connection_each_get_their_own_answer() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let sender = h2_connection(proxy.addr("t")).await;
    let streams: Vec<_> = (0..100).map(|i| tokio::spawn(get(sender.clone(), format!("/s/{i}"), None))).collect();
    for (i, stream) in streams.into_iter().enumerate() {
        let (status, body) = timeout(LIMIT, stream).await.expect("in time").expect("task").expect("an answer");
        assert_eq!(status, 200);
        assert!(body.starts_with(&format!("GET /s/{i} HTTP/1.1\n")), "stream {i} got {body}");
    }
}

#[tokio::test]
async fn a_held_or_reset_stream_holds_up_no_other_stream_of_its_connection() {
    let up = upstream::mirror().await;
    let faults = r#"
[[target.fault]]
kind = "hang"
opt_in = "x-brownout: hang"

[[target.fault]]
kind = "reset"
opt_in = "x-brownout: reset"
"#;
    let proxy = support::start(&http_target("t", up, faults)).await;
    let sender = h2_connection(proxy.addr("t")).await;
    let held = tokio::spawn(get(sender.clone(), "/held".into(), Some(("x-brownout", "hang"))));
    let reset =
        timeout(LIMIT, get(sender.clone(), "/reset".into(), Some(("x-brownout", "reset")))).await.expect("in time");
    assert!(reset.is_err(), "the reset stream was answered: {reset:?}");
    for i in 0..20 {
        let answer = timeout(LIMIT, get(sender.clone(), format!("/other/{i}"), None)).await.expect("in time");
        assert_eq!(answer.expect("answered").0, 200, "stream {i} beside a held one");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!held.is_finished(), "the held stream was answered");
    proxy.switch("t").clear();
    let released = timeout(Duration::from_secs(5), held).await.expect("released once the fault is removed");
    assert!(released.expect("task").is_err(), "a hang ends without an answer");
    let after = timeout(LIMIT, get(sender.clone(), "/after".into(), None)).await.expect("in time");
    assert_eq!(after.expect("the connection still serves").0, 200);
}
