//! Recording: the tracing field names that the data path emits.

pub mod fields;
