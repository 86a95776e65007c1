//! The upstream connections of one HTTP target: HTTP/1.1 connections (over
//! TLS for `https`) kept idle between requests, oldest first: the one idle
//! longest has surely finished its last exchange, so taking it never waits;
//! or, for an upstream that speaks HTTP/2 (`upstream_version = "http2"`, or
//! `"auto"` and ALPN chose `h2`), a few multiplexed connections
//! (`multiplex`).
//!
//! A connection goes back to the pool when its response body has been read
//! to the end; a body dropped half way, an upgraded connection or one the
//! upstream closed is not reused. Nothing is spawned per request: the only
//! task is each connection's own.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::uri::Scheme;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tracing::debug;

use super::dial::{self, DialError, MAX_IDLE};
use super::forward::RequestBody;
use super::multiplex::{self, H2Sender, Multiplexed};
use crate::config::{HttpUpstream, UpstreamVersion};
use crate::record::fields;
use crate::tls::server::{ALPN_H2, ALPN_HTTP1};

type Sender = SendRequest<RequestBody>;

/// Why an upstream's connections cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The TLS client settings of an `https` upstream (its CA file) could
    /// not be built.
    #[error("{0}")]
    Tls(String),
}

/// Why a request got no response from the upstream; the text goes into a
/// 502.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No connection could be made: refused, unreachable, timed out, TLS refused.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The connection broke before the response head arrived.
    #[error("{}", error_chain(.0))]
    Send(hyper::Error),
    /// A new connection closed before a request could start on it.
    #[error("the new connection closed at once")]
    Closed,
}

/// Why no connection to the upstream could be made. Causes are part of the
/// text rather than a `source`, as in `DialError`.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No TCP connection: refused, unreachable, timed out.
    #[error(transparent)]
    Dial(#[from] DialError),
    /// An `https` upstream's host cannot be checked against a certificate.
    #[error("{host:?} is not a TLS server name: {reason}")]
    ServerName { host: String, reason: rustls::pki_types::InvalidDnsNameError },
    #[error("tls handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("http handshake failed: {0}")]
    Handshake(hyper::Error),
}

pub struct Pool {
    name: String,
    upstream: HttpUpstream,
    tls: Option<tokio_rustls::TlsConnector>,
    idle: Mutex<VecDeque<Sender>>,
    /// What the upstream speaks: one of the `SPEAKS_*`.
    speaks: AtomicU8,
    h2: Multiplexed,
}

/// Not known yet: `auto` on `https`, before the first connection's ALPN.
const SPEAKS_UNKNOWN: u8 = 0;
const SPEAKS_H1: u8 = 1;
const SPEAKS_H2: u8 = 2;

/// A new connection, in the version it speaks.
enum Dialed {
    H1(Sender),
    H2(H2Sender),
}

impl Pool {
    pub fn new(name: &str, upstream: &HttpUpstream) -> Result<Arc<Pool>, SetupError> {
        let https = upstream.scheme == Scheme::HTTPS;
        let tls = if https {
            let mut config = crate::tls::client_config(upstream.ca_file.as_deref()).map_err(SetupError::Tls)?;
            config.alpn_protocols = match upstream.version {
                UpstreamVersion::Http1 => vec![ALPN_HTTP1.to_vec()],
                UpstreamVersion::Http2 => vec![ALPN_H2.to_vec()],
                UpstreamVersion::Auto => vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()],
            };
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        } else {
            None
        };
        let speaks = match upstream.version {
            UpstreamVersion::Http2 => SPEAKS_H2,
            UpstreamVersion::Auto if https => SPEAKS_UNKNOWN,
            _ => SPEAKS_H1,
        };
        Ok(Arc::new(Pool {
            name: name.to_string(),
            upstream: upstream.clone(),
            tls,
            idle: Mutex::default(),
            speaks: AtomicU8::new(speaks),
            h2: Multiplexed::new(),
        }))
    }

    /// True once the upstream is known to speak HTTP/2.
    pub fn speaks_h2(&self) -> bool {
        self.speaks.load(Ordering::Relaxed) == SPEAKS_H2
    }

    /// Sends `req` (in origin form) over an idle connection, or a new one.
    /// A request that a reused connection could not even start is retried
    /// once per idle connection, then on a new one.
    pub async fn send(self: &Arc<Self>, mut req: Request<RequestBody>) -> Result<Response<PooledBody>, PoolError> {
        if self.speaks_h2() {
            let sending = Box::pin(self.send_h2(req));
            return sending.await;
        }
        loop {
            let (mut sender, reused) = match self.take_idle() {
                Some(sender) => (sender, true),
                // Boxed: connecting (TLS included) is rare next to reusing,
                // and would make every request's future that much bigger.
                None => {
                    let connecting = Box::pin(self.connect());
                    match connecting.await? {
                        Dialed::H1(sender) => {
                            let _ = self.speaks.compare_exchange(
                                SPEAKS_UNKNOWN,
                                SPEAKS_H1,
                                Ordering::Relaxed,
                                Ordering::Relaxed,
                            );
                            (sender, false)
                        }
                        Dialed::H2(sender) => {
                            self.speaks.store(SPEAKS_H2, Ordering::Relaxed);
                            self.h2.adopt(&sender);
                            let sending = Box::pin(self.send_h2(req));
                            return sending.await;
                        }
                    }
                }
            };
            if sender.ready().await.is_err() {
                if reused {
                    continue;
                }
                return Err(PoolError::Closed);
            }
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    // A switched protocol owns the connection from now on.
                    let keep = (resp.status() != StatusCode::SWITCHING_PROTOCOLS).then_some(sender);
                    let pool = self.clone();
                    return Ok(resp.map(|body| PooledBody::new(body, keep, pool)));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(PoolError::Send(e.into_error())),
                },
            }
        }
    }

    fn take_idle(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(sender) = idle.pop_front() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn put_back(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push_back(sender);
        }
    }

    /// Sends `req` as an HTTP/2 stream on one of the multiplexed
    /// connections; a request a connection could not start goes once more
    /// on a new one.
    async fn send_h2(self: &Arc<Self>, mut req: Request<RequestBody>) -> Result<Response<PooledBody>, PoolError> {
        multiplex::to_h2(&mut req, &self.upstream.scheme, &self.upstream.authority);
        let mut retried = false;
        loop {
            let (slot, mut sender) = self.h2.sender(|| self.connect_h2()).await?;
            match multiplex::send(&mut sender, req).await {
                Ok(resp) => return Ok(resp.map(|body| PooledBody::new(body, None, self.clone()))),
                Err((_, Some(unsent))) if !retried => {
                    self.h2.drop_slot(slot);
                    retried = true;
                    req = unsent;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// A new connection, HTTP/2 whatever ALPN says (this upstream is known to speak it).
    async fn connect_h2(&self) -> Result<H2Sender, ConnectError> {
        let tcp = dial::dial(&self.upstream).await?;
        match &self.tls {
            Some(tls) => multiplex::handshake(&self.name, self.tls_connect(tls, tcp).await?).await,
            None => multiplex::handshake(&self.name, tcp).await,
        }
    }

    /// A new connection: HTTP/1.1, or HTTP/2 when ALPN chose `h2`.
    async fn connect(&self) -> Result<Dialed, ConnectError> {
        let tcp = dial::dial(&self.upstream).await?;
        let Some(tls) = &self.tls else { return self.handshake(tcp).await.map(Dialed::H1) };
        let stream = self.tls_connect(tls, tcp).await?;
        if stream.get_ref().1.alpn_protocol() == Some(ALPN_H2) {
            return multiplex::handshake(&self.name, stream).await.map(Dialed::H2);
        }
        self.handshake(stream).await.map(Dialed::H1)
    }

    /// The TLS handshake over `tcp`, checking the upstream's name.
    async fn tls_connect(
        &self,
        tls: &tokio_rustls::TlsConnector,
        tcp: tokio::net::TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, ConnectError> {
        let host = dial::host(&self.upstream);
        let name = rustls::pki_types::ServerName::try_from(host)
            .map_err(|reason| ConnectError::ServerName { host: host.to_string(), reason })?
            .to_owned();
        tls.connect(name, tcp).await.map_err(ConnectError::Tls)
    }

    async fn handshake<T>(&self, stream: T) -> Result<Sender, ConnectError>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, conn) =
            http1::Builder::new().handshake(TokioIo::new(stream)).await.map_err(ConnectError::Handshake)?;
        let name = self.name.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                debug!({ fields::TARGET } = %name, error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// An upstream response body that returns its connection to the pool once
/// read to the end.
pub struct PooledBody {
    body: Incoming,
    sender: Option<Sender>,
    pool: Arc<Pool>,
}

impl PooledBody {
    fn new(body: Incoming, sender: Option<Sender>, pool: Arc<Pool>) -> Self {
        let mut this = PooledBody { body, sender, pool };
        if this.body.is_end_stream() {
            this.release();
        }
        this
    }

    fn release(&mut self) {
        if let Some(sender) = self.sender.take() {
            self.pool.put_back(sender);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.release(),
            Poll::Ready(Some(Err(_))) => self.sender = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// An error and its causes, joined: "client error (Connect): tcp connect error: Connection refused".
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
