//! Policy rules, admission rules and the operation patterns they name.

use std::collections::BTreeSet;

use super::Ctx;
use super::vocabulary::Declared;
use crate::types::*;

/// Policy and admission rules share one id space.
pub(super) fn check_policy(cx: &mut Ctx<'_>, p: &Profile, d: &Declared<'_>) {
    let mut ids = BTreeSet::new();
    check_rules(cx, p, d, &mut ids);
    check_admission(cx, p, &mut ids);
}

fn check_rules<'a>(
    cx: &mut Ctx<'_>,
    p: &'a Profile,
    d: &Declared<'_>,
    ids: &mut BTreeSet<&'a str>,
) {
    let (levels, phases) = (&d.levels, &d.phases);
    for (i, r) in p.policy.rules.iter().enumerate() {
        if r.id.trim().is_empty() {
            cx.bad(format!("policy.rules[{i}].id"), "a policy rule needs an id");
        } else if !ids.insert(r.id.as_str()) {
            cx.bad(
                format!("policy.rules[{i}].id"),
                format!("duplicate rule id {:?}", r.id),
            );
        }
        for k in &r.kinds {
            if !p.kinds.contains_key(k) {
                cx.bad(
                    format!("policy.rules[{i}].kinds"),
                    format!("unknown kind {k:?}"),
                );
            }
        }
        for (field, list) in [("phases", &r.phases), ("target_phase", &r.target_phase)] {
            for ph in list {
                if !phases.contains(ph.as_str()) {
                    cx.bad(
                        format!("policy.rules[{i}].{field}"),
                        format!("unknown phase {ph:?}"),
                    );
                }
            }
        }
        for op in &r.operations {
            if let Err(why) = check_operation_pattern(op) {
                cx.bad(format!("policy.rules[{i}].operations"), why);
            }
        }
        if let Some(role) = r.roles_any.iter().find(|x| r.roles_none.contains(x)) {
            cx.bad(
                format!("policy.rules[{i}].roles_none"),
                format!(
                    "role {role:?} is in both roles_any and roles_none: the rule can never match"
                ),
            );
        }
        for (field, list) in [
            ("roles_any", &r.roles_any),
            ("roles_none", &r.roles_none),
            ("scopes", &r.scopes),
            ("labels", &r.labels),
        ] {
            if list.iter().any(|x| x.trim().is_empty()) {
                cx.bad(
                    format!("policy.rules[{i}].{field}"),
                    "entries must not be empty",
                );
            }
        }
        for s in &r.sensitivity {
            if !levels.contains(s.as_str()) {
                cx.bad(
                    format!("policy.rules[{i}].sensitivity"),
                    format!("unknown sensitivity level {s:?}"),
                );
            }
        }
    }
}

fn check_admission<'a>(cx: &mut Ctx<'_>, p: &'a Profile, ids: &mut BTreeSet<&'a str>) {
    for (i, r) in p.policy.admission.iter().enumerate() {
        if r.id.trim().is_empty() {
            cx.bad(
                format!("policy.admission[{i}].id"),
                "an admission rule needs an id",
            );
        } else if !ids.insert(r.id.as_str()) {
            cx.bad(
                format!("policy.admission[{i}].id"),
                format!("duplicate rule id {:?}", r.id),
            );
        }
        if r.effect == Effect::Allow {
            cx.bad(
                format!("policy.admission[{i}].effect"),
                "an admission rule's effect must be deny or review",
            );
        }
        match (&r.builtin, &r.pattern) {
            (Some(_), Some(_)) | (None, None) => cx.bad(format!("policy.admission[{i}]"), "give exactly one of `builtin` or `pattern`"),
            (Some(b), None) if !BUILTIN_PATTERNS.iter().any(|(n, _)| n == b) => cx.bad(
                format!("policy.admission[{i}].builtin"),
                format!("unknown built-in pattern {b:?} (want api_key, private_key, email or card_number)"),
            ),
            (None, Some(re)) => match regex::Regex::new(re) {
                Err(e) => cx.bad(format!("policy.admission[{i}].pattern"), format!("invalid regular expression: {e}")),
                Ok(compiled) if compiled.is_match("") => cx.bad(
                    format!("policy.admission[{i}].pattern"),
                    "the pattern matches empty text, so it would fire on every write",
                ),
                Ok(_) => {}
            },
            _ => {}
        }
        if r.fields.is_empty() {
            cx.bad(
                format!("policy.admission[{i}].fields"),
                "an admission rule must check at least one field (title, body or attrs)",
            );
        }
        for f in &r.fields {
            if !["title", "body", "attrs"].contains(&f.as_str()) {
                cx.bad(
                    format!("policy.admission[{i}].fields"),
                    format!("unknown field {f:?} (want title, body or attrs)"),
                );
            }
        }
    }
}
/// Operation families of the service (SPEC section 3). A policy rule's operation
/// pattern must be `*`, `family.*` or `family.name` with one of these families, so a
/// misspelt family cannot silently disable a rule.
pub const OPERATION_FAMILIES: &[&str] = &[
    "activation",
    "audit",
    "edge",
    "eval",
    "event",
    "graph",
    "health",
    "lifecycle",
    "node",
    "package",
    "profile",
    "review",
    "store",
];

fn check_operation_pattern(op: &str) -> Result<(), String> {
    if op == "*" {
        return Ok(());
    }
    let Some((family, name)) = op.split_once('.') else {
        return Err(format!(
            "operation {op:?} must be `*`, `family.*` or `family.name` (e.g. audit.query)"
        ));
    };
    if !OPERATION_FAMILIES.contains(&family) {
        return Err(format!(
            "operation {op:?} names an unknown family {family:?} (want one of {})",
            OPERATION_FAMILIES.join(", ")
        ));
    }
    if name.is_empty() || (name != "*" && !name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    {
        return Err(format!(
            "operation {op:?}: the name after the family must be `*` or lowercase letters and `_`"
        ));
    }
    Ok(())
}

/// Built-in admission patterns: (name, regular expression).
pub const BUILTIN_PATTERNS: &[(&str, &str)] = &[
    (
        "api_key",
        r"(?i)\b(?:sk|pk|rk)[-_](?:live|test|proj)?[-_]?[A-Za-z0-9]{16,}\b|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bxox[abpr]-[A-Za-z0-9-]{10,}\b|(?i)\b(?:api[_-]?key|secret|token)\s*[:=]\s*['\x22]?[A-Za-z0-9_\-]{20,}",
    ),
    (
        "private_key",
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY( BLOCK)?-----",
    ),
    (
        "email",
        r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b",
    ),
    ("card_number", r"\b(?:\d[ -]?){13,19}\b"),
];
