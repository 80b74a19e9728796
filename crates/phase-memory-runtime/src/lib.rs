//! The one runner of phase-memory. Every operation of SPEC section 3 is a
//! registered entry ([`registry::OPERATIONS`]) with a request type, a response
//! shape, a policy hook and an audit behaviour; [`Runtime::run`] is the only way
//! in. The CLI, the HTTP service and the MCP server call it and add no behaviour.
//!
//! A request's path: front end → [`Runtime::run`] → handler (pure decisions from
//! `phase-memory-govern`, activation from `phase-memory-activate`) → an [`Outcome`]
//! holding a [`phase_memory_store::ChangeSet`] → the runner seals the audit record
//! into the same change set → one atomic `Store::commit` → derived indexes updated
//! → the [`phase_memory_model::Envelope`].

mod bulk;
mod clock;
mod context;
mod group;
mod open;
mod ops;
mod outcome;
mod persisted;
mod policy_memo;
pub mod registry;
pub mod request;
pub mod response;
mod runner;
mod semantic;
mod sharing;
mod spare;
mod state;

pub use clock::Clock;
pub use context::{CallContext, Origin, Progress};
pub mod files;
pub use group::{DeferredAudit, GroupResult, GroupTimings, Ran, WriteRequest, groups_writes};
pub use open::{
    ADAPTERS, Adapter, DEFAULT_WRITE_WAIT, StoreLocation, init_store, init_store_with,
    memory_runtime, open_for_operation, open_runtime, open_runtime_for_repair,
    open_runtime_waiting, open_store,
};
pub use outcome::{Extension, Outcome};
pub use persisted::{KEEP, PersistedStats, SNAPSHOT_DIR, persisted_stats, snapshot_file};
pub use phase_memory_store::StoreConfig;
pub use registry::{OperationSpec, service_contracts};
pub use sharing::{DerivedStats, SharedSnapshot, WriteGate, derived_stats};
pub use state::{Runtime, build_snapshot};
