//! Server paths named in requests, and the bounds on reading them.
//!
//! A local caller (the CLI, tests) names its own files. A network or tool client
//! ([`Origin::Remote`]) names none unless the service was started with a data
//! folder, and then only relative paths that resolve inside it: no absolute path,
//! no `..`, no symbolic link leading out (the deepest existing ancestor is
//! canonicalised and must stay inside the folder). Reads are bounded in bytes;
//! errors name the path the client gave, never a file's content.
//!
//! Refusals are complete answers (`Outcome`), large by design and off the hot path.
#![allow(clippy::result_large_err)]

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use phase_memory_model::{Diagnostic, Status};

use crate::context::{CallContext, Origin};
use crate::outcome::Outcome;

/// Largest file a remote client may have the service read (64 MiB).
pub const REMOTE_MAX_READ_BYTES: u64 = 64 * 1024 * 1024;

/// Largest file a local caller reads in one request (4 GiB: bounded, not tight).
pub const LOCAL_MAX_READ_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Whether a path is read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The file (or folder) must exist.
    Read,
    /// The file (or folder) is created or replaced.
    Write,
}

fn denied(message: String) -> Outcome {
    let mut o = Outcome::fail(Status::Denied, Diagnostic::error("files.denied", message));
    o.decision = "deny".into();
    o.rule_id = Some("files".into());
    o
}

/// The server path a request's `given` path stands for, or the refusal.
pub fn resolve(ctx: &CallContext, given: &str, access: Access) -> Result<PathBuf, Outcome> {
    let data_dir = match &ctx.origin {
        Origin::Local => return Ok(PathBuf::from(given)),
        Origin::Remote { data_dir: None } => {
            return Err(denied(
                "this service was started without --data-dir, so no operation may name a server path; send the content inline (`records`, `source`) or leave the path out to get the result in the response".into(),
            ));
        }
        Origin::Remote {
            data_dir: Some(dir),
        } => dir,
    };
    resolve_inside(data_dir, given, access).map_err(denied)
}

/// Resolves `given` inside `root` (see the module docs); the error is a message
/// naming only `given`.
pub fn resolve_inside(root: &Path, given: &str, access: Access) -> Result<PathBuf, String> {
    let outside = || {
        format!(
            "path {given:?} is not a relative path inside the service's data folder (no absolute path, no `..`, no link out)"
        )
    };
    if given.is_empty() || given.contains('\0') || given.contains('\\') {
        return Err(outside());
    }
    let rel = Path::new(given);
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(outside());
    }
    let root = root
        .canonicalize()
        .map_err(|_| "the service's data folder is not readable".to_string())?;
    let joined = root.join(rel);
    // The deepest existing ancestor (or the path itself) must resolve inside.
    let mut probe = joined.as_path();
    loop {
        match probe.canonicalize() {
            Ok(c) => {
                if !c.starts_with(&root) {
                    return Err(outside());
                }
                break;
            }
            Err(_) => match probe.parent() {
                Some(p) => probe = p,
                None => return Err(outside()),
            },
        }
    }
    if probe == joined {
        // It exists: never follow a link at the final component.
        if let Ok(m) = std::fs::symlink_metadata(&joined)
            && m.file_type().is_symlink()
        {
            return Err(outside());
        }
    } else if access == Access::Read {
        return Err(format!("no file {given:?} in the service's data folder"));
    }
    Ok(joined)
}

/// The byte limit for reads by this caller.
pub fn read_limit(ctx: &CallContext) -> u64 {
    if ctx.origin.is_remote() {
        REMOTE_MAX_READ_BYTES
    } else {
        LOCAL_MAX_READ_BYTES
    }
}

/// Reads a text file the request named, bounded in bytes. Errors name `given`
/// and the reason, never the content.
pub fn read_text(ctx: &CallContext, given: &str, what: &str) -> Result<String, Outcome> {
    let path = resolve(ctx, given, Access::Read)?;
    let limit = read_limit(ctx);
    let cannot = |why: String| {
        Outcome::invalid(
            "request.invalid",
            format!("cannot read {what} {given}: {why}"),
        )
    };
    let meta = std::fs::metadata(&path).map_err(|e| cannot(e.kind().to_string()))?;
    if !meta.is_file() {
        return Err(cannot("not a regular file".into()));
    }
    if meta.len() > limit {
        return Err(Outcome::invalid(
            "files.limit",
            format!("{what} {given} is larger than the {limit}-byte limit"),
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| cannot(e.kind().to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(Outcome::invalid(
            "files.limit",
            format!("{what} {given} is larger than the {limit}-byte limit"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| cannot("not UTF-8 text".into()))
}

/// Writes text to a file atomically (`phase_memory_fsio::write_atomic`: unique
/// temp file, fsync, rename, folder fsync). Handlers write files only through
/// here.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<(), Outcome> {
    phase_memory_fsio::write_atomic(path, text.as_bytes())
        .map_err(|e| Outcome::error("store.io", format!("writing {}: {e}", path.display())))
}

/// Writes `text` as the file `name` of the store folder's `quarantine/` folder
/// (created on demand) and returns the file's path.
pub(crate) fn quarantine(store_dir: &Path, name: &str, text: &str) -> Result<PathBuf, Outcome> {
    let q = store_dir.join("quarantine");
    std::fs::create_dir_all(&q)
        .map_err(|e| Outcome::error("store.io", format!("creating {}: {e}", q.display())))?;
    let f = q.join(name);
    write_text(&f, text)?;
    Ok(f)
}

/// Package read limits for this caller: tight for remote clients.
pub fn package_limits(ctx: &CallContext) -> phase_memory_package::ReadLimits {
    if ctx.origin.is_remote() {
        phase_memory_package::ReadLimits {
            max_bytes: REMOTE_MAX_READ_BYTES,
            max_entries: 10_000,
            max_problems: 100,
            max_time: std::time::Duration::from_secs(5),
        }
    } else {
        phase_memory_package::ReadLimits::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir(root.join("in")).expect("mkdir");
        std::fs::write(root.join("in/a.jsonl"), "{}").expect("write");
        assert!(resolve_inside(root, "in/a.jsonl", Access::Read).is_ok());
        assert!(resolve_inside(root, "in/new.jsonl", Access::Write).is_ok());
        assert!(resolve_inside(root, "in/missing", Access::Read).is_err());
        for bad in ["/etc/passwd", "../x", "in/../../x", "", "a\\b"] {
            assert!(resolve_inside(root, bad, Access::Read).is_err(), "{bad}");
            assert!(resolve_inside(root, bad, Access::Write).is_err(), "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", root.join("link")).expect("symlink");
            assert!(resolve_inside(root, "link/passwd", Access::Read).is_err());
            assert!(resolve_inside(root, "link/new", Access::Write).is_err());
            assert!(resolve_inside(root, "link", Access::Write).is_err());
        }
    }
}
