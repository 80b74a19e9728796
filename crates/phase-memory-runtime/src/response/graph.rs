//! `graph.import`, `graph.export`, `node.*`, `edge.*`, `event.*`.

use phase_memory_model::{Edge, Event, Node, Tombstone};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Human;

/// A count of withheld records.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct WithheldCount {
    /// How many.
    pub count: u64,
}

/// `graph.import`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct GraphImport {
    /// Nodes written.
    pub nodes: u64,
    /// Edges written.
    pub edges: u64,
    /// Events appended.
    pub events: u64,
    /// The file or `records`.
    pub source: String,
}

/// Record counts.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    /// Nodes.
    pub nodes: u64,
    /// Edges.
    pub edges: u64,
    /// Events.
    pub events: u64,
    /// Records withheld by policy (below the admin class only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<u64>,
}

/// `graph.export`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct GraphExport {
    /// Counts.
    pub counts: Counts,
    /// The file written (absent when the text is returned inline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The JSONL text when no path was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsonl: Option<String>,
}

/// `node.get`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct NodeGet {
    /// The node (a tombstone when forgotten).
    pub node: Node,
}

/// `node.upsert`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct NodeUpsert {
    /// The node as stored.
    pub node: Node,
    /// Whether it is new.
    pub created: bool,
}

/// `node.delete`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct NodeDelete {
    /// Node id.
    pub node: String,
    /// Edges removed with it.
    pub deleted_edges: u64,
    /// What remains.
    pub tombstone: Option<Tombstone>,
}

/// `edge.upsert`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct EdgeUpsert {
    /// The edge as stored.
    pub edge: Edge,
    /// Whether it is new.
    pub created: bool,
}

/// An edge's identity.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct EdgeId {
    /// Source.
    pub from: String,
    /// Target.
    pub to: String,
    /// Type.
    #[serde(rename = "type")]
    pub edge_type: String,
}

/// `edge.delete`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct EdgeDelete {
    /// The edge.
    pub edge: EdgeId,
    /// Deleted.
    pub deleted: bool,
}

/// `event.append`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct EventAppend {
    /// The event as stored.
    pub event: Event,
}

/// `event.query`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct EventQuery {
    /// Events in seq order.
    pub events: Vec<Event>,
    /// Events withheld by policy.
    pub withheld: WithheldCount,
}

impl Human for GraphImport {}

impl Human for GraphExport {
    /// The JSONL itself when it came inline.
    fn human(&self) -> Option<String> {
        self.jsonl.as_deref().map(|j| j.trim_end().to_string())
    }
}

impl Human for NodeGet {
    fn human(&self) -> Option<String> {
        let n = &self.node;
        Some(format!(
            "{} [{} / {} / {}] scope {} sensitivity {}\n{}\n\n{}",
            n.id, n.kind, n.phase, n.tokens, n.scope, n.sensitivity, n.title, n.body
        ))
    }
}

impl Human for NodeUpsert {}

impl Human for NodeDelete {}

impl Human for EdgeUpsert {}

impl Human for EdgeDelete {}

impl Human for EventAppend {}

impl Human for EventQuery {}
