//! Diagnostics with stable dotted codes, envelope statuses, and the one table that
//! maps them to CLI exit codes and HTTP statuses.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How serious a diagnostic is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The operation failed because of it.
    Error,
    /// Something the caller should know.
    Warning,
    /// For information.
    Info,
}

/// One finding attached to an envelope. `code` is stable and dotted
/// (see [`CODES`]); `path` says where (file:line:col, a JSON path, a store path).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Diagnostic {
    /// Stable dotted code, e.g. `graph.missing_reference`.
    pub code: String,
    /// Severity.
    pub severity: Severity,
    /// Human-readable explanation. Never contains withheld content.
    pub message: String,
    /// Where the problem is, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Diagnostic {
    /// An error diagnostic.
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            severity: Severity::Error,
            message: message.into(),
            path: None,
        }
    }
    /// A warning diagnostic.
    pub fn warning(code: &str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }
    /// An informational diagnostic.
    pub fn info(code: &str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Info,
            ..Self::error(code, message)
        }
    }
    /// Sets the location.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
}

/// The status of an envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Done.
    Ok,
    /// Policy said no.
    Denied,
    /// Held for a second actor's review.
    ReviewRequired,
    /// The request or its input is malformed.
    Invalid,
    /// The subject does not exist (or is not visible).
    NotFound,
    /// The request conflicts with the current state.
    Conflict,
    /// Our fault: I/O, corruption, a bug.
    Error,
}

impl Status {
    /// CLI exit code: 0 ok, 2 invalid, 3 denied/review, 4 not found/conflict, 1 error.
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Invalid => 2,
            Status::Denied | Status::ReviewRequired => 3,
            Status::NotFound | Status::Conflict => 4,
            Status::Error => 1,
        }
    }
    /// HTTP status code for the service.
    pub fn http_status(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::ReviewRequired => 202,
            Status::Invalid => 400,
            Status::Denied => 403,
            Status::NotFound => 404,
            Status::Conflict => 409,
            Status::Error => 500,
        }
    }
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Denied => "denied",
            Status::ReviewRequired => "review_required",
            Status::Invalid => "invalid",
            Status::NotFound => "not_found",
            Status::Conflict => "conflict",
            Status::Error => "error",
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "ok" => Status::Ok,
            "denied" => Status::Denied,
            "review_required" => Status::ReviewRequired,
            "invalid" => Status::Invalid,
            "not_found" => Status::NotFound,
            "conflict" => Status::Conflict,
            "error" => Status::Error,
            _ => return None,
        })
    }
}

/// The HTTP status the service answers with when `code` is the error of an
/// envelope of `status`: the status's own, except `auth.unauthenticated` (401,
/// the front end's refusal before any operation runs).
pub fn http_status_of(code: &str, status: Status) -> u16 {
    match code {
        "auth.unauthenticated" => 401,
        _ => status.http_status(),
    }
}

/// The diagnostic code table as the Markdown table of docs/operations.md
/// (code, status, CLI exit, HTTP, meaning); a test keeps the page equal to it.
pub fn codes_markdown() -> String {
    let mut t = String::from(
        "| code | status | CLI exit | HTTP | meaning |\n| --- | --- | --- | --- | --- |\n",
    );
    for (code, status, meaning) in CODES {
        t.push_str(&format!(
            "| `{code}` | `{}` | {} | {} | {meaning} |\n",
            status.as_str(),
            status.exit_code(),
            http_status_of(code, *status)
        ));
    }
    t
}

/// The table of every diagnostic code: (code, the status it implies, meaning).
/// docs/operations.md reproduces it ([`codes_markdown`]); a test keeps the two in step.
pub const CODES: &[(&str, Status, &str)] = &[
    (
        "adapter.missing_capability",
        Status::Error,
        "the store adapter lacks a capability the operation needs",
    ),
    (
        "audit.chain_broken",
        Status::Error,
        "an audit record was edited, deleted or reordered",
    ),
    (
        "audit.pruned",
        Status::Ok,
        "audit records past retention were pruned behind a checkpoint",
    ),
    (
        "auth.forbidden",
        Status::Denied,
        "the token is valid but the actor may not do this",
    ),
    (
        "auth.unauthenticated",
        Status::Invalid,
        "no token or an unknown token",
    ),
    (
        "budget.exhausted",
        Status::Ok,
        "some activated items did not fit the token budget",
    ),
    (
        "eval.gate_failed",
        Status::Error,
        "an evaluation gate fell below its threshold",
    ),
    (
        "files.denied",
        Status::Denied,
        "a network client named a server path without or outside the service's data folder",
    ),
    (
        "files.limit",
        Status::Invalid,
        "a file or package read passed its size, entry or time limit",
    ),
    (
        "graph.invalid_id",
        Status::Invalid,
        "an id is empty, too long or has control characters",
    ),
    (
        "graph.missing_reference",
        Status::Invalid,
        "an imported edge names a node that exists neither in the import nor in the store",
    ),
    (
        "graph.unknown_edge_type",
        Status::Invalid,
        "the edge type is not declared by the profile",
    ),
    (
        "graph.unknown_kind",
        Status::Invalid,
        "the node kind is not declared by the profile",
    ),
    (
        "graph.unknown_phase",
        Status::Invalid,
        "the phase is not declared by the profile",
    ),
    (
        "graph.unknown_sensitivity",
        Status::Invalid,
        "the sensitivity level is not declared by the profile",
    ),
    (
        "internal.panic",
        Status::Error,
        "an operation failed unexpectedly; the store is unchanged",
    ),
    (
        "import.invalid_json",
        Status::Invalid,
        "a line of the import file is not JSON",
    ),
    (
        "import.invalid_record",
        Status::Invalid,
        "a record misses a field or has a wrong type",
    ),
    (
        "import.unknown_record",
        Status::Invalid,
        "a record's `record` field is not node, edge or event",
    ),
    (
        "legal_hold.active",
        Status::Denied,
        "the node is under legal hold and cannot be forgotten or pruned",
    ),
    (
        "lifecycle.transition",
        Status::Ok,
        "a lifecycle rule moved a node to another phase",
    ),
    (
        "node.forgotten",
        Status::Conflict,
        "the node was forgotten; only its tombstone remains (a write to it is a conflict; node.get answers ok with this as an info diagnostic)",
    ),
    (
        "node.not_found",
        Status::NotFound,
        "no such node (or it is not visible to the actor)",
    ),
    (
        "operation.unknown",
        Status::Invalid,
        "no operation of that name",
    ),
    (
        "operation.unsupported",
        Status::Invalid,
        "the operation is registered but not available here",
    ),
    (
        "package.hash_mismatch",
        Status::Invalid,
        "a package file does not match its manifest hash",
    ),
    (
        "package.invalid",
        Status::Invalid,
        "a package folder or archive is malformed",
    ),
    (
        "policy.admission",
        Status::Denied,
        "an admission rule matched the content of a write",
    ),
    (
        "policy.denied",
        Status::Denied,
        "a policy rule denied the operation",
    ),
    (
        "policy.withheld",
        Status::Ok,
        "nodes were withheld by policy (counted, never shown)",
    ),
    (
        "profile.invalid",
        Status::Invalid,
        "the profile does not parse or validate",
    ),
    (
        "request.as_of_write",
        Status::Invalid,
        "a network client asked for as_of on an operation that writes",
    ),
    (
        "request.invalid",
        Status::Invalid,
        "the request does not match the operation's schema",
    ),
    (
        "review.conflict",
        Status::Conflict,
        "the review was already decided or expired",
    ),
    ("review.not_found", Status::NotFound, "no such review"),
    (
        "review.required",
        Status::ReviewRequired,
        "the operation is held for review by a second actor",
    ),
    (
        "review.self_approval",
        Status::Denied,
        "the requester cannot decide its own review",
    ),
    (
        "service.timeout",
        Status::Error,
        "the HTTP request did not finish within the service's timeout",
    ),
    (
        "store.corrupt_record",
        Status::Error,
        "a record fails its checksum or does not parse",
    ),
    ("store.io", Status::Error, "an I/O error in the store"),
    (
        "store.locked",
        Status::Conflict,
        "another writer holds the store lock",
    ),
    (
        "store.migration_needed",
        Status::Conflict,
        "the store format is older than this binary; run migrate",
    ),
    (
        "store.not_found",
        Status::NotFound,
        "no store at that location; run init",
    ),
    (
        "store.orphaned_path",
        Status::Ok,
        "a file in the store folder that no manifest names",
    ),
    (
        "store.stale_index",
        Status::Ok,
        "a derived index is behind the store",
    ),
    (
        "store.exists",
        Status::Conflict,
        "a store already exists at that location",
    ),
];
