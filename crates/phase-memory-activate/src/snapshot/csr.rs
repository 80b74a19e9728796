//! Rows of variable length (labels, titles, arcs, access times): one item
//! vector plus each row's span in it. A row is edited without moving any other
//! row: it is rewritten in place when the new content fits (or is the last in
//! the vector), otherwise appended at the end, its old items left as garbage.
//! Garbage is reclaimed by compacting once it outweighs the live items, so the
//! work of an edit is amortised over the size of the row, never of the column.

/// Garbage below this many items is never compacted (not worth a pass).
const MIN_GARBAGE: usize = 4096;

/// Prefix offsets of a CSR from the sorted sources of its items.
pub(super) fn csr_offsets(n: usize, sorted_sources: impl Iterator<Item = u32>) -> Vec<usize> {
    let mut offsets = vec![0usize; n + 1];
    for src in sorted_sources {
        offsets[src as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    offsets
}

/// The span `a..b`; every empty row has the span `0..0`, so the one row that
/// ends at the end of the items, if any, is not empty and is the only one.
fn span(a: usize, b: usize) -> (usize, usize) {
    if a == b { (0, 0) } else { (a, b) }
}

/// Spans from prefix offsets (one more entry than rows, never decreasing).
fn spans_of(offsets: &[usize]) -> Vec<(usize, usize)> {
    offsets.windows(2).map(|w| span(w[0], w[1])).collect()
}

/// Rows of items, each a span of `items`.
#[derive(Clone, Debug, Default)]
pub(super) struct Rows<T> {
    items: Vec<T>,
    spans: Vec<(usize, usize)>,
    /// Items no span covers.
    garbage: usize,
}

impl<T: Clone> Rows<T> {
    /// Rows from a CSR (`offsets` checked by the caller).
    pub(super) fn from_offsets(offsets: &[usize], items: Vec<T>) -> Self {
        Rows {
            items,
            spans: spans_of(offsets),
            garbage: 0,
        }
    }

    /// Number of rows.
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Items in all rows.
    pub(super) fn live_items(&self) -> usize {
        self.items.len() - self.garbage
    }

    pub(super) fn get(&self, r: usize) -> &[T] {
        let (a, b) = self.spans[r];
        &self.items[a..b]
    }

    /// Every item, garbage included (all live as built or read).
    pub(super) fn items(&self) -> &[T] {
        &self.items
    }

    pub(super) fn push(&mut self, new: &[T]) {
        let a = self.items.len();
        self.items.extend_from_slice(new);
        self.spans.push(span(a, self.items.len()));
    }

    /// Replaces row `r` with `new`.
    pub(super) fn replace(&mut self, r: usize, new: &[T]) {
        let (a, b) = self.spans[r];
        if a < b && b == self.items.len() {
            // The last row: edit the tail.
            self.items.truncate(a);
            self.items.extend_from_slice(new);
            self.spans[r] = span(a, self.items.len());
        } else if new.len() <= b - a {
            self.items[a..a + new.len()].clone_from_slice(new);
            self.spans[r] = span(a, a + new.len());
            self.garbage += b - a - new.len();
        } else {
            let start = self.items.len();
            self.items.extend_from_slice(new);
            self.spans[r] = span(start, self.items.len());
            self.garbage += b - a;
        }
        self.maybe_compact();
    }

    /// Rewrites every row in row order, dropping the garbage, once it
    /// outweighs the live items.
    fn maybe_compact(&mut self) {
        if self.garbage < MIN_GARBAGE || self.garbage < self.live_items() {
            return;
        }
        let mut items = Vec::with_capacity(self.live_items());
        for span in &mut self.spans {
            let (a, b) = *span;
            let start = items.len();
            items.extend_from_slice(&self.items[a..b]);
            *span = self::span(start, items.len());
        }
        self.items = items;
        self.garbage = 0;
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>()
            + self.spans.capacity() * std::mem::size_of::<(usize, usize)>()
    }
}

impl<T: Clone + Ord> Rows<T> {
    /// Inserts `x` into sorted row `r` unless present; whether it was inserted.
    pub(super) fn insert_sorted(&mut self, r: usize, x: T) -> bool {
        let (a, b) = self.spans[r];
        let Err(p) = self.items[a..b].binary_search(&x) else {
            return false;
        };
        if a < b && b == self.items.len() {
            self.items.insert(a + p, x);
            self.spans[r] = (a, b + 1);
        } else {
            let mut row = Vec::with_capacity(b - a + 1);
            row.extend_from_slice(&self.items[a..a + p]);
            row.push(x);
            row.extend_from_slice(&self.items[a + p..b]);
            self.replace(r, &row);
        }
        true
    }
}

/// Rows of text (ids, titles): like [`Rows`] over the bytes of one string. A
/// row is rewritten in place only when its length does not change (a shorter
/// text could end inside a character of the old one).
#[derive(Clone, Debug, Default)]
pub(super) struct StrRows {
    bytes: String,
    spans: Vec<(usize, usize)>,
    garbage: usize,
}

impl StrRows {
    /// Rows from a string CSR (`offsets` checked by the caller, on character
    /// boundaries).
    pub(super) fn from_offsets(offsets: &[usize], bytes: String) -> Self {
        StrRows {
            bytes,
            spans: spans_of(offsets),
            garbage: 0,
        }
    }

    pub(super) fn get(&self, r: usize) -> &str {
        let (a, b) = self.spans[r];
        &self.bytes[a..b]
    }

    pub(super) fn push(&mut self, new: &str) {
        let a = self.bytes.len();
        self.bytes.push_str(new);
        self.spans.push(span(a, self.bytes.len()));
    }

    /// Replaces row `r` with `new`.
    pub(super) fn replace(&mut self, r: usize, new: &str) {
        let (a, b) = self.spans[r];
        if self.get(r) == new {
            return;
        }
        if a < b && b == self.bytes.len() {
            self.bytes.truncate(a);
            self.bytes.push_str(new);
            self.spans[r] = span(a, self.bytes.len());
        } else if new.len() == b - a {
            self.bytes.replace_range(a..b, new);
        } else {
            let start = self.bytes.len();
            self.bytes.push_str(new);
            self.spans[r] = span(start, self.bytes.len());
            self.garbage += b - a;
        }
        if self.garbage >= MIN_GARBAGE && self.garbage >= self.bytes.len() - self.garbage {
            let mut bytes = String::with_capacity(self.bytes.len() - self.garbage);
            for span in &mut self.spans {
                let (a, b) = *span;
                let start = bytes.len();
                bytes.push_str(&self.bytes[a..b]);
                *span = self::span(start, bytes.len());
            }
            self.bytes = bytes;
            self.garbage = 0;
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.spans.capacity() * std::mem::size_of::<(usize, usize)>()
    }
}

/// Inserts into a sorted vector unless present; whether it was inserted.
pub(super) fn insert_sorted<T: Ord>(v: &mut Vec<T>, x: T) -> bool {
    match v.binary_search(&x) {
        Ok(_) => false,
        Err(p) => {
            v.insert(p, x);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every edit leaves each row as a plain vector of vectors would, through
    /// moves to the end and compactions.
    #[test]
    fn rows_edit_like_a_vector_of_rows() {
        let mut model: Vec<Vec<u32>> = Vec::new();
        let mut rows = Rows::from_offsets(&[0], Vec::new());
        let mut x = 7u32;
        for step in 0..20_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let r = (x >> 8) as usize % (model.len() + 1);
            let len = (x >> 4) as usize % 6;
            let new: Vec<u32> = (0..len as u32).map(|k| step + k).collect();
            if r == model.len() {
                rows.push(&new);
                model.push(new);
            } else if x.is_multiple_of(3) {
                let inserted = rows.insert_sorted(r, step);
                let mut m = model[r].clone();
                m.sort_unstable();
                assert_eq!(m, model[r], "rows used with insert_sorted stay sorted");
                assert_eq!(inserted, insert_sorted(&mut model[r], step));
            } else {
                model[r].sort_unstable();
                let mut sorted = new.clone();
                sorted.sort_unstable();
                rows.replace(r, &sorted);
                model[r] = sorted;
            }
        }
        assert!(rows.garbage < MIN_GARBAGE.max(rows.live_items()) + 6);
        for (r, m) in model.iter().enumerate() {
            assert_eq!(rows.get(r), m.as_slice(), "row {r}");
        }
    }

    #[test]
    fn text_rows_edit_like_a_vector_of_strings() {
        let mut model: Vec<String> = Vec::new();
        let mut rows = StrRows::from_offsets(&[0], String::new());
        let texts = ["", "a", "bé", "ç", "hello", "wörld", "日本"];
        for step in 0..20_000usize {
            let t = texts[step % texts.len()];
            let r = (step * 7919) % (model.len() + 1);
            if r == model.len() {
                rows.push(t);
                model.push(t.into());
            } else {
                rows.replace(r, t);
                model[r] = t.into();
            }
        }
        for (r, m) in model.iter().enumerate() {
            assert_eq!(rows.get(r), m, "row {r}");
        }
    }
}
