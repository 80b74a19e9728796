//! Integration tests of governance: policy decisions, admission, lifecycle planning,
//! legal hold and erasure receipts, the example profiles, and invariants (proptest).

mod admission;
mod erasure;
mod lifecycle;
mod policy;
mod profiles;
mod properties;

use phase_memory_model::{Actor, Node, Time};
use phase_memory_profile::Profile;

/// A time from an RFC 3339 date or timestamp.
pub fn t(s: &str) -> Time {
    s.parse().unwrap_or_else(|e| panic!("bad time {s}: {e}"))
}

/// A node of `kind` in `phase`, created 2026-01-01, scope `default`,
/// sensitivity `internal`.
pub fn node(id: &str, kind: &str, phase: &str) -> Node {
    Node {
        id: id.into(),
        kind: kind.into(),
        phase: phase.into(),
        title: String::new(),
        body: String::new(),
        labels: Vec::new(),
        scope: "default".into(),
        sensitivity: "internal".into(),
        attrs: Default::default(),
        created_at: t("2026-01-01"),
        updated_at: t("2026-01-01"),
        valid_from: None,
        valid_to: None,
        tokens: 0,
        tombstone: None,
        implicit_time: false,
    }
}

/// An actor with roles and scopes.
pub fn actor(roles: &[&str], scopes: &[&str]) -> Actor {
    Actor {
        id: "tester".into(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

/// The common head of test profiles: levels, phases, kinds, edge types.
pub const BASE: &str = r#"
name = "test"

[sensitivity]
levels = ["public", "internal", "confidential", "secret"]
default = "internal"

[[phases]]
name = "captured"
activation_weight = 0.8

[[phases]]
name = "active"
activation_weight = 1.0

[[phases]]
name = "dormant"
activation_weight = 0.5

[[phases]]
name = "archived"
activation_weight = 0.2

[[phases]]
name = "forgotten"
activation_weight = 0.0

[kinds.fact]
initial_phase = "active"

[kinds.episode]
initial_phase = "captured"

[edge_types.supersedes]
weight = 0.3
direction = "forward"

[edge_types.relates_to]
weight = 0.6
"#;

/// Parses `BASE` followed by `rest`.
pub fn profile(rest: &str) -> Profile {
    let src = format!("{BASE}\n{rest}");
    Profile::parse(&src, "test.toml")
        .unwrap_or_else(|e| panic!("test profile invalid:\n{e}\n{src}"))
}
