//! Small HTTP clients with control over the framing and protocol version.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::upstream::Body;

/// How a request body is framed on the wire.
#[derive(Debug, Clone, Copy)]
pub enum Framing {
    ContentLength,
    Chunked,
}

/// A body of `data` with the given framing (chunked bodies go in 64 KiB frames).
pub fn body(data: &[u8], framing: Framing) -> Body {
    match framing {
        Framing::ContentLength => Full::new(Bytes::copy_from_slice(data)).map_err(|never| match never {}).boxed(),
        Framing::Chunked => {
            let frames: Vec<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>> =
                data.chunks(64 * 1024).map(|c| Ok(Frame::data(Bytes::copy_from_slice(c)))).collect();
            StreamBody::new(futures_util::stream::iter(frames)).boxed()
        }
    }
}

/// Sends one request over a new HTTP/1.1 connection.
pub async fn send_http1(addr: SocketAddr, req: Request<Body>) -> hyper::Result<Response<Incoming>> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    sender.send_request(req).await
}

/// Sends one request over a new HTTP/2 connection (prior knowledge, no TLS).
pub async fn send_http2(addr: SocketAddr, req: Request<Body>) -> hyper::Result<Response<Incoming>> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    sender.send_request(req).await
}

/// Reads a whole response body.
pub async fn read_body(resp: Response<Incoming>) -> Vec<u8> {
    resp.into_body().collect().await.expect("body").to_bytes().to_vec()
}

/// A GET over HTTP/1.1; returns the status and the body as text.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let req = Request::get(format!("http://{addr}{path}")).body(super::upstream::full("")).expect("request");
    let resp = send_http1(addr, req).await.expect("response");
    let status = resp.status().as_u16();
    (status, String::from_utf8_lossy(&read_body(resp).await).into_owned())
}

/// A GET over HTTP/1.1 in origin form (`GET /path`, with a `Host`), as
/// browsers and most clients send it (`get` sends the absolute form, which
/// brownout serves through hyper); the status and the body as text.
pub async fn get_origin_form(addr: SocketAddr, path: &str) -> (u16, String) {
    let req = Request::get(path).header("host", addr.to_string()).body(super::upstream::full("")).expect("request");
    let resp = send_http1(addr, req).await.expect("response");
    let status = resp.status().as_u16();
    (status, String::from_utf8_lossy(&read_body(resp).await).into_owned())
}

/// One admin API call: method, path, body and extra headers; the status and the body.
pub async fn call(admin: SocketAddr, method: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = Request::builder().method(method).uri(format!("http://{admin}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = send_http1(admin, req.body(super::upstream::full(body.to_string())).expect("req")).await.expect("resp");
    let status = resp.status().as_u16();
    (status, String::from_utf8_lossy(&read_body(resp).await).into_owned())
}
