//! docs/operations.md documents every diagnostic code and every operation.

fn operations_md() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_diagnostic_code_is_in_operations_md() {
    let doc = operations_md();
    let missing: Vec<&str> = phase_memory_model::diagnostic::CODES
        .iter()
        .map(|(code, _, _)| *code)
        .filter(|code| !doc.contains(&format!("`{code}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operations.md misses codes: {missing:?}"
    );
}

#[test]
fn every_operation_is_in_operations_md() {
    let doc = operations_md();
    let missing: Vec<&str> = phase_memory_runtime::registry::OPERATIONS
        .iter()
        .map(|o| o.name)
        .filter(|name| !doc.contains(&format!("### `{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operations.md misses operations: {missing:?}"
    );
}

#[test]
fn the_diagnostic_code_table_in_operations_md_is_generated_from_the_code() {
    let doc = operations_md();
    let want = phase_memory_model::diagnostic::codes_markdown();
    let header = want.lines().next().expect("header");
    let start = doc
        .find(header)
        .expect("docs/operations.md has the code table");
    let table: String = doc[start..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        table == want,
        "docs/operations.md's diagnostic code table differs from phase_memory_model::diagnostic::CODES; replace it with:\n\n{want}"
    );
}

#[test]
fn the_documented_http_statuses_are_the_served_ones() {
    use phase_memory_model::Status;
    use phase_memory_model::diagnostic::http_status_of;
    assert_eq!(http_status_of("auth.unauthenticated", Status::Invalid), 401);
    let forgotten = phase_memory_model::diagnostic::CODES
        .iter()
        .find(|(c, _, _)| *c == "node.forgotten")
        .expect("node.forgotten");
    assert_eq!(forgotten.1, Status::Conflict);
}
