//! Runs through the admin API: start one from an experiment (a file on the
//! server or the TOML in the body), follow it, stop it, fetch its reports
//! (of the run so far while it is in progress).

use std::path::Path;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use super::{ok, respond, AdminState, Refused};
use crate::proxy::http::ProxyBody;
use crate::run::{RunHandle, StartRunError};

type Answer = Result<Response<ProxyBody>, Refused>;

pub(super) async fn route(method: &Method, parts: &[&str], body: &[u8], state: &AdminState) -> Response<ProxyBody> {
    let answer = match (method, parts) {
        (&Method::GET, ["run"]) => current(state, StatusCode::NOT_FOUND).map(|run| ok(run.status())),
        (&Method::POST, ["run", "stop"]) => current(state, StatusCode::CONFLICT).and_then(|run| stop(&run)),
        (&Method::GET, ["runs"]) => {
            Ok(ok(json!({"runs": state.runs.all().iter().map(|r| r.status()).collect::<Vec<_>>()})))
        }
        (&Method::POST, ["runs"]) => start(body, state),
        (&Method::GET, ["runs", id]) => find(state, id).map(|run| ok(run.status())),
        (&Method::POST, ["runs", id, "stop"]) => find(state, id).and_then(|run| stop(&run)),
        (&Method::GET, ["runs", id, file]) => match Format::of(file) {
            Some(format) => match find(state, id) {
                Ok(run) => report(run, format).await,
                Err(refused) => Err(refused),
            },
            None => Err(not_found(method, parts)),
        },
        _ => Err(not_found(method, parts)),
    };
    answer.unwrap_or_else(Refused::into_response)
}

fn not_found(method: &Method, parts: &[&str]) -> Refused {
    Refused(StatusCode::NOT_FOUND, format!("no admin endpoint {method} /{}", parts.join("/")))
}

fn current(state: &AdminState, none: StatusCode) -> Result<std::sync::Arc<RunHandle>, Refused> {
    state.runs.current().ok_or_else(|| Refused(none, "no run in progress".into()))
}

fn find(state: &AdminState, id: &str) -> Result<std::sync::Arc<RunHandle>, Refused> {
    let known = || {
        let ids: Vec<String> = state.runs.all().iter().map(|r| r.id.to_string()).collect();
        if ids.is_empty() {
            "there has been no run yet".to_string()
        } else {
            format!("runs: {}", ids.join(", "))
        }
    };
    let n: u64 = id
        .parse()
        .map_err(|_| Refused(StatusCode::NOT_FOUND, format!("{id:?} is not a run id (a number); {}", known())))?;
    state.runs.get(n).ok_or_else(|| Refused(StatusCode::NOT_FOUND, format!("no run {n}; {}", known())))
}

fn stop(run: &RunHandle) -> Answer {
    if run.is_over() {
        return Err(Refused(StatusCode::CONFLICT, format!("run {} is already over", run.id)));
    }
    if run.stop.is_cancelled() {
        return Err(Refused(StatusCode::CONFLICT, format!("run {} is already stopping", run.id)));
    }
    run.stop.cancel();
    Ok(respond(StatusCode::ACCEPTED, json!({"id": run.id, "stopping": true})))
}

/// `{"file": "experiments/x.toml"}` (a path on the server), or the
/// experiment's TOML itself.
fn start(body: &[u8], state: &AdminState) -> Answer {
    let Some(serving) = state.runs.serving() else {
        return Err(match state.runs.current() {
            Some(run) => conflict(StartRunError::Busy { id: run.id, title: run.title.clone() }),
            None => conflict(StartRunError::NoLauncher),
        });
    };
    let text = std::str::from_utf8(body)
        .map_err(|_| Refused(StatusCode::BAD_REQUEST, "the body is neither JSON nor TOML: it is not UTF-8".into()))?;
    let invalid = |e: crate::config::FileError| Refused(StatusCode::BAD_REQUEST, e.to_string());
    let exp = if text.trim_start().starts_with('{') {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Refused(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {e}")))?;
        let file = match &value {
            Value::Object(map) if map.len() == 1 => map.get("file").and_then(Value::as_str),
            _ => None,
        }
        .ok_or_else(|| {
            Refused(
                StatusCode::BAD_REQUEST,
                format!("a JSON body must be {{\"file\": \"<experiment path on the server>\"}}, got {value}"),
            )
        })?;
        let path = experiment_file(file, &state.experiments_dir)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Refused(StatusCode::BAD_REQUEST, format!("cannot read experiment file {file:?}: {e}")))?;
        crate::experiment::parse_for(file, &text, path.parent(), serving, state.runs.standards()).map_err(invalid)?
    } else if text.trim().is_empty() {
        return Err(Refused(
            StatusCode::BAD_REQUEST,
            "the body is empty: send an experiment's TOML or {\"file\": \"<path on the server>\"}".into(),
        ));
    } else {
        let cwd = std::env::current_dir().ok();
        crate::experiment::parse_for("request body", text, cwd.as_deref(), serving, state.runs.standards())
            .map_err(invalid)?
    };
    let run = state.runs.launch(exp).map_err(conflict)?;
    let mut resp = respond(StatusCode::CREATED, run.status());
    if let Ok(location) = http::HeaderValue::from_str(&format!("/runs/{}", run.id)) {
        resp.headers_mut().insert(http::header::LOCATION, location);
    }
    Ok(resp)
}

/// The experiment file `file` names (relative to the working directory, or
/// else to the experiments directory), if it lies inside the experiments
/// directory: the API reads no other file, so that it cannot be made to
/// show parts of one.
fn experiment_file(file: &str, dir: &Path) -> Result<std::path::PathBuf, Refused> {
    // One answer for a file outside, missing or unreadable alike, so that
    // the API tells nothing of files it will not read.
    let refused = Refused(
        StatusCode::FORBIDDEN,
        format!(
            "{file:?} is not an experiment file in {}, the only directory runs are read from; set admin.experiments_dir to read from another",
            dir.display()
        ),
    );
    let Ok(dir) = dir.canonicalize() else { return Err(refused) };
    let given = Path::new(file);
    [given.to_path_buf(), dir.join(given)]
        .into_iter()
        .filter_map(|p| p.canonicalize().ok())
        .find(|p| p.starts_with(&dir) && p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .ok_or(refused)
}

fn conflict(e: StartRunError) -> Refused {
    let status = match e {
        StartRunError::Busy { .. } | StartRunError::NoLauncher => StatusCode::CONFLICT,
        StartRunError::Unfit(_) => StatusCode::BAD_REQUEST,
        StartRunError::Journal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Refused(status, e.to_string())
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Markdown,
    Html,
}

impl Format {
    fn of(file: &str) -> Option<Format> {
        match file {
            "report" | "report.json" => Some(Format::Json),
            "report.md" => Some(Format::Markdown),
            "report.html" => Some(Format::Html),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// The written report of a finished run, or one computed from the journal
/// so far for a run in progress.
async fn report(run: std::sync::Arc<RunHandle>, format: Format) -> Answer {
    let text = tokio::task::spawn_blocking(move || -> Result<String, Refused> {
        if let Some(written) = run.reports() {
            let path = match format {
                Format::Json => written.json,
                Format::Markdown => written.markdown,
                Format::Html => written.html,
            };
            return std::fs::read_to_string(&path).map_err(|e| {
                Refused(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read {}: {e}", path.display()))
            });
        }
        if run.is_over() {
            return Err(Refused(StatusCode::NOT_FOUND, format!("run {} ended without reports", run.id)));
        }
        let report = crate::report::from_file(&run.journal())
            .map_err(|e| Refused(StatusCode::INTERNAL_SERVER_ERROR, format!("no report of run {} yet: {e}", run.id)))?;
        Ok(match format {
            Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default(),
            Format::Markdown => crate::report::markdown::render(&report),
            Format::Html => crate::report::html::render(&report),
        })
    })
    .await
    .map_err(|e| Refused(StatusCode::INTERNAL_SERVER_ERROR, format!("the report could not be built: {e}")))??;
    let mut resp = Response::new(Full::new(Bytes::from(text)).map_err(|never| match never {}).boxed());
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(format.content_type()));
    Ok(resp)
}
