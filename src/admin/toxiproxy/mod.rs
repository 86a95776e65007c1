//! The Toxiproxy-compatible API: proxies (TCP listeners created, changed,
//! disabled and removed at run time) and their toxics, mapped onto
//! brownout's TCP faults with Toxiproxy's units (latency and jitter in ms,
//! rate in KB/s, slicer delay in microseconds) and semantics. This file
//! holds the proxies and the routes; `toxics.rs` checks a toxic's attributes
//! and turns it into a fault.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Response, StatusCode};
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod toxics;

use super::{respond, AdminState, Refused};
use crate::config::TcpUpstream;
use crate::fault::{Direction, Fault, FaultSwitch, Kind, OutageMode, TcpKind};
use crate::proxy::http::ProxyBody;
use crate::proxy::ConnGauge;
use toxics::to_fault;

/// The Toxiproxy proxies of this process.
#[derive(Default)]
pub struct Registry {
    proxies: BTreeMap<String, ToxiProxy>,
    next_id: u64,
    /// The process's seed: toxicity draws repeat with it.
    seed: u64,
}

impl Registry {
    pub fn seeded(seed: u64) -> Self {
        Registry { seed, ..Registry::default() }
    }
}

struct ToxiProxy {
    name: String,
    /// The address listened on (an ephemeral `:0` filled in).
    listen: SocketAddr,
    upstream: String,
    enabled: bool,
    toxics: Vec<Toxic>,
    switch: Arc<FaultSwitch>,
    /// Cancels the listener (disable, delete, change of address).
    stop: CancellationToken,
}

#[derive(Clone)]
struct Toxic {
    name: String,
    kind: String,
    stream: String,
    toxicity: f64,
    attributes: Map<String, Value>,
    id: u64,
}

/// Where proxies' listeners are spawned: the process's shutdown and tracker.
#[derive(Clone)]
pub struct Spawner {
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    /// Whether the admin API is token-protected: only then may a proxy
    /// listen on an address other than loopback.
    pub tokened: bool,
}

impl Spawner {
    /// Refuses a listen address other than loopback while the admin API has
    /// no token: anyone who reaches it could otherwise open a relay to any
    /// host on every interface.
    fn check_listen(&self, name: &str, addr: SocketAddr) -> Result<(), Refused> {
        if addr.ip().is_loopback() || self.tokened {
            return Ok(());
        }
        Err(Refused(
            StatusCode::FORBIDDEN,
            format!(
                "proxy {name} may listen only on a loopback address while the admin API has no token, got {addr}; set admin.token_file or admin.token_env to allow it"
            ),
        ))
    }
}

pub type Shared = Arc<Mutex<Registry>>;

fn err(status: StatusCode, message: &str) -> Response<ProxyBody> {
    respond(status, json!({"error": message, "status": status.as_u16()}))
}

/// Routes `/proxies...`, `/populate`, `/reset` and `/version`.
pub async fn route(method: &Method, parts: &[&str], body: &[u8], state: &AdminState) -> Option<Response<ProxyBody>> {
    let (registry, spawner) = (&state.toxiproxy, state.spawner.as_ref()?);
    Some(match (method, parts) {
        (&Method::GET, ["version"]) => respond(StatusCode::OK, json!({"version": env!("CARGO_PKG_VERSION")})),
        (&Method::GET, ["proxies"]) => {
            let reg = registry.lock().unwrap_or_else(|p| p.into_inner());
            let map: Map<String, Value> = reg.proxies.values().map(|p| (p.name.clone(), proxy_json(p))).collect();
            respond(StatusCode::OK, Value::Object(map))
        }
        (&Method::POST, ["proxies"]) => match parse(body) {
            Ok(v) => create(registry, spawner, &v).await.unwrap_or_else(Refused::into_response),
            Err(e) => e.into_response(),
        },
        (&Method::POST, ["populate"]) => match parse(body) {
            Ok(Value::Array(list)) => populate(registry, spawner, &list).await,
            Ok(_) => err(StatusCode::BAD_REQUEST, "populate takes a JSON array of proxies"),
            Err(e) => e.into_response(),
        },
        (&Method::POST, ["reset"]) => {
            let names: Vec<String> =
                registry.lock().unwrap_or_else(|p| p.into_inner()).proxies.keys().cloned().collect();
            for name in names {
                let _ = update(registry, spawner, &name, &json!({"enabled": true})).await;
                let mut reg = registry.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(p) = reg.proxies.get_mut(&name) {
                    p.toxics.clear();
                    apply(p);
                }
            }
            respond(StatusCode::NO_CONTENT, Value::Null)
        }
        (_, ["proxies", name, rest @ ..]) => proxy_route(method, name, rest, body, registry, spawner).await,
        _ => return None,
    })
}

fn parse(body: &[u8]) -> Result<Value, Refused> {
    serde_json::from_slice(body)
        .map_err(|e| Refused(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {e}")))
}

async fn proxy_route(
    method: &Method,
    name: &str,
    rest: &[&str],
    body: &[u8],
    registry: &Shared,
    spawner: &Spawner,
) -> Response<ProxyBody> {
    if !registry.lock().unwrap_or_else(|p| p.into_inner()).proxies.contains_key(name) {
        return err(StatusCode::NOT_FOUND, "proxy not found");
    }
    match (method, rest) {
        (&Method::GET, []) => {
            let reg = registry.lock().unwrap_or_else(|p| p.into_inner());
            respond(StatusCode::OK, proxy_json(&reg.proxies[name]))
        }
        (&Method::POST | &Method::PATCH, []) => match parse(body) {
            Ok(v) => update(registry, spawner, name, &v).await.unwrap_or_else(Refused::into_response),
            Err(e) => e.into_response(),
        },
        (&Method::DELETE, []) => {
            let mut reg = registry.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = reg.proxies.remove(name) {
                p.stop.cancel();
                p.switch.set(vec![outage_reset()]);
            }
            respond(StatusCode::NO_CONTENT, Value::Null)
        }
        (&Method::GET, ["toxics"]) => {
            let reg = registry.lock().unwrap_or_else(|p| p.into_inner());
            respond(StatusCode::OK, Value::Array(reg.proxies[name].toxics.iter().map(toxic_json).collect()))
        }
        (&Method::POST, ["toxics"]) => match parse(body) {
            Ok(v) => add_toxic(registry, name, &v),
            Err(e) => e.into_response(),
        },
        (&Method::GET, ["toxics", toxic]) => {
            let reg = registry.lock().unwrap_or_else(|p| p.into_inner());
            match reg.proxies[name].toxics.iter().find(|t| t.name == *toxic) {
                Some(t) => respond(StatusCode::OK, toxic_json(t)),
                None => err(StatusCode::NOT_FOUND, "toxic not found"),
            }
        }
        (&Method::POST | &Method::PATCH, ["toxics", toxic]) => match parse(body) {
            Ok(v) => update_toxic(registry, name, toxic, &v),
            Err(e) => e.into_response(),
        },
        (&Method::DELETE, ["toxics", toxic]) => {
            let mut reg = registry.lock().unwrap_or_else(|p| p.into_inner());
            let p = reg.proxies.get_mut(name).expect("checked above");
            let before = p.toxics.len();
            p.toxics.retain(|t| t.name != *toxic);
            if p.toxics.len() == before {
                return err(StatusCode::NOT_FOUND, "toxic not found");
            }
            apply(p);
            respond(StatusCode::NO_CONTENT, Value::Null)
        }
        _ => err(StatusCode::NOT_FOUND, "no such Toxiproxy endpoint"),
    }
}

fn proxy_json(p: &ToxiProxy) -> Value {
    json!({
        "name": p.name,
        "listen": p.listen.to_string(),
        "upstream": p.upstream,
        "enabled": p.enabled,
        "toxics": p.toxics.iter().map(toxic_json).collect::<Vec<_>>(),
    })
}

fn toxic_json(t: &Toxic) -> Value {
    json!({"name": t.name, "type": t.kind, "stream": t.stream, "toxicity": t.toxicity, "attributes": t.attributes})
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `":0"`, `"localhost:8474"` or `"127.0.0.1:0"` as an address to bind.
fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let full = if text.starts_with(':') { format!("127.0.0.1{text}") } else { text.replace("localhost", "127.0.0.1") };
    full.parse().map_err(|_| format!("listen must be host:port, got {text:?}"))
}

/// Binds and serves a proxy's listener; returns the bound address and its stop token.
async fn start(
    name: &str,
    addr: SocketAddr,
    upstream: &str,
    switch: &Arc<FaultSwitch>,
    spawner: &Spawner,
) -> Result<(SocketAddr, CancellationToken), String> {
    let listener = crate::proxy::bind(addr).map_err(|e| format!("proxy {name}: cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let stop = spawner.shutdown.child_token();
    let up = Arc::new(TcpUpstream { address: upstream.to_string(), connect_timeout: Duration::from_secs(5) });
    spawner.tracker.spawn(crate::proxy::tcp::serve(
        listener,
        switch.clone(),
        up,
        ConnGauge::default(),
        crate::config::ClientLimits::TCP,
        stop.clone(),
        spawner.tracker.clone(),
    ));
    Ok((bound, stop))
}

async fn create(registry: &Shared, spawner: &Spawner, v: &Value) -> Result<Response<ProxyBody>, Refused> {
    let (Some(name), Some(upstream)) = (str_field(v, "name"), str_field(v, "upstream")) else {
        return Err(Refused(StatusCode::BAD_REQUEST, "a proxy needs a name and an upstream".into()));
    };
    if registry.lock().unwrap_or_else(|p| p.into_inner()).proxies.contains_key(name) {
        return Err(Refused(StatusCode::CONFLICT, "proxy already exists".into()));
    }
    let addr = listen_addr(str_field(v, "listen").unwrap_or("127.0.0.1:0"))
        .map_err(|e| Refused(StatusCode::BAD_REQUEST, e))?;
    spawner.check_listen(name, addr)?;
    let enabled = v.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let seed = registry.lock().unwrap_or_else(|p| p.into_inner()).seed;
    let switch = Arc::new(FaultSwitch::new(name, seed, Vec::new()));
    let (listen, stop) = if enabled {
        start(name, addr, upstream, &switch, spawner).await.map_err(|e| Refused(StatusCode::CONFLICT, e))?
    } else {
        (addr, CancellationToken::new())
    };
    let proxy = ToxiProxy {
        name: name.to_string(),
        listen,
        upstream: upstream.to_string(),
        enabled,
        toxics: Vec::new(),
        switch,
        stop,
    };
    let json = proxy_json(&proxy);
    registry.lock().unwrap_or_else(|p| p.into_inner()).proxies.insert(name.to_string(), proxy);
    Ok(respond(StatusCode::CREATED, json))
}

/// Partial update: `listen`, `upstream` and `enabled`. A new address or
/// upstream restarts only this proxy; disabling refuses new connections and
/// closes open ones.
async fn update(registry: &Shared, spawner: &Spawner, name: &str, v: &Value) -> Result<Response<ProxyBody>, Refused> {
    let (old_listen, old_upstream, was_enabled, switch, stop) = {
        let reg = registry.lock().unwrap_or_else(|p| p.into_inner());
        let p = reg.proxies.get(name).ok_or_else(|| Refused(StatusCode::NOT_FOUND, "proxy not found".into()))?;
        (p.listen, p.upstream.clone(), p.enabled, p.switch.clone(), p.stop.clone())
    };
    let listen = match str_field(v, "listen") {
        Some(l) => listen_addr(l).map_err(|e| Refused(StatusCode::BAD_REQUEST, e))?,
        None => old_listen,
    };
    spawner.check_listen(name, listen)?;
    let upstream = str_field(v, "upstream").unwrap_or(&old_upstream).to_string();
    let enabled = v.get("enabled").and_then(Value::as_bool).unwrap_or(was_enabled);
    let restart = listen != old_listen || upstream != old_upstream || enabled != was_enabled;
    let mut new_stop = stop.clone();
    let mut bound = listen;
    if restart {
        stop.cancel();
        if was_enabled && !enabled {
            // Open connections are reset, as Toxiproxy closes them.
            switch.set(vec![outage_reset()]);
        }
        if enabled {
            // Let the old listener close before binding the same address.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let (addr, token) =
                start(name, listen, &upstream, &switch, spawner).await.map_err(|e| Refused(StatusCode::CONFLICT, e))?;
            bound = addr;
            new_stop = token;
        }
    }
    let mut reg = registry.lock().unwrap_or_else(|p| p.into_inner());
    let p = reg.proxies.get_mut(name).ok_or_else(|| Refused(StatusCode::NOT_FOUND, "proxy not found".into()))?;
    p.listen = bound;
    p.upstream = upstream;
    p.enabled = enabled;
    p.stop = new_stop;
    apply(p);
    Ok(respond(StatusCode::OK, proxy_json(p)))
}

/// Creates the proxies that do not exist and updates the others; proxies
/// that are already as asked keep their toxics and connections.
async fn populate(registry: &Shared, spawner: &Spawner, list: &[Value]) -> Response<ProxyBody> {
    let mut out = Vec::new();
    for v in list {
        let Some(name) = str_field(v, "name") else {
            return err(StatusCode::BAD_REQUEST, "every proxy needs a name");
        };
        let exists = registry.lock().unwrap_or_else(|p| p.into_inner()).proxies.contains_key(name);
        let result = if exists { update(registry, spawner, name, v).await } else { create(registry, spawner, v).await };
        match result {
            Ok(_) => {
                let reg = registry.lock().unwrap_or_else(|p| p.into_inner());
                out.push(proxy_json(&reg.proxies[name]));
            }
            Err(e) => return e.into_response(),
        }
    }
    respond(StatusCode::CREATED, json!({"proxies": out}))
}

fn add_toxic(registry: &Shared, proxy: &str, v: &Value) -> Response<ProxyBody> {
    let mut reg = registry.lock().unwrap_or_else(|p| p.into_inner());
    reg.next_id += 1;
    let id = reg.next_id;
    let Some(kind) = str_field(v, "type") else {
        return err(StatusCode::BAD_REQUEST, "a toxic needs a type");
    };
    let stream = str_field(v, "stream").unwrap_or("downstream").to_string();
    let toxic = Toxic {
        name: str_field(v, "name").map_or_else(|| format!("{kind}_{stream}"), str::to_string),
        kind: kind.to_string(),
        stream,
        toxicity: match v.get("toxicity") {
            None => 1.0,
            Some(t) => match t.as_f64() {
                Some(t) => t,
                None => {
                    return err(StatusCode::BAD_REQUEST, &format!("toxicity must be a number from 0 to 1, got {t}"))
                }
            },
        },
        attributes: v.get("attributes").and_then(Value::as_object).cloned().unwrap_or_default(),
        id,
    };
    if let Err(e) = to_fault(&toxic) {
        return err(StatusCode::BAD_REQUEST, &e);
    }
    let p = reg.proxies.get_mut(proxy).expect("checked by the caller");
    if p.toxics.iter().any(|t| t.name == toxic.name) {
        return err(StatusCode::CONFLICT, "toxic already exists");
    }
    let json = toxic_json(&toxic);
    p.toxics.push(toxic);
    apply(p);
    respond(StatusCode::OK, json)
}

/// Partial update: attributes merge; toxicity and stream replace.
fn update_toxic(registry: &Shared, proxy: &str, name: &str, v: &Value) -> Response<ProxyBody> {
    let mut reg = registry.lock().unwrap_or_else(|p| p.into_inner());
    let p = reg.proxies.get_mut(proxy).expect("checked by the caller");
    let Some(t) = p.toxics.iter_mut().find(|t| t.name == name) else {
        return err(StatusCode::NOT_FOUND, "toxic not found");
    };
    let mut next = t.clone();
    if let Some(t) = v.get("toxicity") {
        match t.as_f64() {
            Some(x) => next.toxicity = x,
            None => return err(StatusCode::BAD_REQUEST, &format!("toxicity must be a number from 0 to 1, got {t}")),
        }
    }
    if let Some(s) = str_field(v, "stream") {
        next.stream = s.to_string();
    }
    if let Some(attrs) = v.get("attributes").and_then(Value::as_object) {
        for (k, val) in attrs {
            next.attributes.insert(k.clone(), val.clone());
        }
    }
    if let Err(e) = to_fault(&next) {
        return err(StatusCode::BAD_REQUEST, &e);
    }
    *t = next;
    let json = toxic_json(t);
    apply(p);
    respond(StatusCode::OK, json)
}

/// Swaps the proxy's toxics in as faults. A disabled proxy keeps resetting.
fn apply(p: &mut ToxiProxy) {
    if !p.enabled {
        p.switch.set(vec![outage_reset()]);
        return;
    }
    let faults: Vec<Fault> = p.toxics.iter().filter_map(|t| to_fault(t).ok()).collect();
    p.switch.set(faults);
}

fn outage_reset() -> Fault {
    Fault::new(u64::MAX, "disabled", Kind::Tcp(TcpKind::Outage { mode: OutageMode::Reset }, Direction::Both))
}
