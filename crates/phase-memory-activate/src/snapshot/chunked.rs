//! Copy-on-write columns: a column is a list of chunks, each behind its own
//! `Arc`, so cloning a snapshot copies one pointer per chunk and an edit of
//! the clone copies only the chunks it writes to. Readers holding the old
//! snapshot keep the old chunks; neither side ever sees the other's writes.
//!
//! [`Chunked`] is a column indexed by row (chunks of a fixed power-of-two
//! length, so an index is a shift and a mask); [`Sorted`] is a sorted list of
//! values in chunks of varying length (inserting into it copies one chunk).

use std::ops::Index;
use std::sync::Arc;

/// The vector behind `chunk`, copied first (with room for `extra` more items)
/// when another clone shares it.
fn unshared<T: Clone>(chunk: &mut Arc<Vec<T>>, extra: usize) -> &mut Vec<T> {
    if Arc::get_mut(chunk).is_none() {
        let mut own = Vec::with_capacity(chunk.len() + extra);
        own.extend_from_slice(chunk);
        *chunk = Arc::new(own);
    }
    // Unique now: no copy.
    Arc::make_mut(chunk)
}

/// Heap bytes of a list of shared vectors (each counted in full, shared or not).
fn chunks_heap_bytes<T>(chunks: &[Arc<Vec<T>>]) -> usize {
    const OVERHEAD: usize = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Vec<u8>>();
    chunks.len() * std::mem::size_of::<usize>()
        + chunks
            .iter()
            .map(|c| OVERHEAD + c.capacity() * std::mem::size_of::<T>())
            .sum::<usize>()
}

/// A column of values by row, in chunks of `SIZE` values (a power of two,
/// 4096 by default), each a fixed-size array behind its own `Arc`: a read is
/// a shift, a mask and one more pointer than a flat vector. The last chunk is
/// padded with default values past the end.
#[derive(Clone, Debug)]
pub(super) struct Chunked<T, const SIZE: usize = 4096> {
    chunks: Vec<Arc<[T; SIZE]>>,
    len: usize,
}

impl<T, const SIZE: usize> Default for Chunked<T, SIZE> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy + Default, const SIZE: usize> Chunked<T, SIZE> {
    /// Number of values.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The value of row `i`, `None` past the end.
    pub(super) fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| &self.chunks[i / SIZE][i % SIZE])
    }

    /// The value of row `i`, writable: its chunk is copied first when shared.
    /// Panics past the end.
    pub(super) fn get_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len, "row {i} past the end ({})", self.len);
        &mut Arc::make_mut(&mut self.chunks[i / SIZE])[i % SIZE]
    }

    /// Appends a value (copies the last chunk first when shared).
    pub(super) fn push(&mut self, x: T) {
        if self.len.is_multiple_of(SIZE) {
            self.chunks.push(Arc::new([T::default(); SIZE]));
        }
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last)[self.len % SIZE] = x;
            self.len += 1;
        }
    }

    /// Every value in row order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter()).take(self.len)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<usize>()
            + self.chunks.len()
                * (2 * std::mem::size_of::<usize>() + SIZE * std::mem::size_of::<T>())
    }
}

impl<T: Copy + Default + PartialEq, const SIZE: usize> Chunked<T, SIZE> {
    /// Sets row `i` to `x`; an equal value is left as it is (its chunk is not
    /// copied). Panics past the end.
    pub(super) fn set(&mut self, i: usize, x: T) {
        if self[i] != x {
            *self.get_mut(i) = x;
        }
    }
}

impl<T, const SIZE: usize> Index<usize> for Chunked<T, SIZE> {
    type Output = T;

    /// Panics past the last chunk; a row past the end but within the last
    /// chunk reads its padding (a default value) in release builds, like a
    /// row of a removed node: callers index below [`Chunked::len`].
    #[inline]
    fn index(&self, i: usize) -> &T {
        debug_assert!(i < self.len, "row {i} past the end ({})", self.len);
        &self.chunks[i / SIZE][i % SIZE]
    }
}

impl<T: Copy + Default, const SIZE: usize> From<Vec<T>> for Chunked<T, SIZE> {
    fn from(v: Vec<T>) -> Self {
        let chunks = v
            .chunks(SIZE)
            .map(|c| {
                let mut chunk = Arc::new([T::default(); SIZE]);
                Arc::make_mut(&mut chunk)[..c.len()].copy_from_slice(c);
                chunk
            })
            .collect();
        Chunked {
            chunks,
            len: v.len(),
        }
    }
}

impl<T: Copy + Default, const SIZE: usize> FromIterator<T> for Chunked<T, SIZE> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut out = Chunked::default();
        for x in iter {
            out.push(x);
        }
        out
    }
}

/// Sorted values (duplicates dropped) in chunks of 1 to `CAP` values; a chunk
/// that outgrows `CAP` is split in two. Inserting copies at most one chunk
/// when shared, wherever the value falls.
#[derive(Clone, Debug)]
pub(super) struct Sorted<T, const CAP: usize = 2048> {
    /// Never an empty chunk.
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T, const CAP: usize> Default for Sorted<T, CAP> {
    fn default() -> Self {
        Sorted {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy + Ord, const CAP: usize> Sorted<T, CAP> {
    /// From values already sorted (ascending, no duplicates; checked by the
    /// caller).
    pub(super) fn from_sorted(v: &[T]) -> Self {
        Sorted {
            len: v.len(),
            chunks: v.chunks(CAP).map(|c| Arc::new(c.to_vec())).collect(),
        }
    }

    /// Number of values.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Every value, ascending.
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The values from the first one for which `before` is false on, ascending
    /// (`before` must be true for a prefix of the values and false after it).
    pub(super) fn iter_from(&self, before: impl Fn(&T) -> bool) -> impl Iterator<Item = &T> + '_ {
        let k = self
            .chunks
            .partition_point(|c| c.last().is_some_and(&before));
        let skip = self.chunks.get(k).map_or(0, |c| c.partition_point(&before));
        self.chunks[k..].iter().flat_map(|c| c.iter()).skip(skip)
    }

    /// Inserts `x` unless present; whether it was inserted.
    pub(super) fn insert(&mut self, x: T) -> bool {
        if self.chunks.is_empty() {
            self.chunks.push(Arc::new(vec![x]));
            self.len = 1;
            return true;
        }
        let k = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|l| *l < x))
            .min(self.chunks.len() - 1);
        let Err(p) = self.chunks[k].binary_search(&x) else {
            return false;
        };
        let chunk = unshared(&mut self.chunks[k], 1);
        chunk.insert(p, x);
        if chunk.len() > CAP {
            let tail = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(k + 1, Arc::new(tail));
        }
        self.len += 1;
        true
    }

    /// Keeps the values for which `keep` is true (called once per value, in
    /// order); only chunks that lose a value are copied.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut emptied = false;
        for chunk in &mut self.chunks {
            let Some(first) = chunk.iter().position(|x| !keep(x)) else {
                continue;
            };
            let c = unshared(chunk, 0);
            let mut kept = first;
            for i in first + 1..c.len() {
                if keep(&c[i]) {
                    c[kept] = c[i];
                    kept += 1;
                }
            }
            self.len -= c.len() - kept;
            c.truncate(kept);
            emptied |= kept == 0;
        }
        if emptied {
            self.chunks.retain(|c| !c.is_empty());
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        chunks_heap_bytes(&self.chunks)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    /// Chunks of 8 values, so short sequences cross many chunk boundaries.
    type Small = Chunked<u32, 8>;

    #[derive(Clone, Debug)]
    enum Op {
        Push(u32),
        Set(usize, u32),
        Get(usize),
        /// Keep a clone (and a copy of the model) from now on.
        Clone,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u32>().prop_map(Op::Push),
            4 => (any::<usize>(), 0u32..4).prop_map(|(i, v)| Op::Set(i, v)),
            2 => any::<usize>().prop_map(Op::Get),
            1 => Just(Op::Clone),
        ]
    }

    proptest! {
        /// Pushes, sets and gets behave as on a plain vector, and a clone
        /// taken midway keeps the values it had while the original changes
        /// (and the original is not changed by the clone's existence).
        #[test]
        fn chunked_is_a_vector_and_clones_keep_their_values(
            ops in proptest::collection::vec(op(), 0..400),
        ) {
            let mut col = Small::default();
            let mut model: Vec<u32> = Vec::new();
            let mut clones: Vec<(Small, Vec<u32>)> = Vec::new();
            for op in ops {
                match op {
                    Op::Push(x) => {
                        col.push(x);
                        model.push(x);
                    }
                    Op::Set(i, v) if !model.is_empty() => {
                        let i = i % model.len();
                        if i.is_multiple_of(2) {
                            col.set(i, v);
                        } else {
                            *col.get_mut(i) = v;
                        }
                        model[i] = v;
                    }
                    Op::Get(i) => {
                        let i = i % (model.len() + 2);
                        prop_assert_eq!(col.get(i), model.get(i));
                        if i < model.len() {
                            prop_assert_eq!(col[i], model[i]);
                        }
                    }
                    Op::Clone => clones.push((col.clone(), model.clone())),
                    Op::Set(..) => {}
                }
                prop_assert_eq!(col.len(), model.len());
            }
            prop_assert_eq!(col.iter().copied().collect::<Vec<_>>(), model.clone());
            prop_assert_eq!(Small::from(model.clone()).iter().copied().collect::<Vec<_>>(), model);
            for (c, m) in clones {
                prop_assert_eq!(c.len(), m.len());
                prop_assert_eq!(c.iter().copied().collect::<Vec<_>>(), m);
            }
        }

        /// Inserts and removals behave as on an ordered set, `iter_from`
        /// starts where a partition point of the set would, and clones taken
        /// midway keep their values.
        #[test]
        fn sorted_is_an_ordered_set_and_clones_keep_their_values(
            ops in proptest::collection::vec((0u8..10, 0u32..300), 0..600),
        ) {
            let mut set: Sorted<u32, 4> = Sorted::from_sorted(&[3, 50, 51, 200]);
            let mut model: BTreeSet<u32> = [3, 50, 51, 200].into();
            let mut clones = Vec::new();
            for (what, x) in ops {
                match what {
                    0 => {
                        let mut seen = Vec::new();
                        set.retain(|&v| { seen.push(v); v % 7 != x % 7 });
                        prop_assert_eq!(seen, model.iter().copied().collect::<Vec<_>>());
                        model.retain(|&v| v % 7 != x % 7);
                    }
                    1 => clones.push((set.clone(), model.clone())),
                    2 => {
                        let got: Vec<u32> = set.iter_from(|&v| v < x).copied().collect();
                        let want: Vec<u32> = model.range(x..).copied().collect();
                        prop_assert_eq!(got, want);
                    }
                    _ => prop_assert_eq!(set.insert(x), model.insert(x)),
                }
                prop_assert_eq!(set.len(), model.len());
                prop_assert!(set.chunks.iter().all(|c| !c.is_empty() && c.len() <= 4));
            }
            prop_assert_eq!(set.iter().copied().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            for (c, m) in clones {
                prop_assert_eq!(c.iter().copied().collect::<Vec<_>>(), m.into_iter().collect::<Vec<_>>());
            }
        }
    }

    /// A write after a clone copies only the chunk written to.
    #[test]
    fn a_write_after_a_clone_copies_one_chunk() {
        let col: Small = (0..64).collect();
        let mut next = col.clone();
        next.set(17, 1000);
        let shared = (0..8)
            .filter(|&k| Arc::ptr_eq(&col.chunks[k], &next.chunks[k]))
            .count();
        assert_eq!(shared, 7);
        assert_eq!((col[17], next[17]), (17, 1000));
        // An equal value copies nothing.
        let mut same = col.clone();
        same.set(3, 3);
        assert!(Arc::ptr_eq(&col.chunks[0], &same.chunks[0]));
    }
}
