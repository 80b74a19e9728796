//! The ids of a snapshot's rows as built or read (`0..base`), in id order, and
//! the lookup of a row by id.
//!
//! A binary search over the ids themselves reads an offset and the id's bytes
//! at each of its ~17 steps (100k ids), two cache misses a step once the top
//! levels are left behind. The lookup instead searches 8-byte keys — each id's
//! first 8 bytes after the prefix every id shares, big-endian, so the keys are
//! in id order — in two levels: every 64th key (a small array that stays in
//! cache), then one block of 64 keys (a few adjacent cache lines); whole ids are
//! compared only among rows whose key equals the wanted one (usually one). The
//! keys are made at the first lookup (8 bytes per id; a few milliseconds at a
//! million ids) and shared by every snapshot brought forward from this one.
//!
//! A process that looks up many rows (a server: each activation finds its
//! ~200 seeds' rows) is better served by a hash table: one probe of a slot
//! that holds the row and part of the id's hash, then the one id compared —
//! three cache misses instead of five or six. Making it costs a pass over
//! every id and a random write per id (about a millisecond at 100k ids, tens
//! at a million), so it is made only once the keys have answered an eighth as
//! many lookups as there are ids: a CLI process answering one activation never
//! makes it.

use std::hash::Hasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Default)]
pub(super) struct BaseIds {
    bytes: String,
    /// Each row's start in `bytes` (one more offset than rows).
    offsets: Vec<usize>,
    keys: OnceLock<Keys>,
    /// Lookups the keys answered; the table is made past `table_after`.
    lookups: AtomicUsize,
    table_after: usize,
    table: OnceLock<Table>,
}

/// An open-addressing hash table of the rows (linear probing, at most 2/3
/// full): each slot is empty (0) or the id's hash's low 32 bits above the row
/// plus one.
#[derive(Debug)]
struct Table {
    slots: Vec<u64>,
    /// 64 minus the table's size in bits: a hash's slot is its top bits after
    /// a multiplication that spreads them.
    shift: u32,
}

/// The hash of an id.
fn hash_of(id: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(id);
    h.finish()
}

impl Table {
    fn slot(&self, h: u64) -> usize {
        (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }
}

#[derive(Debug)]
struct Keys {
    /// Bytes every id starts with.
    shared: usize,
    /// Row `r`'s key.
    keys: Vec<u64>,
    /// Every `BLOCK`-th key (small enough to stay in cache): a lookup
    /// searches it, then one block of `keys`.
    top: Vec<u64>,
}

/// Keys per block of the two-level search.
const BLOCK: usize = 64;

/// The key of `id` past its first `shared` bytes: the next 8 bytes,
/// zero-padded, big-endian (so keys order as the ids do).
fn key_of(id: &[u8], shared: usize) -> u64 {
    let rest = id.get(shared..).unwrap_or_default();
    let n = rest.len().min(8);
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(b)
}

impl BaseIds {
    /// The ids of `bytes` split at `offsets` (one more than rows), in id order.
    pub(super) fn new(bytes: String, offsets: Vec<usize>) -> Self {
        let table_after = offsets.len() / 8;
        BaseIds {
            bytes,
            offsets,
            keys: OnceLock::new(),
            lookups: AtomicUsize::new(0),
            table_after,
            table: OnceLock::new(),
        }
    }

    #[inline]
    pub(super) fn get(&self, r: usize) -> &str {
        &self.bytes[self.offsets[r]..self.offsets[r + 1]]
    }

    pub(super) fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Approximate heap bytes (with the keys, once made).
    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.offsets.capacity() * 8
            + self
                .keys
                .get()
                .map_or(0, |k| (k.keys.capacity() + k.top.capacity()) * 8)
            + self.table.get().map_or(0, |t| t.slots.capacity() * 8)
    }

    fn make_table(&self) -> Table {
        let n = self.len();
        let bits = (n + n / 2).max(8).next_power_of_two().trailing_zeros();
        let mut t = Table {
            slots: vec![0; 1 << bits],
            shift: 64 - bits,
        };
        let mask = t.slots.len() - 1;
        for r in 0..n {
            let h = hash_of(self.get(r).as_bytes());
            let mut i = t.slot(h);
            while t.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            t.slots[i] = (h << 32) | (r as u64 + 1);
        }
        t
    }

    /// The row of `id` by the hash table.
    fn row_in_table(&self, t: &Table, id: &[u8]) -> Option<u32> {
        let h = hash_of(id);
        let tag = h & 0xffff_ffff;
        let mask = t.slots.len() - 1;
        let mut i = t.slot(h);
        // Ends at an empty slot: the table is at most 2/3 full.
        loop {
            let s = t.slots[i];
            if s == 0 {
                return None;
            }
            let r = (s & 0xffff_ffff) as usize - 1;
            if s >> 32 == tag && self.get(r).as_bytes() == id {
                return Some(r as u32);
            }
            i = (i + 1) & mask;
        }
    }

    fn keys(&self) -> &Keys {
        self.keys.get_or_init(|| {
            let n = self.len();
            // Sorted ids share what the first and the last share.
            let shared = match n {
                0 => 0,
                _ => {
                    let (first, last) = (self.get(0).as_bytes(), self.get(n - 1).as_bytes());
                    first.iter().zip(last).take_while(|(a, b)| a == b).count()
                }
            };
            let keys: Vec<u64> = (0..n)
                .map(|r| key_of(self.get(r).as_bytes(), shared))
                .collect();
            let top = keys.iter().step_by(BLOCK).copied().collect();
            Keys { shared, keys, top }
        })
    }

    /// The row of `id`, if it is one of these ids.
    pub(super) fn row_of(&self, id: &str) -> Option<u32> {
        let id = id.as_bytes();
        if let Some(t) = self.table.get() {
            return self.row_in_table(t, id);
        }
        if self.lookups.fetch_add(1, Ordering::Relaxed) >= self.table_after {
            let t = self.table.get_or_init(|| self.make_table());
            return self.row_in_table(t, id);
        }
        self.row_by_keys(id)
    }

    /// The row of `id` by the two-level search of the keys.
    fn row_by_keys(&self, id: &[u8]) -> Option<u32> {
        let k = self.keys();
        let first = self.bytes.as_bytes().get(..k.shared)?;
        if !id.starts_with(first) {
            return None;
        }
        let key = key_of(id, k.shared);
        // The first row whose key is not below `key`: after the last block
        // that starts below it, at most at the start of the next.
        let b = k.top.partition_point(|&x| x < key);
        let start = if b == 0 { 0 } else { (b - 1) * BLOCK + 1 };
        let end = (b * BLOCK).min(k.keys.len());
        let mut lo = start + k.keys[start..end.max(start)].partition_point(|&x| x < key);
        // Rows whose key is the wanted one: usually one or none, so stepped
        // through rather than searched for (which would read as many keys again).
        let mut hi = lo;
        while k.keys.get(hi) == Some(&key) {
            hi += 1;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).as_bytes().cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::BaseIds;

    fn base(ids: &[String]) -> BaseIds {
        let mut bytes = String::new();
        let mut offsets = vec![0];
        for id in ids {
            bytes.push_str(id);
            offsets.push(bytes.len());
        }
        BaseIds::new(bytes, offsets)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Every id finds its row and nothing else finds one, whatever prefix the
        /// ids share (none, a long one, ids that are prefixes of others, equal
        /// first 8 bytes after it, multi-byte characters, the empty id).
        #[test]
        fn every_id_finds_its_row_and_nothing_else_does(
            prefix in "(|n|conversation-|zz)",
            tails in prop::collection::btree_set("[a0é\\x00]{0,11}", 0..400),
            others in prop::collection::vec("(|n|conversation-|zz|y)[a0é\\x00b]{0,11}", 0..40),
        ) {
            let ids: Vec<String> = tails.iter().map(|t| format!("{prefix}{t}")).collect();
            let b = base(&ids);
            let t = b.make_table();
            // Both ways of finding a row: the keys' search, and the hash table
            // (which `row_of` makes after enough lookups).
            let ways = |id: &str| [
                b.row_by_keys(id.as_bytes()),
                b.row_in_table(&t, id.as_bytes()),
                b.row_of(id),
            ];
            for (r, id) in ids.iter().enumerate() {
                prop_assert_eq!(ways(id), [Some(r as u32); 3], "{:?}", id);
            }
            for o in &others {
                let want = ids.iter().position(|id| id == o).map(|r| r as u32);
                prop_assert_eq!(ways(o), [want; 3], "{:?}", o);
            }
            prop_assert!(b.table.get().is_some() || ids.is_empty() && others.is_empty());
        }
    }
}
