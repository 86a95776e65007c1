//! `/targets`: the targets with their live state, and their ad-hoc faults,
//! added, changed and removed while traffic flows.

use http::{Method, Response, StatusCode};
use serde_json::{json, Value};

use super::{ok, respond, AdminState, Refused, TargetInfo};
use crate::fault::Fault;
use crate::proxy::http::ProxyBody;

type Answer = Result<Response<ProxyBody>, Refused>;

pub fn route(method: &Method, parts: &[&str], body: &[u8], state: &AdminState) -> Answer {
    let Some((name, rest)) = parts.split_first() else {
        return match *method {
            Method::GET => Ok(ok(Value::Array(state.targets.iter().map(describe).collect()))),
            _ => Err(Refused(StatusCode::NOT_FOUND, format!("no admin endpoint {method} /targets"))),
        };
    };
    let Some(target) = state.targets.iter().find(|t| t.name == *name) else {
        let names: Vec<&str> = state.targets.iter().map(|t| t.name.as_str()).collect();
        let list = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        return Err(Refused(StatusCode::NOT_FOUND, format!("no target named {name:?}; targets: {list}")));
    };
    match (method, rest) {
        (&Method::GET, []) => Ok(ok(describe(target))),
        (&Method::GET, ["faults"]) => Ok(ok(faults_json(target))),
        (&Method::POST, ["faults"]) => add(target, body, state),
        (&Method::DELETE, ["faults"]) => {
            change(target, state, |list| {
                list.clear();
                true
            })?;
            Ok(respond(StatusCode::NO_CONTENT, Value::Null))
        }
        (&Method::GET, ["faults", fault]) => {
            match target.switch.load().faults.iter().find(|f| f.fault.name == *fault) {
                Some(active) => Ok(ok(fault_json(&active.fault, active.applied()))),
                None => Err(no_fault(target, fault)),
            }
        }
        (&Method::PUT | &Method::PATCH, ["faults", fault]) => replace(target, fault, body, state),
        (&Method::POST, ["faults", fault, switch @ ("on" | "off")]) => {
            let on = *switch == "on";
            let known = target.base.iter().any(|f| f.name == *fault)
                || state
                    .adhoc
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&target.name)
                    .is_some_and(|l| l.iter().any(|f| f.name == *fault));
            if !known {
                return Err(no_fault(target, fault));
            }
            change(target, state, |_| {
                let mut off = state.off.lock().unwrap_or_else(|p| p.into_inner());
                let names = off.entry(target.name.clone()).or_default();
                if on {
                    names.remove(*fault)
                } else {
                    names.insert(fault.to_string())
                }
            })?;
            Ok(ok(json!({"name": fault, "on": on})))
        }
        (&Method::DELETE, ["faults", fault]) => {
            let removed = change(target, state, |list| {
                let before = list.len();
                list.retain(|f| f.name != *fault);
                let removed = list.len() != before;
                if removed {
                    // A fault added again later under this name starts on.
                    let mut off = state.off.lock().unwrap_or_else(|p| p.into_inner());
                    off.entry(target.name.clone()).or_default().remove(*fault);
                }
                removed
            })?;
            if removed {
                Ok(respond(StatusCode::NO_CONTENT, Value::Null))
            } else {
                Err(no_fault(target, fault))
            }
        }
        _ => Err(Refused(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint {method} /targets/{name}/{}", rest.join("/")),
        )),
    }
}

fn no_fault(target: &TargetInfo, fault: &str) -> Refused {
    Refused(StatusCode::NOT_FOUND, format!("target {} has no fault named {fault:?}", target.name))
}

fn describe(t: &TargetInfo) -> Value {
    json!({
        "name": t.name,
        "protocol": t.protocol,
        "listen": t.listen.to_string(),
        "upstream": t.upstream,
        "connections": t.gauge.load(std::sync::atomic::Ordering::Relaxed),
        "faults": faults_json(t),
    })
}

fn faults_json(t: &TargetInfo) -> Value {
    Value::Array(t.switch.load().faults.iter().map(|a| fault_json(&a.fault, a.applied())).collect())
}

fn fault_json(f: &Fault, applied: u64) -> Value {
    json!({
        "name": f.name,
        "kind": f.kind.name(),
        "configured": f.describe(),
        "probability": f.scope.probability,
        "applied": applied,
    })
}

/// Applies `edit` to the target's ad-hoc faults and, if it changed
/// something (`true`), swaps the config's faults plus the ad-hoc ones in.
fn change(
    target: &TargetInfo,
    state: &AdminState,
    edit: impl FnOnce(&mut Vec<Fault>) -> bool,
) -> Result<bool, Refused> {
    if let Some(run) = state.runs.current() {
        return Err(Refused(
            StatusCode::CONFLICT,
            format!("run {} ({:?}) is in progress: its experiment sets the faults; stop it first", run.id, run.title),
        ));
    }
    let mut adhoc = state.adhoc.lock().unwrap_or_else(|p| p.into_inner());
    let list = adhoc.entry(target.name.clone()).or_default();
    if !edit(list) {
        return Ok(false);
    }
    let off = state.off.lock().unwrap_or_else(|p| p.into_inner());
    let off = off.get(&target.name);
    let is_on = |f: &&Fault| off.is_none_or(|names| !names.contains(&f.name));
    let all: Vec<Fault> = target.base.iter().chain(list.iter()).filter(is_on).cloned().collect();
    // Set while holding the lock, so that concurrent changes apply in order.
    // Setting never waits on traffic: it is one atomic swap.
    target.switch.set(all);
    Ok(true)
}

fn parse(target: &TargetInfo, body: &[u8], state: &AdminState) -> Result<Fault, Refused> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Refused(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {e}")))?;
    let id = state.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    crate::config::fault::from_json(value, target.protocol == "http", id)
        .map_err(|message| Refused(StatusCode::BAD_REQUEST, message))
}

fn add(target: &TargetInfo, body: &[u8], state: &AdminState) -> Answer {
    let fault = parse(target, body, state)?;
    let taken = target.base.iter().any(|f| f.name == fault.name);
    let answer = fault_json(&fault, 0);
    let name = fault.name.clone();
    let added = change(target, state, |list| {
        if taken || list.iter().any(|f| f.name == name) {
            return false;
        }
        list.push(fault);
        true
    })?;
    if !added {
        return Err(Refused(
            StatusCode::CONFLICT,
            format!("target {} already has a fault named {name:?}; give this one a \"name\"", target.name),
        ));
    }
    Ok(respond(StatusCode::CREATED, answer))
}

fn replace(target: &TargetInfo, fault_name: &str, body: &[u8], state: &AdminState) -> Answer {
    let mut fault = parse(target, body, state)?;
    fault.name = fault_name.to_string();
    let answer = fault_json(&fault, 0);
    let replaced = change(target, state, |list| match list.iter_mut().find(|f| f.name == fault.name) {
        Some(slot) => {
            // Keep the id: the fault's decisions stay on the same seed stream.
            fault.id = slot.id;
            *slot = fault;
            true
        }
        None => false,
    })?;
    if replaced {
        Ok(ok(answer))
    } else {
        Err(no_fault(target, fault_name))
    }
}

/// Every fault of a target, on or off: the config's, the API's, and the
/// run's while one owns the faults; each with what it has done.
pub(super) fn all_faults(t: &TargetInfo, state: &AdminState) -> Value {
    let plan = t.switch.load();
    let applied = |name: &str| plan.faults.iter().find(|a| a.fault.name == name).map(|a| a.applied());
    let off = state.off.lock().unwrap_or_else(|p| p.into_inner()).get(&t.name).cloned().unwrap_or_default();
    let adhoc = state.adhoc.lock().unwrap_or_else(|p| p.into_inner()).get(&t.name).cloned().unwrap_or_default();
    let mut out = Vec::new();
    let mut listed = Vec::new();
    for (source, f) in t.base.iter().map(|f| ("config", f)).chain(adhoc.iter().map(|f| ("api", f))) {
        let mut v = fault_json(f, applied(&f.name).unwrap_or(0));
        v["on"] = json!(!off.contains(&f.name));
        v["source"] = json!(source);
        out.push(v);
        listed.push(f.name.clone());
    }
    for a in plan.faults.iter().filter(|a| !listed.contains(&a.fault.name)) {
        let mut v = fault_json(&a.fault, a.applied());
        v["on"] = json!(true);
        v["source"] = json!("run");
        out.push(v);
    }
    Value::Array(out)
}
