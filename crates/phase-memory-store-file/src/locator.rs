//! The locator (`locator.bin`): for the segments of one committed segment list,
//! the sorted ids of the nodes that exist and where the newest record of each is
//! (segment, byte offset, line length), and, for every edge that exists, where its
//! newest record is, listed under each of its two ends. A shared or read-only
//! handle opens with it instead of loading the whole store, reads one node with
//! one `pread` of its line and the edges touching a node with one `pread` per
//! edge (each checked by the line's own checksum) — what a commit and the
//! activation snapshot's bring-forward need.
//!
//! The locator is derived state: it is written (atomically, best effort) by a
//! handle that knows every position — after loading the whole store, or after
//! a lazy open that had to scan many segments the locator did not cover — and is
//! ignored when it does not decode, fails its checksum, or names segments that
//! are not the manifest's. See `docs/storage.md`.
//!
//! Format (little-endian): a head — the magic `PMLOC003`, the head's length
//! (u64), the data generation (u64), the covered segments (u32 count; each: file
//! name and BLAKE3 as u32-length-prefixed strings, byte length u64) and the node
//! table (ids strictly increasing) — then BLAKE3 (32 bytes) of the head; then the
//! edge-end table (ids non-decreasing; an edge appears under its `from` and, when
//! different, under its `to`) and BLAKE3 (32 bytes) of the head's checksum followed
//! by that table. A table is an entry count (u64), the entries (24 bytes: line
//! offset u64, id offset u32 and id length u32 into the table's id blob, segment
//! index u32, line length u32) and the id blob (u64 length, bytes).
//!
//! A fresh process reads only the head ([`Locator::read`]); the edge-end table
//! (most of the file: about nine tenths at five edges per node) is read and
//! checked on its first use, from the file opened with the head, so a reader that
//! never asks for edges (an activation) does not pay for it. A `PMLOC001` or
//! `PMLOC002` file is not read: the next full load writes the new format.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

use phase_memory_model::EdgeKey;

use crate::layout::SegmentEntry;

/// The locator's file name in the store folder.
pub const LOCATOR: &str = "locator.bin";

const MAGIC: &[u8; 8] = b"PMLOC003";
/// The magic and the head's length.
const PREFIX: usize = 16;
const ENTRY: usize = 24;
const SUM: usize = 32;

/// Where a node's newest record is: segment (an index into the segment list the
/// positions were taken from), byte offset of its line, line length without the
/// newline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// The head and its checksum.
    bytes: Vec<u8>,
    nodes: Table,
    /// Segments named (for checking the edge-end table's entries).
    nseg: u32,
    /// The head's checksum, which the edge-end table's checksum covers too.
    sum: [u8; SUM],
    /// The file the head was read from, the edge-end table's offset in it and
    /// the file's length (`None` when decoded from bytes).
    source: Option<(File, u64, u64)>,
    /// The edge-end table, read and checked on first use (`None` inside: it does
    /// not read back or check).
    ends: OnceLock<Option<Ends>>,
}

/// The edge-end table's bytes (checksum cut off) and extent.
#[derive(Debug)]
struct Ends {
    bytes: Vec<u8>,
    table: Table,
}

/// Where one table of entries and its id blob are in the locator's bytes.
#[derive(Debug, Clone, Copy)]
struct Table {
    entries_at: usize,
    count: usize,
    blob_at: usize,
    blob_len: usize,
}

impl Table {
    /// Reads a table's extent at the cursor (its entries are checked by `check`).
    fn read(c: &mut Cursor<'_>) -> Option<Table> {
        let count = usize::try_from(c.u64()?).ok()?;
        let entries_at = c.at;
        c.take(count.checked_mul(ENTRY)?)?;
        let blob_len = usize::try_from(c.u64()?).ok()?;
        let blob_at = c.at;
        c.take(blob_len)?;
        Some(Table {
            entries_at,
            count,
            blob_at,
            blob_len,
        })
    }

    /// The `i`th entry of the table in `b`: id bytes and position (`None` when
    /// out of bounds).
    fn entry<'b>(&self, b: &'b [u8], i: usize) -> Option<(&'b [u8], Pos)> {
        if i >= self.count {
            return None;
        }
        let at = self.entries_at + i * ENTRY;
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

    /// Checks every entry: in bounds, a segment below `nseg`, ids increasing
    /// (strictly when `strict`).
    fn check(&self, b: &[u8], nseg: u32, strict: bool) -> Option<()> {
        let mut prev: Option<&[u8]> = None;
        for i in 0..self.count {
            let (id, pos) = self.entry(b, i)?;
            let bad_order = prev.is_some_and(|p| if strict { p >= id } else { p > id });
            if pos.seg >= nseg || bad_order {
                return None;
            }
            prev = Some(id);
        }
        Some(())
    }

    /// The first index whose id is not below `key`.
    fn lower_bound(&self, b: &[u8], key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry(b, mid) {
                Some((k, _)) if k < key => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo
    }
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
    /// Reads the head of `DIR/locator.bin`; `None` when it is missing or the
    /// head does not decode. The edge-end table is read on first use.
    pub fn read(dir: &Path) -> Option<Locator> {
        let mut f = File::open(dir.join(LOCATOR)).ok()?;
        let total = f.metadata().ok()?.len();
        let mut prefix = [0u8; PREFIX];
        f.read_exact(&mut prefix).ok()?;
        let head_len = Self::head_len(&prefix)?;
        let with_sum = u64::try_from(head_len.checked_add(SUM)?).ok()?;
        if with_sum > total {
            return None;
        }
        let mut head = vec![0u8; head_len + SUM];
        head[..PREFIX].copy_from_slice(&prefix);
        f.read_exact(&mut head[PREFIX..]).ok()?;
        let mut loc = Self::decode_head(head)?;
        loc.source = Some((f, with_sum, total));
        Some(loc)
    }

    /// Decodes a whole locator (head and edge-end table), checking its
    /// checksums, bounds and id order.
    #[cfg(test)]
    pub fn decode(mut bytes: Vec<u8>) -> Option<Locator> {
        let head_len = Self::head_len(bytes.get(..PREFIX)?)?;
        let with_sum = head_len.checked_add(SUM)?;
        if with_sum > bytes.len() {
            return None;
        }
        let rest = bytes.split_off(with_sum);
        let loc = Self::decode_head(bytes)?;
        let ends = decode_ends(&loc.sum, rest, loc.nseg)?;
        let _ = loc.ends.set(Some(ends));
        Some(loc)
    }

    /// The head's length from the magic and length prefix.
    fn head_len(prefix: &[u8]) -> Option<usize> {
        if prefix.get(..MAGIC.len())? != MAGIC {
            return None;
        }
        let n = usize::try_from(le_u64(prefix, MAGIC.len())).ok()?;
        (n >= PREFIX).then_some(n)
    }

    /// Decodes the head (with its checksum at the end of `bytes`).
    fn decode_head(bytes: Vec<u8>) -> Option<Locator> {
        let body_len = bytes.len().checked_sub(SUM)?;
        let sum: [u8; SUM] = *blake3::hash(&bytes[..body_len]).as_bytes();
        if sum[..] != bytes[body_len..] {
            return None;
        }
        let body = &bytes[..body_len];
        let mut c = Cursor {
            b: body,
            at: PREFIX,
        };
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
        let nodes = Table::read(&mut c)?;
        if c.at != body_len {
            return None;
        }
        nodes.check(&bytes, nseg, true)?;
        Some(Locator {
            segments,
            data_generation,
            bytes,
            nodes,
            nseg,
            sum,
            source: None,
            ends: OnceLock::new(),
        })
    }

    /// The edge-end table, read from the file on first use.
    fn ends_table(&self) -> Option<&Ends> {
        self.ends
            .get_or_init(|| {
                let (f, at, total) = self.source.as_ref()?;
                let mut file: &File = f;
                file.seek(SeekFrom::Start(*at)).ok()?;
                let mut rest = vec![0u8; usize::try_from(total.checked_sub(*at)?).ok()?];
                file.read_exact(&mut rest).ok()?;
                decode_ends(&self.sum, rest, self.nseg)
            })
            .as_ref()
    }

    /// Number of nodes it locates.
    pub fn len(&self) -> usize {
        self.nodes.count
    }

    /// Where node `id`'s newest record is, if the node exists.
    pub fn get(&self, id: &str) -> Option<Pos> {
        let key = id.as_bytes();
        let i = self.nodes.lower_bound(&self.bytes, key);
        match self.nodes.entry(&self.bytes, i) {
            Some((k, pos)) if k == key => Some(pos),
            _ => None,
        }
    }

    /// Every node entry, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Pos)> + '_ {
        Self::all(&self.bytes, self.nodes)
    }

    /// Every edge-end entry, in id order; `None` when the edge-end table does
    /// not read back or check.
    pub fn ends(&self) -> Option<impl Iterator<Item = (&str, Pos)> + '_> {
        let e = self.ends_table()?;
        Some(Self::all(&e.bytes, e.table))
    }

    /// Where the records of the edges touching `id` are; `None` when the
    /// edge-end table does not read back or check.
    pub fn edges_at(&self, id: &str) -> Option<Vec<Pos>> {
        let e = self.ends_table()?;
        let key = id.as_bytes();
        let mut out = Vec::new();
        let mut i = e.table.lower_bound(&e.bytes, key);
        while i < e.table.count {
            match e.table.entry(&e.bytes, i) {
                Some((k, pos)) if k == key => out.push(pos),
                _ => break,
            }
            i += 1;
        }
        Some(out)
    }

    fn all(b: &[u8], t: Table) -> impl Iterator<Item = (&str, Pos)> + '_ {
        (0..t.count).filter_map(move |i| {
            let (k, p) = t.entry(b, i)?;
            Some((std::str::from_utf8(k).ok()?, p))
        })
    }
}

/// One table's bytes: entry count, entries, id blob (entries in the given order).
fn encode_table<'a>(out: &mut Vec<u8>, entries: impl Iterator<Item = (&'a str, Pos)>) {
    let mut table = Vec::new();
    let mut blob: Vec<u8> = Vec::new();
    let mut last: Option<(&str, u32)> = None;
    let mut count = 0u64;
    for (id, p) in entries {
        // Repeated ids (edge ends) share their blob bytes.
        let at = match last {
            Some((l, at)) if l == id => at,
            _ => {
                let at = blob.len() as u32;
                blob.extend_from_slice(id.as_bytes());
                last = Some((id, at));
                at
            }
        };
        table.extend_from_slice(&p.offset.to_le_bytes());
        table.extend_from_slice(&at.to_le_bytes());
        table.extend_from_slice(&(id.len() as u32).to_le_bytes());
        table.extend_from_slice(&p.seg.to_le_bytes());
        table.extend_from_slice(&p.len.to_le_bytes());
        count += 1;
    }
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&table);
    out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    out.extend_from_slice(&blob);
}

/// Encodes a locator for `segments` from node entries sorted by id and edge-end
/// entries sorted by id (see [`edge_ends`]).
pub(crate) fn encode<'a>(
    data_generation: u64,
    segments: &[SegmentEntry],
    nodes: impl Iterator<Item = (&'a str, Pos)>,
    ends: impl Iterator<Item = (&'a str, Pos)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&data_generation.to_le_bytes());
    out.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    for s in segments {
        for text in [&s.file, &s.blake3] {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&s.bytes.to_le_bytes());
    }
    encode_table(&mut out, nodes);
    let head_len = out.len() as u64;
    out[MAGIC.len()..PREFIX].copy_from_slice(&head_len.to_le_bytes());
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    let at = out.len();
    encode_table(&mut out, ends);
    let mut h = blake3::Hasher::new();
    h.update(sum.as_bytes());
    h.update(&out[at..]);
    out.extend_from_slice(h.finalize().as_bytes());
    out
}

/// Decodes the edge-end table `rest` (its checksum at the end, which covers the
/// head's checksum `sum` and then the table).
fn decode_ends(sum: &[u8; SUM], mut rest: Vec<u8>, nseg: u32) -> Option<Ends> {
    let body_len = rest.len().checked_sub(SUM)?;
    let mut h = blake3::Hasher::new();
    h.update(sum);
    h.update(&rest[..body_len]);
    if h.finalize().as_bytes()[..] != rest[body_len..] {
        return None;
    }
    rest.truncate(body_len);
    let mut c = Cursor { b: &rest, at: 0 };
    let table = Table::read(&mut c)?;
    if c.at != body_len {
        return None;
    }
    table.check(&rest, nseg, false)?;
    Some(Ends { bytes: rest, table })
}

/// The edge-end entries of edges at `positions`: each edge under its `from` and,
/// when different, its `to`, sorted by id then position.
pub(crate) fn edge_ends<'a>(
    edges: impl Iterator<Item = (&'a EdgeKey, Pos)>,
) -> Vec<(&'a str, Pos)> {
    let mut ends = Vec::new();
    for (k, p) in edges {
        ends.push((k.from.as_str(), p));
        if k.to != k.from {
            ends.push((k.to.as_str(), p));
        }
    }
    ends.sort_unstable_by(|a, b| {
        a.0.cmp(b.0)
            .then((a.1.seg, a.1.offset).cmp(&(b.1.seg, b.1.offset)))
    });
    ends
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
        let keys = [
            EdgeKey {
                from: "a".into(),
                to: "zeta".into(),
                edge_type: "t".into(),
            },
            EdgeKey {
                from: "b/c".into(),
                to: "b/c".into(),
                edge_type: "t".into(),
            },
            EdgeKey {
                from: "zeta".into(),
                to: "a".into(),
                edge_type: "u".into(),
            },
        ];
        let edge_pos = |i: usize| Pos {
            seg: 1,
            offset: 5000 + i as u64 * 100,
            len: 50,
        };
        let ends = edge_ends(keys.iter().enumerate().map(|(i, k)| (k, edge_pos(i))));
        let bytes = encode(
            9,
            &[seg(1), seg(2)],
            entries.iter().copied(),
            ends.iter().copied(),
        );
        let loc = Locator::decode(bytes.clone()).expect("decodes");
        assert_eq!(loc.edges_at("a"), Some(vec![edge_pos(0), edge_pos(2)]));
        assert_eq!(loc.edges_at("b/c"), Some(vec![edge_pos(1)]));
        assert_eq!(loc.edges_at("zeta"), Some(vec![edge_pos(0), edge_pos(2)]));
        assert_eq!(loc.edges_at("b"), Some(vec![]));
        assert_eq!(loc.edges_at("zz"), Some(vec![]));
        assert_eq!(loc.ends().map(Iterator::count), Some(5));
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

        // Read from a folder, the head is checked at once and the edge-end
        // table on first use: a flipped byte in the table leaves the nodes
        // readable and makes the edge answers `None`, never wrong.
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(LOCATOR), &bytes).expect("write");
        let read = Locator::read(dir.path()).expect("reads");
        assert!(read.ends.get().is_none(), "edge table not read at open");
        assert_eq!(read.get("zeta"), loc.get("zeta"));
        assert_eq!(read.edges_at("a"), Some(vec![edge_pos(0), edge_pos(2)]));
        let mut bad = bytes.clone();
        let last = bad.len() - SUM - 1;
        bad[last] ^= 1;
        std::fs::write(dir.path().join(LOCATOR), &bad).expect("write");
        let read = Locator::read(dir.path()).expect("the head still reads");
        assert_eq!(read.get("zeta"), loc.get("zeta"));
        assert_eq!(read.edges_at("a"), None);
        assert!(read.ends().is_none());
        let mut bad = bytes.clone();
        bad[PREFIX + 1] ^= 1;
        std::fs::write(dir.path().join(LOCATOR), &bad).expect("write");
        assert!(Locator::read(dir.path()).is_none(), "a bad head is refused");
    }

    #[test]
    fn unsorted_ids_are_refused() {
        let p = Pos {
            seg: 0,
            offset: 0,
            len: 1,
        };
        let bytes = encode(
            1,
            &[seg(1)],
            [("b", p), ("a", p)].into_iter(),
            std::iter::empty(),
        );
        assert!(Locator::decode(bytes).is_none());
        let bytes = encode(
            1,
            &[seg(1)],
            std::iter::empty(),
            [("b", p), ("a", p)].into_iter(),
        );
        assert!(Locator::decode(bytes).is_none());
        // Repeated ids are fine in the edge-end table, not in the node table.
        let twice = [("a", p), ("a", p)];
        let bytes = encode(1, &[seg(1)], std::iter::empty(), twice.into_iter());
        assert!(Locator::decode(bytes).is_some());
        let bytes = encode(1, &[seg(1)], twice.into_iter(), std::iter::empty());
        assert!(Locator::decode(bytes).is_none());
    }
}
