//! Lifecycle rules and their conditions.

use std::collections::BTreeSet;

use super::Ctx;
use super::vocabulary::Declared;
use crate::types::*;

pub(super) fn check_lifecycle(cx: &mut Ctx<'_>, p: &Profile, d: &Declared<'_>) {
    let (phases, purge_phases) = (&d.phases, &d.purge_phases);
    let mut ids = BTreeSet::new();
    for (i, r) in p.lifecycle.iter().enumerate() {
        if r.id.trim().is_empty() {
            cx.bad(format!("lifecycle[{i}].id"), "a lifecycle rule needs an id");
        } else if !ids.insert(r.id.as_str()) {
            cx.bad(
                format!("lifecycle[{i}].id"),
                format!("duplicate rule id {:?}", r.id),
            );
        }
        if !phases.contains(r.to.as_str()) {
            cx.bad(
                format!("lifecycle[{i}].to"),
                format!("unknown phase {:?}", r.to),
            );
        }
        for f in &r.from {
            if !phases.contains(f.as_str()) {
                cx.bad(
                    format!("lifecycle[{i}].from"),
                    format!("unknown phase {f:?}"),
                );
            } else if purge_phases.contains(f.as_str()) {
                cx.bad(
                    format!("lifecycle[{i}].from"),
                    format!("phase {f:?} purges content: a forgotten node never changes phase"),
                );
            }
        }
        if !r.from.is_empty() && r.from.iter().all(|f| f == &r.to) {
            cx.bad(
                format!("lifecycle[{i}].to"),
                format!(
                    "the rule moves nodes from {:?} to itself and can never change anything",
                    r.to
                ),
            );
        }
        check_conditions(cx, &format!("lifecycle[{i}].when"), &r.when);
        for k in &r.kinds {
            if !p.kinds.contains_key(k) {
                cx.bad(
                    format!("lifecycle[{i}].kinds"),
                    format!("unknown kind {k:?}"),
                );
            }
        }
        if let Some(e) = &r.when.has_edge
            && !p.edge_types.contains_key(&e.edge_type)
        {
            cx.bad(
                format!("lifecycle[{i}].when.has_edge.type"),
                format!("unknown edge type {:?}", e.edge_type),
            );
        }
        if r.when == Conditions::default() {
            cx.bad(
                format!("lifecycle[{i}].when"),
                "a lifecycle rule needs at least one condition",
            );
        }
    }
}

fn check_conditions(cx: &mut Ctx<'_>, at: &str, w: &Conditions) {
    for (name, v) in [
        ("age_days_gt", w.age_days_gt),
        ("idle_days_gt", w.idle_days_gt),
    ] {
        if let Some(v) = v
            && !(v.is_finite() && v >= 0.0)
        {
            cx.bad(
                format!("{at}.{name}"),
                format!("{name} {v} must be a finite number of days >= 0"),
            );
        }
    }
    if let Some(v) = w.base_level_lt
        && !v.is_finite()
    {
        cx.bad(
            format!("{at}.base_level_lt"),
            "base_level_lt must be a finite number",
        );
    }
    if let (Some(gte), Some(lt)) = (w.access_count_gte, w.access_count_lt)
        && gte >= lt
    {
        cx.bad(
            format!("{at}.access_count_lt"),
            format!("access_count_gte {gte} and access_count_lt {lt} can never both hold"),
        );
    }
    for (name, v) in [("event_seen", &w.event_seen), ("label", &w.label)] {
        if v.as_ref().is_some_and(|s| s.trim().is_empty()) {
            cx.bad(format!("{at}.{name}"), format!("{name} must not be empty"));
        }
    }
}
