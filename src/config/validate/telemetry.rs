//! The `[telemetry]` table: the OTLP/HTTP endpoint spans go to, the
//! service's name, and headers (an API key read from the environment).

use http::header::{HeaderName, HeaderValue};
use http::uri::Scheme;
use http::Uri;

use super::super::raw::RawTelemetry;
use super::super::Telemetry;
use super::Validator;

/// The path OTLP/HTTP serves traces on.
pub const TRACES_PATH: &str = "/v1/traces";
/// The spans' `service.name` when the table names none.
pub const DEFAULT_SERVICE_NAME: &str = "brownout";

impl Validator<'_> {
    pub(super) fn telemetry(&mut self, raw: RawTelemetry) -> Option<Telemetry> {
        let endpoint = self.otlp_endpoint(&raw);
        let service_name = match &raw.service_name {
            Some(name) if name.get_ref().trim().is_empty() => {
                self.problem(name.span().start, "telemetry.service_name".into(), "must not be empty".into());
                DEFAULT_SERVICE_NAME.to_string()
            }
            Some(name) => name.get_ref().clone(),
            None => DEFAULT_SERVICE_NAME.to_string(),
        };
        let mut headers = Vec::new();
        if let Some(table) = &raw.headers {
            let at = table.span().start;
            for (name, value) in table.get_ref() {
                let key = format!("telemetry.headers.{name}");
                let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
                    self.problem(at, key, format!("is not a header name: {name:?}"));
                    continue;
                };
                let text = match value {
                    toml::Value::String(text) => text.clone(),
                    toml::Value::Table(t) if t.len() == 1 && t.get("env").is_some_and(toml::Value::is_str) => {
                        let var = t.get("env").and_then(toml::Value::as_str).unwrap_or_default();
                        match std::env::var(var) {
                            Ok(v) if !v.trim().is_empty() => v.trim().to_string(),
                            _ => {
                                self.problem(at, key, format!("names the variable {var}, which is not set or empty"));
                                continue;
                            }
                        }
                    }
                    other => {
                        self.problem(
                            at,
                            key,
                            format!("must be a string or {{ env = \"VARIABLE\" }}, got {}", other.type_str()),
                        )
                        .hint = Some("read a secret from the environment: { env = \"OTLP_API_KEY\" }".into());
                        continue;
                    }
                };
                match HeaderValue::from_str(&text) {
                    Ok(mut v) => {
                        v.set_sensitive(true);
                        headers.push((header, v));
                    }
                    // The value may be a secret: it is not repeated.
                    Err(_) => {
                        self.problem(at, key, "must be visible ASCII text to go in a header".into());
                    }
                }
            }
        }
        Some(Telemetry { endpoint: endpoint?, service_name, headers })
    }

    /// `http://collector:4318` (or `https://`), with `/v1/traces` added to
    /// its path unless it already ends so, as OTLP/HTTP's exporters do.
    fn otlp_endpoint(&mut self, raw: &RawTelemetry) -> Option<Uri> {
        let text = raw.otlp_endpoint.get_ref();
        let at = raw.otlp_endpoint.span().start;
        let form = "an http:// or https:// URL such as \"http://127.0.0.1:4318\"";
        let uri: Option<Uri> = text.parse().ok();
        let Some((scheme, authority, path)) = uri.as_ref().and_then(|u| Some((u.scheme()?, u.authority()?, u.path())))
        else {
            self.problem(at, "telemetry.otlp_endpoint".into(), format!("must be {form}, got {text:?}")).hint =
                (!text.contains("://")).then(|| format!("write \"http://{text}\""));
            return None;
        };
        if *scheme != Scheme::HTTP && *scheme != Scheme::HTTPS {
            self.problem(at, "telemetry.otlp_endpoint".into(), format!("must use http or https, got {text:?}")).hint =
                Some("OTLP over HTTP listens on port 4318 by default: \"http://collector:4318\"".into());
            return None;
        }
        if uri.as_ref().is_some_and(|u| u.query().is_some()) || authority.as_str().contains('@') {
            let message = format!("must not carry a query or credentials, got {text:?}");
            self.problem(at, "telemetry.otlp_endpoint".into(), message).hint =
                Some("send credentials in headers, read from the environment".into());
            return None;
        }
        if let Some(port) = super::upstream::bad_port(authority) {
            let message = format!("{} in {text:?}", super::upstream::port_problem(port));
            self.problem(at, "telemetry.otlp_endpoint".into(), message);
            return None;
        }
        let base = path.trim_end_matches('/');
        let path = if base.ends_with(TRACES_PATH) { base.to_string() } else { format!("{base}{TRACES_PATH}") };
        Uri::builder().scheme(scheme.clone()).authority(authority.clone()).path_and_query(path).build().ok()
    }
}
