//! The `conversational` family's generator: multi-session dialogues between two
//! people over months, as a graph (speakers are `entity` nodes, sessions and turns
//! `episode` nodes; a turn is `part_of` its session, `mentions` its speaker and
//! `follows` the previous turn; sessions `follow` each other), with questions whose
//! evidence turns are known. Deterministic for a seed; `examples/generate_conversational.rs`
//! writes the committed fixtures and a test checks they are up to date.
//!
//! Each question is multi-hop by construction: it names the anchor turn's topic
//! ("after the trip to Lisbon") and asks for what the *next* turn says, whose
//! words barely overlap with the question; the `follows` edge connects them.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use phase_memory_model::Time;
use serde_json::{Value, json};

use crate::generate::Rng;
use crate::scenario::{CueCase, CueSpec};

/// The seed of the committed fixtures.
pub const SEED: u64 = 26;

/// Who says a line of an arc: the one the story is about, or the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    A,
    B,
}

/// A story told across two adjacent turns, and the question it answers.
struct StoryArc {
    anchor: (Who, &'static str),
    answer: (Who, &'static str),
    reaction: &'static str,
    question: &'static str,
    answer_note: &'static str,
}

const ARCS: &[StoryArc] = &[
    StoryArc {
        anchor: (
            Who::A,
            "I just got back from a week in Lisbon, the trip was wonderful.",
        ),
        answer: (
            Who::A,
            "If you ever go, you have to try the custard tarts at Manteigaria, honestly the best pastry I've had.",
        ),
        reaction: "Noted, I'm writing that down.",
        question: "What did {A} recommend after the trip to Lisbon?",
        answer_note: "the custard tarts at Manteigaria",
    },
    StoryArc {
        anchor: (
            Who::A,
            "Big news: I accepted the job offer from the wind energy startup.",
        ),
        answer: (
            Who::A,
            "I start on the first of March, and the office is a short bike ride from my flat.",
        ),
        reaction: "That's brilliant, congratulations!",
        question: "When does {A} begin at the wind energy startup?",
        answer_note: "the first of March",
    },
    StoryArc {
        anchor: (
            Who::A,
            "We finally adopted a dog from the shelter last weekend.",
        ),
        answer: (
            Who::A,
            "She is a three-year-old greyhound called Pepper and she sleeps about twenty hours a day.",
        ),
        reaction: "Pepper! Please send pictures.",
        question: "What kind of dog did {A} adopt from the shelter, and what is she called?",
        answer_note: "a greyhound called Pepper",
    },
    StoryArc {
        anchor: (Who::A, "I signed up for the Berlin marathon in September."),
        answer: (
            Who::A,
            "My coach put me on a sixteen-week plan with long runs every Sunday morning.",
        ),
        reaction: "Sunday mornings, rather you than me.",
        question: "How is {A} preparing for the Berlin marathon?",
        answer_note: "a sixteen-week plan with long Sunday runs",
    },
    StoryArc {
        anchor: (Who::B, "What is your book club reading this month?"),
        answer: (
            Who::A,
            "We picked Klara and the Sun by Kazuo Ishiguro, and I'm about halfway through.",
        ),
        reaction: "I loved that one, tell me when you finish.",
        question: "Which novel is {A}'s book club reading?",
        answer_note: "Klara and the Sun",
    },
    StoryArc {
        anchor: (
            Who::A,
            "The kitchen renovation is finally finished after three months of dust.",
        ),
        answer: (
            Who::A,
            "We went with dark green cabinets and an oak countertop, and I love how it looks.",
        ),
        reaction: "Green cabinets sound gorgeous.",
        question: "How did the kitchen renovation of {A} turn out?",
        answer_note: "dark green cabinets with an oak countertop",
    },
    StoryArc {
        anchor: (
            Who::A,
            "I started taking guitar lessons with a teacher from the music school.",
        ),
        answer: (
            Who::A,
            "Right now we are working on fingerpicking, mostly old folk songs by Nick Drake.",
        ),
        reaction: "You'll have to play something for me.",
        question: "What is {A} practising in the guitar lessons?",
        answer_note: "fingerpicking, Nick Drake songs",
    },
    StoryArc {
        anchor: (Who::A, "My sister's wedding in Porto was last Saturday."),
        answer: (
            Who::A,
            "The best part was the surprise fado singer my uncle hired for the dinner.",
        ),
        reaction: "That must have been beautiful.",
        question: "What was the highlight of the wedding in Porto for {A}?",
        answer_note: "the surprise fado singer",
    },
    StoryArc {
        anchor: (
            Who::A,
            "I finally saw the allergist about my sneezing every spring.",
        ),
        answer: (
            Who::A,
            "It turns out it's birch pollen, so I got a nasal spray and a list of days to stay indoors.",
        ),
        reaction: "At least now you know.",
        question: "What did {A} find out from the allergist?",
        answer_note: "birch pollen allergy",
    },
    StoryArc {
        anchor: (
            Who::A,
            "We are moving out of the city at the end of the summer.",
        ),
        answer: (
            Who::A,
            "We found a small house with a garden near Utrecht, close to my parents.",
        ),
        reaction: "A garden! You'll never want to come back.",
        question: "Where is {A} moving when leaving the city?",
        answer_note: "a house near Utrecht",
    },
    StoryArc {
        anchor: (
            Who::A,
            "My car broke down on the motorway on the way to the coast.",
        ),
        answer: (
            Who::A,
            "The mechanic said the timing belt snapped, so the repair cost almost nine hundred euros.",
        ),
        reaction: "Ouch, that's painful.",
        question: "How much did {A} pay after the car broke down on the motorway?",
        answer_note: "almost nine hundred euros",
    },
    StoryArc {
        anchor: (
            Who::B,
            "I've been looking for something to listen to on my commute.",
        ),
        answer: (
            Who::A,
            "Try The Rest Is History, the episodes about the Vikings are brilliant.",
        ),
        reaction: "Downloading it now.",
        question: "What did {A} suggest for {B}'s commute?",
        answer_note: "The Rest Is History podcast",
    },
    StoryArc {
        anchor: (
            Who::A,
            "Last week I took a Thai cooking class with my colleagues.",
        ),
        answer: (
            Who::A,
            "We made green curry from scratch, and the trick is frying the paste in coconut cream first.",
        ),
        reaction: "I'm stealing that trick.",
        question: "What did {A} learn at the Thai cooking class?",
        answer_note: "fry the curry paste in coconut cream first",
    },
    StoryArc {
        anchor: (Who::A, "The tomatoes in my garden are finally ripening."),
        answer: (
            Who::A,
            "This year I planted a variety called Black Krim, and they taste almost smoky.",
        ),
        reaction: "Save me some seeds.",
        question: "Which tomato did {A} grow in the garden this year?",
        answer_note: "Black Krim",
    },
    StoryArc {
        anchor: (
            Who::A,
            "We saw The Smile play in Amsterdam on Friday night.",
        ),
        answer: (
            Who::A,
            "The sound was incredible, though we queued for an hour in the rain to get in.",
        ),
        reaction: "Worth the rain, I bet.",
        question: "How was the show {A} saw in Amsterdam?",
        answer_note: "great sound, an hour queueing in the rain",
    },
    StoryArc {
        anchor: (
            Who::A,
            "I've been learning Spanish with an app for about two months.",
        ),
        answer: (
            Who::A,
            "My goal is to order food and chat with the neighbours when we visit Valencia in October.",
        ),
        reaction: "Muy bien!",
        question: "Why is {A} learning Spanish?",
        answer_note: "to get by in Valencia in October",
    },
    StoryArc {
        anchor: (Who::A, "I twisted my ankle hiking in the Ardennes."),
        answer: (
            Who::A,
            "The physio told me to rest it for three weeks, so no running until May.",
        ),
        reaction: "Take it easy, seriously.",
        question: "What advice did {A} get after the hiking injury in the Ardennes?",
        answer_note: "rest three weeks, no running until May",
    },
    StoryArc {
        anchor: (
            Who::B,
            "Any idea what to get your dad for his sixtieth birthday?",
        ),
        answer: (
            Who::A,
            "I think he'd love a vintage fountain pen, he still writes letters by hand.",
        ),
        reaction: "That's such a thoughtful idea.",
        question: "What present did {A} have in mind for the dad's sixtieth birthday?",
        answer_note: "a vintage fountain pen",
    },
];

/// Small talk between the stories: the lexical noise of a real dialogue.
const FILLER: &[&str] = &[
    "Hey! How have you been?",
    "Pretty good, work has been hectic though.",
    "How was your week?",
    "Honestly, the week flew by.",
    "Did you watch the match on Sunday?",
    "No, I missed it, was it any good?",
    "The weather has been terrible lately, it rained all weekend.",
    "I really need to get more sleep.",
    "Same here, I was up way too late again.",
    "Haha, that sounds about right.",
    "What are you up to this weekend?",
    "Nothing much, maybe a long walk if it stays dry.",
    "Did you see the news about the new train line?",
    "Yes, it will make the trip to the city so much shorter.",
    "I've been trying to cook at home more often.",
    "Good for you, I keep ordering takeaway.",
    "How is your family doing?",
    "Everyone is fine, thanks for asking.",
    "I can't believe it's already the end of the month.",
    "Time goes so fast these days.",
    "Are you still going to the gym in the mornings?",
    "Only twice a week now, it's hard to keep it up.",
    "Work is calmer now that the project shipped.",
    "That must be a relief.",
    "Let's catch up again soon.",
    "Definitely, same time next week?",
    "Say hi to everyone for me.",
    "Will do, talk soon!",
    "I found a nice new coffee place near the station.",
    "Oh, what is it called? I need a better coffee spot.",
    "Did you finish that series you were watching?",
    "Almost, two episodes left.",
];

/// One dialogue: two people and the number of sessions.
struct Dialogue {
    slug: &'static str,
    a: &'static str,
    b: &'static str,
    a_about: &'static str,
    b_about: &'static str,
    start: &'static str,
}

const DIALOGUES: &[Dialogue] = &[
    Dialogue {
        slug: "maria-tom",
        a: "Maria",
        b: "Tom",
        a_about: "Maria, a friend of Tom since university; works as an architect.",
        b_about: "Tom, a friend of Maria since university; teaches secondary school maths.",
        start: "2025-01-12T18:00:00Z",
    },
    Dialogue {
        slug: "aisha-daniel",
        a: "Aisha",
        b: "Daniel",
        a_about: "Aisha, Daniel's former colleague; a data engineer who loves travelling.",
        b_about: "Daniel, Aisha's former colleague; a product designer with two kids.",
        start: "2025-02-03T19:30:00Z",
    },
    Dialogue {
        slug: "lena-sam",
        a: "Lena",
        b: "Sam",
        a_about: "Lena, Sam's older sister; a nurse who lives in the city.",
        b_about: "Sam, Lena's younger brother; a student who lives with their parents.",
        start: "2025-03-01T10:00:00Z",
    },
];

/// Sessions per dialogue (one story per session).
const SESSIONS: usize = 6;

/// A generated conversational scenario: its folder name and file contents.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationScenario {
    /// Folder name under `fixtures/eval/conversational/`.
    pub dir: String,
    /// `scenario.toml`.
    pub scenario_toml: String,
    /// `graph.jsonl`.
    pub graph_jsonl: String,
    /// `cues.jsonl`.
    pub cues_jsonl: String,
}

fn fill(template: &str, d: &Dialogue) -> String {
    template.replace("{A}", d.a).replace("{B}", d.b)
}

fn line(v: &Value) -> String {
    let mut s = phase_memory_model::canonical_json(v);
    s.push('\n');
    s
}

/// One turn: the speaker, the text and its role in the story (`anchor`, `answer`)
/// if any.
type Turn = (Who, String, Option<&'static str>);

/// Generates every dialogue of the family for `seed`.
pub fn generate(seed: u64) -> Result<Vec<ConversationScenario>> {
    let mut rng = Rng::new(seed);
    let mut arcs: Vec<usize> = (0..ARCS.len()).collect();
    rng.shuffle(&mut arcs);
    let mut out = Vec::new();
    for (di, d) in DIALOGUES.iter().enumerate() {
        let start: Time = d
            .start
            .parse()
            .with_context(|| format!("dialogue start {}", d.start))?;
        let mut graph = people_graph(d, start);
        let mut cues = String::new();
        let mut session_at = start;
        let mut prev_session: Option<String> = None;
        let mut last_at = start;
        for s in 1..=SESSIONS {
            let arc = &ARCS[arcs[(di * SESSIONS + s - 1) % arcs.len()]];
            let session = format!("{}/S{s}", d.slug);
            graph += &session_node(d, s, &session, session_at, prev_session.as_deref());
            let turns = story_turns(&mut rng, d, arc);
            let evidence = turns_graph(&mut graph, d, &session, session_at, &turns, &mut last_at);
            cues += &cue_line(d, s, arc, evidence)?;
            prev_session = Some(session);
            session_at = session_at.plus_seconds(86_400 * (14 + rng.below(21) as i64));
        }
        let as_of = last_at.plus_seconds(86_400);
        let toml = scenario_toml(d, as_of);
        if di == 0 {
            out.push(builtin_reference(d, &toml, &graph, &cues));
        }
        out.push(ConversationScenario {
            dir: d.slug.to_string(),
            scenario_toml: toml,
            graph_jsonl: graph,
            cues_jsonl: cues,
        });
    }
    Ok(out)
}

/// The node id of a speaker.
fn person(d: &Dialogue, who: Who) -> String {
    match who {
        Who::A => format!("person:{}", d.a.to_lowercase()),
        Who::B => format!("person:{}", d.b.to_lowercase()),
    }
}

/// The two speakers' nodes.
fn people_graph(d: &Dialogue, start: Time) -> String {
    let name = |who: Who| match who {
        Who::A => d.a,
        Who::B => d.b,
    };
    let mut graph = String::new();
    for (who, about) in [(Who::A, d.a_about), (Who::B, d.b_about)] {
        graph += &line(&json!({
            "record": "node", "id": person(d, who), "kind": "entity", "title": name(who),
            "body": about, "labels": ["person"], "created_at": start,
        }));
    }
    graph
}

/// The day (`YYYY-MM-DD`) of an instant.
fn day_of(at: Time) -> String {
    let date = at.to_string();
    date.get(..10).unwrap_or(&date).to_string()
}

/// Session `s`'s node, and its `follows` edge to the previous session.
fn session_node(
    d: &Dialogue,
    s: usize,
    session: &str,
    session_at: Time,
    prev_session: Option<&str>,
) -> String {
    let day = day_of(session_at);
    let mut graph = line(&json!({
        "record": "node", "id": session, "kind": "episode",
        "title": format!("Session {s} of {} and {}, {day}", d.a, d.b),
        "body": format!("A conversation between {} and {} on {day}.", d.a, d.b),
        "labels": ["session"], "created_at": session_at,
    }));
    if let Some(p) = prev_session {
        graph += &line(&json!({"record": "edge", "from": session, "to": p, "type": "follows"}));
    }
    graph
}

/// A session's turns: small talk, the story (anchor, answer, reaction), more small
/// talk.
fn story_turns(rng: &mut Rng, d: &Dialogue, arc: &StoryArc) -> Vec<Turn> {
    let before = 2 + rng.below(4);
    let after = 3 + rng.below(4);
    let mut turns: Vec<Turn> = Vec::new();
    let mut speaker = if rng.chance(0.5) { Who::A } else { Who::B };
    let filler = |rng: &mut Rng, who: Who| (who, FILLER[rng.below(FILLER.len())].to_string(), None);
    for _ in 0..before {
        turns.push(filler(rng, speaker));
        speaker = if speaker == Who::A { Who::B } else { Who::A };
    }
    turns.push((arc.anchor.0, fill(arc.anchor.1, d), Some("anchor")));
    turns.push((arc.answer.0, fill(arc.answer.1, d), Some("answer")));
    let other = if arc.answer.0 == Who::A {
        Who::B
    } else {
        Who::A
    };
    turns.push((other, arc.reaction.to_string(), None));
    speaker = arc.answer.0;
    for _ in 0..after {
        turns.push(filler(rng, speaker));
        speaker = if speaker == Who::A { Who::B } else { Who::A };
    }
    turns
}

/// Appends the turns' nodes and edges to `graph`, one minute apart after
/// `session_at`; sets `last_at` to each turn's time. Returns the ids of the story's
/// turns (the evidence).
fn turns_graph(
    graph: &mut String,
    d: &Dialogue,
    session: &str,
    session_at: Time,
    turns: &[Turn],
    last_at: &mut Time,
) -> Vec<String> {
    let day = day_of(session_at);
    let mut evidence = Vec::new();
    let mut prev_turn: Option<String> = None;
    for (t, (who, text, role)) in turns.iter().enumerate() {
        let id = format!("{session}:T{:02}", t + 1);
        let at = session_at.plus_seconds(60 * (t as i64 + 1));
        *last_at = at;
        *graph += &line(&json!({
            "record": "node", "id": id, "kind": "episode",
            "title": format!("{day} {}", at.to_string().get(11..16).unwrap_or("")),
            "body": text, "labels": ["turn"], "created_at": at,
        }));
        *graph += &line(&json!({"record": "edge", "from": id, "to": session, "type": "part_of"}));
        *graph += &line(
            &json!({"record": "edge", "from": id, "to": person(d, *who), "type": "mentions"}),
        );
        if let Some(p) = &prev_turn {
            *graph += &line(&json!({"record": "edge", "from": id, "to": p, "type": "follows"}));
        }
        if role.is_some() {
            evidence.push(id.clone());
        }
        prev_turn = Some(id);
    }
    evidence
}

/// Session `s`'s question, expecting the story's turns.
fn cue_line(d: &Dialogue, s: usize, arc: &StoryArc, evidence: Vec<String>) -> Result<String> {
    let case = CueCase {
        id: format!("{}-q{s}", d.slug),
        cue: CueSpec {
            text: Some(fill(arc.question, d)),
            ..CueSpec::default()
        },
        actor: None,
        budget_tokens: None,
        limit: None,
        as_of: None,
        expect: evidence,
        forbid: Vec::new(),
        note: Some(arc.answer_note.to_string()),
    };
    Ok(line(
        &serde_json::to_value(&case).context("serializing a cue")?,
    ))
}

/// The dialogue's `scenario.toml`.
fn scenario_toml(d: &Dialogue, as_of: Time) -> String {
    let mut toml = String::new();
    let _ = writeln!(
        toml,
        "# Generated by `cargo run -p phase-memory-eval --example generate_conversational`; do not edit."
    );
    let _ = writeln!(toml, "name = \"{}\"", d.slug);
    let _ = writeln!(toml, "family = \"conversational\"");
    let _ = writeln!(
        toml,
        "description = \"{} sessions between {} and {} over months; each question names a story's topic and asks for what the next turn says (multi-hop over follows).\"",
        SESSIONS, d.a, d.b
    );
    let _ = writeln!(toml, "as_of = \"{as_of}\"");
    let _ = writeln!(toml, "k = 5");
    let _ = writeln!(toml, "profile = \"../dialogue-profile.toml\"");
    let _ = writeln!(toml);
    let _ = writeln!(toml, "[gates]");
    let _ = writeln!(toml, "recall_at_k_min = 0.8");
    let _ = writeln!(toml, "ndcg_at_k_min = 0.7");
    let _ = writeln!(toml, "beats_bm25 = true");
    toml
}

/// The same dialogue under the built-in profile, ungated on ranking: the honest
/// reference for what the dialogue profile contributes.
fn builtin_reference(d: &Dialogue, toml: &str, graph: &str, cues: &str) -> ConversationScenario {
    let builtin = toml
        .replace(
            &format!("name = \"{}\"", d.slug),
            &format!("name = \"{}-builtin-profile\"", d.slug),
        )
        .replace("profile = \"../dialogue-profile.toml\"\n", "")
        .replace(
            "[gates]\nrecall_at_k_min = 0.8\nndcg_at_k_min = 0.7\nbeats_bm25 = true\n",
            "# Reference run under the built-in profile: leaks and budget gated only.\n[gates]\n",
        );
    ConversationScenario {
        dir: format!("{}-builtin-profile", d.slug),
        scenario_toml: builtin,
        graph_jsonl: graph.to_string(),
        cues_jsonl: cues.to_string(),
    }
}

/// Writes the generated scenarios under `family_dir` (one folder each).
pub fn write_fixtures(family_dir: &Path, seed: u64) -> Result<Vec<ConversationScenario>> {
    let scenarios = generate(seed)?;
    for s in &scenarios {
        let dir = family_dir.join(&s.dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (file, text) in [
            ("scenario.toml", &s.scenario_toml),
            ("graph.jsonl", &s.graph_jsonl),
            ("cues.jsonl", &s.cues_jsonl),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(scenarios)
}
