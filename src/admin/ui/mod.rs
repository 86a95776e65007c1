//! The control page at `/ui`: one self-contained page (its script and
//! styles inline, nothing fetched from elsewhere) that shows the targets
//! with live figures, their faults with switches and a form to add one,
//! a live feed of the last requests, and the runs; it changes things
//! through the admin API's own endpoints. `session.rs` keeps the page's
//! sessions, `state.rs` answers the page's reads, and `page.html`,
//! `page.css` and `page.js` are the page.

mod session;
mod state;

use std::sync::OnceLock;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

pub use session::{Session, Sessions, CSRF_HEADER};

use super::guard::{constant_time_eq, Passed};
use super::{error, ok, respond, AdminState};
use crate::proxy::http::ProxyBody;

/// What the control page keeps: its sessions, and the fault kinds' form.
#[derive(Default)]
pub struct Ui {
    pub sessions: Sessions,
    kinds: OnceLock<Value>,
}

const PAGE: &str = include_str!("page.html");
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// True for the requests the page answers itself, whoever asks: the page
/// (a form for the token when one is needed) and that form's answer.
pub fn is_page(method: &Method, path: &str) -> bool {
    (path == "/ui" && matches!(*method, Method::GET | Method::HEAD)) || (path == "/ui/login" && method == Method::POST)
}

/// Answers `/ui` and `/ui/...`; `None` for any other path.
pub fn route(
    method: &Method,
    parts: &[&str],
    query: &str,
    body: &[u8],
    state: &AdminState,
    passed: &Passed,
) -> Option<Response<ProxyBody>> {
    let answer = match (method, parts) {
        (&Method::GET | &Method::HEAD, ["ui"]) => page(state, passed.session.as_ref()),
        (&Method::POST, ["ui", "login"]) => login(body, state, passed.session.as_ref()),
        (&Method::GET, ["ui", "state"]) => ok(state::state(state)),
        (&Method::GET, ["ui", "feed"]) => ok(state::feed(state, query)),
        (&Method::GET, ["ui", "kinds"]) => match kinds(state) {
            Ok(v) => ok(v.clone()),
            Err(why) => error(StatusCode::INTERNAL_SERVER_ERROR, &why),
        },
        (_, ["ui", ..]) => {
            let path = parts.join("/");
            error(StatusCode::NOT_FOUND, &format!("no control page endpoint {method} /{path}"))
        }
        _ => return None,
    };
    Some(answer)
}

/// The fault kinds with the schema of each key, built once.
fn kinds(state: &AdminState) -> Result<&Value, String> {
    if let Some(v) = state.ui.kinds.get() {
        return Ok(v);
    }
    let built = state::kinds()?;
    Ok(state.ui.kinds.get_or_init(|| built))
}

/// The page, or the token form when a token is configured and this
/// browser has not given it; a browser without a session gets one.
fn page(state: &AdminState, session: Option<&Session>) -> Response<ProxyBody> {
    let (session, new) = match session {
        Some(s) => (s.clone(), false),
        None => match state.ui.sessions.open(state.token.is_none()) {
            Some(s) => (s, true),
            None => return error(StatusCode::INTERNAL_SERVER_ERROR, "no randomness for a session id"),
        },
    };
    let view = if session.authenticated { "control" } else { "login" };
    let nonce = session.csrf.get(..16).unwrap_or("0");
    let html = PAGE
        .replace("{{style}}", STYLE)
        .replace("{{script}}", SCRIPT)
        .replace("{{nonce}}", nonce)
        .replace("{{csrf}}", &session.csrf)
        .replace("{{view}}", view);
    let mut resp = Response::new(Full::new(Bytes::from(html)).map_err(|never| match never {}).boxed());
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if new {
        h.insert(header::SET_COOKIE, session::set_cookie(&session));
    }
    resp
}

/// `{"token": "..."}` from the token form: the session then stands for the token.
fn login(body: &[u8], state: &AdminState, session: Option<&Session>) -> Response<ProxyBody> {
    let Some(session) = session else {
        return error(StatusCode::FORBIDDEN, "open /ui first: the token is given through the page's session");
    };
    let Some(token) = &state.token else {
        return respond(StatusCode::OK, json!({"signed_in": true, "token_needed": false}));
    };
    let given: Option<String> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_string));
    let Some(given) = given else {
        return error(StatusCode::BAD_REQUEST, "the body must be {\"token\": \"<the admin token>\"}");
    };
    if !constant_time_eq(given.trim().as_bytes(), token.0.as_bytes()) {
        return error(StatusCode::UNAUTHORIZED, "wrong token");
    }
    state.ui.sessions.authenticate(&session.id);
    respond(StatusCode::OK, json!({"signed_in": true}))
}
