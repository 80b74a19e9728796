//! A quick activation latency check (not a timed test): generates a synthetic graph
//! with Zipf-distributed text, indexes it in a RAM full-text index, builds the
//! snapshot, runs two-word text cues and prints the figures as JSON.
//!
//! ```text
//! cargo run --release -p phase-memory-activate --example latency -- [NODES] [CUES] [--chars4] [--index-dir DIR]
//! ```
//!
//! NODES defaults to 100000 (edges = 5 × NODES, events = 10 × NODES), CUES to 1000.
//! `--chars4` skips the BPE token counting of every node (faster at 1M nodes);
//! `--events-since-hours H` adds event-path seeds from the last H hours to every cue.

use std::time::Instant;

use phase_memory_activate::{
    ActivationInput, Cue, Snapshot, SnapshotBuilder, TokenCounter, Visibility, activate,
};
use phase_memory_index::FullTextIndex;
use phase_memory_model::{Edge, Event, Node, Time};
use phase_memory_profile::Profile;

const SEED: u64 = 0x5eed_2026;
const VOCABULARY: usize = 4000;
const BODY_WORDS: usize = 60;
const TITLE_WORDS: usize = 4;
const DAY_MS: i64 = 86_400_000;
/// 2026-06-01T00:00:00Z
const AS_OF: i64 = 1_780_272_000_000;
const EDGE_TYPES: [&str; 6] = [
    "relates_to",
    "part_of",
    "mentions",
    "follows",
    "supersedes",
    "derived_from",
];

/// splitmix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Zipf {
    words: Vec<String>,
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        const SYLLABLES: [&str; 32] = [
            "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qui", "dor", "fen", "gal",
            "hum", "jis", "bor", "cet", "dun", "emo", "fis", "gor", "hal", "ist", "jun", "kel",
            "lum", "mar", "nol", "orp", "pex", "rav",
        ];
        let mut words = Vec::with_capacity(n);
        let mut k = 0usize;
        while words.len() < n {
            let mut w = String::new();
            let mut x = k;
            loop {
                w.push_str(SYLLABLES[x % SYLLABLES.len()]);
                x /= SYLLABLES.len();
                if x == 0 {
                    break;
                }
            }
            if w.len() >= 4 {
                words.push(w);
            }
            k += 1;
        }
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for r in 1..=n {
            acc += 1.0 / (r as f64).powf(s);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { words, cdf }
    }
    fn sample(&self, rng: &mut Rng) -> &str {
        let u = rng.unit();
        let i = self
            .cdf
            .partition_point(|c| *c < u)
            .min(self.words.len() - 1);
        &self.words[i]
    }
    fn text(&self, rng: &mut Rng, n: usize) -> String {
        let mut s = String::with_capacity(n * 7);
        for k in 0..n {
            if k > 0 {
                s.push(' ');
            }
            s.push_str(self.sample(rng));
        }
        s
    }
}

fn make_node(i: u64, zipf: &Zipf, counter: &TokenCounter) -> Node {
    let mut rng = Rng::new(SEED ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let title = zipf.text(&mut rng, TITLE_WORDS);
    let body = zipf.text(&mut rng, BODY_WORDS);
    let created = AS_OF - (rng.below(365) as i64) * DAY_MS - 1;
    let mut node = Node {
        id: format!("n{i:07}"),
        kind: "fact".into(),
        phase: if rng.below(10) == 0 {
            "dormant"
        } else {
            "active"
        }
        .into(),
        title,
        body,
        labels: vec![],
        scope: "default".into(),
        sensitivity: if rng.below(50) == 0 {
            "secret"
        } else {
            "internal"
        }
        .into(),
        attrs: Default::default(),
        created_at: Time(created),
        updated_at: Time(created),
        valid_from: None,
        valid_to: None,
        tokens: 0,
        tombstone: None,
        implicit_time: false,
    };
    node.tokens = counter.count(&node.text());
    node
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let k = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[k.min(sorted.len() - 1)]
}

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The command line.
struct Args {
    n: u64,
    cues: usize,
    chars4: bool,
    index_dir: Option<std::path::PathBuf>,
    events_since_hours: Option<i64>,
}

fn parse_args() -> BoxResult<Args> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut positional = args.iter().filter(|a| !a.starts_with("--"));
    let n: u64 = positional.next().map_or(Ok(100_000), |s| s.parse())?;
    let cues: usize = positional.next().map_or(Ok(1000), |s| s.parse())?;
    let chars4 = args.iter().any(|a| a == "--chars4");
    let index_dir = args
        .iter()
        .position(|a| a == "--index-dir")
        .and_then(|k| args.get(k + 1))
        .map(std::path::PathBuf::from);
    let events_since_hours: Option<i64> = args
        .iter()
        .position(|a| a == "--events-since-hours")
        .and_then(|k| args.get(k + 1))
        .map(|s| s.parse())
        .transpose()?;
    Ok(Args {
        n,
        cues,
        chars4,
        index_dir,
        events_since_hours,
    })
}

/// Token counting alone, over every node text: `(total tokens, milliseconds)`.
fn count_tokens(n: u64, zipf: &Zipf, counter: &TokenCounter) -> (u64, f64) {
    let t = Instant::now();
    let mut total_tokens = 0u64;
    for i in 0..n {
        total_tokens += u64::from(make_node(i, zipf, counter).tokens);
    }
    (total_tokens, t.elapsed().as_secs_f64() * 1e3)
}

/// The full-text index of every node, and the milliseconds it took.
fn build_index(
    n: u64,
    zipf: &Zipf,
    counter: &TokenCounter,
    index_dir: Option<&std::path::Path>,
) -> BoxResult<(FullTextIndex, f64)> {
    let t = Instant::now();
    let mut index = FullTextIndex::open_or_create(index_dir)?;
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..n {
        batch.push(make_node(i, zipf, counter));
        if batch.len() == 10_000 {
            index.upsert(&batch)?;
            batch.clear();
        }
    }
    index.upsert(&batch)?;
    batch.clear();
    index.commit(1)?;
    Ok((index, t.elapsed().as_secs_f64() * 1e3))
}

/// Snapshot: nodes, 5N edges, 10N events, and the milliseconds the builder took.
/// Only the builder's own work is timed, not generating the records.
fn build_snapshot(
    n: u64,
    zipf: &Zipf,
    counter: &TokenCounter,
    profile: &Profile,
) -> (Snapshot, f64) {
    let mut build_time = std::time::Duration::ZERO;
    let mut builder = SnapshotBuilder::new(profile).with_generation(1);
    for i in 0..n {
        let node = make_node(i, zipf, counter);
        let t = Instant::now();
        builder.add_node(&node);
        build_time += t.elapsed();
    }
    let mut rng = Rng::new(SEED ^ 0xed9e);
    for k in 0..5 * n {
        let edge = make_edge(&mut rng, n, k);
        let t = Instant::now();
        builder.add_edge(&edge);
        build_time += t.elapsed();
    }
    for k in 0..10 * n {
        let event = make_event(&mut rng, n, k);
        let t = Instant::now();
        builder.add_event(&event);
        build_time += t.elapsed();
    }
    let t = Instant::now();
    let snapshot = builder.finish();
    build_time += t.elapsed();
    (snapshot, build_time.as_secs_f64() * 1e3)
}

fn make_edge(rng: &mut Rng, n: u64, k: u64) -> Edge {
    let from = rng.below(n);
    let to = if rng.below(2) == 0 {
        (from + 1 + rng.below(200)) % n
    } else {
        rng.below(n)
    };
    Edge {
        from: format!("n{from:07}"),
        to: format!("n{to:07}"),
        edge_type: EDGE_TYPES[(k % 6) as usize].into(),
        weight: 1.0,
        attrs: Default::default(),
        created_at: Time(AS_OF - DAY_MS),
    }
}

fn make_event(rng: &mut Rng, n: u64, k: u64) -> Event {
    let subject = format!("n{:07}", rng.below(n));
    let at = AS_OF - (rng.below(365 * 24) as i64) * 3_600_000;
    Event {
        seq: k + 1,
        id: format!("ev-{}", k + 1),
        at: Time(at),
        actor: "bench".into(),
        event_type: if rng.below(5) == 0 {
            "observation"
        } else {
            "node.accessed"
        }
        .into(),
        subjects: vec![subject],
        payload: serde_json::Value::Null,
    }
}

/// Per-cue latencies (sorted, milliseconds) and result totals.
struct CueRuns {
    total: Vec<f64>,
    search: Vec<f64>,
    act: Vec<f64>,
    items: usize,
    considered: u64,
}

/// Runs `cues` two-word text cues: full-text search, then activation.
fn run_cues(
    args: &Args,
    zipf: &Zipf,
    index: &FullTextIndex,
    snapshot: &Snapshot,
    profile: &Profile,
) -> BoxResult<CueRuns> {
    let cues = args.cues;
    let visible = |v: phase_memory_activate::NodeView<'_>| {
        if v.sensitivity() == "secret" {
            Visibility::Withheld("secret-owner-only".into())
        } else {
            Visibility::Visible
        }
    };
    let mut rng = Rng::new(SEED ^ 0xc0e5);
    let mut total = Vec::with_capacity(cues);
    let mut search = Vec::with_capacity(cues);
    let mut act = Vec::with_capacity(cues);
    let mut items = 0usize;
    let mut considered = 0u64;
    for _ in 0..cues {
        let text = zipf.text(&mut rng, 2);
        let cue = Cue {
            text: Some(text.clone()),
            nodes: vec![],
            hints: vec![],
            events_since: args.events_since_hours.map(|h| Time(AS_OF - h * 3_600_000)),
        };
        let t0 = Instant::now();
        let hits = index.search(&text, 100)?;
        let t1 = Instant::now();
        let ws = activate(
            snapshot,
            &profile.activation,
            &ActivationInput {
                cue: &cue,
                lexical: &hits,
                semantic: &[],
                budget_tokens: profile.activation.default_budget,
                limit: profile.activation.default_limit as usize,
                as_of: Time(AS_OF),
                include_invalid: false,
                explain: true,
            },
            &visible,
        );
        let t2 = Instant::now();
        items += ws.items.len();
        considered += ws.considered;
        search.push((t1 - t0).as_secs_f64() * 1e3);
        act.push((t2 - t1).as_secs_f64() * 1e3);
        total.push((t2 - t0).as_secs_f64() * 1e3);
    }
    for v in [&mut total, &mut search, &mut act] {
        v.sort_by(f64::total_cmp);
    }
    Ok(CueRuns {
        total,
        search,
        act,
        items,
        considered,
    })
}

/// A percentile in milliseconds, rounded to the microsecond.
fn ms3(sorted: &[f64], p: f64) -> f64 {
    (percentile(sorted, p) * 1000.0).round() / 1000.0
}

fn main() -> BoxResult<()> {
    let args = parse_args()?;
    let n = args.n;
    let cues = args.cues;
    let profile = Profile::builtin();
    let zipf = Zipf::new(VOCABULARY, 1.0);
    let counter = if args.chars4 {
        TokenCounter::chars4()
    } else {
        TokenCounter::new(&profile.tokenizer.encoding)?
    };

    let (total_tokens, generate_and_count_ms) = count_tokens(n, &zipf, &counter);
    let (index, index_ms) = build_index(n, &zipf, &counter, args.index_dir.as_deref())?;
    let rss_before_snapshot_kb = status_kb("VmRSS:");
    let (snapshot, snapshot_build_ms) = build_snapshot(n, &zipf, &counter, &profile);
    let rss_after_snapshot_kb = status_kb("VmRSS:");
    let runs = run_cues(&args, &zipf, &index, &snapshot, &profile)?;

    let report = serde_json::json!({
        "nodes": snapshot.node_count(),
        "spreading_arcs": snapshot.edge_count(),
        "edges": 5 * n,
        "events": 10 * n,
        "tokenizer": counter.encoding(),
        "total_tokens": total_tokens,
        "generate_and_count_tokens_ms": generate_and_count_ms.round(),
        "index_build_ms": index_ms.round(),
        "index_docs": index.doc_count(),
        "snapshot_build_ms": snapshot_build_ms.round(),
        "snapshot_heap_mb": (snapshot.heap_bytes() as f64 / 1e6).round(),
        "rss_before_snapshot_mb": rss_before_snapshot_kb / 1024,
        "rss_after_snapshot_mb": rss_after_snapshot_kb / 1024,
        "cues": cues,
        "events_since_hours": args.events_since_hours,
        "p50_ms": ms3(&runs.total, 0.5),
        "p99_ms": ms3(&runs.total, 0.99),
        "search_p50_ms": ms3(&runs.search, 0.5),
        "search_p99_ms": ms3(&runs.search, 0.99),
        "activate_p50_ms": ms3(&runs.act, 0.5),
        "activate_p99_ms": ms3(&runs.act, 0.99),
        "mean_items": runs.items as f64 / cues.max(1) as f64,
        "mean_considered": runs.considered as f64 / cues.max(1) as f64,
        "peak_rss_mb": status_kb("VmHWM:") / 1024,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
