//! Store operations: health, status, migrate, repair, and the full-store dump that
//! moves a store between adapters losslessly.

use std::collections::BTreeSet;

use phase_memory_model::audit::verify_chain;
use phase_memory_model::{
    AuditCheckpoint, AuditRecord, Diagnostic, Event, Review, Status, Time, canonical_json_exact,
};
use phase_memory_profile::Profile;
use phase_memory_store::{ChangeSet, SCHEMA_VERSION};
use serde_json::{Value, json};

use super::interchange::export_edge;
use super::support::{self, check_operation, parse};
use crate::context::CallContext;
use crate::outcome::{OpResult, Outcome};
use crate::request::{Empty, ExportRequest, ImportRequest, RepairRequest};
use crate::response::{
    AuditHead, DumpCounts, Finding, Health, IndexHealth, ProfileRef, RepairAction, StoreCounts,
    StoreExport, StoreImport, StoreMigrate, StoreRepair, StoreStatus,
};
use crate::state::Runtime;

/// Format name of a full-store dump.
pub const DUMP_FORMAT: &str = "phase-memory-store-dump/1";

fn counts(rt: &Runtime) -> Result<StoreCounts, Outcome> {
    let pending = rt
        .store
        .reviews()?
        .iter()
        .filter(|r| r.status == phase_memory_model::ReviewStatus::Pending)
        .count();
    Ok(StoreCounts {
        nodes: rt.store.node_count()? as u64,
        edges: rt.store.edge_count()? as u64,
        events: rt.store.event_head()?,
        audit_records: rt.store.audit_records(0)?.len() as u64,
        reviews_pending: pending as u64,
    })
}

fn profile_ref(rt: &Runtime) -> ProfileRef {
    ProfileRef {
        name: rt.profile.name.clone(),
        digest: rt.profile_digest.clone(),
    }
}

fn manifest_value<T: serde::Serialize>(m: &T) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

/// `health.check`.
pub(crate) fn health(rt: &mut Runtime, req: &Value, _ctx: &CallContext, _now: Time) -> OpResult {
    let _: Empty = parse(req)?;
    let meta = rt.store.meta()?;
    let pending = rt.store.pending_migrations()?;
    let head = rt.store.audit_head()?;
    let fresh = rt.index_fresh();
    let manifest = rt.store.manifest();
    let mut o = Outcome::ok_with(&Health {
        ok: pending.is_empty() && fresh,
        adapter: manifest_value(&manifest),
        adapters: vec![
            manifest_value(&phase_memory_store::MemoryStore::adapter_manifest()),
            manifest_value(&phase_memory_store_file::FileStore::adapter_manifest()),
            manifest_value(&phase_memory_store_sqlite::SqliteStore::adapter_manifest()),
        ],
        schema_version: meta.schema_version,
        current_schema_version: SCHEMA_VERSION,
        pending_migrations: pending.clone(),
        audit_head: head,
        index: IndexHealth {
            fresh,
            generation: rt.index.generation(),
            store_generation: rt.store.generation(),
            documents: rt.index.doc_count(),
        },
        profile: profile_ref(rt),
    });
    if !pending.is_empty() {
        o.diagnostics.push(Diagnostic::warning(
            "store.migration_needed",
            format!(
                "{} migration(s) pending: run `phase-memory migrate`",
                pending.len()
            ),
        ));
    }
    if !fresh {
        o.diagnostics.push(Diagnostic::warning(
            "store.stale_index",
            "the full-text index is behind the store: run `phase-memory repair --apply`",
        ));
    }
    Ok(o)
}

/// `store.status`.
pub(crate) fn status(rt: &mut Runtime, req: &Value, _ctx: &CallContext, _now: Time) -> OpResult {
    let _: Empty = parse(req)?;
    let meta = rt.store.meta()?;
    let pending = rt.store.pending_migrations()?;
    let mut o = Outcome::ok_with(&StoreStatus {
        adapter: rt.store.manifest().name.to_string(),
        location: rt.store.location().to_string(),
        schema_version: meta.schema_version,
        current_schema_version: SCHEMA_VERSION,
        applied_migrations: meta.applied_migrations.clone(),
        pending_migrations: pending.clone(),
        created_at: meta.created_at,
        counts: counts(rt)?,
        audit: AuditHead {
            head: rt.store.audit_head()?,
        },
        retention: super::audit::retention(rt)?,
        profile: profile_ref(rt),
    });
    if !pending.is_empty() {
        o.diagnostics.push(Diagnostic::warning("store.migration_needed", format!("the store's schema version {} is older than {SCHEMA_VERSION}; it refuses writes until `phase-memory migrate` applies {}", meta.schema_version, pending.join(", "))));
    }
    Ok(o)
}

/// `store.migrate`.
pub(crate) fn migrate(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let _: Empty = parse(req)?;
    if let Some(d) = check_operation(rt, "store.migrate", ctx)? {
        return Err(support::denied(&d, "store.migrate (held for review)"));
    }
    let pending = rt.store.pending_migrations()?;
    if pending.is_empty() {
        let mut o = Outcome::ok_with(&StoreMigrate {
            applied: Vec::new(),
            schema_version: rt.store.meta()?.schema_version,
        });
        o.skip_audit = true;
        return Ok(o);
    }
    let applied = rt.store.migrate()?;
    let seq = rt.store.event_head()? + 1;
    let mut o = Outcome::ok_with(&StoreMigrate {
        applied: applied.clone(),
        schema_version: rt.store.meta()?.schema_version,
    });
    o.details = json!({"applied": applied});
    o.change.events.push(support::new_event(
        seq,
        now,
        ctx,
        "store.migrated",
        Vec::new(),
        json!({"applied": applied}),
    ));
    o.index.rebuild = true;
    Ok(o)
}

/// `store.repair`: what is wrong (integrity findings, dangling edges, pending
/// migrations, a stale index, chain breaks); with `apply`, fixes what can be fixed.
pub(crate) fn repair(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: RepairRequest = parse(req)?;
    if let Some(d) = check_operation(rt, "store.repair", ctx)? {
        return Err(support::denied(&d, "store.repair (held for review)"));
    }
    let Survey {
        findings,
        dangling,
        pending,
    } = repair_findings(rt)?;
    let mut o = Outcome::ok(Value::Null);
    for f in &findings {
        o.diagnostics
            .push(Diagnostic::warning(&f.code, f.message.clone()).at(f.location.clone()));
    }
    if !r.apply {
        o = o.with_data(&StoreRepair {
            clean: findings.is_empty(),
            findings,
            applied: false,
            actions: None,
        });
        o.skip_audit = true;
        return Ok(o);
    }
    let mut actions: Vec<RepairAction> = Vec::new();
    let action = |code: &str, location: String, action: String| RepairAction {
        code: code.to_string(),
        location,
        action,
    };
    rt.lock_for_write()?;
    for f in rt.store.repair_integrity(now)? {
        actions.push(action(&f.code, f.location, f.message));
    }
    if !pending.is_empty() {
        let applied = rt.store.migrate()?;
        actions.push(action(
            "store.migration_needed",
            "meta".into(),
            format!("applied {}", applied.join(", ")),
        ));
    }
    if !dangling.is_empty() {
        let lines: String = dangling
            .iter()
            .map(|e| export_edge(e, None) + "\n")
            .collect();
        let file = match &rt.home.dir {
            Some(dir) => {
                let name = format!("dangling-edges-{}.jsonl", now.millis());
                crate::files::quarantine(dir, &name, &lines)?
                    .display()
                    .to_string()
            }
            None => "memory".into(),
        };
        actions.push(action(
            "graph.missing_reference",
            file,
            format!("moved {} dangling edge(s) to quarantine", dangling.len()),
        ));
        o.change.delete_edges = dangling.iter().map(|e| e.key()).collect();
    }
    o.index.rebuild = true;
    if !rt.index_fresh() {
        actions.push(action(
            "store.stale_index",
            "index/".into(),
            "rebuilt the full-text index".into(),
        ));
    }
    o.details = json!({ "actions": &actions });
    // `clean`: the store had nothing to repair (a clean store stays clean).
    Ok(o.with_data(&StoreRepair {
        clean: findings.is_empty(),
        findings,
        applied: true,
        actions: Some(actions),
    }))
}

/// What `store.repair` found, with the dangling edges and pending migrations it
/// would fix.
struct Survey {
    findings: Vec<Finding>,
    dangling: Vec<phase_memory_model::Edge>,
    pending: Vec<String>,
}

/// Everything `store.repair` reports.
fn repair_findings(rt: &Runtime) -> Result<Survey, Outcome> {
    let finding = |code: &str, location: String, message: String, fixable: bool| Finding {
        code: code.to_string(),
        location,
        message,
        fixable,
    };
    let mut findings = Vec::new();
    for f in rt.store.check_integrity()? {
        findings.push(finding(&f.code, f.location, f.message, f.fixable));
    }
    let mut nodes = BTreeSet::new();
    rt.store.for_each_node(&mut |n| {
        nodes.insert(n.id.clone());
    })?;
    let mut dangling = Vec::new();
    rt.store.for_each_edge(&mut |e| {
        if !nodes.contains(&e.from) || !nodes.contains(&e.to) {
            dangling.push(e.clone());
        }
    })?;
    for e in &dangling {
        findings.push(finding(
            "graph.missing_reference",
            format!("edge {} -{}-> {}", e.from, e.edge_type, e.to),
            "the edge names a node that does not exist".into(),
            true,
        ));
    }
    let pending = rt.store.pending_migrations()?;
    for m in &pending {
        findings.push(finding(
            "store.migration_needed",
            "meta".into(),
            format!("migration {m} is pending"),
            true,
        ));
    }
    if !rt.index_fresh() {
        findings.push(finding(
            "store.stale_index",
            "index/".into(),
            "the full-text index is behind the store".into(),
            true,
        ));
    }
    let cp = rt.store.audit_checkpoint()?;
    for b in verify_chain(&cp, &rt.store.audit_records(0)?) {
        findings.push(finding(
            "audit.chain_broken",
            format!("audit seq {}", b.seq),
            b.reason,
            false,
        ));
    }
    Ok(Survey {
        findings,
        dangling,
        pending,
    })
}

/// `store.export`: the whole store as a dump (meta, profile, nodes, edges, events,
/// reviews, audit checkpoint and records).
pub(crate) fn export(rt: &mut Runtime, req: &Value, ctx: &CallContext, _now: Time) -> OpResult {
    let r: ExportRequest = parse(req)?;
    if let Some(d) = check_operation(rt, "store.export", ctx)? {
        return Err(support::denied(&d, "store.export (held for review)"));
    }
    let meta = rt.store.meta()?;
    let mut out = String::new();
    let mut line = |v: Value| {
        out.push_str(&canonical_json_exact(&v));
        out.push('\n');
    };
    line(
        json!({"record": "meta", "format": DUMP_FORMAT, "schema_version": meta.schema_version, "source_adapter": meta.adapter, "created_at": meta.created_at, "applied_migrations": meta.applied_migrations}),
    );
    line(json!({"record": "profile", "source": rt.store.profile_source()?}));
    let mut body = String::new();
    let (mut n, mut e, mut v) = (0u64, 0u64, 0u64);
    rt.store.for_each_node(&mut |x| {
        let mut val = serde_json::to_value(x).unwrap_or(Value::Null);
        val["record"] = json!("stored_node");
        body.push_str(&canonical_json_exact(&val));
        body.push('\n');
        n += 1;
    })?;
    rt.store.for_each_edge(&mut |x| {
        let mut val = serde_json::to_value(x).unwrap_or(Value::Null);
        val["record"] = json!("stored_edge");
        body.push_str(&canonical_json_exact(&val));
        body.push('\n');
        e += 1;
    })?;
    rt.store.for_each_event(&mut |x| {
        let mut val = serde_json::to_value(x).unwrap_or(Value::Null);
        val["record"] = json!("stored_event");
        body.push_str(&canonical_json_exact(&val));
        body.push('\n');
        v += 1;
    })?;
    let reviews = rt.store.reviews()?;
    let cp = rt.store.audit_checkpoint()?;
    let audit = rt.store.audit_records(0)?;
    out.push_str(&body);
    for rv in &reviews {
        let mut val = serde_json::to_value(rv).unwrap_or(Value::Null);
        val["record"] = json!("review");
        out.push_str(&canonical_json_exact(&val));
        out.push('\n');
    }
    let mut cpv = serde_json::to_value(&cp).unwrap_or(Value::Null);
    cpv["record"] = json!("checkpoint");
    out.push_str(&canonical_json_exact(&cpv));
    out.push('\n');
    for a in &audit {
        let mut val = serde_json::to_value(a).unwrap_or(Value::Null);
        val["record"] = json!("audit");
        out.push_str(&canonical_json_exact(&val));
        out.push('\n');
    }
    let counts = DumpCounts {
        nodes: n,
        edges: e,
        events: v,
        reviews: reviews.len() as u64,
        audit_records: audit.len() as u64,
    };
    let details = json!({ "counts": &counts });
    let (path, jsonl) = match &r.path {
        Some(p) => {
            let target = crate::files::resolve(ctx, p, crate::files::Access::Write)?;
            crate::files::write_text(&target, &out)?;
            (Some(p.clone()), None)
        }
        None => (None, Some(out)),
    };
    let mut o = Outcome::ok_with(&StoreExport {
        format: DUMP_FORMAT.to_string(),
        counts,
        path,
        jsonl,
    });
    o.details = details;
    Ok(o)
}

/// `store.import`: restores a dump into an empty store, keeping seqs and the audit
/// chain exactly.
pub(crate) fn import(rt: &mut Runtime, req: &Value, ctx: &CallContext, _now: Time) -> OpResult {
    let r: ImportRequest = parse(req)?;
    if let Some(d) = check_operation(rt, "store.import", ctx)? {
        return Err(support::denied(&d, "store.import (held for review)"));
    }
    let (path, inline) = dump_source(&r)?;
    // A path the caller may not name is refused before anything else is said.
    if inline.is_none() {
        crate::files::resolve(ctx, &path, crate::files::Access::Read)?;
    }
    ensure_empty(rt)?;
    let text = match inline {
        Some(t) => t,
        None => crate::files::read_text(ctx, &path, "store dump")?,
    };
    let (change, profile) = parse_dump(&text, &path)?;
    check_dump_chain(&change)?;
    let counts = DumpCounts {
        nodes: change.put_nodes.len() as u64,
        edges: change.put_edges.len() as u64,
        events: change.events.len() as u64,
        reviews: change.put_reviews.len() as u64,
        audit_records: change.audit.len() as u64,
    };
    let details = json!({ "counts": &counts });
    let mut o = Outcome::ok_with(&StoreImport { counts, path });
    o.details = details;
    o.index.rebuild = true;
    o.new_profile = profile.map(Box::new);
    // The restored audit records go first; the runner appends this operation's own.
    o.change = change;
    Ok(o)
}

/// Where the dump comes from: (name for diagnostics, inline text when given as
/// records).
fn dump_source(r: &ImportRequest) -> Result<(String, Option<String>), Outcome> {
    match (&r.path, &r.records) {
        (Some(p), None) => Ok((p.clone(), None)),
        (None, Some(records)) => {
            let mut text = String::new();
            for rec in records {
                text.push_str(&rec.to_string());
                text.push('\n');
            }
            Ok(("<request>".to_string(), Some(text)))
        }
        _ => Err(Outcome::invalid(
            "request.invalid",
            "store.import needs exactly one of `path` (a store dump written by store.export) or `records`",
        )),
    }
}

/// A dump restores into an empty store only.
fn ensure_empty(rt: &Runtime) -> Result<(), Outcome> {
    if rt.store.node_count()? > 0
        || rt.store.event_head()? > 0
        || rt.store.audit_head()?.is_some()
        || !rt.store.reviews()?.is_empty()
    {
        return Err(Outcome::fail(
            Status::Conflict,
            Diagnostic::error(
                "store.exists",
                "store.import restores into an empty store; init a new one",
            ),
        ));
    }
    Ok(())
}

/// Every line of a dump into one change set (and the dump's profile, if any).
fn parse_dump(text: &str, path: &str) -> Result<(ChangeSet, Option<Profile>), Outcome> {
    let mut change = ChangeSet::default();
    let mut profile: Option<Profile> = None;
    for (i, l) in text.lines().enumerate() {
        let line = i + 1;
        if l.trim().is_empty() {
            continue;
        }
        let mut v: Value = serde_json::from_str(l).map_err(|e| {
            Outcome::fail(
                Status::Invalid,
                Diagnostic::error("import.invalid_json", format!("line {line}: {e}"))
                    .at(format!("{path}:{line}")),
            )
        })?;
        let kind = v
            .get("record")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        if let Value::Object(m) = &mut v {
            m.remove("record");
        }
        let bad = |msg: String| {
            Outcome::fail(
                Status::Invalid,
                Diagnostic::error("import.invalid_record", format!("line {line}: {msg}"))
                    .at(format!("{path}:{line}")),
            )
        };
        dump_record(&mut change, &mut profile, &kind, v, &bad)?;
    }
    Ok((change, profile))
}

/// One dump record into the change set; `invalid` locates a bad record's message.
fn dump_record(
    change: &mut ChangeSet,
    profile: &mut Option<Profile>,
    kind: &str,
    v: Value,
    invalid: &dyn Fn(String) -> Outcome,
) -> Result<(), Outcome> {
    let bad = |e: serde_json::Error| invalid(e.to_string());
    match kind {
        "meta" => {
            if v.get("format").and_then(|f| f.as_str()) != Some(DUMP_FORMAT) {
                return Err(invalid(format!("not a {DUMP_FORMAT} file")));
            }
        }
        "profile" => {
            if let Some(src) = v.get("source").and_then(|s| s.as_str()) {
                let p = Profile::parse(src, "dump profile")
                    .map_err(|e| super::profile::profile_invalid(&e))?;
                change.profile = Some(src.to_string());
                *profile = Some(p);
            }
        }
        "stored_node" => {
            let n: phase_memory_model::Node = serde_json::from_value(v).map_err(bad)?;
            phase_memory_model::validate_id(&n.id).map_err(|e| invalid(e.to_string()))?;
            change.put_nodes.push(n);
        }
        "stored_edge" => change
            .put_edges
            .push(serde_json::from_value(v).map_err(bad)?),
        "stored_event" => change
            .events
            .push(serde_json::from_value::<Event>(v).map_err(bad)?),
        "review" => change
            .put_reviews
            .push(serde_json::from_value::<Review>(v).map_err(bad)?),
        "checkpoint" => {
            let cp: AuditCheckpoint = serde_json::from_value(v).map_err(bad)?;
            if cp.last_pruned_seq > 0 {
                change.prune_audit = Some(cp);
            }
        }
        "audit" => change
            .audit
            .push(serde_json::from_value::<AuditRecord>(v).map_err(bad)?),
        other => return Err(invalid(format!("unknown dump record {other:?}"))),
    }
    Ok(())
}

/// The dump's audit chain holds from its checkpoint on.
fn check_dump_chain(change: &ChangeSet) -> Result<(), Outcome> {
    let cp = change.prune_audit.clone().unwrap_or_default();
    let breaks = verify_chain(&cp, &change.audit);
    if let Some(b) = breaks.first() {
        return Err(Outcome::fail(
            Status::Invalid,
            Diagnostic::error(
                "audit.chain_broken",
                format!(
                    "the dump's audit chain is broken at seq {}: {}",
                    b.seq, b.reason
                ),
            ),
        ));
    }
    Ok(())
}
