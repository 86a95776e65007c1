//! Moving bytes between the two sockets of a TCP connection, per direction,
//! with the byte-level faults applied per chunk.
//!
//! While no fault acts on a direction of the connection (none applies to
//! it: its client did not match, its draw fell over the probability; or
//! none covers that direction now), the direction is a plain pass-through
//! (`pass`, spliced on Linux). A fault that acts on it switches it to a
//! reader and a writer joined by a short queue (`queue.rs`): the reader
//! stamps every chunk with the time it arrived, so a latency fault delays
//! each chunk by its delay minus the time it already waited, and throughput
//! is kept. The queue is made when such a fault appears and given up once
//! none acts and it is empty. Buffers are allocated only when data is
//! readable, so an idle connection holds none. `plan.rs` decides what the
//! faults do to each chunk, `pace.rs` writes a chunk at the pace they set.

mod pace;
mod plan;
mod queue;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pass::{pass, Passed};
use super::ConnFaults;
use crate::fault::{ActiveFault, Direction};
use plan::{acts_on, ends_at};
use queue::queued;

/// How the connection ends.
#[derive(Default)]
struct Ending {
    reset_client: AtomicBool,
    /// A fault ended the connection (reset, close after a time or a limit).
    by_fault: AtomicBool,
    /// A direction went through a queue (a fault acted on its bytes).
    queued: AtomicBool,
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
    /// Whether a fault ever acted on its bytes (else both directions passed
    /// straight through).
    pub queued: bool,
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
    Pumped { to_server: sent.0, to_client: sent.1, ended_by, queued: ending.queued.load(Ordering::Relaxed) }
}

async fn direction(
    from: &TcpStream,
    to: &TcpStream,
    flow: Direction,
    faults: &ConnFaults,
    kill: &CancellationToken,
    ending: &Ending,
) -> u64 {
    // While no fault acts on this direction of this connection, bytes pass
    // straight through; an idle direction holds nothing. A fault that does
    // switches the direction to a reader and a writer joined by a queue,
    // made then, until no fault acts on it any more.
    let mut sent = 0u64;
    loop {
        // Whether a fault acts is looked at once per wake, before any byte
        // moves: a fault set while the direction waited acts on the next.
        loop {
            match readable_or_killed(from, kill).await {
                Ok(true) => {}
                Ok(false) => return sent,
                Err(_) => {
                    kill_all(kill).await;
                    return sent;
                }
            }
            ending.touch();
            if acts_on(faults, flow) {
                break;
            }
            match pass(from, to, &mut sent, kill).await {
                Ok(Passed::More) => {}
                Ok(Passed::End) => {
                    let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
                    return sent;
                }
                Err(_) => {
                    kill_all(kill).await;
                    return sent;
                }
            }
        }
        // Boxed, so that a connection that never meets a fault does not
        // carry the reader's and writer's state.
        ending.queued.store(true, Ordering::Relaxed);
        let queueing = Box::pin(queued(from, to, flow, faults, kill, ending, sent));
        let (total, resume) = queueing.await;
        sent = total;
        if !resume {
            if kill.is_cancelled() {
                kill_all(kill).await;
            }
            return sent;
        }
    }
}

/// Waits until `from` is readable (`Ok(true)`) or the connection is killed
/// (`Ok(false)`). The socket's readiness is polled directly and the kill
/// token is only looked at, never waited on: a waiting token takes a lock
/// at every poll, and every wake of the connection's task polls both
/// directions. Nothing is missed: every kill comes from inside this task
/// (a direction, the supervisor, the idle timer), which polls its
/// directions again after one (`kill_all`, or `run` awaiting them).
fn readable_or_killed<'a>(
    from: &'a TcpStream,
    kill: &'a CancellationToken,
) -> impl std::future::Future<Output = io::Result<bool>> + 'a {
    std::future::poll_fn(move |cx| {
        if kill.is_cancelled() {
            return Poll::Ready(Ok(false));
        }
        from.poll_read_ready(cx).map_ok(|()| true)
    })
}

/// Kills the connection from inside a direction: the token is cancelled and
/// the task woken once more, so that the other direction, already polled in
/// this round, sees it.
async fn kill_all(kill: &CancellationToken) {
    kill.cancel();
    std::future::poll_fn(|cx| {
        cx.waker().wake_by_ref();
        Poll::Ready(())
    })
    .await;
}

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

/// Watches the connection-wide faults with deadlines (`timeout` closing,
/// `reset_peer`, an outage starting while the connection is open) and ends
/// the connection when one falls due. Returns only after ending it.
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
            // No wait on the kill token: once it is cancelled the pumps end,
            // and `run` stops polling this.
            changed = changes.changed() => {
                if changed.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::fault::{Fault, FaultSwitch, Kind, TcpKind};

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

    /// Pumps one exchange (the client sends `ping` and closes; the server
    /// answers `pong` and closes) between real sockets on 127.0.0.1, under
    /// a target whose one fault is `fault`.
    async fn pump_one(fault: Fault) -> Pumped {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (near_client, _) = listener.accept().await.unwrap();
        let mut server_side = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (near_server, _) = listener.accept().await.unwrap();
        let faults = ConnFaults::new(Arc::new(FaultSwitch::new("t", 7, vec![fault])), [127, 0, 0, 1].into());
        let peers = async {
            client.write_all(b"ping").await.unwrap();
            client.shutdown().await.unwrap();
            let mut got = Vec::new();
            server_side.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"ping");
            server_side.write_all(b"pong").await.unwrap();
            server_side.shutdown().await.unwrap();
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"pong");
        };
        let limit = Duration::from_secs(10);
        let (pumped, ()) =
            tokio::time::timeout(limit, async { tokio::join!(run(&near_client, &near_server, &faults, None), peers) })
                .await
                .expect("the exchange ends in time");
        pumped
    }

    /// A latency fault (both ways) narrowed by `scope`.
    fn latency(scope: impl FnOnce(&mut Fault)) -> Fault {
        let delay = Duration::from_millis(5);
        let mut fault =
            Fault::new(1, "slow", Kind::Tcp(TcpKind::Latency { delay, jitter: Duration::ZERO }, Direction::Both));
        scope(&mut fault);
        fault
    }

    /// A fault whose client match or draw leaves a connection out costs it
    /// nothing: its bytes pass straight through, as with no fault at all;
    /// the same fault selecting it puts its bytes through the queue.
    #[tokio::test]
    async fn a_connection_no_fault_selects_passes_straight_through() {
        let elsewhere =
            latency(|f| f.scope.matcher.clients = vec![crate::fault::matcher::Cidr::parse("10.0.0.0/8").unwrap()]);
        let never = latency(|f| f.scope.probability = 0.0);
        let pool = Fault::new(
            1,
            "pool",
            Kind::Tcp(
                TcpKind::PoolExhaustion { max: 5, when_full: crate::fault::TcpWhenFull::Refuse },
                Direction::Both,
            ),
        );
        for unselected in [elsewhere, never, pool] {
            let name = unselected.describe();
            assert!(!pump_one(unselected).await.queued, "{name}: queued");
        }
        let here =
            latency(|f| f.scope.matcher.clients = vec![crate::fault::matcher::Cidr::parse("127.0.0.0/8").unwrap()]);
        assert!(pump_one(here).await.queued, "a selected connection passed straight through");
    }
}
