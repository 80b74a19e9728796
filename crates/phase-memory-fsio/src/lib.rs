//! The one durable whole-file write of phase-memory.
//!
//! [`write_atomic`] replaces a file so that, whatever happens (crash, power cut,
//! a full disk), the path holds either the old bytes or the new ones, never a mix:
//!
//! 1. the bytes go to a temp file beside the target with a name unique to this
//!    process and call (`.<name>.<pid>-<n>.tmp`), so two writers never share it;
//! 2. the temp file is fsynced;
//! 3. it is renamed over the target (atomic on POSIX file systems);
//! 4. the folder is fsynced, so the rename itself survives a power cut.
//!
//! On failure the temp file is removed (best effort). Every crate that writes a
//! whole file (store adapters, package archives, the tokens file, exports) goes
//! through here; the file adapter drives the same protocol through its own write
//! seam ([`write_atomic_via`]) so fault-injection tests can fail any single step.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Suffix of every temp file this crate creates (a writer's crash recovery may
/// remove files ending in it).
pub const TMP_SUFFIX: &str = ".tmp";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Options of an atomic write.
#[derive(Clone, Copy, Debug, Default)]
pub struct AtomicOptions {
    /// Unix permission bits of the new file (e.g. `0o600` for secrets); `None`
    /// keeps the process default.
    pub mode: Option<u32>,
}

/// A temp path beside `path`, unique to this process and call:
/// `.<file name>.<pid>-<n>.tmp`.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}-{n}{TMP_SUFFIX}", std::process::id()))
}

/// The folder a path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Fsyncs a folder so the names in it (creations, renames, removals) are durable.
/// A no-op where folders cannot be opened (not Unix).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Creates (or truncates) `path`, writes `data` and fsyncs the file.
pub fn write_synced(path: &Path, data: &[u8], opts: AtomicOptions) -> io::Result<()> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if let Some(mode) = opts.mode {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = opts;
    let mut f = o.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Renames `from` over `to`, then fsyncs the folder(s) involved.
pub fn rename_synced(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    let to_dir = parent_dir(to);
    sync_dir(&to_dir)?;
    let from_dir = parent_dir(from);
    if from_dir != to_dir {
        sync_dir(&from_dir)?;
    }
    Ok(())
}

/// Replaces `path` with `data` atomically and durably (see the crate docs).
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    write_atomic_with(path, data, AtomicOptions::default())
}

/// [`write_atomic`] with options (file mode).
pub fn write_atomic_with(path: &Path, data: &[u8], opts: AtomicOptions) -> io::Result<()> {
    write_atomic_via(
        path,
        data,
        |tmp, d| write_synced(tmp, d, opts),
        rename_synced,
        |tmp| {
            let _ = fs::remove_file(tmp);
        },
    )
}

/// The protocol of [`write_atomic`] over caller-supplied primitives, for a write
/// seam with fault injection: `write_new` must create the temp file and fsync it,
/// `rename` must rename it over the target and fsync the folder, `discard` removes
/// a temp file after a failure (best effort).
pub fn write_atomic_via(
    path: &Path,
    data: &[u8],
    write_new: impl FnOnce(&Path, &[u8]) -> io::Result<()>,
    rename: impl FnOnce(&Path, &Path) -> io::Result<()>,
    discard: impl FnOnce(&Path),
) -> io::Result<()> {
    let tmp = temp_path(path);
    if let Err(e) = write_new(&tmp, data) {
        discard(&tmp);
        return Err(with_path(e, "writing", &tmp));
    }
    if let Err(e) = rename(&tmp, path) {
        discard(&tmp);
        return Err(with_path(e, "renaming into place", path));
    }
    Ok(())
}

/// An I/O error whose message names the action and path; the kind is kept.
fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").expect("first write");
        write_atomic(&p, b"two").expect("second write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "only the target remains: {names:?}");
    }

    #[test]
    fn temp_names_are_unique_and_hidden() {
        let p = Path::new("/x/manifest.json");
        let a = temp_path(p);
        let b = temp_path(p);
        assert_ne!(a, b);
        let name = a.file_name().expect("name").to_string_lossy().into_owned();
        assert!(name.starts_with(".manifest.json.") && name.ends_with(TMP_SUFFIX));
    }

    #[test]
    fn a_failed_write_keeps_the_old_bytes_and_removes_the_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.json");
        write_atomic(&p, b"old").expect("write");
        let err = write_atomic_via(
            &p,
            b"new",
            |tmp, d| {
                write_synced(tmp, &d[..1], AtomicOptions::default())?;
                Err(io::Error::other("injected"))
            },
            rename_synced,
            |tmp| {
                let _ = fs::remove_file(tmp);
            },
        )
        .expect_err("injected failure");
        assert!(err.to_string().contains("injected"));
        assert_eq!(fs::read(&p).expect("read"), b"old");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn honours_the_file_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("secret");
        write_atomic_with(&p, b"s", AtomicOptions { mode: Some(0o600) }).expect("write");
        let mode = fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
