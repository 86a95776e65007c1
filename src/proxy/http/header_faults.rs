//! Faults a request chooses by header, on a target that allows it: read and
//! removed from the request before it goes anywhere, counted against the
//! target's `max_active`, applied with the target's own faults, and let go
//! after `max_delay` at the latest. Reading them is
//! `config::fault::header`'s; this file carries them out.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::debug;

use super::decision::Decision;
use super::forward::RequestBody;
use super::{plain_response, Around, BoxError, Injected, Injector, Outcome, ProxyBody};
use crate::config::fault::header;
use crate::config::HeaderFaults;
use crate::fault::{ActiveFault, TargetPlan};
use crate::record::fields;

/// A target's header faults: its caps, and the count of requests it let
/// pass without their faults because `max_active` were in progress.
#[derive(Debug)]
pub struct HeaderGate {
    policy: HeaderFaults,
    slots: Option<Arc<Semaphore>>,
    overflow: Arc<AtomicU64>,
}

/// What a request's headers chose.
pub enum Chosen {
    /// Nothing: no fault header, or none of its faults may act now.
    Nothing,
    /// Faults for this request alone.
    Faults(RequestFaults),
    /// A fault header brownout cannot read: the client gets a 400 saying why.
    Refused(Response<ProxyBody>),
}

/// The faults one request chose, and what they hold until it ends.
pub struct RequestFaults {
    faults: Vec<Arc<ActiveFault>>,
    ended: CancellationToken,
    slot: Option<OwnedSemaphorePermit>,
}

impl HeaderGate {
    pub fn new(policy: HeaderFaults) -> Self {
        let slots = policy.max_active.map(|n| Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS))));
        HeaderGate { policy, slots, overflow: Arc::default() }
    }

    /// Requests that passed without their header faults, `max_active` being in progress.
    pub fn overflow(&self) -> &Arc<AtomicU64> {
        &self.overflow
    }

    /// Reads and removes the fault headers of `req`.
    pub fn take<B>(&self, req: &mut Request<B>, target: &str) -> Chosen {
        if !header::present(req.headers()) {
            return Chosen::Nothing;
        }
        let read = header::read(req.headers(), &self.policy);
        header::strip(req.headers_mut());
        let faults = match read {
            Ok(faults) if faults.is_empty() => return Chosen::Nothing,
            Ok(faults) => faults,
            Err(why) => return Chosen::Refused(refused(why)),
        };
        let slot = match &self.slots {
            None => None,
            Some(slots) => match slots.clone().try_acquire_owned() {
                Ok(slot) => Some(slot),
                Err(_) => {
                    self.overflow.fetch_add(1, Ordering::Relaxed);
                    debug!({ fields::TARGET } = %target, "header faults at max_active: the request passes without them");
                    return Chosen::Nothing;
                }
            },
        };
        let (now, ended) = (Instant::now(), CancellationToken::new());
        let faults = faults.into_iter().map(|f| Arc::new(ActiveFault::for_request(f, now, ended.clone()))).collect();
        Chosen::Faults(RequestFaults { faults, ended, slot })
    }
}

/// A 400 naming the header, the value and what was expected; the client's mistake.
fn refused(why: String) -> Response<ProxyBody> {
    let mut resp = plain_response(StatusCode::BAD_REQUEST, format!("{why}\n"));
    resp.extensions_mut().insert(Outcome { faults: None, origin: Some(fields::ORIGIN_CLIENT), error: None });
    resp
}

impl Injector {
    /// Applies the target's faults and the request's own (after them), so
    /// that no header fault holds the request past `max_delay`: then every
    /// one of them ends, as a removed fault does. The request's slot of
    /// `max_active` is held until its response body ends.
    pub(super) async fn inject_with_header_faults(
        &self,
        plan: Arc<TargetPlan>,
        chosen: RequestFaults,
        req: Request<RequestBody>,
        around: Around<'_>,
    ) -> Result<Response<ProxyBody>, Injected> {
        let RequestFaults { faults, ended, slot } = chosen;
        let mut all = plan.faults.clone();
        all.extend(faults);
        let plan = Arc::new(TargetPlan { generation: plan.generation, faults: all });
        let limit = self.header_gate().map_or(crate::config::DEFAULT_MAX_DELAY, |g| g.policy.max_delay);
        let picks = self.picks(&plan, &req, around.peer);
        let decision = Decision::new(plan, picks);
        let handling = self.inject(decision, req, around);
        tokio::pin!(handling);
        let answered = tokio::select! {
            biased;
            answered = &mut handling => answered,
            () = tokio::time::sleep(limit) => {
                ended.cancel();
                handling.await
            }
        };
        let hold = Hold { slot, _ended: ended.drop_guard() };
        answered.map(|resp| resp.map(|inner| Holding { inner, _hold: hold }.boxed()))
    }
}

/// What a request's header faults hold while its response goes out.
struct Hold {
    slot: Option<OwnedSemaphorePermit>,
    _ended: DropGuard,
}

/// A response body that holds its request's header faults until it ends.
struct Holding {
    inner: ProxyBody,
    _hold: Hold,
}

impl Body for Holding {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            // The slot is free once the body is over, not when hyper drops it.
            self._hold.slot.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
