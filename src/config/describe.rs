//! What brownout understood of a config, one line per listener and fault:
//! printed by `brownout check` and when a proxy starts.

use super::{Config, Protocol};

impl Config {
    /// One line per listener, then each target's faults, the grace period and the seed.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!("admin     {}", self.admin.listen)];
        if let Some(o) = &self.observer {
            lines.push(format!("observer  {} -> {} (http)", o.listen, o.upstream.display()));
        }
        for t in &self.targets {
            let upstream = match &t.protocol {
                Protocol::Http(up) => up.display(),
                Protocol::Tcp(up) => up.address.clone(),
            };
            lines.push(format!("target    {} {} -> {} ({})", t.name, t.listen, upstream, t.protocol_name()));
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
