//! Packages: `package.compile` (an activation rendered as a Markitect package,
//! written to a folder or .tar, or returned inline) and `package.verify`.

use std::path::PathBuf;

use phase_memory_model::{AuditRef, Diagnostic, Status, Time};
use phase_memory_package::{Package, PackageError, PackageInput, PackageItem};
use phase_memory_profile::Effect;
use serde_json::{Value, json};

use super::activation::{Activated, access_events, diagnostics, run_activation};
use super::support::{self, parse};
use crate::context::CallContext;
use crate::files::{self, Access};
use crate::outcome::{OpResult, Outcome};
use crate::request::{CompileRequest, PackageVerifyRequest};
use crate::response::{Activation, Compile, PackageProblem, PackageVerify};
use crate::state::Runtime;

/// `package.compile`: check where it goes, activate, hold it when items need
/// review, render the package, deliver it, answer.
pub(crate) fn compile(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: CompileRequest = parse(req)?;
    let target = target(&r, ctx)?;
    let provenance = last_write_audit(rt)?;
    let a = run_activation(rt, "package.compile", r.fields(), ctx, now)?;
    if let Some(held) = hold_if_review_needed(rt, &a, req, ctx, now) {
        return Ok(held);
    }
    let input = package_input(rt, &r, &a, provenance, now)?;
    let pkg = phase_memory_package::render(&input);
    let (out, contents) = deliver(&pkg, target.as_deref(), &r, ctx)?;
    let Activation {
        items,
        budget,
        withheld,
        considered,
        not_fitted,
    } = Activation::of(&a.set, false);
    let mut o = Outcome::ok_with(&Compile {
        items,
        budget,
        withheld,
        considered,
        not_fitted,
        out,
        contents,
        id: pkg.id.clone(),
        archive: r.archive,
        files: pkg.files.len() as u64,
    });
    diagnostics(&a.set, &mut o);
    o.diagnostics.extend(a.semantic_note.clone());
    o.subjects = a.set.items.iter().map(|i| i.node.clone()).collect();
    o.details =
        json!({"package": pkg.id, "items": a.set.items.len(), "withheld": a.set.withheld_count});
    access_events(rt, &a.set, ctx, now, &mut o)?;
    Ok(o)
}

/// Where the package goes: a folder or .tar the caller may write, or nowhere
/// (its files come back in the answer).
fn target(r: &CompileRequest, ctx: &CallContext) -> Result<Option<PathBuf>, Outcome> {
    match r.out.as_deref() {
        Some(o) if o.trim().is_empty() => Err(Outcome::invalid(
            "request.invalid",
            "`out` must name a folder (or a .tar file with archive), or be left out to get the files in the response",
        )),
        Some(o) => Ok(Some(files::resolve(ctx, o, Access::Write)?)),
        None => Ok(None),
    }
}

/// The `review_required` answer when packed items need a second actor's
/// review (and this run is not the approved one).
fn hold_if_review_needed(
    rt: &mut Runtime,
    a: &Activated,
    req: &Value,
    ctx: &CallContext,
    now: Time,
) -> Option<Outcome> {
    let (_, rule) = a.needs_review.first()?;
    if ctx.approved_review.is_some() {
        return None;
    }
    let d = phase_memory_govern::Decision {
        effect: Effect::Review,
        rule_id: Some(rule.clone()),
        reason: format!(
            "{} item(s) of the package need review before they are compiled",
            a.needs_review.len()
        ),
    };
    let subjects = a.needs_review.iter().map(|(id, _)| id.clone()).collect();
    Some(support::hold_for_review(
        rt,
        "package.compile",
        req.clone(),
        ctx,
        &d,
        subjects,
        now,
    ))
}

/// What the package is rendered from: the packed nodes as stored, the budget,
/// what was withheld, and the provenance (store and audit head).
fn package_input(
    rt: &Runtime,
    r: &CompileRequest,
    a: &Activated,
    provenance: Option<AuditRef>,
    now: Time,
) -> Result<PackageInput, Outcome> {
    let mut items = Vec::with_capacity(a.set.items.len());
    // One batched read (one round trip on a database behind a network).
    let ids: Vec<&str> = a.set.items.iter().map(|i| i.node.as_str()).collect();
    let nodes = rt.store.nodes(&ids)?;
    for (i, node) in a.set.items.iter().zip(nodes) {
        let node = node.ok_or_else(|| {
            Outcome::error(
                "store.corrupt_record",
                format!("activated node {} is missing from the store", i.node),
            )
        })?;
        items.push(PackageItem {
            node,
            score: i.score,
            tokens: i.tokens,
        });
    }
    let meta = rt.store.meta()?;
    let head = provenance.unwrap_or(AuditRef {
        seq: 0,
        hash: phase_memory_model::audit::GENESIS_HASH.into(),
    });
    Ok(PackageInput {
        title: rt.profile.package.title.clone(),
        cue: serde_json::to_value(&r.cue).unwrap_or(Value::Null),
        as_of: now,
        profile_digest: rt.profile_digest.clone(),
        budget_limit: a.set.budget_limit,
        budget_used: a.set.budget_used,
        items,
        withheld_count: a.set.withheld_count,
        withheld_rules: a.set.withheld.clone(),
        store: format!("{}:{}", meta.adapter, meta.created_at),
        audit_seq: head.seq,
        audit_hash: head.hash,
    })
}

/// The files by path of a package returned inline.
type Contents = std::collections::BTreeMap<String, String>;

/// Writes the package to its target, or returns its files: (`out`, `contents`)
/// of the answer.
fn deliver(
    pkg: &Package,
    target: Option<&std::path::Path>,
    r: &CompileRequest,
    ctx: &CallContext,
) -> Result<(Option<String>, Option<Contents>), Outcome> {
    match (target, &r.out) {
        (Some(out), Some(given)) => {
            write_package(pkg, out, r.archive, given, ctx)?;
            Ok((Some(given.clone()), None))
        }
        _ => {
            let contents = pkg
                .files
                .iter()
                .map(|(p, b)| (p.clone(), String::from_utf8_lossy(b).into_owned()))
                .collect();
            Ok((None, Some(contents)))
        }
    }
}

/// The audit record of the latest operation that changed memory: a package's
/// provenance. Reads (audited when the profile records reads) do not move it, so
/// compiling twice gives byte-identical packages.
fn last_write_audit(rt: &Runtime) -> Result<Option<AuditRef>, Outcome> {
    let Some(head) = rt.store.audit_head()? else {
        return Ok(None);
    };
    let floor = rt.store.audit_checkpoint()?.last_pruned_seq;
    let mut window = 64u64;
    loop {
        let after = head.seq.saturating_sub(window).max(floor);
        let records = rt.store.audit_records(after)?;
        let write = records
            .iter()
            .rev()
            .find(|r| r.status != "ok" || !rt.is_registered_read(&r.operation));
        if let Some(r) = write {
            return Ok(Some(AuditRef {
                seq: r.seq,
                hash: r.hash.clone(),
            }));
        }
        if after <= floor {
            return Ok(Some(head));
        }
        window *= 4;
    }
}

/// Writes a package to a folder or a .tar; a remote caller learns why only when
/// the writer refused the target.
fn write_package(
    pkg: &Package,
    out: &std::path::Path,
    archive: bool,
    given: &str,
    ctx: &CallContext,
) -> Result<(), Outcome> {
    let written = if archive {
        phase_memory_package::write_tar(pkg, out)
    } else {
        phase_memory_package::write_dir(pkg, out)
    };
    written.map_err(|e| {
        let why = match &e {
            _ if !ctx.origin.is_remote() => e.to_string(),
            PackageError::Refused { reason, .. } => reason.clone(),
            _ => "the write failed".to_string(),
        };
        Outcome::invalid(
            "package.invalid",
            format!("writing the package to {given}: {why}"),
        )
    })
}

/// `package.verify`.
pub(crate) fn verify(_rt: &mut Runtime, req: &Value, ctx: &CallContext, _now: Time) -> OpResult {
    let r: PackageVerifyRequest = parse(req)?;
    let path = files::resolve(ctx, &r.path, Access::Read)?;
    let report =
        phase_memory_package::verify_limited(&path, &files::package_limits(ctx)).map_err(|e| {
            match e {
                // Limits and read errors name the path the client gave, never a
                // server path it did not (the error's own path is the resolved one).
                PackageError::Invalid(m) => {
                    Outcome::invalid("package.invalid", format!("{}: {m}", r.path))
                }
                PackageError::NotFound(_) => Outcome::invalid(
                    "package.invalid",
                    format!("{}: no such file or folder", r.path),
                ),
                _ if ctx.origin.is_remote() => Outcome::invalid(
                    "package.invalid",
                    format!("{}: cannot be read as a package", r.path),
                ),
                other => Outcome::invalid("package.invalid", format!("{}: {other}", r.path)),
            }
        })?;
    let problems: Vec<PackageProblem> = report
        .problems
        .iter()
        .map(|p| PackageProblem {
            code: p.code.clone(),
            path: p.path.clone(),
            message: p.message.clone(),
        })
        .collect();
    let mut o = Outcome::ok_with(&PackageVerify {
        id: report.id.clone(),
        items: report.items as u64,
        ok: problems.is_empty(),
        problems,
    });
    for p in &report.problems {
        o.diagnostics
            .push(Diagnostic::error(&p.code, p.message.clone()).at(p.path.clone()));
    }
    if !report.problems.is_empty() {
        o.status = Status::Invalid;
    }
    Ok(o)
}
