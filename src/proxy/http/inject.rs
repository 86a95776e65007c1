//! Carrying out the decided faults for one HTTP request, step by step,
//! around the forward to the upstream. A gRPC call gets its failures in
//! gRPC terms (`grpc.rs`), and no wait of a fault outlives its deadline.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tracing::debug;

use super::body::FaultyBody;
use super::conn::ClientConn;
use super::decision::Decision;
use super::forward::RequestBody;
use super::grpc::{self, Call};
use super::header_faults::{Chosen, HeaderGate};
use super::headers::Peer;
use super::recorded::Note;
use super::Outcome;
use super::{plain_response, Forwarder, ProxyBody};
use crate::config::ClientLimits;
use crate::fault::{
    ActiveFault, FaultSwitch, Fields, HttpKind, HttpWhenFull, Kind, OutageMode, Picked, RequestFacts, Step, TargetPlan,
};
use crate::record::classify::GracefulRules;
use crate::record::fields;
use crate::record::inflight::InFlight;

/// Why a request got no response: hyper closes the connection on `Err`
/// (HTTP/1.1) or resets the stream (HTTP/2, with the error code of the
/// `h2::Error` found among the causes, else `INTERNAL_ERROR`).
#[derive(Debug, thiserror::Error)]
pub enum Injected {
    #[error("connection reset by fault {0}")]
    Reset(String),
    #[error("stream reset by fault {fault}")]
    ResetStream {
        fault: String,
        #[source]
        code: h2::Error,
    },
    #[error("connection closed by fault {0}")]
    Closed(String),
}

impl Injected {
    /// The name of the fault that ended the request.
    pub fn fault(&self) -> &str {
        match self {
            Injected::Reset(f) | Injected::Closed(f) | Injected::ResetStream { fault: f, .. } => f,
        }
    }
}

/// What a request's handling may ask of, and tell about, what surrounds
/// it: its client connection, and the note kept for its record.
pub struct Around<'a> {
    pub peer: &'a Peer,
    pub conn: &'a ClientConn,
    pub note: Option<&'a Note>,
}

impl Around<'_> {
    fn held(&self, names: &[&str], grpc: Option<u16>) {
        if let Some(note) = self.note {
            note.held(names, grpc);
        }
    }
}

/// Applies a target's faults to its requests, then forwards what is left.
#[derive(Clone)]
pub struct Injector {
    switch: Arc<FaultSwitch>,
    forwarder: Forwarder,
    listener: Arc<str>,
    rules: Option<Arc<ArcSwap<GracefulRules>>>,
    in_flight: Arc<InFlight>,
    limits: ClientLimits,
    /// Faults requests may choose by header; `None` passes such headers on.
    header_gate: Option<Arc<HeaderGate>>,
}

impl Injector {
    pub fn new(switch: Arc<FaultSwitch>, forwarder: Forwarder) -> Self {
        let listener = Arc::from(forwarder.name());
        Injector {
            switch,
            forwarder,
            listener,
            rules: None,
            in_flight: InFlight::new(),
            limits: ClientLimits::HTTP,
            header_gate: None,
        }
    }

    /// Lets requests choose faults by header, within `policy`'s caps.
    pub fn with_header_faults(mut self, policy: Option<crate::config::HeaderFaults>) -> Self {
        self.header_gate = policy.map(|p| Arc::new(HeaderGate::new(p)));
        self
    }

    /// The target's header faults, if it takes them.
    pub fn header_gate(&self) -> Option<&Arc<HeaderGate>> {
        self.header_gate.as_ref()
    }

    /// Classifies every response by these rules (the observer does); a run
    /// started through the admin API swaps in its experiment's rules.
    pub fn with_rules(mut self, rules: GracefulRules) -> Self {
        self.rules = Some(Arc::new(ArcSwap::from_pointee(rules)));
        self
    }

    pub fn forwarder(&self) -> &Forwarder {
        &self.forwarder
    }

    pub fn listener(&self) -> &Arc<str> {
        &self.listener
    }

    /// How long its clients may idle or take to send a head.
    pub fn with_limits(mut self, limits: ClientLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &ClientLimits {
        &self.limits
    }

    /// The requests in flight here, tracked while a guardrail watches.
    pub fn in_flight(&self) -> &Arc<InFlight> {
        &self.in_flight
    }

    /// The rules in force now, if this listener classifies.
    pub fn rules(&self) -> Option<Arc<GracefulRules>> {
        self.rules.as_ref().map(|r| r.load_full())
    }

    /// Where the classification rules are swapped.
    pub fn rules_switch(&self) -> Option<&Arc<ArcSwap<GracefulRules>>> {
        self.rules.as_ref()
    }

    pub fn name(&self) -> &str {
        self.forwarder.name()
    }

    pub fn switch(&self) -> &Arc<FaultSwitch> {
        &self.switch
    }

    pub async fn handle(&self, req: Request<Incoming>, around: Around<'_>) -> Result<Response<ProxyBody>, Injected> {
        let mut req = req.map(RequestBody::Left);
        let plan = self.switch.load();
        if let Some(gate) = &self.header_gate {
            match gate.take(&mut req, self.name()) {
                Chosen::Nothing => {}
                Chosen::Refused(resp) => return Ok(resp),
                Chosen::Faults(chosen) => {
                    let plan = arc_swap::Guard::into_inner(plan);
                    // Boxed in a statement of its own: a temporary of the
                    // awaiting statement would keep its room in this future.
                    let injecting = Box::pin(self.inject_with_header_faults(plan, chosen, req, around));
                    return injecting.await;
                }
            }
        }
        // With no fault at the target nothing is decided (no seed drawn);
        // with no pick the request is forwarded as the injector would, without
        // its future.
        let picks = if plan.faults.is_empty() { Vec::new() } else { self.picks(&plan, &req, around.peer) };
        if picks.is_empty() {
            drop(plan);
            return Ok(self.forwarder.forward(req, around.peer, around.conn.reset_handle()).await);
        }
        let decision = Decision::new(arc_swap::Guard::into_inner(plan), picks);
        // Boxed (in a statement of its own, as above): the faulty path's
        // future is several times the plain forward's, and every request's
        // future would otherwise be that big.
        let injecting = Box::pin(self.inject(decision, req, around));
        injecting.await
    }

    /// The picks of `plan`'s faults for `req`, with the target's next seed.
    pub(super) fn picks(&self, plan: &TargetPlan, req: &Request<RequestBody>, peer: &Peer) -> Vec<Picked> {
        let facts = RequestFacts {
            method: req.method(),
            path: req.uri().path(),
            query: req.uri().query(),
            headers: Fields::Map(req.headers()),
            client: peer.addr.ip(),
        };
        Decision::picks(&self.switch, plan, &facts)
    }

    /// Carries out `decision` for one request: the faults in their steps,
    /// the forward, then what acts on the response.
    pub(super) async fn inject(
        &self,
        decision: Decision,
        req: Request<RequestBody>,
        around: Around<'_>,
    ) -> Result<Response<ProxyBody>, Injected> {
        let (peer, conn) = (around.peer, around.conn);
        let call = Call::of(req.headers(), Instant::now());
        let mut decision = decision;
        let plan = decision.plan.clone();
        let picks = std::mem::take(&mut decision.picks);
        let mut response_delay = Duration::ZERO;
        let mut response_delay_fault = None;
        let mut bandwidth: Option<u64> = None;
        let mut truncate: Option<u64> = None;
        let mut permit: Option<OwnedSemaphorePermit> = None;
        let mut names: Vec<&str> = Vec::new();
        for pick in picks {
            let active = &plan.faults[pick.index];
            let Kind::Http(kind) = &active.fault.kind else { continue };
            // Rate limits and pools count only the requests they hold back.
            let counted_later = matches!(pick.step, Step::RateLimit | Step::Pool);
            if !counted_later && !active.admit() {
                continue;
            }
            if !counted_later {
                names.push(&active.fault.name);
            }
            match (pick.step, kind) {
                (Step::GoAway, _) => {
                    self.applied(active, if conn.is_h2() { "goaway" } else { "connection: close" });
                    conn.drain();
                }
                (Step::Outage, HttpKind::Outage { mode }) => {
                    self.applied(active, &format!("{mode:?}").to_lowercase());
                    return match mode {
                        // Every stream of an HTTP/2 connection goes down with it.
                        OutageMode::Refuse | OutageMode::Reset if conn.is_h2() => {
                            conn.abort();
                            Err(Injected::Reset(active.fault.name.clone()))
                        }
                        OutageMode::Refuse | OutageMode::Reset => self.reset(active, conn, None),
                        OutageMode::Status(_) if call.is_some() => {
                            Ok(injected(grpc::unavailable(&self.down_text()), &names))
                        }
                        OutageMode::Status(status) => Ok(injected(self.down(*status), &names)),
                        OutageMode::Hang => self.hang(active, call, &names, &around).await,
                    };
                }
                (Step::RateLimit, HttpKind::RateLimit { .. }) if !decision.took_token(pick.index) => {
                    if let Err(wait) = active.take_token(Instant::now()) {
                        if active.admit() {
                            names.push(&active.fault.name);
                            if call.is_some() {
                                self.applied(active, &format!("RESOURCE_EXHAUSTED, retry after {wait:?}"));
                                return Ok(injected(grpc::rate_limited(wait), &names));
                            }
                            let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
                            self.applied(active, &format!("429, retry after {retry_after}s"));
                            return Ok(injected(too_many_requests(retry_after), &names));
                        }
                    }
                }
                (Step::Error, HttpKind::Error { status, headers, body }) => {
                    self.applied(active, &format!("status {}", status.as_u16()));
                    let mut resp = Response::new(full(body.clone()));
                    *resp.status_mut() = *status;
                    for (name, value) in headers {
                        resp.headers_mut().append(name, value.clone());
                    }
                    return Ok(injected(resp, &names));
                }
                (Step::Error, HttpKind::GrpcError { code, message, headers }) => {
                    self.applied(active, &format!("grpc-status {}", crate::grpc::code_name(*code)));
                    return Ok(injected(grpc::status(*code, message, headers), &names));
                }
                (Step::Reset, HttpKind::Reset { h2_code }) => {
                    self.applied(active, "reset");
                    return self.reset(active, conn, Some(*h2_code));
                }
                (Step::Hang, _) => {
                    self.applied(active, "hang");
                    return self.hang(active, call, &names, &around).await;
                }
                (Step::RequestDelay, _) => {
                    self.applied(active, &format!("delay {:?} before request", pick.delay));
                    if self.wait(pick.delay, active, call, &names, &around).await {
                        return Ok(injected(grpc::deadline_exceeded(), &names));
                    }
                }
                (Step::Pool, HttpKind::PoolExhaustion { when_full, .. }) => {
                    let slot = match decision.take_slot(pick.index) {
                        Some(slot) => Ok(Some(slot)),
                        None => {
                            around.held(&names, None);
                            self.pool_slot(active, *when_full, call, &names, &around).await
                        }
                    };
                    match slot {
                        Ok(slot) => permit = slot,
                        Err(Ok(resp)) => {
                            names.push(&active.fault.name);
                            return Ok(injected(resp, &names));
                        }
                        Err(Err(e)) => return Err(e),
                    }
                }
                (Step::ResponseDelay, _) => {
                    response_delay += pick.delay;
                    response_delay_fault = Some(active);
                }
                (Step::Bandwidth, HttpKind::Bandwidth { bytes_per_second }) => {
                    self.applied(active, &format!("{bytes_per_second} B/s"));
                    bandwidth = Some(bandwidth.map_or(*bytes_per_second, |b| b.min(*bytes_per_second)));
                }
                (Step::Truncate, HttpKind::Truncate { after_bytes }) => {
                    self.applied(active, &format!("cut after {after_bytes} bytes"));
                    truncate = Some(truncate.map_or(*after_bytes, |t| t.min(*after_bytes)));
                }
                _ => {}
            }
        }
        let mut resp = self.forwarder.forward(req, peer, conn.reset_handle()).await;
        if !names.is_empty() {
            let outcome = resp.extensions_mut().get_or_insert_default::<Outcome>();
            outcome.faults = Some(names.join(","));
        }
        if let Some(active) = response_delay_fault {
            self.applied(active, &format!("delay {response_delay:?} before response"));
            if self.wait(response_delay, active, call, &names, &around).await {
                return Ok(injected(grpc::deadline_exceeded(), &names));
            }
        }
        if bandwidth.is_none() && truncate.is_none() && permit.is_none() {
            return Ok(resp);
        }
        Ok(resp.map(|body| FaultyBody::new(body, bandwidth, truncate, permit).boxed()))
    }

    /// Waits `delay` for a latency fault, less if the fault ends first. A
    /// gRPC call whose deadline comes first waits only until then, and
    /// `true` says it is to end as `DEADLINE_EXCEEDED`.
    async fn wait(
        &self,
        delay: Duration,
        active: &ActiveFault,
        call: Option<Call>,
        names: &[&str],
        around: &Around<'_>,
    ) -> bool {
        let Some(deadline) = call.and_then(|c| c.cut(delay)) else {
            around.held(names, None);
            sleep_unless_ended(delay, active).await;
            return false;
        };
        around.held(names, Some(crate::grpc::DEADLINE_EXCEEDED));
        tokio::select! {
            () = crate::proxy::timer::sleep(deadline.saturating_duration_since(Instant::now())) => true,
            () = active.ended.cancelled() => false,
        }
    }

    /// Waits for a pool slot as the fault says. `Ok(None)` means the fault
    /// ended while waiting and the request goes on without a slot.
    async fn pool_slot(
        &self,
        active: &ActiveFault,
        when_full: HttpWhenFull,
        call: Option<Call>,
        names: &[&str],
        around: &Around<'_>,
    ) -> Result<Option<OwnedSemaphorePermit>, Result<Response<ProxyBody>, Injected>> {
        let Some(pool) = active.pool.clone() else { return Ok(None) };
        if let Ok(slot) = pool.clone().try_acquire_owned() {
            return Ok(Some(slot));
        }
        if !active.admit() {
            // Past its `first` limit the fault holds nobody back.
            return Ok(None);
        }
        let mut held: Vec<&str> = names.to_vec();
        held.push(&active.fault.name);
        match when_full {
            HttpWhenFull::Fail => {
                self.applied(active, "pool full: 503");
                Err(Ok(self.pool_full(StatusCode::SERVICE_UNAVAILABLE, call)))
            }
            HttpWhenFull::Hang => {
                self.applied(active, "pool full: hang");
                Err(self.hang(active, call, &held, around).await)
            }
            HttpWhenFull::Queue { timeout, status } => {
                let queued = Instant::now();
                // A call's deadline ends its wait in the queue, as its own.
                let (give_up, status) = match call.and_then(|c| c.cut(timeout)) {
                    Some(deadline) => (deadline, None),
                    None => (queued + timeout, Some(status)),
                };
                around.held(&held, status.is_none().then_some(crate::grpc::DEADLINE_EXCEEDED));
                tokio::select! {
                    slot = pool.acquire_owned() => {
                        self.applied(active, &format!("queued {:?}", queued.elapsed()));
                        Ok(slot.ok())
                    }
                    () = tokio::time::sleep_until(give_up) => match status {
                        Some(status) => {
                            self.applied(active, &format!("queued {timeout:?}, then {}", status.as_u16()));
                            Err(Ok(self.pool_full(status, call)))
                        }
                        None => {
                            self.applied(active, &format!("queued {:?}, past the call's deadline", queued.elapsed()));
                            Err(Ok(grpc::deadline_exceeded()))
                        }
                    },
                    () = active.ended.cancelled() => Ok(None),
                }
            }
        }
    }

    pub(super) fn applied(&self, active: &ActiveFault, what: &str) {
        super::recorded::fault_applied(&active.fault.name, active.fault.kind.name(), what);
        debug!(
            { fields::TARGET } = %self.name(),
            { fields::FAULT_NAME } = %active.fault.name,
            { fields::FAULT_KIND } = active.fault.kind.name(),
            { fields::FAULT_APPLIED } = what,
            { fields::ORIGIN } = fields::ORIGIN_INJECTED,
            "fault applied"
        );
    }

    /// Resets the connection (HTTP/1.1) or, on HTTP/2, the request's stream
    /// with `h2_code`.
    fn reset(
        &self,
        active: &ActiveFault,
        conn: &ClientConn,
        h2_code: Option<u32>,
    ) -> Result<Response<ProxyBody>, Injected> {
        let fault = active.fault.name.clone();
        if conn.is_h2() {
            let code = h2_code.unwrap_or(crate::fault::kinds::DEFAULT_H2_RESET_CODE);
            return Err(Injected::ResetStream { fault, code: h2::Error::from(h2::Reason::from(code)) });
        }
        conn.arm_reset();
        Err(Injected::Reset(fault))
    }

    /// No answer until the fault ends; then the connection is closed. A
    /// gRPC call with a deadline gets `DEADLINE_EXCEEDED` at its deadline.
    async fn hang(
        &self,
        active: &ActiveFault,
        call: Option<Call>,
        names: &[&str],
        around: &Around<'_>,
    ) -> Result<Response<ProxyBody>, Injected> {
        let deadline = call.and_then(|c| c.deadline);
        around.held(names, deadline.map(|_| crate::grpc::DEADLINE_EXCEEDED));
        match deadline {
            Some(deadline) => tokio::select! {
                () = active.ended.cancelled() => {}
                () = tokio::time::sleep_until(deadline) => return Ok(injected(grpc::deadline_exceeded(), names)),
            },
            None => active.ended.cancelled().await,
        }
        Err(Injected::Closed(active.fault.name.clone()))
    }

    fn down_text(&self) -> String {
        format!("upstream {} is unavailable\n", self.name())
    }

    fn down(&self, status: StatusCode) -> Response<ProxyBody> {
        plain_response(status, self.down_text())
    }

    /// 503 or 504; `UNAVAILABLE` for a gRPC call.
    fn pool_full(&self, status: StatusCode, call: Option<Call>) -> Response<ProxyBody> {
        let text = format!("upstream {} has no free connection\n", self.name());
        match call {
            Some(_) => grpc::unavailable(&text),
            None => plain_response(status, text),
        }
    }
}

/// Marks a response brownout synthesized for a fault.
fn injected(mut resp: Response<ProxyBody>, names: &[&str]) -> Response<ProxyBody> {
    resp.extensions_mut().insert(Outcome {
        faults: Some(names.join(",")),
        origin: Some(fields::ORIGIN_INJECTED),
        error: None,
    });
    resp
}

fn full(body: Bytes) -> ProxyBody {
    Full::new(body).map_err(|never| match never {}).boxed()
}

fn too_many_requests(retry_after: u64) -> Response<ProxyBody> {
    let mut resp = plain_response(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded\n".into());
    resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

/// A delay that ends early when its fault is removed.
pub(super) async fn sleep_unless_ended(delay: Duration, active: &ActiveFault) {
    tokio::select! {
        () = crate::proxy::timer::sleep(delay) => {}
        () = active.ended.cancelled() => {}
    }
}
