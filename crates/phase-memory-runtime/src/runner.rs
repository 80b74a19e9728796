//! The runner: request in, envelope out. It strips the common request fields,
//! checks the adapter's capabilities, calls the operation's handler, seals the
//! audit record into the handler's change set, commits once, and updates the
//! derived indexes.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;

use phase_memory_activate::snapshot::Snapshot;
use phase_memory_activate::tokens::TokenCounter;
use phase_memory_index::FullTextIndex;
use phase_memory_model::audit::GENESIS_HASH;
use phase_memory_model::{
    Actor, AuditRecord, AuditRef, Diagnostic, Envelope, Node, Status, Time, digest_value,
};
use phase_memory_profile::Profile;
use phase_memory_store::{ChangeSet, Store, StoreError};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::context::CallContext;
use crate::registry::{self, AuditBehaviour};

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
    /// Adds a diagnostic.
    pub fn with(mut self, d: Diagnostic) -> Self {
        self.diagnostics.push(d);
        self
    }
}

/// Where the store lives, for the runtime's own files (index, quarantine).
#[derive(Clone, Debug)]
pub(crate) struct Home {
    pub dir: Option<PathBuf>,
}

/// An open store with its profile, derived indexes and the operation registry.
pub struct Runtime {
    pub(crate) store: Box<dyn Store>,
    pub(crate) profile: Profile,
    pub(crate) profile_digest: String,
    pub(crate) clock: Clock,
    pub(crate) index: FullTextIndex,
    /// The activation snapshot and the store generation it is valid for. A commit
    /// that writes only audit records or reviews moves the generation without
    /// changing what activation sees, so the snapshot carries over.
    pub(crate) snapshot: Option<(u64, Arc<Snapshot>)>,
    pub(crate) tokens: TokenCounter,
    /// The full-text index holds every change of the store and only its generation
    /// tag is behind: commits of audit records or reviews alone do not commit the
    /// index. The tag catches up with the next index write or when the runtime is
    /// dropped; after a crash the next open finds the tag behind and rebuilds.
    pub(crate) index_tag_lags: bool,
    pub(crate) extensions: BTreeMap<String, Extension>,
    pub(crate) home: Home,
    /// Shared access: lock and refresh state (see `open.rs`).
    pub(crate) sharing: crate::open::Sharing,
    /// Group commit of audit records (see `group.rs`).
    pub(crate) group: crate::group::GroupState,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.index_tag_lags {
            // Best effort: if it fails the next open rebuilds the index.
            let _ = self.index.commit(self.store.generation());
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("store", &self.store.location())
            .field("profile", &self.profile.name)
            .finish()
    }
}

/// The common fields every request may carry.
pub(crate) struct Common {
    pub request_id: Option<String>,
    pub actor: Option<Actor>,
    pub as_of: Option<Time>,
}

/// Splits the common fields off a request.
pub(crate) fn split_common(request: Value) -> Result<(Value, Common), Diagnostic> {
    let mut map = match request {
        Value::Null => serde_json::Map::new(),
        Value::Object(m) => m,
        _ => {
            return Err(Diagnostic::error(
                "request.invalid",
                "the request must be a JSON object",
            ));
        }
    };
    let request_id = match map.remove("request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(
                Diagnostic::error("request.invalid", "request_id must be a string")
                    .at("request_id"),
            );
        }
    };
    let actor = match map.remove("actor") {
        None | Some(Value::Null) => None,
        // A string `actor` is an operation's own filter (audit.query), not the caller.
        Some(Value::String(s)) => {
            map.insert("actor".into(), Value::String(s));
            None
        }
        Some(v) => Some(serde_json::from_value::<Actor>(v).map_err(|e| {
            Diagnostic::error("request.invalid", format!("actor: {e}")).at("actor")
        })?),
    };
    let as_of = match map.remove("as_of") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            s.parse::<Time>()
                .map_err(|e| Diagnostic::error("request.invalid", e.to_string()).at("as_of"))?,
        ),
        Some(_) => {
            return Err(Diagnostic::error("request.invalid", "as_of must be a string").at("as_of"));
        }
    };
    Ok((
        Value::Object(map),
        Common {
            request_id,
            actor,
            as_of,
        },
    ))
}

impl Runtime {
    /// The active profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Registers a front-end handler for an operation (e.g. `eval.run`).
    pub fn register_extension(&mut self, operation: &str, handler: Extension) {
        self.extensions.insert(operation.to_string(), handler);
    }

    /// Sets the clock.
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// Runs one operation: the only way in.
    pub fn run(&mut self, operation: &str, request: Value, ctx: &CallContext) -> Envelope {
        let digest = digest_value(&json!({"operation": operation, "request": request}));
        let default_id = format!("req-{}", digest.get(7..23).unwrap_or("0"));
        let (request, common) = match split_common(request) {
            Ok(x) => x,
            Err(d) => {
                let mut env = Envelope::new(
                    operation,
                    Status::Invalid,
                    &default_id,
                    &self.profile_digest,
                );
                env.diagnostics.push(d);
                return env;
            }
        };
        let request_id = common.request_id.clone().unwrap_or(default_id);
        let mut ctx = ctx.clone();
        if let Some(a) = common.actor
            && ctx.trust_request_actor
        {
            ctx.actor = a;
        }
        let client_time = common.as_of.is_some();
        if let Some(t) = common.as_of {
            ctx.as_of = Some(t);
        }
        let now = ctx.as_of.unwrap_or_else(|| self.clock.now());
        let outcome = match registry::find(operation) {
            None => Outcome::invalid(
                "operation.unknown",
                format!("no operation named {operation:?}; `phase-memory contracts` lists them"),
            ),
            Some(spec) => {
                let manifest = self.store.manifest();
                if let Some(cap) = spec.needs.iter().find(|c| !manifest.has(**c)) {
                    Outcome::error(
                        "adapter.missing_capability",
                        format!(
                            "operation {operation} needs capability {} which adapter {} does not declare",
                            cap.as_str(),
                            manifest.name
                        ),
                    )
                } else if let Err(e) = self.begin_request(spec.writes) {
                    Outcome::store_error(&e)
                } else if let Err(refused) = self.authorize(spec, &ctx, client_time) {
                    refused
                } else {
                    let handler =
                        AssertUnwindSafe(|| self.dispatch(operation, &request, &ctx, now));
                    match catch_unwind(handler) {
                        Ok(o) => o,
                        Err(_) => Outcome::error(
                            "internal.panic",
                            format!(
                                "operation {operation} failed unexpectedly; the store is unchanged"
                            ),
                        ),
                    }
                }
            }
        };
        let audit = registry::find(operation)
            .map(|s| s.audit)
            .unwrap_or(AuditBehaviour::Never);
        // A network client's `as_of` only shapes what a read evaluates: what is
        // recorded (audit records, access events) carries the service's clock.
        let record_at = if ctx.origin.is_remote() {
            self.clock.now()
        } else {
            now
        };
        let env = self.finish(
            operation,
            &request_id,
            &digest,
            outcome,
            audit,
            &ctx,
            record_at,
        );
        self.end_request();
        env
    }

    /// Function-level authorization, before the handler runs: the actor's roles
    /// must grant the operation's class (profile `access.roles`), and a network
    /// client may not choose the time of an operation that writes.
    #[allow(clippy::result_large_err)] // a refusal is a complete answer, off the hot path
    fn authorize(
        &self,
        spec: &registry::OperationSpec,
        ctx: &CallContext,
        client_time: bool,
    ) -> Result<(), Outcome> {
        let access = &self.profile.access;
        if !access.grants(&ctx.actor.roles, spec.class) {
            let granted: Vec<&str> = access
                .classes_of(&ctx.actor.roles)
                .iter()
                .map(|c| c.as_str())
                .collect();
            let mut o = Outcome::fail(
                Status::Denied,
                Diagnostic::error(
                    "auth.forbidden",
                    format!(
                        "{} needs the {} class; the actor's roles grant {}",
                        spec.name,
                        spec.class,
                        if granted.is_empty() {
                            "none".to_string()
                        } else {
                            granted.join(", ")
                        }
                    ),
                ),
            );
            o.decision = "deny".into();
            o.rule_id = Some("access".into());
            return Err(o);
        }
        let reads = spec.accepts_client_time();
        if client_time && ctx.origin.is_remote() && !reads {
            return Err(Outcome::invalid(
                "request.as_of_write",
                format!(
                    "{} changes the store, so its time is the service's clock: as_of is for reads only",
                    spec.name
                ),
            )
            .with(Diagnostic::info("request.as_of_write", "remove as_of").at("as_of")));
        }
        Ok(())
    }

    /// Calls the handler of an operation (used by `run` and by review approval).
    pub(crate) fn dispatch(
        &mut self,
        operation: &str,
        request: &Value,
        ctx: &CallContext,
        now: Time,
    ) -> Outcome {
        if let Some(ext) = self.extensions.get(operation).cloned() {
            return ext(request, ctx);
        }
        crate::ops::dispatch(self, operation, request, ctx, now)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        operation: &str,
        request_id: &str,
        request_digest: &str,
        mut outcome: Outcome,
        audit: AuditBehaviour,
        ctx: &CallContext,
        now: Time,
    ) -> Envelope {
        let mut env = Envelope::new(operation, outcome.status, request_id, &self.profile_digest);
        env.data = std::mem::take(&mut outcome.data);
        env.diagnostics = std::mem::take(&mut outcome.diagnostics);
        let pending = self
            .store
            .pending_migrations()
            .map(|p| !p.is_empty())
            .unwrap_or(false);
        let wants_audit = !outcome.skip_audit
            && !pending
            && match outcome.status {
                Status::Invalid => false,
                Status::Denied | Status::ReviewRequired => true,
                Status::Error => !outcome.change.is_empty(),
                _ => match audit {
                    AuditBehaviour::Always => true,
                    AuditBehaviour::Reads => self.profile.audit.record_reads,
                    AuditBehaviour::Never => false,
                },
            };
        let mut change = std::mem::take(&mut outcome.change);
        if ctx.origin.is_remote() && ctx.as_of.is_some() {
            // Events a read records (accesses) happen now, whatever it evaluated.
            for e in &mut change.events {
                e.at = now;
            }
        }
        if outcome.status != Status::Ok && outcome.status != Status::ReviewRequired {
            // Only successful operations (and the reviews they create) change state;
            // a refusal writes nothing but its audit record.
            change = ChangeSet::default();
            outcome.index = IndexUpdate::default();
            outcome.new_profile = None;
        }
        // Group commit (group.rs): a read may leave its record for the front end.
        if wants_audit
            && self.defer_audit(&env, &change, &outcome, operation, request_digest, ctx, now)
        {
            return env;
        }
        let mut main_ref = None;
        // A read that records itself writes: take the writer lock (and the latest
        // audit head) now, unless the operation already holds it.
        if (wants_audit || !change.is_empty())
            && let Err(e) = self.lock_for_write()
        {
            return self.error_envelope(env, &e);
        }
        if wants_audit {
            let head = match self.store.audit_head() {
                Ok(h) => h,
                Err(e) => return self.error_envelope(env, &e),
            };
            // Continue after records the change set itself restores (store.import),
            // or after a checkpoint it installs into an empty chain.
            // Record times never go backwards: a clock (or a local `--as-of`)
            // behind the chain's last record is raised to it.
            let last_at = match (&change.audit.last(), &head) {
                (Some(r), _) => Some(r.at),
                (None, Some(h)) => match self.store.audit_records(h.seq.saturating_sub(1)) {
                    Ok(rs) => rs.last().map(|r| r.at),
                    Err(e) => return self.error_envelope(env, &e),
                },
                (None, None) => None,
            };
            let now = match last_at {
                Some(t) if t > now => t,
                _ => now,
            };
            let (mut seq, mut prev) = match (change.audit.last(), &change.prune_audit, head) {
                (Some(last), _, _) => (last.seq, last.hash.clone()),
                (None, Some(cp), None) => (cp.last_pruned_seq, cp.last_pruned_hash.clone()),
                (None, _, Some(h)) => (h.seq, h.hash),
                (None, _, None) => (0, GENESIS_HASH.to_string()),
            };
            for d in &outcome.extra_audit {
                seq += 1;
                let r = AuditRecord {
                    seq,
                    at: now,
                    actor: d.actor.clone().unwrap_or_else(|| ctx.actor.id.clone()),
                    operation: d.operation.clone(),
                    status: d.status.as_str().into(),
                    decision: d.decision.clone(),
                    rule_id: d.rule_id.clone(),
                    subjects: d.subjects.clone(),
                    request_digest: request_digest.to_string(),
                    envelope_digest: String::new(),
                    details: d.details.clone(),
                    prev_hash: String::new(),
                    hash: String::new(),
                }
                .seal(&prev);
                prev = r.hash.clone();
                change.audit.push(r);
            }
            seq += 1;
            let r = AuditRecord {
                seq,
                at: now,
                actor: ctx.actor.id.clone(),
                operation: operation.to_string(),
                status: env.status.as_str().into(),
                decision: outcome.decision.clone(),
                rule_id: outcome.rule_id.clone(),
                subjects: outcome.subjects.clone(),
                request_digest: request_digest.to_string(),
                envelope_digest: env.digest_without_audit(),
                details: outcome.details.clone(),
                prev_hash: String::new(),
                hash: String::new(),
            }
            .seal(&prev);
            main_ref = Some(AuditRef {
                seq: r.seq,
                hash: r.hash.clone(),
            });
            change.audit.push(r);
        }
        let before = self.store.data_generation();
        let index_in_step = self.index_fresh();
        let snapshot_unchanged = !changes_activation_input(&mut change);
        if !change.is_empty()
            && let Err(e) = self.store.commit(change)
        {
            return self.error_envelope(env, &e);
        }
        if snapshot_unchanged
            && let Some((valid_for, _)) = &mut self.snapshot
            && *valid_for == before
        {
            *valid_for = self.store.data_generation();
        }
        env.audit = main_ref;
        if let Some(p) = outcome.new_profile.take() {
            self.profile_digest = p.digest();
            self.profile = *p;
            if let Ok(t) = TokenCounter::new(&self.profile.tokenizer.encoding) {
                self.tokens = t;
            }
        }
        let u = std::mem::take(&mut outcome.index);
        if index_in_step && u.upsert.is_empty() && u.delete.is_empty() && !u.purge && !u.rebuild {
            // Nothing to index: only the generation tag would move (see
            // `index_tag_lags`), which costs an index commit per audited read.
            // The index tag may trail commits of audit records and reviews alone
            // (see `index_fresh`).
            self.index_tag_lags = false;
        } else if let Err(d) = self.update_index(u) {
            env.diagnostics.push(d);
        }
        env
    }

    fn error_envelope(&self, mut env: Envelope, e: &StoreError) -> Envelope {
        let o = Outcome::store_error(e);
        env.status = o.status;
        env.data = json!({});
        env.diagnostics.extend(o.diagnostics);
        env.audit = None;
        env
    }

    /// Brings the full-text index in step with the store after a commit.
    pub(crate) fn update_index(&mut self, u: IndexUpdate) -> Result<(), Diagnostic> {
        self.index_tag_lags = false;
        let generation = self.store.generation();
        let stale = |e: String| {
            Diagnostic::warning(
                "store.stale_index",
                format!(
                    "the full-text index could not be updated ({e}); `phase-memory repair --apply` rebuilds it"
                ),
            )
        };
        if u.rebuild {
            return self.rebuild_index().map_err(stale);
        }
        if self.index.generation() == Some(generation) {
            return Ok(());
        }
        self.index
            .delete(&u.delete)
            .map_err(|e| stale(e.to_string()))?;
        self.index
            .upsert(&u.upsert)
            .map_err(|e| stale(e.to_string()))?;
        self.index
            .commit(generation)
            .map_err(|e| stale(e.to_string()))?;
        if u.purge {
            self.index.purge().map_err(|e| stale(e.to_string()))?;
        }
        Ok(())
    }

    /// Rebuilds the full-text index from the store.
    pub(crate) fn rebuild_index(&mut self) -> Result<(), String> {
        let mut nodes = Vec::new();
        self.store
            .for_each_node(&mut |n| nodes.push(n.clone()))
            .map_err(|e| e.to_string())?;
        let generation = self.store.generation();
        self.index
            .rebuild(nodes.iter(), generation)
            .map_err(|e| e.to_string())?;
        self.index.purge().map_err(|e| e.to_string())
    }

    /// Whether the index reflects the store.
    /// It is when its tag is at least the store's data generation: commits of
    /// audit records and reviews alone move the generation but not the index.
    pub(crate) fn index_fresh(&self) -> bool {
        self.index
            .generation()
            .is_some_and(|g| g >= self.store.data_generation() && g <= self.store.generation())
    }

    /// The activation snapshot of the current store generation, built on demand.
    pub(crate) fn snapshot(&mut self) -> Result<Arc<Snapshot>, StoreError> {
        let generation = self.store.data_generation();
        if let Some((valid_for, s)) = &self.snapshot
            && *valid_for == generation
        {
            return Ok(s.clone());
        }
        let s = Arc::new(crate::open::build_snapshot(
            self.store.as_ref(),
            &self.profile,
            generation,
        )?);
        self.snapshot = Some((generation, s.clone()));
        Ok(s)
    }
}

/// Whether a change set touches what an activation snapshot is built from (nodes,
/// edges, events, the profile). Audit records, audit pruning and reviews do not.
fn changes_activation_input(change: &mut ChangeSet) -> bool {
    let audit = std::mem::take(&mut change.audit);
    let prune = change.prune_audit.take();
    let reviews = std::mem::take(&mut change.put_reviews);
    let touches = !change.is_empty() || change.purge;
    change.audit = audit;
    change.prune_audit = prune;
    change.put_reviews = reviews;
    touches
}
