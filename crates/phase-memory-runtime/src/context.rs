//! Who calls and when: the context every front end hands to the runner.

use std::sync::Arc;

use phase_memory_model::{Actor, Time};

/// A progress callback: (done, total).
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

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
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext")
            .field("actor", &self.actor)
            .field("as_of", &self.as_of)
            .field("trust_request_actor", &self.trust_request_actor)
            .finish()
    }
}

impl CallContext {
    /// A context for an actor.
    pub fn new(actor: Actor) -> Self {
        CallContext {
            actor,
            as_of: None,
            trust_request_actor: false,
            progress: None,
            approved_review: None,
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
