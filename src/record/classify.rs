//! Graceful classification of what a user got: `ok`, `graceful` or
//! `ungraceful`, from the status, the time, the headers and the body.

use std::time::Duration;

use http::HeaderName;

pub use super::journal::Class;

/// The graceful-degradation rules a failure must meet to count as graceful.
#[derive(Debug, Clone)]
pub struct GracefulRules {
    /// Failure statuses a degraded application may answer with.
    pub statuses: Vec<u16>,
    /// gRPC statuses a degraded application may answer with.
    pub grpc_codes: Vec<u16>,
    /// The body must contain one of these (case-insensitive) or match one of
    /// `body_matches`, if any of either are given.
    pub body_contains: Vec<String>,
    pub body_matches: Vec<regex_lite::Regex>,
    /// One of these headers must be present (a fallback marker,
    /// `Retry-After`), if any are given.
    pub headers: Vec<HeaderName>,
    /// A failure slower than this is ungraceful.
    pub within: Duration,
    /// Extra patterns of leaked internals, beside the built-in ones.
    pub leaks: Vec<regex_lite::Regex>,
    /// What the standards add, on top of the rest: the body must also
    /// contain one of these words (case-insensitive), if any are given ...
    pub required_words: Vec<String>,
    /// ... every one of these headers must be present ...
    pub required_headers: Vec<HeaderName>,
    /// ... and a failure whose body contains one of these words
    /// (case-insensitive) is ungraceful, as one that leaks internals is.
    pub excluded_words: Vec<String>,
    /// Rules of their own for routes (`POST /checkout`, globs), first match wins.
    pub by_route: Vec<(String, std::sync::Arc<GracefulRules>)>,
}

impl GracefulRules {
    /// Every header classification looks at: the rule's own (one of them)
    /// and the standards' (all of them), in that order.
    pub fn watched_headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.headers.iter().chain(&self.required_headers)
    }

    /// The rules for a request: the first route rule that matches its method
    /// and path (raw or templated), else these.
    pub fn for_route<'a>(&'a self, method: &str, path: &str) -> &'a GracefulRules {
        if self.by_route.is_empty() {
            return self;
        }
        let raw = format!("{method} {path}");
        let templated = format!("{method} {}", super::route::template(path));
        self.by_route
            .iter()
            .find(|(pattern, _)| super::route::matches(pattern, &raw) || super::route::matches(pattern, &templated))
            .map_or(self, |(_, rules)| rules)
    }
}

impl Default for GracefulRules {
    fn default() -> Self {
        GracefulRules {
            statuses: vec![429, 503],
            // gRPC's words for the same: RESOURCE_EXHAUSTED and UNAVAILABLE.
            grpc_codes: vec![8, 14],
            body_contains: Vec::new(),
            headers: Vec::new(),
            within: Duration::from_secs(2),
            leaks: Vec::new(),
            body_matches: Vec::new(),
            by_route: Vec::new(),
            required_words: Vec::new(),
            required_headers: Vec::new(),
            excluded_words: Vec::new(),
        }
    }
}

/// Text that gives away internals: stack traces, exception names, SQL errors.
const LEAKS: [&str; 22] = [
    "traceback (most recent call last)",
    "stack trace",
    "stacktrace",
    "panicked at",
    "goroutine ",
    "at java.",
    "at org.",
    "at com.",
    "nullpointerexception",
    "exception in thread",
    "system.nullreferenceexception",
    "unhandled exception",
    "fatal error:",
    "undefined method",
    "sqlstate",
    "syntax error at or near",
    "ora-0",
    "pg::",
    "psycopg2",
    "activerecord::",
    "you have an error in your sql syntax",
    "internal server error: ",
];

/// True when `body` shows internals a user should never see.
pub fn leaks_internals(body: &str, extra: &[regex_lite::Regex]) -> bool {
    let lower = body.to_ascii_lowercase();
    LEAKS.iter().any(|p| lower.contains(p)) || extra.iter().any(|re| re.is_match(body)) || exception_name(body)
}

/// `SomethingError:` or `SomethingException` as a word, as frameworks print them.
fn exception_name(body: &str) -> bool {
    body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).any(|word| {
        let last = word.rsplit('.').next().unwrap_or(word);
        last.len() > 9
            && last.starts_with(|c: char| c.is_ascii_uppercase())
            && (last.ends_with("Exception") || (last.ends_with("Error") && last.contains(char::is_lowercase)))
            && last != "InternalServerError"
    })
}

/// True when `body` contains one of `words`, ignoring case.
fn contains_any(body: &str, words: &[String]) -> bool {
    let lower = body.to_lowercase();
    words.iter().any(|w| lower.contains(&w.to_lowercase()))
}

/// True for statuses a user experiences as a failure.
pub fn is_failure(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// Classifies one response (`status` is `None` when there was none: a
/// reset, a timeout). A gRPC answer (`grpc` is its `grpc-status`, `body`
/// its `grpc-message`) fails on any code but OK, and is graceful with a
/// code of the rules' `grpc_codes`.
pub fn classify(
    rules: &GracefulRules,
    status: Option<u16>,
    grpc: Option<u16>,
    latency: Duration,
    has_header: impl Fn(&HeaderName) -> bool,
    body: &str,
) -> Class {
    let Some(status) = status else { return Class::Ungraceful };
    let failed = grpc.map_or(status >= 400, |code| code != 0 || status >= 400);
    if failed && (leaks_internals(body, &rules.leaks) || contains_any(body, &rules.excluded_words)) {
        return Class::Ungraceful;
    }
    let status_ok = match grpc {
        Some(0) | None if !is_failure(status) => return Class::Ok,
        Some(code) if code != 0 => rules.grpc_codes.contains(&code),
        _ => rules.statuses.contains(&status),
    };
    let body_ok = (rules.body_contains.is_empty() && rules.body_matches.is_empty()) || {
        let lower = body.to_lowercase();
        rules.body_contains.iter().any(|m| lower.contains(&m.to_lowercase()))
            || rules.body_matches.iter().any(|re| re.is_match(body))
    };
    let header_ok = rules.headers.is_empty() || rules.headers.iter().any(&has_header);
    let standard_ok = (rules.required_words.is_empty() || contains_any(body, &rules.required_words))
        && rules.required_headers.iter().all(&has_header);
    if status_ok && body_ok && header_ok && standard_ok && latency <= rules.within {
        Class::Graceful
    } else {
        Class::Ungraceful
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> GracefulRules {
        GracefulRules {
            statuses: vec![503],
            grpc_codes: vec![14],
            body_contains: vec!["try again".into()],
            headers: vec![HeaderName::from_static("retry-after")],
            within: Duration::from_secs(1),
            leaks: vec![],
            body_matches: vec![],
            by_route: vec![],
            required_words: vec![],
            required_headers: vec![],
            excluded_words: vec![],
        }
    }

    fn class(status: Option<u16>, ms: u64, retry_after: bool, body: &str) -> Class {
        let has = move |h: &HeaderName| retry_after && h == "retry-after";
        classify(&rules(), status, None, Duration::from_millis(ms), has, body)
    }

    fn grpc_class(code: u16, ms: u64, message: &str) -> Class {
        let has = |h: &HeaderName| h == "retry-after";
        classify(&rules(), Some(200), Some(code), Duration::from_millis(ms), has, message)
    }

    #[test]
    fn grpc_answers_are_classed_by_their_code() {
        assert_eq!(grpc_class(0, 5, ""), Class::Ok);
        assert_eq!(grpc_class(14, 50, "payments down, try again later"), Class::Graceful);
        assert_eq!(grpc_class(13, 50, "try again"), Class::Ungraceful, "INTERNAL is not listed");
        assert_eq!(grpc_class(14, 50, "unavailable"), Class::Ungraceful, "no human message");
        assert_eq!(grpc_class(14, 1500, "try again"), Class::Ungraceful, "too slow");
        assert_eq!(
            grpc_class(14, 50, "try again: Traceback (most recent call last):"),
            Class::Ungraceful,
            "a stack trace in grpc-message"
        );
    }

    #[test]
    fn successes_are_ok_and_matching_failures_graceful() {
        assert_eq!(class(Some(200), 5, false, ""), Class::Ok);
        assert_eq!(class(Some(404), 5, false, "not found"), Class::Ok);
        assert_eq!(class(Some(503), 50, true, "Payments are busy, please try again"), Class::Graceful);
    }

    #[test]
    fn failures_missing_a_rule_are_ungraceful() {
        assert_eq!(class(Some(503), 50, false, "please try again"), Class::Ungraceful, "no retry-after");
        assert_eq!(class(Some(503), 50, true, "error"), Class::Ungraceful, "no human message");
        assert_eq!(class(Some(500), 50, true, "please try again"), Class::Ungraceful, "status not allowed");
        assert_eq!(class(Some(503), 1500, true, "please try again"), Class::Ungraceful, "too slow");
        assert_eq!(class(None, 10, false, ""), Class::Ungraceful, "a reset");
    }

    /// The standards' parts come on top of a rule's own: one of their words,
    /// every one of their headers, and none of their excluded words.
    #[test]
    fn the_standards_words_and_headers_are_required_on_top_of_the_rule() {
        let mut strict = rules();
        strict.required_words = vec!["cart is saved".into(), "order is saved".into()];
        strict.required_headers = vec![HeaderName::from_static("retry-after"), HeaderName::from_static("x-request-id")];
        strict.excluded_words = vec!["error code".into()];
        let headers = |names: &'static [&'static str]| move |h: &HeaderName| names.contains(&h.as_str());
        let class =
            |names, body: &str| classify(&strict, Some(503), None, Duration::from_millis(5), headers(names), body);
        let both = &["retry-after", "x-request-id"];
        assert_eq!(class(both, "Your cart is saved; please try again"), Class::Graceful);
        assert_eq!(class(both, "Please try again"), Class::Ungraceful, "none of the standard's words");
        assert_eq!(class(&["retry-after"], "Your cart is saved; try again"), Class::Ungraceful, "a header missing");
        assert_eq!(class(both, "Cart is saved, try again (Error code 7)"), Class::Ungraceful, "an excluded word");
    }

    #[test]
    fn leaked_internals_are_ungraceful_whatever_the_status() {
        let traces = [
            "Traceback (most recent call last):\n  File \"app.py\"",
            "java.lang.NullPointerException\n\tat com.shop.Checkout.pay(Checkout.java:42)",
            "ERROR: syntax error at or near \"FROM\"",
            "psycopg2.OperationalError: could not connect",
            "thread 'main' panicked at src/main.rs:3:5",
            "ConnectionRefusedError: [Errno 111]",
        ];
        for body in traces {
            assert!(leaks_internals(body, &[]), "{body}");
            assert_eq!(class(Some(503), 5, true, &format!("try again {body}")), Class::Ungraceful, "{body}");
        }
        assert!(!leaks_internals("Something went wrong. Please try again in a minute.", &[]));
        assert!(!leaks_internals("{\"error\": \"payments unavailable\"}", &[]));
    }
}
