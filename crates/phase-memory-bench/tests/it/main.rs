//! The generator is deterministic and writes valid interchange records.

use std::collections::HashSet;

use phase_memory_bench::{GeneratorConfig, Rng, Vocabulary, node_id, write_interchange};
use phase_memory_model::{ImportRecord, parse_record};

fn generate(cfg: &GeneratorConfig) -> (String, phase_memory_bench::GenerationSummary) {
    let mut out = Vec::new();
    let summary = write_interchange(cfg, &mut out).expect("writing to a Vec cannot fail");
    (
        String::from_utf8(out).expect("generated text is UTF-8"),
        summary,
    )
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = GeneratorConfig::new(300, 7);
    let (a, sa) = generate(&cfg);
    let (b, sb) = generate(&cfg);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    let (c, _) = generate(&GeneratorConfig::new(300, 8));
    assert_ne!(a, c);
}

#[test]
fn records_parse_and_reference_existing_nodes() {
    let cfg = GeneratorConfig::new(500, 2026);
    let (text, summary) = generate(&cfg);
    assert_eq!(summary.bytes, text.len() as u64);
    let profile = phase_memory_profile::Profile::builtin();
    let mut ids = HashSet::new();
    let (mut nodes, mut edges, mut events) = (0u64, 0u64, 0u64);
    let mut edge_keys = HashSet::new();
    let mut last_at = None;
    for (i, line) in text.lines().enumerate() {
        let record = parse_record(line, i + 1).unwrap_or_else(|e| panic!("{e}: {line}"));
        match record {
            ImportRecord::Node(n) => {
                assert!(profile.kinds.contains_key(&n.kind), "kind {}", n.kind);
                let words = n.body.as_deref().unwrap_or("").split_whitespace().count();
                assert!((30..=60).contains(&words), "body of {words} words");
                let words = n.title.as_deref().unwrap_or("").split_whitespace().count();
                assert!((3..=6).contains(&words), "title of {words} words");
                assert!(ids.insert(n.id));
                nodes += 1;
            }
            ImportRecord::Edge(e) => {
                assert_eq!(edges + nodes, i as u64, "edges follow the nodes");
                assert!(profile.edge_types.contains_key(&e.edge_type));
                assert!(ids.contains(&e.from) && ids.contains(&e.to));
                assert_ne!(e.from, e.to);
                assert!(
                    edge_keys.insert((e.from, e.to, e.edge_type)),
                    "duplicate edge"
                );
                edges += 1;
            }
            ImportRecord::Event(e) => {
                assert!(e.event == "node.accessed" || e.event == "observation");
                assert!(e.at <= cfg.as_of);
                assert!(last_at.is_none_or(|t| t <= e.at), "events are time-ordered");
                last_at = Some(e.at);
                for s in e.subjects.unwrap_or_default() {
                    assert!(ids.contains(&s));
                }
                events += 1;
            }
        }
    }
    assert_eq!(
        (nodes, edges, events),
        (summary.nodes, summary.edges, summary.events)
    );
    assert_eq!(nodes, 500);
    assert_eq!(edges, 2500);
    assert_eq!(events, 5000);
    assert!(ids.contains(&node_id(499)));
}

#[test]
fn tiny_graphs_do_not_loop_or_fail() {
    for n in 0..4 {
        let (text, s) = generate(&GeneratorConfig::new(n, 1));
        assert_eq!(s.nodes, n);
        assert_eq!(text.lines().count() as u64, s.nodes + s.edges + s.events);
    }
}

#[test]
fn vocabulary_is_distinct_and_zipf_skewed() {
    let v = Vocabulary::new(4000, 1.0);
    assert_eq!(v.len(), 4000);
    let distinct: HashSet<&str> = (0..v.len()).map(|r| v.word(r)).collect();
    assert_eq!(distinct.len(), 4000);
    let mut rng = Rng::new(3);
    let top = (0..10_000).filter(|_| v.sample_rank(&mut rng) < 10).count();
    // Ranks 1-10 carry about a third of the mass under Zipf(1) over 4000 words.
    assert!((2500..4000).contains(&top), "{top}");
}
