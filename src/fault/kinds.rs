//! The fault kinds and their parameters, for HTTP and TCP targets.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};

use super::latency::Distribution;

/// Where an HTTP latency fault waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyPoint {
    /// Before the request is forwarded.
    Request,
    /// Before the response head is returned.
    Response,
    /// Both, each with its own sample.
    Both,
}

/// What happens to requests beyond an HTTP pool's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpWhenFull {
    /// Wait for a slot up to `timeout`, then answer `status` (503 or 504).
    Queue { timeout: Duration, status: StatusCode },
    /// Answer 503 at once.
    Fail,
    /// Wait until the fault ends.
    Hang,
}

/// What happens to connections beyond a TCP pool's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpWhenFull {
    /// Wait for a slot up to `timeout`, then close.
    Queue { timeout: Duration },
    /// Close at once with a reset, as a full server backlog would look.
    Refuse,
    /// Hold the connection, dialing nothing, until the fault ends.
    Hang,
}

/// How a dependency is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageMode {
    /// The listener closes: new connections are refused.
    Refuse,
    /// Connections are reset.
    Reset,
    /// Requests are answered with this status (HTTP only: 502 or 503).
    Status(StatusCode),
    /// Nothing answers until the fault ends.
    Hang,
}

impl OutageMode {
    pub fn describe(&self) -> String {
        match self {
            OutageMode::Refuse => "refuse".into(),
            OutageMode::Reset => "reset".into(),
            OutageMode::Status(s) => format!("status {}", s.as_u16()),
            OutageMode::Hang => "hang".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum HttpKind {
    Latency { delay: Distribution, at: LatencyPoint },
    Error { status: StatusCode, headers: Vec<(HeaderName, HeaderValue)>, body: Bytes },
    RateLimit { per_second: f64, burst: u32 },
    Reset,
    Hang,
    Bandwidth { bytes_per_second: u64 },
    Truncate { after_bytes: u64 },
    PoolExhaustion { max: usize, when_full: HttpWhenFull },
    Outage { mode: OutageMode },
}

/// Which way the bytes a TCP fault touches flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to upstream.
    Upstream,
    /// Upstream to client (Toxiproxy's default).
    Downstream,
    Both,
}

impl Direction {
    pub fn covers(self, flow: Direction) -> bool {
        self == Direction::Both || self == flow
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TcpKind {
    /// Each chunk is delayed by `delay` ± a uniform `jitter`, minus the time
    /// it already waited, so throughput is kept.
    Latency {
        delay: Duration,
        jitter: Duration,
    },
    Bandwidth {
        bytes_per_second: u64,
    },
    /// The close is passed on only after `delay`.
    SlowClose {
        delay: Duration,
    },
    /// Data is dropped; the connection closes after `close_after`, or is held
    /// until the fault ends when `None`.
    Timeout {
        close_after: Option<Duration>,
    },
    /// The connection is reset after `after`.
    ResetPeer {
        after: Duration,
    },
    /// Writes are cut into slices of `average` ± `variation` bytes with `delay` between them.
    Slicer {
        average: usize,
        variation: usize,
        delay: Duration,
    },
    /// The connection closes once `bytes` have passed in the fault's direction.
    LimitData {
        bytes: u64,
    },
    PoolExhaustion {
        max: usize,
        when_full: TcpWhenFull,
    },
    Outage {
        mode: OutageMode,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Http(HttpKind),
    Tcp(TcpKind, Direction),
}

/// The kind names as written in files, for messages and events.
impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Http(k) => match k {
                HttpKind::Latency { .. } => "latency",
                HttpKind::Error { .. } => "error",
                HttpKind::RateLimit { .. } => "rate_limit",
                HttpKind::Reset => "reset",
                HttpKind::Hang => "hang",
                HttpKind::Bandwidth { .. } => "bandwidth",
                HttpKind::Truncate { .. } => "truncate",
                HttpKind::PoolExhaustion { .. } => "pool_exhaustion",
                HttpKind::Outage { .. } => "outage",
            },
            Kind::Tcp(k, _) => match k {
                TcpKind::Latency { .. } => "latency",
                TcpKind::Bandwidth { .. } => "bandwidth",
                TcpKind::SlowClose { .. } => "slow_close",
                TcpKind::Timeout { .. } => "timeout",
                TcpKind::ResetPeer { .. } => "reset_peer",
                TcpKind::Slicer { .. } => "slicer",
                TcpKind::LimitData { .. } => "limit_data",
                TcpKind::PoolExhaustion { .. } => "pool_exhaustion",
                TcpKind::Outage { .. } => "outage",
            },
        }
    }

    /// The configured parameters in a few words, for events and reports.
    pub fn describe(&self) -> String {
        match self {
            Kind::Http(k) => match k {
                HttpKind::Latency { delay, at } => {
                    format!("{} before {}", delay.describe(), format!("{at:?}").to_lowercase())
                }
                HttpKind::Error { status, .. } => format!("status {}", status.as_u16()),
                HttpKind::RateLimit { per_second, burst } => {
                    format!("{per_second}/s, burst {burst}")
                }
                HttpKind::Reset | HttpKind::Hang => String::new(),
                HttpKind::Bandwidth { bytes_per_second } => format!("{bytes_per_second} B/s"),
                HttpKind::Truncate { after_bytes } => format!("after {after_bytes} bytes"),
                HttpKind::PoolExhaustion { max, when_full } => match when_full {
                    HttpWhenFull::Queue { timeout, status } => {
                        format!("limit {max}, queue up to {timeout:?} then {}", status.as_u16())
                    }
                    HttpWhenFull::Fail => format!("limit {max}, then 503"),
                    HttpWhenFull::Hang => format!("limit {max}, then hang"),
                },
                HttpKind::Outage { mode } => mode.describe(),
            },
            Kind::Tcp(k, dir) => {
                let what = match k {
                    TcpKind::Latency { delay, jitter } => format!("{delay:?} ± {jitter:?}"),
                    TcpKind::Bandwidth { bytes_per_second } => format!("{bytes_per_second} B/s"),
                    TcpKind::SlowClose { delay } => format!("{delay:?}"),
                    TcpKind::Timeout { close_after: Some(d) } => format!("close after {d:?}"),
                    TcpKind::Timeout { close_after: None } => "hold".into(),
                    TcpKind::ResetPeer { after } => format!("after {after:?}"),
                    TcpKind::Slicer { average, variation, delay } => format!("{average}±{variation} B every {delay:?}"),
                    TcpKind::LimitData { bytes } => format!("{bytes} bytes"),
                    TcpKind::PoolExhaustion { max, when_full } => match when_full {
                        TcpWhenFull::Queue { timeout } => format!("limit {max}, queue up to {timeout:?}"),
                        TcpWhenFull::Refuse => format!("limit {max}, then reset"),
                        TcpWhenFull::Hang => format!("limit {max}, then hold"),
                    },
                    TcpKind::Outage { mode } => mode.describe(),
                };
                format!("{what} {}", format!("{dir:?}").to_lowercase())
            }
        }
    }
}

pub const HTTP_KINDS: [&str; 9] =
    ["latency", "error", "rate_limit", "reset", "hang", "bandwidth", "truncate", "pool_exhaustion", "outage"];

pub const TCP_KINDS: [&str; 9] = [
    "latency",
    "bandwidth",
    "slow_close",
    "timeout",
    "reset_peer",
    "slicer",
    "limit_data",
    "pool_exhaustion",
    "outage",
];
