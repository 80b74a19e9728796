//! The index folder without `fsync`: a [`Directory`] that reads, locks and
//! watches through tantivy's [`MmapDirectory`] but writes files without syncing
//! them, replaces `meta.json` by a rename without syncing, and does not sync the
//! folder. A commit is then visible to every handle at once and survives the
//! process being killed (the bytes are in the operating system's cache), but not
//! necessarily an operating-system crash or a power loss: the index is derived
//! data, so after one it is either behind the store (caught up from the store's
//! change feed on the next open) or unreadable (cleared and rebuilt on open).
//! What a commit costs is then the work, not a dozen `fsync`s of small files.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, TerminatingWrite,
    WatchCallback, WatchHandle, WritePtr,
};

/// Temp files of [`RelaxedDirectory::atomic_write`] in this process.
static TEMP: AtomicU64 = AtomicU64::new(0);

/// See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct RelaxedDirectory {
    inner: MmapDirectory,
    root: PathBuf,
}

impl RelaxedDirectory {
    /// The index folder `root` (which must exist).
    pub(crate) fn open(root: &Path) -> tantivy::Result<RelaxedDirectory> {
        Ok(RelaxedDirectory {
            inner: MmapDirectory::open(root)?,
            root: root.to_path_buf(),
        })
    }
}

/// A file written without `fsync` on terminate.
struct Unsynced(std::fs::File);

impl Write for Unsynced {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl TerminatingWrite for Unsynced {
    fn terminate_ref(&mut self, _: AntiCallToken) -> io::Result<()> {
        self.0.flush()
    }
}

impl Directory for RelaxedDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }
    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }
    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }
    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.root.join(path))
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    OpenWriteError::FileAlreadyExists(path.to_path_buf())
                } else {
                    OpenWriteError::wrap_io_error(e, path.to_path_buf())
                }
            })?;
        Ok(io::BufWriter::new(Box::new(Unsynced(file))))
    }
    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }
    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let to = self.root.join(path);
        let name = path
            .file_name()
            .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
        let n = TEMP.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .root
            .join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        let written = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, &to));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }
    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }
    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
