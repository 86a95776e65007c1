//! Carrying out the decided faults for one HTTP request, step by step,
//! around the forward to the upstream.

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
use super::decision::Decision;
use super::forward::RequestBody;
use super::headers::Peer;
use super::Outcome;
use super::{plain_response, Forwarder, ProxyBody};
use crate::config::ClientLimits;
use crate::fault::{ActiveFault, FaultSwitch, Fields, HttpKind, HttpWhenFull, Kind, OutageMode, RequestFacts, Step};
use crate::proxy::reset::ResetHandle;
use crate::record::classify::GracefulRules;
use crate::record::fields;
use crate::record::inflight::InFlight;

/// Why a request got no response: hyper closes the connection on `Err`.
#[derive(Debug, thiserror::Error)]
pub enum Injected {
    #[error("connection reset by fault {0}")]
    Reset(String),
    #[error("connection closed by fault {0}")]
    Closed(String),
}

impl Injected {
    /// The name of the fault that ended the request.
    pub fn fault(&self) -> &str {
        match self {
            Injected::Reset(f) | Injected::Closed(f) => f,
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
}

impl Injector {
    pub fn new(switch: Arc<FaultSwitch>, forwarder: Forwarder) -> Self {
        let listener = Arc::from(forwarder.name());
        Injector { switch, forwarder, listener, rules: None, in_flight: InFlight::new(), limits: ClientLimits::HTTP }
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

    pub async fn handle(
        &self,
        req: Request<Incoming>,
        peer: &Peer,
        conn: &ResetHandle,
    ) -> Result<Response<ProxyBody>, Injected> {
        let req = req.map(RequestBody::Left);
        let plan = self.switch.load();
        if plan.faults.is_empty() {
            drop(plan);
            return Ok(self.forwarder.forward(req, peer, conn).await);
        }
        let facts = RequestFacts {
            method: req.method(),
            path: req.uri().path(),
            query: req.uri().query(),
            headers: Fields::Map(req.headers()),
            client: peer.addr.ip(),
        };
        let decision = Decision::new(&self.switch, arc_swap::Guard::into_inner(plan), &facts);
        // Boxed: the faulty path's future is several times the plain
        // forward's, and every request's future would otherwise be that big.
        Box::pin(self.inject(decision, req, peer, conn)).await
    }

    /// Carries out `decision` for one request: the faults in their steps,
    /// the forward, then what acts on the response.
    pub async fn inject(
        &self,
        decision: Decision,
        req: Request<RequestBody>,
        peer: &Peer,
        conn: &ResetHandle,
    ) -> Result<Response<ProxyBody>, Injected> {
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
                (Step::Outage, HttpKind::Outage { mode }) => {
                    self.applied(active, &format!("{mode:?}").to_lowercase());
                    return match mode {
                        OutageMode::Refuse | OutageMode::Reset => self.reset(active, conn),
                        OutageMode::Status(status) => Ok(injected(self.down(*status), &names)),
                        OutageMode::Hang => self.hang(active).await,
                    };
                }
                (Step::RateLimit, HttpKind::RateLimit { .. }) if !decision.took_token(pick.index) => {
                    if let Err(wait) = active.take_token(Instant::now()) {
                        if active.admit() {
                            let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
                            self.applied(active, &format!("429, retry after {retry_after}s"));
                            names.push(&active.fault.name);
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
                (Step::Reset, _) => {
                    self.applied(active, "reset");
                    return self.reset(active, conn);
                }
                (Step::Hang, _) => {
                    self.applied(active, "hang");
                    return self.hang(active).await;
                }
                (Step::RequestDelay, _) => {
                    self.applied(active, &format!("delay {:?} before request", pick.delay));
                    sleep_unless_ended(pick.delay, active).await;
                }
                (Step::Pool, HttpKind::PoolExhaustion { when_full, .. }) => {
                    let slot = match decision.take_slot(pick.index) {
                        Some(slot) => Ok(Some(slot)),
                        None => self.pool_slot(active, *when_full).await,
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
        let mut resp = self.forwarder.forward(req, peer, conn).await;
        if !names.is_empty() {
            let outcome = resp.extensions_mut().get_or_insert_default::<Outcome>();
            outcome.faults = Some(names.join(","));
        }
        if let Some(active) = response_delay_fault {
            self.applied(active, &format!("delay {response_delay:?} before response"));
            sleep_unless_ended(response_delay, active).await;
        }
        if bandwidth.is_none() && truncate.is_none() && permit.is_none() {
            return Ok(resp);
        }
        Ok(resp.map(|body| FaultyBody::new(body, bandwidth, truncate, permit).boxed()))
    }

    /// Waits for a pool slot as the fault says. `Ok(None)` means the fault
    /// ended while waiting and the request goes on without a slot.
    async fn pool_slot(
        &self,
        active: &ActiveFault,
        when_full: HttpWhenFull,
    ) -> Result<Option<OwnedSemaphorePermit>, Result<Response<ProxyBody>, Injected>> {
        let Some(pool) = active.pool.clone() else { return Ok(None) };
        if let Ok(slot) = pool.clone().try_acquire_owned() {
            return Ok(Some(slot));
        }
        if !active.admit() {
            // Past its `first` limit the fault holds nobody back.
            return Ok(None);
        }
        match when_full {
            HttpWhenFull::Fail => {
                self.applied(active, "pool full: 503");
                Err(Ok(self.pool_full(StatusCode::SERVICE_UNAVAILABLE)))
            }
            HttpWhenFull::Hang => {
                self.applied(active, "pool full: hang");
                Err(self.hang(active).await)
            }
            HttpWhenFull::Queue { timeout, status } => {
                let queued = Instant::now();
                tokio::select! {
                    slot = pool.acquire_owned() => {
                        self.applied(active, &format!("queued {:?}", queued.elapsed()));
                        Ok(slot.ok())
                    }
                    () = tokio::time::sleep(timeout) => {
                        self.applied(active, &format!("queued {timeout:?}, then {}", status.as_u16()));
                        Err(Ok(self.pool_full(status)))
                    }
                    () = active.ended.cancelled() => Ok(None),
                }
            }
        }
    }

    pub(super) fn applied(&self, active: &ActiveFault, what: &str) {
        debug!(
            { fields::TARGET } = %self.name(),
            { fields::FAULT_NAME } = %active.fault.name,
            { fields::FAULT_KIND } = active.fault.kind.name(),
            { fields::FAULT_APPLIED } = what,
            { fields::ORIGIN } = fields::ORIGIN_INJECTED,
            "fault applied"
        );
    }

    fn reset(&self, active: &ActiveFault, conn: &ResetHandle) -> Result<Response<ProxyBody>, Injected> {
        conn.arm();
        Err(Injected::Reset(active.fault.name.clone()))
    }

    /// No answer until the fault ends; then the connection is closed.
    async fn hang(&self, active: &ActiveFault) -> Result<Response<ProxyBody>, Injected> {
        active.ended.cancelled().await;
        Err(Injected::Closed(active.fault.name.clone()))
    }

    fn down(&self, status: StatusCode) -> Response<ProxyBody> {
        plain_response(status, format!("upstream {} is unavailable\n", self.name()))
    }

    fn pool_full(&self, status: StatusCode) -> Response<ProxyBody> {
        plain_response(status, format!("upstream {} has no free connection\n", self.name()))
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
