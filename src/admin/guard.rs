//! Who may use the admin API. A request passes when it comes from no
//! browser page of another site and names this listener by a `Host` a
//! rebinding attack cannot forge, carries the token when one is
//! configured, and keeps its body within 1 MiB.
//!
//! - `Host` (or HTTP/2's `:authority`) must be a loopback name (`localhost`,
//!   `*.localhost`), a loopback address, the listen address, or one of
//!   `admin.allowed_hosts`: a DNS-rebinding page sends its own domain there.
//! - `Origin`, when present, must be the origin the request was sent to
//!   (`http://` and its `Host`) or one of `admin.allowed_origins`; and a
//!   request a browser marks `Sec-Fetch-Site: cross-site` is refused unless
//!   its origin is allowed. Clients that are not browsers send neither.
//! - The token, when configured, is compared in constant time; the scheme
//!   `Bearer` in any case.
//! - A browser's `User-Agent` is refused unless `admin.allow_browsers`;
//!   the control page (`/ui`) and its own calls are not: they come with the
//!   page's session cookie (`HttpOnly`, `SameSite=Strict`, so never from
//!   another site), and their changes with its page token, which no other
//!   page can read. A session given the token stands for it.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::ui::{self, Session, CSRF_HEADER};
use super::{AdminState, Refused};
use crate::config::Admin;

/// The largest request body the admin API reads.
pub const MAX_BODY: usize = 1024 * 1024;

/// What the guard knows of the admin listener.
#[derive(Clone, Default)]
pub struct Trust {
    listen: Option<SocketAddr>,
    allowed_origins: Vec<String>,
    allowed_hosts: Vec<String>,
}

impl Trust {
    pub fn new(admin: &Admin, listen: SocketAddr) -> Self {
        Trust {
            listen: Some(listen),
            allowed_origins: admin.allowed_origins.clone(),
            allowed_hosts: admin.allowed_hosts.clone(),
        }
    }

    /// Why a request's `Host` is not one this listener answers to, if it is not.
    fn host_refused(&self, host: &str) -> Option<String> {
        let lower = host.to_ascii_lowercase();
        if self.allowed_hosts.iter().any(|h| *h == lower || host_name(h) == host_name(&lower)) {
            return None;
        }
        let name = host_name(&lower);
        if name == "localhost" || name.ends_with(".localhost") {
            return None;
        }
        if let Ok(ip) = name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            let listen = self.listen.map(|l| l.ip());
            // An address cannot be rebound; the one listened on (or any, on
            // a wildcard listener) names this listener.
            if ip.is_loopback() || Some(ip) == listen || listen.is_some_and(|l| l.is_unspecified()) {
                return None;
            }
        }
        Some(format!("Host {host:?} is not a name of this admin listener; add it to admin.allowed_hosts to allow it"))
    }

    /// Why a request's `Origin` and `Sec-Fetch-Site` mark it as another
    /// site's, if they do.
    fn origin_refused(&self, headers: &HeaderMap, host: Option<&str>) -> Option<String> {
        let origin = headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("").to_ascii_lowercase());
        let allowed = |o: &str| self.allowed_origins.iter().any(|a| a == o);
        if let Some(origin) = &origin {
            let own = host.is_some_and(|h| *origin == format!("http://{}", h.to_ascii_lowercase()));
            if !own && !allowed(origin) {
                return Some(format!(
                    "requests from the origin {origin:?} are refused; add it to admin.allowed_origins to allow it"
                ));
            }
        }
        let cross_site =
            headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        if cross_site && !origin.as_deref().is_some_and(allowed) {
            return Some("cross-site requests from browsers are refused".into());
        }
        None
    }
}

/// `host:port` without the port (IPv6 brackets kept).
fn host_name(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    }
}

/// The `Host` a request was sent to: HTTP/1.1's header or HTTP/2's `:authority`.
fn request_host<B>(req: &Request<B>) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_string()))
}

/// Who a request passed the guard as.
pub struct Passed {
    /// The control page's session the request came with, if any.
    pub session: Option<Session>,
}

pub fn check(req: &Request<Incoming>, state: &AdminState) -> Result<Passed, Refused> {
    let host = request_host(req);
    if let Some(why) = host.as_deref().and_then(|h| state.trust.host_refused(h)) {
        return Err(Refused(StatusCode::FORBIDDEN, why));
    }
    if let Some(why) = state.trust.origin_refused(req.headers(), host.as_deref()) {
        return Err(Refused(StatusCode::FORBIDDEN, why));
    }
    // The page itself (or its token form) answers whoever may see it: the
    // rules above already refused other sites.
    let page = ui::is_page(req.method(), req.uri().path());
    let session = state.ui.sessions.of(req.headers());
    let bearer = state.token.as_ref().is_some_and(|token| {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, t)| t.trim());
        constant_time_eq(given.as_bytes(), token.0.as_bytes())
    });
    let signed_in = session.as_ref().is_some_and(|s| s.authenticated);
    if state.token.is_some() && !bearer && !signed_in && !page {
        return Err(Refused(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: send Authorization: Bearer <token>".into(),
        ));
    }
    // A change made with the page's session must carry its page token.
    if let Some(s) = &session {
        let reads = matches!(*req.method(), Method::GET | Method::HEAD);
        let given = req.headers().get(CSRF_HEADER).map_or(&b""[..], |v| v.as_bytes());
        if !bearer && !reads && !constant_time_eq(given, s.csrf.as_bytes()) {
            return Err(Refused(
                StatusCode::FORBIDDEN,
                format!(
                    "a change with the control page's session must carry its page token in {CSRF_HEADER}; reload /ui"
                ),
            ));
        }
    }
    let browser = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("Mozilla/"));
    if browser && !state.allow_browsers && !page && session.is_none() {
        return Err(Refused(
            StatusCode::FORBIDDEN,
            "requests from browsers are refused; set admin.allow_browsers = true to allow them, or use the control page at /ui".into(),
        ));
    }
    Ok(Passed { session })
}

/// Reads the whole body, refusing one over [`MAX_BODY`] with 413.
pub async fn read_body(req: Request<Incoming>) -> Result<Bytes, Refused> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(Refused(StatusCode::BAD_REQUEST, format!("the request body could not be read: {e}"))),
    }
}

fn too_large() -> Refused {
    Refused(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {MAX_BODY} bytes"))
}

/// Compares in time that depends only on the lengths, not on where the
/// bytes differ.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, &x) in a.iter().enumerate() {
        diff |= x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0 && !b.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_every_byte() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3creT", b"s3cret"));
        assert!(!constant_time_eq(b"s3cre", b"s3cret"));
        assert!(!constant_time_eq(b"", b"s3cret"));
        assert!(!constant_time_eq(b"", b""));
    }

    fn trust(listen: &str, hosts: &[&str], origins: &[&str]) -> Trust {
        Trust {
            listen: Some(listen.parse().expect("addr")),
            allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn hosts_are_loopback_names_the_listen_address_or_allowed() {
        let t = trust("127.0.0.1:8474", &["brownout.staging.internal"], &[]);
        for ok in ["127.0.0.1:8474", "localhost:8474", "LOCALHOST", "app.localhost:8474", "[::1]:8474"] {
            assert_eq!(t.host_refused(ok), None, "{ok}");
        }
        assert_eq!(t.host_refused("brownout.staging.internal:8474"), None);
        for bad in ["evil.example", "evil.example:8474", "10.1.2.3:8474", "localhost.evil.example"] {
            assert!(t.host_refused(bad).is_some(), "{bad}");
        }
        let wildcard = trust("0.0.0.0:8474", &[], &[]);
        assert_eq!(wildcard.host_refused("10.1.2.3:8474"), None, "an address cannot be rebound");
        assert!(wildcard.host_refused("evil.example:8474").is_some());
    }

    #[test]
    fn origins_must_be_the_listeners_own_or_allowed() {
        let t = trust("127.0.0.1:8474", &[], &["https://console.example"]);
        let headers = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(http::HeaderName::from_bytes(k.as_bytes()).expect("name"), v.parse().expect("value"));
            }
            h
        };
        let host = Some("127.0.0.1:8474");
        assert_eq!(t.origin_refused(&headers(&[]), host), None, "no Origin: not a browser page");
        assert_eq!(t.origin_refused(&headers(&[("origin", "http://127.0.0.1:8474")]), host), None);
        assert_eq!(t.origin_refused(&headers(&[("origin", "https://console.example")]), host), None);
        assert!(t.origin_refused(&headers(&[("origin", "http://evil.example")]), host).is_some());
        assert!(t.origin_refused(&headers(&[("origin", "null")]), host).is_some());
        assert!(t.origin_refused(&headers(&[("sec-fetch-site", "cross-site")]), host).is_some());
        assert_eq!(t.origin_refused(&headers(&[("sec-fetch-site", "same-origin")]), host), None);
    }
}
