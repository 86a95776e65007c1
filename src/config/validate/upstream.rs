//! An HTTP upstream: its URL, the `Host` sent to it, the CA file for
//! `https://`, its timeouts and HTTP version.

use std::path::PathBuf;

use http::uri::{Authority, Scheme};
use http::{HeaderValue, Uri};
use toml::Spanned;

use super::super::{
    HostHeader, HttpUpstream, NonZeroDur, TraceContext, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT,
};
use super::Validator;

/// The port an authority names when it cannot be one (`$PORT`, `99999`,
/// `0`); an authority without a port, or with an empty one (the scheme's),
/// has none to refuse.
pub(super) fn bad_port(authority: &Authority) -> Option<&str> {
    let text = authority.as_str();
    // An IPv6 address's colons are inside its brackets.
    let after_host = text.rfind(']').map_or(text, |i| &text[i + 1..]);
    let (_, port) = after_host.rsplit_once(':')?;
    match port.parse::<u16>() {
        Ok(0) | Err(_) if !port.is_empty() => Some(port),
        _ => None,
    }
}

pub(super) fn port_problem(port: &str) -> String {
    format!("has the port {port:?}, which is not a number from 1 to 65535")
}

impl Validator<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn http_upstream(
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
        if let Some(port) = bad_port(&authority) {
            self.problem(at, format!("{key}.upstream"), format!("{} in {text:?}", port_problem(port)));
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
            version: Default::default(),
            ca_file,
            connect_timeout: connect_timeout.map_or(DEFAULT_CONNECT_TIMEOUT, |d| d.0),
            request_timeout: request_timeout.map_or(DEFAULT_REQUEST_TIMEOUT, |d| d.0),
            trace_context: TraceContext::Read,
        })
    }
}

fn with_default_port(authority: &Authority, scheme: &Scheme) -> Authority {
    if authority.port().is_some() {
        return authority.clone();
    }
    let port = if *scheme == Scheme::HTTPS { 443 } else { 80 };
    format!("{}:{port}", authority.host()).parse().unwrap_or_else(|_| authority.clone())
}
