//! The file-system edge: writing a [`Package`] as a folder or a deterministic
//! tar archive, and reading either back for [`verify`].
//!
//! Write protocol (folder): every file is written and fsynced in a fresh sibling
//! temporary folder `.<name>.tmp-*`, then renamed into place. An existing
//! destination is replaced only when it is an empty folder or a Markitect
//! package (a `package.json` of format `markitect-package/1`, and nothing but
//! `package.json`, `index.md` and `items/`): it is first renamed to a sibling
//! `.<name>.old-*`, the new folder renamed into place, then the old one removed.
//! A crash leaves either the old or the new package complete at the
//! destination (or, between the two renames, complete under the `.old-*` name)
//! and at worst a stray hidden temporary folder beside it. Anything else at the
//! destination is refused.
//!
//! Write protocol (tar): the archive is built in memory by [`tar_bytes`],
//! written with `phase_memory_fsio::write_atomic` (unique sibling temp file,
//! fsync, rename over the destination, folder fsync).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::PackageError;
use crate::naming::is_safe_relative_path;
use crate::render::{MANIFEST_PATH, PACKAGE_FORMAT};
use crate::verify::{INVALID, VerifyProblem, VerifyReport, verify_files};
use crate::{INDEX_PATH, Package};

/// Largest total size of file contents read from a package (1 GiB).
pub const MAX_READ_BYTES: u64 = 1 << 30;

/// Bounds on reading a package back: bytes of content, entries (files, folders,
/// tar entries) visited, problems recorded and wall time. Past any of them the
/// read stops with an error, so a path that is not a package (a home folder, a
/// huge tree) is refused quickly instead of walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest total size of file contents.
    pub max_bytes: u64,
    /// Most entries visited.
    pub max_entries: u64,
    /// Most problems recorded before giving up.
    pub max_problems: usize,
    /// Longest time spent reading.
    pub max_time: std::time::Duration,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_bytes: MAX_READ_BYTES,
            max_entries: 100_000,
            max_problems: 1_000,
            max_time: std::time::Duration::from_secs(60),
        }
    }
}

/// The read in progress: what is left of the limits.
struct Budget {
    bytes: u64,
    entries: u64,
    max_problems: usize,
    deadline: std::time::Instant,
}

impl Budget {
    fn new(l: &ReadLimits) -> Self {
        Budget {
            bytes: l.max_bytes,
            entries: l.max_entries,
            max_problems: l.max_problems,
            deadline: std::time::Instant::now() + l.max_time,
        }
    }

    /// Counts one entry; errors past a limit.
    fn visit(&mut self, read: &ReadPackage) -> Result<(), PackageError> {
        if self.entries == 0 {
            return Err(PackageError::Invalid(
                "too many entries: this is not a package (the read stopped at its entry limit)"
                    .into(),
            ));
        }
        self.entries -= 1;
        if read.problems.len() >= self.max_problems {
            return Err(PackageError::Invalid(
                "too many problems: this is not a package (the read stopped at its problem limit)"
                    .into(),
            ));
        }
        if std::time::Instant::now() > self.deadline {
            return Err(PackageError::Invalid(
                "reading the package took too long (the read stopped at its time limit)".into(),
            ));
        }
        Ok(())
    }
}

/// Writes a package as a folder at `dir`, atomically (see the module docs).
///
/// Creates missing parent folders. Replaces an empty folder or an existing
/// package; refuses a file, a symbolic link or a folder holding anything else.
pub fn write_dir(pkg: &Package, dir: &Path) -> Result<(), PackageError> {
    check_paths(pkg)?;
    let (parent, name) = split_destination(dir)?;
    let existing = match fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(refused(dir, "it is a symbolic link"));
        }
        Ok(meta) if meta.is_dir() => {
            if !is_replaceable_dir(dir)? {
                return Err(refused(
                    dir,
                    "it is a non-empty folder that is not a Markitect package \
                     (only an empty folder or an existing package is replaced)",
                ));
            }
            true
        }
        Ok(_) => return Err(refused(dir, "it exists and is not a folder")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(PackageError::io("inspecting", dir, e)),
    };
    fs::create_dir_all(&parent).map_err(|e| PackageError::io("creating folder", &parent, e))?;

    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(&parent)
        .map_err(|e| PackageError::io("creating temporary folder in", &parent, e))?;
    for (rel, bytes) in &pkg.files {
        let target = join_relative(staging.path(), rel);
        if let Some(folder) = target.parent() {
            fs::create_dir_all(folder)
                .map_err(|e| PackageError::io("creating folder", folder, e))?;
        }
        write_synced(&target, bytes)?;
    }
    sync_tree_dirs(staging.path())?;

    if existing {
        let backup = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(&parent)
            .map_err(|e| PackageError::io("creating temporary folder in", &parent, e))?
            .keep();
        // `rename` onto an empty folder replaces it on Unix; elsewhere remove it first.
        if fs::rename(dir, &backup).is_err() {
            fs::remove_dir(&backup).map_err(|e| PackageError::io("removing", &backup, e))?;
            fs::rename(dir, &backup).map_err(|e| PackageError::io("renaming", dir, e))?;
        }
        if let Err(e) = fs::rename(staging.path(), dir) {
            // Put the old package back so the destination is never left empty.
            let _ = fs::rename(&backup, dir);
            return Err(PackageError::io("renaming package into", dir, e));
        }
        let _ = staging.keep();
        sync_dir(&parent);
        fs::remove_dir_all(&backup).map_err(|e| PackageError::io("removing", &backup, e))?;
    } else {
        fs::rename(staging.path(), dir)
            .map_err(|e| PackageError::io("renaming package into", dir, e))?;
        let _ = staging.keep();
    }
    sync_dir(&parent);
    Ok(())
}

/// Writes a package as a deterministic tar archive at `file` (atomically:
/// temporary sibling file, fsync, rename). Replaces an existing file; refuses
/// a folder.
pub fn write_tar(pkg: &Package, file: &Path) -> Result<(), PackageError> {
    let bytes = tar_bytes(pkg)?;
    let (parent, _name) = split_destination(file)?;
    if let Ok(meta) = fs::symlink_metadata(file)
        && meta.is_dir()
    {
        return Err(refused(file, "it is a folder"));
    }
    fs::create_dir_all(&parent).map_err(|e| PackageError::io("creating folder", &parent, e))?;
    phase_memory_fsio::write_atomic(file, &bytes)
        .map_err(|e| PackageError::io("writing archive", file, e))?;
    Ok(())
}

/// The package as a deterministic ustar archive: entries sorted by path, each
/// folder before its contents, mtime 0, uid/gid 0, no user or group names,
/// mode 0755 for folders and 0644 for files. The same package gives the same
/// bytes.
pub fn tar_bytes(pkg: &Package) -> Result<Vec<u8>, PackageError> {
    check_paths(pkg)?;
    // Folder entries end with `/`, so they sort before their contents.
    let mut entries: BTreeMap<String, Option<&[u8]>> = BTreeMap::new();
    for (rel, bytes) in &pkg.files {
        let mut prefix = String::new();
        let parts: Vec<&str> = rel.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            prefix.push_str(part);
            prefix.push('/');
            entries.insert(prefix.clone(), None);
        }
        entries.insert(rel.clone(), Some(bytes.as_slice()));
    }
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut header = tar::Header::new_ustar();
        let bad_path = |e: std::io::Error| {
            PackageError::Invalid(format!("path {path:?} does not fit a tar header: {e}"))
        };
        header
            .set_path(path.trim_end_matches('/'))
            .map_err(bad_path)?;
        match data {
            Some(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(bytes.len() as u64);
            }
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
            }
        }
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        builder
            .append(&header, data.unwrap_or(&[]))
            .map_err(|e| PackageError::Invalid(format!("building tar entry {path:?}: {e}")))?;
    }
    builder
        .into_inner()
        .map_err(|e| PackageError::Invalid(format!("finishing tar: {e}")))
}

/// Verifies the package at `path`: a folder, or a tar archive (any other file
/// is read as tar). Re-hashes every listed file and the manifest; see
/// [`verify_files`]. Errors only when the path cannot be read at all.
pub fn verify(path: &Path) -> Result<VerifyReport, PackageError> {
    verify_limited(path, &ReadLimits::default())
}

/// [`verify`] under explicit [`ReadLimits`].
pub fn verify_limited(path: &Path, limits: &ReadLimits) -> Result<VerifyReport, PackageError> {
    let read = read_package(path, limits)?;
    let mut report = verify_files(&read.files);
    if !read.problems.is_empty() {
        report.problems.extend(read.problems);
        report.problems.sort();
        report.problems.dedup();
    }
    Ok(report)
}

/// Reads a package folder or tar archive into relative path → bytes. Entries
/// that cannot be part of a package (symbolic links, unsafe or non-UTF-8
/// names, special files) are an error here; [`verify`] reports them instead.
pub fn read_package_files(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, PackageError> {
    let read = read_package(path, &ReadLimits::default())?;
    if let Some(p) = read.problems.first() {
        return Err(PackageError::Invalid(format!("{}: {}", p.path, p.message)));
    }
    Ok(read.files)
}

/// Files read from a package and what could not be read as package content.
struct ReadPackage {
    files: BTreeMap<String, Vec<u8>>,
    problems: Vec<VerifyProblem>,
}

fn read_package(path: &Path, limits: &ReadLimits) -> Result<ReadPackage, PackageError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PackageError::NotFound(path.to_path_buf()));
        }
        Err(e) => return Err(PackageError::io("inspecting", path, e)),
    };
    let mut read = ReadPackage {
        files: BTreeMap::new(),
        problems: Vec::new(),
    };
    let mut budget = Budget::new(limits);
    if meta.is_dir() {
        read_dir_into(path, "", &mut read, &mut budget)?;
    } else {
        read_tar_into(path, &mut read, &mut budget)?;
    }
    Ok(read)
}

fn read_dir_into(
    dir: &Path,
    prefix: &str,
    read: &mut ReadPackage,
    budget: &mut Budget,
) -> Result<(), PackageError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| PackageError::io("listing", dir, e))? {
        let entry = entry.map_err(|e| PackageError::io("listing", dir, e))?;
        budget.visit(read)?;
        names.push(entry.file_name());
    }
    names.sort();
    for os_name in names {
        let full = dir.join(&os_name);
        let Some(name) = os_name.to_str() else {
            read.problems.push(VerifyProblem::new(
                INVALID,
                format!("{prefix}{}", os_name.to_string_lossy()),
                "file name is not UTF-8",
            ));
            continue;
        };
        let rel = format!("{prefix}{name}");
        let meta =
            fs::symlink_metadata(&full).map_err(|e| PackageError::io("inspecting", &full, e))?;
        if meta.file_type().is_symlink() {
            read.problems.push(VerifyProblem::new(
                INVALID,
                rel,
                "symbolic links are not allowed in a package",
            ));
        } else if meta.is_dir() {
            read_dir_into(&full, &format!("{rel}/"), read, budget)?;
        } else if meta.is_file() {
            if meta.len() > budget.bytes {
                return Err(PackageError::Invalid(
                    "package is larger than the verify size limit".into(),
                ));
            }
            let mut bytes = Vec::new();
            File::open(&full)
                .and_then(|f| f.take(budget.bytes + 1).read_to_end(&mut bytes))
                .map_err(|e| PackageError::io("reading", &full, e))?;
            if bytes.len() as u64 > budget.bytes {
                return Err(PackageError::Invalid(
                    "package is larger than the verify size limit".into(),
                ));
            }
            budget.bytes = budget.bytes.saturating_sub(bytes.len() as u64);
            read.files.insert(rel, bytes);
        } else {
            read.problems.push(VerifyProblem::new(
                INVALID,
                rel,
                "special files are not allowed in a package",
            ));
        }
    }
    Ok(())
}

fn read_tar_into(
    path: &Path,
    read: &mut ReadPackage,
    budget: &mut Budget,
) -> Result<(), PackageError> {
    let file = File::open(path).map_err(|e| PackageError::io("opening", path, e))?;
    let archive_name = path.display().to_string();
    let mut archive = tar::Archive::new(file);
    let entries = match archive.entries() {
        Ok(entries) => entries,
        Err(e) => {
            read.problems.push(VerifyProblem::new(
                INVALID,
                archive_name,
                format!("not a readable tar archive: {e}"),
            ));
            return Ok(());
        }
    };
    for entry in entries {
        budget.visit(read)?;
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                read.problems.push(VerifyProblem::new(
                    INVALID,
                    archive_name.clone(),
                    format!("not a readable tar archive: {e}"),
                ));
                return Ok(());
            }
        };
        let raw = entry.path_bytes().into_owned();
        let Ok(name) = String::from_utf8(raw) else {
            read.problems.push(VerifyProblem::new(
                INVALID,
                String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
                "entry name is not UTF-8",
            ));
            continue;
        };
        let kind = entry.header().entry_type();
        let rel = name.trim_end_matches('/').to_string();
        if !is_safe_relative_path(&rel) {
            read.problems.push(VerifyProblem::new(
                INVALID,
                name,
                "entry path is absolute, empty or leaves the package",
            ));
            continue;
        }
        match kind {
            tar::EntryType::Directory => {}
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                if size > budget.bytes {
                    return Err(PackageError::Invalid(
                        "package is larger than the verify size limit".into(),
                    ));
                }
                let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                if let Err(e) = (&mut entry).take(budget.bytes + 1).read_to_end(&mut bytes) {
                    read.problems.push(VerifyProblem::new(
                        INVALID,
                        rel,
                        format!("entry cannot be read: {e}"),
                    ));
                    return Ok(());
                }
                budget.bytes = budget.bytes.saturating_sub(bytes.len() as u64);
                if read.files.insert(rel.clone(), bytes).is_some() {
                    read.problems.push(VerifyProblem::new(
                        INVALID,
                        rel,
                        "the archive holds this path more than once",
                    ));
                }
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => read.problems.push(VerifyProblem::new(
                INVALID,
                rel,
                format!("tar entry type {other:?} is not allowed in a package"),
            )),
        }
    }
    Ok(())
}

/// Whether an existing folder may be replaced: empty, or a Markitect package.
fn is_replaceable_dir(dir: &Path) -> Result<bool, PackageError> {
    let mut entries = fs::read_dir(dir).map_err(|e| PackageError::io("listing", dir, e))?;
    if entries.next().is_none() {
        return Ok(true);
    }
    let manifest = dir.join(MANIFEST_PATH);
    let Ok(bytes) = fs::read(&manifest) else {
        return Ok(false);
    };
    let format_ok = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.get("format")
                .and_then(|f| f.as_str())
                .map(|f| f == PACKAGE_FORMAT)
        })
        .unwrap_or(false);
    if !format_ok {
        return Ok(false);
    }
    for entry in fs::read_dir(dir).map_err(|e| PackageError::io("listing", dir, e))? {
        let entry = entry.map_err(|e| PackageError::io("listing", dir, e))?;
        let name = entry.file_name();
        let ty = entry
            .file_type()
            .map_err(|e| PackageError::io("inspecting", entry.path(), e))?;
        let ok = (name == MANIFEST_PATH && ty.is_file())
            || (name == INDEX_PATH && ty.is_file())
            || (name == "items" && ty.is_dir());
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Refuses a package whose file paths are not safe relative paths.
fn check_paths(pkg: &Package) -> Result<(), PackageError> {
    for rel in pkg.files.keys() {
        if !is_safe_relative_path(rel) {
            return Err(PackageError::Invalid(format!(
                "file path {rel:?} is not a safe relative path"
            )));
        }
    }
    Ok(())
}

/// The parent folder and final name of a destination.
fn split_destination(dest: &Path) -> Result<(PathBuf, String), PackageError> {
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| refused(dest, "it has no final UTF-8 name component"))?
        .to_string();
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

fn refused(path: &Path, reason: &str) -> PackageError {
    PackageError::Refused {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Joins a checked `/`-separated relative path under `base`.
fn join_relative(base: &Path, rel: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for part in rel.split('/') {
        out.push(part);
    }
    out
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    phase_memory_fsio::write_synced(path, bytes, phase_memory_fsio::AtomicOptions::default())
        .map_err(|e| PackageError::io("writing", path, e))
}

/// Fsyncs every folder of a freshly written tree so the renames that follow
/// publish complete content.
fn sync_tree_dirs(root: &Path) -> Result<(), PackageError> {
    for entry in fs::read_dir(root).map_err(|e| PackageError::io("listing", root, e))? {
        let entry = entry.map_err(|e| PackageError::io("listing", root, e))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            sync_tree_dirs(&entry.path())?;
        }
    }
    sync_dir(root);
    Ok(())
}

/// Fsyncs a folder where the platform allows it (best effort: not every
/// platform can open a folder as a file).
fn sync_dir(dir: &Path) {
    let _ = phase_memory_fsio::sync_dir(dir);
}
