//! Which traffic a fault touches: method, path glob, headers, query, client
//! address, and an opt-in header that marks test traffic.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// What a request looks like to a matcher.
pub struct RequestFacts<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: Fields<'a>,
    pub client: IpAddr,
}

/// A request's header fields as a matcher reads them: hyper's map, or the
/// fields of a head parsed in place (the plain pass-through's, which builds
/// no map). Both read alike: names regardless of case, values as the bytes
/// sent, in the order they came.
#[derive(Clone, Copy)]
pub enum Fields<'a> {
    Map(&'a HeaderMap),
    Parsed(&'a [httparse::Header<'a>]),
}

impl<'a> Fields<'a> {
    /// The values of the fields named `name`, in order.
    fn values(self, name: &'a HeaderName) -> Values<'a> {
        match self {
            Fields::Map(map) => Values::Map(map.get_all(name).iter()),
            Fields::Parsed(fields) => Values::Parsed(fields.iter(), name.as_str()),
        }
    }
}

/// The values of one field name, from either kind of fields (one plain
/// enum: deciding a request that no fault selects reads them on every
/// request).
enum Values<'a> {
    Map(http::header::ValueIter<'a, HeaderValue>),
    Parsed(std::slice::Iter<'a, httparse::Header<'a>>, &'a str),
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Values::Map(values) => values.next().map(HeaderValue::as_bytes),
            Values::Parsed(fields, name) => fields.find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value),
        }
    }
}

/// A value as text when it is all visible ASCII (tabs too), exactly as
/// `HeaderValue::to_str` reads it, so that a regex sees the same values on
/// either path.
fn as_text(value: &[u8]) -> Option<&str> {
    let visible = value.iter().all(|&b| b == b'\t' || (32..127).contains(&b));
    visible.then(|| std::str::from_utf8(value).ok()).flatten()
}

/// A fault's match; every part that is set must hold. Empty means everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Match {
    pub methods: Vec<Method>,
    pub path: Option<Glob>,
    pub headers: Vec<(HeaderName, HeaderTest)>,
    pub query: Vec<(String, Glob)>,
    pub clients: Vec<Cidr>,
    pub opt_in: Option<OptIn>,
}

/// A header a request must carry to be touched at all (`x-brownout: on`).
#[derive(Debug, Clone, PartialEq)]
pub struct OptIn {
    pub name: HeaderName,
    pub value: Option<HeaderValue>,
}

#[derive(Debug, Clone)]
pub enum HeaderTest {
    Present,
    Exact(HeaderValue),
    Regex(regex_lite::Regex),
}

impl PartialEq for HeaderTest {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HeaderTest::Present, HeaderTest::Present) => true,
            (HeaderTest::Exact(a), HeaderTest::Exact(b)) => a == b,
            (HeaderTest::Regex(a), HeaderTest::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Match {
    /// True when the request is one this fault may touch.
    pub fn matches(&self, req: &RequestFacts<'_>) -> bool {
        if let Some(opt_in) = &self.opt_in {
            let ok = match (req.headers.values(&opt_in.name).next(), &opt_in.value) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(got), Some(want)) => got.eq_ignore_ascii_case(want.as_bytes()),
            };
            if !ok {
                return false;
            }
        }
        if !self.methods.is_empty() && !self.methods.contains(req.method) {
            return false;
        }
        if let Some(glob) = &self.path {
            if !glob.matches(req.path) {
                return false;
            }
        }
        for (name, test) in &self.headers {
            let mut values = req.headers.values(name);
            let ok = match test {
                HeaderTest::Present => values.next().is_some(),
                HeaderTest::Exact(want) => values.any(|v| v == want.as_bytes()),
                HeaderTest::Regex(re) => values.any(|v| as_text(v).is_some_and(|s| re.is_match(s))),
            };
            if !ok {
                return false;
            }
        }
        if !self.query.is_empty() {
            let query = req.query.unwrap_or("");
            for (key, glob) in &self.query {
                let found = query.split('&').any(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    k == key && glob.matches(v)
                });
                if !found {
                    return false;
                }
            }
        }
        self.matches_client(req.client)
    }

    /// The part of a match that applies to a TCP connection.
    pub fn matches_client(&self, ip: IpAddr) -> bool {
        self.clients.is_empty() || self.clients.iter().any(|c| c.contains(ip))
    }

    /// A few words: `POST /v1/charges*, header x-tenant, opt-in x-brownout`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let methods: Vec<&str> = self.methods.iter().map(Method::as_str).collect();
        let path = self.path.as_ref().map(|g| g.0.as_str());
        match (methods.is_empty(), path) {
            (false, Some(p)) => parts.push(format!("{} {p}", methods.join("|"))),
            (false, None) => parts.push(methods.join("|")),
            (true, Some(p)) => parts.push(p.to_string()),
            (true, None) => {}
        }
        for (name, _) in &self.headers {
            parts.push(format!("header {name}"));
        }
        for (key, glob) in &self.query {
            parts.push(format!("query {key}={}", glob.0));
        }
        if !self.clients.is_empty() {
            let c: Vec<String> = self.clients.iter().map(|c| format!("{}/{}", c.addr, c.prefix)).collect();
            parts.push(format!("clients {}", c.join(" ")));
        }
        if let Some(o) = &self.opt_in {
            parts.push(format!("opt-in {}", o.name));
        }
        parts.join(", ")
    }

    pub fn is_empty(&self) -> bool {
        *self == Match::default()
    }
}

/// A glob over text: `*` is any run of characters (slashes included), `?` is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(pub String);

impl Glob {
    pub fn matches(&self, text: &str) -> bool {
        crate::record::route::glob_matches(&self.0, text)
    }
}

/// An address range: `10.0.0.0/8`, `127.0.0.1` (a single address), `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| format!("{addr:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("prefix {p:?} must be 0 to {max}"))?
            }
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_stars_and_question_marks() {
        let g = |p: &str| Glob(p.into());
        assert!(g("/v1/charges*").matches("/v1/charges"));
        assert!(g("/v1/charges*").matches("/v1/charges/ch_1/refund"));
        assert!(!g("/v1/charges*").matches("/v1/charge"));
        assert!(g("/users/*/orders").matches("/users/42/orders"));
        assert!(!g("/users/*/orders").matches("/users/42/orders/1"));
        assert!(g("/a?c").matches("/abc"));
        assert!(g("*").matches(""));
        assert!(!g("").matches("/"));
    }

    #[test]
    fn cidrs_contain_their_addresses() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("127.0.0.1").unwrap().contains("127.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
    }

    fn facts<'a>(
        method: &'a Method,
        path: &'a str,
        query: Option<&'a str>,
        headers: &'a HeaderMap,
    ) -> RequestFacts<'a> {
        RequestFacts { method, path, query, headers: Fields::Map(headers), client: "127.0.0.1".parse().unwrap() }
    }

    /// The fields of one head, parsed in place and put in hyper's map, give
    /// every test the same verdict: names in any case, repeated fields,
    /// values that are not text.
    #[test]
    fn a_head_parsed_in_place_matches_as_hypers_map_does() {
        let head = b"GET / HTTP/1.1\r\nX-Tenant: beta\r\nx-tenant: acme\r\nX-Brownout: On\r\nx-bin: caf\xc3\xa9\r\nx-tab: a\tb\r\n\r\n";
        let mut parsed = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut parsed);
        assert!(req.parse(head).unwrap().is_complete());
        let mut map = HeaderMap::new();
        for h in req.headers.iter() {
            map.append(HeaderName::from_bytes(h.name.as_bytes()).unwrap(), HeaderValue::from_bytes(h.value).unwrap());
        }
        let name = |n: &'static str| HeaderName::from_static(n);
        let exact = |v: &'static str| HeaderTest::Exact(HeaderValue::from_static(v));
        let regex = |r: &str| HeaderTest::Regex(regex_lite::Regex::new(r).unwrap());
        let tests = [
            (name("x-tenant"), exact("acme")),
            (name("x-tenant"), exact("ACME")),
            (name("x-tenant"), regex("^be")),
            (name("x-bin"), regex("caf")),
            (name("x-bin"), HeaderTest::Present),
            (name("x-tab"), regex("a\tb")),
            (name("x-none"), HeaderTest::Present),
        ];
        let opt_ins = [
            ("x-brownout", Some("on")),
            ("x-brownout", Some("off")),
            ("x-tenant", Some("beta")),
            ("x-tenant", Some("acme")),
            ("x-none", None),
        ];
        let mut matches = Vec::new();
        for (header, test) in tests {
            matches.push(Match { headers: vec![(header, test)], ..Match::default() });
        }
        for (header, value) in opt_ins {
            let opt_in = OptIn { name: name(header), value: value.map(HeaderValue::from_static) };
            matches.push(Match { opt_in: Some(opt_in), ..Match::default() });
        }
        let verdicts = |headers| {
            let facts = RequestFacts {
                method: &Method::GET,
                path: "/",
                query: None,
                headers,
                client: "127.0.0.1".parse().unwrap(),
            };
            matches.iter().map(|m| m.matches(&facts)).collect::<Vec<bool>>()
        };
        let from_map = verdicts(Fields::Map(&map));
        assert_eq!(from_map, [true, false, true, false, true, true, false, true, false, true, false, false]);
        assert_eq!(verdicts(Fields::Parsed(req.headers)), from_map);
    }

    #[test]
    fn every_set_part_of_a_match_must_hold() {
        let mut headers = HeaderMap::new();
        headers.insert("x-tenant", HeaderValue::from_static("acme"));
        headers.insert("user-agent", HeaderValue::from_static("curl/8.0"));
        let m = Match {
            methods: vec![Method::POST],
            path: Some(Glob("/v1/*".into())),
            headers: vec![
                (HeaderName::from_static("x-tenant"), HeaderTest::Exact(HeaderValue::from_static("acme"))),
                (HeaderName::from_static("user-agent"), HeaderTest::Regex(regex_lite::Regex::new("^curl/").unwrap())),
            ],
            query: vec![("mode".into(), Glob("fa*".into()))],
            clients: vec![Cidr::parse("127.0.0.0/8").unwrap()],
            opt_in: None,
        };
        assert!(m.matches(&facts(&Method::POST, "/v1/charges", Some("a=1&mode=fast"), &headers)));
        assert!(!m.matches(&facts(&Method::GET, "/v1/charges", Some("mode=fast"), &headers)));
        assert!(!m.matches(&facts(&Method::POST, "/v2/charges", Some("mode=fast"), &headers)));
        assert!(!m.matches(&facts(&Method::POST, "/v1/charges", Some("mode=slow"), &headers)));
        assert!(!m.matches(&facts(&Method::POST, "/v1/charges", None, &headers)));
        assert!(!m.matches(&facts(&Method::POST, "/v1/charges", Some("mode=fast"), &HeaderMap::new())));
    }

    #[test]
    fn an_opt_in_header_limits_a_fault_to_test_traffic() {
        let m = Match {
            opt_in: Some(OptIn {
                name: HeaderName::from_static("x-brownout"),
                value: Some(HeaderValue::from_static("on")),
            }),
            ..Match::default()
        };
        let mut on = HeaderMap::new();
        on.insert("x-brownout", HeaderValue::from_static("ON"));
        let mut off = HeaderMap::new();
        off.insert("x-brownout", HeaderValue::from_static("off"));
        assert!(m.matches(&facts(&Method::GET, "/", None, &on)));
        assert!(!m.matches(&facts(&Method::GET, "/", None, &off)));
        assert!(!m.matches(&facts(&Method::GET, "/", None, &HeaderMap::new())));
    }
}
