//! Moving bytes between the two sockets of a TCP connection, per direction,
//! with the byte-level faults applied per chunk.
//!
//! Each direction is a reader and a writer joined by a short queue: the
//! reader stamps every chunk with the time it arrived, so a latency fault
//! delays each chunk by its delay minus the time it already waited, and
//! throughput is kept. While the target has no fault a direction is a
//! plain pass-through (`pass`): the queue is made when a fault appears and
//! given up once none is left and it is empty. Buffers are allocated only
//! when data is readable, so an idle connection holds none.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pass::{pass, write_all, Passed};
use super::ConnFaults;
use crate::fault::rng::{mix, Rng};
use crate::fault::{ActiveFault, Direction, Kind, OutageMode, TcpKind};

/// The most read from a socket at once.
const CHUNK: usize = 16 * 1024;
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
    /// No fault is left at the target and nothing is queued: the direction
    /// passes straight through again.
    Resume,
}

/// How the connection ends.
#[derive(Default)]
struct Ending {
    reset_client: AtomicBool,
    /// A fault ended the connection (reset, close after a time or a limit).
    by_fault: AtomicBool,
    /// When a byte (or the end) last came either way, in milliseconds
    /// since the connection was pumped: the idle timeout's clock.
    active_ms: std::sync::atomic::AtomicU64,
    born: Option<Instant>,
}

impl Ending {
    fn new() -> Self {
        Ending { born: Some(Instant::now()), ..Ending::default() }
    }

    /// Something came from one side: the connection is not idle.
    fn touch(&self) {
        if let Some(born) = self.born {
            self.active_ms.store(born.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
    }

    /// When the connection goes idle for `idle`, unless bytes come before.
    fn idle_at(&self, idle: Duration) -> Option<Instant> {
        self.born.map(|born| born + Duration::from_millis(self.active_ms.load(Ordering::Relaxed)) + idle)
    }
}

/// What a pumped connection did.
pub struct Pumped {
    pub to_server: u64,
    pub to_client: u64,
    /// Set when a fault ended the connection: `reset` or `closed`.
    pub ended_by: Option<&'static str>,
}

/// Pumps both directions until both have ended, a fault ends the
/// connection, or no byte has come either way for `idle`.
pub async fn run(client: &TcpStream, server: &TcpStream, faults: &ConnFaults, idle: Option<Duration>) -> Pumped {
    let kill = CancellationToken::new();
    let ending = Ending::new();
    let pumps = async {
        tokio::join!(
            direction(client, server, Direction::Upstream, faults, &kill, &ending),
            direction(server, client, Direction::Downstream, faults, &kill, &ending),
        )
    };
    tokio::pin!(pumps);
    let sent = tokio::select! {
        sent = &mut pumps => sent,
        () = supervise(faults, &kill, &ending) => pumps.await,
        () = idle_out(idle, &ending) => {
            kill.cancel();
            pumps.await
        }
    };
    let reset = ending.reset_client.load(Ordering::Relaxed);
    if reset {
        let _ = client.set_zero_linger();
    }
    let ended_by = match (reset, ending.by_fault.load(Ordering::Relaxed)) {
        (true, _) => Some("reset"),
        (false, true) => Some("closed"),
        _ => None,
    };
    Pumped { to_server: sent.0, to_client: sent.1, ended_by }
}

async fn direction(
    from: &TcpStream,
    to: &TcpStream,
    flow: Direction,
    faults: &ConnFaults,
    kill: &CancellationToken,
    ending: &Ending,
) -> u64 {
    // While the target has no fault, bytes pass straight through; an idle
    // direction holds nothing. A fault switches the direction to a reader
    // and a writer joined by a queue, made then, until no fault is left.
    let mut sent = 0u64;
    loop {
        while faults.switch().load().faults.is_empty() {
            tokio::select! {
                ready = from.readable() => if ready.is_err() {
                    kill.cancel();
                    return sent;
                },
                () = kill.cancelled() => return sent,
            }
            ending.touch();
            if !faults.switch().load().faults.is_empty() {
                break;
            }
            match pass(from, to, &mut sent, kill).await {
                Ok(Passed::More) => {}
                Ok(Passed::End) => {
                    let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
                    return sent;
                }
                Err(_) => {
                    kill.cancel();
                    return sent;
                }
            }
        }
        // Boxed, so that a connection that never meets a fault does not
        // carry the reader's and writer's state.
        let (total, resume) = Box::pin(queued(from, to, flow, faults, kill, ending, sent)).await;
        sent = total;
        if !resume {
            return sent;
        }
    }
}

/// A direction as a reader and a writer joined by a queue, the bytes
/// `passed` before counted as sent. Returns the bytes sent in all, and
/// whether the direction goes back to passing through.
async fn queued(
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
        if queued.bytes.load(Ordering::Acquire) == 0 && faults.switch().load().faults.is_empty() {
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

/// What the faults of one direction do to one chunk.
#[derive(Default)]
struct ChunkPlan {
    drop: bool,
    due: Option<Instant>,
    rate: Option<u64>,
    slicer: Option<(usize, usize, Duration)>,
    limit: Option<u64>,
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

fn covering(active: &ActiveFault, flow: Direction, now: Instant) -> Option<&TcpKind> {
    let Kind::Tcp(kind, dir) = &active.fault.kind else { return None };
    let since = now.saturating_duration_since(active.activated);
    (dir.covers(flow) && active.fault.scope.in_window(since)).then_some(kind)
}

fn plan_chunk(
    faults: &ConnFaults,
    flow: Direction,
    arrived: Instant,
    sent: u64,
    rng: &mut Rng,
    announced: &mut Vec<u64>,
) -> ChunkPlan {
    let mut plan = ChunkPlan::default();
    let now = Instant::now();
    for active in faults.snapshot().iter() {
        let Some(kind) = covering(active, flow, now) else { continue };
        let what = match *kind {
            TcpKind::Timeout { .. } | TcpKind::Outage { mode: OutageMode::Hang } => {
                plan.drop = true;
                "data dropped".to_string()
            }
            // A reset that is due (an outage's at once) drops what still
            // flows until the supervisor has reset the connection (and
            // counted it).
            TcpKind::Outage { .. } | TcpKind::ResetPeer { .. } => {
                if let Some((at, true)) = ends_at(active, faults.opened) {
                    plan.drop |= now >= at;
                }
                continue;
            }
            TcpKind::LimitData { bytes } => {
                let left = bytes.saturating_sub(sent);
                plan.limit = Some(plan.limit.map_or(left, |l| l.min(left)));
                format!("close after {bytes} bytes")
            }
            TcpKind::Latency { delay, jitter } => {
                let jitter = jitter.as_secs_f64() * (2.0 * rng.f64() - 1.0);
                let d = Duration::try_from_secs_f64((delay.as_secs_f64() + jitter).max(0.0)).unwrap_or(delay);
                let due = arrived + d;
                plan.due = Some(plan.due.map_or(due, |p| p.max(due)));
                format!("delay {delay:?} per chunk")
            }
            TcpKind::Bandwidth { bytes_per_second } => {
                plan.rate = Some(plan.rate.map_or(bytes_per_second, |r| r.min(bytes_per_second)));
                format!("{bytes_per_second} B/s")
            }
            TcpKind::Slicer { average, variation, delay } => {
                plan.slicer = Some((average, variation, delay));
                format!("slices of {average} B")
            }
            _ => continue,
        };
        if !announced.contains(&active.fault.id) {
            announced.push(active.fault.id);
            faults.applied(active, &what);
        }
    }
    plan
}

fn slow_close(faults: &ConnFaults, flow: Direction) -> Option<Duration> {
    let now = Instant::now();
    faults
        .snapshot()
        .iter()
        .filter_map(|a| match covering(a, flow, now) {
            Some(TcpKind::SlowClose { delay }) => {
                faults.applied(a, &format!("close delayed {delay:?}"));
                Some(*delay)
            }
            _ => None,
        })
        .max()
}

/// Writes `data` in pieces: slices for a slicer, about 20 ms of data for a
/// bandwidth cap, else whole.
async fn write_paced(
    to: &TcpStream,
    mut data: Bytes,
    plan: &ChunkPlan,
    next_free: &mut Option<Instant>,
    rng: &mut Rng,
    kill: &CancellationToken,
) -> io::Result<()> {
    if plan.rate.is_none() && plan.slicer.is_none() {
        return write_all(to, &data, kill).await;
    }
    let mut first = true;
    while !data.is_empty() {
        let mut size = data.len();
        if let Some((average, variation, delay)) = plan.slicer {
            if !first && !delay.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = kill.cancelled() => return Err(io::ErrorKind::ConnectionAborted.into()),
                }
            }
            let spread = variation.min(average.saturating_sub(1));
            let offset = (rng.f64() * (2 * spread + 1) as f64) as usize;
            size = size.min((average - spread + offset).max(1));
        }
        if let Some(rate) = plan.rate {
            size = size.min(usize::try_from(rate / 50).unwrap_or(usize::MAX).clamp(1, CHUNK));
            let now = Instant::now();
            let free = next_free.map_or(now, |f| f.max(now));
            if free > now {
                tokio::select! {
                    () = tokio::time::sleep_until(free) => {}
                    () = kill.cancelled() => return Err(io::ErrorKind::ConnectionAborted.into()),
                }
            }
            *next_free = Some(free + Duration::from_secs_f64(size as f64 / rate as f64));
        }
        let piece = data.split_to(size);
        write_all(to, &piece, kill).await?;
        first = false;
    }
    Ok(())
}

/// When a connection-wide fault ends a connection opened at `opened`, and
/// whether by a reset (`true`) or a close: a `timeout` that closes,
/// `reset_peer`, or an outage that resets or refuses (at once).
fn ends_at(active: &ActiveFault, opened: Instant) -> Option<(Instant, bool)> {
    let Kind::Tcp(kind, _) = &active.fault.kind else { return None };
    let (wait, reset) = match kind {
        TcpKind::Timeout { close_after: Some(after) } => (*after, false),
        TcpKind::ResetPeer { after } => (*after, true),
        TcpKind::Outage { mode: OutageMode::Reset | OutageMode::Refuse } => (Duration::ZERO, true),
        _ => return None,
    };
    Some(((active.activated + active.fault.scope.after).max(opened) + wait, reset))
}

/// Watches the connection-wide faults with deadlines (`timeout` closing,
/// `reset_peer`, an outage starting while the connection is open) and ends
/// the connection when one falls due. Returns only after ending it.
/// Completes once no byte has come either way for `idle` (never without one).
async fn idle_out(idle: Option<Duration>, ending: &Ending) {
    let Some(idle) = idle else { return std::future::pending().await };
    while let Some(at) = ending.idle_at(idle) {
        if Instant::now() >= at {
            return;
        }
        tokio::time::sleep_until(at).await;
    }
    std::future::pending().await
}

async fn supervise(faults: &ConnFaults, kill: &CancellationToken, ending: &Ending) {
    let mut changes = faults.switch().subscribe();
    let opened = faults.opened;
    loop {
        let mut due: Option<(Instant, bool, std::sync::Arc<ActiveFault>)> = None;
        for active in faults.snapshot().iter() {
            let Some((at, reset)) = ends_at(active, opened) else { continue };
            if due.as_ref().is_none_or(|(d, _, _)| at < *d) {
                due = Some((at, reset, active.clone()));
            }
        }
        let sleep = async {
            match &due {
                Some((at, _, _)) => tokio::time::sleep_until(*at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {
                let (_, reset, active) = due.expect("a deadline was set");
                faults.applied(&active, if reset { "connection reset" } else { "connection closed" });
                ending.reset_client.store(reset, Ordering::Relaxed);
                ending.by_fault.store(true, Ordering::Relaxed);
                kill.cancel();
                return;
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    kill.cancelled().await;
                    return;
                }
            }
            () = kill.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::fault::{Fault, FaultSwitch};

    /// A connection from 127.0.0.1 to a target with one fault, both ways.
    fn connection_with(kind: TcpKind, after: Duration) -> ConnFaults {
        let mut fault = Fault::new(1, "f", Kind::Tcp(kind, Direction::Both));
        fault.scope.after = after;
        ConnFaults::new(Arc::new(FaultSwitch::new("t", 1, vec![fault])), [127, 0, 0, 1].into())
    }

    /// A chunk that queued 100 ms behind a slow writer waits only the rest
    /// of its 250 ms, so that latency does not throttle throughput.
    #[tokio::test(start_paused = true)]
    async fn a_chunk_is_due_its_delay_after_it_arrived_not_after_it_queued() {
        let latency = TcpKind::Latency { delay: Duration::from_millis(250), jitter: Duration::ZERO };
        let faults = connection_with(latency, Duration::ZERO);
        let arrived = Instant::now();
        tokio::time::advance(Duration::from_millis(100)).await;
        let plan = plan_chunk(&faults, Direction::Upstream, arrived, 0, &mut Rng::new(1), &mut Vec::new());
        assert_eq!(plan.due, Some(arrived + Duration::from_millis(250)));
    }

    /// Chunks before the fault's `after` pass undelayed.
    #[tokio::test(start_paused = true)]
    async fn a_latency_fault_delays_chunks_only_from_its_after_on() {
        let latency = TcpKind::Latency { delay: Duration::from_millis(250), jitter: Duration::ZERO };
        let faults = connection_with(latency, Duration::from_secs(1));
        let mut due = Vec::new();
        for wait_ms in [0, 999, 1] {
            tokio::time::advance(Duration::from_millis(wait_ms)).await;
            let now = Instant::now();
            let plan = plan_chunk(&faults, Direction::Downstream, now, 0, &mut Rng::new(1), &mut Vec::new());
            due.push(plan.due.map(|d| d - now));
        }
        assert_eq!(due, [None, None, Some(Duration::from_millis(250))]);
    }

    /// `reset_peer` counts from the later of the fault's start and the
    /// connection's opening, on tokio's clock.
    #[tokio::test(start_paused = true)]
    async fn reset_peer_resets_the_connection_its_after_past_the_opening() {
        tokio::time::advance(Duration::from_secs(3600)).await;
        let switch = Arc::new(FaultSwitch::new(
            "t",
            1,
            vec![Fault::new(1, "f", Kind::Tcp(TcpKind::ResetPeer { after: Duration::from_secs(30) }, Direction::Both))],
        ));
        tokio::time::advance(Duration::from_secs(10)).await;
        let faults = ConnFaults::new(switch, [127, 0, 0, 1].into());
        let (kill, ending) = (CancellationToken::new(), Ending::default());
        supervise(&faults, &kill, &ending).await;
        assert_eq!(faults.opened.elapsed(), Duration::from_secs(30));
        assert!(kill.is_cancelled() && ending.reset_client.load(Ordering::Relaxed));
    }
}
