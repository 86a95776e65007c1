//! A precise sleep for injected latency. tokio's timer fires on whole
//! milliseconds and so wakes up to a millisecond late, which would show in
//! every latency fault's figures; this one wakes within tens of microseconds
//! of the deadline, from one thread of its own that sleeps until the
//! earliest deadline.
//!
//! A sleep dropped before its deadline (the request ended, the fault was
//! removed) leaves its entry behind until the deadline passes; the entry
//! holds only the sending half of a closed channel.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

struct Entry {
    /// In real time: the thread's clock, never paused.
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed: the heap's top is the earliest deadline.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct Timer {
    heap: Mutex<BinaryHeap<Entry>>,
    seq: AtomicU64,
    thread: std::thread::Thread,
}

static TIMER: OnceLock<Timer> = OnceLock::new();

fn timer() -> &'static Timer {
    TIMER.get_or_init(|| {
        let handle = std::thread::Builder::new()
            .name("brownout-timer".into())
            .spawn(|| run(TIMER.wait()))
            .expect("the timer thread starts");
        Timer { heap: Mutex::default(), seq: AtomicU64::new(0), thread: handle.thread().clone() }
    })
}

fn run(timer: &Timer) {
    let mut due = Vec::new();
    loop {
        let next = {
            let mut heap = timer.heap.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            while heap.peek().is_some_and(|e| e.at <= now) {
                due.extend(heap.pop());
            }
            heap.peek().map(|e| e.at)
        };
        // Woken with the heap unlocked: when a burst of delays ends together
        // (the requests one delay held, released at once), each wake may
        // unpark a worker thread, and requests starting new delays meanwhile
        // must not wait on the lock for all of them.
        for entry in due.drain(..) {
            let _ = entry.wake.send(());
        }
        match next {
            Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
    }
}

/// Sleeps until `deadline` on tokio's clock, waking within tens of
/// microseconds after it.
///
/// The timer thread counts real time, which a paused tokio clock (in tests)
/// does not: there tokio's own timer waits alongside, so that the paused
/// clock jumps to this deadline when the runtime idles, instead of past it
/// to a later timer while the thread waits the delay out. A paused clock
/// reads the same twice and a running one has almost always moved on; when
/// a running clock reads the same (its resolution is coarse), tokio's timer
/// waiting too costs precision nothing: it never fires before the deadline,
/// and the thread wakes first.
pub async fn sleep_until(deadline: tokio::time::Instant) {
    let now = tokio::time::Instant::now();
    if deadline <= now {
        return;
    }
    let maybe_paused = tokio::time::Instant::now() == now;
    let woken = wake_at(Instant::now() + (deadline - now));
    if maybe_paused {
        tokio::select! {
            biased;
            _ = woken => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    } else {
        let _ = woken.await;
    }
}

/// Asks the timer thread for a wake-up at `at`.
fn wake_at(at: Instant) -> oneshot::Receiver<()> {
    let timer = timer();
    let (wake, woken) = oneshot::channel();
    let seq = timer.seq.fetch_add(1, AtomicOrdering::Relaxed);
    let earliest = {
        let mut heap = timer.heap.lock().unwrap_or_else(|p| p.into_inner());
        heap.push(Entry { at, seq, wake });
        heap.peek().is_some_and(|e| e.seq == seq)
    };
    if earliest {
        timer.thread.unpark();
    }
    woken
}

/// Sleeps for `delay`, waking within tens of microseconds after it ends.
pub async fn sleep(delay: Duration) {
    sleep_until(tokio::time::Instant::now() + delay).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_after_the_deadline_in_deadline_order() {
        let start = Instant::now();
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, ms) in [30u64, 10, 20].into_iter().enumerate() {
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                let waited = start.elapsed();
                order.lock().unwrap().push(i);
                waited
            }));
        }
        let mut waited = Vec::new();
        for t in tasks {
            waited.push(t.await.unwrap());
        }
        for (w, ms) in waited.iter().zip([30u64, 10, 20]) {
            assert!(*w >= Duration::from_millis(ms), "woke early: {w:?} for {ms} ms");
        }
        assert_eq!(*order.lock().unwrap(), [1, 2, 0]);
    }

    /// Were the thread alone to wait, it would wait the minute out in real
    /// time while the paused clock jumped past the deadline to the later
    /// timer.
    #[tokio::test(start_paused = true)]
    async fn a_paused_clock_jumps_to_the_deadline_and_not_past_it() {
        let later = tokio::spawn(tokio::time::sleep(Duration::from_secs(120)));
        let (start, real) = (tokio::time::Instant::now(), Instant::now());
        sleep(Duration::from_secs(60)).await;
        let slept = start.elapsed();
        assert!(slept >= Duration::from_secs(60) && slept < Duration::from_millis(60_010), "{slept:?}");
        assert!(real.elapsed() < Duration::from_secs(5), "waited {:?} of real time", real.elapsed());
        later.abort();
    }
}
