//! The typed graph and its history: nodes, edges, events, and the actors who act.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::Time;

/// Free-form attributes, always iterated in key order.
pub type Attrs = BTreeMap<String, Value>;

/// A memory: one node of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Node {
    /// Stable id: UTF-8, 1–256 bytes, no control characters.
    pub id: String,
    /// Node kind, declared by the profile.
    pub kind: String,
    /// Lifecycle phase, declared by the profile.
    pub phase: String,
    /// Short title.
    #[serde(default)]
    pub title: String,
    /// Body text (Markdown).
    #[serde(default)]
    pub body: String,
    /// Labels, sorted and deduplicated.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Namespace (tenant / project).
    pub scope: String,
    /// Sensitivity level, declared by the profile.
    pub sensitivity: String,
    /// Free attributes.
    #[serde(default)]
    pub attrs: Attrs,
    /// When the node was first recorded.
    pub created_at: Time,
    /// When the node was last changed.
    pub updated_at: Time,
    /// Start of validity in the world (bi-temporal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Time>,
    /// End of validity in the world (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<Time>,
    /// Token count of title + body under the profile's tokenizer.
    #[serde(default)]
    pub tokens: u32,
    /// Present once the node is forgotten: what remains of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tombstone: Option<Tombstone>,
    /// The node came from a bulk import that gave no `created_at`, so its times
    /// are the importing clock's; graph exports omit them so that an import of the
    /// same file gives the same export whenever it runs.
    #[serde(default, skip_serializing_if = "is_false")]
    pub implicit_time: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Node {
    /// The text that is indexed and counted: title and body.
    pub fn text(&self) -> String {
        if self.title.is_empty() {
            self.body.clone()
        } else if self.body.is_empty() {
            self.title.clone()
        } else {
            format!("{}\n\n{}", self.title, self.body)
        }
    }

    /// Content hash of what a forget would erase (title, body, attrs).
    pub fn content_hash(&self) -> String {
        let v = serde_json::json!({"title": self.title, "body": self.body, "attrs": self.attrs});
        crate::canonical::digest_value(&v)
    }

    /// Whether the node holds in the world at `t` (bi-temporal validity).
    pub fn valid_at(&self, t: Time) -> bool {
        self.valid_from.is_none_or(|f| f <= t) && self.valid_to.is_none_or(|to| t < to)
    }

    /// Whether the node carries a label.
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }

    /// Sorts and deduplicates labels.
    pub fn normalize(&mut self) {
        self.labels.sort();
        self.labels.dedup();
    }
}

/// What remains of a forgotten node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tombstone {
    /// BLAKE3 of the erased content.
    pub content_hash: String,
    /// When it was forgotten.
    pub forgotten_at: Time,
    /// Why: the rule id or review id that decided it.
    pub reason: String,
}

/// The identity of an edge: (from, to, type).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct EdgeKey {
    /// Source node.
    pub from: String,
    /// Target node.
    pub to: String,
    /// Edge type.
    #[serde(rename = "type")]
    pub edge_type: String,
}

/// A typed, weighted edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Edge {
    /// Source node id.
    pub from: String,
    /// Target node id.
    pub to: String,
    /// Edge type, declared by the profile.
    #[serde(rename = "type")]
    pub edge_type: String,
    /// Weight (default 1.0).
    pub weight: f64,
    /// Free attributes.
    #[serde(default)]
    pub attrs: Attrs,
    /// When the edge was recorded.
    pub created_at: Time,
}

impl Edge {
    /// The edge's identity.
    pub fn key(&self) -> EdgeKey {
        EdgeKey {
            from: self.from.clone(),
            to: self.to.clone(),
            edge_type: self.edge_type.clone(),
        }
    }
    /// A stable id derived from the key (no random ids).
    pub fn id(&self) -> String {
        let k = format!("{}\u{1f}{}\u{1f}{}", self.from, self.to, self.edge_type);
        format!("e-{}", &blake3::hash(k.as_bytes()).to_hex()[..16])
    }
}

/// One entry of the append-only history, totally ordered by `seq`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// Position in the history, from 1, without gaps.
    pub seq: u64,
    /// Stable id (`ev-<seq>` unless given).
    pub id: String,
    /// When it happened.
    pub at: Time,
    /// Who did it.
    pub actor: String,
    /// Event type (node.created, node.accessed, observation, …).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Node ids it concerns.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Free payload.
    #[serde(default)]
    pub payload: Value,
}

/// Who asks: an id with roles and the scopes it may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Actor {
    /// Actor id.
    pub id: String,
    /// Roles (owner, member, reviewer, auditor, …).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Scopes the actor may see; `*` means every scope.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl Actor {
    /// The local owner: every role that matters and every scope.
    pub fn owner() -> Self {
        Actor {
            id: "owner".into(),
            roles: vec!["owner".into()],
            scopes: vec!["*".into()],
        }
    }
    /// Whether the actor may see a scope.
    pub fn sees_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == "*" || s == scope)
    }
    /// Whether the actor has a role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}
