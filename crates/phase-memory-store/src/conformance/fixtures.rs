//! Sample records and small helpers the checks share, and the adapters' own
//! tests with them (an adapter's frozen-format fixtures override the few fields
//! their frozen content holds differently, with struct update syntax).

use phase_memory_model::audit::GENESIS_HASH;
use phase_memory_model::{AuditRecord, Edge, Event, Node, Review, ReviewStatus, Time};
use serde_json::json;

use crate::{ChangeSet, Store};

/// A time `s` seconds into 2026.
pub fn t(s: i64) -> Time {
    Time::from_millis(1_767_225_600_000 + s * 1000)
}

/// A sample node.
pub fn sample_node(id: &str) -> Node {
    Node {
        id: id.into(),
        kind: "fact".into(),
        phase: "active".into(),
        title: format!("title of {id}"),
        body: format!("body of {id} with ünïcode"),
        labels: vec!["a".into(), "b".into()],
        scope: "default".into(),
        sensitivity: "internal".into(),
        attrs: [("k".to_string(), json!({"n": 1.5}))].into_iter().collect(),
        created_at: t(0),
        updated_at: t(1),
        valid_from: Some(t(0)),
        valid_to: None,
        tokens: 7,
        tombstone: None,
        implicit_time: false,
    }
}

/// A sample edge.
pub fn edge(from: &str, to: &str, ty: &str) -> Edge {
    Edge {
        from: from.into(),
        to: to.into(),
        edge_type: ty.into(),
        weight: 0.75,
        attrs: Default::default(),
        created_at: t(2),
    }
}

/// A sample event at `10 * seq` seconds.
pub fn event(seq: u64, ty: &str, subjects: &[&str]) -> Event {
    Event {
        seq,
        id: format!("ev-{seq}"),
        at: t(seq as i64 * 10),
        actor: "alice".into(),
        event_type: ty.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        payload: json!({"seq": seq}),
    }
}

/// A sample audit record, not yet sealed into a chain.
pub fn audit_draft(seq: u64) -> AuditRecord {
    AuditRecord {
        seq,
        at: t(seq as i64),
        actor: "alice".into(),
        operation: "node.upsert".into(),
        status: "ok".into(),
        decision: "allow".into(),
        rule_id: Some("r1".into()),
        subjects: vec!["n1".into()],
        request_digest: "blake3:req".into(),
        envelope_digest: "blake3:env".into(),
        details: serde_json::Value::Null,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// A sample audit record sealed after `prev`.
pub fn audit_record(seq: u64, prev: &str) -> AuditRecord {
    audit_draft(seq).seal(prev)
}

/// A pending review.
pub fn review(id: &str) -> Review {
    Review {
        id: id.into(),
        operation: "lifecycle.apply".into(),
        subjects: vec!["a".into()],
        requested_by: "alice".into(),
        reason: "forget needs review".into(),
        rule_id: Some("forget-review".into()),
        status: ReviewStatus::Pending,
        decided_by: None,
        decided_at: None,
        decision_reason: None,
        created_at: t(0),
        expires_at: None,
        request: json!({"nodes": ["a"]}),
    }
}

/// `n` sample audit records continuing the chain of `store`.
pub fn chain_after(store: &dyn Store, n: u64) -> Result<Vec<AuditRecord>, String> {
    let head = store.audit_head().map_err(|e| e.to_string())?;
    let (mut seq, mut prev) = head
        .map(|h| (h.seq, h.hash))
        .unwrap_or((0, GENESIS_HASH.to_string()));
    let mut out = Vec::new();
    for _ in 0..n {
        seq += 1;
        let r = audit_record(seq, &prev);
        prev = r.hash.clone();
        out.push(r);
    }
    Ok(out)
}

/// Commits, the error as text.
pub fn commit(store: &mut dyn Store, c: ChangeSet) -> Result<u64, String> {
    store.commit(c).map_err(|e| format!("commit failed: {e}"))
}
