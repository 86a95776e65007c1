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

// === The table of kinds ===

/// Which targets a fault kind applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Tcp,
}

/// One fault kind as files and the admin API write it. Validation, messages,
/// events and anything that lists the kinds read [`KINDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSpec {
    /// The value of `kind`.
    pub name: &'static str,
    pub protocol: Protocol,
    /// The keys it takes besides its protocol's [`Protocol::common_keys`].
    pub keys: &'static [&'static str],
    /// What it does, in one line.
    pub about: &'static str,
}

/// Every fault kind: HTTP, then TCP, each in the order messages list them.
pub const KINDS: [KindSpec; 20] = [
    HTTP_LATENCY,
    HTTP_ERROR,
    HTTP_RATE_LIMIT,
    HTTP_RESET,
    HTTP_HANG,
    HTTP_BANDWIDTH,
    HTTP_TRUNCATE,
    HTTP_POOL_EXHAUSTION,
    HTTP_OUTAGE,
    HTTP_GRPC_ERROR,
    HTTP_GOAWAY,
    TCP_LATENCY,
    TCP_BANDWIDTH,
    TCP_SLOW_CLOSE,
    TCP_TIMEOUT,
    TCP_RESET_PEER,
    TCP_SLICER,
    TCP_LIMIT_DATA,
    TCP_POOL_EXHAUSTION,
    TCP_OUTAGE,
];

/// The keys every fault takes, whatever its kind (`target` and `ramp` only in
/// experiment files).
pub const COMMON_KEYS: [&str; 9] =
    ["name", "target", "probability", "first", "after", "lasting", "match", "opt_in", "ramp"];

/// The keys every TCP fault takes besides [`COMMON_KEYS`].
pub const TCP_COMMON_KEYS: [&str; 1] = ["direction"];

impl Protocol {
    /// As written in files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Tcp => "tcp",
        }
    }

    /// HTTP for TCP, TCP for HTTP.
    pub fn other(self) -> Protocol {
        match self {
            Protocol::Http => Protocol::Tcp,
            Protocol::Tcp => Protocol::Http,
        }
    }

    /// The keys every fault of this protocol takes, whatever its kind.
    pub fn common_keys(self) -> impl Iterator<Item = &'static str> {
        let own: &[&str] = match self {
            Protocol::Http => &[],
            Protocol::Tcp => &TCP_COMMON_KEYS,
        };
        COMMON_KEYS.iter().chain(own).copied()
    }

    /// This protocol's kinds, in the table's order.
    pub fn kinds(self) -> impl Iterator<Item = &'static KindSpec> {
        KINDS.iter().filter(move |k| k.protocol == self)
    }

    /// This protocol's kind called `name`.
    pub fn kind(self, name: &str) -> Option<&'static KindSpec> {
        self.kinds().find(|k| k.name == name)
    }
}

/// The words a fault key takes, by protocol: validation refuses any other,
/// and the JSON Schema of the files offers these.
pub const CHOICES: [(Protocol, &str, &[&str]); 7] = [
    (Protocol::Http, "distribution", &["fixed", "uniform", "normal", "lognormal", "pareto"]),
    (Protocol::Http, "at", &["request", "response", "both"]),
    (Protocol::Http, "when_full", &["queue", "fail", "hang"]),
    (Protocol::Http, "mode", &["refuse", "reset", "status", "hang"]),
    (Protocol::Tcp, "direction", &["upstream", "downstream", "both"]),
    (Protocol::Tcp, "when_full", &["queue", "refuse", "hang"]),
    (Protocol::Tcp, "mode", &["refuse", "reset", "hang"]),
];

impl Protocol {
    /// The words `key` takes in a fault of this protocol (none: not a key of words).
    pub fn choices(self, key: &str) -> &'static [&'static str] {
        CHOICES.iter().find(|(p, k, _)| *p == self && *k == key).map_or(&[], |(_, _, words)| words)
    }
}

impl KindSpec {
    /// True when a fault of this kind takes `key`.
    pub fn takes(&self, key: &str) -> bool {
        self.keys.contains(&key) || self.protocol.common_keys().any(|k| k == key)
    }
}

pub const HTTP_LATENCY: KindSpec = KindSpec {
    name: "latency",
    protocol: Protocol::Http,
    keys: &["delay", "distribution", "min", "max", "mean", "stddev", "scale", "shape", "at"],
    about: "waits before forwarding the request, before returning the response head, or both",
};
pub const HTTP_ERROR: KindSpec = KindSpec {
    name: "error",
    protocol: Protocol::Http,
    keys: &["status", "headers", "body"],
    about: "answers with a synthesized response; the upstream is never called",
};
pub const HTTP_RATE_LIMIT: KindSpec = KindSpec {
    name: "rate_limit",
    protocol: Protocol::Http,
    keys: &["rate", "burst"],
    about: "a token bucket: requests beyond it get 429 with Retry-After",
};
pub const HTTP_RESET: KindSpec = KindSpec {
    name: "reset",
    protocol: Protocol::Http,
    keys: &["error_code"],
    about: "resets the connection (TCP RST; on HTTP/2 the stream, with RST_STREAM's `error_code`)",
};
pub const HTTP_HANG: KindSpec = KindSpec {
    name: "hang",
    protocol: Protocol::Http,
    keys: &[],
    about: "answers nothing until the fault ends, then closes the connection",
};
pub const HTTP_BANDWIDTH: KindSpec = KindSpec {
    name: "bandwidth",
    protocol: Protocol::Http,
    keys: &["rate"],
    about: "throttles the response body to a rate in bytes per second",
};
pub const HTTP_TRUNCATE: KindSpec = KindSpec {
    name: "truncate",
    protocol: Protocol::Http,
    keys: &["bytes"],
    about: "stops the response body after some bytes and closes the connection",
};
pub const HTTP_POOL_EXHAUSTION: KindSpec = KindSpec {
    name: "pool_exhaustion",
    protocol: Protocol::Http,
    keys: &["limit", "when_full", "queue_timeout", "timeout_status"],
    about: "lets at most `limit` requests reach the upstream at once; the rest queue, fail with 503 or hang",
};
pub const HTTP_OUTAGE: KindSpec = KindSpec {
    name: "outage",
    protocol: Protocol::Http,
    keys: &["mode", "status"],
    about: "the dependency is down: connections refused or reset, a 502 or 503 answer, or no answer",
};
pub const HTTP_GRPC_ERROR: KindSpec = KindSpec {
    name: "grpc_error",
    protocol: Protocol::Http,
    keys: &["code", "message", "headers"],
    about: "answers a gRPC status (trailers-only: grpc-status, grpc-message); the upstream is never called",
};
pub const HTTP_GOAWAY: KindSpec = KindSpec {
    name: "goaway",
    protocol: Protocol::Http,
    keys: &[],
    about: "drains the client's connection after this request: HTTP/2 GOAWAY (HTTP/1.1 Connection: close)",
};
pub const TCP_LATENCY: KindSpec = KindSpec {
    name: "latency",
    protocol: Protocol::Tcp,
    keys: &["delay", "jitter"],
    about: "delays each chunk without throttling throughput",
};
pub const TCP_BANDWIDTH: KindSpec = KindSpec {
    name: "bandwidth",
    protocol: Protocol::Tcp,
    keys: &["rate"],
    about: "lets bytes flow at a rate in bytes per second",
};
pub const TCP_SLOW_CLOSE: KindSpec = KindSpec {
    name: "slow_close",
    protocol: Protocol::Tcp,
    keys: &["delay"],
    about: "passes an end of stream on only after a delay",
};
pub const TCP_TIMEOUT: KindSpec = KindSpec {
    name: "timeout",
    protocol: Protocol::Tcp,
    keys: &["timeout"],
    about: "drops data, and closes the connection after `timeout` or holds it until the fault ends",
};
pub const TCP_RESET_PEER: KindSpec = KindSpec {
    name: "reset_peer",
    protocol: Protocol::Tcp,
    keys: &["timeout"],
    about: "resets the connection after `timeout`",
};
pub const TCP_SLICER: KindSpec = KindSpec {
    name: "slicer",
    protocol: Protocol::Tcp,
    keys: &["average_size", "size_variation", "delay"],
    about: "cuts writes into small slices with a delay between them",
};
pub const TCP_LIMIT_DATA: KindSpec = KindSpec {
    name: "limit_data",
    protocol: Protocol::Tcp,
    keys: &["bytes"],
    about: "closes the connection once some bytes have passed",
};
pub const TCP_POOL_EXHAUSTION: KindSpec = KindSpec {
    name: "pool_exhaustion",
    protocol: Protocol::Tcp,
    keys: &["limit", "when_full", "queue_timeout"],
    about: "lets at most `limit` connections reach the upstream at once; the rest queue, are reset or hang",
};
pub const TCP_OUTAGE: KindSpec = KindSpec {
    name: "outage",
    protocol: Protocol::Tcp,
    keys: &["mode"],
    about: "the dependency is down: new connections refused, reset, or held without a dial",
};

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
