//! Who calls and when: the context every front end hands to the runner.

use std::path::PathBuf;
use std::sync::Arc;

use phase_memory_model::{Actor, Time};

/// A progress callback: (done, total).
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Where a call comes from, which decides what it may do beyond its actor's
/// classes: name server paths, choose the time of a write.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Origin {
    /// A process on this machine that already has the store's files (the CLI,
    /// tests, embedded use): paths are the caller's own, `as_of` may date writes.
    #[default]
    Local,
    /// A network or tool client (HTTP service, MCP server): no server path unless
    /// the service was given a data folder, and then only relative paths inside
    /// it; `as_of` only for reads; writes take the service's clock.
    Remote {
        /// The folder (canonical) that relative paths resolve in, if any.
        data_dir: Option<PathBuf>,
    },
}

impl Origin {
    /// Whether the call comes from a network or tool client.
    pub fn is_remote(&self) -> bool {
        matches!(self, Origin::Remote { .. })
    }
}

/// The caller of an operation.
#[derive(Clone)]
pub struct CallContext {
    /// The actor (from the CLI flags, the bearer token or the MCP configuration).
    pub actor: Actor,
    /// Overrides the clock for this call.
    pub as_of: Option<Time>,
    /// Whether an `actor` field inside the request may replace [`CallContext::actor`]
    /// (true for the local CLI `op`, false for the HTTP service and MCP).
    pub trust_request_actor: bool,
    /// Progress reporting for long work (import, repair, eval).
    pub progress: Option<Progress>,
    /// Set while the runner applies an operation held by an approved review:
    /// `review` effects then count as allowed (a `deny` still denies).
    pub approved_review: Option<String>,
    /// Where the call comes from (local or a network/tool client).
    pub origin: Origin,
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext")
            .field("actor", &self.actor)
            .field("as_of", &self.as_of)
            .field("trust_request_actor", &self.trust_request_actor)
            .field("origin", &self.origin)
            .finish()
    }
}

impl CallContext {
    /// A local context for an actor.
    pub fn new(actor: Actor) -> Self {
        CallContext {
            actor,
            as_of: None,
            trust_request_actor: false,
            progress: None,
            approved_review: None,
            origin: Origin::Local,
        }
    }
    /// A context for a network or tool client (HTTP, MCP): server paths only
    /// inside `data_dir` (none without it), the service's clock for writes.
    pub fn remote(actor: Actor, data_dir: Option<PathBuf>) -> Self {
        CallContext {
            origin: Origin::Remote { data_dir },
            ..CallContext::new(actor)
        }
    }
    /// The actor a local front end (the command line) acts as: a named actor
    /// defaults to the `member` role in the `default` scope; without a name it is
    /// the local owner (every scope), whose roles and scopes `roles` and
    /// `scopes` replace when given.
    pub fn local_actor(id: Option<&str>, roles: &[String], scopes: &[String]) -> Actor {
        let or = |given: &[String], default: Vec<String>| {
            if given.is_empty() {
                default
            } else {
                given.to_vec()
            }
        };
        match id {
            Some(id) => Actor {
                id: id.to_string(),
                roles: or(roles, vec!["member".into()]),
                scopes: or(scopes, vec!["default".into()]),
            },
            None => {
                let owner = Actor::owner();
                Actor {
                    roles: or(roles, owner.roles),
                    scopes: or(scopes, owner.scopes),
                    id: owner.id,
                }
            }
        }
    }
    /// The local owner with every scope.
    pub fn owner() -> Self {
        CallContext::new(Actor::owner())
    }
    /// Sets the time.
    pub fn at(mut self, t: Time) -> Self {
        self.as_of = Some(t);
        self
    }
}
