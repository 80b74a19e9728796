//! Activation and packages: cue → BM25 seeds from the full-text index → activation
//! on the snapshot with the policy filter inside the traversal → budget packing →
//! the envelope (packages are built on it in `package.rs`).

use phase_memory_activate::activate::{
    ActivationInput, Cue, Visibility, WorkingSet, activate_indexed,
};
use phase_memory_activate::snapshot::{NodeView, Snapshot};
use phase_memory_govern::Target;
use phase_memory_model::{Diagnostic, Time};
use phase_memory_profile::Effect;
use serde_json::{Value, json};
use std::borrow::Cow;

use super::support::{self, parse};
use crate::context::CallContext;
use crate::outcome::{OpResult, Outcome};
use crate::policy_memo::{MemoKey, PolicyMemo};
use crate::request::{ActivationFields, ActivationRequest, CueRequest};
use crate::response::Activation;
use crate::state::Runtime;

/// How many BM25 hits seed an activation.
const LEXICAL_SEEDS: usize = 200;

pub(super) struct Activated {
    pub(super) set: WorkingSet,
    /// Items that passed only because a review approved them or that need review.
    pub(super) needs_review: Vec<(String, String)>,
    /// Why the semantic index gave no seeds, when the profile asks for them.
    pub(super) semantic_note: Option<Diagnostic>,
}

/// One activation for `op`: check the request, seed from the full-text index,
/// drop hidden seeds, activate with the policy inside the traversal, and keep the
/// review needs of the items that were packed.
pub(super) fn run_activation(
    rt: &mut Runtime,
    op: &str,
    fields: ActivationFields<'_>,
    ctx: &CallContext,
    now: Time,
) -> Result<Activated, Outcome> {
    check_cue(fields.cue)?;
    let params = rt.profile.activation.clone();
    let budget = fields.budget_tokens.unwrap_or(params.default_budget);
    let limit = fields.limit.unwrap_or(params.default_limit as usize);
    if limit == 0 {
        return Err(
            Outcome::invalid("request.invalid", "limit must be at least 1")
                .with(Diagnostic::info("request.invalid", "limit").at("limit")),
        );
    }
    let mut lexical = lexical_seeds(rt, op, ctx, &fields)?;
    let (mut semantic, semantic_note) = semantic_seeds(rt, ctx, &fields, &params);
    let snapshot = rt.snapshot()?;
    let cue = fields.cue;
    let mut c = Cue {
        text: cue.text.clone(),
        nodes: cue.nodes.clone(),
        hints: cue
            .hints
            .iter()
            .map(|h| (h.node.clone(), h.score))
            .collect(),
        events_since: cue.events_since,
    };
    let memo = std::mem::take(&mut rt.policy_memo);
    let memo_key = MemoKey {
        lineage: snapshot.policy_class_lineage(),
        profile_digest: rt.profile_digest.clone(),
        op: op.to_string(),
        actor: ctx.actor.clone(),
    };
    // Shared from here until the decisions are kept again.
    let shared: &Runtime = rt;
    let decisions = Decisions::new(shared, op, ctx, &snapshot, memo.reuse(&memo_key));
    let lexical_indices = drop_hidden_seeds(shared, &snapshot, &decisions, &mut c, &mut lexical)?;
    drop_hidden_hits(shared, op, ctx, &mut semantic)?;
    let input = ActivationInput {
        cue: &c,
        lexical: &lexical,
        semantic: &semantic,
        budget_tokens: budget,
        limit,
        as_of: now,
        include_invalid: fields.include_invalid,
        explain: fields.explain,
    };
    let gate = Gate {
        op,
        scopes: fields.scopes,
        needs_review: Default::default(),
        decisions,
    };
    let set = activate_indexed(&snapshot, &params, &input, &lexical_indices, &|v| {
        gate.visibility(v)
    });
    let Gate {
        needs_review,
        decisions,
        ..
    } = gate;
    let decided = decisions
        .memo
        .into_iter()
        .map(std::cell::OnceCell::into_inner)
        .collect();
    // Only items that made it into the working set matter for review.
    let packed: std::collections::BTreeSet<&str> =
        set.items.iter().map(|i| i.node.as_str()).collect();
    let needs_review = needs_review
        .into_inner()
        .into_iter()
        .filter(|(id, _)| packed.contains(id.as_str()))
        .collect();
    rt.policy_memo = PolicyMemo {
        key: Some(memo_key),
        decided,
    };
    Ok(Activated {
        set,
        needs_review,
        semantic_note,
    })
}

/// Semantic-index seeds for the cue's text, from the same scopes as the lexical
/// ones (`semantic.rs`); a diagnostic instead when the index cannot answer.
fn semantic_seeds(
    rt: &mut Runtime,
    ctx: &CallContext,
    fields: &ActivationFields<'_>,
    params: &phase_memory_profile::ActivationSpec,
) -> (Vec<(String, f32)>, Option<Diagnostic>) {
    let Some(text) = fields.cue.text.as_deref() else {
        return (Vec::new(), None);
    };
    let scopes =
        phase_memory_index::scope_filter(&ctx.actor.scopes, fields.scopes.map(Vec::as_slice));
    match rt.semantic_hits(text, scopes.as_deref(), params) {
        Ok(hits) => (hits, None),
        Err(d) => (Vec::new(), Some(d)),
    }
}

/// Semantic hits the actor may not see are dropped, as hidden lexical hits are.
fn drop_hidden_hits(
    rt: &Runtime,
    op: &str,
    ctx: &CallContext,
    hits: &mut Vec<(String, f32)>,
) -> Result<(), Outcome> {
    // One batched read (one round trip on a database behind a network).
    let ids: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
    let nodes = rt.store.nodes(&ids)?;
    let keep: Vec<(String, f32)> = hits
        .drain(..)
        .zip(nodes)
        .filter(|(_, n)| n.as_ref().is_some_and(|n| support::sees(rt, op, ctx, n)))
        .map(|(h, _)| h)
        .collect();
    *hits = keep;
    Ok(())
}

/// A cue names something to start from, and hint scores are similarities.
fn check_cue(cue: &CueRequest) -> Result<(), Outcome> {
    if cue.text.as_deref().is_none_or(|t| t.trim().is_empty())
        && cue.nodes.is_empty()
        && cue.hints.is_empty()
        && cue.events_since.is_none()
    {
        return Err(Outcome::invalid(
            "request.invalid",
            "the cue is empty: give text, nodes, hints or events_since",
        )
        .with(
            Diagnostic::info(
                "request.invalid",
                "e.g. {\"cue\": {\"text\": \"release plan\"}}",
            )
            .at("cue"),
        ));
    }
    for h in &cue.hints {
        if !(h.score.is_finite() && (0.0..=1.0).contains(&h.score)) {
            return Err(Outcome::invalid(
                "request.invalid",
                format!("hint score {} for a node must be in [0, 1]", h.score),
            )
            .with(
                Diagnostic::info("request.invalid", "hint scores are similarities in [0, 1]")
                    .at("cue.hints"),
            ));
        }
    }
    Ok(())
}

/// BM25 seeds (with relevance feedback when the profile turns it on) for the cue's
/// text. Seeds come only from scopes the actor may see (and the request names), so
/// other scopes neither crowd out the top hits nor cost anything.
fn lexical_seeds(
    rt: &Runtime,
    op: &str,
    ctx: &CallContext,
    fields: &ActivationFields<'_>,
) -> Result<Vec<(String, f32)>, Outcome> {
    let Some(text) = fields.cue.text.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let params = &rt.profile.activation;
    let seed_scopes =
        phase_memory_index::scope_filter(&ctx.actor.scopes, fields.scopes.map(Vec::as_slice));
    let mut search = phase_memory_index::Search::new(text, LEXICAL_SEEDS);
    search.scopes = seed_scopes.as_deref();
    search.weights = phase_memory_index::FieldWeights {
        title: params.title_weight as f32,
        body: params.body_weight as f32,
        exact: params.exact_weight as f32,
    };
    let feedback = phase_memory_index::Feedback {
        docs: params.feedback_docs as usize,
        terms: params.feedback_terms as usize,
        original_weight: params.feedback_weight,
    };
    // Feedback documents are read from the store (the index keeps no text),
    // and only those the actor may see, so hidden text never shapes a cue.
    let text_of = |id: &str| {
        rt.store
            .node(id)
            .ok()
            .flatten()
            .filter(|n| support::sees(rt, op, ctx, n))
            .map(|n| format!("{} {}", n.title, n.body))
    };
    rt.index
        .search_with_feedback(&search, &feedback, &text_of)
        .map_err(|e| Outcome::error("store.stale_index", format!("full-text search failed: {e}")))
}

/// The policy inside the traversal: which nodes an activation may reach for
/// this actor and operation. `package.compile` packs review-gated nodes and
/// records them; other operations withhold them.
struct Gate<'a> {
    op: &'a str,
    scopes: Option<&'a Vec<String>>,
    needs_review: std::cell::RefCell<Vec<(String, String)>>,
    decisions: Decisions<'a>,
}

/// The policy decisions of one request over one snapshot, decided once per
/// policy class of the snapshot (nodes alike in kind, phase, sensitivity, scope
/// and labels, [`NodeView::policy_class`]): a decision reads nothing else of a
/// node, and an activation touches hundreds to thousands of nodes sharing a few
/// dozen classes.
struct Decisions<'a> {
    rt: &'a Runtime,
    op: &'a str,
    ctx: &'a CallContext,
    /// The decision of each class, once made: its effect and rule id.
    memo: Vec<std::cell::OnceCell<(Effect, Option<String>)>>,
}

impl<'a> Decisions<'a> {
    /// Decisions for `snapshot`, starting from `kept` (decisions made under the
    /// same [`MemoKey`]; classes numbered since are added undecided).
    fn new(
        rt: &'a Runtime,
        op: &'a str,
        ctx: &'a CallContext,
        snapshot: &Snapshot,
        mut kept: Vec<std::cell::OnceCell<(Effect, Option<String>)>>,
    ) -> Self {
        let n = snapshot.policy_class_count();
        if kept.len() < n {
            kept.resize_with(n, Default::default);
        }
        Decisions {
            rt,
            op,
            ctx,
            memo: kept,
        }
    }

    /// The decision's effect and rule id for the node `v` of the snapshot
    /// given to [`Decisions::new`] (`phase_memory_govern::decide`, remembered
    /// per class).
    fn of(&self, v: NodeView<'a>) -> (Effect, Option<Cow<'_, str>>) {
        match self.memo.get(v.policy_class() as usize) {
            Some(cell) => {
                let (effect, rule) = cell.get_or_init(|| self.decide(v));
                (*effect, rule.as_deref().map(Cow::Borrowed))
            }
            // Not a class of that snapshot (a view of another one): decided
            // afresh.
            None => {
                let (effect, rule) = self.decide(v);
                (effect, rule.map(Cow::Owned))
            }
        }
    }

    fn decide(&self, v: NodeView<'a>) -> (Effect, Option<String>) {
        let labels: Vec<String> = v.labels().map(str::to_string).collect();
        let target = Target {
            kind: v.kind(),
            phase: v.phase(),
            sensitivity: v.sensitivity(),
            scope: v.scope(),
            labels: &labels,
            target_phase: None,
        };
        let d = phase_memory_govern::decide(&self.rt.profile, self.op, &self.ctx.actor, &target);
        (d.effect, d.rule_id)
    }

    /// [`support::sees`] for a node of the snapshot.
    fn sees(&self, v: NodeView<'a>) -> bool {
        self.of(v).0 != Effect::Deny
    }
}

impl<'a> Gate<'a> {
    fn visibility(&self, v: NodeView<'a>) -> Visibility {
        if let Some(s) = self.scopes
            && !s.iter().any(|x| x == v.scope())
        {
            return Visibility::Withheld("scope".into());
        }
        let (effect, rule_id) = self.decisions.of(v);
        let rule = || rule_id.as_deref().unwrap_or("default").to_string();
        match effect {
            Effect::Allow => Visibility::Visible,
            Effect::Review if self.op == "package.compile" => {
                self.needs_review
                    .borrow_mut()
                    .push((v.id().to_string(), rule()));
                Visibility::Visible
            }
            Effect::Deny | Effect::Review => Visibility::Withheld(rule()),
        }
    }
}

/// Seeds the actor may not see are dropped before activation, exactly as ids
/// that do not exist are: naming a hidden node (or matching its text) must not
/// tell the actor it is there, not even as a withheld count.
///
/// A seed in the snapshot (which is of the store's current data generation) is
/// decided on the snapshot's copy of what policy reads; only seeds it does not
/// hold are read from the store, in one batch (one round trip on a database
/// behind a network).
fn drop_hidden_seeds<'s>(
    rt: &Runtime,
    snapshot: &'s Snapshot,
    decisions: &Decisions<'s>,
    cue: &mut Cue,
    lexical: &mut Vec<(String, f32)>,
) -> Result<Vec<Option<u32>>, Outcome> {
    let named = cue
        .nodes
        .iter()
        .map(String::as_str)
        .chain(cue.hints.iter().map(|h| h.0.as_str()));
    // The snapshot index of each lexical hit, kept for activation.
    let mut lexical_indices: Vec<Option<u32>> =
        lexical.iter().map(|h| snapshot.index_of(&h.0)).collect();
    let ids = named.map(|id| (id, snapshot.index_of(id))).chain(
        lexical
            .iter()
            .map(|h| h.0.as_str())
            .zip(lexical_indices.iter().copied()),
    );
    // Ids the actor may not see (usually none); an id named twice is decided
    // twice alike.
    let mut hidden: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut unknown: Vec<&str> = Vec::new();
    for (id, index) in ids {
        match index.and_then(|i| snapshot.node(i)) {
            Some(v) => {
                if !decisions.sees(v) {
                    hidden.insert(id.to_string());
                }
            }
            None => unknown.push(id),
        }
    }
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        let nodes = rt.store.nodes(&unknown)?;
        for (id, n) in unknown.iter().zip(nodes) {
            if n.is_some_and(|n| !support::sees(rt, decisions.op, decisions.ctx, &n)) {
                hidden.insert(id.to_string());
            }
        }
    }
    if !hidden.is_empty() {
        cue.nodes.retain(|id| !hidden.contains(id));
        cue.hints.retain(|h| !hidden.contains(&h.0));
        let mut keep = lexical.iter().map(|h| !hidden.contains(&h.0));
        lexical_indices.retain(|_| keep.next().unwrap_or(false));
        lexical.retain(|h| !hidden.contains(&h.0));
    }
    Ok(lexical_indices)
}

pub(super) fn diagnostics(set: &WorkingSet, o: &mut Outcome) {
    if set.not_fitted > 0 {
        o.diagnostics.push(Diagnostic::warning(
            "budget.exhausted",
            format!(
                "{} activated item(s) did not fit the budget of {} tokens",
                set.not_fitted, set.budget_limit
            ),
        ));
    }
    if set.withheld_count > 0 {
        let rules: Vec<String> = set
            .withheld
            .iter()
            .map(|(r, n)| format!("{r} ({n})"))
            .collect();
        o.diagnostics.push(Diagnostic::info(
            "policy.withheld",
            format!(
                "{} node(s) withheld by policy: {}",
                set.withheld_count,
                rules.join(", ")
            ),
        ));
    }
}

/// A hint for every explicit seed (cue node or hint) missing from the result.
/// The message is the same whether the node does not exist, is withheld or did
/// not fit, so it reveals nothing about nodes the actor may not see.
fn seed_hints(cue: &CueRequest, set: &WorkingSet, o: &mut Outcome) {
    let returned: std::collections::BTreeSet<&str> =
        set.items.iter().map(|i| i.node.as_str()).collect();
    let seeds = cue
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("cue.nodes[{i}]"), n))
        .chain(
            cue.hints
                .iter()
                .enumerate()
                .map(|(i, h)| (format!("cue.hints[{i}].node"), &h.node)),
        );
    for (path, id) in seeds {
        // The id is not echoed: the path names the seed.
        if !returned.contains(id.as_str()) {
            o.diagnostics.push(
                Diagnostic::info(
                    "node.not_found",
                    "this seed node is not in the result: there is no such node, it is not visible to you, or it did not fit the budget",
                )
                .at(path),
            );
        }
    }
}

/// Access events for returned items when the profile records accesses.
pub(super) fn access_events(
    rt: &Runtime,
    set: &WorkingSet,
    ctx: &CallContext,
    now: Time,
    o: &mut Outcome,
) -> Result<(), Outcome> {
    if !rt.profile.activation.record_access || set.items.is_empty() {
        return Ok(());
    }
    let seq = rt.store.event_head()? + 1;
    o.change.events.push(support::new_event(
        seq,
        now,
        ctx,
        "node.accessed",
        set.items.iter().map(|i| i.node.clone()).collect(),
        json!({"via": "activation"}),
    ));
    Ok(())
}

/// `activation.run`.
pub(crate) fn run(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: ActivationRequest = parse(req)?;
    let a = run_activation(rt, "activation.run", r.fields(), ctx, now)?;
    let mut o = Outcome::ok_with(&Activation::of(&a.set, r.explain));
    diagnostics(&a.set, &mut o);
    o.diagnostics.extend(a.semantic_note.clone());
    seed_hints(&r.cue, &a.set, &mut o);
    o.subjects = a.set.items.iter().map(|i| i.node.clone()).collect();
    o.details = json!({"items": a.set.items.len(), "withheld": a.set.withheld_count, "budget_used": a.set.budget_used});
    access_events(rt, &a.set, ctx, now, &mut o)?;
    Ok(o)
}
