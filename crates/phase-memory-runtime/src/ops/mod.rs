//! Operation handlers, one module per family; the helpers they share are in
//! `support.rs`. The registry (`registry.rs`) names each operation's handler.
//!
//! Handlers return `Result<Outcome, Outcome>`: `Err` is an early, complete answer
//! (a refusal with its diagnostics), so `?` reads like the specification. The error
//! variant is large by design and off the hot path.
#![allow(clippy::result_large_err)]

pub(crate) mod activation;
pub(crate) mod audit;
pub(crate) mod edge;
pub(crate) mod event;
pub(crate) mod interchange;
pub(crate) mod lifecycle;
pub(crate) mod node;
pub(crate) mod package;
pub(crate) mod profile;
pub(crate) mod review;
pub(crate) mod store;
pub(crate) mod support;

use phase_memory_model::{Diagnostic, Status, Time};
use serde_json::Value;

use crate::context::CallContext;
use crate::outcome::{OpResult, Outcome};
use crate::state::Runtime;

/// `store.init` on an open store: a store is created before it is opened
/// (`init_store`), so here it already exists.
pub(crate) fn store_init(
    _rt: &mut Runtime,
    _req: &Value,
    _ctx: &CallContext,
    _now: Time,
) -> OpResult {
    Err(Outcome::fail(
        Status::Conflict,
        Diagnostic::error("store.exists", "this store is already initialised"),
    ))
}

/// `eval.run` without the front end's extension (the evaluation harness lives
/// above the runtime and registers itself with `Runtime::register_extension`).
pub(crate) fn eval_run(
    _rt: &mut Runtime,
    _req: &Value,
    _ctx: &CallContext,
    _now: Time,
) -> OpResult {
    Err(Outcome::invalid(
        "operation.unsupported",
        "eval.run is provided by the phase-memory binary (CLI, HTTP service, MCP); this runtime has no evaluation harness registered",
    ))
}
