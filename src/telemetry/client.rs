//! The exporter's HTTP client: POSTs a protobuf body to the collector over
//! one kept-alive HTTP/1.1 connection (TLS for `https`), made again when it
//! breaks. Nothing here is on the data path: it runs on the exporter's own
//! thread.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::uri::Scheme;
use http::{HeaderName, HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long a connection to the collector may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one export may take, answer included.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a collector's answer that is read (OTLP answers are small).
const MAX_ANSWER: usize = 64 * 1024;

pub struct Client {
    endpoint: Uri,
    host: String,
    port: u16,
    tls: Option<tokio_rustls::TlsConnector>,
    headers: Vec<(HeaderName, HeaderValue)>,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    pub fn new(endpoint: &Uri, headers: &[(HeaderName, HeaderValue)]) -> Result<Client, String> {
        let https = endpoint.scheme() == Some(&Scheme::HTTPS);
        let authority = endpoint.authority().ok_or_else(|| format!("{endpoint} has no host"))?;
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let config = crate::tls::client_config(None)?;
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        } else {
            None
        };
        Ok(Client {
            endpoint: endpoint.clone(),
            host: authority.host().trim_start_matches('[').trim_end_matches(']').to_string(),
            port,
            tls,
            headers: headers.to_vec(),
            conn: None,
        })
    }

    /// Sends one export; `Err` says why the collector did not take it. A
    /// kept connection the collector closed meanwhile is made again once.
    pub async fn post(&mut self, body: Bytes) -> Result<(), String> {
        match tokio::time::timeout(EXPORT_TIMEOUT, self.send(body)).await {
            Ok(result) => result,
            Err(_) => {
                self.conn = None;
                Err(format!("no answer within {EXPORT_TIMEOUT:?}"))
            }
        }
    }

    async fn send(&mut self, body: Bytes) -> Result<(), String> {
        for attempt in 0..2 {
            let reused = self.conn.is_some();
            let mut sender = match self.conn.take() {
                Some(s) if !s.is_closed() => s,
                _ => self.connect().await?,
            };
            if sender.ready().await.is_err() {
                continue;
            }
            let sent = sender.send_request(self.request(body.clone())).await;
            let resp = match sent {
                Ok(resp) => resp,
                // A connection the collector closed while it idled.
                Err(_) if reused && attempt == 0 => continue,
                Err(e) => return Err(format!("the export broke off: {e}")),
            };
            let status = resp.status();
            let answer = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER).collect().await;
            if answer.is_ok() {
                self.conn = Some(sender);
            }
            if status.is_success() {
                return Ok(());
            }
            let text = answer.map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string()).unwrap_or_default();
            let text: String = text.chars().take(200).collect();
            return Err(format!("the collector answered {status}: {text}"));
        }
        Err("the connection to the collector closed at once".into())
    }

    fn request(&self, body: Bytes) -> Request<Full<Bytes>> {
        let mut req = Request::post(self.endpoint.path()).body(Full::new(body.clone())).expect("a path and a body");
        let h = req.headers_mut();
        if let Some(authority) = self.endpoint.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            h.insert(HOST, authority);
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        for (name, value) in &self.headers {
            h.insert(name, value.clone());
        }
        req
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let target = format!("{}:{}", self.host, self.port);
        let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&target)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(format!("cannot connect to {target}: {e}")),
            Err(_) => return Err(format!("cannot connect to {target} within {CONNECT_TIMEOUT:?}")),
        };
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => handshake(tcp).await,
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| format!("{:?} is not a TLS server name: {e}", self.host))?;
                let stream = tls.connect(name, tcp).await.map_err(|e| format!("tls handshake failed: {e}"))?;
                handshake(stream).await
            }
        }
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) =
        http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("http handshake failed: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
