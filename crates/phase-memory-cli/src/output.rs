//! Standard output that never panics: a closed pipe (`phase-memory … | head`) or a
//! full disk (`> /dev/full`) turns into one message on stderr and exit 1 instead
//! of the panic `println!` raises.

use std::io::Write;
use std::sync::Mutex;

/// The first write error, if any; later writes are skipped.
static FAILED: Mutex<Option<String>> = Mutex::new(None);

fn record(e: &std::io::Error) {
    let mut f = FAILED.lock().unwrap_or_else(|p| p.into_inner());
    if f.is_none() {
        *f = Some(e.to_string());
    }
}

/// Whether a write to stdout has failed.
pub fn failed() -> bool {
    FAILED.lock().unwrap_or_else(|p| p.into_inner()).is_some()
}

/// Writes one line to stdout (see the `outln!` macro).
pub fn line(args: std::fmt::Arguments<'_>) {
    if failed() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        record(&e);
    }
}

/// Flushes stdout; the first write error of the process, if any.
pub fn finish() -> Result<(), String> {
    if let Err(e) = std::io::stdout().lock().flush() {
        record(&e);
    }
    match FAILED.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}
