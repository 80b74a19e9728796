//! Vectors keyed by a digest of the embedded text, kept in memory and optionally
//! in an append-only file so a store's texts are embedded once, across restarts.
//!
//! File format: the 16-byte header `PMVEC1` + `\0` padding, then records of a
//! 32-byte key (BLAKE3 of the model name, a NUL and the text) and 384
//! little-endian `f32`, in key order. The file is replaced whole (write, sync,
//! rename); a torn last record is ignored on load.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::{DIMENSIONS, MODEL_NAME};

const HEADER: &[u8; 16] = b"PMVEC1\0\0\0\0\0\0\0\0\0\0";
const RECORD: usize = 32 + DIMENSIONS * 4;

/// A vector cache file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("vector cache {path}: {reason}")]
pub struct CacheError {
    /// The file.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// The cache key of `text`: BLAKE3 of the model name, a NUL and the text.
pub fn text_key(text: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(MODEL_NAME.as_bytes());
    h.update(b"\0");
    h.update(text.as_bytes());
    *h.finalize().as_bytes()
}

/// Vectors by text digest.
#[derive(Debug, Default)]
pub struct VectorCache {
    vectors: HashMap<[u8; 32], Vec<f32>>,
    file: Option<PathBuf>,
    /// Keys added since the last [`VectorCache::flush`].
    pending: Vec<[u8; 32]>,
}

impl VectorCache {
    /// An empty cache in memory only.
    pub fn in_memory() -> VectorCache {
        VectorCache::default()
    }

    /// The cache backed by `path`: its records are loaded (a missing file is an
    /// empty cache) and [`VectorCache::flush`] writes them back with new ones.
    pub fn open(path: &Path) -> Result<VectorCache, CacheError> {
        let err = |reason: String| CacheError {
            path: path.display().to_string(),
            reason,
        };
        let mut cache = VectorCache {
            file: Some(path.to_path_buf()),
            ..VectorCache::default()
        };
        let mut bytes = Vec::new();
        match std::fs::File::open(path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)
                    .map_err(|e| err(format!("reading: {e}")))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cache),
            Err(e) => return Err(err(format!("opening: {e}"))),
        }
        if bytes.is_empty() {
            return Ok(cache);
        }
        if bytes.len() < HEADER.len() || &bytes[..HEADER.len()] != HEADER {
            return Err(err("not a vector cache (bad header)".into()));
        }
        for rec in bytes[HEADER.len()..].chunks_exact(RECORD) {
            let mut key = [0u8; 32];
            key.copy_from_slice(&rec[..32]);
            let v: Vec<f32> = rec[32..]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            cache.vectors.insert(key, v);
        }
        Ok(cache)
    }

    /// Vectors held.
    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// Whether the cache holds no vector.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// The vector of a key.
    pub fn get(&self, key: &[u8; 32]) -> Option<&[f32]> {
        self.vectors.get(key).map(Vec::as_slice)
    }

    /// Adds a vector (of [`DIMENSIONS`] values; others are refused and `false`
    /// returned). A key already held keeps its vector.
    pub fn insert(&mut self, key: [u8; 32], vector: Vec<f32>) -> bool {
        if vector.len() != DIMENSIONS {
            return false;
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.vectors.entry(key) {
            e.insert(vector);
            self.pending.push(key);
        }
        true
    }

    /// Writes the cache to its file (nothing for an in-memory cache, or when
    /// nothing was added since the last flush): the whole file is written under a
    /// temporary name, synced and renamed over the old one, so a crash or a
    /// concurrent writer leaves one whole file (at worst without the other
    /// writer's new vectors, which are then computed again). Records are in key
    /// order, so the same vectors give the same bytes.
    pub fn flush(&mut self) -> Result<(), CacheError> {
        let Some(path) = &self.file else {
            self.pending.clear();
            return Ok(());
        };
        if self.pending.is_empty() {
            return Ok(());
        }
        let err = |reason: String| CacheError {
            path: path.display().to_string(),
            reason,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err(format!("creating folder: {e}")))?;
        }
        let mut keys: Vec<&[u8; 32]> = self.vectors.keys().collect();
        keys.sort_unstable();
        let mut buf = Vec::with_capacity(HEADER.len() + keys.len() * RECORD);
        buf.extend_from_slice(HEADER);
        for key in keys {
            buf.extend_from_slice(key);
            for x in &self.vectors[key] {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(&buf)?;
            f.sync_data()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(format!("writing: {e}")));
        }
        self.pending.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(seed: f32) -> Vec<f32> {
        (0..DIMENSIONS).map(|i| seed + i as f32 / 1000.0).collect()
    }

    #[test]
    fn vectors_survive_a_reopen_and_a_torn_record_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/vectors.bin");
        let mut c = VectorCache::open(&path).expect("open");
        assert!(c.is_empty());
        assert!(c.insert(text_key("a"), vector(1.0)));
        assert!(c.insert(text_key("b"), vector(2.0)));
        assert!(
            !c.insert(text_key("c"), vec![1.0; 3]),
            "wrong length refused"
        );
        c.flush().expect("flush");
        let c = VectorCache::open(&path).expect("reopen");
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&text_key("b")), Some(vector(2.0).as_slice()));
        // A torn record (a file cut short by hand or a full disk) is ignored.
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(&[7u8; 100]);
        std::fs::write(&path, &bytes).expect("write");
        let mut c = VectorCache::open(&path).expect("reopen torn");
        assert_eq!(c.len(), 2);
        assert!(c.insert(text_key("d"), vector(4.0)));
        c.flush().expect("flush");
        let c = VectorCache::open(&path).expect("reopen");
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&text_key("d")), Some(vector(4.0).as_slice()));
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len() as usize,
            HEADER.len() + 3 * RECORD
        );
        // The same vectors give the same bytes, whatever the insertion order.
        let other = dir.path().join("other.bin");
        let mut c = VectorCache::open(&other).expect("open");
        for t in ["d", "b", "a"] {
            c.insert(text_key(t), vector(f32::from(t.as_bytes()[0])));
        }
        c.flush().expect("flush");
        let mut c2 = VectorCache::open(&dir.path().join("other2.bin")).expect("open");
        for t in ["a", "d", "b"] {
            c2.insert(text_key(t), vector(f32::from(t.as_bytes()[0])));
        }
        c2.flush().expect("flush");
        assert_eq!(
            std::fs::read(&other).expect("read"),
            std::fs::read(dir.path().join("other2.bin")).expect("read")
        );
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v.bin");
        std::fs::write(&path, b"not a cache at all, really").expect("write");
        let e = VectorCache::open(&path).expect_err("refused");
        assert!(e.to_string().contains("bad header"), "{e}");
    }
}
