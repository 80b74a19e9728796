//! Human-readable rendering of envelopes: each operation's `data` is read back
//! into its response type and shown by that type's `Human` impl (next to the
//! type in the runtime's `response` module); data without a text of its own is
//! shown as pretty JSON. Diagnostics go to stderr, coloured when stderr is a
//! terminal.

use std::fmt::Write;
use std::io::IsTerminal;

use phase_memory_model::{Envelope, Severity, Status};
use phase_memory_runtime::registry;
use phase_memory_runtime::response::ReviewRequired;

/// (stdout, stderr) renderings of an envelope.
pub fn human(env: &Envelope) -> (String, String) {
    let text = registry::find(&env.operation).and_then(|spec| (spec.human)(&env.data).ok()?);
    let out = match text {
        Some(text) => text,
        None if env.status == Status::Ok => {
            serde_json::to_string_pretty(&env.data).unwrap_or_default()
        }
        None => String::new(),
    };
    let color = std::io::stderr().is_terminal();
    let paint = |code: &str, t: &str| {
        if color {
            format!("\x1b[{code}m{t}\x1b[0m")
        } else {
            t.to_string()
        }
    };
    let mut err = String::new();
    if env.status != Status::Ok {
        let _ = writeln!(
            err,
            "{}: {}",
            paint("1;31", env.status.as_str()),
            env.operation
        );
    }
    for diag in &env.diagnostics {
        let (c, label) = match diag.severity {
            Severity::Error => ("31", "error"),
            Severity::Warning => ("33", "warning"),
            Severity::Info => ("36", "info"),
        };
        let at = diag
            .path
            .as_ref()
            .map(|p| format!(" at {p}"))
            .unwrap_or_default();
        let _ = writeln!(
            err,
            "{}[{}]{at}: {}",
            paint(c, label),
            diag.code,
            diag.message
        );
    }
    if env.status == Status::ReviewRequired
        && let Ok(held) = serde_json::from_value::<ReviewRequired>(env.data.clone())
    {
        let _ = writeln!(err, "{}", held.hint());
    }
    (out, err.trim_end().to_string())
}
