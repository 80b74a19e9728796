//! Per-request state of an activation kept per thread and emptied for the next
//! request instead of allocated again: the touched nodes (a hash map) and the
//! admission answers (two bits per node of the snapshot).
//!
//! A request touches a thousand nodes or more out of 100k; the bitsets are
//! sized to the snapshot once per thread and emptied word by word where the
//! last request set them, so a request no longer zeroes 25 KiB it barely
//! touches, and the map is not grown again from empty.

use std::cell::RefCell;

use rustc_hash::FxHashMap;

/// The `NONE` node index (no origin, no predecessor).
pub(super) const NONE: u32 = u32::MAX;

/// Per-request state of a touched (admitted) node.
#[derive(Clone, Copy)]
pub(super) struct Touch {
    pub(super) seed: f64,
    pub(super) spread: f64,
    /// The seed the best spreading path started from.
    pub(super) origin: u32,
    /// The node before this one on the best spreading path.
    pub(super) pred: u32,
    /// The hop that set `spread`.
    pub(super) hop: u32,
}

impl Default for Touch {
    fn default() -> Self {
        Touch {
            seed: 0.0,
            spread: 0.0,
            origin: NONE,
            pred: NONE,
            hop: 0,
        }
    }
}

/// The touched nodes of one request with their state. (A dense slot per node
/// of the snapshot was tried: no faster than this map, which stays small
/// enough for the core's cache while the slots of 100k nodes do not.)
#[derive(Default)]
pub(super) struct Touched {
    map: FxHashMap<u32, Touch>,
}

impl Touched {
    /// The state of node `i`, if touched.
    pub(super) fn get(&self, i: u32) -> Option<&Touch> {
        self.map.get(&i)
    }

    /// The state of node `i`, a default one when it was untouched.
    pub(super) fn entry(&mut self, i: u32) -> &mut Touch {
        self.map.entry(i).or_default()
    }

    /// Every touched node with its state (in no particular order).
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &Touch)> {
        self.map.iter().map(|(i, t)| (*i, t))
    }

    /// Number of touched nodes.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// Empties the set, with room for `room` nodes (spreading usually touches
    /// a thousand nodes or more: room from the start instead of growing the
    /// map a dozen times).
    fn reset(&mut self, room: usize) {
        self.map.clear();
        self.map.reserve(room);
    }
}

/// The answers of admission so far, two bits per node of the snapshot (asked,
/// admitted), and the words set so far (to empty them for the next request).
#[derive(Default)]
pub(super) struct Answers {
    asked: Vec<u64>,
    admitted: Vec<u64>,
    dirty: Vec<u32>,
}

impl Answers {
    /// The answer for node `i`, if it was asked about.
    pub(super) fn get(&self, i: u32) -> Option<bool> {
        let (w, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        let asked = self.asked.get(w).is_some_and(|x| x & bit != 0);
        asked.then(|| self.admitted.get(w).is_some_and(|x| x & bit != 0))
    }

    pub(super) fn set(&mut self, i: u32, admitted: bool) {
        let (w, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        if let (Some(a), Some(y)) = (self.asked.get_mut(w), self.admitted.get_mut(w)) {
            if *a == 0 {
                self.dirty.push(i / 64);
            }
            *a |= bit;
            if admitted {
                *y |= bit;
            }
        }
    }

    /// Empties the answers for a snapshot of `nodes` nodes.
    fn reset(&mut self, nodes: usize) {
        for w in self.dirty.drain(..) {
            let w = w as usize;
            if let (Some(a), Some(y)) = (self.asked.get_mut(w), self.admitted.get_mut(w)) {
                *a = 0;
                *y = 0;
            }
        }
        let words = nodes.div_ceil(64);
        self.asked.resize(words, 0);
        self.admitted.resize(words, 0);
    }
}

/// The scratch state of one activation.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) touched: Touched,
    pub(super) answers: Answers,
}

thread_local! {
    /// The scratch of this thread's last activation, emptied and used again.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Largest touched list kept for the next activation of a thread (entries).
const KEPT_TOUCHED: usize = 1 << 14;

/// Empty scratch for a snapshot of `nodes` nodes: this thread's last one when
/// there is one (a new one inside a nested activation on the same thread).
pub(super) fn take(nodes: usize) -> Scratch {
    let mut s = SCRATCH
        .try_with(|c| {
            c.try_borrow_mut()
                .map(|mut s| std::mem::take(&mut *s))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    s.touched.reset(1024.min(nodes));
    s.answers.reset(nodes);
    s
}

/// Gives scratch back for this thread's next activation (not when one request
/// touched so much that keeping its list would hold memory for nothing).
pub(super) fn give_back(s: Scratch) {
    if s.touched.map.capacity() <= KEPT_TOUCHED {
        let _ = SCRATCH.try_with(|c| {
            if let Ok(mut slot) = c.try_borrow_mut() {
                *slot = s;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Scratch used again answers like fresh maps: whatever two requests
        /// touched and asked, the second sees only its own.
        #[test]
        fn scratch_used_again_holds_only_this_requests_state(
            first in prop::collection::vec((0u32..300, any::<bool>()), 0..200),
            second in prop::collection::vec((0u32..300, any::<bool>()), 0..200),
        ) {
            let mut s = Scratch::default();
            s.touched.reset(300);
            s.answers.reset(300);
            for &(i, ok) in &first {
                s.touched.entry(i).seed += 1.0;
                if s.answers.get(i).is_none() {
                    s.answers.set(i, ok);
                }
            }
            s.touched.reset(300);
            s.answers.reset(300);
            let mut touched: BTreeMap<u32, f64> = BTreeMap::new();
            let mut answers: BTreeMap<u32, bool> = BTreeMap::new();
            for &(i, ok) in &second {
                s.touched.entry(i).seed += 1.0;
                *touched.entry(i).or_default() += 1.0;
                if s.answers.get(i).is_none() {
                    s.answers.set(i, ok);
                }
                answers.entry(i).or_insert(ok);
            }
            prop_assert_eq!(s.touched.len(), touched.len());
            for i in 0..300u32 {
                prop_assert_eq!(s.touched.get(i).map(|t| t.seed), touched.get(&i).copied());
                prop_assert_eq!(s.answers.get(i), answers.get(&i).copied());
            }
            let listed: BTreeMap<u32, f64> = s.touched.iter().map(|(i, t)| (i, t.seed)).collect();
            prop_assert_eq!(listed, touched);
        }
    }
}
