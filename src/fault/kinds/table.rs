//! The table of fault kinds as files and the admin API write them: each
//! kind's name, protocol, keys and one line on what it does, and the words
//! each key takes. Validation, messages, the JSON Schema and the control
//! page read it.

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
