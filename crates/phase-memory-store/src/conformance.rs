//! The conformance suite: written once over the traits, run against every adapter.
//!
//! An adapter's manifest names the checks it claims ([`AdapterManifest::conformance`]);
//! [`run`] executes every check, and reports a check the adapter cannot run (for want
//! of a capability) as skipped *with its reason* — never silently.

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

mod audit;
mod durability;
pub mod fixtures;
mod records;
mod shared;

use crate::{AdapterManifest, Capability, Store};
use audit::*;
use durability::*;
pub use fixtures::sample_node;
use records::*;
pub use shared::shared_access;

/// Creates fresh stores of one adapter and reopens them.
pub trait StoreFactory {
    /// A new, empty store.
    fn create(&self) -> Box<dyn Store>;
    /// Closes `store` and opens the same location again.
    fn reopen(&self, store: Box<dyn Store>) -> Box<dyn Store>;
}

/// One conformance check.
pub struct Check {
    /// Stable name.
    pub name: &'static str,
    /// Capabilities it needs.
    pub needs: &'static [Capability],
    /// The check: Ok or what failed.
    pub run: fn(&dyn StoreFactory) -> Result<(), String>,
}

/// Outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Passed,
    /// Failed, with what went wrong.
    Failed(String),
    /// Not run, with the reason.
    Skipped(String),
}

/// Every check of the suite.
pub const CHECKS: &[Check] = &[
    Check {
        name: "node_round_trip",
        needs: &[Capability::Graph],
        run: node_round_trip,
    },
    Check {
        name: "awkward_ids",
        needs: &[Capability::Graph],
        run: awkward_ids,
    },
    Check {
        name: "edge_round_trip",
        needs: &[Capability::Graph],
        run: edge_round_trip,
    },
    Check {
        name: "event_sequence",
        needs: &[Capability::Events],
        run: event_sequence,
    },
    Check {
        name: "audit_chain",
        needs: &[Capability::Audit],
        run: audit_chain,
    },
    Check {
        name: "audit_prune",
        needs: &[Capability::AuditPrune],
        run: audit_prune,
    },
    Check {
        name: "restore_after_checkpoint",
        needs: &[Capability::AuditPrune],
        run: restore_after_checkpoint,
    },
    Check {
        name: "reviews_round_trip",
        needs: &[Capability::Reviews],
        run: reviews_round_trip,
    },
    Check {
        name: "profile_and_meta",
        needs: &[Capability::Graph],
        run: profile_and_meta,
    },
    Check {
        name: "atomic_refusal",
        needs: &[Capability::AtomicCommit],
        run: atomic_refusal,
    },
    Check {
        name: "durable_reopen",
        needs: &[Capability::Durable],
        run: durable_reopen,
    },
];

/// Names of the checks an adapter with these capabilities claims: every check
/// whose needs it declares.
pub fn claimed(capabilities: &[Capability]) -> Vec<String> {
    CHECKS
        .iter()
        .filter(|c| c.needs.iter().all(|n| capabilities.contains(n)))
        .map(|c| c.name.to_string())
        .collect()
}

/// Runs the suite against an adapter, driven by its manifest.
pub fn run(factory: &dyn StoreFactory) -> Vec<(&'static str, Outcome)> {
    let manifest: AdapterManifest = factory.create().manifest();
    CHECKS
        .iter()
        .map(|c| {
            let missing: Vec<&str> = c
                .needs
                .iter()
                .filter(|n| !manifest.has(**n))
                .map(|n| n.as_str())
                .collect();
            let outcome = if !missing.is_empty() {
                Outcome::Skipped(format!(
                    "adapter {} lacks capability {}",
                    manifest.name,
                    missing.join(", ")
                ))
            } else if !manifest.conformance.iter().any(|n| n == c.name) {
                Outcome::Failed(format!(
                    "adapter {} has the capabilities for {} but does not claim it in its manifest",
                    manifest.name, c.name
                ))
            } else {
                match (c.run)(factory) {
                    Ok(()) => Outcome::Passed,
                    Err(e) => Outcome::Failed(e),
                }
            };
            (c.name, outcome)
        })
        .collect()
}

/// Runs the suite and panics with every failure (for adapter test binaries).
pub fn assert_conforms(factory: &dyn StoreFactory) {
    let results = run(factory);
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(n, o)| match o {
            Outcome::Failed(e) => Some(format!("{n}: {e}")),
            _ => None,
        })
        .collect();
    for (n, o) in &results {
        if let Outcome::Skipped(why) = o {
            eprintln!("conformance: {n} skipped: {why}");
        }
    }
    assert!(
        failures.is_empty(),
        "conformance failures:\n{}",
        failures.join("\n")
    );
}
