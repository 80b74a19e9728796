//! What a handler produces: the [`Outcome`] of an operation (envelope data,
//! diagnostics, the change set to commit, audit details), the extra audit
//! records it asks for, and the derived-index maintenance after the commit.
//! It sits below both the runner and the handlers, so neither imports the other
//! for it.

use std::sync::Arc;

use phase_memory_model::{Diagnostic, Node, Status};
use phase_memory_profile::Profile;
use phase_memory_store::{ChangeSet, StoreError};
use serde::Serialize;
use serde_json::{Value, json};

use crate::context::CallContext;

/// A handler supplied by a front end for an operation the runtime cannot run on
/// its own (e.g. `eval.run`, which builds its own stores).
pub type Extension = Arc<dyn Fn(&Value, &CallContext) -> Outcome + Send + Sync>;

/// An extra audit record an operation asks for (erasure receipts, reviews created,
/// held operations applied on approval).
#[derive(Clone, Debug)]
pub struct AuditDraft {
    /// Operation name recorded.
    pub operation: String,
    /// Actor recorded (default: the caller).
    pub actor: Option<String>,
    /// Status recorded.
    pub status: Status,
    /// Decision recorded.
    pub decision: String,
    /// Rule that decided.
    pub rule_id: Option<String>,
    /// Subjects.
    pub subjects: Vec<String>,
    /// Details (receipts, review ids).
    pub details: Value,
}

/// Updates to the derived full-text index after a commit.
#[derive(Clone, Debug, Default)]
pub struct IndexUpdate {
    /// Nodes written (forgotten ones are removed from the index).
    pub upsert: Vec<Node>,
    /// The change set's `put_nodes` are written too (a bulk import hands its
    /// nodes over once; see `bulk.rs`).
    pub upsert_put_nodes: bool,
    /// Node ids removed.
    pub delete: Vec<String>,
    /// Physically purge deleted documents.
    pub purge: bool,
    /// Rebuild the index from the store.
    pub rebuild: bool,
}

/// What a handler produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Envelope status.
    pub status: Status,
    /// Envelope data.
    pub data: Value,
    /// Diagnostics.
    pub diagnostics: Vec<Diagnostic>,
    /// What to commit.
    pub change: ChangeSet,
    /// Subjects for the audit record (never withheld nodes).
    pub subjects: Vec<String>,
    /// Policy decision for the audit record.
    pub decision: String,
    /// Rule that decided.
    pub rule_id: Option<String>,
    /// Extra audit records, sealed before the operation's own.
    pub extra_audit: Vec<AuditDraft>,
    /// Details for the operation's own audit record.
    pub details: Value,
    /// Index maintenance after the commit.
    pub index: IndexUpdate,
    /// Do not audit this outcome even if the operation usually is.
    pub skip_audit: bool,
    /// A new profile to activate after the commit.
    pub new_profile: Option<Box<Profile>>,
}

impl Outcome {
    /// A successful outcome with data.
    pub fn ok(data: Value) -> Self {
        Outcome {
            status: Status::Ok,
            data,
            diagnostics: Vec::new(),
            change: ChangeSet::default(),
            subjects: Vec::new(),
            decision: "allow".into(),
            rule_id: None,
            extra_audit: Vec::new(),
            details: Value::Null,
            index: IndexUpdate::default(),
            skip_audit: false,
            new_profile: None,
        }
    }
    /// A successful outcome whose data is a typed response (see `response.rs`).
    pub fn ok_with<T: Serialize>(data: &T) -> Self {
        Outcome::ok(serde_json::to_value(data).unwrap_or(Value::Null))
    }
    /// A failed outcome with one diagnostic.
    pub fn fail(status: Status, d: Diagnostic) -> Self {
        let mut o = Outcome::ok(json!({}));
        o.status = status;
        o.decision = "none".into();
        o.diagnostics.push(d);
        o
    }
    /// Invalid input.
    pub fn invalid(code: &str, message: impl Into<String>) -> Self {
        Outcome::fail(Status::Invalid, Diagnostic::error(code, message))
    }
    /// Not found.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Outcome::fail(Status::NotFound, Diagnostic::error(code, message))
    }
    /// Internal error.
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Outcome::fail(Status::Error, Diagnostic::error(code, message))
    }
    /// From a store error.
    pub fn store_error(e: &StoreError) -> Self {
        let status = match e {
            StoreError::Locked(_)
            | StoreError::MigrationNeeded { .. }
            | StoreError::TooNew { .. }
            | StoreError::Exists(_) => Status::Conflict,
            StoreError::NotFound(_) => Status::NotFound,
            StoreError::InvalidChange(_) => Status::Invalid,
            _ => Status::Error,
        };
        Outcome::fail(status, Diagnostic::error(e.code(), e.to_string()))
    }
    /// Replaces the data with a typed response.
    pub fn with_data<T: Serialize>(mut self, data: &T) -> Self {
        self.data = serde_json::to_value(data).unwrap_or(Value::Null);
        self
    }
    /// Adds a diagnostic.
    pub fn with(mut self, d: Diagnostic) -> Self {
        self.diagnostics.push(d);
        self
    }
}

impl From<StoreError> for Outcome {
    fn from(e: StoreError) -> Self {
        Outcome::store_error(&e)
    }
}

/// Handler result: `Err` carries an early, complete answer (usually a refusal
/// with its diagnostics), so `?` reads like the specification. The error
/// variant is large by design and off the hot path.
#[allow(clippy::result_large_err)]
pub(crate) type OpResult = Result<Outcome, Outcome>;
