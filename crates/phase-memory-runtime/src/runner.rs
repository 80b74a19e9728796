//! The runner: request in, envelope out. It strips the common request fields,
//! checks the adapter's capabilities, calls the operation's handler, seals the
//! audit record into the handler's change set, commits once, and updates the
//! derived indexes.

use std::panic::{AssertUnwindSafe, catch_unwind};

use phase_memory_activate::tokens::TokenCounter;
use phase_memory_index::IndexError;
use phase_memory_model::audit::GENESIS_HASH;
use phase_memory_model::{
    Actor, AuditRecord, AuditRef, Diagnostic, Envelope, Status, Time, digest_value,
};
use phase_memory_store::{ChangeSet, StoreError};
use serde_json::{Value, json};

use crate::bulk::IndexDuring;
use crate::context::CallContext;
use crate::outcome::{AuditDraft, IndexUpdate, Outcome};
use crate::registry::{self, AuditBehaviour};
use crate::state::Runtime;

/// The common fields every request may carry.
pub(crate) struct Common {
    pub request_id: Option<String>,
    pub actor: Option<Actor>,
    pub as_of: Option<Time>,
}

/// A request whose handler ran, before its commit (see [`Runtime::prepare`]).
pub(crate) struct Prepared {
    pub request_id: String,
    /// Digest of the operation and request, recorded in its audit record.
    pub digest: String,
    pub outcome: Outcome,
    pub audit: AuditBehaviour,
    /// The call context with the request's common fields applied.
    pub ctx: CallContext,
    /// The time recorded for what the request writes.
    pub record_at: Time,
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
    /// Runs one operation: the only way in.
    pub fn run(&mut self, operation: &str, request: Value, ctx: &CallContext) -> Envelope {
        let p = match self.prepare(operation, request, ctx) {
            Ok(p) => p,
            Err(env) => return env,
        };
        let env = self.finish(
            operation,
            &p.request_id,
            &p.digest,
            p.outcome,
            p.audit,
            &p.ctx,
            p.record_at,
        );
        self.end_request();
        env
    }

    /// Everything of [`Runtime::run`] before the commit: the request's common
    /// fields, capabilities, the start of the request (refresh, and the writer
    /// lock for a write), authorization and the handler. An envelope when the
    /// request is malformed (nothing started).
    #[allow(clippy::result_large_err)] // a malformed request's answer, off the hot path
    pub(crate) fn prepare(
        &mut self,
        operation: &str,
        request: Value,
        ctx: &CallContext,
    ) -> Result<Prepared, Envelope> {
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
                return Err(env);
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
        let outcome = self.handle(operation, &request, &ctx, client_time, now);
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
        Ok(Prepared {
            request_id,
            digest,
            outcome,
            audit,
            ctx,
            record_at,
        })
    }

    /// Finds the operation, checks the adapter's capabilities, starts the
    /// request, authorizes and calls the handler.
    fn handle(
        &mut self,
        operation: &str,
        request: &Value,
        ctx: &CallContext,
        client_time: bool,
        now: Time,
    ) -> Outcome {
        let Some(spec) = registry::find(operation) else {
            return Outcome::invalid(
                "operation.unknown",
                format!("no operation named {operation:?}; `phase-memory contracts` lists them"),
            );
        };
        let manifest = self.store.manifest();
        if let Some(cap) = spec.needs.iter().find(|c| !manifest.has(**c)) {
            return Outcome::error(
                "adapter.missing_capability",
                format!(
                    "operation {operation} needs capability {} which adapter {} does not declare",
                    cap.as_str(),
                    manifest.name
                ),
            );
        }
        if let Err(e) = self.begin_request(spec.writes) {
            return Outcome::store_error(&e);
        }
        if let Err(refused) = self.authorize(spec, ctx, client_time) {
            return refused;
        }
        let handler = AssertUnwindSafe(|| self.dispatch(operation, request, ctx, now));
        match catch_unwind(handler) {
            Ok(o) => o,
            Err(_) => Outcome::error(
                "internal.panic",
                format!("operation {operation} failed unexpectedly; the store is unchanged"),
            ),
        }
    }

    /// Whether a registered operation is a read (for handlers, which reach the
    /// registry only through the runtime).
    pub(crate) fn is_registered_read(&self, operation: &str) -> bool {
        registry::is_read(operation)
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
        match registry::find(operation) {
            Some(spec) => (spec.handler)(self, request, ctx, now).unwrap_or_else(|o| o),
            None => Outcome::invalid(
                "operation.unsupported",
                format!("operation {operation} is registered but has no handler here"),
            ),
        }
    }

    /// After the handler: seal the audit record(s) into the outcome's change set,
    /// commit once, then bring derived state (snapshot tag, profile, index) along.
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
        let wants_audit = self.wants_audit(&outcome, audit);
        let mut change = settled_change(&mut outcome, ctx, now);
        // Group commit (group.rs): a read may leave its record for the front end.
        if wants_audit
            && self.defer_audit(&env, &change, &outcome, operation, request_digest, ctx, now)
        {
            return env;
        }
        // A read that records itself writes: take the writer lock (and the latest
        // audit head) now, unless the operation already holds it.
        if (wants_audit || !change.is_empty())
            && let Err(e) = self.lock_for_write()
        {
            return self.error_envelope(env, &e);
        }
        let mut main_ref = None;
        if wants_audit {
            match self.seal_audit(&env, &mut change, &outcome, ctx, request_digest, now) {
                Ok(r) => main_ref = Some(r),
                Err(e) => return self.error_envelope(env, &e),
            }
        }
        let index_in_step = self.index_fresh();
        match self.commit_outcome_change(change, &mut outcome, index_in_step) {
            Ok(stale) => env.diagnostics.extend(stale),
            Err(e) => return self.error_envelope(env, &e),
        }
        env.audit = main_ref;
        self.after_commit(&mut env, &mut outcome, index_in_step);
        env
    }

    /// Seals the outcome's extra audit records and the operation's own into the
    /// change set; the reference of the operation's own record.
    pub(crate) fn seal_audit(
        &self,
        env: &Envelope,
        change: &mut ChangeSet,
        outcome: &Outcome,
        ctx: &CallContext,
        request_digest: &str,
        now: Time,
    ) -> Result<AuditRef, StoreError> {
        let own = AuditDraft {
            operation: env.operation.clone(),
            actor: None,
            status: env.status,
            decision: outcome.decision.clone(),
            rule_id: outcome.rule_id.clone(),
            subjects: outcome.subjects.clone(),
            details: outcome.details.clone(),
        };
        let mut tail = self.chain_tail(change, ctx, request_digest, now)?;
        for d in &outcome.extra_audit {
            let r = tail.seal(d, String::new());
            change.audit.push(r);
        }
        let r = tail.seal(&own, env.digest_without_audit());
        let main_ref = AuditRef {
            seq: r.seq,
            hash: r.hash.clone(),
        };
        change.audit.push(r);
        Ok(main_ref)
    }

    /// Commits the change set (if any) and keeps the activation snapshot in step:
    /// still valid when nothing it reads changed, patched with this commit's own
    /// writes otherwise.
    pub(crate) fn commit_change(&mut self, change: ChangeSet) -> Result<(), StoreError> {
        self.commit_change_with(change, IndexDuring::Nothing).0
    }

    /// [`Runtime::commit_change`], adding the documents `during` names to the
    /// full-text index's writer on a second thread during the store commit (not
    /// committing them); with the outcome of that too.
    pub(crate) fn commit_change_with(
        &mut self,
        mut change: ChangeSet,
        during: IndexDuring<'_>,
    ) -> (Result<(), StoreError>, Option<Result<(), IndexError>>) {
        let before = self.store.data_generation();
        let snapshot_unchanged = !changes_activation_input(&mut change);
        let new_profile = change.profile.is_some();
        let (stored, indexed, own) = self.store_and_index(change, during, !snapshot_unchanged);
        if let Err(e) = stored {
            return (Err(e), indexed);
        }
        if snapshot_unchanged
            && let Some((valid_for, _)) = &mut self.snapshot
            && *valid_for == before
        {
            *valid_for = self.store.data_generation();
        }
        if let Some(own) = own
            && (new_profile || !self.advance_spare_snapshot(before))
        {
            self.snapshot_after_commit(before, own);
        }
        (Ok(()), indexed)
    }

    /// After the commit: activate a new profile and update the full-text index
    /// (a failed index update is a diagnostic, the commit stands). `index_in_step`:
    /// the index was fresh before the commit.
    pub(crate) fn after_commit(
        &mut self,
        env: &mut Envelope,
        outcome: &mut Outcome,
        index_in_step: bool,
    ) {
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
    }

    /// Whether this outcome is audited: refusals by policy always, invalid input
    /// never, errors only when they changed something, otherwise by the
    /// operation's audit behaviour (and the profile's `record_reads`). Nothing is
    /// audited while migrations are pending.
    pub(crate) fn wants_audit(&self, outcome: &Outcome, audit: AuditBehaviour) -> bool {
        let pending = self
            .store
            .pending_migrations()
            .map(|p| !p.is_empty())
            .unwrap_or(false);
        !outcome.skip_audit
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
            }
    }

    /// Where this request's audit records go: after the records the change set
    /// itself restores (store.import), after a checkpoint it installs into an
    /// empty chain, or after the store's head. Record times never go backwards:
    /// a clock (or a local `--as-of`) behind the chain's last record is raised
    /// to it.
    fn chain_tail<'a>(
        &self,
        change: &ChangeSet,
        ctx: &'a CallContext,
        request_digest: &'a str,
        now: Time,
    ) -> Result<ChainTail<'a>, StoreError> {
        let head = self.store.audit_head()?;
        let last_at = match (&change.audit.last(), &head) {
            (Some(r), _) => Some(r.at),
            (None, Some(h)) => self
                .store
                .audit_records(h.seq.saturating_sub(1))?
                .last()
                .map(|r| r.at),
            (None, None) => None,
        };
        let at = match last_at {
            Some(t) if t > now => t,
            _ => now,
        };
        let (seq, prev) = match (change.audit.last(), &change.prune_audit, head) {
            (Some(last), _, _) => (last.seq, last.hash.clone()),
            (None, Some(cp), None) => (cp.last_pruned_seq, cp.last_pruned_hash.clone()),
            (None, _, Some(h)) => (h.seq, h.hash),
            (None, _, None) => (0, GENESIS_HASH.to_string()),
        };
        Ok(ChainTail {
            seq,
            prev,
            at,
            actor: &ctx.actor.id,
            request_digest,
        })
    }

    pub(crate) fn error_envelope(&self, mut env: Envelope, e: &StoreError) -> Envelope {
        let o = Outcome::store_error(e);
        env.status = o.status;
        env.data = json!({});
        env.diagnostics.extend(o.diagnostics);
        env.audit = None;
        env
    }
}

/// The end of the audit chain this request appends to.
struct ChainTail<'a> {
    /// Sequence number of the last record.
    seq: u64,
    /// Hash of the last record.
    prev: String,
    /// Time of the records sealed now.
    at: Time,
    /// The caller (a draft without an actor records it).
    actor: &'a str,
    /// Digest of the request, recorded in every record.
    request_digest: &'a str,
}

impl ChainTail<'_> {
    /// Seals the next record of the chain from a draft.
    fn seal(&mut self, d: &AuditDraft, envelope_digest: String) -> AuditRecord {
        self.seq += 1;
        let r = AuditRecord {
            seq: self.seq,
            at: self.at,
            actor: d.actor.clone().unwrap_or_else(|| self.actor.to_string()),
            operation: d.operation.clone(),
            status: d.status.as_str().into(),
            decision: d.decision.clone(),
            rule_id: d.rule_id.clone(),
            subjects: d.subjects.clone(),
            request_digest: self.request_digest.to_string(),
            envelope_digest,
            details: d.details.clone(),
            prev_hash: String::new(),
            hash: String::new(),
        }
        .seal(&self.prev);
        self.prev = r.hash.clone();
        r
    }
}

/// Whether a change set touches what an activation snapshot is built from (nodes,
/// edges, events, the profile). Audit records, audit pruning and reviews do not.
/// The change set an outcome may commit: events a remote read records happen
/// now, whatever time it evaluated; a refusal commits nothing (only its audit
/// record), and changes neither the index nor the profile.
pub(crate) fn settled_change(outcome: &mut Outcome, ctx: &CallContext, now: Time) -> ChangeSet {
    let mut change = std::mem::take(&mut outcome.change);
    if ctx.origin.is_remote() && ctx.as_of.is_some() {
        for e in &mut change.events {
            e.at = now;
        }
    }
    if outcome.status != Status::Ok && outcome.status != Status::ReviewRequired {
        change = ChangeSet::default();
        outcome.index = IndexUpdate::default();
        outcome.new_profile = None;
    }
    change
}

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
