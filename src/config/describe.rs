//! What brownout understood of a config, every key of it: one line per
//! listener and fault, then the graceful rules, the grace period and the
//! seed. Printed by `brownout check` and when a proxy starts.

use super::model::{ClientLimits, HostHeader};
use super::{Config, HttpUpstream, ListenerTls, Protocol, UpstreamVersion};

impl Config {
    /// One line per listener (with its timeouts and upstream settings), then
    /// each target's faults, the observer's graceful rules, the grace period
    /// and the seed.
    pub fn describe(&self) -> Vec<String> {
        let mut admin = format!("admin     {}", self.admin.listen);
        if self.admin.token.is_some() {
            admin.push_str(", token required");
        }
        if self.admin.allow_browsers {
            admin.push_str(", browsers allowed");
        }
        for o in &self.admin.allowed_origins {
            admin.push_str(&format!(", origin {o} allowed"));
        }
        for h in &self.admin.allowed_hosts {
            admin.push_str(&format!(", host {h} allowed"));
        }
        admin.push_str(&format!(", experiments from {}", self.admin.experiments_dir.display()));
        let mut lines = vec![admin];
        if let Some(o) = &self.observer {
            lines.push(format!(
                "observer  {} -> {} ({}{}){}{}",
                o.listen,
                o.upstream.display(),
                scheme(o.tls.as_ref()),
                version(&o.upstream),
                http_keys(&o.upstream),
                limits(&o.limits)
            ));
        }
        for t in &self.targets {
            let (upstream, keys) = match &t.protocol {
                Protocol::Http(up) => (up.display(), http_keys(up)),
                Protocol::Tcp(up) => (up.address.clone(), format!(", connect within {:?}", up.connect_timeout)),
            };
            let protocol = match &t.protocol {
                Protocol::Http(up) => format!("{}{}", scheme(t.tls.as_ref()), version(up)),
                Protocol::Tcp(_) => t.protocol_name().to_string(),
            };
            lines.push(format!(
                "target    {} {} -> {} ({protocol}){keys}{}",
                t.name,
                t.listen,
                upstream,
                limits(&t.limits)
            ));
            for f in &t.faults {
                lines.push(format!("  fault   {}", f.describe()));
            }
        }
        if self.observer.is_some() {
            let g = &self.graceful;
            let statuses: Vec<String> = g.statuses.iter().map(u16::to_string).collect();
            let mut line = format!("graceful  status {}", statuses.join(" or "));
            for b in &g.body_contains {
                line.push_str(&format!(", body contains {b:?}"));
            }
            for h in &g.headers {
                line.push_str(&format!(", header {h}"));
            }
            line.push_str(&format!(", within {:?}", g.within));
            for l in &g.leaks {
                line.push_str(&format!(", leak {:?}", l.as_str()));
            }
            lines.push(line);
        }
        lines.push(format!("shutdown grace {:?}", self.shutdown_grace));
        if let Some(seed) = self.seed {
            lines.push(format!("seed {seed}"));
        }
        lines
    }
}

/// `, connect within 5s, answer within 30s, host sent: upstream's`.
fn http_keys(up: &HttpUpstream) -> String {
    let host = match &up.host {
        HostHeader::Upstream => "the upstream's".to_string(),
        HostHeader::Keep => "the client's".to_string(),
        HostHeader::Fixed(v) => format!("{:?}", v.to_str().unwrap_or("(not text)")),
    };
    let mut keys =
        format!(", connect within {:?}, answer within {:?}, host {host}", up.connect_timeout, up.request_timeout);
    if let Some(ca) = &up.ca_file {
        keys.push_str(&format!(", trusting {}", ca.display()));
    }
    keys
}

/// `, idle clients closed after 1m, heads within 10s, at most 100 connections`.
fn limits(l: &ClientLimits) -> String {
    let mut out = String::new();
    if let Some(d) = l.idle_timeout {
        out.push_str(&format!(", idle clients closed after {d:?}"));
    }
    if let Some(d) = l.header_timeout {
        out.push_str(&format!(", request heads within {d:?}"));
    }
    if let Some(n) = l.max_connections {
        out.push_str(&format!(", at most {n} connections"));
    }
    out
}

/// How an HTTP listener is reached: `http`, or `https` and where its
/// certificate comes from.
fn scheme(tls: Option<&ListenerTls>) -> String {
    match tls {
        None => "http".into(),
        Some(ListenerTls::Auto { names }) if names.is_empty() => "https, certificate from the local authority".into(),
        Some(ListenerTls::Auto { names }) => {
            format!("https, certificate from the local authority for {}", names.join(", "))
        }
        Some(ListenerTls::Files { cert_file, .. }) => format!("https, certificate {}", cert_file.display()),
    }
}

/// The upstream's HTTP version when it is not left to the default.
fn version(up: &HttpUpstream) -> &'static str {
    match up.version {
        UpstreamVersion::Auto => "",
        UpstreamVersion::Http1 => ", HTTP/1.1 upstream",
        UpstreamVersion::Http2 => ", HTTP/2 upstream",
    }
}
