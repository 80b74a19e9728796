//! Adapter manifests: what an adapter is, what it can do, and which conformance
//! checks it claims to pass.

use serde::{Deserialize, Serialize};

/// A capability an operation may need from its adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Nodes and edges.
    Graph,
    /// The event history.
    Events,
    /// The audit chain.
    Audit,
    /// The review queue.
    Reviews,
    /// All-or-nothing commits.
    AtomicCommit,
    /// Data survives the process.
    Durable,
    /// Forgetting physically erases content.
    Purge,
    /// Audit pruning behind a checkpoint.
    AuditPrune,
    /// Schema migrations.
    Migrations,
    /// Integrity check and repair with quarantine.
    Repair,
    /// A persistent full-text index folder beside the data.
    IndexDir,
}

impl Capability {
    /// Every capability: what a durable adapter with the whole feature set (file,
    /// SQLite) declares.
    pub const ALL: &'static [Capability] = &[
        Capability::Graph,
        Capability::Events,
        Capability::Audit,
        Capability::Reviews,
        Capability::AtomicCommit,
        Capability::Durable,
        Capability::Purge,
        Capability::AuditPrune,
        Capability::Migrations,
        Capability::Repair,
        Capability::IndexDir,
    ];

    /// What an adapter that lives in process memory can declare: everything but
    /// durability, migrations, repair and an index folder.
    pub const IN_MEMORY: &'static [Capability] = &[
        Capability::Graph,
        Capability::Events,
        Capability::Audit,
        Capability::Reviews,
        Capability::AtomicCommit,
        Capability::Purge,
        Capability::AuditPrune,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Graph => "graph",
            Capability::Events => "events",
            Capability::Audit => "audit",
            Capability::Reviews => "reviews",
            Capability::AtomicCommit => "atomic_commit",
            Capability::Durable => "durable",
            Capability::Purge => "purge",
            Capability::AuditPrune => "audit_prune",
            Capability::Migrations => "migrations",
            Capability::Repair => "repair",
            Capability::IndexDir => "index_dir",
        }
    }
}

/// What an adapter declares about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterManifest {
    /// Adapter name (`file`, `sqlite`, `memory`).
    pub name: String,
    /// Adapter version.
    pub version: String,
    /// What it can do.
    pub capabilities: Vec<Capability>,
    /// What it owns (which data lives where) and what it does not.
    pub ownership: String,
    /// Conformance checks it claims to pass (names from [`crate::conformance::CHECKS`]).
    pub conformance: Vec<String>,
}

impl AdapterManifest {
    /// A manifest declaring `capabilities` and claiming every conformance check
    /// they cover ([`crate::conformance::claimed`]).
    pub fn new(
        name: &str,
        version: &str,
        capabilities: &[Capability],
        ownership: impl Into<String>,
    ) -> Self {
        AdapterManifest {
            name: name.into(),
            version: version.into(),
            capabilities: capabilities.to_vec(),
            ownership: ownership.into(),
            conformance: crate::conformance::claimed(capabilities),
        }
    }

    /// Whether the adapter declares a capability.
    pub fn has(&self, c: Capability) -> bool {
        self.capabilities.contains(&c)
    }
}
