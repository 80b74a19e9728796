//! Admission: checks a node about to be written against the profile's admission
//! patterns (built-in secret and personal-data detectors or custom regular
//! expressions). Decisions name the rule and the field that matched, never the
//! matched text.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use phase_memory_model::Node;
use phase_memory_profile::{AdmissionRule, BUILTIN_PATTERNS, Effect, Profile};
use regex::Regex;
use serde_json::Value;

use crate::policy::Decision;

/// Most distinct patterns kept in the process-wide regex cache before it is reset.
const CACHE_LIMIT: usize = 512;

/// Admission rules of a profile with their regular expressions compiled once.
/// Build it when a profile is applied and keep it next to the profile; [`admit`]
/// does the same through a process-wide cache keyed by pattern text.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    rules: Vec<CompiledRule>,
}

#[derive(Clone, Debug)]
struct CompiledRule {
    id: String,
    effect: Effect,
    luhn: bool,
    fields: Vec<String>,
    /// The compiled pattern, or why it does not compile (the rule then fails closed).
    matcher: Result<Regex, String>,
}

fn cache() -> &'static Mutex<HashMap<String, Result<Regex, String>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Result<Regex, String>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn compile_cached(source: &str) -> Result<Regex, String> {
    let mut map = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = map.get(source) {
        return r.clone();
    }
    if map.len() >= CACHE_LIMIT {
        map.clear();
    }
    let r = Regex::new(source).map_err(|e| e.to_string());
    map.insert(source.to_string(), r.clone());
    r
}

/// The regular expression source of an admission rule.
fn pattern_source(rule: &AdmissionRule) -> Result<&str, String> {
    match (&rule.builtin, &rule.pattern) {
        (Some(b), None) => BUILTIN_PATTERNS
            .iter()
            .find(|(n, _)| n == b)
            .map(|(_, re)| *re)
            .ok_or_else(|| format!("unknown built-in pattern {b:?}")),
        (None, Some(p)) => Ok(p.as_str()),
        _ => Err("an admission rule needs exactly one of builtin or pattern".to_string()),
    }
}

impl CompiledPolicy {
    /// Compiles the admission rules of a profile. Never fails: a rule whose pattern
    /// does not compile (only possible for a profile that skipped validation) fails
    /// closed, i.e. it fires on every write it checks.
    pub fn new(profile: &Profile) -> Self {
        let rules = profile
            .policy
            .admission
            .iter()
            .filter(|r| r.effect != Effect::Allow)
            .map(|r| CompiledRule {
                id: r.id.clone(),
                effect: r.effect,
                luhn: r.builtin.as_deref() == Some("card_number"),
                fields: r.fields.clone(),
                matcher: pattern_source(r).and_then(compile_cached),
            })
            .collect();
        CompiledPolicy { rules }
    }

    /// Checks a node about to be written. `None` when no admission rule fires;
    /// otherwise deny beats review, and the first rule (in profile order) with the
    /// winning effect names the decision. The reason names the rule and the fields
    /// that matched, never the matched text.
    pub fn admit(&self, node: &Node) -> Option<Decision> {
        let mut best: Option<(&CompiledRule, Vec<&str>)> = None;
        for rule in &self.rules {
            let fields = rule.matching_fields(node);
            if fields.is_empty() {
                continue;
            }
            if best.as_ref().is_none_or(|(b, _)| rule.effect > b.effect) {
                best = Some((rule, fields));
            }
        }
        best.map(|(rule, fields)| {
            let what = match &rule.matcher {
                Ok(_) => format!("matched the {}", join_fields(&fields)),
                Err(_) => {
                    "has a pattern that does not compile (checked writes fail closed)".to_string()
                }
            };
            Decision {
                effect: rule.effect,
                rule_id: Some(rule.id.clone()),
                reason: format!(
                    "admission rule {:?} {what}: {}",
                    rule.id,
                    match rule.effect {
                        Effect::Deny => "the write is refused",
                        _ => "the write needs review",
                    }
                ),
            }
        })
    }

    /// Number of admission rules (with an effect other than allow).
    pub fn admission_rule_count(&self) -> usize {
        self.rules.len()
    }
}

fn join_fields(fields: &[&str]) -> String {
    match fields {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl CompiledRule {
    fn matching_fields<'n>(&'n self, node: &Node) -> Vec<&'n str> {
        let mut out = Vec::new();
        for f in &self.fields {
            let hit = match f.as_str() {
                "title" => self.hits(&node.title),
                "body" => self.hits(&node.body),
                "attrs" => node
                    .attrs
                    .iter()
                    .any(|(k, v)| self.hits(k) || self.hits_value(v)),
                _ => false,
            };
            if hit && !out.contains(&f.as_str()) {
                out.push(f.as_str());
            }
        }
        out
    }

    fn hits_value(&self, v: &Value) -> bool {
        match v {
            Value::String(s) => self.hits(s),
            // Integers can carry card or account numbers; a float's digits are not text.
            Value::Number(n) if n.is_i64() || n.is_u64() => self.hits(&n.to_string()),
            Value::Number(_) => false,
            Value::Array(items) => items.iter().any(|i| self.hits_value(i)),
            Value::Object(m) => m.iter().any(|(k, v)| self.hits(k) || self.hits_value(v)),
            Value::Null | Value::Bool(_) => false,
        }
    }

    fn hits(&self, text: &str) -> bool {
        match &self.matcher {
            // Fail closed: an uncompilable pattern fires on any non-empty text.
            Err(_) => !text.is_empty(),
            Ok(re) if self.luhn => re.find_iter(text).any(|m| luhn_valid(m.as_str())),
            Ok(re) => re.is_match(text),
        }
    }
}

/// Whether the digits of `text` (spaces and dashes ignored) form a number of 13–19
/// digits that passes the Luhn checksum, as every payment card number does. The
/// `card_number` built-in uses it to skip timestamps, phone numbers and other long
/// digit runs.
pub fn luhn_valid(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Checks a node about to be written against the profile's admission rules (see
/// [`CompiledPolicy::admit`]). Regular expressions are compiled once per pattern
/// and cached for the process.
pub fn admit(profile: &Profile, node: &Node) -> Option<Decision> {
    if profile.policy.admission.is_empty() {
        return None;
    }
    CompiledPolicy::new(profile).admit(node)
}
