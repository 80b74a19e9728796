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
