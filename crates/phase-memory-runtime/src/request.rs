//! Request types of every operation: the wire contract, with JSON Schemas generated
//! from these types. Every request may also carry `actor`, `as_of` and `request_id`,
//! which the runner strips before the operation sees the request.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use phase_memory_model::Time;

/// No parameters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `store.init`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreInitRequest {
    /// `file` (default) or `sqlite`.
    #[serde(default)]
    pub adapter: Option<String>,
    /// Profile TOML source (default: the built-in profile).
    #[serde(default)]
    pub profile: Option<String>,
}

/// `store.repair`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairRequest {
    /// Fix what can be fixed (default: report only).
    #[serde(default)]
    pub apply: bool,
}

/// `store.export` / `graph.export`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Write to this file (default: return the JSONL in `data.jsonl`).
    #[serde(default)]
    pub path: Option<String>,
}

/// `graph.import` / `store.import`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// A JSONL file to read.
    #[serde(default)]
    pub path: Option<String>,
    /// Records given inline.
    #[serde(default)]
    pub records: Option<Vec<Value>>,
}

/// `profile.apply` / `profile.validate`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// A profile file to read.
    #[serde(default)]
    pub path: Option<String>,
    /// The profile TOML source given inline.
    #[serde(default)]
    pub source: Option<String>,
}

/// `node.get` / `node.delete`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeRef {
    /// Node id.
    pub node: String,
}

/// `node.upsert`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeUpsertRequest {
    /// A node record (the import format's node fields; `record` may be omitted).
    pub node: Value,
}

/// `edge.upsert`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeUpsertRequest {
    /// An edge record (`from`, `to`, `type`, optional `weight`, `attrs`).
    pub edge: Value,
}

/// The identity of an edge.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeKeyRequest {
    /// Source.
    pub from: String,
    /// Target.
    pub to: String,
    /// Type.
    #[serde(rename = "type")]
    pub edge_type: String,
}

/// `edge.delete`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeDeleteRequest {
    /// The edge.
    pub edge: EdgeKeyRequest,
}

/// `event.append`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventAppendRequest {
    /// An event record (`event`/`type`, `at`, `subjects`, `payload`).
    pub event: Value,
}

/// `event.query`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventQueryRequest {
    /// Only events after this seq.
    #[serde(default)]
    pub after_seq: Option<u64>,
    /// At or after.
    #[serde(default)]
    pub since: Option<Time>,
    /// Before.
    #[serde(default)]
    pub until: Option<Time>,
    /// Event type.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// Subject node.
    #[serde(default)]
    pub subject: Option<String>,
    /// At most (default 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `lifecycle.plan` / `lifecycle.apply`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRequest {
    /// Only these nodes (default: all).
    #[serde(default)]
    pub nodes: Option<Vec<String>>,
}

/// A semantic-index hint.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hint {
    /// Node id.
    pub node: String,
    /// Score in [0, 1].
    pub score: f64,
}

/// The cue of an activation.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CueRequest {
    /// Free text, matched with BM25.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Explicit seed nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Semantic-index hints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<Hint>,
    /// Event-path seeds: nodes touched by observations/accesses after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_since: Option<Time>,
}

/// `activation.run`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivationRequest {
    /// The cue.
    pub cue: CueRequest,
    /// Token budget (default from the profile).
    #[serde(default)]
    pub budget_tokens: Option<u64>,
    /// Item limit (default from the profile).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Return every score term and path.
    #[serde(default)]
    pub explain: bool,
    /// Include nodes not valid at `as_of`.
    #[serde(default)]
    pub include_invalid: bool,
    /// Scopes to restrict to (within the actor's).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `package.compile`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompileRequest {
    /// The cue.
    pub cue: CueRequest,
    /// Token budget.
    #[serde(default)]
    pub budget_tokens: Option<u64>,
    /// Item limit.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Explain (recorded in the manifest's items).
    #[serde(default)]
    pub explain: bool,
    /// Include nodes not valid at `as_of`.
    #[serde(default)]
    pub include_invalid: bool,
    /// Scopes to restrict to.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Output folder (or .tar file with `archive`). Without it the package's
    /// files come back in the response (`contents`); over HTTP, `Accept:
    /// application/x-tar` streams them as a tar archive.
    #[serde(default)]
    pub out: Option<String>,
    /// Write a .tar instead of a folder.
    #[serde(default)]
    pub archive: bool,
}

/// The six fields `activation.run` and `package.compile` share, borrowed from
/// either request. The two wire types stay separate structs: serde's `flatten`
/// cannot be combined with `deny_unknown_fields`, which both need, and their
/// field documentation (the published schemas) differs.
#[derive(Clone, Copy, Debug)]
pub struct ActivationFields<'a> {
    /// The cue.
    pub cue: &'a CueRequest,
    /// Token budget (default from the profile).
    pub budget_tokens: Option<u64>,
    /// Item limit (default from the profile).
    pub limit: Option<usize>,
    /// Return every score term and path.
    pub explain: bool,
    /// Include nodes not valid at `as_of`.
    pub include_invalid: bool,
    /// Scopes to restrict to (within the actor's).
    pub scopes: Option<&'a Vec<String>>,
}

/// `fields()` for the requests that carry the shared activation fields: one
/// implementation for both wire types.
macro_rules! activation_fields {
    ($($request:ty),+) => {$(
        impl $request {
            /// The fields `activation.run` and `package.compile` share.
            pub fn fields(&self) -> ActivationFields<'_> {
                ActivationFields {
                    cue: &self.cue,
                    budget_tokens: self.budget_tokens,
                    limit: self.limit,
                    explain: self.explain,
                    include_invalid: self.include_invalid,
                    scopes: self.scopes.as_ref(),
                }
            }
        }
    )+};
}

activation_fields!(ActivationRequest, CompileRequest);

/// `package.verify`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageVerifyRequest {
    /// A package folder or .tar.
    pub path: String,
}

/// `review.list`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewListRequest {
    /// Only this status (pending, approved, rejected, expired).
    #[serde(default)]
    pub status: Option<String>,
}

/// `review.decide`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecideRequest {
    /// Review id.
    pub review: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `audit.query`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQueryRequest {
    /// At or after.
    #[serde(default)]
    pub since: Option<Time>,
    /// Before.
    #[serde(default)]
    pub until: Option<Time>,
    /// Actor id.
    #[serde(default)]
    pub actor: Option<String>,
    /// Operation name.
    #[serde(default)]
    pub operation: Option<String>,
    /// Envelope status.
    #[serde(default)]
    pub status: Option<String>,
    /// Subject id.
    #[serde(default)]
    pub subject: Option<String>,
    /// At most (default 1000, the newest kept).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `audit.prune`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditPruneRequest {
    /// Prune records before this time (default: as_of minus the profile's retention).
    #[serde(default)]
    pub before: Option<Time>,
}

/// `eval.run`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvalRequest {
    /// A scenario folder, or a folder of scenario folders.
    pub dir: String,
    /// Write the JSON report here.
    #[serde(default)]
    pub report: Option<String>,
}
