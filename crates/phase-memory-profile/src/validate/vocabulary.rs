//! The profile's declared names: sensitivity levels, tokenizer, phases, node kinds
//! and edge types. Later sections check their references against [`Declared`].

use std::collections::BTreeSet;

use phase_memory_model::validate_id;

use super::Ctx;
use crate::types::*;

/// Names the profile declares, for the sections that refer to them.
pub(super) struct Declared<'a> {
    pub levels: BTreeSet<&'a str>,
    pub phases: BTreeSet<&'a str>,
    pub purge_phases: BTreeSet<&'a str>,
}

impl<'a> Declared<'a> {
    pub fn of(p: &'a Profile) -> Self {
        Declared {
            levels: p.sensitivity.levels.iter().map(|s| s.as_str()).collect(),
            phases: p.phases.iter().map(|s| s.name.as_str()).collect(),
            purge_phases: p
                .phases
                .iter()
                .filter(|ph| ph.purge)
                .map(|ph| ph.name.as_str())
                .collect(),
        }
    }
}

pub(super) fn check_sensitivity(cx: &mut Ctx<'_>, p: &Profile, d: &Declared<'_>) {
    let levels = &d.levels;
    if p.sensitivity.levels.is_empty() {
        cx.bad(
            "sensitivity.levels",
            "declare at least one sensitivity level",
        );
    }
    if levels.len() != p.sensitivity.levels.len() {
        cx.bad("sensitivity.levels", "sensitivity levels must be unique");
    }
    for l in &p.sensitivity.levels {
        if let Err(e) = validate_id(l) {
            cx.bad("sensitivity.levels", format!("bad level name {l:?}: {e}"));
        }
    }
    if !levels.contains(p.sensitivity.default.as_str()) {
        cx.bad(
            "sensitivity.default",
            format!(
                "default level {:?} is not one of the declared levels",
                p.sensitivity.default
            ),
        );
    }
}

pub(super) fn check_tokenizer(cx: &mut Ctx<'_>, p: &Profile) {
    if !["o200k_base", "cl100k_base", "chars4"].contains(&p.tokenizer.encoding.as_str()) {
        cx.bad(
            "tokenizer.encoding",
            format!(
                "unknown tokenizer {:?} (want o200k_base, cl100k_base or chars4)",
                p.tokenizer.encoding
            ),
        );
    }
}

pub(super) fn check_phases(cx: &mut Ctx<'_>, p: &Profile) {
    if p.phases.is_empty() {
        cx.bad("phases", "declare at least one phase");
    }
    let mut seen_phases = BTreeSet::new();
    for (i, ph) in p.phases.iter().enumerate() {
        if !seen_phases.insert(ph.name.as_str()) {
            cx.bad(
                format!("phases[{i}].name"),
                format!("duplicate phase {:?}: phase names must be unique", ph.name),
            );
        }
    }
    for (i, ph) in p.phases.iter().enumerate() {
        if ph.name.trim().is_empty() {
            cx.bad(format!("phases[{i}].name"), "a phase needs a name");
        } else if let Err(e) = validate_id(&ph.name) {
            cx.bad(format!("phases[{i}].name"), format!("bad phase name: {e}"));
        }
        if ph.purge && p.phases.iter().position(|q| q.purge) != Some(i) {
            cx.bad(
                format!("phases[{i}].purge"),
                "declare at most one purging phase (a phase named `forgotten` purges)",
            );
        }
        if !(0.0..=1.0).contains(&ph.activation_weight) {
            cx.bad(
                format!("phases[{i}].activation_weight"),
                format!(
                    "activation_weight {} is outside [0, 1]",
                    ph.activation_weight
                ),
            );
        }
        if ph.purge && ph.activation_weight > 0.0 {
            cx.bad(
                format!("phases[{i}].activation_weight"),
                "a purging phase must have activation_weight 0",
            );
        }
    }
}

pub(super) fn check_kinds(cx: &mut Ctx<'_>, p: &Profile, d: &Declared<'_>) {
    let (levels, phases, purge_phases) = (&d.levels, &d.phases, &d.purge_phases);
    if p.kinds.is_empty() {
        cx.bad("kinds", "declare at least one node kind");
    }
    for (k, spec) in &p.kinds {
        if let Err(e) = validate_id(k) {
            cx.bad(format!("kinds.{k}"), format!("bad kind name: {e}"));
        }
        if !phases.contains(spec.initial_phase.as_str()) {
            cx.bad(
                format!("kinds.{k}.initial_phase"),
                format!("unknown phase {:?}", spec.initial_phase),
            );
        } else if purge_phases.contains(spec.initial_phase.as_str()) {
            cx.bad(
                format!("kinds.{k}.initial_phase"),
                format!(
                    "initial phase {:?} purges content: new nodes would be erased on arrival",
                    spec.initial_phase
                ),
            );
        }
        if let Some(s) = &spec.default_sensitivity
            && !levels.contains(s.as_str())
        {
            cx.bad(
                format!("kinds.{k}.default_sensitivity"),
                format!("unknown sensitivity level {s:?}"),
            );
        }
    }
}

pub(super) fn check_edge_types(cx: &mut Ctx<'_>, p: &Profile) {
    for (t, spec) in &p.edge_types {
        if let Err(e) = validate_id(t) {
            cx.bad(
                format!("edge_types.{t}"),
                format!("bad edge type name: {e}"),
            );
        }
        if !(spec.weight.is_finite() && spec.weight >= 0.0) {
            cx.bad(
                format!("edge_types.{t}.weight"),
                format!("edge weight {} must be a finite number >= 0", spec.weight),
            );
        }
    }
}
