//! The write seam of the file adapter: every byte the store writes goes through [`Fs`],
//! so tests can swap in [`FaultyFs`] and fail, tear or fill up any single write.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The primitive writes of the file adapter. Reads use `std::fs` directly.
///
/// Every method is durable when it returns `Ok`: file contents are fsynced, and
/// operations that change a folder (create, rename, remove) fsync that folder.
pub trait Fs: Send + Sync + fmt::Debug {
    /// Creates or truncates `path`, writes `data`, fsyncs the file.
    fn write_new(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Appends `data` to `path` (creating it if missing) and fsyncs the file.
    fn append(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Renames `from` to `to` (replacing `to`), then fsyncs the folder(s).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Cuts `path` to `len` bytes and fsyncs it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Removes a file, then fsyncs its folder.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a folder and everything in it, then fsyncs its parent.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates a folder (and its parents), then fsyncs the parent.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Fsyncs a folder so the names in it are durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => RealFs.sync_dir(p),
        _ => Ok(()),
    }
}

impl Fs for RealFs {
    fn write_new(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut f = File::create(path)?;
        f.write_all(data)?;
        f.sync_all()
    }

    fn append(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let existed = path.exists();
        let mut f = OpenOptions::new().create(true).append(true).open(path)?;
        f.write_all(data)?;
        f.sync_data()?;
        if !existed {
            sync_parent(path)?;
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)?;
        sync_parent(to)?;
        if from.parent() != to.parent() {
            sync_parent(from)?;
        }
        Ok(())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)?;
        sync_parent(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir_all(path)?;
        sync_parent(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)?;
        sync_parent(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            File::open(path)?.sync_all()
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            Ok(())
        }
    }
}

/// How [`FaultyFs`] fails its chosen operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The operation fails before touching anything.
    Error,
    /// A write lands only its first half, then fails (a torn write). Other
    /// operations fail like [`Fault::Error`].
    Torn,
    /// The operation fails with `ENOSPC` (`io::ErrorKind::StorageFull`); a write
    /// lands its first half first, as a full disk would.
    StorageFull,
}

/// A fault-injecting [`Fs`]: operation number `fail_at` (counting from 1) fails as
/// its [`Fault`] says, and so does every later operation, as if the process had died
/// there. Operations before it go to the real file system.
pub struct FaultyFs {
    fail_at: usize,
    fault: Fault,
    count: AtomicUsize,
    log: Mutex<Vec<String>>,
}

impl fmt::Debug for FaultyFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyFs")
            .field("fail_at", &self.fail_at)
            .field("fault", &self.fault)
            .field("count", &self.count.load(Ordering::SeqCst))
            .finish()
    }
}

impl FaultyFs {
    /// Fails operation number `fail_at` (from 1) and every one after it.
    pub fn new(fail_at: usize, fault: Fault) -> Self {
        FaultyFs {
            fail_at,
            fault,
            count: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        }
    }

    /// How many operations were attempted so far.
    pub fn operations(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The operations attempted so far (`op path`), for test messages.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Counts one operation; `Some(fault)` when it must fail.
    fn step(&self, op: &str, path: &Path) -> Option<Fault> {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("{op} {}", path.display()));
        }
        if n == self.fail_at {
            Some(self.fault)
        } else if n > self.fail_at {
            Some(Fault::Error)
        } else {
            None
        }
    }

    fn error(fault: Fault) -> io::Error {
        match fault {
            Fault::StorageFull => io::Error::new(
                io::ErrorKind::StorageFull,
                "injected fault: no space left on device",
            ),
            Fault::Torn => io::Error::other("injected fault: torn write"),
            Fault::Error => io::Error::other("injected fault"),
        }
    }

    fn half_write(
        &self,
        fault: Fault,
        data: &[u8],
        write: impl FnOnce(&[u8]) -> io::Result<()>,
    ) -> io::Error {
        if matches!(fault, Fault::Torn | Fault::StorageFull)
            && let Err(e) = write(&data[..data.len() / 2])
        {
            return e;
        }
        Self::error(fault)
    }
}

impl Fs for FaultyFs {
    fn write_new(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        match self.step("write_new", path) {
            None => RealFs.write_new(path, data),
            Some(f) => Err(self.half_write(f, data, |d| RealFs.write_new(path, d))),
        }
    }
    fn append(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        match self.step("append", path) {
            None => RealFs.append(path, data),
            Some(f) => Err(self.half_write(f, data, |d| RealFs.append(path, d))),
        }
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match self.step("rename", to) {
            None => RealFs.rename(from, to),
            Some(f) => Err(Self::error(f)),
        }
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        match self.step("truncate", path) {
            None => RealFs.truncate(path, len),
            Some(f) => Err(Self::error(f)),
        }
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        match self.step("remove_file", path) {
            None => RealFs.remove_file(path),
            Some(f) => Err(Self::error(f)),
        }
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        match self.step("remove_dir_all", path) {
            None => RealFs.remove_dir_all(path),
            Some(f) => Err(Self::error(f)),
        }
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        match self.step("create_dir_all", path) {
            None => RealFs.create_dir_all(path),
            Some(f) => Err(Self::error(f)),
        }
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        match self.step("sync_dir", path) {
            None => RealFs.sync_dir(path),
            Some(f) => Err(Self::error(f)),
        }
    }
}

impl<T: Fs + ?Sized> Fs for std::sync::Arc<T> {
    fn write_new(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        (**self).write_new(path, data)
    }
    fn append(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        (**self).append(path, data)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        (**self).rename(from, to)
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        (**self).truncate(path, len)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        (**self).remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        (**self).remove_dir_all(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        (**self).create_dir_all(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        (**self).sync_dir(path)
    }
}
