//! Seeded synthetic scenarios: a small deterministic random generator and the
//! `scale` family's graph (Zipf vocabulary, ~2.5 edges and 1 access per node, a few
//! secret and out-of-scope nodes) with cues whose target node is known.

use phase_memory_model::{Actor, Time};
use serde_json::{Value, json};

use crate::scenario::{CueCase, CueSpec, GenerateSpec};

/// SplitMix64: small, fast, deterministic across platforms.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Shuffles in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ren", "sto", "va", "quel", "dor", "pin", "tek", "su", "bra", "fen", "gol",
    "hu", "jax", "ni", "pra", "ol", "zet", "cam", "wi", "yor", "ex",
];

/// The `i`-th word of the synthetic vocabulary (distinct for `i < 24³`).
pub fn word(i: usize) -> String {
    let n = SYLLABLES.len();
    let mut w = String::new();
    w.push_str(SYLLABLES[i % n]);
    w.push_str(SYLLABLES[(i / n) % n]);
    if i >= n * n {
        w.push_str(SYLLABLES[(i / (n * n)) % n]);
    } else {
        w.push_str("ta");
    }
    w
}

/// A Zipf(s) sampler over ranks `0..n` (rank 0 the most frequent).
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// Weights `1/(r+1)^s`.
    pub fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let mut cdf = Vec::with_capacity(n);
        for r in 0..n.max(1) {
            acc += 1.0 / ((r + 1) as f64).powf(s);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }
    /// One rank.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }
}

const KINDS: [&str; 6] = ["fact", "note", "episode", "document", "decision", "task"];
const EDGE_TYPES: [&str; 5] = [
    "relates_to",
    "part_of",
    "mentions",
    "follows",
    "derived_from",
];
const DAY_S: i64 = 86_400;

/// A generated scenario's records and cues.
#[derive(Clone, Debug)]
pub struct Generated {
    /// Interchange records (nodes, edges, events).
    pub records: Vec<Value>,
    /// Cues.
    pub cues: Vec<CueCase>,
}

/// The `scale` graph: `spec.nodes` nodes over a Zipf vocabulary, ~2.5 edges per
/// node to earlier nodes, one access event per node on average; 3 % of the nodes
/// are `secret` and 5 % live in scope `team-b`. Each cue takes three of a target
/// node's rarest words; half the cues come from a `member` limited to scope
/// `default`, which must never see the secret or `team-b` nodes (they are `forbid`).
pub fn scale(spec: &GenerateSpec, as_of: Time) -> Generated {
    let mut rng = Rng::new(spec.seed);
    let vocab = 4000usize;
    let zipf = Zipf::new(vocab, 1.07);
    let n = spec.nodes.max(1);
    let mut records = Vec::with_capacity(n * 5);
    let mut bodies: Vec<Vec<usize>> = Vec::with_capacity(n);
    let mut hidden = Vec::new();
    let mut visible = Vec::new();
    for i in 0..n {
        let words: Vec<usize> = (0..12 + rng.below(30))
            .map(|_| zipf.sample(&mut rng))
            .collect();
        let title: Vec<String> = words.iter().take(3).map(|w| word(*w)).collect();
        let body: Vec<String> = words.iter().skip(3).map(|w| word(*w)).collect();
        let id = format!("n{i:05}");
        let secret = rng.chance(0.03);
        let team_b = !secret && rng.chance(0.05);
        let created = as_of.plus_seconds(-(DAY_S + rng.below(365) as i64 * DAY_S));
        records.push(json!({
            "record": "node", "id": id, "kind": KINDS[rng.below(KINDS.len())],
            "title": title.join(" "), "body": format!("{}.", body.join(" ")),
            "scope": if team_b { "team-b" } else { "default" },
            "sensitivity": if secret { "secret" } else { "internal" },
            "created_at": created,
        }));
        if secret || team_b {
            hidden.push(id);
        } else {
            visible.push(i);
        }
        bodies.push(words);
    }
    for i in 1..n {
        let edges = 2 + usize::from(rng.chance(0.5));
        for _ in 0..edges {
            let j = if rng.chance(0.5) {
                i.saturating_sub(1 + rng.below(20))
            } else {
                rng.below(i)
            };
            if j == i {
                continue;
            }
            records.push(json!({
                "record": "edge", "from": format!("n{i:05}"), "to": format!("n{j:05}"),
                "type": EDGE_TYPES[rng.below(EDGE_TYPES.len())],
            }));
        }
    }
    for _ in 0..n {
        let i = rng.below(n);
        let at = as_of.plus_seconds(-(rng.below(90 * DAY_S as usize) as i64) - 60);
        records.push(json!({
            "record": "event", "event": "node.accessed", "at": at, "actor": "owner",
            "subjects": [format!("n{i:05}")],
        }));
    }
    let member = Actor {
        id: "member".into(),
        roles: vec!["member".into()],
        scopes: vec!["default".into()],
    };
    let count = spec.cues.unwrap_or(24);
    let budgets = [200u64, 500, 1000];
    let mut cues = Vec::with_capacity(count);
    for c in 0..count {
        let target = visible[rng
            .below(visible.len().max(1))
            .min(visible.len().saturating_sub(1))];
        let mut words = bodies[target].clone();
        words.sort_unstable_by(|a, b| b.cmp(a));
        words.dedup();
        let text: Vec<String> = words.iter().take(3).map(|w| word(*w)).collect();
        let as_member = c % 2 == 1;
        cues.push(CueCase {
            id: format!("scale-{c:02}"),
            cue: CueSpec {
                text: Some(text.join(" ")),
                ..CueSpec::default()
            },
            actor: as_member.then(|| member.clone()),
            budget_tokens: Some(budgets[c % budgets.len()]),
            limit: Some(10),
            as_of: None,
            expect: vec![format!("n{target:05}")],
            forbid: if as_member {
                hidden.clone()
            } else {
                Vec::new()
            },
            note: None,
        });
    }
    Generated { records, cues }
}
