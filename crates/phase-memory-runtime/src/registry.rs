//! The operation registry: every operation with its request and response schema,
//! its policy hook, its audit behaviour, its class and its handler; the one
//! description of an operation. `phase-memory contracts` prints it and
//! the HTTP service serves it as OpenAPI.

use schemars::{JsonSchema, schema_for};
use serde_json::{Value, json};

mod shape;

use crate::context::CallContext;
use crate::ops;
use crate::outcome::Outcome;
use crate::request::*;
use crate::response;
use crate::state::Runtime;
use phase_memory_model::{Envelope, Time};
pub use phase_memory_profile::OperationClass;
use phase_memory_store::Capability;

/// When an operation writes an audit record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditBehaviour {
    /// Always (writes, decisions).
    Always,
    /// When the profile's `audit.record_reads` is on (reads of memory content).
    Reads,
    /// Never, except denials (pure introspection).
    Never,
}

impl AuditBehaviour {
    fn as_str(self) -> &'static str {
        match self {
            AuditBehaviour::Always => "always",
            AuditBehaviour::Reads => "when audit.record_reads (reads of content); denials always",
            AuditBehaviour::Never => "introspection: denials only",
        }
    }
}

/// One registered operation.
#[derive(Clone, Copy)]
pub struct OperationSpec {
    /// Dotted name, e.g. `activation.run`.
    pub name: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// The request's JSON Schema.
    pub request_schema: fn() -> Value,
    /// The JSON Schema of `data` in an `ok` envelope (from the response type).
    pub response_schema: fn() -> Value,
    /// The command line's text for `data`: read back into the response type and
    /// shown by its [`response::Human`] impl (`Ok(None)`: shown as JSON; `Err`:
    /// `data` is not of the response type, e.g. a refusal's empty data).
    pub human: fn(&Value) -> Result<Option<String>, String>,
    /// How policy applies.
    pub policy: &'static str,
    /// Audit behaviour.
    pub audit: AuditBehaviour,
    /// Whether it changes the store.
    pub writes: bool,
    /// Adapter capabilities it needs.
    pub needs: &'static [Capability],
    /// The class of power it needs; the profile's `access` table grants classes to
    /// roles and the runner checks it before the handler runs.
    pub class: OperationClass,
    /// The handler the runner calls (after authorization and the capability
    /// check): request in, outcome out.
    pub handler: Handler,
    /// What a front end opens before it runs the operation.
    pub store: StoreUse,
}

/// An operation's handler. `Err` is an early, complete answer (a refusal with
/// its diagnostics), so `?` reads like the specification.
pub type Handler = fn(&mut Runtime, &Value, &CallContext, Time) -> Result<Outcome, Outcome>;

/// What a front end opens to run an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreUse {
    /// The store, shared (reads take no lock; writes wait for the writer lock).
    Open,
    /// The store in repair mode, so a store with corrupt records can still be
    /// diagnosed and fixed.
    Repair,
    /// No store: the operation works on its request alone (validation,
    /// verification, evaluation with its own stores) and runs on an in-memory
    /// runtime with the built-in profile.
    None,
}

impl OperationSpec {
    /// What `data` holds, in one line generated from the response schema
    /// (`{budget{limit,used}, items[{…}], path?}`: `?` marks a field that can be
    /// absent or null), for people: `contracts`, MCP tool descriptions, docs.
    pub fn response_shape(&self) -> String {
        shape::line(&(self.response_schema)())
    }
    /// Whether a network or tool client may choose this operation's time with
    /// `as_of`: only for reads (public, read and audit classes that change nothing);
    /// everything else runs on the service's clock.
    pub fn accepts_client_time(&self) -> bool {
        matches!(
            self.class,
            OperationClass::Public | OperationClass::Read | OperationClass::Audit
        ) && !self.writes
    }
}

fn schema<T: JsonSchema>() -> Value {
    serde_json::to_value(schema_for!(T)).unwrap_or(Value::Null)
}

macro_rules! op {
    ($name:literal, $req:ty, $resp:ty, $summary:literal, $policy:literal, $audit:ident, $writes:literal, [$($cap:ident),*], $class:ident, $handler:path, $store:ident) => {
        OperationSpec {
            name: $name,
            summary: $summary,
            request_schema: schema::<$req>,
            response_schema: schema::<$resp>,
            human: response::render::<$resp>,
            policy: $policy,
            audit: AuditBehaviour::$audit,
            writes: $writes,
            needs: &[$(Capability::$cap),*],
            class: OperationClass::$class,
            handler: $handler,
            store: StoreUse::$store,
        }
    };
}

/// Every operation (SERVICE_OPERATIONS), in name order.
pub const OPERATIONS: &[OperationSpec] = &[
    op!(
        "activation.run",
        ActivationRequest,
        response::Activation,
        "cue → ranked working set under a token budget",
        "each node passes decide(activation.run) inside the traversal; withheld nodes are counted per rule, never shown",
        Reads,
        false,
        [Graph, Events],
        Read,
        ops::activation::run,
        Open
    ),
    op!(
        "audit.prune",
        AuditPruneRequest,
        response::AuditPrune,
        "drop audit records past retention behind a checkpoint",
        "operation-level decide(audit.prune)",
        Always,
        true,
        [Audit, AuditPrune],
        Admin,
        ops::audit::prune,
        Open
    ),
    op!(
        "audit.query",
        AuditQueryRequest,
        response::AuditQuery,
        "audit records by time, actor, operation, status, subject",
        "operation-level decide(audit.query)",
        Never,
        false,
        [Audit],
        Audit,
        ops::audit::query,
        Open
    ),
    op!(
        "audit.verify",
        Empty,
        response::AuditVerify,
        "verify the hash chain and erasure receipts",
        "operation-level decide(audit.verify)",
        Never,
        false,
        [Audit],
        Audit,
        ops::audit::verify,
        Open
    ),
    op!(
        "edge.delete",
        EdgeDeleteRequest,
        response::EdgeDelete,
        "delete one edge",
        "decide(edge.delete) on both end nodes",
        Always,
        true,
        [Graph],
        Write,
        ops::edge::edge_delete,
        Open
    ),
    op!(
        "edge.upsert",
        EdgeUpsertRequest,
        response::EdgeUpsert,
        "insert or replace one edge",
        "decide(edge.upsert) on both end nodes",
        Always,
        true,
        [Graph],
        Write,
        ops::edge::edge_upsert,
        Open
    ),
    op!(
        "eval.run",
        EvalRequest,
        response::EvalRun,
        "run evaluation scenarios and gates",
        "operation-level decide(eval.run)",
        Never,
        false,
        [],
        Admin,
        ops::eval_run,
        None
    ),
    op!(
        "event.append",
        EventAppendRequest,
        response::EventAppend,
        "append an observation or access event",
        "decide(event.append) on each subject",
        Always,
        true,
        [Events],
        Write,
        ops::event::event_append,
        Open
    ),
    op!(
        "event.query",
        EventQueryRequest,
        response::EventQuery,
        "query the event history",
        "events naming a node the actor may not see are withheld",
        Reads,
        false,
        [Events],
        Read,
        ops::event::event_query,
        Open
    ),
    op!(
        "graph.export",
        ExportRequest,
        response::GraphExport,
        "export nodes, edges and events as JSONL",
        "operation-level decide(graph.export)",
        Reads,
        false,
        [Graph, Events],
        Read,
        ops::interchange::export,
        Open
    ),
    op!(
        "graph.import",
        ImportRequest,
        response::GraphImport,
        "bulk JSONL import, all-or-nothing",
        "operation-level decide(graph.import); admission rules on every node",
        Always,
        true,
        [Graph, Events, AtomicCommit],
        Write,
        ops::interchange::import,
        Open
    ),
    op!(
        "health.check",
        Empty,
        response::Health,
        "store reachable, schema current, audit head, index fresh, adapter capabilities",
        "none",
        Never,
        false,
        [],
        Public,
        ops::store::health,
        Open
    ),
    op!(
        "lifecycle.apply",
        LifecycleRequest,
        response::LifecycleApply,
        "apply the lifecycle plan; review-gated transitions become reviews",
        "decide(lifecycle.apply) with target_phase per transition",
        Always,
        true,
        [Graph, Events, Reviews],
        Govern,
        ops::lifecycle::apply,
        Open
    ),
    op!(
        "lifecycle.plan",
        LifecycleRequest,
        response::LifecyclePlan,
        "evaluate lifecycle rules at as_of",
        "nodes outside the actor's scopes are skipped",
        Never,
        false,
        [Graph, Events],
        Govern,
        ops::lifecycle::plan,
        Open
    ),
    op!(
        "node.delete",
        NodeRef,
        response::NodeDelete,
        "delete one node and its edges",
        "decide(node.delete) on the node; legal hold blocks",
        Always,
        true,
        [Graph],
        Write,
        ops::node::node_delete,
        Open
    ),
    op!(
        "node.get",
        NodeRef,
        response::NodeGet,
        "read one node",
        "decide(node.get) on the node; a withheld node is not_found",
        Reads,
        false,
        [Graph],
        Read,
        ops::node::node_get,
        Open
    ),
    op!(
        "node.upsert",
        NodeUpsertRequest,
        response::NodeUpsert,
        "insert or replace one node",
        "admission rules, then decide(node.upsert)",
        Always,
        true,
        [Graph, Events],
        Write,
        ops::node::node_upsert,
        Open
    ),
    op!(
        "package.compile",
        CompileRequest,
        response::Compile,
        "activation → Markitect package folder or .tar",
        "as activation.run, with operation package.compile",
        Reads,
        false,
        [Graph, Events],
        Read,
        ops::package::compile,
        Open
    ),
    op!(
        "package.verify",
        PackageVerifyRequest,
        response::PackageVerify,
        "re-hash a package folder or .tar",
        "none",
        Never,
        false,
        [],
        Read,
        ops::package::verify,
        None
    ),
    op!(
        "profile.apply",
        ProfileRequest,
        response::ProfileApply,
        "validate and activate a profile",
        "operation-level decide(profile.apply)",
        Always,
        true,
        [],
        Admin,
        ops::profile::apply,
        Open
    ),
    op!(
        "profile.show",
        Empty,
        response::ProfileShow,
        "the active profile",
        "none",
        Never,
        false,
        [],
        Read,
        ops::profile::show,
        Open
    ),
    op!(
        "profile.validate",
        ProfileRequest,
        response::ProfileValidate,
        "validate a profile without applying it",
        "none",
        Never,
        false,
        [],
        Read,
        ops::profile::validate,
        None
    ),
    op!(
        "review.decide",
        ReviewDecideRequest,
        response::ReviewDecide,
        "approve or reject a pending review",
        "the requester cannot decide its own review; operation-level decide(review.decide)",
        Always,
        true,
        [Reviews],
        Govern,
        ops::review::decide,
        Open
    ),
    op!(
        "review.list",
        ReviewListRequest,
        response::ReviewList,
        "the review queue",
        "reviews on nodes the actor may not see are withheld",
        Never,
        false,
        [Reviews],
        Read,
        ops::review::list,
        Open
    ),
    op!(
        "store.export",
        ExportRequest,
        response::StoreExport,
        "dump the whole store (graph, events, audit, reviews, profile) for another adapter",
        "operation-level decide(store.export)",
        Reads,
        false,
        [Graph, Events, Audit, Reviews],
        Admin,
        ops::store::export,
        Open
    ),
    op!(
        "store.import",
        ImportRequest,
        response::StoreImport,
        "restore a store dump into an empty store",
        "operation-level decide(store.import)",
        Always,
        true,
        [Graph, Events, Audit, Reviews],
        Admin,
        ops::store::import,
        Open
    ),
    op!(
        "store.init",
        StoreInitRequest,
        response::StoreInit,
        "create a store (handled before a store is open; the first audit record is written by the first operation)",
        "none",
        Never,
        true,
        [],
        Admin,
        ops::store_init,
        Open
    ),
    op!(
        "store.migrate",
        Empty,
        response::StoreMigrate,
        "apply pending migrations in order",
        "operation-level decide(store.migrate)",
        Always,
        true,
        [Migrations],
        Admin,
        ops::store::migrate,
        Open
    ),
    op!(
        "store.repair",
        RepairRequest,
        response::StoreRepair,
        "diagnose (and with apply, fix) corrupt records, missing references, orphaned paths, stale indexes, migration needs",
        "operation-level decide(store.repair)",
        Always,
        false,
        [],
        Admin,
        ops::store::repair,
        Repair
    ),
    op!(
        "store.status",
        Empty,
        response::StoreStatus,
        "schema version, migrations, counts, heads, retention",
        "none",
        Never,
        false,
        [],
        Read,
        ops::store::status,
        Open
    ),
];

/// Whether `name` is a registered operation that changes nothing (a read).
pub fn is_read(name: &str) -> bool {
    find(name).is_some_and(|o| !o.writes)
}

/// What a front end opens to run `name` (an unknown name opens the store, and
/// the runner then answers `operation.unknown`).
pub fn store_use(name: &str) -> StoreUse {
    find(name).map_or(StoreUse::Open, |o| o.store)
}

/// Looks an operation up by name.
pub fn find(name: &str) -> Option<&'static OperationSpec> {
    OPERATIONS.iter().find(|o| o.name == name)
}

/// The registry as JSON: every operation with its schemas, policy hook and audit
/// behaviour (`phase-memory contracts`).
pub fn service_contracts() -> Value {
    let ops: Vec<Value> = OPERATIONS
        .iter()
        .map(|o| {
            json!({
                "name": o.name,
                "summary": o.summary,
                "request_schema": (o.request_schema)(),
                "response": {"envelope": "phase-memory/v1", "data": o.response_shape(), "data_schema": (o.response_schema)()},
                "policy": o.policy,
                "audit": o.audit.as_str(),
                "writes": o.writes,
                "capabilities": o.needs.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "class": o.class.as_str(),
            })
        })
        .collect();
    json!({
        "envelope": phase_memory_model::ENVELOPE_VERSION,
        "envelope_schema": schema::<Envelope>(),
        "review_required_data_schema": schema::<response::ReviewRequired>(),
        "common_request_fields": {"actor": "{id, roles[], scopes[]}", "as_of": "RFC 3339 time", "request_id": "string"},
        "operations": ops,
    })
}
