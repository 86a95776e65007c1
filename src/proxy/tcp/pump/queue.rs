//! A direction under faults: a reader and a writer joined by a queue, each
//! chunk stamped with the time it arrived and written as its plan says.

use std::io;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pace::write_paced;
use super::plan::{acts_on, covering, plan_chunk, slow_close};
use super::{ConnFaults, Ending};
use crate::fault::rng::{mix, Rng};
use crate::fault::{Direction, TcpKind};

/// The most read from a socket at once.
pub(super) const CHUNK: usize = 16 * 1024;
/// Bytes a direction may hold between reading and writing. A slow writer
/// stops the reader at this, so memory stays bounded.
const BUDGET: usize = 64 * 1024;
/// The same while a latency fault delays the direction: enough to keep
/// several MiB/s flowing under a delay of a second.
const BUDGET_DELAYED: usize = 8 * 1024 * 1024;

/// The bytes a direction holds between its reader and writer.
#[derive(Default)]
struct Queued {
    bytes: std::sync::atomic::AtomicUsize,
    drained: tokio::sync::Notify,
    /// Bytes the direction sent before the queue was made.
    before: u64,
}

/// What a reader hands its writer. A chunk is boxed so that the queue's
/// slots stay small: the queue's first block is allocated whole.
enum FromReader {
    Data(Box<(Bytes, Instant)>),
    Eof,
    Failed,
    /// No fault acts on the direction any more and nothing is queued: it
    /// passes straight through again.
    Resume,
}

/// A direction as a reader and a writer joined by a queue, the bytes
/// `passed` before counted as sent. Returns the bytes sent in all, and
/// whether the direction goes back to passing through.
pub(super) async fn queued(
    from: &TcpStream,
    to: &TcpStream,
    flow: Direction,
    faults: &ConnFaults,
    kill: &CancellationToken,
    ending: &Ending,
    passed: u64,
) -> (u64, bool) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Queued { before: passed, ..Queued::default() };
    let ((), sent) = tokio::join!(
        reader(from, tx, flow, faults, &queued, kill, ending),
        writer(to, rx, flow, faults, &queued, kill, ending)
    );
    sent
}

/// How many bytes the direction may queue now.
fn budget(faults: &ConnFaults, flow: Direction) -> usize {
    let now = Instant::now();
    let delayed = faults.snapshot().iter().any(|a| matches!(covering(a, flow, now), Some(TcpKind::Latency { .. })));
    if delayed {
        BUDGET_DELAYED
    } else {
        BUDGET
    }
}

async fn reader(
    from: &TcpStream,
    tx: mpsc::UnboundedSender<FromReader>,
    flow: Direction,
    faults: &ConnFaults,
    queued: &Queued,
    kill: &CancellationToken,
    ending: &Ending,
) {
    loop {
        while queued.bytes.load(Ordering::Acquire) >= budget(faults, flow) {
            tokio::select! {
                () = queued.drained.notified() => {}
                () = kill.cancelled() => return,
            }
        }
        let ready = tokio::select! {
            ready = from.readable() => ready,
            () = kill.cancelled() => return,
        };
        if ready.is_err() {
            let _ = tx.send(FromReader::Failed);
            return;
        }
        ending.touch();
        if queued.bytes.load(Ordering::Acquire) == 0 && !acts_on(faults, flow) {
            let _ = tx.send(FromReader::Resume);
            return;
        }
        let mut buf = BytesMut::with_capacity(CHUNK);
        match from.try_read_buf(&mut buf) {
            Ok(0) => {
                let _ = tx.send(FromReader::Eof);
                return;
            }
            Ok(n) => {
                queued.bytes.fetch_add(n, Ordering::AcqRel);
                if tx.send(FromReader::Data(Box::new((buf.freeze(), Instant::now())))).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => {
                let _ = tx.send(FromReader::Failed);
                return;
            }
        }
    }
}

async fn writer(
    to: &TcpStream,
    mut rx: mpsc::UnboundedReceiver<FromReader>,
    flow: Direction,
    faults: &ConnFaults,
    queued: &Queued,
    kill: &CancellationToken,
    ending: &Ending,
) -> (u64, bool) {
    let mut sent = queued.before;
    let mut chunks = 0u64;
    let mut next_free: Option<Instant> = None;
    let mut announced: Vec<u64> = Vec::new();
    let flow_seed = mix(faults.seed(), flow as u64);
    loop {
        let msg = tokio::select! {
            msg = rx.recv() => msg,
            () = kill.cancelled() => break,
        };
        let (mut data, arrived) = match msg {
            Some(FromReader::Data(chunk)) => *chunk,
            Some(FromReader::Eof) => {
                if let Some(delay) = slow_close(faults, flow) {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = kill.cancelled() => break,
                    }
                }
                let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
                break;
            }
            Some(FromReader::Resume) => return (sent, true),
            None | Some(FromReader::Failed) => {
                kill.cancel();
                break;
            }
        };
        chunks += 1;
        let _release = Release(queued, data.len());
        let mut rng = Rng::new(mix(flow_seed, chunks));
        let plan = plan_chunk(faults, flow, arrived, sent, &mut rng, &mut announced);
        if plan.drop {
            continue;
        }
        let mut limit_hit = false;
        if let Some(left) = plan.limit {
            if data.len() as u64 >= left {
                data.truncate(usize::try_from(left).unwrap_or(usize::MAX));
                limit_hit = true;
            }
        }
        if let Some(due) = plan.due {
            tokio::select! {
                () = crate::proxy::timer::sleep_until(due) => {}
                () = kill.cancelled() => break,
            }
        }
        let len = data.len() as u64;
        if write_paced(to, data, &plan, &mut next_free, &mut rng, kill).await.is_err() {
            kill.cancel();
            break;
        }
        sent += len;
        if limit_hit {
            ending.by_fault.store(true, Ordering::Relaxed);
            kill.cancel();
            break;
        }
    }
    (sent, false)
}

/// Gives a chunk's bytes back to the direction's budget once it is written
/// (or dropped), waking the reader if it waits.
struct Release<'a>(&'a Queued, usize);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.bytes.fetch_sub(self.1, Ordering::AcqRel);
        self.0.drained.notify_one();
    }
}
