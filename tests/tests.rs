//! brownout's integration tests: one binary, real sockets on 127.0.0.1.

mod support;

mod admin_api;
mod admin_runs;
mod check_values;
mod cli;
mod config_files;
mod control_page;
mod examples;
mod experiments;
mod fault_decisions;
mod fault_events;
mod grpc_faults;
mod grpc_python;
mod guardrails;
mod header_faults;
mod hostile;
mod http2_streams;
mod http2_upstream;
mod http_faults;
mod http_plain;
mod http_proxy;
mod http_unselected;
mod https_listener;
mod https_upstream;
mod journal_format;
mod load_driver;
mod recording;
mod report_html;
mod report_phone;
mod schema_files;
mod tcp_faults;
mod tcp_proxy;
mod toxiproxy_api;
mod verdicts;
