//! Pseudo-relevance feedback: the second search reaches a document that shares the
//! feedback documents' vocabulary but none of the cue's words, stays in scope and
//! is deterministic.

use std::collections::BTreeMap;

use phase_memory_index::{Feedback, Search};
use phase_memory_model::Node;

use super::{node, ram};

fn docs() -> Vec<Node> {
    let mut v = vec![
        node(
            "a1",
            "",
            "we went hiking on the mountain trail near the lake",
        ),
        node("a2", "", "the hiking trail was steep, the lake cold"),
        node(
            "b1",
            "",
            "the mountain trail by the lake was muddy after rain",
        ),
        node("c1", "", "my cat sleeps all day on the sofa"),
        node("c2", "", "the sofa is new and the cat loves it"),
    ];
    let mut other = node("x1", "", "hiking trail lake mountain");
    other.scope = "other".into();
    v.push(other);
    v
}

const FB: Feedback = Feedback {
    docs: 2,
    terms: 4,
    original_weight: 0.5,
};

fn texts(nodes: &[Node]) -> BTreeMap<String, String> {
    nodes
        .iter()
        .map(|n| (n.id.clone(), format!("{} {}", n.title, n.body)))
        .collect()
}

#[test]
fn feedback_finds_a_document_without_the_cue_words_and_stays_in_scope() {
    let nodes = docs();
    let idx = ram(&nodes);
    let texts = texts(&nodes);
    let scopes = vec!["default".to_string()];
    let mut s = Search::new("hiking", 10);
    s.scopes = Some(&scopes);
    let plain: Vec<String> = idx
        .search_with(&s)
        .expect("search")
        .into_iter()
        .map(|h| h.0)
        .collect();
    assert_eq!(plain, ["a2", "a1"]);
    let text_of = |id: &str| texts.get(id).cloned();
    let hits = idx
        .search_with_feedback(&s, &FB, &text_of)
        .expect("feedback");
    let ids: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
    assert!(ids.contains(&"b1"), "{hits:?}");
    assert!(!ids.contains(&"x1") && !ids.contains(&"c1"), "{hits:?}");
    // The documents with the cue's word stay on top.
    let mut top = ids[..2].to_vec();
    top.sort_unstable();
    assert_eq!(top, ["a1", "a2"], "{hits:?}");
    // Deterministic, and off when inactive or when no text is given.
    assert_eq!(
        hits,
        idx.search_with_feedback(&s, &FB, &text_of).expect("again")
    );
    let off = Feedback { docs: 0, ..FB };
    let none = |_: &str| None;
    for (fb, text) in [
        (off, &text_of as &dyn Fn(&str) -> Option<String>),
        (FB, &none),
    ] {
        let h: Vec<String> = idx
            .search_with_feedback(&s, &fb, text)
            .expect("search")
            .into_iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(h, plain);
    }
}
