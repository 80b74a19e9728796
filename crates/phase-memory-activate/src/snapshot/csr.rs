//! Compressed-row helpers: a list of rows stored as one item vector plus row end
//! offsets (`offsets` has one more entry than rows), edited in place.

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

/// Replaces row `r` of a CSR (`offsets` has one more entry than rows) with `new`.
pub(super) fn csr_replace<T: Clone>(
    offsets: &mut [usize],
    items: &mut Vec<T>,
    r: usize,
    new: &[T],
) {
    let (a, b) = (offsets[r], offsets[r + 1]);
    items.splice(a..b, new.iter().cloned());
    shift(&mut offsets[r + 1..], b - a, new.len());
}

/// Inserts row `r` with `new` into a CSR.
pub(super) fn csr_insert<T: Clone>(
    offsets: &mut Vec<usize>,
    items: &mut Vec<T>,
    r: usize,
    new: &[T],
) {
    let a = offsets[r];
    items.splice(a..a, new.iter().cloned());
    offsets.insert(r + 1, a);
    shift(&mut offsets[r + 1..], 0, new.len());
}

/// Removes row `r` of a CSR.
pub(super) fn csr_remove<T>(offsets: &mut Vec<usize>, items: &mut Vec<T>, r: usize) {
    let (a, b) = (offsets[r], offsets[r + 1]);
    items.drain(a..b);
    offsets.remove(r + 1);
    shift(&mut offsets[r + 1..], b - a, 0);
}

/// Replaces row `r` of a string CSR (concatenated strings and their end offsets).
pub(super) fn str_replace(offsets: &mut [usize], bytes: &mut String, r: usize, new: &str) {
    let (a, b) = (offsets[r], offsets[r + 1]);
    bytes.replace_range(a..b, new);
    shift(&mut offsets[r + 1..], b - a, new.len());
}

/// Inserts row `r` into a string CSR.
pub(super) fn str_insert(offsets: &mut Vec<usize>, bytes: &mut String, r: usize, new: &str) {
    let a = offsets[r];
    bytes.insert_str(a, new);
    offsets.insert(r + 1, a);
    shift(&mut offsets[r + 1..], 0, new.len());
}

/// Removes row `r` of a string CSR.
pub(super) fn str_remove(offsets: &mut Vec<usize>, bytes: &mut String, r: usize) {
    let (a, b) = (offsets[r], offsets[r + 1]);
    bytes.replace_range(a..b, "");
    offsets.remove(r + 1);
    shift(&mut offsets[r + 1..], b - a, 0);
}

/// Offsets after a row that went from `old` to `new` items.
pub(super) fn shift(offsets: &mut [usize], old: usize, new: usize) {
    if new > old {
        offsets.iter_mut().for_each(|o| *o += new - old);
    } else if old > new {
        offsets.iter_mut().for_each(|o| *o -= old - new);
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
