//! What every listener of the data path takes beside its address: its
//! client limits (idle and head timeouts, a connection cap) and, for the
//! observer, the graceful-degradation rules.

use toml::Spanned;

use super::super::{raw, ClientLimits, Timeout};
use super::Validator;

/// The most connections a listener may be told to allow: beyond it, the
/// open-files limit decides long before.
const MAX_CONNECTIONS: u64 = 1_000_000;

impl Validator<'_> {
    /// A listener's client limits: `defaults`, with what the file sets.
    pub(super) fn limits(
        &mut self,
        key: &str,
        defaults: ClientLimits,
        idle: Option<&Spanned<Timeout>>,
        header: Option<&Spanned<Timeout>>,
        max: Option<&Spanned<u64>>,
    ) -> ClientLimits {
        let mut limits = defaults;
        if let Some(i) = idle {
            limits.idle_timeout = i.get_ref().0;
        }
        if let Some(h) = header {
            limits.header_timeout = h.get_ref().0;
        }
        if let Some(m) = max {
            let n = *m.get_ref();
            if n == 0 || n > MAX_CONNECTIONS {
                self.problem(
                    m.span().start,
                    format!("{key}.max_connections"),
                    format!("must be from 1 to {MAX_CONNECTIONS}, got {n}"),
                )
                .hint = Some("leave it out for no limit".into());
            } else {
                limits.max_connections = Some(n as usize);
            }
        }
        limits
    }

    pub(super) fn graceful(&mut self, raw: raw::RawGraceful) -> crate::record::classify::GracefulRules {
        let mut rules = crate::record::classify::GracefulRules::default();
        if let Some(s) = &raw.status {
            rules.statuses.clear();
            for code in s.get_ref() {
                match u16::try_from(*code).ok().filter(|c| (400..=599).contains(c)) {
                    Some(c) => rules.statuses.push(c),
                    None => {
                        self.problem(
                            s.span().start,
                            "graceful.status".into(),
                            format!("must list failure statuses from 400 to 599, got {code}"),
                        );
                    }
                }
            }
        }
        if let Some(b) = raw.body_contains {
            rules.body_contains = b;
        }
        if let Some(h) = &raw.headers {
            for name in h.get_ref() {
                match http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) {
                    Ok(n) => rules.headers.push(n),
                    Err(_) => {
                        self.problem(
                            h.span().start,
                            "graceful.headers".into(),
                            format!("must list header names, got {name:?}"),
                        );
                    }
                }
            }
        }
        if let Some(w) = raw.within {
            rules.within = w.0;
        }
        if let Some(codes) = &raw.grpc_status {
            match super::fault::grpc_codes(codes.get_ref()) {
                Ok(c) => rules.grpc_codes = c,
                Err(message) => {
                    self.problem(codes.span().start, "graceful.grpc_status".into(), message);
                }
            }
        }
        if let Some(l) = &raw.leaks {
            for pattern in l.get_ref() {
                match regex_lite::Regex::new(pattern) {
                    Ok(re) => rules.leaks.push(re),
                    Err(e) => {
                        self.problem(
                            l.span().start,
                            "graceful.leaks".into(),
                            format!("must list regular expressions; {pattern:?} is invalid: {e}"),
                        );
                    }
                }
            }
        }
        rules
    }
}
