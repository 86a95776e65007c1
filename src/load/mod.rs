//! The load driver: open-loop requests at a rate that can ramp and spike,
//! from a weighted mix, with a cap on requests in flight. Latency is
//! measured from each request's intended send time, so a stalled
//! application cannot hide behind a slowed-down load (no coordinated
//! omission). Every request is recorded under the listener `load`.

use crate::record::inflight::InFlight;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::experiment::{Load, LoadRequest};
use crate::fault::rng::{mix, Rng};
use crate::record::fields;

/// The listener name load records carry.
pub const LISTENER: &str = crate::record::journal::LOAD_LISTENER;
/// The most requests waiting for a slot under the concurrency cap; beyond
/// it, sends are skipped and recorded as failures of the client.
const MAX_WAITING: usize = 100_000;

/// The request rate at `t` seconds into a run of `total` seconds.
pub fn rate_at(load: &Load, t: f64, total: f64) -> f64 {
    let base = match load.ramp_to {
        Some(to) if total > 0.0 => load.rate + (to - load.rate) * (t / total).clamp(0.0, 1.0),
        _ => load.rate,
    };
    let factor: f64 = load
        .spikes
        .iter()
        .filter(|s| t >= s.at.as_secs_f64() && t < (s.at + s.lasting).as_secs_f64())
        .map(|s| s.factor)
        .product();
    base * factor
}

/// How long requests already sent may take to finish once the load stops;
/// they are recorded, so the last second's rate is not cut short.
const FINISH_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Sends `load` to `base` (`http://127.0.0.1:8080`) from `start` for `total`
/// or until `stop`, then waits up to `FINISH_GRACE` for the requests in
/// flight. Returns how many requests were started.
pub async fn drive(
    load: Arc<Load>,
    base: Uri,
    start: Instant,
    total: Duration,
    seed: u64,
    in_flight: Arc<InFlight>,
    stop: CancellationToken,
) -> u64 {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<_, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_timer(TokioTimer::new()).build(connector);
    let slots = Arc::new(Semaphore::new(load.concurrency));
    let waiting = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let weights: u64 = load.requests.iter().map(|r| u64::from(r.weight)).sum();
    let tasks = tokio_util::task::TaskTracker::new();
    // The first request goes half an interval in: at a steady rate whose
    // interval divides the phases' lengths (20/s and whole seconds), every
    // request is then sent half an interval away from a phase change, never
    // at the instant a phase's faults switch, where it could start in one
    // phase and meet the next one's faults.
    let mut intended = start + Duration::from_secs_f64(0.5 / rate_at(&load, 0.0, total.as_secs_f64()).max(0.01));
    let mut sent = 0u64;
    let end = start + total;
    while intended < end {
        tokio::select! {
            () = tokio::time::sleep_until(intended) => {}
            () = stop.cancelled() => break,
        }
        let t = (intended - start).as_secs_f64();
        let mut rng = Rng::new(mix(seed, sent));
        let mut pick = (rng.f64() * weights as f64) as u64;
        let req = load
            .requests
            .iter()
            .find(|r| {
                let w = u64::from(r.weight);
                if pick < w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .unwrap_or(&load.requests[0])
            .clone();
        let rate = rate_at(&load, t, total.as_secs_f64()).max(0.01);
        let this = intended;
        intended += Duration::from_secs_f64(1.0 / rate);
        sent += 1;
        if waiting.load(std::sync::atomic::Ordering::Relaxed) >= MAX_WAITING {
            record(&req, this, None, Some("overloaded"), Some(fields::ORIGIN_CLIENT));
            continue;
        }
        let (client, slots, waiting, base, timeout) =
            (client.clone(), slots.clone(), waiting.clone(), base.clone(), load.timeout);
        waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let in_flight = in_flight.track(req.method.as_str(), req.path.split('?').next().unwrap_or("/"), this);
        tasks.spawn(async move {
            let _in_flight = in_flight;
            let slot = slots.acquire_owned().await;
            waiting.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            let _slot = slot;
            let result = tokio::time::timeout(timeout, send(&client, &base, &req)).await;
            match result {
                Ok(Ok((status, bytes))) => record(&req, this, Some((status, bytes)), None, None),
                Ok(Err(_)) => record(&req, this, None, Some("refused"), Some(fields::ORIGIN_UPSTREAM)),
                Err(_) => record(&req, this, None, Some("timeout"), Some(fields::ORIGIN_UPSTREAM)),
            }
        });
    }
    tasks.close();
    // Requests still unanswered after the grace are dropped with their task.
    let _ = tokio::time::timeout(FINISH_GRACE, tasks.wait()).await;
    sent
}

async fn send(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    base: &Uri,
    req: &LoadRequest,
) -> Result<(u16, u64), Box<dyn std::error::Error + Send + Sync>> {
    let uri = format!("{}{}", base.to_string().trim_end_matches('/'), req.path);
    let mut builder = Request::builder().method(req.method.clone()).uri(uri);
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    let resp = client.request(builder.body(Full::new(req.body.clone()))?).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body.len() as u64))
}

/// Records one load request, its latency counted from when it was meant to go.
fn record(req: &LoadRequest, intended: Instant, answer: Option<(u16, u64)>, error: Option<&str>, origin: Option<&str>) {
    let path = req.path.split('?').next().unwrap_or(&req.path);
    tracing::trace!(
        target: fields::RECORD,
        record = fields::TYPE_REQUEST,
        { fields::TARGET } = LISTENER,
        { fields::HTTP_METHOD } = req.method.as_str(),
        { fields::HTTP_PATH } = path,
        { fields::HTTP_STATUS } = answer.map(|a| u64::from(a.0)),
        { fields::LATENCY_US } = intended.elapsed().as_micros() as u64,
        { fields::BYTES_IN } = req.body.len() as u64,
        { fields::BYTES_OUT } = answer.map_or(0, |a| a.1),
        { fields::ERROR_KIND } = error,
        { fields::ORIGIN } = origin,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Spike;

    fn load(rate: f64, ramp_to: Option<f64>, spikes: Vec<Spike>) -> Load {
        Load {
            target: "observer".into(),
            rate,
            ramp_to,
            spikes,
            concurrency: 10,
            timeout: Duration::from_secs(1),
            requests: vec![],
        }
    }

    #[test]
    fn rates_ramp_linearly_and_spike_by_their_factor() {
        let l = load(10.0, Some(110.0), vec![]);
        assert_eq!(rate_at(&l, 0.0, 100.0), 10.0);
        assert_eq!(rate_at(&l, 50.0, 100.0), 60.0);
        assert_eq!(rate_at(&l, 100.0, 100.0), 110.0);
        let s = load(
            50.0,
            None,
            vec![Spike { at: Duration::from_secs(60), lasting: Duration::from_secs(60), factor: 20.0 }],
        );
        assert_eq!(rate_at(&s, 59.9, 300.0), 50.0);
        assert_eq!(rate_at(&s, 60.0, 300.0), 1000.0);
        assert_eq!(rate_at(&s, 120.0, 300.0), 50.0);
    }
}
