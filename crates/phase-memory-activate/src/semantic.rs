//! Semantic seeds: the weighted value of each semantic-index hit of the cue.
//!
//! A hit's cosine `c` becomes `semantic_weight · (c − floor) / (top − floor)`,
//! where `top` is the best hit's cosine and `floor` the profile's
//! `semantic_floor`: the best hit gets the full weight (as the best BM25 hit gets
//! `lexical_weight`), hits at or below the floor none. Cosines are rounded to six
//! decimals first, so a last-bit difference in a vector never reorders seeds.

use phase_memory_model::round_score;
use phase_memory_profile::ActivationSpec;

/// `(position in hits, weighted value)` of every hit that seeds, in hit order.
pub fn seed_values(params: &ActivationSpec, hits: &[(String, f32)]) -> Vec<(usize, f64)> {
    let w = params.semantic_weight;
    if !(w.is_finite() && w > 0.0) || hits.is_empty() {
        return Vec::new();
    }
    let floor = if params.semantic_floor.is_finite() {
        params.semantic_floor
    } else {
        0.0
    };
    let cos = |c: f32| round_score(f64::from(c));
    let top = hits
        .iter()
        .map(|h| cos(h.1))
        .filter(|c| c.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if top.is_nan() || top <= floor {
        return Vec::new();
    }
    hits.iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let c = cos(h.1);
            (c.is_finite() && c > floor).then(|| (i, w * (c - floor) / (top - floor)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(weight: f64, floor: f64) -> ActivationSpec {
        ActivationSpec {
            semantic_weight: weight,
            semantic_floor: floor,
            ..ActivationSpec::default()
        }
    }

    #[test]
    fn the_best_hit_gets_the_weight_and_the_floor_cuts() {
        let hits = vec![
            ("a".to_string(), 0.8f32),
            ("b".to_string(), 0.5),
            ("c".to_string(), 0.2),
        ];
        let v = seed_values(&spec(2.0, 0.2), &hits);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!((v[0].1 - 2.0).abs() < 1e-9);
        assert!((v[1].1 - 1.0).abs() < 1e-6, "{v:?}");
        assert!(
            seed_values(&spec(0.0, 0.2), &hits).is_empty(),
            "weight 0 is off"
        );
        assert!(
            seed_values(&spec(1.0, 0.9), &hits).is_empty(),
            "all below the floor"
        );
    }

    proptest! {
        #[test]
        fn values_are_bounded_by_the_weight_and_follow_the_cosine(
            cos in proptest::collection::vec(-1.0f32..1.0, 0..30),
            w in 0.0f64..4.0,
            floor in -0.5f64..0.9,
        ) {
            let hits: Vec<(String, f32)> = cos.iter().enumerate().map(|(i, c)| (format!("n{i}"), *c)).collect();
            let v = seed_values(&spec(w, floor), &hits);
            for &(i, x) in &v {
                prop_assert!(x > 0.0 && x <= w + 1e-12, "{x} outside (0, {w}]");
                for &(j, y) in &v {
                    if round_score(f64::from(cos[i])) > round_score(f64::from(cos[j])) {
                        prop_assert!(x > y);
                    }
                }
            }
        }
    }
}
