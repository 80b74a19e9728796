//! Real conversations as evaluation data: chat files of the REALTALK shape (two
//! speakers, numbered sessions of timed turns, memory questions with annotated
//! evidence turns) are read ([`load_chat`]), turned into an ordinary graph
//! ([`records`]), imported into one store with each conversation in its own scope,
//! and every question is asked as an actor limited to its conversation
//! ([`run_benchmark`]). Activation is scored beside plain BM25 baselines over the
//! same turns, per question category, and on budget survival: the share of
//! evidence turns inside a 1,000-token activation against a BM25 ranking truncated
//! to the same token budget. docs/evaluation.md gives the figures.
//!
//! The graph of a conversation (scope = the conversation's id):
//! - each speaker is an `entity` node (title: the name);
//! - each session is an `episode` node labelled `session` (title "Session 3,
//!   1 January 2024"), `follows` the previous session;
//! - each turn is an `episode` node labelled `turn`, titled with the speaker's name
//!   only (the time is the node's `created_at`, so a package item costs little
//!   more than its text), body = the text; it is `part_of` its session, `mentions`
//!   its speaker and `follows` the previous turn of the session.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use phase_memory_index::{Analysis, FullTextIndex, IndexOptions, Search};
use phase_memory_model::{Actor, Node, Status, Time};
use phase_memory_runtime::{CallContext, Clock, Runtime, memory_runtime};
use serde::Serialize;
use serde_json::{Value, json};

use crate::metrics::{recall_at_k, reciprocal_rank, round4};

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatTurn {
    /// The dialogue id (`D3:14`: session 3, turn 14).
    pub dia_id: String,
    /// Who speaks.
    pub speaker: String,
    /// What is said.
    pub text: String,
    /// When.
    pub at: Time,
}

/// One session.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatSession {
    /// Its number (`session_3` → 3).
    pub number: u32,
    /// When it started (its date, else its first turn's).
    pub at: Time,
    /// Turns in order.
    pub turns: Vec<ChatTurn>,
}

/// One memory question.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatQuestion {
    /// Position in the file's `qa` list.
    pub index: usize,
    /// The question.
    pub question: String,
    /// The reference answer (not used for ranking).
    pub answer: String,
    /// Category (1 multi-hop, 2 temporal, 3 commonsense in REALTALK).
    pub category: u32,
    /// Evidence turn ids that name a turn of the conversation, deduplicated.
    pub evidence: Vec<String>,
    /// Evidence references that named no turn (after cleaning).
    pub unresolved: usize,
}

/// A conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct Chat {
    /// Its id and scope (the file name, lowercased, `_` → `-`).
    pub id: String,
    /// The speakers, in order of `name`.
    pub speakers: Vec<String>,
    /// Sessions in order.
    pub sessions: Vec<ChatSession>,
    /// Questions.
    pub questions: Vec<ChatQuestion>,
}

impl Chat {
    /// Every turn id of the conversation.
    pub fn turn_ids(&self) -> BTreeSet<String> {
        self.sessions
            .iter()
            .flat_map(|s| s.turns.iter().map(|t| t.dia_id.clone()))
            .collect()
    }

    /// The latest turn time.
    pub fn last_time(&self) -> Option<Time> {
        self.sessions
            .iter()
            .flat_map(|s| s.turns.iter().map(|t| t.at).chain([s.at]))
            .max()
    }

    /// The node id of a turn.
    pub fn turn_node(&self, dia_id: &str) -> String {
        format!("{}/{dia_id}", self.id)
    }
}

/// Parses "29.12.2023, 22:42:04" (day.month.year, time) as UTC.
pub fn parse_chat_time(s: &str) -> Option<Time> {
    let (date, time) = s.split_once(',')?;
    let mut d = date.trim().split('.');
    let (day, month, year) = (d.next()?, d.next()?, d.next()?);
    let time = time.trim();
    let day: u32 = day.parse().ok()?;
    let month: u32 = month.parse().ok()?;
    let year: u32 = year.parse().ok()?;
    let rfc = format!("{year:04}-{month:02}-{day:02}T{time}Z");
    rfc.parse().ok()
}

/// Reads the evidence references of one annotation: `D1:6`, but also the
/// malformed shapes real annotations hold — several ids in one string separated by
/// `;`, `,`, spaces or `. ` (`"D11:17; D16:1"`, `"D13:4. D14:4"`), ranges
/// (`"D12:3-D12:5"`, `"D12:3-5"`, expanded within a session, at most 200 ids), a
/// `;` or `.` instead of `:` (`"D17;39"`), ids glued together (`"D13:45:D20:19"`)
/// and trailing dots. Returns the ids in order of appearance (not deduplicated).
pub fn parse_evidence(raw: &str) -> Vec<String> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let digits = |mut i: usize| -> (usize, Option<u32>) {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        (i, raw[start..i].parse().ok())
    };
    // An id at i: 'D' digits sep digits. Returns (end, session, turn).
    let id_at = |i: usize| -> Option<(usize, u32, u32)> {
        if b.get(i) != Some(&b'D') {
            return None;
        }
        let (j, s) = digits(i + 1);
        let s = s?;
        if !matches!(b.get(j), Some(b':' | b';' | b'.')) {
            return None;
        }
        let (k, t) = digits(j + 1);
        Some((k, s, t?))
    };
    let mut i = 0;
    while i < b.len() {
        let Some((end, s, t)) = id_at(i) else {
            i += 1;
            continue;
        };
        let mut next = end;
        let mut j = end;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if b.get(j) == Some(&b'-') {
            let mut k = j + 1;
            while k < b.len() && b[k] == b' ' {
                k += 1;
            }
            let upper = match id_at(k) {
                Some((e, s2, t2)) if s2 == s => Some((e, t2)),
                Some(_) => None,
                None => match digits(k) {
                    (e, Some(t2)) => Some((e, t2)),
                    _ => None,
                },
            };
            if let Some((e, t2)) = upper
                && t2 >= t
                && t2 - t <= 200
            {
                for x in t..=t2 {
                    out.push(format!("D{s}:{x}"));
                }
                i = e;
                continue;
            }
        }
        out.push(format!("D{s}:{t}"));
        if b.get(next) == Some(&b':') {
            // Glued ids ("D13:45:D20:19"): go on right after the separator.
            next += 1;
        }
        i = next;
    }
    out
}

fn chat_id(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    stem.to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Reads one chat file (REALTALK shape; docs/evaluation.md). Turns without text
/// are kept as they are; a turn without a readable time takes its session's.
pub fn load_chat(path: &Path) -> Result<Chat> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let obj = v
        .as_object()
        .with_context(|| format!("{}: a chat file is a JSON object", path.display()))?;
    let speakers: Vec<String> = obj
        .get("name")
        .and_then(Value::as_object)
        .map(|m| {
            let mut names: Vec<(&String, &Value)> = m.iter().collect();
            names.sort_by(|a, b| a.0.cmp(b.0));
            names
                .into_iter()
                .filter_map(|(_, n)| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut sessions = Vec::new();
    for (key, value) in obj {
        let Some(n) = key.strip_prefix("session_") else {
            continue;
        };
        let Ok(number) = n.parse::<u32>() else {
            continue;
        };
        let Some(turns) = value.as_array() else {
            continue;
        };
        let session_time = obj
            .get(&format!("session_{number}_date_time"))
            .and_then(Value::as_str)
            .and_then(parse_chat_time);
        let mut out = Vec::new();
        for (i, t) in turns.iter().enumerate() {
            let field = |name: &str| t.get(name).and_then(Value::as_str).unwrap_or("");
            let dia_id = match field("dia_id") {
                "" => format!("D{number}:{}", i + 1),
                d => d.to_string(),
            };
            let at = parse_chat_time(field("date_time"))
                .or(session_time)
                .with_context(|| {
                    format!("{}: turn {dia_id} has no readable time", path.display())
                })?;
            out.push(ChatTurn {
                dia_id,
                speaker: field("speaker").to_string(),
                text: field("clean_text").to_string(),
                at,
            });
        }
        let Some(at) = session_time.or_else(|| out.first().map(|t| t.at)) else {
            continue;
        };
        sessions.push(ChatSession {
            number,
            at,
            turns: out,
        });
    }
    if sessions.is_empty() {
        bail!("{}: no session_N list of turns", path.display());
    }
    sessions.sort_by_key(|s| s.number);
    let mut chat = Chat {
        id: chat_id(path),
        speakers,
        sessions,
        questions: Vec::new(),
    };
    let known = chat.turn_ids();
    for (index, q) in obj
        .get("qa")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let question = q.get("question").and_then(Value::as_str).unwrap_or("");
        if question.trim().is_empty() {
            continue;
        }
        let mut evidence = Vec::new();
        let mut unresolved = 0;
        for raw in q
            .get("evidence")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let ids = parse_evidence(raw);
            if ids.is_empty() {
                unresolved += 1;
            }
            for id in ids {
                if !known.contains(&id) {
                    unresolved += 1;
                } else if !evidence.contains(&id) {
                    evidence.push(id);
                }
            }
        }
        let answer = match q.get("answer") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        chat.questions.push(ChatQuestion {
            index,
            question: question.to_string(),
            answer,
            category: q
                .get("category")
                .and_then(Value::as_u64)
                .and_then(|c| u32::try_from(c).ok())
                .unwrap_or(0),
            evidence,
            unresolved,
        });
    }
    Ok(chat)
}

/// Every `*.json` chat file in `dir`, in sorted order.
pub fn load_dir(dir: &Path) -> Result<Vec<Chat>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{}: no chat files (*.json)", dir.display());
    }
    files.iter().map(|f| load_chat(f)).collect()
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// "29 December 2023" of an instant (UTC).
pub fn day_words(t: Time) -> String {
    let s = t.to_string();
    let year = s.get(0..4).unwrap_or("");
    let month: usize = s.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    let day: u32 = s.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(1);
    format!(
        "{day} {} {year}",
        MONTHS.get(month.saturating_sub(1)).unwrap_or(&"")
    )
}

fn slug(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect()
}

/// The node id of a speaker of `chat`.
pub fn speaker_node(chat: &Chat, name: &str) -> String {
    format!("{}/speaker/{}", chat.id, slug(name))
}

/// The interchange records (SPEC section 10) of a conversation, in its own scope.
pub fn records(chat: &Chat) -> Vec<Value> {
    let scope = &chat.id;
    let mut out = Vec::new();
    let mut speakers: Vec<String> = chat.speakers.clone();
    for s in &chat.sessions {
        for t in &s.turns {
            if !t.speaker.is_empty() && !speakers.contains(&t.speaker) {
                speakers.push(t.speaker.clone());
            }
        }
    }
    let first = chat.sessions.first().map_or(Time::EPOCH, |s| s.at);
    for name in &speakers {
        out.push(
            json!({"record": "node", "id": speaker_node(chat, name), "kind": "entity",
            "labels": ["person"], "scope": scope, "title": name, "created_at": first}),
        );
    }
    let mut prev_session: Option<String> = None;
    for s in &chat.sessions {
        let sid = format!("{}/S{}", chat.id, s.number);
        out.push(
            json!({"record": "node", "id": sid, "kind": "episode", "labels": ["session"],
            "scope": scope, "title": format!("Session {}, {}", s.number, day_words(s.at)),
            "created_at": s.at}),
        );
        if let Some(p) = &prev_session {
            out.push(json!({"record": "edge", "from": sid, "to": p, "type": "follows"}));
        }
        let mut prev_turn: Option<String> = None;
        for t in &s.turns {
            let tid = chat.turn_node(&t.dia_id);
            let mut node = json!({"record": "node", "id": tid, "kind": "episode",
                "labels": ["turn"], "scope": scope, "title": t.speaker, "body": t.text,
                "created_at": t.at});
            if t.text.is_empty() {
                node.as_object_mut().map(|m| m.remove("body"));
            }
            out.push(node);
            out.push(json!({"record": "edge", "from": tid, "to": sid, "type": "part_of"}));
            if !t.speaker.is_empty() {
                out.push(json!({"record": "edge", "from": tid,
                    "to": speaker_node(chat, &t.speaker), "type": "mentions"}));
            }
            if let Some(p) = &prev_turn {
                out.push(json!({"record": "edge", "from": tid, "to": p, "type": "follows"}));
            }
            prev_turn = Some(tid);
        }
        prev_session = Some(sid);
    }
    out
}

/// The actor a conversation's questions are asked as: a member who sees only the
/// conversation's scope.
pub fn reader(chat: &Chat) -> Actor {
    Actor {
        id: format!("reader-{}", chat.id),
        roles: vec!["member".into()],
        scopes: vec![chat.id.clone()],
    }
}

/// The instant questions are asked at: one hour after the latest turn of all chats.
pub fn question_time(chats: &[Chat]) -> Time {
    chats
        .iter()
        .filter_map(Chat::last_time)
        .max()
        .unwrap_or(Time::EPOCH)
        .plus_seconds(3600)
}

/// Imports `chats` into a fresh in-memory runtime with `profile_source`, one
/// `graph.import` per conversation, as the owner at [`question_time`].
pub fn import(chats: &[Chat], profile_source: &str) -> Result<Runtime> {
    let as_of = question_time(chats);
    let mut rt = memory_runtime(profile_source, Clock::Fixed(as_of))
        .map_err(|(status, d)| anyhow::anyhow!("{}: {} ({})", status.as_str(), d.message, d.code))
        .context("creating the evaluation store")?;
    for chat in chats {
        let ctx = CallContext::owner().at(as_of);
        let env = rt.run("graph.import", json!({"records": records(chat)}), &ctx);
        if env.status != Status::Ok {
            let why: Vec<String> = env
                .diagnostics
                .iter()
                .map(|d| format!("{}: {}", d.code, d.message))
                .collect();
            bail!(
                "importing {}: graph.import answered {}: {}",
                chat.id,
                env.status.as_str(),
                why.join("; ")
            );
        }
    }
    Ok(rt)
}

/// Options of [`run_benchmark`].
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// The profile of the store (TOML source).
    pub profile_source: String,
    /// The budget of budget survival, tokens.
    pub budget_tokens: u64,
    /// Only the first `n` questions of each conversation (all when `None`).
    pub max_questions: Option<usize>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            profile_source: phase_memory_profile::DEFAULT_PROFILE_TOML.to_string(),
            budget_tokens: 1000,
            max_questions: None,
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
    Ok(env
        .data
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("node").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Runs the conversation benchmark over the chat files in `dir`.
pub fn run_benchmark(dir: &Path, opts: &BenchOptions) -> Result<ChatReport> {
    let chats = load_dir(dir)?;
    run_chats(&chats, opts)
}

/// Runs the conversation benchmark over loaded chats.
pub fn run_chats(chats: &[Chat], opts: &BenchOptions) -> Result<ChatReport> {
    let mut rt = import(chats, &opts.profile_source)?;
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
