//! The benchmark over imported conversations: each question asked as the
//! conversation's reader through `activation.run`, beside BM25 baselines over the
//! same turns, with recall, all@k, MRR and budget survival per category.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use phase_memory_index::{Analysis, FullTextIndex, IndexOptions, Search};
use phase_memory_model::{Node, Status};
use phase_memory_runtime::{CallContext, Runtime};
use serde::Serialize;
use serde_json::json;

use super::{Chat, day_words, import_with, load_dir, question_time, reader};
use crate::metrics::{recall_at_k, reciprocal_rank, round4};

/// Options of [`run_benchmark`].
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// The profile of the store (TOML source).
    pub profile_source: String,
    /// The budget of budget survival, tokens.
    pub budget_tokens: u64,
    /// Only the first `n` questions of each conversation (all when `None`).
    pub max_questions: Option<usize>,
    /// Import with entity nodes and `mentions` edges ([`super::records_with`]).
    pub entities: bool,
    /// Keep the semantic index's vectors in this file, so a rerun over the same
    /// chats does not embed them again.
    pub vector_cache: Option<std::path::PathBuf>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            profile_source: phase_memory_profile::DEFAULT_PROFILE_TOML.to_string(),
            budget_tokens: 1000,
            max_questions: None,
            entities: false,
            vector_cache: None,
        }
    }
}

/// Mean metrics of one ranker over a set of questions.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ChatMetrics {
    /// Questions averaged.
    pub questions: usize,
    /// Mean recall@10.
    pub recall_at_10: f64,
    /// Mean recall@50.
    pub recall_at_50: f64,
    /// Share of questions with every evidence turn in the first 10.
    pub all_at_10: f64,
    /// Share with every evidence turn in the first 50.
    pub all_at_50: f64,
    /// Mean reciprocal rank of the first evidence turn (within 50).
    pub mrr: f64,
    /// Mean share of evidence turns inside the token budget.
    pub budget_survival: f64,
}

#[derive(Clone, Debug, Default)]
struct Sums {
    n: usize,
    r10: f64,
    r50: f64,
    a10: f64,
    a50: f64,
    rr: f64,
    survival: f64,
}

impl Sums {
    fn add(&mut self, ranked: &[String], within_budget: &[String], relevant: &BTreeSet<String>) {
        self.n += 1;
        let r10 = recall_at_k(ranked, relevant, 10);
        let r50 = recall_at_k(ranked, relevant, 50);
        self.r10 += r10;
        self.r50 += r50;
        self.a10 += f64::from(u8::from(r10 >= 1.0));
        self.a50 += f64::from(u8::from(r50 >= 1.0));
        self.rr += reciprocal_rank(ranked, relevant, 50);
        self.survival += recall_at_k(within_budget, relevant, usize::MAX);
    }
    fn metrics(&self) -> ChatMetrics {
        let n = self.n.max(1) as f64;
        ChatMetrics {
            questions: self.n,
            recall_at_10: round4(self.r10 / n),
            recall_at_50: round4(self.r50 / n),
            all_at_10: round4(self.a10 / n),
            all_at_50: round4(self.a50 / n),
            mrr: round4(self.rr / n),
            budget_survival: round4(self.survival / n),
        }
    }
}

/// The rankers of the benchmark, in report order.
pub const RANKERS: [&str; 5] = [
    "activation",
    "bm25",
    "bm25+dates",
    "bm25-english",
    "bm25-english+dates",
];

/// One question's outcome (for analysis; in the JSON report).
#[derive(Clone, Debug, Serialize)]
pub struct QuestionReport {
    /// Conversation.
    pub chat: String,
    /// Position in the conversation's `qa`.
    pub index: usize,
    /// Category.
    pub category: u32,
    /// The question.
    pub question: String,
    /// Evidence node ids.
    pub evidence: Vec<String>,
    /// Activation's first 10 node ids.
    pub activation_top: Vec<String>,
    /// recall@10 and recall@50 per ranker, in [`RANKERS`] order.
    pub recall: Vec<(f64, f64)>,
}

/// The benchmark's report.
#[derive(Clone, Debug, Serialize)]
pub struct ChatReport {
    /// Conversations.
    pub chats: usize,
    /// Turns imported.
    pub turns: usize,
    /// Questions read.
    pub questions_read: usize,
    /// Questions asked (with at least one resolved evidence turn).
    pub questions: usize,
    /// Evidence references that named no turn.
    pub unresolved_evidence: usize,
    /// The survival budget, tokens.
    pub budget_tokens: u64,
    /// Per ranker: overall metrics and per category.
    pub rankers: BTreeMap<String, RankerReport>,
    /// Per question detail.
    pub detail: Vec<QuestionReport>,
}

/// Metrics of one ranker.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RankerReport {
    /// Over every question.
    pub overall: ChatMetrics,
    /// Per category (`1`, `2`, …).
    pub categories: BTreeMap<u32, ChatMetrics>,
}

/// The name of a REALTALK question category.
pub fn category_name(c: u32) -> &'static str {
    match c {
        1 => "multi-hop",
        2 => "temporal",
        3 => "commonsense",
        _ => "other",
    }
}

/// A BM25 baseline over the turns only: a RAM index with the given analysis, the
/// turn text (speaker name, text) and, with `dates`, the turn's day in words.
struct TurnBaseline {
    index: FullTextIndex,
}

impl TurnBaseline {
    fn new(turns: &[&Node], analysis: Analysis, dates: bool) -> Result<Self> {
        let mut index = FullTextIndex::open_or_create_with(
            None,
            IndexOptions {
                analysis,
                ..IndexOptions::default()
            },
        )
        .context("creating a RAM index")?;
        let docs: Vec<Node> = turns
            .iter()
            .map(|n| {
                let mut d = (*n).clone();
                if dates {
                    d.body = format!("{} {}", d.body, day_words(d.created_at));
                }
                d
            })
            .collect();
        index.upsert(&docs).context("indexing the baseline")?;
        index.commit(1).context("committing the baseline")?;
        Ok(TurnBaseline { index })
    }

    fn rank(&self, text: &str, scope: &str, k: usize) -> Result<Vec<String>> {
        let scopes = [scope.to_string()];
        let mut s = Search::new(text, k);
        s.scopes = Some(&scopes);
        Ok(self
            .index
            .search_with(&s)
            .context("baseline search")?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }
}

/// The ids of `ranked` that fit `budget` tokens when taken in order, stopping at
/// the first that does not fit (a ranking truncated to a token budget).
fn truncate_to_budget(
    ranked: &[String],
    tokens: &BTreeMap<String, u32>,
    budget: u64,
) -> Vec<String> {
    let mut used = 0u64;
    let mut out = Vec::new();
    for id in ranked {
        let t = u64::from(tokens.get(id).copied().unwrap_or(0));
        if used + t > budget {
            break;
        }
        used += t;
        out.push(id.clone());
    }
    out
}

fn activation_ids(
    rt: &mut Runtime,
    ctx: &CallContext,
    text: &str,
    budget: u64,
    limit: usize,
) -> Result<Vec<String>> {
    let env = rt.run(
        "activation.run",
        json!({"cue": {"text": text}, "budget_tokens": budget, "limit": limit}),
        ctx,
    );
    if env.status != Status::Ok {
        bail!(
            "activation.run answered {} for {text:?}",
            env.status.as_str()
        );
    }
    // A profile that asks for semantic seeds must get them, or the figures
    // measure something else.
    if let Some(d) = env
        .diagnostics
        .iter()
        .find(|d| d.code == "activation.semantic_unavailable")
    {
        bail!("{}", d.message);
    }
    Ok(crate::envelope::item_ids(&env))
}

/// Runs the conversation benchmark over the chat files in `dir`.
pub fn run_benchmark(dir: &Path, opts: &BenchOptions) -> Result<ChatReport> {
    let chats = load_dir(dir)?;
    run_chats(&chats, opts)
}

/// Runs the conversation benchmark over loaded chats.
pub fn run_chats(chats: &[Chat], opts: &BenchOptions) -> Result<ChatReport> {
    let mut rt = import_with(chats, &opts.profile_source, opts.entities)?;
    if let Some(path) = &opts.vector_cache {
        rt.set_vector_cache_file(path);
    }
    let as_of = question_time(chats);
    let mut nodes: Vec<Node> = Vec::new();
    rt.store()
        .for_each_node(&mut |n| nodes.push(n.clone()))
        .context("reading the imported nodes")?;
    let tokens: BTreeMap<String, u32> = nodes.iter().map(|n| (n.id.clone(), n.tokens)).collect();
    let turns: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.labels.iter().any(|l| l == "turn"))
        .collect();
    let baselines = [
        TurnBaseline::new(&turns, Analysis::Simple, false)?,
        TurnBaseline::new(&turns, Analysis::Simple, true)?,
        TurnBaseline::new(&turns, Analysis::English, false)?,
        TurnBaseline::new(&turns, Analysis::English, true)?,
    ];
    let mut sums: Vec<(Sums, BTreeMap<u32, Sums>)> = vec![Default::default(); RANKERS.len()];
    let mut detail = Vec::new();
    let (mut read, mut unresolved) = (0, 0);
    for chat in chats {
        let ctx = CallContext::new(reader(chat)).at(as_of);
        let take = opts.max_questions.unwrap_or(usize::MAX);
        for q in chat.questions.iter().take(take) {
            read += 1;
            unresolved += q.unresolved;
            if q.evidence.is_empty() {
                continue;
            }
            let relevant: BTreeSet<String> = q.evidence.iter().map(|e| chat.turn_node(e)).collect();
            let mut rankings: Vec<(Vec<String>, Vec<String>)> = Vec::new();
            let ranked = activation_ids(&mut rt, &ctx, &q.question, 1_000_000, 50)?;
            let packed = activation_ids(&mut rt, &ctx, &q.question, opts.budget_tokens, 1000)?;
            rankings.push((ranked, packed));
            for b in &baselines {
                let ranked = b.rank(&q.question, &chat.id, 200)?;
                let packed = truncate_to_budget(&ranked, &tokens, opts.budget_tokens);
                rankings.push((ranked, packed));
            }
            let mut recall = Vec::new();
            for (i, (ranked, packed)) in rankings.iter().enumerate() {
                sums[i].0.add(ranked, packed, &relevant);
                sums[i]
                    .1
                    .entry(q.category)
                    .or_default()
                    .add(ranked, packed, &relevant);
                recall.push((
                    round4(recall_at_k(ranked, &relevant, 10)),
                    round4(recall_at_k(ranked, &relevant, 50)),
                ));
            }
            detail.push(QuestionReport {
                chat: chat.id.clone(),
                index: q.index,
                category: q.category,
                question: q.question.clone(),
                evidence: relevant.into_iter().collect(),
                activation_top: rankings[0].0.iter().take(10).cloned().collect(),
                recall,
            });
        }
    }
    let rankers = RANKERS
        .iter()
        .zip(&sums)
        .map(|(name, (all, cats))| {
            (
                (*name).to_string(),
                RankerReport {
                    overall: all.metrics(),
                    categories: cats.iter().map(|(c, s)| (*c, s.metrics())).collect(),
                },
            )
        })
        .collect();
    Ok(ChatReport {
        chats: chats.len(),
        turns: turns.len(),
        questions_read: read,
        questions: detail.len(),
        unresolved_evidence: unresolved,
        budget_tokens: opts.budget_tokens,
        rankers,
        detail,
    })
}

impl ChatReport {
    /// A readable table: one line per ranker and category.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} conversations, {} turns, {} questions asked of {} read ({} evidence references named no turn); budget {} tokens",
            self.chats,
            self.turns,
            self.questions,
            self.questions_read,
            self.unresolved_evidence,
            self.budget_tokens
        );
        let _ = writeln!(
            s,
            "{:<20} {:<12} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9}",
            "ranker", "category", "n", "R@10", "R@50", "all@10", "all@50", "MRR", "survival"
        );
        for name in RANKERS {
            let Some(r) = self.rankers.get(name) else {
                continue;
            };
            let mut rows: Vec<(String, &ChatMetrics)> = vec![("all".into(), &r.overall)];
            for (c, m) in &r.categories {
                rows.push((category_name(*c).to_string(), m));
            }
            for (cat, m) in rows {
                let _ = writeln!(
                    s,
                    "{:<20} {:<12} {:>5} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>9.3}",
                    name,
                    cat,
                    m.questions,
                    m.recall_at_10,
                    m.recall_at_50,
                    m.all_at_10,
                    m.all_at_50,
                    m.mrr,
                    m.budget_survival
                );
            }
        }
        s
    }
}
