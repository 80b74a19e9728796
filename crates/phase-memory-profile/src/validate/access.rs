//! The `[access]` section: roles, the classes they grant, reviewer roles.

use phase_memory_model::validate_id;

use super::Ctx;
use crate::types::*;

pub(super) fn check_access(cx: &mut Ctx<'_>, a: &AccessSpec) {
    for (role, classes) in &a.roles {
        if let Err(e) = validate_id(role) {
            cx.bad(
                format!("access.roles.{role}"),
                format!("bad role name: {e}"),
            );
        }
        if classes.contains(&OperationClass::Public) {
            cx.bad(
                format!("access.roles.{role}"),
                "`public` is every actor's already and cannot be granted",
            );
        }
    }
    // The local owner must never lock itself out by applying a profile.
    let owner = a.roles.get("owner");
    let missing: Vec<&str> = OperationClass::ALL
        .into_iter()
        .filter(|c| *c != OperationClass::Public)
        .filter(|c| owner.is_none_or(|cs| !cs.contains(c)))
        .map(|c| c.as_str())
        .collect();
    if !missing.is_empty() {
        cx.bad(
            "access.roles.owner",
            format!(
                "the owner role must grant every class (missing: {})",
                missing.join(", ")
            ),
        );
    }
    for r in &a.reviewer_roles {
        match a.roles.get(r) {
            None => cx.bad(
                "access.reviewer_roles",
                format!("reviewer role {r:?} is not declared in access.roles"),
            ),
            Some(cs) if !cs.contains(&OperationClass::Govern) => cx.bad(
                "access.reviewer_roles",
                format!("reviewer role {r:?} must grant the govern class"),
            ),
            Some(_) => {}
        }
    }
}
