//! Validation of a raw config into the model, collecting every problem with
//! its position, key path and expected form. This file holds the validator,
//! the targets and the checks across listeners; `admin.rs` the `[admin]`
//! table, `listener.rs` client limits and graceful rules, `upstream.rs` an
//! HTTP upstream, `header_faults.rs` a target's `header_faults`.

mod admin;
mod header_faults;
mod listener;
mod upstream;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{RawConfig, RawHttp, RawProtocol, RawTarget};
use super::{
    fault, Admin, ClientLimits, Config, FileError, HttpListener, ListenerTls, Locator, Problem, Protocol, Target,
    TcpUpstream, DEFAULT_CONNECT_TIMEOUT, DEFAULT_SHUTDOWN_GRACE,
};

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

    /// A path relative to the file's own directory.
    fn resolve(&self, path: &Path) -> PathBuf {
        match self.base_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    fn problem(&mut self, offset: usize, key: String, message: String) -> &mut Problem {
        self.problems.push(self.loc.problem(offset, key, message));
        self.problems.last_mut().expect("a problem was just pushed")
    }

    fn observer(&mut self, raw: RawHttp) -> Option<HttpListener> {
        let tls = self.listener_tls("observer", raw.tls.as_ref());
        let mut upstream = self.http_upstream(
            "observer",
            &raw.upstream,
            raw.host.as_ref(),
            raw.ca_file.as_ref(),
            raw.connect_timeout,
            raw.request_timeout,
        )?;
        upstream.version = raw.upstream_version.map(|v| *v.get_ref()).unwrap_or_default();
        let limits = self.limits(
            "observer",
            ClientLimits::HTTP,
            raw.idle_timeout.as_ref(),
            raw.header_timeout.as_ref(),
            raw.max_connections.as_ref(),
        );
        Some(HttpListener { name: "observer".into(), listen: raw.listen.get_ref().0, upstream, limits, tls })
    }

    /// A listener's `tls`, validated (its files read); `None` without one or
    /// when it is wrong, which is then a problem.
    fn listener_tls(&mut self, key: &str, raw: Option<&Spanned<super::tls::RawTls>>) -> Option<ListenerTls> {
        let raw = raw?;
        match super::tls::validate(raw.get_ref(), self.base_dir) {
            Ok(tls) => Some(tls),
            Err(p) => {
                self.problem(raw.span().start, format!("{key}.tls"), p.message).hint = p.hint;
                None
            }
        }
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
        let tls = match raw.protocol.get_ref() {
            RawProtocol::Http => self.listener_tls(&key, raw.tls.as_ref()),
            RawProtocol::Tcp => None,
        };
        let protocol = match raw.protocol.get_ref() {
            RawProtocol::Http => {
                let mut up = self.http_upstream(
                    &key,
                    &raw.upstream,
                    raw.host.as_ref(),
                    raw.ca_file.as_ref(),
                    raw.connect_timeout,
                    raw.request_timeout.as_ref().map(|d| *d.get_ref()),
                )?;
                up.version = raw.upstream_version.as_ref().map(|v| *v.get_ref()).unwrap_or_default();
                Protocol::Http(up)
            }
            RawProtocol::Tcp => {
                let http_only = [
                    ("host", raw.host.as_ref().map(|s| s.span())),
                    ("ca_file", raw.ca_file.as_ref().map(|s| s.span())),
                    ("request_timeout", raw.request_timeout.as_ref().map(|s| s.span())),
                    ("header_timeout", raw.header_timeout.as_ref().map(|s| s.span())),
                    ("upstream_version", raw.upstream_version.as_ref().map(|s| s.span())),
                    ("tls", raw.tls.as_ref().map(|s| s.span())),
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
        let header_faults = self.header_faults(&key, raw.header_faults.as_ref(), http);
        name_ok.then(|| Target {
            name: name.clone(),
            listen: raw.listen.get_ref().0,
            protocol,
            tls,
            faults,
            limits,
            header_faults,
        })
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
