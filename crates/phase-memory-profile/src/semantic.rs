//! Validation of the semantic-index settings of `[activation]`.

use crate::ActivationSpec;

/// `(field, message)` for every semantic setting out of range.
pub(crate) fn problems(a: &ActivationSpec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !(a.semantic_weight.is_finite() && a.semantic_weight >= 0.0) {
        out.push((
            "activation.semantic_weight".to_string(),
            format!(
                "semantic_weight {} must be a finite number >= 0",
                a.semantic_weight
            ),
        ));
    }
    if !(a.semantic_floor.is_finite() && (-1.0..1.0).contains(&a.semantic_floor)) {
        out.push((
            "activation.semantic_floor".to_string(),
            format!(
                "semantic_floor {} is outside [-1, 1) (it is a cosine)",
                a.semantic_floor
            ),
        ));
    }
    if a.semantic_seeds > 1000 {
        out.push((
            "activation.semantic_seeds".to_string(),
            format!(
                "semantic_seeds {} is above the limit of 1000",
                a.semantic_seeds
            ),
        ));
    }
    if a.semantic_weight > 0.0 && a.semantic_seeds == 0 {
        out.push((
            "activation.semantic_seeds".to_string(),
            "semantic_seeds must be at least 1 when semantic_weight is above 0".to_string(),
        ));
    }
    if a.semantic_max_nodes > 1_000_000 {
        out.push((
            "activation.semantic_max_nodes".to_string(),
            format!(
                "semantic_max_nodes {} is above the limit of 1000000",
                a.semantic_max_nodes
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_each_bad_value_is_named() {
        assert!(problems(&ActivationSpec::default()).is_empty());
        let bad = ActivationSpec {
            semantic_weight: f64::NAN,
            semantic_floor: 1.0,
            semantic_seeds: 5000,
            semantic_max_nodes: 2_000_000,
            ..ActivationSpec::default()
        };
        let fields: Vec<String> = problems(&bad).into_iter().map(|p| p.0).collect();
        assert_eq!(
            fields,
            [
                "activation.semantic_weight",
                "activation.semantic_floor",
                "activation.semantic_seeds",
                "activation.semantic_max_nodes"
            ]
        );
        let zero = ActivationSpec {
            semantic_weight: 1.0,
            semantic_seeds: 0,
            ..ActivationSpec::default()
        };
        assert_eq!(problems(&zero).len(), 1);
    }
}
