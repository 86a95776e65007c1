//! The fault kinds and their parameters, for HTTP and TCP targets; the
//! table of kinds as files write them (names, keys, the words each key
//! takes) is `table.rs`.

mod table;

pub use table::*;

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
    Latency {
        delay: Distribution,
        at: LatencyPoint,
    },
    Error {
        status: StatusCode,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    },
    RateLimit {
        per_second: f64,
        burst: u32,
    },
    /// The connection is reset; on HTTP/2 the stream, with this error code.
    Reset {
        h2_code: u32,
    },
    Hang,
    Bandwidth {
        bytes_per_second: u64,
    },
    Truncate {
        after_bytes: u64,
    },
    PoolExhaustion {
        max: usize,
        when_full: HttpWhenFull,
    },
    Outage {
        mode: OutageMode,
    },
    /// A gRPC status answered as a trailers-only response.
    GrpcError {
        code: u16,
        message: String,
        headers: Vec<(HeaderName, HeaderValue)>,
    },
    /// The client connection is drained: HTTP/2 GOAWAY (HTTP/1.1
    /// `Connection: close`) once the request is answered.
    GoAway,
}

/// HTTP/2's error codes (RFC 9113 section 7), by number (the index) and name.
pub const H2_ERROR_CODES: [&str; 14] = [
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
];

/// The error code a reset fault's RST_STREAM carries unless told otherwise.
pub const DEFAULT_H2_RESET_CODE: u32 = 2;

/// An HTTP/2 error code's name, or its number beyond the known ones.
pub fn h2_code_name(code: u32) -> String {
    usize::try_from(code)
        .ok()
        .and_then(|i| H2_ERROR_CODES.get(i))
        .map_or_else(|| code.to_string(), |n| (*n).to_string())
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

impl Kind {
    /// This kind's row of [`KINDS`].
    pub fn spec(&self) -> &'static KindSpec {
        match self {
            Kind::Http(k) => match k {
                HttpKind::Latency { .. } => &HTTP_LATENCY,
                HttpKind::Error { .. } => &HTTP_ERROR,
                HttpKind::RateLimit { .. } => &HTTP_RATE_LIMIT,
                HttpKind::Reset { .. } => &HTTP_RESET,
                HttpKind::Hang => &HTTP_HANG,
                HttpKind::Bandwidth { .. } => &HTTP_BANDWIDTH,
                HttpKind::Truncate { .. } => &HTTP_TRUNCATE,
                HttpKind::PoolExhaustion { .. } => &HTTP_POOL_EXHAUSTION,
                HttpKind::Outage { .. } => &HTTP_OUTAGE,
                HttpKind::GrpcError { .. } => &HTTP_GRPC_ERROR,
                HttpKind::GoAway => &HTTP_GOAWAY,
            },
            Kind::Tcp(k, _) => match k {
                TcpKind::Latency { .. } => &TCP_LATENCY,
                TcpKind::Bandwidth { .. } => &TCP_BANDWIDTH,
                TcpKind::SlowClose { .. } => &TCP_SLOW_CLOSE,
                TcpKind::Timeout { .. } => &TCP_TIMEOUT,
                TcpKind::ResetPeer { .. } => &TCP_RESET_PEER,
                TcpKind::Slicer { .. } => &TCP_SLICER,
                TcpKind::LimitData { .. } => &TCP_LIMIT_DATA,
                TcpKind::PoolExhaustion { .. } => &TCP_POOL_EXHAUSTION,
                TcpKind::Outage { .. } => &TCP_OUTAGE,
            },
        }
    }

    /// The kind's name as written in files, for messages and events.
    pub fn name(&self) -> &'static str {
        self.spec().name
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
                HttpKind::Reset { h2_code } if *h2_code == DEFAULT_H2_RESET_CODE => String::new(),
                HttpKind::Reset { h2_code } => format!("HTTP/2 {}", h2_code_name(*h2_code)),
                HttpKind::Hang | HttpKind::GoAway => String::new(),
                HttpKind::GrpcError { code, .. } => crate::grpc::code_name(*code),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_row_in_the_order_of_the_table() {
        let d = Duration::from_millis(1);
        let http = [
            HttpKind::Latency { delay: Distribution::Fixed(d), at: LatencyPoint::Request },
            HttpKind::Error { status: StatusCode::OK, headers: Vec::new(), body: Bytes::new() },
            HttpKind::RateLimit { per_second: 1.0, burst: 1 },
            HttpKind::Reset { h2_code: DEFAULT_H2_RESET_CODE },
            HttpKind::Hang,
            HttpKind::Bandwidth { bytes_per_second: 1 },
            HttpKind::Truncate { after_bytes: 1 },
            HttpKind::PoolExhaustion { max: 1, when_full: HttpWhenFull::Fail },
            HttpKind::Outage { mode: OutageMode::Reset },
            HttpKind::GrpcError { code: 14, message: String::new(), headers: Vec::new() },
            HttpKind::GoAway,
        ];
        let tcp = [
            TcpKind::Latency { delay: d, jitter: d },
            TcpKind::Bandwidth { bytes_per_second: 1 },
            TcpKind::SlowClose { delay: d },
            TcpKind::Timeout { close_after: None },
            TcpKind::ResetPeer { after: d },
            TcpKind::Slicer { average: 1, variation: 0, delay: d },
            TcpKind::LimitData { bytes: 1 },
            TcpKind::PoolExhaustion { max: 1, when_full: TcpWhenFull::Refuse },
            TcpKind::Outage { mode: OutageMode::Reset },
        ];
        let kinds = http.into_iter().map(Kind::Http).chain(tcp.into_iter().map(|k| Kind::Tcp(k, Direction::Both)));
        let rows: Vec<&KindSpec> = kinds.map(|k| k.spec()).collect();
        assert_eq!(rows, KINDS.iter().collect::<Vec<_>>());
        for protocol in [Protocol::Http, Protocol::Tcp] {
            let mut names: Vec<&str> = protocol.kinds().map(|k| k.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), protocol.kinds().count(), "two {protocol:?} kinds have the same name");
        }
    }
}
