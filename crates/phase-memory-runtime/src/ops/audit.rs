//! The audit chain: query, verify (hash chain and erasure receipts), prune behind a
//! checkpoint per the profile's retention.

use std::collections::BTreeSet;

use phase_memory_govern::ErasureReceipt;
use phase_memory_model::audit::verify_chain;
use phase_memory_model::{AuditCheckpoint, Diagnostic, Status, Time};
use phase_memory_store::ChangeSet;
use serde_json::{Value, json};

use super::support::{self, check_operation, parse};
use crate::context::CallContext;
use crate::outcome::{OpResult, Outcome};
use crate::request::{AuditPruneRequest, AuditQueryRequest, Empty};
use crate::response;
use crate::state::Runtime;

/// Retention metadata shown by `audit.query` and `store.status`.
pub(crate) fn retention(rt: &Runtime) -> Result<response::Retention, Outcome> {
    Ok(response::Retention {
        audit_days: rt.profile.retention.audit_days,
        review_expiry_days: rt.profile.retention.review_expiry_days,
        legal_hold_label: rt.profile.retention.legal_hold_label.clone(),
        checkpoint: rt.store.audit_checkpoint()?,
    })
}

/// `audit.query`.
pub(crate) fn query(rt: &mut Runtime, req: &Value, ctx: &CallContext, _now: Time) -> OpResult {
    let r: AuditQueryRequest = parse(req)?;
    if let Some(d) = check_operation(rt, "audit.query", ctx)? {
        return Err(support::denied(&d, "audit.query (held for review)"));
    }
    let records = rt.store.audit_records(0)?;
    // Below the admin class, a record is shown only when every node it names is
    // one the actor may see (ids never seen: a missing id names nothing).
    let admin = support::is_admin(rt, ctx);
    let mut seen = std::collections::BTreeMap::<String, bool>::new();
    let mut shown = Vec::with_capacity(records.len());
    for a in records {
        let mut ok = true;
        if !admin {
            for s in &a.subjects {
                let v = match seen.get(s) {
                    Some(v) => *v,
                    None => {
                        let v = match rt.store.node(s)? {
                            Some(n) => support::sees(rt, "audit.query", ctx, &n),
                            None => true,
                        };
                        seen.insert(s.clone(), v);
                        v
                    }
                };
                ok &= v;
            }
        }
        if ok {
            shown.push(a);
        }
    }
    let total = shown.len();
    let mut out: Vec<_> = shown
        .into_iter()
        .filter(|a| r.since.is_none_or(|s| a.at >= s))
        .filter(|a| r.until.is_none_or(|u| a.at < u))
        .filter(|a| r.actor.as_ref().is_none_or(|x| &a.actor == x))
        .filter(|a| r.operation.as_ref().is_none_or(|x| &a.operation == x))
        .filter(|a| r.status.as_ref().is_none_or(|x| &a.status == x))
        .filter(|a| {
            r.subject
                .as_ref()
                .is_none_or(|x| a.subjects.iter().any(|s| s == x))
        })
        .collect();
    let limit = r.limit.unwrap_or(1000);
    let truncated = out.len() > limit;
    if truncated {
        out.drain(..out.len() - limit);
    }
    let mut o = Outcome::ok_with(&response::AuditQuery {
        matched_total: out.len() as u64,
        records: out,
        records_total: total as u64,
        truncated,
        retention: retention(rt)?,
    });
    if truncated {
        o.diagnostics.push(Diagnostic::info(
            "request.invalid",
            format!("only the newest {limit} matching records are shown; raise `limit` for more"),
        ));
    }
    Ok(o)
}

/// `audit.verify`.
pub(crate) fn verify(rt: &mut Runtime, req: &Value, ctx: &CallContext, _now: Time) -> OpResult {
    let _: Empty = parse(req)?;
    if let Some(d) = check_operation(rt, "audit.verify", ctx)? {
        return Err(support::denied(&d, "audit.verify (held for review)"));
    }
    let cp = rt.store.audit_checkpoint()?;
    let records = rt.store.audit_records(0)?;
    let breaks = verify_chain(&cp, &records);
    let mut receipts_checked = 0;
    let mut receipt_problems = Vec::new();
    for r in &records {
        if r.operation != "node.erase" {
            continue;
        }
        let Some(rv) = r.details.get("receipt") else {
            continue;
        };
        receipts_checked += 1;
        match serde_json::from_value::<ErasureReceipt>(rv.clone()) {
            Ok(receipt) => {
                let node = rt.store.node(&receipt.node)?;
                if let Err(why) = phase_memory_govern::verify_erasure(&receipt, node.as_ref()) {
                    receipt_problems
                        .push(json!({"seq": r.seq, "node": receipt.node, "reason": why}));
                }
            }
            Err(e) => receipt_problems
                .push(json!({"seq": r.seq, "reason": format!("unreadable receipt: {e}")})),
        }
    }
    let ok = breaks.is_empty() && receipt_problems.is_empty();
    let mut o = Outcome::ok_with(&response::AuditVerify {
        ok,
        records: records.len() as u64,
        checkpoint: cp,
        breaks: breaks
            .iter()
            .map(|b| response::ChainBreak {
                seq: b.seq,
                index: b.index as u64,
                reason: b.reason.clone(),
            })
            .collect(),
        receipts_checked,
        receipt_problems: receipt_problems.clone(),
    });
    for b in &breaks {
        o.diagnostics.push(
            Diagnostic::error(
                "audit.chain_broken",
                format!("audit record seq {}: {}", b.seq, b.reason),
            )
            .at(format!("audit seq {}", b.seq)),
        );
    }
    for p in &receipt_problems {
        o.diagnostics.push(Diagnostic::error(
            "audit.chain_broken",
            format!(
                "erasure receipt at seq {}: {}",
                p["seq"],
                p["reason"].as_str().unwrap_or("")
            ),
        ));
    }
    if !ok {
        o.status = Status::Error;
    }
    Ok(o)
}

/// `audit.prune`: drops the longest prefix of records older than the cutoff,
/// stopping at a record about a node under legal hold.
pub(crate) fn prune(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: AuditPruneRequest = parse(req)?;
    if let Some(d) = check_operation(rt, "audit.prune", ctx)? {
        return Ok(support::hold_for_review(
            rt,
            "audit.prune",
            req.clone(),
            ctx,
            &d,
            Vec::new(),
            now,
        ));
    }
    let days = rt.profile.retention.audit_days;
    let cutoff = match r.before {
        Some(t) => t,
        None if days == 0 => {
            let kept = response::AuditPrune {
                pruned: 0,
                cutoff: None,
                retention_days: 0,
                checkpoint: rt.store.audit_checkpoint()?,
            };
            return Ok(Outcome::ok_with(&kept).with(Diagnostic::info(
                "audit.pruned",
                "retention keeps audit records forever (audit_days = 0)",
            )));
        }
        None => now.plus_seconds(-(days as i64) * 86_400),
    };
    let records = rt.store.audit_records(0)?;
    let mut held: BTreeSet<String> = BTreeSet::new();
    rt.store.for_each_node(&mut |n| {
        if phase_memory_govern::legal_hold(&rt.profile, n) {
            held.insert(n.id.clone());
        }
    })?;
    let mut last = None;
    let mut stopped_by_hold = false;
    for rec in &records {
        if rec.at >= cutoff {
            break;
        }
        if rec.subjects.iter().any(|s| held.contains(s)) {
            stopped_by_hold = true;
            break;
        }
        last = Some(rec);
    }
    let old = rt.store.audit_checkpoint()?;
    let Some(last) = last else {
        return Ok(Outcome::ok_with(&response::AuditPrune {
            pruned: 0,
            cutoff: Some(cutoff),
            retention_days: days,
            checkpoint: old,
        }));
    };
    let pruned = records.iter().take_while(|x| x.seq <= last.seq).count() as u64;
    let cp = AuditCheckpoint {
        last_pruned_seq: last.seq,
        last_pruned_hash: last.hash.clone(),
        pruned_at: Some(now),
        pruned_count: old.pruned_count + pruned,
    };
    let mut o = Outcome::ok_with(&response::AuditPrune {
        pruned,
        cutoff: Some(cutoff),
        retention_days: days,
        checkpoint: cp.clone(),
    });
    o.diagnostics.push(Diagnostic::info(
        "audit.pruned",
        format!("{pruned} audit record(s) before {cutoff} pruned behind a checkpoint"),
    ));
    if stopped_by_hold {
        o.diagnostics.push(Diagnostic::warning(
            "legal_hold.active",
            "pruning stopped at a record about a node under legal hold",
        ));
    }
    o.details = json!({"pruned": pruned, "checkpoint": cp});
    o.change = ChangeSet {
        prune_audit: Some(cp),
        ..Default::default()
    };
    Ok(o)
}
