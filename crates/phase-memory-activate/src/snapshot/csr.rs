//! Rows of variable length (ids, labels, titles, arcs, access times): each
//! row is a span of one page, a page a vector (or string) of at most
//! `PAGE_BYTES` behind its own `Arc` (a longer row has a page to itself), and
//! the spans a [`Chunked`] column. Cloning copies one pointer per page and span
//! chunk; an edit copies only the page and the span chunk it writes to.
//!
//! A row is edited without moving any other row: it is rewritten in place when
//! the new content fits (or it is the last in its page and the page has room),
//! otherwise appended to the last page, its old items left as garbage. A page
//! whose garbage outweighs its live items is compacted on its own (its rows are
//! found by a scan of the spans), so the work of an edit is amortised over the
//! size of the row and of a page, never rewrites the column.

use std::sync::Arc;

use super::chunked::Chunked;

/// Bytes a page holds (unless one row is longer).
const PAGE_BYTES: usize = 16 * 1024;

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

/// What rows are stored in: a vector of items or the bytes of a string.
pub(super) trait Page: Clone + Default {
    /// A row: a slice of items or a string slice.
    type Row: ?Sized + PartialEq;
    /// Size of an item in bytes.
    const ITEM: usize;
    fn len(&self) -> usize;
    fn row(&self, a: usize, b: usize) -> &Self::Row;
    fn row_len(row: &Self::Row) -> usize;
    /// A page holding just `row`.
    fn of(row: &Self::Row) -> Self;
    /// A copy with room for `extra` more items.
    fn copy_reserving(&self, extra: usize) -> Self;
    fn append(&mut self, row: &Self::Row);
    fn truncate(&mut self, len: usize);
    /// Whether `row` can be written over the `room` items from `at` on.
    fn fits(&self, at: usize, room: usize, row: &Self::Row) -> bool;
    /// Writes `row` from `at` on (after [`Page::fits`] said so).
    fn write_at(&mut self, at: usize, row: &Self::Row);
    fn heap_bytes(&self) -> usize;
}

impl<T: Clone + PartialEq> Page for Vec<T> {
    type Row = [T];
    const ITEM: usize = std::mem::size_of::<T>();
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline]
    fn row(&self, a: usize, b: usize) -> &[T] {
        &self[a..b]
    }
    fn row_len(row: &[T]) -> usize {
        row.len()
    }
    fn of(row: &[T]) -> Self {
        row.to_vec()
    }
    fn copy_reserving(&self, extra: usize) -> Self {
        let mut v = Vec::with_capacity(self.len() + extra);
        v.extend_from_slice(self);
        v
    }
    fn append(&mut self, row: &[T]) {
        self.extend_from_slice(row);
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
    fn fits(&self, _at: usize, room: usize, row: &[T]) -> bool {
        row.len() <= room
    }
    fn write_at(&mut self, at: usize, row: &[T]) {
        self[at..at + row.len()].clone_from_slice(row);
    }
    fn heap_bytes(&self) -> usize {
        self.capacity() * Self::ITEM
    }
}

impl Page for String {
    type Row = str;
    const ITEM: usize = 1;
    fn len(&self) -> usize {
        String::len(self)
    }
    #[inline]
    fn row(&self, a: usize, b: usize) -> &str {
        &self[a..b]
    }
    fn row_len(row: &str) -> usize {
        row.len()
    }
    fn of(row: &str) -> Self {
        row.to_string()
    }
    fn copy_reserving(&self, extra: usize) -> Self {
        let mut s = String::with_capacity(self.len() + extra);
        s.push_str(self);
        s
    }
    fn append(&mut self, row: &str) {
        self.push_str(row);
    }
    fn truncate(&mut self, len: usize) {
        String::truncate(self, len);
    }
    /// A shorter text must end on a character boundary of the old one (the
    /// rest of the old text stays, as garbage, valid UTF-8).
    fn fits(&self, at: usize, room: usize, row: &str) -> bool {
        row.len() <= room && self.is_char_boundary(at + row.len())
    }
    fn write_at(&mut self, at: usize, row: &str) {
        self.replace_range(at..at + row.len(), row);
    }
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

/// The page behind `page`, copied first (with room for `extra` more items)
/// when another clone shares it.
fn own<P: Page>(page: &mut Arc<P>, extra: usize) -> &mut P {
    if Arc::get_mut(page).is_none() {
        *page = Arc::new(page.copy_reserving(extra));
    }
    // Unique now: no copy.
    Arc::make_mut(page)
}

/// Where a row is: items `start..end` of page `page`. Every empty row has the
/// span `0 0..0`, so a row that ends at the end of its page is not empty.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Span {
    page: u32,
    start: u32,
    end: u32,
}

impl Span {
    fn new(page: usize, a: usize, b: usize) -> Span {
        if a == b {
            Span::default()
        } else {
            Span {
                page: page as u32,
                start: a as u32,
                end: b as u32,
            }
        }
    }
}

/// Rows, each a span of one page (see the module docs).
#[derive(Clone, Debug)]
pub(super) struct Paged<P> {
    /// Never empty, so the span of an empty row resolves.
    pages: Vec<Arc<P>>,
    /// Chunks of 1024 spans (12 KiB).
    spans: Chunked<Span, 1024>,
    /// Items of each page no span covers.
    garbage: Vec<usize>,
    /// Items in all rows.
    live: usize,
    /// Items a page holds (unless one row is longer).
    page_items: usize,
}

/// Rows of items (labels, arcs, access times).
pub(super) type Rows<T> = Paged<Vec<T>>;

/// Rows of text (ids, titles).
pub(super) type StrRows = Paged<String>;

impl<P: Page> Default for Paged<P> {
    fn default() -> Self {
        Paged::with_page_items(PAGE_BYTES / P::ITEM.max(1))
    }
}

impl<P: Page> Paged<P> {
    fn with_page_items(page_items: usize) -> Self {
        Paged {
            pages: vec![Arc::new(P::default())],
            spans: Chunked::default(),
            garbage: vec![0],
            live: 0,
            page_items: page_items.max(1),
        }
    }

    /// Rows from a CSR: `offsets` (checked by the caller, starting at 0) into
    /// `all`, packed into pages in row order.
    pub(super) fn from_offsets(offsets: &[usize], all: &P) -> Self {
        Self::default().filled(offsets, all)
    }

    /// Fills empty rows from a CSR.
    fn filled(mut self, offsets: &[usize], all: &P) -> Self {
        let mut pages = Vec::new();
        let mut first = 0;
        for w in offsets.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b - first > self.page_items && a > first {
                pages.push(Arc::new(P::of(all.row(first, a))));
                first = a;
            }
            self.spans
                .push(Span::new(pages.len(), a - first, b - first));
        }
        let end = offsets.last().copied().unwrap_or(0);
        pages.push(Arc::new(P::of(all.row(first, end))));
        self.garbage = vec![0; pages.len()];
        self.pages = pages;
        self.live = end;
        self
    }

    /// Number of rows.
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Items in all rows.
    pub(super) fn live_items(&self) -> usize {
        self.live
    }

    #[inline]
    pub(super) fn get(&self, r: usize) -> &P::Row {
        let s = self.spans[r];
        self.pages[s.page as usize].row(s.start as usize, s.end as usize)
    }

    /// Number of items in row `r` (reads only its span).
    #[inline]
    pub(super) fn row_len(&self, r: usize) -> usize {
        let s = self.spans[r];
        (s.end - s.start) as usize
    }

    pub(super) fn push(&mut self, row: &P::Row) {
        let s = self.place(row);
        self.spans.push(s);
        self.live += P::row_len(row);
    }

    /// Replaces row `r` with `new`.
    pub(super) fn replace(&mut self, r: usize, new: &P::Row) {
        if self.get(r) == new {
            return;
        }
        let s = self.spans[r];
        let (p, a, b) = (s.page as usize, s.start as usize, s.end as usize);
        let n = P::row_len(new);
        self.live = self.live + n - (b - a);
        if a == b {
            let s = self.place(new);
            self.spans.set(r, s);
        } else if b == self.pages[p].len() && (a + n <= self.page_items || a == 0) {
            // The last row of its page (or alone in it): edit the tail.
            let page = own(&mut self.pages[p], n.saturating_sub(b - a));
            page.truncate(a);
            page.append(new);
            self.spans.set(r, Span::new(p, a, a + n));
            // A shorter page may now be mostly garbage.
            self.maybe_compact(p);
        } else if self.pages[p].fits(a, b - a, new) {
            own(&mut self.pages[p], 0).write_at(a, new);
            self.spans.set(r, Span::new(p, a, a + n));
            self.garbage[p] += b - a - n;
            self.maybe_compact(p);
        } else {
            let s = self.place(new);
            self.spans.set(r, s);
            self.garbage[p] += b - a;
            self.maybe_compact(p);
        }
    }

    /// Stores a row's items at the end of the last page, or in a new page when
    /// they do not fit there; their span.
    fn place(&mut self, row: &P::Row) -> Span {
        let n = P::row_len(row);
        if n == 0 {
            return Span::default();
        }
        let last = self.pages.len() - 1;
        let used = self.pages[last].len();
        if used + n <= self.page_items {
            own(&mut self.pages[last], n).append(row);
            return Span::new(last, used, used + n);
        }
        self.pages.push(Arc::new(P::of(row)));
        self.garbage.push(0);
        Span::new(last + 1, 0, n)
    }

    /// Rewrites page `p` without its garbage once that outweighs its live
    /// items and is worth a scan of the spans (or is all the page holds).
    fn maybe_compact(&mut self, p: usize) {
        let (garbage, len) = (self.garbage[p], self.pages[p].len());
        if 2 * garbage < len || (garbage < len && garbage < self.page_items / 8) {
            return;
        }
        let mut rows: Vec<(u32, usize)> = Vec::new();
        if garbage < len {
            rows = self
                .spans
                .iter()
                .enumerate()
                .filter(|(_, s)| s.page as usize == p && s.start < s.end)
                .map(|(r, s)| (s.start, r))
                .collect();
            rows.sort_unstable();
        }
        let old = Arc::clone(&self.pages[p]);
        let mut page = P::default().copy_reserving(len - garbage);
        for (_, r) in rows {
            let s = self.spans[r];
            let a = page.len();
            page.append(old.row(s.start as usize, s.end as usize));
            self.spans.set(r, Span::new(p, a, page.len()));
        }
        self.pages[p] = Arc::new(page);
        self.garbage[p] = 0;
    }

    pub(super) fn heap_bytes(&self) -> usize {
        let arc = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<P>();
        self.pages
            .iter()
            .map(|p| std::mem::size_of::<usize>() + arc + p.heap_bytes())
            .sum::<usize>()
            + self.spans.heap_bytes()
            + self.garbage.capacity() * std::mem::size_of::<usize>()
    }
}

impl<T: Clone + PartialEq> Rows<T> {
    /// Every item, garbage included (all live as built or read).
    pub(super) fn items(&self) -> impl Iterator<Item = &T> + '_ {
        self.pages.iter().flat_map(|p| p.iter())
    }
}

impl<T: Clone + Ord> Rows<T> {
    /// Inserts `x` into sorted row `r` unless present; whether it was inserted.
    pub(super) fn insert_sorted(&mut self, r: usize, x: T) -> bool {
        let Err(k) = self.get(r).binary_search(&x) else {
            return false;
        };
        let s = self.spans[r];
        let (p, a, b) = (s.page as usize, s.start as usize, s.end as usize);
        if a < b && b == self.pages[p].len() && (b < self.page_items || a == 0) {
            // The last row of its page: insert in place.
            own(&mut self.pages[p], 1).insert(a + k, x);
            self.spans.set(r, Span::new(p, a, b + 1));
            self.live += 1;
        } else {
            let row = self.get(r);
            let mut new = Vec::with_capacity(row.len() + 1);
            new.extend_from_slice(&row[..k]);
            new.push(x);
            new.extend_from_slice(&row[k..]);
            self.replace(r, &new);
        }
        true
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
    use proptest::prelude::*;

    use super::*;

    /// No page is left with garbage worth compacting, and the live count is
    /// what the rows hold.
    fn check_pages<P: Page>(rows: &Paged<P>) -> Result<(), String> {
        for (p, page) in rows.pages.iter().enumerate() {
            let (g, len) = (rows.garbage[p], page.len());
            if len > 0 && !(2 * g < len || (g < len && g < rows.page_items / 8)) {
                return Err(format!("page {p}: {g} of {len} items are garbage"));
            }
        }
        let live: usize = (0..rows.len()).map(|r| P::row_len(rows.get(r))).sum();
        if live != rows.live_items() {
            return Err(format!("live {} counted {live}", rows.live_items()));
        }
        Ok(())
    }

    /// Every edit leaves each row as a plain vector of vectors would, through
    /// in-place edits, moves to the last page, rows longer than a page and
    /// compactions.
    #[test]
    fn rows_edit_like_a_vector_of_rows() {
        let mut model: Vec<Vec<u32>> = Vec::new();
        let mut rows: Rows<u32> = Paged::with_page_items(64).filled(&[0], &Vec::new());
        let mut x = 7u32;
        for step in 0..20_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let r = (x >> 8) as usize % (model.len() + 1);
            let len = if x.is_multiple_of(97) {
                70
            } else {
                (x >> 4) as usize % 6
            };
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
        check_pages(&rows).unwrap_or_else(|e| panic!("{e}"));
        for (r, m) in model.iter().enumerate() {
            assert_eq!(rows.get(r), m.as_slice(), "row {r}");
        }
    }

    #[test]
    fn text_rows_edit_like_a_vector_of_strings() {
        let mut model: Vec<String> = Vec::new();
        let mut rows: StrRows = Paged::with_page_items(64).filled(&[0], &String::new());
        let texts = ["", "a", "bé", "ç", "hello", "wörld", "日本", "ab", "日"];
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
        check_pages(&rows).unwrap_or_else(|e| panic!("{e}"));
        for (r, m) in model.iter().enumerate() {
            assert_eq!(rows.get(r), m, "row {r}");
        }
    }

    #[test]
    fn rows_from_offsets_pack_pages_and_keep_long_rows_whole() {
        let offsets = [0, 3, 3, 10, 30, 31, 40];
        let all: Vec<u32> = (0..40).collect();
        let rows: Rows<u32> = Paged::with_page_items(8).filled(&offsets, &all);
        for (r, w) in offsets.windows(2).enumerate() {
            assert_eq!(rows.get(r), &all[w[0]..w[1]], "row {r}");
        }
        let pages: Vec<usize> = rows.pages.iter().map(|p| p.len()).collect();
        assert_eq!(pages, [3, 7, 20, 1, 9], "rows longer than a page alone");
        assert_eq!(rows.live_items(), 40);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(Vec<u16>),
        Replace(usize, Vec<u16>),
        Insert(usize, u16),
        Clone,
    }

    fn op() -> impl Strategy<Value = Op> {
        let row = || {
            prop_oneof![
                6 => proptest::collection::vec(0u16..50, 0..6),
                1 => proptest::collection::vec(0u16..50, 10..30),
            ]
        };
        prop_oneof![
            3 => row().prop_map(Op::Push),
            4 => (any::<usize>(), row()).prop_map(|(r, v)| Op::Replace(r, v)),
            3 => (any::<usize>(), 0u16..50).prop_map(|(r, x)| Op::Insert(r, x)),
            1 => Just(Op::Clone),
        ]
    }

    proptest! {
        /// Rows over small pages behave as a vector of rows, and a clone
        /// taken midway keeps its rows while the original is edited.
        #[test]
        fn rows_are_a_vector_of_rows_and_clones_keep_theirs(
            ops in proptest::collection::vec(op(), 0..300),
        ) {
            let mut rows: Rows<u16> = Paged::with_page_items(16).filled(&[0], &Vec::new());
            let mut model: Vec<Vec<u16>> = Vec::new();
            let mut clones = Vec::new();
            for op in ops {
                match op {
                    Op::Push(v) => {
                        rows.push(&v);
                        model.push(v);
                    }
                    Op::Replace(r, mut v) if !model.is_empty() => {
                        let r = r % model.len();
                        v.sort_unstable();
                        v.dedup();
                        rows.replace(r, &v);
                        model[r] = v;
                    }
                    Op::Insert(r, x) if !model.is_empty() => {
                        let r = r % model.len();
                        if !model[r].is_sorted() {
                            continue;
                        }
                        prop_assert_eq!(rows.insert_sorted(r, x), insert_sorted(&mut model[r], x));
                    }
                    Op::Clone => clones.push((rows.clone(), model.clone())),
                    _ => {}
                }
                prop_assert_eq!(rows.len(), model.len());
                prop_assert_eq!(check_pages(&rows), Ok(()));
            }
            for (r, m) in model.iter().enumerate() {
                prop_assert_eq!(rows.get(r), m.as_slice());
            }
            for (c, m) in clones {
                prop_assert_eq!(c.len(), m.len());
                for (r, row) in m.iter().enumerate() {
                    prop_assert_eq!(c.get(r), row.as_slice());
                }
            }
        }
    }
}
