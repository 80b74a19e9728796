//! Parsing and validation of profile TOML with diagnostics that name the file, the
//! line and column, and the field.

use std::collections::BTreeSet;
use std::fmt;

use phase_memory_model::validate_id;

use crate::types::*;

/// One problem in a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileProblem {
    /// Field path, e.g. `lifecycle[2].to`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line, when located.
    pub line: Option<usize>,
    /// 1-based column, when located.
    pub column: Option<usize>,
}

/// A profile that does not parse or validate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ProfileError {
    /// The file (or origin) the profile came from.
    pub origin: String,
    /// Every problem found.
    pub problems: Vec<ProfileProblem>,
}

impl ProfileProblem {
    /// `file:line:col` location string.
    pub fn location(&self, origin: &str) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{origin}:{l}:{c}"),
            (Some(l), None) => format!("{origin}:{l}"),
            _ => origin.to_string(),
        }
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}: {}: {}",
                p.location(&self.origin),
                p.field,
                p.message
            )?;
        }
        Ok(())
    }
}

/// Line and column (1-based) of a byte offset.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

pub(crate) fn parse_and_validate(source: &str, origin: &str) -> Result<Profile, ProfileError> {
    let mut profile: Profile = match toml::from_str(source) {
        Ok(p) => p,
        Err(e) => {
            let (line, column) = match e.span() {
                Some(span) => {
                    let (l, c) = line_col(source, span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            // The source may be any file (a mistaken path): diagnostics quote
            // nothing from it but names the profile schema itself declares.
            let message = scrub_message(e.message());
            let field = e
                .span()
                .and_then(|s| key_at(source, s.start))
                .filter(|k| is_schema_path(k))
                .unwrap_or_else(|| {
                    let f = field_from_message(e.message());
                    if is_schema_path(&f) {
                        f
                    } else {
                        "(document)".to_string()
                    }
                });
            return Err(ProfileError {
                origin: origin.to_string(),
                problems: vec![ProfileProblem {
                    field,
                    message,
                    line,
                    column,
                }],
            });
        }
    };
    for ph in &mut profile.phases {
        if ph.name == "forgotten" {
            ph.purge = true;
        }
    }
    let mut problems = Vec::new();
    check(&profile, &mut problems);
    if problems.is_empty() {
        Ok(profile)
    } else {
        for p in &mut problems {
            if let Some((l, c)) = locate(source, &p.field) {
                p.line = Some(l);
                p.column = Some(c);
            }
        }
        Err(ProfileError {
            origin: origin.to_string(),
            problems,
        })
    }
}

/// The key (or table header) on the line holding `offset`, qualified by its table.
fn key_at(source: &str, offset: usize) -> Option<String> {
    let offset = offset.min(source.len());
    let start = source[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = source[start..].lines().next().unwrap_or("").trim();
    let mut table = String::new();
    for l in source[..start].lines().rev() {
        let t = l.trim();
        if t.starts_with('[') {
            table = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            break;
        }
    }
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    }
    let key = line.split('=').next()?.trim();
    if key.is_empty() {
        return None;
    }
    Some(if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    })
}

/// Whether every segment of a dotted key is a field name of the profile schema
/// (or a declared-by-the-user map key: kinds, edge types, roles are user names
/// but then the source is a profile, not some other file).
fn is_schema_path(path: &str) -> bool {
    let names = schema_names();
    let segs: Vec<&str> = path.split('.').map(str::trim).collect();
    // The first segment must be a top-level field; later ones are fields or names
    // under a map the schema declares (kinds.fact.initial_phase).
    segs.first().is_some_and(|f| names.contains(*f))
        && segs.iter().all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// Every property name in the profile's JSON Schema.
fn schema_names() -> &'static BTreeSet<String> {
    static NAMES: std::sync::OnceLock<BTreeSet<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut out = BTreeSet::new();
        fn walk(v: &serde_json::Value, out: &mut BTreeSet<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::Object(props)) = m.get("properties") {
                        out.extend(props.keys().cloned());
                    }
                    m.values().for_each(|x| walk(x, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        walk(&crate::Profile::json_schema(), &mut out);
        out
    })
}

/// A parser message with anything quoted from the source replaced: the TOML
/// parser quotes unknown keys and values in backticks or double quotes, and the
/// source may be a file that is not a profile at all. Names of the profile
/// schema survive (`missing field `levels``).
fn scrub_message(msg: &str) -> String {
    let mut out = String::new();
    for (i, part) in msg.split('`').enumerate() {
        if i % 2 == 1 {
            if schema_names().contains(part) || is_toml_word(part) {
                out.push('`');
                out.push_str(part);
                out.push('`');
            } else {
                out.push_str("`…`");
            }
        } else {
            out.push_str(&scrub_quotes(part));
        }
    }
    out.lines().next().unwrap_or("").chars().take(200).collect()
}

fn is_toml_word(s: &str) -> bool {
    ["=", "]", "[", ",", "}", "{", ".", "\"", "'", "\n", "#"].contains(&s)
}

fn scrub_quotes(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('"').enumerate() {
        if i > 0 {
            out.push('"');
        }
        if i % 2 == 1 && !schema_names().contains(part) {
            out.push('…');
        } else {
            out.push_str(part);
        }
    }
    out
}

fn field_from_message(msg: &str) -> String {
    // toml messages name the field in backticks: "missing field `levels`".
    msg.split('`').nth(1).unwrap_or("(document)").to_string()
}

struct Ctx<'a> {
    problems: &'a mut Vec<ProfileProblem>,
}

impl Ctx<'_> {
    fn bad(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(ProfileProblem {
            field: field.into(),
            message: message.into(),
            line: None,
            column: None,
        });
    }
}

fn check(p: &Profile, problems: &mut Vec<ProfileProblem>) {
    let mut cx = Ctx { problems };
    if p.name.trim().is_empty() {
        cx.bad("name", "the profile needs a non-empty name");
    }
    // Sensitivity.
    let levels: BTreeSet<&str> = p.sensitivity.levels.iter().map(|s| s.as_str()).collect();
    if p.sensitivity.levels.is_empty() {
        cx.bad(
            "sensitivity.levels",
            "declare at least one sensitivity level",
        );
    }
    if levels.len() != p.sensitivity.levels.len() {
        cx.bad("sensitivity.levels", "sensitivity levels must be unique");
    }
    for l in &p.sensitivity.levels {
        if let Err(e) = validate_id(l) {
            cx.bad("sensitivity.levels", format!("bad level name {l:?}: {e}"));
        }
    }
    if !levels.contains(p.sensitivity.default.as_str()) {
        cx.bad(
            "sensitivity.default",
            format!(
                "default level {:?} is not one of the declared levels",
                p.sensitivity.default
            ),
        );
    }
    // Tokenizer.
    if !["o200k_base", "cl100k_base", "chars4"].contains(&p.tokenizer.encoding.as_str()) {
        cx.bad(
            "tokenizer.encoding",
            format!(
                "unknown tokenizer {:?} (want o200k_base, cl100k_base or chars4)",
                p.tokenizer.encoding
            ),
        );
    }
    // Phases.
    let phases: BTreeSet<&str> = p.phases.iter().map(|s| s.name.as_str()).collect();
    if p.phases.is_empty() {
        cx.bad("phases", "declare at least one phase");
    }
    let mut seen_phases = BTreeSet::new();
    for (i, ph) in p.phases.iter().enumerate() {
        if !seen_phases.insert(ph.name.as_str()) {
            cx.bad(
                format!("phases[{i}].name"),
                format!("duplicate phase {:?}: phase names must be unique", ph.name),
            );
        }
    }
    let purge_phases: BTreeSet<&str> = p
        .phases
        .iter()
        .filter(|ph| ph.purge)
        .map(|ph| ph.name.as_str())
        .collect();
    for (i, ph) in p.phases.iter().enumerate() {
        if ph.name.trim().is_empty() {
            cx.bad(format!("phases[{i}].name"), "a phase needs a name");
        } else if let Err(e) = validate_id(&ph.name) {
            cx.bad(format!("phases[{i}].name"), format!("bad phase name: {e}"));
        }
        if ph.purge && p.phases.iter().position(|q| q.purge) != Some(i) {
            cx.bad(
                format!("phases[{i}].purge"),
                "declare at most one purging phase (a phase named `forgotten` purges)",
            );
        }
        if !(0.0..=1.0).contains(&ph.activation_weight) {
            cx.bad(
                format!("phases[{i}].activation_weight"),
                format!(
                    "activation_weight {} is outside [0, 1]",
                    ph.activation_weight
                ),
            );
        }
        if ph.purge && ph.activation_weight > 0.0 {
            cx.bad(
                format!("phases[{i}].activation_weight"),
                "a purging phase must have activation_weight 0",
            );
        }
    }
    // Kinds.
    if p.kinds.is_empty() {
        cx.bad("kinds", "declare at least one node kind");
    }
    for (k, spec) in &p.kinds {
        if let Err(e) = validate_id(k) {
            cx.bad(format!("kinds.{k}"), format!("bad kind name: {e}"));
        }
        if !phases.contains(spec.initial_phase.as_str()) {
            cx.bad(
                format!("kinds.{k}.initial_phase"),
                format!("unknown phase {:?}", spec.initial_phase),
            );
        } else if purge_phases.contains(spec.initial_phase.as_str()) {
            cx.bad(
                format!("kinds.{k}.initial_phase"),
                format!(
                    "initial phase {:?} purges content: new nodes would be erased on arrival",
                    spec.initial_phase
                ),
            );
        }
        if let Some(s) = &spec.default_sensitivity
            && !levels.contains(s.as_str())
        {
            cx.bad(
                format!("kinds.{k}.default_sensitivity"),
                format!("unknown sensitivity level {s:?}"),
            );
        }
    }
    // Edge types.
    for (t, spec) in &p.edge_types {
        if let Err(e) = validate_id(t) {
            cx.bad(
                format!("edge_types.{t}"),
                format!("bad edge type name: {e}"),
            );
        }
        if !(spec.weight.is_finite() && spec.weight >= 0.0) {
            cx.bad(
                format!("edge_types.{t}.weight"),
                format!("edge weight {} must be a finite number >= 0", spec.weight),
            );
        }
    }
    // Activation.
    let a = &p.activation;
    let unit = |x: f64| (0.0..=1.0).contains(&x);
    if !(a.decay > 0.0 && a.decay < 1.0) {
        cx.bad(
            "activation.decay",
            format!("decay {} must be in (0, 1)", a.decay),
        );
    }
    if a.max_hops > 6 {
        cx.bad(
            "activation.max_hops",
            format!("max_hops {} is above the limit of 6", a.max_hops),
        );
    }
    for (name, v) in [
        ("hop_decay", a.hop_decay),
        ("spread_threshold", a.spread_threshold),
        ("redundancy_threshold", a.redundancy_threshold),
        ("redundancy_penalty", a.redundancy_penalty),
        ("feedback_weight", a.feedback_weight),
    ] {
        if !unit(v) {
            cx.bad(
                format!("activation.{name}"),
                format!("{name} {v} is outside [0, 1]"),
            );
        }
    }
    for (name, v) in [
        ("lexical_weight", a.lexical_weight),
        ("hint_weight", a.hint_weight),
        ("event_weight", a.event_weight),
        ("spread_weight", a.spread_weight),
        ("base_level_weight", a.base_level_weight),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            cx.bad(
                format!("activation.{name}"),
                format!("{name} {v} must be a finite number >= 0"),
            );
        }
    }
    if a.event_half_life_hours.is_nan() || a.event_half_life_hours <= 0.0 {
        cx.bad(
            "activation.event_half_life_hours",
            "event_half_life_hours must be > 0",
        );
    }
    for (name, v, max) in [
        ("feedback_docs", a.feedback_docs, 50),
        ("feedback_terms", a.feedback_terms, 64),
    ] {
        if v > max {
            cx.bad(
                format!("activation.{name}"),
                format!("{name} {v} is above the limit of {max}"),
            );
        }
    }
    crate::semantic::problems(a).into_iter().for_each(|(f, m)| cx.bad(f, m));
    if a.default_limit == 0 {
        cx.bad(
            "activation.default_limit",
            "default_limit must be at least 1",
        );
    }
    // Lifecycle.
    let mut ids = BTreeSet::new();
    for (i, r) in p.lifecycle.iter().enumerate() {
        if r.id.trim().is_empty() {
            cx.bad(format!("lifecycle[{i}].id"), "a lifecycle rule needs an id");
        } else if !ids.insert(r.id.as_str()) {
            cx.bad(
                format!("lifecycle[{i}].id"),
                format!("duplicate rule id {:?}", r.id),
            );
        }
        if !phases.contains(r.to.as_str()) {
            cx.bad(
                format!("lifecycle[{i}].to"),
                format!("unknown phase {:?}", r.to),
            );
        }
        for f in &r.from {
            if !phases.contains(f.as_str()) {
                cx.bad(
                    format!("lifecycle[{i}].from"),
                    format!("unknown phase {f:?}"),
                );
            } else if purge_phases.contains(f.as_str()) {
                cx.bad(
                    format!("lifecycle[{i}].from"),
                    format!("phase {f:?} purges content: a forgotten node never changes phase"),
                );
            }
        }
        if !r.from.is_empty() && r.from.iter().all(|f| f == &r.to) {
            cx.bad(
                format!("lifecycle[{i}].to"),
                format!(
                    "the rule moves nodes from {:?} to itself and can never change anything",
                    r.to
                ),
            );
        }
        check_conditions(&mut cx, &format!("lifecycle[{i}].when"), &r.when);
        for k in &r.kinds {
            if !p.kinds.contains_key(k) {
                cx.bad(
                    format!("lifecycle[{i}].kinds"),
                    format!("unknown kind {k:?}"),
                );
            }
        }
        if let Some(e) = &r.when.has_edge
            && !p.edge_types.contains_key(&e.edge_type)
        {
            cx.bad(
                format!("lifecycle[{i}].when.has_edge.type"),
                format!("unknown edge type {:?}", e.edge_type),
            );
        }
        if r.when == Conditions::default() {
            cx.bad(
                format!("lifecycle[{i}].when"),
                "a lifecycle rule needs at least one condition",
            );
        }
    }
    // Policy.
    let mut ids = BTreeSet::new();
    for (i, r) in p.policy.rules.iter().enumerate() {
        if r.id.trim().is_empty() {
            cx.bad(format!("policy.rules[{i}].id"), "a policy rule needs an id");
        } else if !ids.insert(r.id.as_str()) {
            cx.bad(
                format!("policy.rules[{i}].id"),
                format!("duplicate rule id {:?}", r.id),
            );
        }
        for k in &r.kinds {
            if !p.kinds.contains_key(k) {
                cx.bad(
                    format!("policy.rules[{i}].kinds"),
                    format!("unknown kind {k:?}"),
                );
            }
        }
        for (field, list) in [("phases", &r.phases), ("target_phase", &r.target_phase)] {
            for ph in list {
                if !phases.contains(ph.as_str()) {
                    cx.bad(
                        format!("policy.rules[{i}].{field}"),
                        format!("unknown phase {ph:?}"),
                    );
                }
            }
        }
        for op in &r.operations {
            if let Err(why) = check_operation_pattern(op) {
                cx.bad(format!("policy.rules[{i}].operations"), why);
            }
        }
        if let Some(role) = r.roles_any.iter().find(|x| r.roles_none.contains(x)) {
            cx.bad(
                format!("policy.rules[{i}].roles_none"),
                format!(
                    "role {role:?} is in both roles_any and roles_none: the rule can never match"
                ),
            );
        }
        for (field, list) in [
            ("roles_any", &r.roles_any),
            ("roles_none", &r.roles_none),
            ("scopes", &r.scopes),
            ("labels", &r.labels),
        ] {
            if list.iter().any(|x| x.trim().is_empty()) {
                cx.bad(
                    format!("policy.rules[{i}].{field}"),
                    "entries must not be empty",
                );
            }
        }
        for s in &r.sensitivity {
            if !levels.contains(s.as_str()) {
                cx.bad(
                    format!("policy.rules[{i}].sensitivity"),
                    format!("unknown sensitivity level {s:?}"),
                );
            }
        }
    }
    for (i, r) in p.policy.admission.iter().enumerate() {
        if r.id.trim().is_empty() {
            cx.bad(
                format!("policy.admission[{i}].id"),
                "an admission rule needs an id",
            );
        } else if !ids.insert(r.id.as_str()) {
            cx.bad(
                format!("policy.admission[{i}].id"),
                format!("duplicate rule id {:?}", r.id),
            );
        }
        if r.effect == Effect::Allow {
            cx.bad(
                format!("policy.admission[{i}].effect"),
                "an admission rule's effect must be deny or review",
            );
        }
        match (&r.builtin, &r.pattern) {
            (Some(_), Some(_)) | (None, None) => cx.bad(format!("policy.admission[{i}]"), "give exactly one of `builtin` or `pattern`"),
            (Some(b), None) if !BUILTIN_PATTERNS.iter().any(|(n, _)| n == b) => cx.bad(
                format!("policy.admission[{i}].builtin"),
                format!("unknown built-in pattern {b:?} (want api_key, private_key, email or card_number)"),
            ),
            (None, Some(re)) => match regex::Regex::new(re) {
                Err(e) => cx.bad(format!("policy.admission[{i}].pattern"), format!("invalid regular expression: {e}")),
                Ok(compiled) if compiled.is_match("") => cx.bad(
                    format!("policy.admission[{i}].pattern"),
                    "the pattern matches empty text, so it would fire on every write",
                ),
                Ok(_) => {}
            },
            _ => {}
        }
        if r.fields.is_empty() {
            cx.bad(
                format!("policy.admission[{i}].fields"),
                "an admission rule must check at least one field (title, body or attrs)",
            );
        }
        for f in &r.fields {
            if !["title", "body", "attrs"].contains(&f.as_str()) {
                cx.bad(
                    format!("policy.admission[{i}].fields"),
                    format!("unknown field {f:?} (want title, body or attrs)"),
                );
            }
        }
    }
    if p.retention.legal_hold_label.trim().is_empty() {
        cx.bad(
            "retention.legal_hold_label",
            "the legal-hold label must not be empty",
        );
    }
    check_access(&mut cx, &p.access);
}

fn check_access(cx: &mut Ctx<'_>, a: &AccessSpec) {
    for (role, classes) in &a.roles {
        if let Err(e) = validate_id(role) {
            cx.bad(
                format!("access.roles.{role}"),
                format!("bad role name: {e}"),
            );
        }
        if classes.contains(&OperationClass::Public) {
            cx.bad(
                format!("access.roles.{role}"),
                "`public` is every actor's already and cannot be granted",
            );
        }
    }
    // The local owner must never lock itself out by applying a profile.
    let owner = a.roles.get("owner");
    let missing: Vec<&str> = OperationClass::ALL
        .into_iter()
        .filter(|c| *c != OperationClass::Public)
        .filter(|c| owner.is_none_or(|cs| !cs.contains(c)))
        .map(|c| c.as_str())
        .collect();
    if !missing.is_empty() {
        cx.bad(
            "access.roles.owner",
            format!(
                "the owner role must grant every class (missing: {})",
                missing.join(", ")
            ),
        );
    }
    for r in &a.reviewer_roles {
        match a.roles.get(r) {
            None => cx.bad(
                "access.reviewer_roles",
                format!("reviewer role {r:?} is not declared in access.roles"),
            ),
            Some(cs) if !cs.contains(&OperationClass::Govern) => cx.bad(
                "access.reviewer_roles",
                format!("reviewer role {r:?} must grant the govern class"),
            ),
            Some(_) => {}
        }
    }
}

/// Operation families of the service (SPEC section 3). A policy rule's operation
/// pattern must be `*`, `family.*` or `family.name` with one of these families, so a
/// misspelt family cannot silently disable a rule.
pub const OPERATION_FAMILIES: &[&str] = &[
    "activation",
    "audit",
    "edge",
    "eval",
    "event",
    "graph",
    "health",
    "lifecycle",
    "node",
    "package",
    "profile",
    "review",
    "store",
];

fn check_operation_pattern(op: &str) -> Result<(), String> {
    if op == "*" {
        return Ok(());
    }
    let Some((family, name)) = op.split_once('.') else {
        return Err(format!(
            "operation {op:?} must be `*`, `family.*` or `family.name` (e.g. audit.query)"
        ));
    };
    if !OPERATION_FAMILIES.contains(&family) {
        return Err(format!(
            "operation {op:?} names an unknown family {family:?} (want one of {})",
            OPERATION_FAMILIES.join(", ")
        ));
    }
    if name.is_empty() || (name != "*" && !name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    {
        return Err(format!(
            "operation {op:?}: the name after the family must be `*` or lowercase letters and `_`"
        ));
    }
    Ok(())
}

fn check_conditions(cx: &mut Ctx<'_>, at: &str, w: &Conditions) {
    for (name, v) in [
        ("age_days_gt", w.age_days_gt),
        ("idle_days_gt", w.idle_days_gt),
    ] {
        if let Some(v) = v
            && !(v.is_finite() && v >= 0.0)
        {
            cx.bad(
                format!("{at}.{name}"),
                format!("{name} {v} must be a finite number of days >= 0"),
            );
        }
    }
    if let Some(v) = w.base_level_lt
        && !v.is_finite()
    {
        cx.bad(
            format!("{at}.base_level_lt"),
            "base_level_lt must be a finite number",
        );
    }
    if let (Some(gte), Some(lt)) = (w.access_count_gte, w.access_count_lt)
        && gte >= lt
    {
        cx.bad(
            format!("{at}.access_count_lt"),
            format!("access_count_gte {gte} and access_count_lt {lt} can never both hold"),
        );
    }
    for (name, v) in [("event_seen", &w.event_seen), ("label", &w.label)] {
        if v.as_ref().is_some_and(|s| s.trim().is_empty()) {
            cx.bad(format!("{at}.{name}"), format!("{name} must not be empty"));
        }
    }
}

/// Built-in admission patterns: (name, regular expression).
pub const BUILTIN_PATTERNS: &[(&str, &str)] = &[
    (
        "api_key",
        r"(?i)\b(?:sk|pk|rk)[-_](?:live|test|proj)?[-_]?[A-Za-z0-9]{16,}\b|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bxox[abpr]-[A-Za-z0-9-]{10,}\b|(?i)\b(?:api[_-]?key|secret|token)\s*[:=]\s*['\x22]?[A-Za-z0-9_\-]{20,}",
    ),
    (
        "private_key",
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY( BLOCK)?-----",
    ),
    (
        "email",
        r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b",
    ),
    ("card_number", r"\b(?:\d[ -]?){13,19}\b"),
];

/// Finds the line and column of a field path in the source, best effort.
fn locate(source: &str, field: &str) -> Option<(usize, usize)> {
    // Split `policy.rules[2].effect` into table path `policy.rules`, index 2, key `effect`.
    let mut table = String::new();
    let mut index: Option<usize> = None;
    let mut rest = field;
    if let Some(open) = field.find('[') {
        table = field[..open].to_string();
        let close = field[open..].find(']')? + open;
        index = field[open + 1..close].parse().ok();
        rest = field[close + 1..].trim_start_matches('.');
    } else if let Some(dot) = field.rfind('.') {
        table = field[..dot].to_string();
        rest = &field[dot + 1..];
    }
    let key = rest.split('.').next().unwrap_or(rest);
    let mut offset = 0;
    let mut in_table = table.is_empty();
    let mut seen = 0usize;
    for line in source.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']').trim();
            in_table = if name == table {
                let hit = index.is_none_or(|i| i == seen);
                seen += 1;
                hit
            } else {
                false
            };
            if in_table && key.is_empty() {
                return Some(line_col(source, offset));
            }
        } else if in_table && !key.is_empty() {
            let k = t.split('=').next().unwrap_or("").trim();
            if k == key {
                let col = line.find(k).unwrap_or(0);
                return Some(line_col(source, offset + col));
            }
        }
        offset += line.len();
    }
    if !table.is_empty() {
        // Fall back to the table header (the indexed one when there is an index).
        if let Some(i) = index
            && !key.is_empty()
        {
            return locate(source, &format!("{table}[{i}]"));
        }
        return locate(source, &table);
    }
    None
}
