//! Group commit of audit records. A front end serving many clients (the HTTP
//! service) runs reads with [`Runtime::run_deferring_audit`]: a read whose only
//! write is its own audit record returns that record unsealed
//! ([`DeferredAudit`]) instead of committing it. The front end collects the
//! records of many requests and hands them to [`Runtime::commit_audit_group`],
//! which takes the writer lock once, seals them onto the chain in order and
//! commits them in one durable store commit. The front end answers a request
//! only after the commit holding its record returned, so an answered request
//! always has its durable record; a crash before that commit loses only
//! records of requests that were never answered.
//!
//! Writes join the same groups: see `group/writes.rs` ([`Runtime::commit_group`]).

use phase_memory_model::audit::GENESIS_HASH;
use phase_memory_model::{AuditRecord, AuditRef, Envelope, Time};
use phase_memory_store::{ChangeSet, StoreError};

use crate::context::CallContext;
use crate::outcome::{IndexUpdate, Outcome};
use crate::state::Runtime;

mod writes;
pub use writes::{GroupResult, GroupTimings, WriteRequest, groups_writes};

/// An audit record not yet on the chain: everything but its position, previous
/// hash and hash (given when the group is sealed).
#[derive(Clone, Debug)]
pub struct DeferredAudit {
    record: AuditRecord,
}

impl DeferredAudit {
    /// The operation recorded.
    pub fn operation(&self) -> &str {
        &self.record.operation
    }
}

/// What [`Runtime::run_deferring_audit`] produced.
#[derive(Debug)]
pub enum Ran {
    /// Complete: the audit record (if any) is committed.
    Done(Envelope),
    /// The envelope, to be sent only after `audit` is committed (its
    /// `audit` reference is filled in from [`Runtime::commit_audit_group`]).
    Pending(Envelope, Box<DeferredAudit>),
}

impl Runtime {
    /// Runs one operation like [`Runtime::run`], except that a read whose only
    /// write would be its own audit record leaves that record unsealed for a
    /// group commit.
    pub fn run_deferring_audit(
        &mut self,
        operation: &str,
        request: serde_json::Value,
        ctx: &CallContext,
    ) -> Ran {
        self.group.defer = true;
        self.group.pending = None;
        let env = self.run(operation, request, ctx);
        self.group.defer = false;
        match self.group.pending.take() {
            Some(record) => Ran::Pending(env, Box::new(DeferredAudit { record })),
            None => Ran::Done(env),
        }
    }

    /// The runner's hook: when the current request may defer and its outcome
    /// writes nothing but its own audit record, keeps that record (unsealed) and
    /// returns true (the runner then returns the envelope as it is).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn defer_audit(
        &mut self,
        env: &Envelope,
        change: &ChangeSet,
        outcome: &Outcome,
        operation: &str,
        request_digest: &str,
        ctx: &CallContext,
        now: Time,
    ) -> bool {
        let u: &IndexUpdate = &outcome.index;
        let only_audit = change.is_empty()
            && outcome.extra_audit.is_empty()
            && outcome.new_profile.is_none()
            && u.upsert.is_empty()
            && u.delete.is_empty()
            && !u.purge
            && !u.rebuild;
        if !self.group.defer || !only_audit {
            return false;
        }
        self.group.pending = Some(AuditRecord {
            seq: 0,
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
        });
        true
    }

    /// Seals `records` onto the audit chain in order and commits them in one
    /// store commit (taking the writer lock for it, waiting as a write does).
    /// Returns each record's reference, in order. On error nothing is committed.
    pub fn commit_audit_group(
        &mut self,
        records: Vec<DeferredAudit>,
    ) -> Result<Vec<AuditRef>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.commit_group(Vec::new(), records).audits
    }

    /// Seals `records` onto the end of the chain: after the last record of
    /// `change`, or after the store's head, and adds them to `change`.
    pub(crate) fn seal_deferred(
        &self,
        records: Vec<DeferredAudit>,
        change: &mut ChangeSet,
    ) -> Result<Vec<AuditRef>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let (mut seq, mut prev, mut last_at) = match change.audit.last() {
            Some(r) => (r.seq, r.hash.clone(), Some(r.at)),
            None => match self.store.audit_head()? {
                Some(h) => {
                    let last = self.store.audit_records(h.seq.saturating_sub(1))?;
                    (h.seq, h.hash, last.last().map(|r| r.at))
                }
                None => (0, GENESIS_HASH.to_string(), None),
            },
        };
        let mut refs = Vec::with_capacity(records.len());
        for d in records {
            let mut r = d.record;
            // Record times never go backwards along the chain.
            if let Some(t) = last_at
                && t > r.at
            {
                r.at = t;
            }
            seq += 1;
            r.seq = seq;
            let r = r.seal(&prev);
            prev = r.hash.clone();
            last_at = Some(r.at);
            refs.push(AuditRef {
                seq: r.seq,
                hash: r.hash.clone(),
            });
            change.audit.push(r);
        }
        Ok(refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, memory_runtime};
    use phase_memory_model::Status;
    use serde_json::json;

    fn rt() -> Runtime {
        let at: Time = "2026-03-01T00:00:00Z".parse().expect("time");
        memory_runtime(phase_memory_profile::DEFAULT_PROFILE_TOML, Clock::Fixed(at))
            .expect("runtime")
    }

    fn seed(rt: &mut Runtime) {
        let env = rt.run(
            "node.upsert",
            json!({"node": {"id": "paris", "kind": "fact", "title": "Paris", "body": "Paris is in France."}}),
            &CallContext::owner(),
        );
        assert_eq!(env.status, Status::Ok, "{}", env.to_json());
    }

    #[test]
    fn audited_reads_are_sealed_and_committed_together_in_order() {
        let mut rt = rt();
        seed(&mut rt);
        let head = rt.store.audit_head().expect("head").expect("a record");
        let generation = rt.store.generation();
        let mut pending = Vec::new();
        for text in ["Paris", "France", "capital"] {
            match rt.run_deferring_audit(
                "activation.run",
                json!({"cue": {"text": text}}),
                &CallContext::owner(),
            ) {
                Ran::Pending(env, record) => {
                    assert_eq!(env.status, Status::Ok, "{}", env.to_json());
                    assert!(env.audit.is_none(), "no reference before the commit");
                    assert_eq!(record.operation(), "activation.run");
                    pending.push((env, record));
                }
                Ran::Done(env) => panic!("an audited read was committed alone: {}", env.to_json()),
            }
        }
        // Nothing is on the chain until the group commit.
        assert_eq!(
            rt.store.audit_head().expect("head").expect("head").seq,
            head.seq
        );
        let (envs, records): (Vec<_>, Vec<_>) = pending.into_iter().unzip();
        let refs = rt
            .commit_audit_group(records.into_iter().map(|r| *r).collect())
            .expect("group commit");
        assert_eq!(
            rt.store.generation(),
            generation + 1,
            "one commit for the group"
        );
        let seqs: Vec<u64> = refs.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![head.seq + 1, head.seq + 2, head.seq + 3]);
        let chain = rt.store.audit_records(head.seq).expect("records");
        assert_eq!(chain.len(), 3);
        let mut prev = head.hash.clone();
        for ((r, reference), env) in chain.iter().zip(&refs).zip(&envs) {
            assert_eq!(r.prev_hash, prev);
            assert_eq!(r.hash, reference.hash);
            assert_eq!(r.envelope_digest, env.digest_without_audit());
            prev = r.hash.clone();
        }
        let env = rt.run("audit.verify", json!({}), &CallContext::owner());
        assert_eq!(env.data["ok"], true, "{}", env.to_json());
    }

    #[test]
    fn writes_and_plain_runs_are_never_deferred() {
        let mut rt = rt();
        let ran = rt.run_deferring_audit(
            "node.upsert",
            json!({"node": {"id": "n1", "kind": "fact", "title": "One", "body": "one"}}),
            &CallContext::owner(),
        );
        match ran {
            Ran::Done(env) => assert!(env.audit.is_some(), "{}", env.to_json()),
            Ran::Pending(env, _) => panic!("a write was deferred: {}", env.to_json()),
        }
        // `run` keeps committing a read's record itself.
        let env = rt.run(
            "activation.run",
            json!({"cue": {"text": "one"}}),
            &CallContext::owner(),
        );
        assert!(env.audit.is_some(), "{}", env.to_json());
        assert!(rt.commit_audit_group(Vec::new()).expect("empty").is_empty());
    }

    fn upsert(id: &str, title: &str) -> WriteRequest {
        WriteRequest {
            operation: "node.upsert".into(),
            request: json!({"node": {"id": id, "kind": "fact", "title": title, "body": format!("{title} body")}}),
            ctx: CallContext::owner(),
        }
    }

    #[test]
    fn a_group_of_writes_is_one_commit_and_a_bad_write_fails_alone() {
        let mut rt = rt();
        seed(&mut rt);
        let generation = rt.store.generation();
        let events = rt.store.event_head().expect("events");
        let head = rt.store.audit_head().expect("head").expect("a record").seq;
        let read = match rt.run_deferring_audit(
            "activation.run",
            json!({"cue": {"text": "Paris"}}),
            &CallContext::owner(),
        ) {
            Ran::Pending(_, record) => *record,
            Ran::Done(env) => panic!("not deferred: {}", env.to_json()),
        };
        let mut bad = upsert("bad", "Bad");
        bad.request["node"]["kind"] = json!(42);
        let writes = vec![
            upsert("a", "Alpha"),
            bad,
            upsert("b", "Beta"),
            // The same id as the first: runs alone, after the group, and sees it.
            upsert("a", "Alpha again"),
            upsert("c", "Gamma"),
        ];
        let out = rt.commit_group(writes, vec![read]);
        let statuses: Vec<Status> = out.envelopes.iter().map(|e| e.status).collect();
        assert_eq!(
            statuses,
            vec![
                Status::Ok,
                Status::Invalid,
                Status::Ok,
                Status::Ok,
                Status::Ok
            ]
        );
        assert_eq!(out.grouped, 3);
        assert_eq!(out.envelopes[3].data["created"], false, "it saw the group");
        assert!(out.envelopes[1].audit.is_none());
        // One commit for the group, one for the write that ran alone.
        assert_eq!(rt.store.generation(), generation + 2);
        let refs = out.audits.expect("the read's record");
        assert_eq!(refs.len(), 1);
        let mut seqs: Vec<u64> = out
            .envelopes
            .iter()
            .filter_map(|e| e.audit.as_ref().map(|a| a.seq))
            .chain(refs.iter().map(|r| r.seq))
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (head + 1..=head + 5).collect::<Vec<_>>());
        let all = rt
            .store
            .events(&phase_memory_store::EventQuery {
                after_seq: events,
                ..Default::default()
            })
            .expect("events");
        let got: Vec<u64> = all.iter().map(|e| e.seq).collect();
        assert_eq!(got, (events + 1..=events + 4).collect::<Vec<_>>());
        for id in ["a", "b", "c"] {
            assert!(rt.store.node(id).expect("read").is_some(), "{id}");
        }
        assert!(rt.store.node("bad").expect("read").is_none());
        assert_eq!(
            rt.store.node("a").expect("read").expect("a").title,
            "Alpha again"
        );
        let env = rt.run("audit.verify", json!({}), &CallContext::owner());
        assert_eq!(env.data["ok"], true, "{}", env.to_json());
        // The index and the snapshot see every write of the group.
        let env = rt.run(
            "activation.run",
            json!({"cue": {"text": "Gamma"}}),
            &CallContext::owner(),
        );
        assert!(env.to_json().contains("\"c\""), "{}", env.to_json());
    }
}
