//! Profile operations: validate, apply (an event and an audit record), show.

use phase_memory_model::{Diagnostic, Status, Time};
use phase_memory_profile::{Profile, ProfileError};
use phase_memory_store::ChangeSet;
use serde_json::{Value, json};

use super::{OpResult, check_operation, parse, se};
use crate::context::CallContext;
use crate::request::{Empty, ProfileRequest};
use crate::runner::{Outcome, Runtime};

/// Diagnostics of an invalid profile: file:line:col, field, message.
pub(crate) fn profile_invalid(e: &ProfileError) -> Outcome {
    let mut o = Outcome::fail(
        Status::Invalid,
        Diagnostic::error(
            "profile.invalid",
            format!("{} problem(s) in {}", e.problems.len(), e.origin),
        ),
    );
    o.diagnostics.clear();
    for p in &e.problems {
        o.diagnostics.push(
            Diagnostic::error("profile.invalid", format!("{}: {}", p.field, p.message))
                .at(p.location(&e.origin)),
        );
    }
    o
}

fn load(r: &ProfileRequest, ctx: &CallContext) -> Result<(String, String), Outcome> {
    match (&r.path, &r.source) {
        (Some(p), None) => crate::files::read_text(ctx, p, "profile")
            .map(|s| (p.clone(), s))
            .map_err(|o| {
                o.with(
                    Diagnostic::info("request.invalid", "give a readable TOML file").at(p.clone()),
                )
            }),
        (None, Some(s)) => Ok(("<request>".into(), s.clone())),
        _ => Err(Outcome::invalid(
            "request.invalid",
            "give exactly one of `path` or `source`",
        )),
    }
}

/// `profile.validate`.
pub(crate) fn validate(req: &Value, ctx: &CallContext) -> OpResult {
    let r: ProfileRequest = parse(req)?;
    let (origin, source) = load(&r, ctx)?;
    let p = Profile::parse(&source, &origin).map_err(|e| profile_invalid(&e))?;
    Ok(Outcome::ok(
        json!({"name": p.name, "digest": p.digest(), "origin": origin}),
    ))
}

/// `profile.apply`.
pub(crate) fn apply(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: ProfileRequest = parse(req)?;
    let (origin, source) = load(&r, ctx)?;
    let p = Profile::parse(&source, &origin).map_err(|e| profile_invalid(&e))?;
    if let Some(d) = check_operation(rt, "profile.apply", ctx)? {
        return Ok(super::hold_for_review(
            rt,
            "profile.apply",
            json!({"source": source}),
            ctx,
            &d,
            Vec::new(),
            now,
        ));
    }
    let previous = rt.profile_digest.clone();
    let digest = p.digest();
    let mut o = Outcome::ok(json!({"name": p.name, "digest": digest, "previous_digest": previous}));
    // Nodes whose kind or phase the new profile lacks keep working but are flagged.
    let mut unknown = 0usize;
    rt.store
        .for_each_node(&mut |n| {
            if !p.kinds.contains_key(&n.kind) || p.phase(&n.phase).is_none() {
                unknown += 1;
            }
        })
        .map_err(se)?;
    if unknown > 0 {
        o.diagnostics.push(Diagnostic::warning(
            "graph.unknown_kind",
            format!("{unknown} node(s) have a kind or phase the new profile does not declare"),
        ));
    }
    let seq = rt.store.event_head().map_err(se)? + 1;
    o.change = ChangeSet {
        profile: Some(source),
        events: vec![super::new_event(
            seq,
            now,
            ctx,
            "profile.applied",
            Vec::new(),
            json!({"name": p.name, "digest": digest, "previous_digest": previous}),
        )],
        ..Default::default()
    };
    // A new tokenizer recounts every node.
    if p.tokenizer.encoding != rt.profile.tokenizer.encoding {
        let counter = phase_memory_activate::tokens::TokenCounter::new(&p.tokenizer.encoding)
            .map_err(|e| Outcome::invalid("profile.invalid", format!("tokenizer: {e}")))?;
        let mut recount = Vec::new();
        rt.store
            .for_each_node(&mut |n| {
                let mut n = n.clone();
                n.tokens = counter.count(&n.text());
                recount.push(n);
            })
            .map_err(se)?;
        o.change.put_nodes = recount;
    }
    o.details = json!({"name": p.name, "digest": digest, "previous_digest": previous});
    o.new_profile = Some(Box::new(p));
    Ok(o)
}

/// `profile.show`.
pub(crate) fn show(rt: &mut Runtime, req: &Value) -> OpResult {
    let _: Empty = parse(req)?;
    let source = rt.store.profile_source().map_err(se)?;
    Ok(Outcome::ok(json!({
        "name": rt.profile.name,
        "digest": rt.profile_digest,
        "profile": serde_json::to_value(&rt.profile).unwrap_or(Value::Null),
        "source": source.unwrap_or_else(|| phase_memory_profile::DEFAULT_PROFILE_TOML.to_string()),
    })))
}
