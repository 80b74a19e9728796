//! The store generator: N nodes with Zipf-distributed text, about
//! `edges_per_node × N` typed edges with locality, and a time-ordered event history
//! (node.accessed and observation), written as interchange JSON Lines (SPEC
//! section 10) — nodes, then edges, then events.
//!
//! Every record is a pure function of `(seed, record number)`, so the output is the
//! same byte for byte on every run and every thread count. Records are produced in
//! chunks in parallel and streamed to the writer in order; memory stays bounded by
//! a window of chunks whatever N is.
//!
//! Shape of the graph: nodes live in clusters of [`CLUSTER`] consecutive ids that
//! share a few topic words. `part_of` points to the cluster's first node, `follows`
//! to the previous node, `supersedes` and `derived_from` to a recent earlier node,
//! most `relates_to` edges stay within a few hundred ids, and `mentions` plus the
//! rest of `relates_to` reach across the graph with a bias towards old, popular
//! nodes. Node ids grow with creation time; events touch recent nodes more often.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use phase_memory_model::Time;
use rayon::prelude::*;
use serde::Serialize;

use crate::rng::Rng;
use crate::vocabulary::Vocabulary;

/// Nodes per cluster (they share topic words; `part_of` points at its first node).
pub const CLUSTER: u64 = 64;
/// Records per generated chunk.
const CHUNK: u64 = 4096;
/// Chunks generated in parallel before they are written.
const WINDOW: u64 = 64;
const DAY_MS: i64 = 86_400_000;

/// Node kinds of the built-in profile with their share (per mille).
const KINDS: [(&str, u64); 7] = [
    ("fact", 300),
    ("note", 200),
    ("document", 150),
    ("entity", 120),
    ("episode", 100),
    ("task", 80),
    ("decision", 50),
];
const LABELS: [&str; 8] = [
    "project-atlas",
    "project-borealis",
    "ops",
    "research",
    "customer",
    "infra",
    "release",
    "security",
];
const ACTORS: [&str; 5] = ["alice", "bob", "carol", "agent-7", "agent-9"];
const RECORD_NODE: u64 = 1;
const RECORD_EDGE: u64 = 2;
const RECORD_EVENT: u64 = 3;
const CLUSTER_TOPIC: u64 = 4;

/// What to generate.
#[derive(Clone, Debug, Serialize)]
pub struct GeneratorConfig {
    /// Number of nodes.
    pub nodes: u64,
    /// Edges generated from each node (fewer only when the graph is too small to
    /// find that many distinct targets).
    pub edges_per_node: u32,
    /// Number of events.
    pub events: u64,
    /// Seed: the same seed and sizes give the same file.
    pub seed: u64,
    /// The latest instant of the data: nodes are created over the year before it,
    /// events spread over the [`GeneratorConfig::event_days`] days before it.
    pub as_of: Time,
    /// Days the event history spans.
    pub event_days: u32,
    /// Words in the vocabulary.
    pub vocabulary: usize,
    /// Zipf exponent of word ranks.
    pub zipf_exponent: f64,
}

/// 2026-06-01T00:00:00Z, the default `as_of` of generated stores.
pub const DEFAULT_AS_OF: Time = Time(1_780_272_000_000);

impl GeneratorConfig {
    /// The SPEC section 9 shape: `nodes` nodes, 5 edges per node, 10 events per node.
    pub fn new(nodes: u64, seed: u64) -> GeneratorConfig {
        GeneratorConfig {
            nodes,
            edges_per_node: 5,
            events: nodes.saturating_mul(10),
            seed,
            as_of: DEFAULT_AS_OF,
            event_days: 180,
            vocabulary: 4000,
            zipf_exponent: 1.0,
        }
    }

    /// The vocabulary the text is drawn from (cues should use the same).
    pub fn vocabulary(&self) -> Vocabulary {
        Vocabulary::new(self.vocabulary, self.zipf_exponent)
    }
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GenerationSummary {
    /// Node records.
    pub nodes: u64,
    /// Edge records.
    pub edges: u64,
    /// Event records.
    pub events: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// The id of node number `i`.
pub fn node_id(i: u64) -> String {
    format!("n{i:07}")
}

fn push_node_id(out: &mut String, i: u64) {
    let _ = write!(out, "n{i:07}");
}

struct Gen<'a> {
    cfg: &'a GeneratorConfig,
    vocab: Vocabulary,
    /// Start of the node creation year, in ms.
    start: i64,
}

impl Gen<'_> {
    fn created_ms(&self, i: u64) -> i64 {
        let span = 365 * DAY_MS - DAY_MS;
        let n = self.cfg.nodes.max(1) as i128;
        // Whole seconds, growing with the id.
        let offset = (span as i128 * i as i128 / n) as i64;
        self.start + offset / 1000 * 1000
    }

    fn topic_words(&self, cluster: u64) -> [usize; 3] {
        let mut r = Rng::for_item(self.cfg.seed, CLUSTER_TOPIC, cluster);
        // Topic words are mid-ranked: specific enough to pick out a cluster.
        let lo = (self.vocab.len() / 20) as u64;
        let hi = self.vocab.len().saturating_sub(1) as u64;
        [
            r.between(lo, hi) as usize,
            r.between(lo, hi) as usize,
            r.between(lo, hi) as usize,
        ]
    }

    fn words(&self, out: &mut String, r: &mut Rng, n: u64, topic: &[usize; 3], sentences: bool) {
        let mut since_stop = 0;
        for k in 0..n {
            let w = if r.chance(0.12) {
                self.vocab.word(topic[r.below(3) as usize])
            } else {
                self.vocab.sample(r)
            };
            let capital = k == 0 || (sentences && since_stop == 0);
            if k > 0 {
                out.push(' ');
            }
            if capital {
                let mut cs = w.chars();
                if let Some(c) = cs.next() {
                    out.push(c.to_ascii_uppercase());
                    out.push_str(cs.as_str());
                }
            } else {
                out.push_str(w);
            }
            since_stop += 1;
            if sentences && (k + 1 == n || (since_stop >= 8 && r.chance(0.15))) {
                out.push('.');
                since_stop = 0;
            }
        }
    }

    fn node(&self, i: u64, out: &mut String) {
        let mut r = Rng::for_item(self.cfg.seed, RECORD_NODE, i);
        let topic = self.topic_words(i / CLUSTER);
        let mut pick = r.below(1000);
        let mut kind = KINDS[0].0;
        for (k, share) in KINDS {
            if pick < share {
                kind = k;
                break;
            }
            pick -= share;
        }
        out.push_str("{\"record\":\"node\",\"id\":\"");
        push_node_id(out, i);
        out.push_str("\",\"kind\":\"");
        out.push_str(kind);
        out.push_str("\",\"title\":\"");
        let title_words = r.between(3, 6);
        self.words(out, &mut r, title_words, &topic, false);
        out.push_str("\",\"body\":\"");
        let body_words = r.between(30, 60);
        self.words(out, &mut r, body_words, &topic, true);
        out.push_str("\",\"labels\":[");
        let labels = r.below(3);
        let first = r.below(LABELS.len() as u64) as usize;
        for l in 0..labels as usize {
            if l > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"{}\"", LABELS[(first + l) % LABELS.len()]);
        }
        out.push_str("],\"scope\":\"default\"");
        let s = r.below(100);
        let sensitivity = match s {
            0..=1 => Some("secret"),
            2..=7 => Some("confidential"),
            8..=19 => Some("public"),
            _ => None,
        };
        if let Some(s) = sensitivity {
            let _ = write!(out, ",\"sensitivity\":\"{s}\"");
        }
        let p = r.below(100);
        let phase = match p {
            0..=9 => Some("dormant"),
            10..=13 => Some("archived"),
            _ => None,
        };
        if let Some(p) = phase {
            let _ = write!(out, ",\"phase\":\"{p}\"");
        }
        let _ = write!(
            out,
            ",\"attrs\":{{\"cluster\":{}}},\"created_at\":\"{}\"}}",
            i / CLUSTER,
            Time(self.created_ms(i))
        );
        out.push('\n');
    }

    /// A node index in `0..limit` skewed towards small indexes (old, popular nodes).
    fn popular(r: &mut Rng, limit: u64) -> u64 {
        let u = r.unit();
        ((u * u * u) * limit as f64) as u64 % limit.max(1)
    }

    fn edges_of(&self, i: u64, out: &mut String) -> u64 {
        let n = self.cfg.nodes;
        let mut r = Rng::for_item(self.cfg.seed, RECORD_EDGE, i);
        let mut made: Vec<(u64, &str)> = Vec::with_capacity(self.cfg.edges_per_node as usize);
        let mut attempts = 0;
        while made.len() < self.cfg.edges_per_node as usize && attempts < 64 {
            attempts += 1;
            let x = r.below(100);
            let cluster_head = i / CLUSTER * CLUSTER;
            let (to, ty) = match x {
                0..=14 if cluster_head != i => (cluster_head, "part_of"),
                15..=29 if i > 0 => (i - 1, "follows"),
                30..=34 if i > 0 => (i.saturating_sub(r.between(1, 16)), "supersedes"),
                35..=44 if i > 0 => (i.saturating_sub(r.between(1, 256)), "derived_from"),
                45..=69 => {
                    let d = r.between(1, 512);
                    let to = if r.chance(0.5) {
                        i.saturating_sub(d)
                    } else {
                        (i + d).min(n.saturating_sub(1))
                    };
                    (to, "relates_to")
                }
                70..=84 => (Self::popular(&mut r, n), "mentions"),
                _ => (r.below(n), "relates_to"),
            };
            if to == i || to >= n || made.contains(&(to, ty)) {
                continue;
            }
            made.push((to, ty));
            let weight = 50 + r.below(51);
            let created = self.created_ms(i.max(to)) + 3_600_000;
            out.push_str("{\"record\":\"edge\",\"from\":\"");
            push_node_id(out, i);
            out.push_str("\",\"to\":\"");
            push_node_id(out, to);
            let _ = write!(
                out,
                "\",\"type\":\"{ty}\",\"weight\":{},\"created_at\":\"{}\"}}",
                format_weight(weight),
                Time(created)
            );
            out.push('\n');
        }
        made.len() as u64
    }

    fn event(&self, k: u64, out: &mut String) {
        let e = self.cfg.events.max(1) as i128;
        let span = i64::from(self.cfg.event_days) * DAY_MS;
        let ev_start = self.cfg.as_of.millis() - span;
        // Time-ordered like a real log: event k at a fixed share of the span.
        let at = ev_start + ((span as i128 * k as i128 / e) as i64) / 1000 * 1000;
        let mut r = Rng::for_item(self.cfg.seed, RECORD_EVENT, k);
        // Only nodes created by then are touched; recent ones more often.
        let year_start = self.start;
        let frac = ((at - year_start) as f64 / (365 * DAY_MS) as f64).clamp(0.0, 1.0);
        let limit = ((self.cfg.nodes as f64 * frac) as u64).clamp(1, self.cfg.nodes.max(1));
        let subject = if r.chance(0.6) {
            let u = r.unit();
            limit - 1 - (((u * u * u) * limit as f64) as u64).min(limit - 1)
        } else {
            Self::popular(&mut r, limit)
        };
        let actor = ACTORS[r.below(ACTORS.len() as u64) as usize];
        let observation = r.chance(0.2);
        out.push_str("{\"record\":\"event\",\"event\":\"");
        out.push_str(if observation {
            "observation"
        } else {
            "node.accessed"
        });
        let _ = write!(out, "\",\"at\":\"{}\",\"actor\":\"{actor}\"", Time(at));
        out.push_str(",\"subjects\":[\"");
        push_node_id(out, subject);
        out.push('"');
        if observation {
            // An observation names one to three neighbours of the same cluster.
            let extra = r.below(3);
            let head = subject / CLUSTER * CLUSTER;
            for _ in 0..extra {
                let other = (head + r.below(CLUSTER)).min(self.cfg.nodes - 1);
                if other != subject {
                    out.push_str(",\"");
                    push_node_id(out, other);
                    out.push('"');
                }
            }
            out.push_str("],\"payload\":{\"text\":\"");
            let topic = self.topic_words(subject / CLUSTER);
            let words = r.between(3, 8);
            self.words(out, &mut r, words, &topic, false);
            out.push_str("\"}}\n");
        } else {
            out.push_str("],\"payload\":{\"via\":\"search\"}}\n");
        }
    }
}

/// `w / 100` as a short decimal (0.5, 0.73, 1.0).
fn format_weight(w: u64) -> String {
    if w.is_multiple_of(100) {
        format!("{}.0", w / 100)
    } else if w.is_multiple_of(10) {
        format!("{}.{}", w / 100, (w % 100) / 10)
    } else {
        format!("{}.{:02}", w / 100, w % 100)
    }
}

/// Produces `count` items of one family in order, chunk by chunk in parallel,
/// handing each chunk's text to `sink`.
fn stream<W: Write>(
    count: u64,
    w: &mut W,
    make: &(dyn Fn(u64, &mut String) -> u64 + Sync),
) -> io::Result<(u64, u64)> {
    let chunks = count.div_ceil(CHUNK);
    let (mut items, mut bytes) = (0u64, 0u64);
    let mut first = 0;
    while first < chunks {
        let last = (first + WINDOW).min(chunks);
        let texts: Vec<(String, u64)> = (first..last)
            .into_par_iter()
            .map(|c| {
                let mut s = String::with_capacity(CHUNK as usize * 256);
                let mut made = 0;
                for i in c * CHUNK..((c + 1) * CHUNK).min(count) {
                    made += make(i, &mut s);
                }
                (s, made)
            })
            .collect();
        for (text, made) in texts {
            w.write_all(text.as_bytes())?;
            bytes += text.len() as u64;
            items += made;
        }
        first = last;
    }
    Ok((items, bytes))
}

/// Writes the interchange text of the store described by `cfg` to `w`.
pub fn write_interchange<W: Write>(
    cfg: &GeneratorConfig,
    w: &mut W,
) -> io::Result<GenerationSummary> {
    let g = Gen {
        cfg,
        vocab: cfg.vocabulary(),
        start: cfg.as_of.millis() - 365 * DAY_MS,
    };
    let mut summary = GenerationSummary::default();
    let (n, b) = stream(cfg.nodes, w, &|i, s| {
        g.node(i, s);
        1
    })?;
    summary.nodes = n;
    summary.bytes += b;
    let (n, b) = stream(cfg.nodes, w, &|i, s| g.edges_of(i, s))?;
    summary.edges = n;
    summary.bytes += b;
    if cfg.nodes > 0 {
        let (n, b) = stream(cfg.events, w, &|k, s| {
            g.event(k, s);
            1
        })?;
        summary.events = n;
        summary.bytes += b;
    }
    w.flush()?;
    Ok(summary)
}

/// Writes the store described by `cfg` to the file `path` (created or replaced).
pub fn generate_file(cfg: &GeneratorConfig, path: &Path) -> io::Result<GenerationSummary> {
    let f = std::fs::File::create(path)?;
    let mut w = io::BufWriter::with_capacity(8 << 20, f);
    let s = write_interchange(cfg, &mut w)?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(s)
}
