//! The `tls` key of a listener (a target's or the observer's), read and
//! validated: `tls = "auto"`, `tls = { names = [...] }` (auto, with more
//! names), or `tls = { cert_file = "...", key_file = "..." }`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::model::ListenerTls;

/// `tls` as written: a word or a table.
#[derive(Debug, Clone)]
pub enum RawTls {
    Word(String),
    Table(RawTlsTable),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTlsTable {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub names: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for RawTls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTls;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"auto\" or a table { cert_file, key_file } or { names }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawTls, E> {
                Ok(RawTls::Word(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawTls, A::Error> {
                RawTlsTable::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawTls::Table)
            }
        }
        d.deserialize_any(V)
    }
}

/// What is wrong with a `tls` value: the message, and a hint.
pub struct TlsProblem {
    pub message: String,
    pub hint: Option<String>,
}

fn problem(message: impl Into<String>, hint: Option<&str>) -> TlsProblem {
    TlsProblem { message: message.into(), hint: hint.map(str::to_string) }
}

/// Validates a listener's `tls`; files are read (relative to `base_dir`),
/// and the key must be the certificate's.
pub fn validate(raw: &RawTls, base_dir: Option<&Path>) -> Result<ListenerTls, TlsProblem> {
    let table = match raw {
        RawTls::Word(w) if w == "auto" => return Ok(ListenerTls::Auto { names: Vec::new() }),
        RawTls::Word(w) => {
            return Err(problem(
                format!("must be \"auto\" or a table with cert_file and key_file, got {w:?}"),
                Some("tls = \"auto\" issues a certificate from brownout's local authority (see `brownout ca`)"),
            ))
        }
        RawTls::Table(t) => t,
    };
    let at = |p: &PathBuf| match base_dir {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.clone(),
    };
    match (&table.cert_file, &table.key_file, &table.names) {
        (None, None, Some(names)) => {
            for name in names {
                check_name(name)?;
            }
            Ok(ListenerTls::Auto { names: names.clone() })
        }
        (Some(_), Some(_), Some(_)) => Err(problem(
            "names applies only to certificates brownout issues, not to cert_file and key_file",
            Some("remove names, or cert_file and key_file for tls = { names = [...] }"),
        )),
        (Some(cert), Some(key), None) => {
            let (cert_file, key_file) = (at(cert), at(key));
            let identity = crate::tls::server::read_identity(&cert_file, &key_file)
                .map_err(|why| problem(format!("must name a usable certificate and key, but {why}"), None))?;
            Ok(ListenerTls::Files { cert_file, key_file, identity })
        }
        (Some(_), None, _) => Err(problem("has cert_file but no key_file", Some("add key_file = \"key.pem\""))),
        (None, Some(_), _) => Err(problem("has key_file but no cert_file", Some("add cert_file = \"cert.pem\""))),
        (None, None, None) => Err(problem(
            "is an empty table",
            Some("write tls = \"auto\", or tls = { cert_file = \"cert.pem\", key_file = \"key.pem\" }"),
        )),
    }
}

/// A name a certificate can carry: a host name, a `*.` wildcard, or an IP address.
fn check_name(name: &str) -> Result<(), TlsProblem> {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let host = name.strip_prefix("*.").unwrap_or(name);
    match rustls::pki_types::ServerName::try_from(host) {
        Ok(rustls::pki_types::ServerName::DnsName(_)) => Ok(()),
        _ => Err(problem(format!("names must be host names or IP addresses, got {name:?}"), None)),
    }
}
