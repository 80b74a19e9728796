//! The network front ends of phase-memory: the HTTP service ([`http`]) and the
//! MCP server ([`mcp`]), with the bearer-token file ([`tokens`]) and the OpenAPI
//! document generated from the operation registry ([`openapi`]).
//!
//! Both front ends are thin: they authenticate the caller, turn the transport's
//! message into `(operation, request JSON, CallContext)`, hand it to the one
//! runner ([`phase_memory_runtime::Runtime::run`]) through a [`SharedRuntime`]
//! and send the envelope back. They add no behaviour of their own.

pub mod http;
pub mod mcp;
pub mod metrics;
pub mod openapi;
pub mod schemas;
mod shared;
pub mod telemetry;
pub mod tokens;

pub use shared::{Drained, HeldRuntime, SharedRuntime, default_pool_size, front_end_envelope};
