//! Which traffic a fault touches: probability, first, after and lasting,
//! the match (method, path, headers, query, client) and the opt-in header.

use std::time::Duration;

use super::params::positive;
use super::raw::{Located, RawHeaderRule, RawHeaderTest, Source};
use super::{problem, FaultResult, RawFault};
use crate::fault::matcher::{Cidr, Glob, HeaderTest, OptIn};
use crate::fault::Scope;
use http::{HeaderName, HeaderValue, Method};

pub(super) fn read<S: Source>(raw: &RawFault<S>, http: bool) -> FaultResult<Scope> {
    let mut s = Scope::default();
    if let Some(p) = &raw.probability {
        let v = p.get_ref().0;
        if !(0.0..=1.0).contains(&v) {
            return Err(problem(p.span().start, "probability", format!("must be between 0 and 1, got {v}")));
        }
        s.probability = v;
    }
    s.first = raw.first.as_ref().map(|f| *f.get_ref());
    s.after = raw.after.as_ref().map_or(Duration::ZERO, |a| a.get_ref().0);
    s.lasting = raw.lasting.as_ref().map(|l| positive(l, "lasting")).transpose()?;
    if let Some(opt_in) = &raw.opt_in {
        if !http {
            return Err(problem(opt_in.span().start, "opt_in", "applies only to http faults"));
        }
        s.matcher.opt_in = Some(parse_opt_in(opt_in)?);
    }
    if let Some(m) = &raw.matcher {
        let m_ref = m.get_ref();
        if !http {
            for (present, key) in [
                (m_ref.method.as_ref().map(|x| x.span().start), "match.method"),
                (m_ref.path.as_ref().map(|x| x.span().start), "match.path"),
                (m_ref.headers.as_ref().map(|x| x.span().start), "match.headers"),
                (m_ref.query.as_ref().map(|x| x.span().start), "match.query"),
            ] {
                if let Some(offset) = present {
                    let mut p = problem(offset, key, "applies only to http faults");
                    p.hint = Some("a tcp fault can match only on client".into());
                    return Err(p);
                }
            }
        }
        if let Some(methods) = &m_ref.method {
            for name in methods.get_ref().items() {
                let method = Method::from_bytes(name.to_ascii_uppercase().as_bytes()).map_err(|_| {
                    problem(methods.span().start, "match.method", format!("is not an HTTP method: {name:?}"))
                })?;
                s.matcher.methods.push(method);
            }
        }
        if let Some(path) = &m_ref.path {
            if !path.get_ref().starts_with('/') && path.get_ref() != "*" {
                return Err(problem(
                    path.span().start,
                    "match.path",
                    format!("must start with / (a glob such as \"/v1/charges*\"), got {:?}", path.get_ref()),
                ));
            }
            s.matcher.path = Some(Glob(path.get_ref().clone()));
        }
        if let Some(headers) = &m_ref.headers {
            for (name, test) in headers.get_ref() {
                let key = format!("match.headers.{name}");
                let at = headers.span().start;
                let n = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| problem(at, &key, "is not a valid header name"))?;
                let t = match test {
                    RawHeaderTest::Exact(v) => HeaderTest::Exact(
                        HeaderValue::from_str(v)
                            .map_err(|_| problem(at, &key, format!("is not a valid header value: {v:?}")))?,
                    ),
                    RawHeaderTest::Rule(RawHeaderRule { equals: Some(v), regex: None, present: None }) => {
                        HeaderTest::Exact(
                            HeaderValue::from_str(v)
                                .map_err(|_| problem(at, &key, format!("is not a valid header value: {v:?}")))?,
                        )
                    }
                    RawHeaderTest::Rule(RawHeaderRule { equals: None, regex: Some(r), present: None }) => {
                        HeaderTest::Regex(
                            regex_lite::Regex::new(r)
                                .map_err(|e| problem(at, &key, format!("has an invalid regex {r:?}: {e}")))?,
                        )
                    }
                    RawHeaderTest::Rule(RawHeaderRule { equals: None, regex: None, present: Some(true) }) => {
                        HeaderTest::Present
                    }
                    RawHeaderTest::Rule(_) => {
                        let mut p = problem(
                            at,
                            &key,
                            "must be a string or a table with exactly one of equals, regex, present = true",
                        );
                        p.hint = Some(format!("{name} = {{ regex = \"^curl/\" }}"));
                        return Err(p);
                    }
                };
                s.matcher.headers.push((n, t));
            }
        }
        if let Some(query) = &m_ref.query {
            for (k, v) in query.get_ref() {
                s.matcher.query.push((k.clone(), Glob(v.clone())));
            }
        }
        if let Some(clients) = &m_ref.client {
            for c in clients.get_ref().items() {
                s.matcher.clients.push(Cidr::parse(c).map_err(|why| {
                    problem(
                        clients.span().start,
                        "match.client",
                        format!("must be an address or range such as \"10.0.0.0/8\": {why}"),
                    )
                })?);
            }
        }
    }
    Ok(s)
}

fn parse_opt_in(s: &impl Located<Inner = String>) -> FaultResult<OptIn> {
    let text = s.get_ref();
    let (name, value) = match text.split_once(':') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (text.trim(), None),
    };
    let bad = || {
        problem(
            s.span().start,
            "opt_in",
            format!("must be a header such as \"x-brownout: on\" or \"x-brownout\", got {text:?}"),
        )
    };
    let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| bad())?;
    let value = value.filter(|v| !v.is_empty()).map(HeaderValue::from_str).transpose().map_err(|_| bad())?;
    Ok(OptIn { name, value })
}
