//! brownout is a chaos-engineering fault-injection proxy: it stands in front
//! of the services an application depends on, breaks them on purpose, and
//! records what the application's users saw.
//!
//! # Layout
//!
//! Data flows one way: a config file is parsed and validated into a model;
//! the proxy binds a listener per target (plus the observer and the admin
//! API) and forwards traffic to each upstream; the data path emits tracing
//! events with the stable field names of [`record::fields`].
//!
//! - [`config`]: config files: raw serde mirror, validation with positions, the model.
//! - [`proxy`]: binding every listener, serving, draining on shutdown.
//! - [`proxy::http`]: the HTTP/1.1 and HTTP/2 listener and the pooled forwarder.
//! - [`proxy::tcp`]: the TCP listener: dial per connection, copy both ways.
//! - [`admin`]: the admin listener.
//! - [`record`]: the tracing field names the data path emits.
//! - [`tls`]: rustls client settings for `https://` upstreams.
//! - `main.rs`: the command line only.
//!
//! # Invariants
//!
//! - The proxy never reads files: everything it needs is in the validated
//!   [`config::Config`] it is given.
//! - The accept loops never dial an upstream: dialing happens in the
//!   connection's own task, so one blackholed upstream stalls nothing else.
//! - No body is buffered whole: request and response bodies stream through,
//!   and TCP copies use fixed buffers per direction.
//! - Nothing binds before the whole config is valid.

pub mod admin;
pub mod config;
pub mod fault;
pub mod proxy;
pub mod record;
pub mod tls;
