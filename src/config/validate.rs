//! Validation of a raw config into the model, collecting every problem with
//! its position, key path and expected form.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use http::uri::{Authority, Scheme};
use http::{HeaderValue, Uri};
use toml::Spanned;

use super::raw::{self, RawConfig, RawHttp, RawProtocol, RawTarget};
use super::{
    fault, Admin, ClientLimits, Config, FileError, HostHeader, HttpListener, HttpUpstream, Locator, NonZeroDur,
    Problem, Protocol, Secret, Target, TcpUpstream, Timeout, DEFAULT_ADMIN, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_SHUTDOWN_GRACE,
};

/// The most connections a listener may be told to allow: beyond it, the
/// open-files limit decides long before.
const MAX_CONNECTIONS: u64 = 1_000_000;

/// Collects every problem of a file instead of stopping at the first.
pub(super) struct Validator<'a> {
    loc: &'a Locator<'a>,
    base_dir: Option<&'a Path>,
    problems: Vec<Problem>,
}

impl<'a> Validator<'a> {
    /// `base_dir` anchors relative paths such as `ca_file`.
    pub(super) fn new(loc: &'a Locator<'a>, base_dir: Option<&'a Path>) -> Self {
        Validator { loc, base_dir, problems: Vec::new() }
    }

    pub(super) fn config(mut self, raw: RawConfig) -> Result<Config, FileError> {
        let admin = self.admin(raw.admin);
        let observer = raw.observer.and_then(|o| self.observer(o));
        let graceful = raw.graceful.map_or_else(Default::default, |g| self.graceful(g));
        let mut targets = Vec::with_capacity(raw.target.len());
        for (i, t) in raw.target.into_iter().enumerate() {
            if let Some(t) = self.target(i, t, &mut targets) {
                targets.push(t);
            }
        }
        self.check_listeners(&admin, &observer, &targets);
        if !self.problems.is_empty() {
            self.problems.sort_by_key(|p| (p.line, p.column));
            return Err(FileError::Invalid(self.problems));
        }
        Ok(Config {
            admin,
            observer,
            targets,
            shutdown_grace: raw.shutdown_grace.map_or(DEFAULT_SHUTDOWN_GRACE, |d| d.0),
            seed: raw.seed,
            graceful,
        })
    }

    fn admin(&mut self, raw: Option<raw::RawAdmin>) -> Admin {
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

    /// A path relative to the file's own directory.
    fn resolve(&self, path: &Path) -> PathBuf {
        match self.base_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// A listener's client limits: `defaults`, with what the file sets.
    fn limits(
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

    fn problem(&mut self, offset: usize, key: String, message: String) -> &mut Problem {
        self.problems.push(self.loc.problem(offset, key, message));
        self.problems.last_mut().expect("a problem was just pushed")
    }

    fn observer(&mut self, raw: RawHttp) -> Option<HttpListener> {
        let upstream = self.http_upstream(
            "observer",
            &raw.upstream,
            raw.host.as_ref(),
            raw.ca_file.as_ref(),
            raw.connect_timeout,
            raw.request_timeout,
        )?;
        let limits = self.limits(
            "observer",
            ClientLimits::HTTP,
            raw.idle_timeout.as_ref(),
            raw.header_timeout.as_ref(),
            raw.max_connections.as_ref(),
        );
        Some(HttpListener { name: "observer".into(), listen: raw.listen.get_ref().0, upstream, limits })
    }

    fn target(&mut self, i: usize, raw: RawTarget, seen: &mut [Target]) -> Option<Target> {
        let key = format!("target[{i}]");
        let name = raw.name.get_ref();
        let name_ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            self.problem(
                raw.name.span().start,
                format!("{key}.name"),
                format!("must be letters, digits, `-` or `_`, got {name:?}"),
            );
        } else if name == "observer" {
            self.problem(
                raw.name.span().start,
                format!("{key}.name"),
                "`observer` is reserved for the [observer] listener".into(),
            );
        } else if let Some(j) = seen.iter().position(|t| &t.name == name) {
            self.problem(
                raw.name.span().start,
                format!("{key}.name"),
                format!("{name:?} is already the name of an earlier target"),
            )
            .hint = Some(format!("target names must be unique; see target[{j}]"));
        }
        let protocol = match raw.protocol.get_ref() {
            RawProtocol::Http => Protocol::Http(self.http_upstream(
                &key,
                &raw.upstream,
                raw.host.as_ref(),
                raw.ca_file.as_ref(),
                raw.connect_timeout,
                raw.request_timeout.as_ref().map(|d| *d.get_ref()),
            )?),
            RawProtocol::Tcp => {
                let http_only = [
                    ("host", raw.host.as_ref().map(|s| s.span())),
                    ("ca_file", raw.ca_file.as_ref().map(|s| s.span())),
                    ("request_timeout", raw.request_timeout.as_ref().map(|s| s.span())),
                    ("header_timeout", raw.header_timeout.as_ref().map(|s| s.span())),
                ];
                for (field, span) in http_only {
                    if let Some(span) = span {
                        self.problem(span.start, format!("{key}.{field}"), "applies only to http targets".into())
                            .hint = Some("remove it, or set protocol = \"http\"".into());
                    }
                }
                match raw.tcp_upstream() {
                    Ok(hp) => Protocol::Tcp(TcpUpstream {
                        address: hp.0,
                        connect_timeout: raw.connect_timeout.map_or(DEFAULT_CONNECT_TIMEOUT, |d| d.0),
                    }),
                    Err(why) => {
                        self.problem(raw.upstream.span().start, format!("{key}.upstream"), why);
                        return None;
                    }
                }
            }
        };
        let http = matches!(protocol, Protocol::Http(_));
        let faults = self.faults(&key, &raw.fault, http);
        let limits = self.limits(
            &key,
            if http { ClientLimits::HTTP } else { ClientLimits::TCP },
            raw.idle_timeout.as_ref(),
            raw.header_timeout.as_ref(),
            raw.max_connections.as_ref(),
        );
        name_ok.then(|| Target { name: name.clone(), listen: raw.listen.get_ref().0, protocol, faults, limits })
    }

    fn graceful(&mut self, raw: raw::RawGraceful) -> crate::record::classify::GracefulRules {
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

    /// Validates the `[[target.fault]]` entries of one target.
    fn faults(&mut self, key: &str, raw: &[fault::RawFault], http: bool) -> Vec<crate::fault::Fault> {
        let mut faults: Vec<crate::fault::Fault> = Vec::new();
        for (j, f) in raw.iter().enumerate() {
            let fkey = format!("{key}.fault[{j}]");
            if let Some(t) = &f.target {
                self.problem(
                    t.span().start,
                    format!("{fkey}.target"),
                    "is for experiment files; here the fault belongs to the target it is written under".into(),
                );
                continue;
            }
            let kind = f.kind.get_ref();
            let same_kind = raw.iter().filter(|o| o.kind.get_ref() == kind).count();
            let default_name = if same_kind > 1 { format!("{kind}-{}", j + 1) } else { kind.clone() };
            match fault::validate(f, http, j as u64 + 1, &default_name) {
                Ok(fault) => {
                    if faults.iter().any(|o| o.name == fault.name) {
                        let at = f.name.as_ref().map_or(f.kind.span().start, |n| n.span().start);
                        self.problem(
                            at,
                            format!("{fkey}.name"),
                            format!("{:?} is already the name of another fault of this target", fault.name),
                        );
                        continue;
                    }
                    faults.push(fault);
                }
                Err(p) => {
                    let hint = p.hint.clone();
                    self.problem(p.offset, format!("{fkey}.{}", p.key), p.message).hint = hint;
                }
            }
        }
        faults
    }

    #[allow(clippy::too_many_arguments)]
    fn http_upstream(
        &mut self,
        key: &str,
        upstream: &Spanned<String>,
        host: Option<&Spanned<String>>,
        ca_file: Option<&Spanned<PathBuf>>,
        connect_timeout: Option<NonZeroDur>,
        request_timeout: Option<NonZeroDur>,
    ) -> Option<HttpUpstream> {
        let text = upstream.get_ref();
        let at = upstream.span().start;
        let form = "an http:// or https:// URL such as \"http://127.0.0.1:9101\"";
        let uri: Uri = match text.parse() {
            Ok(u) => u,
            Err(_) => {
                self.problem(at, format!("{key}.upstream"), format!("must be {form}, got {text:?}"));
                return None;
            }
        };
        let scheme = uri.scheme().cloned();
        let (Some(scheme), Some(authority)) = (scheme, uri.authority().cloned()) else {
            self.problem(at, format!("{key}.upstream"), format!("must be {form}, got {text:?}")).hint =
                (!text.contains("://")).then(|| format!("write \"http://{text}\""));
            return None;
        };
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            self.problem(
                at,
                format!("{key}.upstream"),
                format!("must use http or https, got {scheme:?} in {text:?}"),
            )
            .hint = Some("for other protocols use protocol = \"tcp\" with a host:port upstream".into());
            return None;
        }
        if uri.query().is_some() || authority.as_str().contains('@') {
            self.problem(at, format!("{key}.upstream"), format!("must not carry a query or credentials, got {text:?}"));
            return None;
        }
        let authority = with_default_port(&authority, &scheme);
        let base_path = uri.path().trim_end_matches('/').to_string();
        let host = match host {
            None => HostHeader::Upstream,
            Some(h) => match h.get_ref().as_str() {
                "upstream" => HostHeader::Upstream,
                "keep" => HostHeader::Keep,
                other => match HeaderValue::from_str(other) {
                    Ok(v) if !other.is_empty() => HostHeader::Fixed(v),
                    _ => {
                        self.problem(
                            h.span().start,
                            format!("{key}.host"),
                            format!("must be \"upstream\", \"keep\" or a host name, got {other:?}"),
                        );
                        return None;
                    }
                },
            },
        };
        let ca_file = match ca_file {
            None => None,
            Some(f) => {
                if scheme != Scheme::HTTPS {
                    self.problem(
                        f.span().start,
                        format!("{key}.ca_file"),
                        format!("applies only to an https:// upstream, got {text:?}"),
                    );
                    return None;
                }
                let path = match self.base_dir {
                    Some(dir) if f.get_ref().is_relative() => dir.join(f.get_ref()),
                    _ => f.get_ref().clone(),
                };
                if let Err(why) = crate::tls::read_ca_file(&path) {
                    self.problem(
                        f.span().start,
                        format!("{key}.ca_file"),
                        format!("must be a PEM file of CA certificates, but {why}"),
                    );
                    return None;
                }
                Some(path)
            }
        };
        Some(HttpUpstream {
            scheme,
            authority,
            base_path,
            host,
            ca_file,
            connect_timeout: connect_timeout.map_or(DEFAULT_CONNECT_TIMEOUT, |d| d.0),
            request_timeout: request_timeout.map_or(DEFAULT_REQUEST_TIMEOUT, |d| d.0),
        })
    }

    /// Every listener needs an address of its own; port 0 (any free port) is
    /// exempt because the system picks a different one each time.
    fn check_listeners(&mut self, admin: &Admin, observer: &Option<HttpListener>, targets: &[Target]) {
        let mut owners: HashMap<std::net::SocketAddr, String> = HashMap::new();
        let mut claim = |addr: std::net::SocketAddr, who: String| -> Option<String> {
            if addr.port() == 0 {
                return None;
            }
            match owners.get(&addr) {
                Some(first) => Some(first.clone()),
                None => {
                    owners.insert(addr, who);
                    None
                }
            }
        };
        claim(admin.listen, "admin.listen".into());
        let mut clashes = Vec::new();
        if let Some(o) = observer {
            if let Some(first) = claim(o.listen, "observer.listen".into()) {
                clashes.push(("observer.listen".to_string(), o.listen, first));
            }
        }
        for (i, t) in targets.iter().enumerate() {
            if let Some(first) = claim(t.listen, format!("target[{i}].listen")) {
                clashes.push((format!("target[{i}].listen"), t.listen, first));
            }
        }
        for (key, addr, first) in clashes {
            let offset = self.offset_of_value(&addr.to_string());
            self.problem(offset, key, format!("{addr} is already used by {first}")).hint =
                Some("every target, the observer and the admin API need listen addresses of their own".into());
        }
    }

    /// The position of the last `"value"` in the text: listen addresses are
    /// checked after their spans are gone, and a clash is reported at its
    /// later occurrence.
    fn offset_of_value(&self, value: &str) -> usize {
        self.loc.text.rfind(&format!("\"{value}\"")).unwrap_or(0)
    }
}

fn with_default_port(authority: &Authority, scheme: &Scheme) -> Authority {
    if authority.port().is_some() {
        return authority.clone();
    }
    let port = if *scheme == Scheme::HTTPS { 443 } else { 80 };
    format!("{}:{port}", authority.host()).parse().unwrap_or_else(|_| authority.clone())
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
