//! The `[activation]` section: ranges of the spreading-activation parameters.

use super::Ctx;
use crate::types::*;

pub(super) fn check_activation(cx: &mut Ctx<'_>, p: &Profile) {
    let a = &p.activation;
    let unit = |x: f64| (0.0..=1.0).contains(&x);
    if !(a.decay > 0.0 && a.decay < 1.0) {
        cx.bad(
            "activation.decay",
            format!("decay {} must be in (0, 1)", a.decay),
        );
    }
    if a.max_hops > 6 {
        cx.bad(
            "activation.max_hops",
            format!("max_hops {} is above the limit of 6", a.max_hops),
        );
    }
    for (name, v) in [
        ("hop_decay", a.hop_decay),
        ("spread_threshold", a.spread_threshold),
        ("redundancy_threshold", a.redundancy_threshold),
        ("redundancy_penalty", a.redundancy_penalty),
        ("feedback_weight", a.feedback_weight),
    ] {
        if !unit(v) {
            cx.bad(
                format!("activation.{name}"),
                format!("{name} {v} is outside [0, 1]"),
            );
        }
    }
    for (name, v) in [
        ("lexical_weight", a.lexical_weight),
        ("hint_weight", a.hint_weight),
        ("event_weight", a.event_weight),
        ("spread_weight", a.spread_weight),
        ("base_level_weight", a.base_level_weight),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            cx.bad(
                format!("activation.{name}"),
                format!("{name} {v} must be a finite number >= 0"),
            );
        }
    }
    if a.event_half_life_hours.is_nan() || a.event_half_life_hours <= 0.0 {
        cx.bad(
            "activation.event_half_life_hours",
            "event_half_life_hours must be > 0",
        );
    }
    for (name, v, max) in [
        ("feedback_docs", a.feedback_docs, 50),
        ("feedback_terms", a.feedback_terms, 64),
    ] {
        if v > max {
            cx.bad(
                format!("activation.{name}"),
                format!("{name} {v} is above the limit of {max}"),
            );
        }
    }
    if a.default_limit == 0 {
        cx.bad(
            "activation.default_limit",
            "default_limit must be at least 1",
        );
    }
}
