//! The last lines of a log's committed part, read backwards from its committed
//! length: what a lazy handle answers "the events after seq N" with when N is
//! close to the head (the activation snapshot's bring-forward asks for the
//! events of the last few commits).

use std::fs::File;

use phase_memory_model::Event;
use phase_memory_store::EventQuery;

use crate::load::read_at;
use crate::record::check_line;

/// Events after this many from the head are read by loading the image instead.
pub(crate) const TAIL_EVENTS: u64 = 10_000;
/// First read from the end; grows fourfold up to [`TAIL_MAX`].
const CHUNK: u64 = 64 << 10;
const TAIL_MAX: u64 = 64 << 20;

/// The last `n` (at least one) lines of the first `committed` bytes of `f`,
/// oldest first, without their newlines; `None` when the committed part does
/// not end with a line, is shorter than `n` lines, or they are too long to read
/// this way.
pub(crate) fn last_lines(f: &File, committed: u64, n: usize) -> Option<Vec<Vec<u8>>> {
    if n == 0 {
        return None;
    }
    let mut chunk = CHUNK;
    loop {
        let start = committed.saturating_sub(chunk);
        let bytes = read_at(f, start, committed - start).ok()?;
        if bytes.len() as u64 != committed - start {
            return None;
        }
        let body = bytes.strip_suffix(b"\n")?;
        let newlines = body.iter().filter(|b| **b == b'\n').count();
        if newlines >= n || start == 0 {
            let mut lines: Vec<Vec<u8>> = body
                .rsplitn(n + 1, |b| *b == b'\n')
                .take(n)
                .map(<[u8]>::to_vec)
                .collect();
            if lines.len() != n || (newlines < n && newlines + 1 != n) {
                return None;
            }
            lines.reverse();
            return Some(lines);
        }
        if chunk >= TAIL_MAX || chunk >= committed {
            return None;
        }
        chunk *= 4;
    }
}

/// The events of `q` from a log whose last event is `head`: the `head -
/// q.after_seq` last lines, each checked and in sequence. `None` when they do
/// not read back so (the caller loads the image, which reports damage).
pub(crate) fn events_after(
    f: &File,
    committed: u64,
    head: u64,
    q: &EventQuery,
) -> Option<Vec<Event>> {
    let n = head.checked_sub(q.after_seq)?;
    if n == 0 {
        return Some(Vec::new());
    }
    if n > TAIL_EVENTS {
        return None;
    }
    let lines = last_lines(f, committed, usize::try_from(n).ok()?)?;
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        check_line(line).ok()?;
        let e: Event = serde_json::from_slice(line).ok()?;
        if e.seq != q.after_seq + 1 + i as u64 {
            return None;
        }
        if q.matches(&e) {
            out.push(e);
        }
        if q.limit.is_some_and(|l| out.len() >= l) {
            break;
        }
    }
    Some(out)
}
