//! Stable tracing field names and values. The recorder reads events by these
//! names, so they change only with the journal's schema.

pub const TARGET: &str = "target";
pub const PEER: &str = "peer";
pub const ORIGIN: &str = "origin";
pub const ERROR_KIND: &str = "error.kind";
pub const HTTP_STATUS: &str = "http.status";
pub const BYTES_IN: &str = "bytes.in";
pub const BYTES_OUT: &str = "bytes.out";

/// The failure came from a fault of brownout's.
pub const ORIGIN_INJECTED: &str = "injected";
/// The failure came from the real dependency.
pub const ORIGIN_UPSTREAM: &str = "upstream";
/// The failure came from brownout itself.
pub const ORIGIN_PROXY: &str = "proxy";
/// The failure came from the client.
pub const ORIGIN_CLIENT: &str = "client";

pub const FAULT_NAME: &str = "fault.name";
pub const FAULT_KIND: &str = "fault.kind";
/// The fault's parameters as configured (`normal(200ms, 50ms) before request`).
pub const FAULT_CONFIGURED: &str = "fault.configured";
/// What the fault actually did to this request or connection (`delay 183ms`).
pub const FAULT_APPLIED: &str = "fault.applied";
