//! What the scenario runner and the conversation benchmark share when they talk to
//! a runtime and write their reports: the item ids of an activation envelope, its
//! diagnostics as one line, a `graph.import` that fails loudly, and the JSON report
//! file.

use std::path::Path;

use anyhow::{Context, Result, bail};
use phase_memory_model::{Envelope, Status};
use phase_memory_runtime::{CallContext, Runtime};
use serde::Serialize;
use serde_json::{Value, json};

/// The diagnostics of an envelope as `code: message; …`.
pub(crate) fn errors(env: &Envelope) -> String {
    env.diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The node ids of an activation envelope's items, in rank order.
pub(crate) fn item_ids(env: &Envelope) -> Vec<String> {
    env.data
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("node").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Imports `records` with `graph.import` as `ctx`; an answer other than `ok` is an
/// error naming `what` and the diagnostics.
pub(crate) fn import(
    rt: &mut Runtime,
    records: &[Value],
    ctx: &CallContext,
    what: &str,
) -> Result<()> {
    let env = rt.run("graph.import", json!({ "records": records }), ctx);
    if env.status != Status::Ok {
        bail!(
            "{what}: graph.import answered {}: {}",
            env.status.as_str(),
            errors(&env)
        );
    }
    Ok(())
}

/// Writes `report` as pretty JSON with a final newline, creating the parent folder.
pub fn write_report<T: Serialize>(path: &Path, report: &T) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let json = serde_json::to_string_pretty(report).context("serializing the report")?;
    std::fs::write(path, json + "\n")
        .with_context(|| format!("writing the report {}", path.display()))
}
