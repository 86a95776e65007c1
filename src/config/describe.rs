//! What brownout understood of a config, one line per listener and fault:
//! printed by `brownout check` and when a proxy starts.

use super::{Config, HttpUpstream, ListenerTls, Protocol, UpstreamVersion};

impl Config {
    /// One line per listener, then each target's faults, the grace period and the seed.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!("admin     {}", self.admin.listen)];
        if let Some(o) = &self.observer {
            lines.push(format!(
                "observer  {} -> {} ({}{})",
                o.listen,
                o.upstream.display(),
                scheme(o.tls.as_ref()),
                version(&o.upstream)
            ));
        }
        for t in &self.targets {
            let upstream = match &t.protocol {
                Protocol::Http(up) => up.display(),
                Protocol::Tcp(up) => up.address.clone(),
            };
            let protocol = match &t.protocol {
                Protocol::Http(up) => format!("{}{}", scheme(t.tls.as_ref()), version(up)),
                Protocol::Tcp(_) => t.protocol_name().to_string(),
            };
            lines.push(format!("target    {} {} -> {} ({protocol})", t.name, t.listen, upstream));
            for f in &t.faults {
                lines.push(format!("  fault   {}", f.describe()));
            }
        }
        lines.push(format!("shutdown grace {:?}", self.shutdown_grace));
        if let Some(seed) = self.seed {
            lines.push(format!("seed {seed}"));
        }
        lines
    }
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
