//! Header rewriting for forwarded requests and responses: hop-by-hop fields
//! removed (RFC 9110 section 7.6.1) and the `X-Forwarded-*` fields added.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Fields that describe one connection, never forwarded (RFC 9110 7.6.1, plus
/// the obsolete `Proxy-Connection` that some clients still send), as text
/// for the plain pass-through, which compares raw names.
pub(super) const HOP_BY_HOP_NAMES: [&str; 6] =
    ["connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade"];
/// The same fields as header names.
pub(super) static HOP_BY_HOP: [HeaderName; 6] = [
    HeaderName::from_static(HOP_BY_HOP_NAMES[0]),
    HeaderName::from_static(HOP_BY_HOP_NAMES[1]),
    HeaderName::from_static(HOP_BY_HOP_NAMES[2]),
    HeaderName::from_static(HOP_BY_HOP_NAMES[3]),
    HeaderName::from_static(HOP_BY_HOP_NAMES[4]),
    HeaderName::from_static(HOP_BY_HOP_NAMES[5]),
];
const CONNECTION_AT: usize = 0;
const UPGRADE_AT: usize = 5;

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// True when a request asks to switch protocols (a WebSocket handshake, say).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes hop-by-hop fields and every field the `Connection` header names.
/// When `upgrade` is set, `Upgrade` and `Connection: upgrade` are kept so the
/// protocol switch reaches the other side.
pub fn remove_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    // One pass over the names finds the hop-by-hop fields present, usually
    // none or only `Connection`, instead of a hash lookup for each of them.
    let mut present = [false; HOP_BY_HOP.len()];
    for name in headers.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) {
            present[i] = true;
        }
    }
    if !present.contains(&true) {
        return;
    }
    if present[CONNECTION_AT] {
        // Tokens naming hop-by-hop fields (`keep-alive`, `upgrade`) are
        // removed below anyway; parsing them as names would allocate.
        let named: Vec<HeaderName> = connection_tokens(headers)
            .filter(|t| !HOP_BY_HOP_NAMES.iter().any(|h| t.eq_ignore_ascii_case(h)))
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    let upgrade_value = if upgrade && present[UPGRADE_AT] { headers.remove(header::UPGRADE) } else { None };
    for (name, present) in HOP_BY_HOP.iter().zip(present) {
        if present {
            headers.remove(name);
        }
    }
    if let Some(value) = upgrade_value {
        headers.insert(header::UPGRADE, value);
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// A client connection's address, with its `X-Forwarded-For` entry written
/// once for all the connection's requests.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    forwarded_for: HeaderValue,
    /// The client came over TLS: `X-Forwarded-Proto: https`.
    https: bool,
}

impl Peer {
    pub fn new(addr: SocketAddr) -> Self {
        let ip = addr.ip().to_canonical().to_string();
        let forwarded_for = HeaderValue::try_from(ip).expect("an IP address is a valid header value");
        Peer { addr, forwarded_for, https: false }
    }

    /// A client that came over TLS.
    pub fn secure(addr: SocketAddr) -> Self {
        Peer { https: true, ..Peer::new(addr) }
    }

    /// The protocol the client spoke, as `X-Forwarded-Proto` says it.
    pub fn proto(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    /// The client's address as `X-Forwarded-For` lists it.
    pub fn forwarded_for(&self) -> &HeaderValue {
        &self.forwarded_for
    }
}

/// Adds the client's address to `X-Forwarded-For` and records the original
/// protocol and host unless an earlier proxy already did.
pub fn add_forwarded(headers: &mut HeaderMap, client: &Peer, original_host: Option<&HeaderValue>) {
    let prior = headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()).filter(|p| !p.trim().is_empty());
    let value = match prior {
        None => Some(client.forwarded_for.clone()),
        Some(prior) => {
            let ip = client.forwarded_for.to_str().unwrap_or_default();
            HeaderValue::try_from(format!("{prior}, {ip}")).ok()
        }
    };
    if let Some(v) = value {
        headers.insert(&X_FORWARDED_FOR, v);
    }
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(client.proto()));
    }
    if let Some(host) = original_host {
        if !headers.contains_key(&X_FORWARDED_HOST) {
            headers.insert(&X_FORWARDED_HOST, host.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn hop_by_hop_fields_and_those_named_by_connection_are_removed() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("proxy-connection", "keep-alive"),
            ("content-type", "text/plain"),
            ("x-end-to-end", "kept"),
        ]);
        remove_hop_by_hop(&mut h, false);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["content-type", "x-end-to-end"]);
    }

    #[test]
    fn fields_named_by_connection_go_whatever_their_case_and_a_message_without_hop_fields_is_untouched() {
        let mut h = map(&[("connection", "Keep-Alive, X-Trace-Hop"), ("x-trace-hop", "1"), ("accept", "*/*")]);
        remove_hop_by_hop(&mut h, false);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["accept"]);

        let pairs = [("host", "shop.example"), ("accept", "*/*"), ("x-end-to-end", "kept")];
        let mut h = map(&pairs);
        remove_hop_by_hop(&mut h, false);
        assert_eq!(h, map(&pairs));
    }

    #[test]
    fn an_upgrade_keeps_its_upgrade_and_connection_fields() {
        let mut h = map(&[("connection", "Upgrade"), ("upgrade", "websocket"), ("sec-websocket-key", "abc")]);
        assert!(is_upgrade(&h));
        remove_hop_by_hop(&mut h, true);
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["sec-websocket-key"], "abc");
    }

    #[test]
    fn forwarded_for_appends_and_the_others_are_kept_when_present() {
        let client: SocketAddr = "10.1.2.3:5555".parse().unwrap();
        let mut h = map(&[("x-forwarded-for", "192.0.2.1"), ("x-forwarded-proto", "https")]);
        add_forwarded(&mut h, &Peer::new(client), Some(&HeaderValue::from_static("shop.example")));
        assert_eq!(h["x-forwarded-for"], "192.0.2.1, 10.1.2.3");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "shop.example");
    }

    #[test]
    fn ipv4_mapped_clients_are_written_as_ipv4() {
        let client: SocketAddr = "[::ffff:127.0.0.1]:80".parse().unwrap();
        let mut h = HeaderMap::new();
        add_forwarded(&mut h, &Peer::new(client), None);
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert!(!h.contains_key("x-forwarded-host"));
    }
}
