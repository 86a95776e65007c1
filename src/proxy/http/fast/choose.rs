//! Deciding a whole plain request's faults before anything is sent, from
//! its head as parsed in place: a request no fault acts on passes as bytes;
//! one that some fault acts on becomes an `http::Request` for the injector.
//! Both read the request as hyper would, so a request gets the decision it
//! would get on the hyper path.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Uri};
use http_body_util::Full;

use crate::fault::{Fields, RequestFacts};
use crate::proxy::http::decision::{Decision, Plain, Route};
use crate::proxy::http::forward::RequestBody;
use crate::proxy::http::headers::Peer;
use crate::proxy::http::Injector;

/// A request some fault acts on, read whole.
pub(in crate::proxy::http) struct Faulty {
    /// Its length in the read buffer, head and body.
    pub len: usize,
    pub request: http::Request<RequestBody>,
    pub decision: Decision,
    /// The client asked for the connection to close after this exchange.
    pub close: bool,
}

/// What the faults chose for a request.
pub(super) enum Chosen {
    /// None acts on it but latency (or the target has none): it passes
    /// plain, with what it carries of its faults.
    Plain(Plain),
    /// Some fault acts on it; its target, as hyper reads it.
    Faulty(Decision, Uri),
    /// hyper refuses its target (with a 400, before any decision): hyper is
    /// to answer it.
    NotPlain,
}

/// Decides the faults of a request when its target has any: the path and
/// query as hyper reads them (the `http` crate's URI, which drops a
/// fragment), the fields as parsed, the client's address. With no fault at
/// the target, nothing is decided and no seed is drawn, as on the hyper path.
pub(super) fn choose(
    injector: &Injector,
    peer: &Peer,
    method: &Method,
    path: &str,
    fields: &[httparse::Header<'_>],
) -> Chosen {
    let plan = injector.switch().load();
    if plan.faults.is_empty() {
        return Chosen::Plain(Plain::default());
    }
    // The URI is built only for a request that goes to the injector; one
    // whose target reads the same either way is decided from it as is.
    let parsed;
    let (path_only, query) = match split_plainly(path) {
        Some(split) => split,
        None => {
            let Ok(uri) = Uri::try_from(path) else { return Chosen::NotPlain };
            parsed = uri;
            (parsed.path(), parsed.query())
        }
    };
    let facts =
        RequestFacts { method, path: path_only, query, headers: Fields::Parsed(fields), client: peer.addr.ip() };
    let picks = Decision::picks(injector.switch(), &plan, &facts);
    if picks.is_empty() {
        return Chosen::Plain(Plain::default());
    }
    match Decision::new(arc_swap::Guard::into_inner(plan), picks).route() {
        Route::Plain(plain) => Chosen::Plain(plain),
        Route::Faulty(decision) => match Uri::try_from(path) {
            Ok(uri) => Chosen::Faulty(decision, uri),
            // Cannot happen: the same target was read above, or split
            // plainly, which only targets the `http` crate accepts are.
            Err(_) => Chosen::NotPlain,
        },
    }
}

/// The path and query of an origin-form target made only of unreserved
/// and sub-delimiter characters, `%`, `:`, `@`, `/` and `?` (no fragment),
/// split as the `http` crate's URI splits it: at the first `?`. `None` for
/// any other target, which is parsed as hyper parses it instead.
fn split_plainly(target: &str) -> Option<(&str, Option<&str>)> {
    if !target.starts_with('/') {
        return None;
    }
    // One pass: every byte checked, the first `?` noted.
    let mut query = None;
    for (at, &b) in target.as_bytes().iter().enumerate() {
        if !PLAIN[b as usize] {
            return None;
        }
        if b == b'?' && query.is_none() {
            query = Some(at);
        }
    }
    Some(match query {
        Some(at) => (&target[..at], Some(&target[at + 1..])),
        None => (target, None),
    })
}

/// The bytes `split_plainly` takes as they are.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0;
    while b < 256 {
        plain[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let others = b"-._~!$&'()*+,;=:@%/?";
    let mut i = 0;
    while i < others.len() {
        plain[others[i] as usize] = true;
        i += 1;
    }
    plain
};

/// The request as hyper's server would have made it: the method, the
/// target, HTTP/1.1, every field (names in lower case, as hyper keeps
/// them) and the body.
pub(super) fn hyper_request(
    method: Method,
    uri: Uri,
    fields: &[httparse::Header<'_>],
    body: &[u8],
) -> http::Request<RequestBody> {
    let mut request = http::Request::new(RequestBody::Right(Full::new(Bytes::copy_from_slice(body))));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.reserve(fields.len());
    for h in fields {
        // httparse admits only tokens as names and visible bytes, spaces,
        // tabs and obs-text in values, which is what these accept: none is
        // ever left out.
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(h.name.as_bytes()), HeaderValue::from_bytes(h.value)) {
            headers.append(name, value);
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wherever a target is split plainly, it is split as the `http`
    /// crate's URI reads it (the path and query a decision sees on
    /// hyper's path).
    #[test]
    fn a_plainly_split_target_reads_as_the_http_crate_reads_it() {
        let targets =
            ["/", "/a/b", "/a?", "/a?x=1&y=2", "/a??b", "/a?b?c", "/%41%zz", "/:@!$&'()*+,;=-._~", "//x", "/?"];
        for target in targets {
            let uri = Uri::try_from(target).expect("a valid target");
            assert_eq!(split_plainly(target), Some((uri.path(), uri.query())), "{target}");
        }
        for other in ["/a#f", "/a?b#f", "/a b", "/\\", "/{x}", "/a|b", "*", "http://h/", "/é"] {
            assert_eq!(split_plainly(other), None, "{other}");
        }
    }
}
