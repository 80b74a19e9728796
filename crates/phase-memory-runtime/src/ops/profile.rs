//! Profile operations: validate, apply (an event and an audit record), show.

use phase_memory_model::{Diagnostic, Status, Time};
use phase_memory_profile::{Profile, ProfileError};
use phase_memory_store::ChangeSet;
use serde_json::{Value, json};

use super::support::{self, check_operation, parse};
use crate::context::CallContext;
use crate::outcome::{OpResult, Outcome};
use crate::request::{Empty, ProfileRequest};
use crate::response;
use crate::state::Runtime;

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
pub(crate) fn validate(_rt: &mut Runtime, req: &Value, ctx: &CallContext, _now: Time) -> OpResult {
    let r: ProfileRequest = parse(req)?;
    let (origin, source) = load(&r, ctx)?;
    let p = Profile::parse(&source, &origin).map_err(|e| profile_invalid(&e))?;
    Ok(Outcome::ok_with(&response::ProfileValidate {
        digest: p.digest(),
        name: p.name,
        origin,
    }))
}

/// `profile.apply`.
pub(crate) fn apply(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: ProfileRequest = parse(req)?;
    let (origin, source) = load(&r, ctx)?;
    let p = Profile::parse(&source, &origin).map_err(|e| profile_invalid(&e))?;
    if let Some(d) = check_operation(rt, "profile.apply", ctx)? {
        return Ok(support::hold_for_review(
            rt,
            "profile.apply",
            json!({"source": source}),
            ctx,
            &d,
            Vec::new(),
            now,
        ));
    }
    let applied = response::ProfileApply {
        name: p.name.clone(),
        digest: p.digest(),
        previous_digest: rt.profile_digest.clone(),
    };
    let mut o = Outcome::ok_with(&applied);
    // Nodes whose kind or phase the new profile lacks keep working but are flagged.
    let mut unknown = 0usize;
    rt.store.for_each_node(&mut |n| {
        if !p.kinds.contains_key(&n.kind) || p.phase(&n.phase).is_none() {
            unknown += 1;
        }
    })?;
    if unknown > 0 {
        o.diagnostics.push(Diagnostic::warning(
            "graph.unknown_kind",
            format!("{unknown} node(s) have a kind or phase the new profile does not declare"),
        ));
    }
    let seq = rt.store.event_head()? + 1;
    o.change = ChangeSet {
        profile: Some(source),
        events: vec![support::new_event(
            seq,
            now,
            ctx,
            "profile.applied",
            Vec::new(),
            o.data.clone(),
        )],
        ..Default::default()
    };
    // A new tokenizer recounts every node.
    if p.tokenizer.encoding != rt.profile.tokenizer.encoding {
        let counter = phase_memory_activate::tokens::TokenCounter::new(&p.tokenizer.encoding)
            .map_err(|e| Outcome::invalid("profile.invalid", format!("tokenizer: {e}")))?;
        let mut recount = Vec::new();
        rt.store.for_each_node(&mut |n| {
            let mut n = n.clone();
            n.tokens = counter.count(&n.text());
            recount.push(n);
        })?;
        o.change.put_nodes = recount;
    }
    o.details = o.data.clone();
    o.new_profile = Some(Box::new(p));
    Ok(o)
}

/// `profile.show`.
pub(crate) fn show(rt: &mut Runtime, req: &Value, _ctx: &CallContext, _now: Time) -> OpResult {
    let _: Empty = parse(req)?;
    let source = rt.store.profile_source()?;
    Ok(Outcome::ok_with(&response::ProfileShow {
        name: rt.profile.name.clone(),
        digest: rt.profile_digest.clone(),
        profile: serde_json::to_value(&rt.profile).unwrap_or(Value::Null),
        source: source.unwrap_or_else(|| phase_memory_profile::DEFAULT_PROFILE_TOML.to_string()),
    }))
}
