//! Profile parsing and validation.

use phase_memory_profile::{DEFAULT_PROFILE_TOML, Profile};

#[test]
fn builtin_profile_matches_the_spec() {
    let p = Profile::builtin();
    let kinds: Vec<&str> = p.kinds.keys().map(|s| s.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "decision", "document", "entity", "episode", "fact", "note", "task"
        ]
    );
    let phases: Vec<&str> = p.phases.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        phases,
        ["captured", "active", "dormant", "archived", "forgotten"]
    );
    assert_eq!(p.sensitivity.default, "internal");
    assert_eq!(p.tokenizer.encoding, "o200k_base");
    assert_eq!(p.forgotten_phase(), Some("forgotten"));
    assert!(p.digest().starts_with("blake3:"));
}

#[test]
fn digest_ignores_comments() {
    let a = Profile::parse(DEFAULT_PROFILE_TOML, "a").expect("parse");
    let b = Profile::parse(&format!("# hello\n{DEFAULT_PROFILE_TOML}"), "b").expect("parse");
    assert_eq!(a.digest(), b.digest());
}

fn check_invalid(edit: &str, field: &str, line_hint: bool) {
    let src = edit_profile(edit);
    let err = Profile::parse(&src, "p.toml").expect_err(edit);
    let p = err.problems.iter().find(|p| p.field.contains(field));
    assert!(
        p.is_some(),
        "{edit}: want a problem naming {field}, got {err}"
    );
    if line_hint {
        assert!(p.and_then(|p| p.line).is_some(), "{edit}: no line in {err}");
    }
}

fn edit_profile(edit: &str) -> String {
    let (from, to) = edit.split_once(" => ").expect("edit");
    assert!(DEFAULT_PROFILE_TOML.contains(from), "fixture lacks {from}");
    DEFAULT_PROFILE_TOML.replacen(from, to, 1)
}

#[test]
fn invalid_profiles_name_field_and_line() {
    check_invalid(
        "default = \"internal\" => default = \"nope\"",
        "sensitivity.default",
        true,
    );
    check_invalid(
        "encoding = \"o200k_base\" => encoding = \"gpt9\"",
        "tokenizer.encoding",
        true,
    );
    check_invalid(
        "initial_phase = \"active\" => initial_phase = \"limbo\"",
        "initial_phase",
        true,
    );
    check_invalid(
        "activation_weight = 0.8 => activation_weight = 3.0",
        "activation_weight",
        true,
    );
    check_invalid("decay = 0.5 => decay = 1.5", "activation.decay", true);
    check_invalid(
        "to = \"active\" => to = \"heaven\"",
        "lifecycle[0].to",
        true,
    );
    check_invalid("weight = 0.6 => weight = -1.0", "weight", true);
    check_invalid(
        "builtin = \"private_key\" => builtin = \"ssn\"",
        "builtin",
        true,
    );
    check_invalid(
        "effect = \"deny\"\noperations = [\"*\"] => effect = \"maybe\"\noperations = [\"*\"]",
        "effect",
        true,
    );
    // An unknown key is reported by position and the expected keys, never by quoting
    // the key itself (profile text may come from any file the caller names).
    check_invalid(
        "name = \"default\" => nmae = \"default\"",
        "(document)",
        true,
    );
    let err = Profile::parse(
        &edit_profile("name = \"default\" => nmae = \"default\""),
        "p.toml",
    )
    .expect_err("unknown key");
    assert!(!err.to_string().contains("nmae"), "{err}");
    assert!(err.to_string().contains("expected one of `name`"), "{err}");
    check_invalid("max_hops = 2 => max_hops = \"two\"", "max_hops", true);
    check_invalid(
        "id = \"idle-goes-dormant\" => id = \"captured-settles\"",
        "lifecycle[1].id",
        true,
    );
}

#[test]
fn more_invalid_profiles_name_field_and_line() {
    // Duplicate phase: the second declaration is named.
    check_invalid(
        "name = \"dormant\" => name = \"active\"",
        "phases[2].name",
        true,
    );
    // Empty levels.
    check_invalid(
        "levels = [\"public\", \"internal\", \"confidential\", \"secret\"] => levels = []",
        "sensitivity.levels",
        true,
    );
    // Unknown edge type in has_edge.
    check_invalid(
        "type = \"supersedes\", direction = \"incoming\" => type = \"replaces\", direction = \"incoming\"",
        "lifecycle[2].when.has_edge.type",
        true,
    );
    // Unknown phase in a policy rule's target_phase.
    check_invalid(
        "target_phase = [\"forgotten\"] => target_phase = [\"oblivion\"]",
        "policy.rules[1].target_phase",
        true,
    );
    // Admission with both builtin and pattern.
    check_invalid(
        "builtin = \"private_key\" => builtin = \"private_key\"\npattern = \"x+\"",
        "policy.admission[0]",
        true,
    );
    // Invalid regular expression.
    check_invalid(
        "builtin = \"api_key\" => pattern = \"([a-z\"",
        "policy.admission[1].pattern",
        true,
    );
    // A pattern that matches empty text fires on every write.
    check_invalid(
        "builtin = \"api_key\" => pattern = \"x*\"",
        "policy.admission[1].pattern",
        true,
    );
    // Misspelt operation family.
    check_invalid(
        "operations = [\"audit.query\", \"audit.prune\"] => operations = [\"audti.query\"]",
        "policy.rules[2].operations",
        true,
    );
    // A role both required and excluded.
    check_invalid(
        "roles_none = [\"owner\", \"auditor\"] => roles_any = [\"owner\"]\nroles_none = [\"owner\", \"auditor\"]",
        "policy.rules[2].roles_none",
        true,
    );
    // Contradictory access counts.
    check_invalid(
        "when = { age_days_gt = 7 } => when = { access_count_gte = 5, access_count_lt = 2 }",
        "lifecycle[0].when.access_count_lt",
        true,
    );
    // Negative age.
    check_invalid(
        "when = { age_days_gt = 7 } => when = { age_days_gt = -1 }",
        "lifecycle[0].when.age_days_gt",
        true,
    );
    // A rule moving out of the purging phase.
    check_invalid(
        "from = [\"captured\"] => from = [\"forgotten\"]",
        "lifecycle[0].from",
        true,
    );
    // A rule from a phase to itself.
    check_invalid(
        "from = [\"captured\"]\nto = \"active\" => from = [\"active\"]\nto = \"active\"",
        "lifecycle[0].to",
        true,
    );
    // New nodes must not start in the purging phase.
    check_invalid(
        "[kinds.fact]\ninitial_phase = \"active\" => [kinds.fact]\ninitial_phase = \"forgotten\"",
        "kinds.fact.initial_phase",
        true,
    );
    // Two purging phases: the second (`forgotten`) is named.
    check_invalid(
        "name = \"archived\"\nactivation_weight = 0.2 => name = \"archived\"\nactivation_weight = 0.0\npurge = true",
        "phases[4].purge",
        true,
    );
    // An admission rule checking no field.
    check_invalid(
        "builtin = \"card_number\" => builtin = \"card_number\"\nfields = []",
        "policy.admission[2].fields",
        true,
    );
    // A bad id for an admission rule.
    check_invalid(
        "id = \"no-api-keys\" => id = \" \"",
        "policy.admission[1].id",
        true,
    );
}

#[test]
fn broken_toml_names_line() {
    let err = Profile::parse("kinds = [\n", "broken.toml").expect_err("broken");
    assert_eq!(err.problems[0].line, Some(1), "{err}");
    assert!(
        err.to_string().starts_with("broken.toml:1:10: kinds:"),
        "{err}"
    );
}

#[test]
fn json_schema_is_generated() {
    let s = Profile::json_schema();
    assert!(s["properties"]["activation"].is_object(), "{s}");
}

#[test]
fn problems_in_indexed_tables_point_at_their_header() {
    let src = edit_profile(
        "name = \"archived\"\nactivation_weight = 0.2 => name = \"archived\"\nactivation_weight = 0.0\npurge = true",
    );
    let err = Profile::parse(&src, "p.toml").expect_err("two purge phases");
    let p = &err.problems[0];
    let line = src.lines().nth(p.line.expect("line") - 1).unwrap_or("");
    assert_eq!(line, "[[phases]]", "{err}");
    let next = src.lines().nth(p.line.expect("line")).unwrap_or("");
    assert_eq!(next, "name = \"forgotten\"", "{err}");
}
