//! Group commit of writes. A front end serving many clients queues the writes
//! that arrive while a commit is in flight and hands them, with the audit
//! records of reads queued meanwhile, to [`Runtime::commit_group`]: one writer
//! lock, one store commit (one fsync of each file it appends to, one manifest),
//! one full-text index update (kept in memory until enough gathered, see the index
//! crate's `overlay.rs`) and one step of the activation snapshot for all of
//! them.
//!
//! Each write runs its handler as it would alone, under the writer lock, on the
//! generation the lock showed; its change set joins the group's only when it is
//! independent of the writes already in it (no node id, nor end of an edge, in
//! common) and of a kind that may be merged (nodes and edges put, events
//! appended: see [`groups_writes`]). Its event sequence numbers continue after
//! the group's, and its audit record is sealed onto the chain after the
//! previous one's, so the committed store is exactly what running the group's
//! writes one by one in queue order would have left. A write that conflicts
//! with one already in the group runs alone after the group's commit (seeing
//! it); a write refused by validation or policy is answered alone with its own
//! diagnostics (its audit record, if it has one, still joins the commit). A
//! request is answered only after the commit holding it returned.

use std::collections::HashSet;
use std::time::Instant;

use phase_memory_model::{AuditRef, Diagnostic, Envelope, Status, digest_value};
use phase_memory_store::{ChangeLog, ChangeSet, StoreError};
use serde_json::{Value, json};

use super::DeferredAudit;
use crate::context::CallContext;
use crate::outcome::{IndexUpdate, Outcome};
use crate::runner::{Prepared, settled_change};
use crate::state::Runtime;

/// Operations whose writes may share one commit with other writes.
const GROUPED_WRITES: &[&str] = &["node.upsert"];

/// Whether a front end may queue `operation` for [`Runtime::commit_group`]
/// (any other operation runs with [`Runtime::run`]).
pub fn groups_writes(operation: &str) -> bool {
    GROUPED_WRITES.contains(&operation)
}

/// What [`Runtime::commit_group_then`] calls once the store commit returned:
/// the audit records' references, or why they were not committed.
pub type OnDurable<'a> = dyn FnMut(Result<&[AuditRef], &StoreError>) + 'a;

/// One queued write.
#[derive(Clone, Debug)]
pub struct WriteRequest {
    /// The operation (one for which [`groups_writes`] holds; any other runs alone).
    pub operation: String,
    /// The request, as [`Runtime::run`] takes it.
    pub request: Value,
    /// The caller.
    pub ctx: CallContext,
}

/// What [`Runtime::commit_group`] produced.
#[derive(Debug)]
pub struct GroupResult {
    /// One envelope per write, in the order given.
    pub envelopes: Vec<Envelope>,
    /// The references of the deferred audit records, in the order given, or why
    /// their commit failed (nothing of them was committed).
    pub audits: Result<Vec<AuditRef>, StoreError>,
    /// Writes that shared the group's commit.
    pub grouped: usize,
    /// Where the time went.
    pub took: GroupTimings,
}

/// Where a group commit's time went (for the front end's logs).
#[derive(Clone, Copy, Debug, Default)]
pub struct GroupTimings {
    /// Taking the writer lock.
    pub lock: std::time::Duration,
    /// Running the handlers of the writes.
    pub handlers: std::time::Duration,
    /// The store commit and the activation snapshot's step.
    pub commit: std::time::Duration,
    /// The full-text index update.
    pub index: std::time::Duration,
    /// Writes run alone after the group.
    pub alone: std::time::Duration,
}

/// Where one write of a group stands.
enum Slot {
    /// Answered without the commit (malformed, refused without an audit record).
    Done(Envelope),
    /// In the group's commit; its audit reference once the commit returned.
    Committed(Envelope, Option<AuditRef>),
    /// Runs alone after the group (conflicting or not mergeable).
    Alone(WriteRequest),
}

/// The group being assembled.
#[derive(Default)]
struct Group {
    change: ChangeSet,
    index: IndexUpdate,
    /// Node ids (and edge ends) the group writes.
    keys: HashSet<String>,
    slots: Vec<Slot>,
}

impl Runtime {
    /// Runs `writes` and commits them, with the deferred audit records
    /// `audits`, in one store commit under one writer lock (waiting for it as a
    /// write does). Writes that cannot share the commit run alone afterwards.
    pub fn commit_group(
        &mut self,
        writes: Vec<WriteRequest>,
        audits: Vec<DeferredAudit>,
    ) -> GroupResult {
        self.commit_group_then(writes, audits, &mut |_| {})
    }

    /// [`Runtime::commit_group`], calling `durable` with the audit records'
    /// references (or why they were not committed) as soon as the store commit
    /// returned: before the full-text index update, which only the writes need
    /// (a read whose record is durable may be answered then).
    pub fn commit_group_then(
        &mut self,
        writes: Vec<WriteRequest>,
        audits: Vec<DeferredAudit>,
        durable: &mut OnDurable<'_>,
    ) -> GroupResult {
        let mut took = GroupTimings::default();
        let started = Instant::now();
        if let Err(e) = self.begin_request(true) {
            self.end_request();
            durable(Err(&e));
            let envelopes = writes.iter().map(|w| self.refused(w, &e)).collect();
            return GroupResult {
                envelopes,
                audits: Err(e),
                grouped: 0,
                took,
            };
        }
        took.lock = started.elapsed();
        let mut group = Group::default();
        for w in writes {
            self.stage(w, &mut group);
        }
        let audit_refs = self.seal_deferred(audits, &mut group.change);
        took.handlers = started.elapsed() - took.lock;
        let committed =
            self.commit_staged(&mut group, &mut took, &mut |c| match (c, &audit_refs) {
                (Ok(()), Ok(refs)) => durable(Ok(refs)),
                (Ok(()), Err(e)) | (Err(e), _) => durable(Err(e)),
            });
        self.end_request();
        let alone = Instant::now();
        let mut envelopes = Vec::with_capacity(group.slots.len());
        let mut grouped = 0;
        for slot in group.slots {
            envelopes.push(match slot {
                Slot::Done(env) => env,
                Slot::Committed(mut env, r) => match &committed {
                    Ok(diagnostics) => {
                        grouped += 1;
                        env.audit = r;
                        env.diagnostics.extend(diagnostics.iter().cloned());
                        env
                    }
                    Err(e) => self.error_envelope(env, e),
                },
                Slot::Alone(w) => self.run(&w.operation, w.request, &w.ctx),
            });
        }
        let audits = match committed {
            Ok(_) => audit_refs,
            Err(e) => Err(e),
        };
        took.alone = alone.elapsed();
        GroupResult {
            envelopes,
            audits,
            grouped,
            took,
        }
    }

    /// Runs one write's handler and adds its change set (and audit record) to
    /// the group, or sets it aside to run alone.
    fn stage(&mut self, w: WriteRequest, group: &mut Group) {
        if !groups_writes(&w.operation) {
            group.slots.push(Slot::Alone(w));
            return;
        }
        let p = match self.prepare(&w.operation, w.request.clone(), &w.ctx) {
            Ok(p) => p,
            Err(env) => {
                group.slots.push(Slot::Done(env));
                return;
            }
        };
        let Prepared {
            request_id,
            digest,
            mut outcome,
            audit,
            ctx,
            record_at,
        } = p;
        let mut env = Envelope::new(
            &w.operation,
            outcome.status,
            &request_id,
            &self.profile_digest,
        );
        env.data = std::mem::take(&mut outcome.data);
        env.diagnostics = std::mem::take(&mut outcome.diagnostics);
        let wants_audit = self.wants_audit(&outcome, audit);
        let mut change = settled_change(&mut outcome, &ctx, record_at);
        let keys = ChangeLog::ids_of(&change);
        if !mergeable(&change, &outcome) || keys.iter().any(|k| group.keys.contains(k)) {
            group.slots.push(Slot::Alone(w));
            return;
        }
        if !wants_audit && change.is_empty() {
            group.slots.push(Slot::Done(env));
            return;
        }
        // Its events continue after the group's (the handler numbered them from
        // the store's head).
        let shift = group.change.events.len() as u64;
        for e in &mut change.events {
            e.seq += shift;
        }
        let before = (
            group.change.put_nodes.len(),
            group.change.put_edges.len(),
            group.change.events.len(),
            group.change.audit.len(),
        );
        group.change.put_nodes.append(&mut change.put_nodes);
        group.change.put_edges.append(&mut change.put_edges);
        group.change.events.append(&mut change.events);
        let mut reference = None;
        if wants_audit {
            match self.seal_audit(&env, &mut group.change, &outcome, &ctx, &digest, record_at) {
                Ok(r) => reference = Some(r),
                Err(e) => {
                    group.change.put_nodes.truncate(before.0);
                    group.change.put_edges.truncate(before.1);
                    group.change.events.truncate(before.2);
                    group.change.audit.truncate(before.3);
                    group.slots.push(Slot::Done(self.error_envelope(env, &e)));
                    return;
                }
            }
        }
        group.keys.extend(keys);
        let u = std::mem::take(&mut outcome.index);
        group.index.upsert.extend(u.upsert);
        group.index.delete.extend(u.delete);
        group.slots.push(Slot::Committed(env, reference));
    }

    /// Commits the group's change set and brings derived state along; the
    /// diagnostics of the index update (the commit stands when it fails).
    /// `durable` is called once the store commit returned (before the index).
    fn commit_staged(
        &mut self,
        group: &mut Group,
        took: &mut GroupTimings,
        durable: &mut dyn FnMut(Result<(), &StoreError>),
    ) -> Result<Vec<Diagnostic>, StoreError> {
        if group.change.is_empty() {
            durable(Ok(()));
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let index_in_step = self.index_fresh();
        if let Err(e) = self.commit_change(std::mem::take(&mut group.change)) {
            durable(Err(&e));
            return Err(e);
        }
        durable(Ok(()));
        took.commit = started.elapsed();
        let mut outcome = Outcome::ok(Value::Null);
        outcome.index = std::mem::take(&mut group.index);
        let mut env = Envelope::new("group", Status::Ok, "", "");
        self.after_commit(&mut env, &mut outcome, index_in_step);
        took.index = started.elapsed() - took.commit;
        Ok(env.diagnostics)
    }

    /// The envelope of a write that never ran: the writer lock was not had.
    fn refused(&self, w: &WriteRequest, e: &StoreError) -> Envelope {
        let request_id = match w.request.get("request_id") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                let digest = digest_value(&json!({"operation": w.operation, "request": w.request}));
                format!("req-{}", digest.get(7..23).unwrap_or("0"))
            }
        };
        let env = Envelope::new(
            &w.operation,
            Status::Error,
            &request_id,
            &self.profile_digest,
        );
        self.error_envelope(env, e)
    }
}

/// Whether a write's change set may be merged into a group's: nodes and edges
/// put, events appended, nothing else (no deletion, purge, review, profile,
/// metadata, audit restore or index rebuild).
fn mergeable(change: &ChangeSet, outcome: &Outcome) -> bool {
    change.delete_nodes.is_empty()
        && change.delete_edges.is_empty()
        && change.audit.is_empty()
        && change.put_reviews.is_empty()
        && change.profile.is_none()
        && change.meta.is_none()
        && change.prune_audit.is_none()
        && !change.purge
        && outcome.new_profile.is_none()
        && outcome.index.delete.is_empty()
        && !outcome.index.purge
        && !outcome.index.rebuild
}
