//! The `[admin]` table: where the admin API listens, its token, and whom
//! it trusts (allowed origins and hosts, the experiments directory).

use std::path::Path;

use http::Uri;

use super::super::raw;
use super::super::{Admin, Secret, DEFAULT_ADMIN};
use super::Validator;

impl Validator<'_> {
    pub(super) fn admin(&mut self, raw: Option<raw::RawAdmin>) -> Admin {
        let listen_span = raw.as_ref().and_then(|a| a.listen.as_ref().map(|l| l.span().start)).unwrap_or(0);
        let listen = raw
            .as_ref()
            .and_then(|a| a.listen.as_ref())
            .map_or_else(|| DEFAULT_ADMIN.parse().expect("the default admin address is valid"), |l| l.get_ref().0);
        let mut token = None;
        if let Some(f) = raw.as_ref().and_then(|a| a.token_file.as_ref()) {
            let path = match self.base_dir {
                Some(dir) if f.get_ref().is_relative() => dir.join(f.get_ref()),
                _ => f.get_ref().clone(),
            };
            match std::fs::read_to_string(&path) {
                Ok(t) if !t.trim().is_empty() => token = Some(Secret(t.trim().to_string())),
                Ok(_) => {
                    self.problem(
                        f.span().start,
                        "admin.token_file".into(),
                        format!("must hold a token, but {} is empty", path.display()),
                    );
                }
                Err(e) => {
                    self.problem(
                        f.span().start,
                        "admin.token_file".into(),
                        format!("must be a readable file, but {}: {e}", path.display()),
                    );
                }
            }
        }
        if let Some(v) = raw.as_ref().and_then(|a| a.token_env.as_ref()) {
            match std::env::var(v.get_ref()) {
                Ok(t) if !t.trim().is_empty() => token = Some(Secret(t.trim().to_string())),
                _ => {
                    self.problem(
                        v.span().start,
                        "admin.token_env".into(),
                        format!("names the variable {}, which is not set or empty", v.get_ref()),
                    );
                }
            }
        }
        let has_token_source = raw.as_ref().is_some_and(|a| a.token_file.is_some() || a.token_env.is_some());
        if !listen.ip().is_loopback() && !has_token_source {
            self.problem(
                listen_span,
                "admin.listen".into(),
                format!("{listen} is not a loopback address, so the admin API needs a token"),
            )
            .hint = Some("set admin.token_file or admin.token_env, or listen on 127.0.0.1".into());
        }
        let allowed_origins = raw.as_ref().and_then(|a| a.allowed_origins.as_ref()).map_or_else(Vec::new, |o| {
            o.get_ref()
                .iter()
                .filter_map(|origin| match normalize_origin(origin) {
                    Some(n) => Some(n),
                    None => {
                        self.problem(
                            o.span().start,
                            "admin.allowed_origins".into(),
                            format!("must list origins such as \"https://console.example:8443\", got {origin:?}"),
                        )
                        .hint = Some("an origin is a scheme, a host and an optional port, with no path".into());
                        None
                    }
                })
                .collect()
        });
        let allowed_hosts = raw.as_ref().and_then(|a| a.allowed_hosts.as_ref()).map_or_else(Vec::new, |h| {
            h.get_ref()
                .iter()
                .filter_map(|host| {
                    let lower = host.trim().to_ascii_lowercase();
                    let ok =
                        !lower.is_empty() && lower.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
                    if !ok {
                        self.problem(
                            h.span().start,
                            "admin.allowed_hosts".into(),
                            format!("must list host names such as \"brownout.staging.internal\", got {host:?}"),
                        );
                    }
                    ok.then_some(lower)
                })
                .collect()
        });
        // By default, the experiments folder beside the config file, or
        // beside its folder (as `config/` and `experiments/` sit in a project).
        let experiments_dir = match raw.as_ref().and_then(|a| a.experiments_dir.as_ref()) {
            Some(d) => self.resolve(d.get_ref()),
            None => {
                let beside = self.resolve(Path::new("experiments"));
                let above = self.resolve(Path::new("../experiments"));
                if !beside.is_dir() && above.is_dir() {
                    above
                } else {
                    beside
                }
            }
        };
        Admin {
            listen,
            token,
            allow_browsers: raw.and_then(|a| a.allow_browsers).unwrap_or(false),
            allowed_origins,
            allowed_hosts,
            experiments_dir,
        }
    }
}

/// `https://Console.Example:443/` as `https://console.example:443`: the
/// form a browser sends in `Origin`; `None` if it is not an origin.
fn normalize_origin(text: &str) -> Option<String> {
    let uri: Uri = text.trim().trim_end_matches('/').parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    let plain = uri.path().is_empty() || uri.path() == "/";
    (matches!(scheme.as_str(), "http" | "https") && plain && uri.query().is_none() && !authority.as_str().contains('@'))
        .then(|| format!("{scheme}://{}", authority.as_str().to_ascii_lowercase()))
}
