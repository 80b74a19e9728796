//! The lazy image of a shared or read-only handle: what a handle knows without
//! loading the whole store — the manifest, the profile, the last record of each log
//! (event head, audit head), the locator (`locator.bin`, see [`crate::locator`])
//! plus an overlay of the node and edge records in segments the locator does not
//! cover —
//! and the files of its manifest held open, so that loading the whole image later
//! reads exactly the bytes of that manifest even if another handle's commit has
//! since removed or replaced them.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;

use phase_memory_model::{AuditRecord, Edge, EdgeKey, Event, Node};
use phase_memory_store::{StoreError, StoreResult};
use serde::de::DeserializeOwned;

use crate::layout::{self, LogEntry, Manifest, SegmentEntry, blake3_hex, corrupt};
use crate::load::{Pins, load_profile, read_at, resolve_log};
use crate::locator::{self, Locator, Pos, same_segment};
use crate::record::{LineKey, SegmentRecord, check_line, line_key, line_spans};

/// Segments a lazy open scans line by line when the locator does not cover them:
/// up to this many bytes, or up to a quarter of what it covers.
const SCAN_MIN: u64 = 8 << 20;
thread_local! {
    /// A test's override of [`SCAN_MIN`] for opens on its thread.
    static SCAN_LIMIT: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Sets (or with `None` clears) how many uncovered segment bytes a lazy open on
/// this thread scans before it loads the whole store instead (tests: `Some(0)`
/// makes a missing or stale locator fall back to the full load).
pub fn set_scan_limit_for_thread(limit: Option<u64>) {
    SCAN_LIMIT.with(|c| c.set(limit));
}

fn scan_limit(covered: u64) -> u64 {
    SCAN_LIMIT
        .with(|c| c.get())
        .unwrap_or_else(|| SCAN_MIN.max(covered / 4))
}

/// Scanning more than this many bytes makes the handle write a new locator.
const REWRITE_AT: u64 = 1 << 20;
/// Read this much of a log's end at a time when looking for its last line.
const TAIL_CHUNK: u64 = 16 << 10;
/// A log line longer than this is not looked for from the end (load instead).
const TAIL_MAX: u64 = 64 << 20;

/// What a handle knows without its whole image.
#[derive(Debug)]
pub(crate) struct Lazy {
    /// The stored profile.
    pub profile: Option<String>,
    /// Seq of the last committed event (0 when none).
    pub event_head: u64,
    /// The last committed audit record after the checkpoint.
    pub audit_tail: Option<AuditRecord>,
    /// The files of the manifest, held open.
    pub pins: Pins,
    /// Segment file names, by the `seg` of a [`Pos`] (the manifest's order).
    files: Vec<String>,
    /// The locator, when one covers a prefix of the segment list.
    locator: Option<Locator>,
    /// How many of the manifest's first segments the locator covers.
    valid: usize,
    /// Nodes put (`Some`) or deleted (`None`) in the segments after `valid`.
    overlay: BTreeMap<String, Option<Pos>>,
    /// Edges put (`Some`) or deleted (`None`) in the segments after `valid`.
    edge_overlay: BTreeMap<EdgeKey, Option<Pos>>,
    /// Whether the locator's edge-end table must be checked for entries in
    /// segments the manifest dropped before the image answers edges from it
    /// (segments were dropped and the scanned ones held no edge record).
    ends_check: bool,
    /// The locator's edge-end table is readable and, where `ends_check`, has
    /// no entry in a dropped segment (decided on first use).
    ends_ok: OnceLock<bool>,
}

/// Opens a segment named by the manifest; `None` unless it has the manifest's length.
fn pin_segment(dir: &Path, s: &SegmentEntry) -> Option<File> {
    let f = File::open(dir.join(layout::SEGMENTS).join(&s.file)).ok()?;
    (f.metadata().ok()?.len() == s.bytes).then_some(f)
}

/// The committed log file held open and its last committed record (`None` when
/// the log is empty); `Err` when the end does not read back as a record.
fn log_tail<T: DeserializeOwned>(
    dir: &Path,
    entry: &LogEntry,
    canonical: &str,
) -> Result<(Option<File>, Option<T>), String> {
    let path = resolve_log(dir, entry, canonical);
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(_) if entry.bytes == 0 => return Ok((None, None)),
        Err(e) => return Err(format!("opening {canonical}: {e}")),
    };
    if entry.bytes == 0 {
        return Ok((Some(f), None));
    }
    let have = f.metadata().map_err(|e| e.to_string())?.len();
    if have < entry.bytes {
        return Err(format!("{canonical} is shorter than its committed length"));
    }
    let mut want = TAIL_CHUNK.min(entry.bytes);
    loop {
        let from = entry.bytes - want;
        let bytes = read_at(&f, from, want).map_err(|e| e.to_string())?;
        if bytes.len() as u64 != want || bytes.last() != Some(&b'\n') {
            return Err(format!(
                "{canonical} does not end its committed part with a line"
            ));
        }
        let body = &bytes[..bytes.len() - 1];
        let start = match body.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None if from == 0 => 0,
            None if want >= TAIL_MAX => return Err("last line too long".into()),
            None => {
                want = (want * 4).min(entry.bytes);
                continue;
            }
        };
        let line = &body[start..];
        check_line(line)?;
        let rec = serde_json::from_slice::<T>(line).map_err(|e| e.to_string())?;
        return Ok((Some(f), Some(rec)));
    }
}

/// The logs' ends of manifest `m`: files, event head, audit tail. `Err` when
/// they do not read back consistently with the manifest.
#[allow(clippy::type_complexity)]
fn log_ends(
    dir: &Path,
    m: &Manifest,
) -> Result<(Option<File>, u64, Option<File>, Option<AuditRecord>), String> {
    let (events, last_event) = log_tail::<Event>(dir, &m.events, layout::EVENTS)?;
    let (audit, tail) = audit_end(dir, m)?;
    Ok((events, last_event.map_or(0, |e| e.seq), audit, tail))
}

/// The committed audit log held open and its last record after the checkpoint.
fn audit_end(dir: &Path, m: &Manifest) -> Result<(Option<File>, Option<AuditRecord>), String> {
    let (audit, tail) = log_tail::<AuditRecord>(dir, &m.audit, layout::AUDIT)?;
    // The chain after the checkpoint has no gaps: its last seq follows from the
    // line count (a replaced file would not).
    let expected = m.audit_checkpoint.last_pruned_seq + m.audit.lines;
    if tail
        .as_ref()
        .map_or(m.audit.lines != 0, |r| r.seq != expected)
    {
        return Err("audit.jsonl does not end where the manifest says".into());
    }
    Ok((audit, tail))
}

/// The node keys of one segment's lines with their positions (segment `seg`);
/// `None` when the file does not match its manifest entry or a line is unreadable.
fn scan_segment(f: &File, s: &SegmentEntry, seg: usize) -> Option<Vec<(LineKey, Pos)>> {
    let bytes = read_at(f, 0, s.bytes).ok()?;
    if bytes.len() as u64 != s.bytes || blake3_hex(&bytes) != s.blake3 {
        return None;
    }
    let spans = line_spans(&bytes);
    if spans.len() as u64 != s.records {
        return None;
    }
    let seg = u32::try_from(seg).ok()?;
    spans
        .into_iter()
        .map(|(offset, len)| {
            let line = &bytes[offset as usize..offset as usize + len as usize];
            let key = line_key(line).ok()?;
            Some((key, Pos { seg, offset, len }))
        })
        .collect()
}

impl Lazy {
    /// The lazy image of manifest `m`, and whether a new locator is worth
    /// writing. `None` when the store must be loaded instead: no locator covers
    /// enough of the segments, a file does not match the manifest, or a log's end
    /// does not read back.
    pub fn open(dir: &Path, m: &Manifest) -> StoreResult<Option<(Lazy, bool)>> {
        Self::open_with(dir, m, false)
    }

    /// [`Lazy::open`] scanning every segment the locator does not cover, however
    /// much (a handle following its own compaction, which would otherwise load
    /// the whole store).
    pub fn open_scanning(dir: &Path, m: &Manifest) -> StoreResult<Option<(Lazy, bool)>> {
        Self::open_with(dir, m, true)
    }

    fn open_with(dir: &Path, m: &Manifest, scan_all: bool) -> StoreResult<Option<(Lazy, bool)>> {
        let mut pins = Pins::default();
        for s in &m.segments {
            let Some(f) = pin_segment(dir, s) else {
                return Ok(None);
            };
            pins.segments.insert(s.file.clone(), f);
        }
        let (profile, damage) = load_profile(dir, m)?;
        if damage.is_some() {
            return Ok(None);
        }
        let Ok((events, event_head, audit, audit_tail)) = log_ends(dir, m) else {
            return Ok(None);
        };
        pins.events = events;
        pins.audit = audit;
        pins.profile = Some(profile.clone());

        let locator = Locator::read(dir);
        let valid = locator.as_ref().map_or(0, |l| {
            l.segments
                .iter()
                .zip(&m.segments)
                .take_while(|(a, b)| same_segment(a, b))
                .count()
        });
        let covered: u64 = m.segments[..valid].iter().map(|s| s.bytes).sum();
        let uncovered: u64 = m.segments[valid..].iter().map(|s| s.bytes).sum();
        if !scan_all && uncovered > scan_limit(covered) {
            return Ok(None);
        }
        let mut overlay = BTreeMap::new();
        let mut edge_overlay = BTreeMap::new();
        for (i, s) in m.segments.iter().enumerate().skip(valid) {
            let Some(keys) = pins
                .segments
                .get(&s.file)
                .and_then(|f| scan_segment(f, s, i))
            else {
                return Ok(None);
            };
            for (key, pos) in keys {
                match key {
                    LineKey::Node(id, put) => {
                        overlay.insert(id, put.then_some(pos));
                    }
                    LineKey::Edge(k, put) => {
                        edge_overlay.insert(k, put.then_some(pos));
                    }
                    LineKey::Review => {}
                }
            }
        }
        let locator = match locator {
            Some(l) if valid > 0 => {
                // Entries in segments the manifest no longer names must have been
                // replaced by a record of the scanned ones (a folded tail holds
                // every record of the segments it folded).
                // Edge entries are not keyed by the whole edge key: those in
                // dropped segments are taken as replaced by the scanned records of
                // the same fold, which must then hold edge records at all.
                // Decoding checked that every entry names one of the locator's
                // segments, so when all of them are still the manifest's no entry
                // can be in a dropped one. The edge-end table is checked on its
                // first use (`ends_ok`): a reader that asks for no edge never
                // reads it.
                let some_dropped = valid < l.segments.len();
                let dropped = some_dropped
                    && l.iter()
                        .any(|(id, p)| p.seg as usize >= valid && !overlay.contains_key(id));
                if dropped {
                    return Ok(None);
                }
                Some(l)
            }
            _ => None,
        };
        let ends_check = locator
            .as_ref()
            .is_some_and(|l| valid < l.segments.len() && edge_overlay.is_empty());
        let lazy = Lazy {
            profile,
            event_head,
            audit_tail,
            pins,
            files: m.segments.iter().map(|s| s.file.clone()).collect(),
            locator,
            valid,
            overlay,
            edge_overlay,
            ends_check,
            ends_ok: OnceLock::new(),
        };
        Ok(Some((lazy, uncovered > REWRITE_AT)))
    }

    /// Where node `id`'s newest record is: `Some(None)` when it does not exist,
    /// `None` when the lazy image cannot tell.
    fn position(&self, id: &str) -> Option<Option<Pos>> {
        if let Some(p) = self.overlay.get(id) {
            return Some(*p);
        }
        match &self.locator {
            None => Some(None),
            Some(l) => match l.get(id) {
                Some(p) if p.seg as usize >= self.valid => None,
                p => Some(p),
            },
        }
    }

    /// Node `id` read with one `pread` of its line: `Some(answer)`, or `None`
    /// when the lazy image cannot answer (the caller loads the whole image, which
    /// reports a damaged record as corrupt).
    pub fn node(&self, id: &str) -> Option<Option<Node>> {
        let Some(pos) = self.position(id)? else {
            return Some(None);
        };
        match self.record(pos)? {
            SegmentRecord::PutNode(n) if n.id == id => Some(Some(n)),
            _ => None,
        }
    }

    /// The record at `pos`, read with one `pread` and checked by its checksum.
    fn record(&self, pos: Pos) -> Option<SegmentRecord> {
        let f = self.pins.segments.get(self.files.get(pos.seg as usize)?)?;
        let bytes = read_at(f, pos.offset, u64::from(pos.len) + 1).ok()?;
        let (line, nl) = bytes.split_at(pos.len as usize);
        if nl != b"\n" {
            return None;
        }
        check_line(line).ok()?;
        serde_json::from_slice::<SegmentRecord>(line).ok()
    }

    /// The edge put at `pos`, when it touches `id`.
    fn edge_at(&self, pos: Pos, id: &str) -> Option<Edge> {
        match self.record(pos)? {
            SegmentRecord::PutEdge(e) if e.from == id || e.to == id => Some(e),
            _ => None,
        }
    }

    /// `Some` when edges can be answered from the locator's edge-end table: it
    /// reads back and, where segments were dropped without edge records in the
    /// scanned ones, none of its entries is in a dropped segment (such entries
    /// would have been replaced by records the image does not hold).
    fn ends_usable(&self, l: &Locator) -> Option<()> {
        let ok = *self.ends_ok.get_or_init(|| match l.ends() {
            None => false,
            Some(mut ends) => !self.ends_check || !ends.any(|(_, p)| p.seg as usize >= self.valid),
        });
        ok.then_some(())
    }

    /// The edges touching node `id`, in key order (as the loaded image answers),
    /// read with one `pread` each; `None` when the lazy image cannot answer.
    pub fn edges_of(&self, id: &str) -> Option<Vec<Edge>> {
        let mut out: BTreeMap<EdgeKey, Edge> = BTreeMap::new();
        if let Some(l) = &self.locator {
            self.ends_usable(l)?;
            for pos in l.edges_at(id)? {
                // Entries in segments the manifest no longer names were replaced
                // by the overlay (see `open`).
                if pos.seg as usize >= self.valid {
                    continue;
                }
                let e = self.edge_at(pos, id)?;
                let k = e.key();
                if !self.edge_overlay.contains_key(&k) {
                    out.insert(k, e);
                }
            }
        }
        for (k, p) in &self.edge_overlay {
            if let Some(p) = p
                && (k.from == id || k.to == id)
            {
                let e = self.edge_at(*p, id)?;
                if e.key() != *k {
                    return None;
                }
                out.insert(k.clone(), e);
            }
        }
        Some(out.into_values().collect())
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        let base = self.locator.as_ref().map_or(0, Locator::len) as i64;
        let delta: i64 = self
            .overlay
            .iter()
            .map(|(id, p)| {
                let before = self.locator.as_ref().is_some_and(|l| l.get(id).is_some());
                i64::from(p.is_some()) - i64::from(before)
            })
            .sum();
        usize::try_from(base + delta).unwrap_or(0)
    }

    /// The locator of this image's segment list (`m`'s), merged from the
    /// locator's entries and the overlays. `None` when an edge record the
    /// overlay replaces does not read back.
    pub fn encode_locator(&self, m: &Manifest) -> Option<Vec<u8>> {
        let mut merged: Vec<(&str, Pos)> = Vec::new();
        let mut base = self
            .locator
            .iter()
            .flat_map(|l| l.iter())
            .filter(|(_, p)| (p.seg as usize) < self.valid)
            .peekable();
        for (id, p) in &self.overlay {
            while let Some((b, bp)) = base.next_if(|(b, _)| *b < id.as_str()) {
                merged.push((b, bp));
            }
            base.next_if(|(b, _)| *b == id.as_str());
            if let Some(p) = p {
                merged.push((id, *p));
            }
        }
        merged.extend(base);
        // The older records of edges the overlay holds are left out.
        let mut replaced = std::collections::HashSet::new();
        if let Some(l) = &self.locator {
            self.ends_usable(l)?;
            for k in self.edge_overlay.keys() {
                for pos in l.edges_at(&k.from)? {
                    if (pos.seg as usize) < self.valid && self.edge_at(pos, &k.from)?.key() == *k {
                        replaced.insert(pos);
                    }
                }
            }
        }
        let mut ends: Vec<(&str, Pos)> = match &self.locator {
            Some(l) => l
                .ends()?
                .filter(|(_, p)| (p.seg as usize) < self.valid && !replaced.contains(p))
                .collect(),
            None => Vec::new(),
        };
        ends.extend(locator::edge_ends(
            self.edge_overlay
                .iter()
                .filter_map(|(k, p)| p.map(|p| (k, p))),
        ));
        ends.sort_unstable_by(|a, b| {
            a.0.cmp(b.0)
                .then((a.1.seg, a.1.offset).cmp(&(b.1.seg, b.1.offset)))
        });
        Some(locator::encode(
            m.data_generation.unwrap_or(m.generation),
            &m.segments,
            merged.into_iter(),
            ends.into_iter(),
        ))
    }

    /// Follows commits from manifest `have` (this image's) to `m` when they only
    /// appended segments and log lines: returns the node ids they changed (nodes
    /// put or deleted, ends of edges put or deleted). `Ok(None)` when the lazy
    /// image must be opened again (a compaction, a purge, much new data). Reads
    /// everything before changing anything.
    pub fn advance(
        &mut self,
        dir: &Path,
        have: &Manifest,
        m: &Manifest,
    ) -> StoreResult<Option<Vec<String>>> {
        let n = have.segments.len();
        if m.segments.len() < n || m.segments[..n] != have.segments[..] {
            return Ok(None);
        }
        let new: u64 = m.segments[n..].iter().map(|s| s.bytes).sum();
        if new > scan_limit(0) {
            return Ok(None);
        }
        let mut pinned = Vec::new();
        let mut keys = Vec::new();
        for (i, s) in m.segments.iter().enumerate().skip(n) {
            let rel = layout::segment_rel(s);
            let f = pin_segment(dir, s)
                .ok_or_else(|| corrupt(&rel, "missing or not the manifest's length"))?;
            let k = scan_segment(&f, s, i)
                .ok_or_else(|| corrupt(&rel, "does not match the manifest"))?;
            keys.extend(k);
            pinned.push((s.file.clone(), f));
        }
        let profile = if m.profile != have.profile {
            let (p, damage) = load_profile(dir, m)?;
            if let Some(d) = damage {
                return Err(crate::load::damage_error(&d));
            }
            Some(p)
        } else {
            None
        };
        // Commits that only audited reads leave the event log as it was: its
        // pinned file and head stay (one file opened and read less per commit
        // followed).
        let (events, event_head, audit, audit_tail) = if m.events == have.events {
            let (audit, audit_tail) =
                audit_end(dir, m).map_err(|e| StoreError::Backend(format!("catching up: {e}")))?;
            (self.pins.events.take(), self.event_head, audit, audit_tail)
        } else {
            log_ends(dir, m).map_err(|e| StoreError::Backend(format!("catching up: {e}")))?
        };

        let mut ids = Vec::new();
        for (key, pos) in keys {
            match key {
                LineKey::Node(id, put) => {
                    ids.push(id.clone());
                    self.overlay.insert(id, put.then_some(pos));
                }
                LineKey::Edge(k, put) => {
                    ids.extend([k.from.clone(), k.to.clone()]);
                    self.edge_overlay.insert(k, put.then_some(pos));
                }
                LineKey::Review => {}
            }
        }
        ids.sort_unstable();
        ids.dedup();
        for (file, f) in pinned {
            self.files.push(file.clone());
            self.pins.segments.insert(file, f);
        }
        if let Some(p) = profile {
            self.profile = p.clone();
            self.pins.profile = Some(p);
        }
        self.event_head = event_head;
        self.audit_tail = audit_tail;
        self.pins.events = events;
        self.pins.audit = audit;
        Ok(Some(ids))
    }
}
