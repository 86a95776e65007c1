//! JSON Schemas (draft 2020-12) of brownout's config, experiment and standards files,
//! for editors (taplo, Even Better TOML) to complete keys and flag mistakes
//! while typing. They are generated from what the validator itself reads:
//! the tables, keys and value types of the raw serde structs (traced from
//! their `Deserialize`, `trace.rs`), the fault kinds' table and the words
//! each fault key takes (`fault::kinds`), the string forms of durations,
//! addresses and rates, and the README's reference tables for descriptions
//! (`reference.rs`). The schema says less than `brownout check` (which
//! keys a kind requires, ranges across keys, names that must exist); what it
//! refuses, `brownout check` refuses too.

mod reference;
mod trace;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::config::fault::RawFault;
use crate::config::raw::RawConfig;
use crate::experiment::raw::RawExperiment;
use crate::fault::kinds::{KindSpec, Protocol};
use trace::{Shape, Step};

pub use reference::{BYTE_RATE, REQUEST_RATE};

/// The `$schema` of both schemas.
const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Lists a file must have (every other list may be left out).
const REQUIRED_LISTS: [&str; 1] = ["load.requests"];

/// A percentage as the standards write one (`"99.9%"`).
const PERCENT: &str = r"^\s*[0-9]+(\.[0-9]*)?\s*%\s*$";

/// Which files a schema is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Of {
    Config,
    Experiment,
    Standards,
}

/// The schema as committed under `schema/`: pretty JSON and a newline.
pub fn render(of: Of) -> Result<String, String> {
    let schema = match of {
        Of::Config => config()?,
        Of::Experiment => experiment()?,
        Of::Standards => standards()?,
    };
    serde_json::to_string_pretty(&schema).map(|t| t + "\n").map_err(|e| e.to_string())
}

/// The schema of config files (`config/*.toml`).
pub fn config() -> Result<Value, String> {
    let mut g = Gen::new();
    let root = g.table::<RawConfig>(&mut Vec::new(), "")?;
    Ok(g.document("brownout config", "A brownout config file: targets, the observer and the admin API.", root))
}

/// The schema of experiment files (`experiments/*.toml`).
pub fn experiment() -> Result<Value, String> {
    let mut g = Gen::new();
    let root = g.table::<RawExperiment>(&mut Vec::new(), "")?;
    Ok(g.document("brownout experiment", "A brownout experiment file: a whole game day.", root))
}

/// The schema of standards files (`standards.toml`), described by the
/// README's standards reference.
pub fn standards() -> Result<Value, String> {
    let mut g = Gen::new();
    g.descriptions = reference::descriptions()
        .into_iter()
        // `tier.NAME.p99` describes the key `p99` of every tier: `tier.p99` to the generator.
        .filter_map(|(k, v)| k.strip_prefix(reference::STANDARDS_PREFIX).map(|k| (k.replace(".NAME", ""), v)))
        .collect();
    let mut root = g.table::<crate::standards::raw::RawStandards>(&mut Vec::new(), "")?;
    // Its tables of names (`tier`, `interaction`, `service`) default to
    // empty, which the traced shape cannot tell: none is required.
    if let Value::Object(root) = &mut root {
        root.remove("required");
    }
    // Percentages are read as text, then parsed: the form is said here.
    for key in ["availability", "error_rate", "graceful"] {
        root["properties"]["tier"]["additionalProperties"]["properties"][key]["pattern"] = json!(PERCENT);
    }
    root["properties"]["graceful"]["properties"]["status"]["items"] =
        json!({"type": "integer", "minimum": 400, "maximum": 599});
    Ok(g.document(
        "brownout standards",
        "A brownout standards file: the organisation's tiers, interaction classes, graceful failures and each \
         service's routes, which every experiment inherits.",
        root,
    ))
}

/// The keys of a fault of `protocol` as the admin API takes them (no
/// `target` or `ramp`), each with its schema: what the control page's form
/// is built from.
pub fn fault_keys(protocol: Protocol) -> Result<Vec<(&'static str, Value)>, String> {
    let mut g = Gen::new();
    let mut keys = Vec::new();
    for &key in fault_key_names()? {
        if protocol.kinds().any(|k| k.takes(key)) && !EXPERIMENT_ONLY.contains(&key) || key == "kind" {
            keys.push((key, g.fault_key(key, protocol)?));
        }
    }
    Ok(keys)
}

/// Fault keys that only a phase's faults take.
const EXPERIMENT_ONLY: [&str; 2] = ["target", "ramp"];

struct Gen {
    descriptions: BTreeMap<String, String>,
    defs: Map<String, Value>,
}

impl Gen {
    fn new() -> Gen {
        Gen { descriptions: reference::descriptions(), defs: Map::new() }
    }

    fn document(mut self, title: &str, about: &str, root: Value) -> Value {
        let mut doc = json!({"$schema": DRAFT, "title": title, "description": about});
        if let (Value::Object(doc), Value::Object(root)) = (&mut doc, root) {
            doc.extend(root);
            doc.insert("$defs".into(), Value::Object(std::mem::take(&mut self.defs)));
        }
        doc
    }

    /// The schema of the table `steps` leads to in `R`; `path` names it for descriptions.
    fn table<'de, R: Deserialize<'de>>(&mut self, steps: &mut Vec<Step>, path: &str) -> Result<Value, String> {
        let Shape::Table { name, keys } = trace::shape::<R>(steps)? else {
            return Err(format!("{path} is not a table"));
        };
        if name == "RawFault" {
            return self.fault_ref(path);
        }
        let mut properties = Map::new();
        let mut required = Vec::new();
        for key in keys {
            let key_path = if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
            steps.push(Step::Key(key));
            let shape = trace::shape::<R>(steps)?;
            let optional = matches!(shape, Shape::Optional(_))
                || matches!(shape, Shape::List(_)) && !REQUIRED_LISTS.contains(&key_path.as_str());
            let mut schema = self.value::<R>(steps, &key_path, shape)?;
            steps.pop();
            self.describe(&mut schema, &key_path);
            properties.insert(key.to_string(), schema);
            if !optional {
                required.push(*key);
            }
        }
        let mut table = json!({"type": "object", "properties": properties, "additionalProperties": false});
        if !required.is_empty() {
            table["required"] = json!(required);
        }
        if name == "RawTarget" {
            table["allOf"] =
                json!([protocol_rule("http", "#/$defs/http_fault"), protocol_rule("tcp", "#/$defs/tcp_fault"),]);
        }
        Ok(table)
    }

    /// The schema of the value of `shape` at `steps` in `R`.
    fn value<'de, R: Deserialize<'de>>(
        &mut self,
        steps: &mut Vec<Step>,
        path: &str,
        shape: Shape,
    ) -> Result<Value, String> {
        let inner = |g: &mut Gen, steps: &mut Vec<Step>, shape: Shape| -> Result<Value, String> {
            steps.push(Step::Inner);
            let v = g.value::<R>(steps, path, shape);
            steps.pop();
            v
        };
        Ok(match shape {
            Shape::Optional(s) => inner(self, steps, *s)?,
            Shape::Table { .. } => self.table::<R>(steps, path)?,
            Shape::List(s) => json!({"type": "array", "items": inner(self, steps, *s)?}),
            Shape::Tuple(n, s) => {
                json!({"type": "array", "items": inner(self, steps, *s)?, "minItems": n, "maxItems": n})
            }
            Shape::Map(s) => json!({"type": "object", "additionalProperties": inner(self, steps, *s)?}),
            Shape::Words(words) => json!({"enum": words}),
            Shape::Bool => json!({"type": "boolean"}),
            Shape::Integer { signed: true } => json!({"type": "integer"}),
            Shape::Integer { signed: false } => json!({"type": "integer", "minimum": 0}),
            Shape::Number => json!({"type": "number"}),
            Shape::Text { form } => reference::text(&form),
            Shape::Any { form } => self.any(path, &form)?,
        })
    }

    /// Types that read whatever comes, known by their key or their form.
    fn any(&mut self, path: &str, form: &str) -> Result<Value, String> {
        let last = path.rsplit('.').next().unwrap_or(path);
        if form == "a number" {
            return Ok(json!({"type": "number"}));
        }
        if form == crate::config::HEADER_FAULTS_FORM {
            let mut caps = self.table::<crate::config::RawHeaderCaps>(&mut Vec::new(), "header_faults")?;
            caps["properties"]["kinds"]["items"] = json!({"enum": crate::config::HEADER_KINDS});
            return Ok(json!({"anyOf": [{"type": "boolean"}, caps]}));
        }
        if ["code", "error_code", "grpc_status"].contains(&last) {
            // Names are read in any case, which a JSON Schema enum cannot say:
            // the names are offered for completion, any text is let through.
            let names: &[&str] = if last != "error_code" { &crate::grpc::CODES[1..] } else { &[] };
            return Ok(json!({"anyOf": [{"type": "integer", "minimum": 0}, {"enum": names}, {"type": "string"}]}));
        }
        if last == "tls" {
            let table = self.table::<crate::config::RawTlsTable>(&mut Vec::new(), "tls")?;
            return Ok(json!({"anyOf": [{"const": "auto"}, table]}));
        }
        if path.ends_with("match.method") || path.ends_with("match.client") {
            return Ok(json!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}));
        }
        if path.ends_with("match.headers") || last == "headers" && path.contains("match") {
            let rule = self.table::<crate::config::fault::RawHeaderRule>(&mut Vec::new(), "match.headers")?;
            return Ok(json!({"anyOf": [{"type": "string"}, rule]}));
        }
        Err(format!("{path} reads any value ({form}); the schema generator does not know what to offer"))
    }

    fn describe(&self, schema: &mut Value, path: &str) {
        let fault_key =
            path.split_once(".fault.").or_else(|| path.split_once(".faults.")).map(|(_, k)| format!("fault.{k}"));
        let found = self.descriptions.get(path).or_else(|| fault_key.and_then(|k| self.descriptions.get(&k)));
        if let (Some(text), Value::Object(map)) = (found, schema) {
            map.insert("description".into(), json!(text));
        }
    }

    // === Faults ===

    /// The schema of a fault where `path` has one, building the fault
    /// definitions once: a target's (`http_fault`, `tcp_fault`) and a
    /// phase's (`phase_fault`, which also take `target` and `ramp`).
    fn fault_ref(&mut self, path: &str) -> Result<Value, String> {
        if !self.defs.contains_key("phase_fault") {
            for protocol in [Protocol::Http, Protocol::Tcp] {
                let name = format!("{}_fault", protocol.name());
                let def = self.fault(protocol, false)?;
                self.defs.insert(name, def);
                let name = format!("phase_{}_fault", protocol.name());
                let def = self.fault(protocol, true)?;
                self.defs.insert(name, def);
            }
            self.defs.insert(
                "phase_fault".into(),
                json!({"anyOf": [{"$ref": "#/$defs/phase_http_fault"}, {"$ref": "#/$defs/phase_tcp_fault"}]}),
            );
        }
        // A target's faults are checked by its protocol's rule (see
        // `protocol_rule`), whose messages name the one kind of fault it takes.
        if path.starts_with("phase.") {
            Ok(json!({"$ref": "#/$defs/phase_fault"}))
        } else {
            Ok(json!({"type": "object"}))
        }
    }

    /// A fault of `protocol`: its kinds from the table, the keys each takes,
    /// the words a key takes in this protocol.
    fn fault(&mut self, protocol: Protocol, phase: bool) -> Result<Value, String> {
        let mut properties = Map::new();
        for &key in fault_key_names()? {
            let taken = key == "kind" || protocol.kinds().any(|k| k.takes(key));
            if !taken || (!phase && EXPERIMENT_ONLY.contains(&key)) {
                continue;
            }
            properties.insert(key.to_string(), self.fault_key(key, protocol)?);
        }
        let rules: Vec<Value> = protocol.kinds().map(|spec| kind_rule(spec, phase)).collect();
        Ok(json!({
            "type": "object",
            "description": format!("A fault of an {} target.", protocol.name()),
            "properties": properties,
            "required": ["kind"],
            "additionalProperties": false,
            "allOf": rules,
        }))
    }

    /// The schema of one fault key in a fault of `protocol`.
    fn fault_key(&mut self, key: &'static str, protocol: Protocol) -> Result<Value, String> {
        let mut steps = vec![Step::Key(key)];
        let shape = trace::shape::<RawFault>(&steps)?;
        let path = format!("fault.{key}");
        let mut schema = self.value::<RawFault>(&mut steps, &path, shape)?;
        if key == "kind" {
            let kinds: Vec<Value> =
                protocol.kinds().map(|k| json!({"const": k.name, "description": k.about})).collect();
            schema = json!({"oneOf": kinds});
        }
        let words = protocol.choices(key);
        if !words.is_empty() {
            schema = json!({"enum": words});
        }
        if key == "probability" {
            schema = json!({"type": "number", "minimum": 0, "maximum": 1});
        }
        if key == "status" {
            schema = json!({"type": "integer", "minimum": 100, "maximum": 599});
        }
        self.describe(&mut schema, &path);
        Ok(schema)
    }
}

/// The keys of a fault as files write them, from the raw fault's definition.
fn fault_key_names() -> Result<&'static [&'static str], String> {
    match trace::shape::<RawFault>(&[])? {
        Shape::Table { keys, .. } => Ok(keys),
        other => Err(format!("a fault is not a table but {other:?}")),
    }
}

/// The keys a kind takes, and the form of its `rate`.
fn kind_rule(spec: &KindSpec, phase: bool) -> Value {
    let mut keys: Vec<&str> = vec!["kind"];
    keys.extend(spec.protocol.common_keys().filter(|k| phase || !EXPERIMENT_ONLY.contains(k)));
    keys.extend(spec.keys.iter().copied());
    let mut then = json!({"propertyNames": {"enum": keys}});
    if spec.takes("rate") {
        let pattern = if spec.name == "rate_limit" { REQUEST_RATE } else { BYTE_RATE };
        then["properties"] = json!({"rate": {"pattern": pattern}});
    }
    json!({"if": {"properties": {"kind": {"const": spec.name}}, "required": ["kind"]}, "then": then})
}

/// A target of `protocol` takes faults of that protocol only.
fn protocol_rule(protocol: &str, fault: &str) -> Value {
    json!({
        "if": {"properties": {"protocol": {"const": protocol}}, "required": ["protocol"]},
        "then": {"properties": {"fault": {"items": {"$ref": fault}}}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::kinds::KINDS;

    #[test]
    fn both_schemas_generate_and_every_key_has_a_schema() {
        let config = config().expect("config schema");
        let experiment = experiment().expect("experiment schema");
        assert_eq!(config["$schema"], DRAFT);
        assert!(config["properties"]["target"]["items"]["properties"]["header_faults"]["anyOf"].is_array());
        assert_eq!(
            config["properties"]["target"]["items"]["required"],
            json!(["name", "protocol", "listen", "upstream"])
        );
        assert_eq!(experiment["properties"]["load"]["required"], json!(["target", "rate", "requests"]));
        let http = &config["$defs"]["http_fault"];
        assert_eq!(http["properties"]["at"]["enum"], json!(["request", "response", "both"]));
        assert!(http["properties"].get("target").is_none() && http["properties"].get("direction").is_none());
        assert!(experiment["$defs"]["phase_tcp_fault"]["properties"].get("target").is_some());
        for spec in &KINDS {
            let def = &config["$defs"][format!("{}_fault", spec.protocol.name())];
            assert!(def["allOf"]
                .as_array()
                .expect("rules")
                .iter()
                .any(|r| r["if"]["properties"]["kind"]["const"] == spec.name));
        }
        assert!(config["properties"]["admin"]["properties"]["listen"]["description"].as_str().is_some());
    }
}
