//! Catching up with other handles' commits (`Store::refresh`) and taking over as
//! the writer (`Store::lock_writer`).
//!
//! A handle's image is the store at the manifest it last read. Refreshing reads
//! `manifest.json` and compares its bytes with those it last followed (the cheap
//! generation check: nothing parsed when they are equal) and, when it moved, only what is
//! new: segments appended to the manifest's list, the bytes appended to each log
//! since the committed length the handle knew, and a changed profile.
//!
//! Compactions (see `commit::write_commit`) are followed without reloading
//! while they kept the first segment: each folds the segments after the first,
//! in order, into one, so the folded segment of a later manifest begins with
//! exactly the bytes of the segments after the first that the handle read, and
//! what it has not read is the rest of that segment and the segments after it
//! ([`unread_segments`], which checks the prefix against the handle's manifest
//! entries rather than trusting it). A compaction of exactly the image the
//! handle holds, even one that rewrote the first segment, is followed through
//! the commit's own delta, kept beside the compacted segment (see
//! [`layout::Compaction`]). Either way the handle keeps its change feed (the
//! node ids the unread records change). A lazy image is opened again on the new
//! segment list (its files are the old list's), scanning what the locator does
//! not cover. What rewrote the image in another way (a purge, a compaction that
//! rewrote the first segment after commits the handle has not read) or does
//! not check out reloads it and restarts the change feed; an audit prune
//! reloads the audit log. Everything is read before anything is applied, so a
//! failed refresh leaves the handle on its old, consistent generation.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use phase_memory_model::{AuditRecord, Event};
use phase_memory_store::{ChangeLog, ChangeSet, MemoryState, StoreError, StoreResult};

use crate::FileStore;
use crate::commit;
use crate::layout::{self, LogEntry, Manifest, SegmentEntry, blake3_hex, corrupt, io_err};
use crate::load::{self, damage_error, resolve_log};
use crate::record::{LineKey, SegmentRecord, count_lines, decode_lines, line_key, line_spans};

/// Attempts before a refresh gives up when commits keep replacing what it reads.
const ATTEMPTS: usize = 5;

/// Everything a refresh read, applied only once all of it was read.
enum Update {
    /// The handle already reflects the manifest (maybe renamed staged logs).
    Same,
    /// A whole new image (the segment list was rewritten).
    Full(Box<MemoryState>),
    /// What is new since the handle's manifest.
    Delta(Delta),
}

struct Delta {
    segments: Vec<Vec<SegmentRecord>>,
    events: LogUpdate<Event>,
    audit: LogUpdate<AuditRecord>,
    profile: Option<Option<String>>,
}

enum LogUpdate<T> {
    Append(Vec<T>),
    Replace(Vec<T>),
}

impl FileStore {
    /// [`phase_memory_store::Store::refresh`]: moves the image to the latest
    /// committed manifest and returns its generation.
    pub(crate) fn catch_up(&mut self) -> StoreResult<u64> {
        use phase_memory_store::Store;
        if self.manifest.is_none() {
            // A v1 store has no manifest to follow; it is read once.
            return Ok(self.generation());
        }
        // The cheap generation check: the bytes of the manifest this handle
        // follows, compared without parsing them.
        let mut bytes = self.read_manifest_bytes()?;
        if self.manifest_bytes.as_deref() == Some(bytes.as_slice()) {
            return Ok(self.generation());
        }
        let Some(have) = self.manifest.clone() else {
            return Ok(self.generation());
        };
        if self.lazy().is_some() {
            return self.catch_up_lazily(have, bytes);
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            if attempts > 1 {
                bytes = self.read_manifest_bytes()?;
            }
            let m = Self::parse_manifest(&bytes)?;
            if m == have {
                self.manifest_bytes = Some(bytes);
                return Ok(self.generation());
            }
            match read_update(&self.dir, &have, &m, self.image()?) {
                Ok(update) => {
                    self.apply_update(update, &m)?;
                    self.manifest = Some(m);
                    self.manifest_bytes = Some(bytes);
                    return Ok(self.generation());
                }
                // A commit of another handle may have removed files the manifest we
                // read named (compaction, settle): read the newer manifest and retry.
                Err(e) => {
                    if attempts >= ATTEMPTS || self.read_manifest().is_ok_and(|again| again == m) {
                        return Err(e);
                    }
                }
            }
        }
    }

    fn apply_update(&mut self, update: Update, m: &Manifest) -> StoreResult<()> {
        // Commits after the data generation changed no data: the log knows them.
        let before = self.image_mut()?.data_generation;
        match update {
            Update::Same => {}
            Update::Full(state) => {
                self.count_load();
                self.set_image(*state);
                self.changes = Some(ChangeLog::new(m.data_generation.unwrap_or(m.generation)));
            }
            Update::Delta(d) => {
                let mut ids = Vec::new();
                let state = self.image_mut()?;
                for records in d.segments {
                    for c in change_sets(records) {
                        ids.extend(ChangeLog::ids_of(&c));
                        state.apply(c);
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                let log = self.changes.get_or_insert_with(|| ChangeLog::new(before));
                if d.profile.is_some() {
                    log.reset(m.generation);
                } else {
                    log.record_ids(m.generation, ids);
                }
                let state = self.image_mut()?;
                match d.events {
                    LogUpdate::Append(v) => state.events.extend(v),
                    LogUpdate::Replace(v) => state.events = v,
                }
                match d.audit {
                    LogUpdate::Append(v) => state.audit.extend(v),
                    LogUpdate::Replace(v) => state.audit = v,
                }
                if let Some(p) = d.profile {
                    state.profile = p;
                }
                state.checkpoint = m.audit_checkpoint.clone();
                state.meta = m.meta.clone();
            }
        }
        let state = self.image_mut()?;
        state.generation = m.generation;
        state.data_generation = m.data_generation.unwrap_or(m.generation);
        Ok(())
    }

    /// [`FileStore::catch_up`] for a handle without its whole image: follows
    /// appended segments and log lines in the lazy image; after compactions,
    /// opens the lazy image of the new manifest again, keeping the change feed
    /// when the unread records are known (see
    /// [`FileStore::follow_rewritten_segments`]).
    fn catch_up_lazily(&mut self, have: Manifest, mut bytes: Vec<u8>) -> StoreResult<u64> {
        use phase_memory_store::Store;
        let mut attempts = 0;
        loop {
            attempts += 1;
            if attempts > 1 {
                bytes = self.read_manifest_bytes()?;
            }
            let m = Self::parse_manifest(&bytes)?;
            if m == have {
                self.manifest_bytes = Some(bytes);
                return Ok(self.generation());
            }
            let before = self.data_generation();
            let step = match self.lazy.as_deref_mut() {
                Some(lazy) if m.generation > have.generation => lazy.advance(&self.dir, &have, &m),
                _ => Ok(None),
            };
            let outcome = match step {
                Ok(Some(ids)) => {
                    self.record_changes(before, &have, &m, ids);
                    Ok(())
                }
                Ok(None) => self.follow_rewritten_segments(before, &have, &m),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => {
                    self.manifest = Some(m);
                    self.manifest_bytes = Some(bytes);
                    return Ok(self.generation());
                }
                Err(e) => {
                    if attempts >= ATTEMPTS || self.read_manifest().is_ok_and(|again| again == m) {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Records in the change feed the node ids changed by the commits from
    /// manifest `have` to `m` (a changed profile restarts it instead).
    fn record_changes(&mut self, before: u64, have: &Manifest, m: &Manifest, ids: Vec<String>) {
        let log = self.changes.get_or_insert_with(|| ChangeLog::new(before));
        if m.profile != have.profile {
            log.reset(m.generation);
        } else {
            log.record_ids(m.generation, ids);
        }
    }

    /// Moves the lazy image from manifest `have` to `m` when `m` no longer
    /// lists `have`'s segments (compactions, much new data): when the unread
    /// records are known ([`unread_segments`]) the lazy image of `m` is opened
    /// again (scanning what the locator does not cover when the first segment
    /// was kept; a reader never writes the locator) and the change feed records
    /// their ids; otherwise [`FileStore::reopen_image`].
    fn follow_rewritten_segments(
        &mut self,
        before: u64,
        have: &Manifest,
        m: &Manifest,
    ) -> StoreResult<()> {
        let Some(unread) = unread_segments(&self.dir, have, m)? else {
            return self.reopen_image(m);
        };
        let ids = unread.changed_ids()?;
        let opened = if unread.base_kept {
            crate::lazy::Lazy::open_scanning(&self.dir, m)?
        } else {
            crate::lazy::Lazy::open(&self.dir, m)?
        };
        match opened {
            Some((lazy, _)) => self.lazy = Some(Box::new(lazy)),
            None => {
                self.count_load();
                let loaded = load::load(&self.dir, m, false)?;
                self.set_image(loaded.state);
            }
        }
        self.record_changes(before, have, m, ids);
        Ok(())
    }

    /// The image of manifest `m` from scratch: lazy when a locator covers
    /// enough of it, else loaded. The change feed starts again at `m`.
    fn reopen_image(&mut self, m: &Manifest) -> StoreResult<()> {
        match crate::lazy::Lazy::open(&self.dir, m)? {
            Some((lazy, _)) => self.lazy = Some(Box::new(lazy)),
            None => {
                self.count_load();
                let loaded = load::load(&self.dir, m, false)?;
                self.set_image(loaded.state);
            }
        }
        self.changes = Some(ChangeLog::new(m.data_generation.unwrap_or(m.generation)));
        Ok(())
    }

    /// What a writer open does, for a shared handle that just took the lock:
    /// finishes the tidying of the last commit, removes what an interrupted commit
    /// wrote before its commit point, and cuts uncommitted log tails.
    pub(crate) fn recover_under_lock(&mut self) -> StoreResult<()> {
        // A lazy handle the whole image was loaded into (by a read) drops the
        // lazy one now.
        if self.state.get().is_some() {
            self.lazy = None;
        }
        if self.manifest.is_none() {
            return Ok(());
        }
        let mut m = self.read_manifest()?;
        let fs = self.fs.as_ref();
        // The manifest this handle committed and settled itself, still on disk:
        // no writer came in between, so there is nothing to settle. A writer
        // that died before its commit point may have left files the manifest
        // does not name (the next commit overwrites them, atomically), swept
        // here at least every `SWEEP_EVERY` locks. A log's uncommitted tail is
        // cut every time: the next commit appends after it.
        let own = self.settled_own.as_ref() == Some(&m) && self.locks_since_sweep < SWEEP_EVERY;
        if own {
            self.locks_since_sweep += 1;
        } else {
            commit::settle(fs, &self.dir, &mut m, false)?;
            commit::clear_uncommitted(fs, &self.dir, &m)?;
            self.locks_since_sweep = 0;
        }
        let notes = commit::cut_tails(fs, &self.dir, &m)?;
        self.notes.extend(notes);
        Ok(())
    }
}

/// Writer locks between two full sweeps of what an interrupted commit left
/// behind, while the handle finds its own manifest on disk.
const SWEEP_EVERY: u32 = 64;

/// Reads what moves an image at manifest `have` to manifest `m`.
fn read_update(
    dir: &Path,
    have: &Manifest,
    m: &Manifest,
    state: &MemoryState,
) -> StoreResult<Update> {
    if m.generation == have.generation {
        return Ok(Update::Same);
    }
    if m.generation < have.generation {
        return load::load(dir, m, false).map(|l| Update::Full(Box::new(l.state)));
    }
    let appended = m.segments.len() >= have.segments.len()
        && m.segments[..have.segments.len()] == have.segments[..];
    let mut segments = Vec::new();
    if appended {
        for s in &m.segments[have.segments.len()..] {
            let (records, damage) = load::load_segment(dir, s)?;
            if let Some(d) = damage {
                return Err(damage_error(&d));
            }
            segments.push(records);
        }
    } else {
        // Compactions: the records the handle has not read, when they are known
        // (the handle keeps its change feed); else the whole image again.
        let Some(unread) = unread_segments(dir, have, m)? else {
            return load::load(dir, m, false).map(|l| Update::Full(Box::new(l.state)));
        };
        segments = unread.records()?;
    }
    let events = read_log(
        dir,
        &have.events,
        &m.events,
        layout::EVENTS,
        state.event_head(),
        |e: &Event| e.seq,
    )?;
    let audit = if m.audit_checkpoint == have.audit_checkpoint {
        read_log(
            dir,
            &have.audit,
            &m.audit,
            layout::AUDIT,
            state.audit.last().map_or(0, |r| r.seq),
            |r: &AuditRecord| r.seq,
        )?
    } else {
        full_log(dir, &m.audit, layout::AUDIT, |r: &AuditRecord| r.seq)?
    };
    let profile = if m.profile != have.profile {
        let (p, damage) = load::load_profile(dir, m)?;
        if let Some(d) = damage {
            return Err(damage_error(&d));
        }
        Some(p)
    } else {
        None
    };
    Ok(Update::Delta(Delta {
        segments,
        events,
        audit,
        profile,
    }))
}

/// Segment bytes a handle at manifest `have` has not read, in replay order,
/// each part whole checksummed lines.
struct Unread {
    /// Where each part comes from (for messages) and its bytes.
    parts: Vec<(String, Vec<u8>)>,
    /// Whether `m` kept `have`'s first segment (else a compaction of exactly
    /// `have` rewrote it and `parts` is that commit's delta).
    base_kept: bool,
}

impl Unread {
    /// The records, decoded (their files were checked whole, see
    /// [`read_segment`]).
    fn records(&self) -> StoreResult<Vec<Vec<SegmentRecord>>> {
        self.parts
            .iter()
            .map(|(rel, bytes)| {
                decode_lines::<SegmentRecord>(bytes, false)
                    .into_iter()
                    .map(|r| r.map_err(|b| corrupt(rel.clone(), b.detail)))
                    .collect()
            })
            .collect()
    }

    /// The node ids the records change: nodes put or deleted, both ends of
    /// edges put or deleted (sorted, unique; the rule of `Lazy::advance`).
    fn changed_ids(&self) -> StoreResult<Vec<String>> {
        let mut ids = Vec::new();
        for (rel, bytes) in &self.parts {
            for (offset, len) in line_spans(bytes) {
                let line = &bytes[offset as usize..offset as usize + len as usize];
                match line_key(line).map_err(|e| corrupt(rel.clone(), e))? {
                    LineKey::Node(id, _) => ids.push(id),
                    LineKey::Edge(k, _) => ids.extend([k.from, k.to]),
                    LineKey::Review => {}
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}

/// What a handle at manifest `have` has not read of `m`'s segments, when it
/// is known without loading the store: `m`'s compaction merged exactly `have`'s
/// image (its delta), or `m` kept `have`'s first segment. In the latter case
/// every compaction since folded the segments after the first, in order, with
/// its delta, into one (`commit::folded_tail`), so `m.segments[1]` begins with
/// the bytes of `have.segments[1..]` and the unread records are the rest of it
/// and `m.segments[2..]`. That is checked, not assumed: the folded segment
/// reads back as `m` names it, each of its first parts has the BLAKE3 of the
/// `have` segment it stands for and ends a line. `Ok(None)` when anything does
/// not match (the caller reloads); `Err` when a file cannot be read (a later
/// commit may have removed it: the caller reads the manifest again).
fn unread_segments(dir: &Path, have: &Manifest, m: &Manifest) -> StoreResult<Option<Unread>> {
    if m.generation <= have.generation {
        return Ok(None);
    }
    if let Some(c) = m.compaction.as_ref()
        && c.base_next_segment == have.next_segment
    {
        return Ok(read_segment(dir, &c.delta)?.map(|bytes| Unread {
            parts: vec![(layout::segment_rel(&c.delta), bytes)],
            base_kept: m.segments.first() == have.segments.first(),
        }));
    }
    let (Some(base), Some(folded)) = (have.segments.first(), m.segments.get(1)) else {
        return Ok(None);
    };
    if m.segments[0] != *base {
        return Ok(None);
    }
    let read = &have.segments[1..];
    let read_bytes: u64 = read.iter().map(|s| s.bytes).sum();
    let read_records: u64 = read.iter().map(|s| s.records).sum();
    if folded.bytes < read_bytes || folded.records < read_records {
        return Ok(None);
    }
    let Some(mut bytes) = read_segment(dir, folded)? else {
        return Ok(None);
    };
    let mut at = 0usize;
    for s in read {
        let Some(end) = usize::try_from(s.bytes).ok().map(|n| at + n) else {
            return Ok(None);
        };
        let part = &bytes[at..end];
        if blake3_hex(part) != s.blake3 || part.last().is_some_and(|b| *b != b'\n') {
            return Ok(None);
        }
        at = end;
    }
    let rest = bytes.split_off(at);
    if count_lines(&rest) != folded.records - read_records {
        return Ok(None);
    }
    let mut parts = vec![(layout::segment_rel(folded), rest)];
    for s in &m.segments[2..] {
        let Some(bytes) = read_segment(dir, s)? else {
            return Ok(None);
        };
        parts.push((layout::segment_rel(s), bytes));
    }
    Ok(Some(Unread {
        parts,
        base_kept: true,
    }))
}

/// A segment's bytes when they are exactly what its manifest entry names
/// (length, BLAKE3, record count, whole lines); `None` when they are not.
fn read_segment(dir: &Path, s: &SegmentEntry) -> StoreResult<Option<Vec<u8>>> {
    let path = dir.join(layout::SEGMENTS).join(&s.file);
    let bytes = std::fs::read(&path).map_err(|e| io_err("reading", &path, e))?;
    let whole = bytes.len() as u64 == s.bytes
        && bytes.last().is_none_or(|b| *b == b'\n')
        && count_lines(&bytes) == s.records
        && blake3_hex(&bytes) == s.blake3;
    Ok(whole.then_some(bytes))
}

/// The records of a log appended between two committed extents, or the whole log
/// when it was rewritten (shorter than before).
fn read_log<T: serde::de::DeserializeOwned + Send>(
    dir: &Path,
    have: &LogEntry,
    now: &LogEntry,
    canonical: &str,
    last_seq: u64,
    seq_of: fn(&T) -> u64,
) -> StoreResult<LogUpdate<T>> {
    if now.bytes < have.bytes || now.lines < have.lines {
        return full_log(dir, now, canonical, seq_of);
    }
    if now.bytes == have.bytes {
        return Ok(LogUpdate::Append(Vec::new()));
    }
    let path = resolve_log(dir, now, canonical);
    let bytes = read_range(&path, have.bytes, now.bytes)?;
    let rel = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| canonical.to_string());
    let mut out: Vec<T> = Vec::with_capacity((now.lines - have.lines) as usize);
    let mut prev = last_seq;
    for (i, r) in decode_lines::<T>(&bytes, true).into_iter().enumerate() {
        let line = have.lines as usize + i + 1;
        let rec = r.map_err(|b| corrupt(format!("{rel}:{line}"), b.detail))?;
        if seq_of(&rec) <= prev {
            return Err(corrupt(
                format!("{rel}:{line}"),
                format!("seq {} does not follow seq {prev}", seq_of(&rec)),
            ));
        }
        prev = seq_of(&rec);
        out.push(rec);
    }
    if out.len() as u64 != now.lines - have.lines {
        return Err(corrupt(
            rel,
            format!(
                "{} lines appended, the manifest committed {}",
                out.len(),
                now.lines - have.lines
            ),
        ));
    }
    Ok(LogUpdate::Append(out))
}

fn full_log<T: serde::de::DeserializeOwned + Send>(
    dir: &Path,
    entry: &LogEntry,
    canonical: &str,
    seq_of: fn(&T) -> u64,
) -> StoreResult<LogUpdate<T>> {
    let (records, damage) = load::load_log::<T>(dir, entry, canonical, seq_of)?;
    match damage {
        Some(d) => Err(damage_error(&d)),
        None => Ok(LogUpdate::Replace(records)),
    }
}

/// Bytes `[from, to)` of a file.
fn read_range(path: &Path, from: u64, to: u64) -> StoreResult<Vec<u8>> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err("opening", path, e))?;
    f.seek(SeekFrom::Start(from))
        .map_err(|e| io_err("seeking in", path, e))?;
    let mut out = Vec::with_capacity((to - from) as usize);
    f.take(to - from)
        .read_to_end(&mut out)
        .map_err(|e| io_err("reading", path, e))?;
    if (out.len() as u64) < to - from {
        return Err(StoreError::Corrupt {
            location: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            detail: format!(
                "only {} bytes; committed records are missing",
                from + out.len() as u64
            ),
        });
    }
    Ok(out)
}

/// A segment's records as change sets that `MemoryState::apply` replays in the
/// records' order (a new change set starts whenever a record would otherwise be
/// applied before one that precedes it).
fn change_sets(records: Vec<SegmentRecord>) -> Vec<ChangeSet> {
    let rank = |r: &SegmentRecord| match r {
        SegmentRecord::DeleteNode(_) => 0,
        SegmentRecord::PutNode(_) => 1,
        SegmentRecord::DeleteEdge(_) => 2,
        SegmentRecord::PutEdge(_) => 3,
        SegmentRecord::PutReview(_) => 4,
    };
    let mut out = Vec::new();
    let mut c = ChangeSet::default();
    let mut at = 0;
    for r in records {
        let k = rank(&r);
        if k < at {
            out.push(std::mem::take(&mut c));
        }
        at = k;
        match r {
            SegmentRecord::DeleteNode(id) => c.delete_nodes.push(id),
            SegmentRecord::PutNode(n) => c.put_nodes.push(n),
            SegmentRecord::DeleteEdge(k) => c.delete_edges.push(k),
            SegmentRecord::PutEdge(e) => c.put_edges.push(e),
            SegmentRecord::PutReview(r) => c.put_reviews.push(r),
        }
    }
    out.push(c);
    out
}
