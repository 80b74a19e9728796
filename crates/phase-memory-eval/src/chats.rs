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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use phase_memory_model::{Actor, Time};
use phase_memory_runtime::{CallContext, Clock, Runtime, memory_runtime};
use serde_json::{Value, json};

use phase_memory_activate::entities::mentions;

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

/// The node id of the entity with `key` (a [`Mention::key`]) in `chat`.
pub fn entity_node(chat: &Chat, key: &str) -> String {
    format!("{}/entity/{}", chat.id, slug(key))
}

/// The interchange records (SPEC section 10) of a conversation, in its own scope.
pub fn records(chat: &Chat) -> Vec<Value> {
    records_with(chat, false)
}

/// [`records`], and with `entities` an `entity` node (labelled `mention`, title
/// the name as first written) per name or number found in the turns
/// ([`phase_memory_activate::entities::mentions`]), each mentioning turn linked to
/// it by a `mentions` edge; a name that is a speaker's links to the speaker node.
pub fn records_with(chat: &Chat, entities: bool) -> Vec<Value> {
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
    let mut seen: BTreeSet<String> = BTreeSet::new();
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
            if entities {
                for m in mentions(&t.text) {
                    let target = match speakers.iter().find(|s| s.to_lowercase() == m.key) {
                        Some(name) if *name == t.speaker => continue,
                        Some(name) => speaker_node(chat, name),
                        None => {
                            let id = entity_node(chat, &m.key);
                            if seen.insert(id.clone()) {
                                out.push(json!({"record": "node", "id": id, "kind": "entity",
                                    "labels": ["mention"], "scope": scope, "title": m.surface,
                                    "created_at": t.at}));
                            }
                            id
                        }
                    };
                    out.push(
                        json!({"record": "edge", "from": tid, "to": target, "type": "mentions"}),
                    );
                }
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
    import_with(chats, profile_source, false)
}

/// [`import`], with entity nodes when `entities` ([`records_with`]).
pub fn import_with(chats: &[Chat], profile_source: &str, entities: bool) -> Result<Runtime> {
    let as_of = question_time(chats);
    let mut rt = memory_runtime(profile_source, Clock::Fixed(as_of))
        .map_err(|(status, d)| anyhow::anyhow!("{}: {} ({})", status.as_str(), d.message, d.code))
        .context("creating the evaluation store")?;
    for chat in chats {
        let ctx = CallContext::owner().at(as_of);
        let what = format!("importing {}", chat.id);
        crate::envelope::import(&mut rt, &records_with(chat, entities), &ctx, &what)?;
    }
    Ok(rt)
}

mod bench;
pub use bench::{
    BenchOptions, ChatMetrics, ChatReport, QuestionReport, RANKERS, RankerReport, category_name,
    run_benchmark, run_chats,
};
