//! What a fault can do to the client connection a request came on, beyond
//! the request itself: reset it (TCP RST), drain it (HTTP/2 GOAWAY, or
//! `Connection: close` on HTTP/1.1), or abort it at once. The service asks;
//! the connection's own future (`Served`) carries it out.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

use crate::proxy::reset::ResetHandle;

/// A request's view of its client connection. Cheap to clone.
#[derive(Clone)]
pub struct ClientConn {
    reset: ResetHandle,
    control: Arc<Control>,
    h2: bool,
}

/// What the connection's future is asked to do, and the waker to ask it with.
#[derive(Default)]
pub(super) struct Control {
    asked: AtomicU8,
    waker: Mutex<Option<Waker>>,
}

const NOTHING: u8 = 0;
const DRAIN: u8 = 1;
const ABORT: u8 = 2;

/// What the connection is to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Asked {
    Nothing,
    /// Finish what is in flight, take no more requests, close.
    Drain,
    /// Close now; with the reset armed, with RST.
    Abort,
}

impl ClientConn {
    pub(super) fn new(reset: ResetHandle, h2: bool) -> (Self, Arc<Control>) {
        let control = Arc::new(Control::default());
        (ClientConn { reset, control: control.clone(), h2 }, control)
    }

    /// True on HTTP/2, where a request is a stream of a shared connection.
    pub fn is_h2(&self) -> bool {
        self.h2
    }

    /// What arms the connection's reset.
    pub fn reset_handle(&self) -> &ResetHandle {
        &self.reset
    }

    /// From now on, closing the connection sends RST.
    pub fn arm_reset(&self) {
        self.reset.arm();
    }

    /// Drains the connection: GOAWAY on HTTP/2, `Connection: close` on
    /// HTTP/1.1; requests in flight are answered first.
    pub fn drain(&self) {
        self.control.ask(DRAIN);
    }

    /// Resets the whole connection now, every stream on it included.
    pub fn abort(&self) {
        self.reset.arm();
        self.control.ask(ABORT);
    }
}

impl Control {
    fn ask(&self, what: u8) {
        self.asked.fetch_max(what, Ordering::AcqRel);
        if let Some(waker) = self.waker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            waker.wake();
        }
    }

    /// What is asked now, for a caller that looks once and waits on nothing.
    pub(super) fn asked(&self) -> Asked {
        match self.asked.load(Ordering::Acquire) {
            NOTHING => Asked::Nothing,
            DRAIN => Asked::Drain,
            _ => Asked::Abort,
        }
    }

    /// What is asked; registers `cx` to be woken when something is.
    pub(super) fn poll(&self, cx: &Context<'_>) -> Asked {
        let now = self.asked();
        if now != Asked::Nothing {
            return now;
        }
        {
            let mut slot = self.waker.lock().unwrap_or_else(|p| p.into_inner());
            match &*slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        // Asked between the load and the registration: seen now.
        self.asked()
    }
}
