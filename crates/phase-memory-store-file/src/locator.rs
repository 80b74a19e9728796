//! The node locator (`locator.bin`): for the segments of one committed segment
//! list, the sorted ids of the nodes that exist and where the newest record of
//! each is (segment, byte offset, line length). A shared or read-only handle opens
//! with it instead of loading the whole store, and reads one node with one `pread`
//! of its line (checked by the line's own checksum).
//!
//! The locator is derived state: it is written (atomically, best effort) by a
//! handle that knows every position — after loading the whole store, or after
//! a lazy open that had to scan many segments the locator did not cover — and is
//! ignored when it does not decode, fails its checksum, or names segments that
//! are not the manifest's. See `docs/storage.md`.
//!
//! Format (little-endian): the magic `PMLOC001`, the data generation (u64), the
//! covered segments (u32 count; each: file name and BLAKE3 as u32-length-prefixed
//! strings, byte length u64), the entries (u64 count; each 24 bytes: line offset
//! u64, id offset u32 and id length u32 into the id blob, segment index u32, line
//! length u32), the id blob (u64 length, bytes), and BLAKE3 (32 bytes) of
//! everything before it.

use std::path::Path;

use crate::layout::SegmentEntry;

/// The locator's file name in the store folder.
pub const LOCATOR: &str = "locator.bin";

const MAGIC: &[u8; 8] = b"PMLOC001";
const ENTRY: usize = 24;
const SUM: usize = 32;

/// Where a node's newest record is: segment (an index into the segment list the
/// positions were taken from), byte offset of its line, line length without the
/// newline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    pub seg: u32,
    pub offset: u64,
    pub len: u32,
}

/// A decoded locator.
#[derive(Debug)]
pub(crate) struct Locator {
    /// The segment list it was written for (in manifest order).
    pub segments: Vec<SegmentEntry>,
    /// The data generation it was written at (informational).
    #[cfg_attr(not(test), allow(dead_code))]
    pub data_generation: u64,
    bytes: Vec<u8>,
    entries_at: usize,
    count: usize,
    blob_at: usize,
    blob_len: usize,
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.u32()?).ok()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl Locator {
    /// Reads `DIR/locator.bin`; `None` when it is missing or does not decode.
    pub fn read(dir: &Path) -> Option<Locator> {
        Self::decode(std::fs::read(dir.join(LOCATOR)).ok()?)
    }

    /// Decodes a locator, checking its checksum, bounds and id order.
    pub fn decode(bytes: Vec<u8>) -> Option<Locator> {
        let body_len = bytes.len().checked_sub(SUM)?;
        if blake3::hash(&bytes[..body_len]).as_bytes() != &bytes[body_len..] {
            return None;
        }
        let body = &bytes[..body_len];
        let mut c = Cursor { b: body, at: 0 };
        if c.take(MAGIC.len())? != MAGIC {
            return None;
        }
        let data_generation = c.u64()?;
        let nseg = c.u32()?;
        let mut segments = Vec::new();
        for _ in 0..nseg {
            segments.push(SegmentEntry {
                file: c.string()?,
                blake3: c.string()?,
                records: 0,
                bytes: c.u64()?,
            });
        }
        let count = usize::try_from(c.u64()?).ok()?;
        let entries_at = c.at;
        c.take(count.checked_mul(ENTRY)?)?;
        let blob_len = usize::try_from(c.u64()?).ok()?;
        let blob_at = c.at;
        c.take(blob_len)?;
        if c.at != body_len {
            return None;
        }
        let loc = Locator {
            segments,
            data_generation,
            entries_at,
            count,
            blob_at,
            blob_len,
            bytes,
        };
        let mut prev: Option<&[u8]> = None;
        for i in 0..count {
            let (id, pos) = loc.entry(i)?;
            if pos.seg >= nseg || prev.is_some_and(|p| p >= id) {
                return None;
            }
            prev = Some(id);
        }
        Some(loc)
    }

    /// The `i`th entry: id bytes and position (`None` when out of bounds).
    fn entry(&self, i: usize) -> Option<(&[u8], Pos)> {
        let at = self.entries_at + i * ENTRY;
        let b = &self.bytes;
        let offset = le_u64(b, at);
        let id_off = usize::try_from(le_u32(b, at + 8)).ok()?;
        let id_len = usize::try_from(le_u32(b, at + 12)).ok()?;
        let seg = le_u32(b, at + 16);
        let len = le_u32(b, at + 20);
        if id_off.checked_add(id_len)? > self.blob_len {
            return None;
        }
        let start = self.blob_at + id_off;
        Some((&b[start..start + id_len], Pos { seg, offset, len }))
    }

    /// Number of nodes it locates.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Where node `id`'s newest record is, if the node exists.
    pub fn get(&self, id: &str) -> Option<Pos> {
        let key = id.as_bytes();
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (k, pos) = self.entry(mid)?;
            match k.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(pos),
            }
        }
        None
    }

    /// Every entry, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Pos)> + '_ {
        (0..self.count).filter_map(|i| {
            let (k, p) = self.entry(i)?;
            Some((std::str::from_utf8(k).ok()?, p))
        })
    }
}

/// Encodes a locator for `segments` from entries sorted by id.
pub(crate) fn encode<'a>(
    data_generation: u64,
    segments: &[SegmentEntry],
    entries: impl Iterator<Item = (&'a str, Pos)>,
) -> Vec<u8> {
    let mut table = Vec::new();
    let mut blob = Vec::new();
    let mut count = 0u64;
    for (id, p) in entries {
        table.extend_from_slice(&p.offset.to_le_bytes());
        table.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        table.extend_from_slice(&(id.len() as u32).to_le_bytes());
        table.extend_from_slice(&p.seg.to_le_bytes());
        table.extend_from_slice(&p.len.to_le_bytes());
        blob.extend_from_slice(id.as_bytes());
        count += 1;
    }
    let mut out = Vec::with_capacity(table.len() + blob.len() + 256);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&data_generation.to_le_bytes());
    out.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    for s in segments {
        for text in [&s.file, &s.blake3] {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&s.bytes.to_le_bytes());
    }
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&table);
    out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    out.extend_from_slice(&blob);
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

/// Whether a segment entry of the manifest is the one a locator covers (same
/// file, digest and length; the record count is not stored).
pub(crate) fn same_segment(a: &SegmentEntry, b: &SegmentEntry) -> bool {
    a.file == b.file && a.blake3 == b.blake3 && a.bytes == b.bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(n: u64) -> SegmentEntry {
        SegmentEntry {
            file: crate::layout::segment_name(n),
            blake3: format!("blake3:{n}"),
            records: 0,
            bytes: 100 * n,
        }
    }

    #[test]
    fn round_trip_and_lookup() {
        let ids = ["a", "b/c", "zeta", "é"];
        let entries: Vec<(&str, Pos)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                (
                    *id,
                    Pos {
                        seg: (i % 2) as u32,
                        offset: i as u64 * 1000,
                        len: 7 + i as u32,
                    },
                )
            })
            .collect();
        let bytes = encode(9, &[seg(1), seg(2)], entries.iter().copied());
        let loc = Locator::decode(bytes.clone()).expect("decodes");
        assert_eq!(loc.len(), 4);
        assert_eq!(loc.data_generation, 9);
        assert_eq!(loc.segments.len(), 2);
        for (id, p) in &entries {
            assert_eq!(loc.get(id), Some(*p));
        }
        assert_eq!(loc.get("b"), None);
        assert_eq!(loc.iter().count(), 4);
        // Any flipped byte is caught; so is a short file.
        for i in [0, 9, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(Locator::decode(bad).is_none(), "byte {i}");
        }
        assert!(Locator::decode(bytes[..bytes.len() - 3].to_vec()).is_none());
        assert!(Locator::decode(Vec::new()).is_none());
    }

    #[test]
    fn unsorted_ids_are_refused() {
        let p = Pos {
            seg: 0,
            offset: 0,
            len: 1,
        };
        let bytes = encode(1, &[seg(1)], [("b", p), ("a", p)].into_iter());
        assert!(Locator::decode(bytes).is_none());
    }
}
