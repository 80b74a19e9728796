//! The write protocol: a commit writes its delta segment (or a compacted one), appends
//! to the logs, then atomically replaces `manifest.json` — the commit point — and
//! afterwards settles the folder (staged renames, superseded files, `meta.json`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use phase_memory_model::{Edge, EdgeKey, Node, Review};
use phase_memory_store::{ChangeSet, IntegrityFinding, MemoryState, StoreError, StoreResult};

use crate::FileStore;
use crate::fs::Fs;
use crate::layout::{
    self, Compaction, LogEntry, Manifest, ProfileEntry, SegmentEntry, blake3_hex, io_err,
    pretty_json, segment_name, segment_number, write_atomic,
};
use crate::load::resolve_log;
use crate::record::{SegmentRef, count_lines, encode_lines};

fn encode<T: serde::Serialize + Sync>(records: &[T]) -> StoreResult<Vec<u8>> {
    encode_lines(records).map_err(|e| StoreError::Backend(format!("encoding records: {e}")))
}

/// Writes `segments/<n>.jsonl` atomically and returns its manifest entry.
pub(crate) fn write_segment(
    fs: &dyn Fs,
    dir: &Path,
    n: u64,
    records: &[SegmentRef<'_>],
) -> StoreResult<SegmentEntry> {
    let bytes = encode(records)?;
    let file = segment_name(n);
    write_atomic(fs, &dir.join(layout::SEGMENTS).join(&file), &bytes)?;
    Ok(SegmentEntry {
        file,
        blake3: blake3_hex(&bytes),
        records: records.len() as u64,
        bytes: bytes.len() as u64,
    })
}

/// The segments after the first, then `delta`, as one segment (bytes and record
/// count): what a compaction writes instead of the whole image while that tail
/// stays under a quarter of the first segment. `None` (rewrite the whole image)
/// when it would not, or when a segment does not read back as the manifest
/// names it.
fn folded_tail(
    dir: &Path,
    segments: &[SegmentEntry],
    delta: &[u8],
    delta_records: u64,
) -> Option<(Vec<u8>, u64)> {
    let (base, rest) = segments.split_first()?;
    let size: u64 = rest.iter().map(|s| s.bytes).sum::<u64>() + delta.len() as u64;
    if size.saturating_mul(TAIL_SHARE) > base.bytes {
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).ok()?);
    let mut records = delta_records;
    for s in rest {
        let b = std::fs::read(dir.join(layout::SEGMENTS).join(&s.file)).ok()?;
        if b.len() as u64 != s.bytes || blake3_hex(&b) != s.blake3 {
            return None;
        }
        bytes.extend_from_slice(&b);
        records += s.records;
    }
    bytes.extend_from_slice(delta);
    Some((bytes, records))
}

/// A compaction folds the recent segments into one while they stay under
/// `1 / TAIL_SHARE` of the first segment's bytes; beyond, it rewrites the image.
const TAIL_SHARE: u64 = 4;

/// Every node, edge and review of an image as put records, in key order.
pub(crate) fn full_image<'a>(
    nodes: impl Iterator<Item = &'a Node>,
    edges: impl Iterator<Item = &'a Edge>,
    reviews: impl Iterator<Item = &'a Review>,
) -> Vec<SegmentRef<'a>> {
    nodes
        .map(SegmentRef::PutNode)
        .chain(edges.map(SegmentRef::PutEdge))
        .chain(reviews.map(SegmentRef::PutReview))
        .collect()
}

/// The delta records of a change set, in the order `MemoryState::apply` applies them.
fn delta(c: &ChangeSet) -> Vec<SegmentRef<'_>> {
    c.delete_nodes
        .iter()
        .map(|id| SegmentRef::DeleteNode(id))
        .chain(c.put_nodes.iter().map(SegmentRef::PutNode))
        .chain(c.delete_edges.iter().map(SegmentRef::DeleteEdge))
        .chain(c.put_edges.iter().map(SegmentRef::PutEdge))
        .chain(c.put_reviews.iter().map(SegmentRef::PutReview))
        .collect()
}

/// The image after `c`, as put records, without changing `state`.
fn merged_image<'a>(state: &'a MemoryState, c: &'a ChangeSet) -> Vec<SegmentRef<'a>> {
    let mut nodes: BTreeMap<&str, &Node> =
        state.nodes.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for id in &c.delete_nodes {
        nodes.remove(id.as_str());
    }
    for n in &c.put_nodes {
        nodes.insert(&n.id, n);
    }
    let touched: HashSet<EdgeKey> = c
        .delete_edges
        .iter()
        .cloned()
        .chain(c.put_edges.iter().map(Edge::key))
        .collect();
    let mut new_edges: BTreeMap<EdgeKey, &Edge> = BTreeMap::new();
    for e in &c.put_edges {
        new_edges.insert(e.key(), e);
    }
    let mut reviews: BTreeMap<&str, &Review> =
        state.reviews.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for r in &c.put_reviews {
        reviews.insert(&r.id, r);
    }
    let kept_edges = state
        .edges
        .iter()
        .filter(|(k, _)| !touched.contains(*k))
        .map(|(_, e)| e);
    full_image(
        nodes.into_values(),
        kept_edges.chain(new_edges.into_values()),
        reviews.into_values(),
    )
}

impl FileStore {
    /// [`phase_memory_store::Store::commit`]: validate, write, switch the manifest,
    /// apply to the image, settle.
    pub(crate) fn commit_change(&mut self, change: ChangeSet) -> StoreResult<u64> {
        self.writable()?;
        if let Some(d) = self.damage.first() {
            return Err(crate::load::damage_error(d));
        }
        if self.lazy().is_some() && !change.purge && change.prune_audit.is_none() {
            return self.commit_lazily(change);
        }
        self.image_mut()?.validate(&change)?;
        let old = match &self.manifest {
            Some(m) => m.clone(),
            None => return Err(StoreError::Poisoned),
        };
        let new = match self.write_commit(&old, &change) {
            Ok(m) => m,
            Err(e) => {
                self.poisoned = true;
                return Err(e);
            }
        };
        let purge = change.purge;
        let state = self.image_mut()?;
        state.apply(change);
        state.generation = new.generation;
        state.data_generation = new.data_generation.unwrap_or(new.generation);
        let generation = state.generation;
        self.manifest = Some(new);
        self.manifest_bytes = None;
        self.settle_after(&old, purge);
        Ok(generation)
    }

    /// The commit is durable; settling only tidies. If it fails the next writer
    /// open finishes it, and this handle refuses further writes.
    fn settle_after(&mut self, old: &Manifest, purge: bool) {
        let mut m = self.manifest.clone().unwrap_or_else(|| old.clone());
        // A commit that only appended to the logs of a manifest this handle had
        // settled leaves nothing to settle (no staged log, no superseded
        // segment, the same profile and metadata).
        if !purge && self.settled_own.as_ref() == Some(old) && only_appended(old, &m) {
            self.settled_own = Some(m);
            return;
        }
        match settle(self.fs.as_ref(), &self.dir, &mut m, purge) {
            Ok(()) => {
                self.settled_own = Some(m.clone());
                self.manifest = Some(m);
                self.manifest_bytes = None;
            }
            Err(_) => {
                self.settled_own = None;
                self.poisoned = true;
            }
        }
    }

    /// A commit on a handle without its whole image (anything but a purge or an
    /// audit prune, which rewrite from the image): checked against the logs'
    /// ends the lazy image holds (the same checks as [`MemoryState::validate`]),
    /// written, the manifest switched; then the lazy image follows its own
    /// commit as it follows other handles' (the new segment scanned for its
    /// keys, or after a compaction the lazy image of the new segment list).
    fn commit_lazily(&mut self, change: ChangeSet) -> StoreResult<u64> {
        let (Some(lazy), Some(old)) = (self.lazy(), self.manifest.clone()) else {
            return Err(StoreError::Poisoned);
        };
        phase_memory_store::validate_change(
            &change,
            phase_memory_store::Heads {
                event_head: lazy.event_head,
                last_audit_seq: lazy.audit_tail.as_ref().map(|r| r.seq),
                checkpoint_seq: old.audit_checkpoint.last_pruned_seq,
            },
        )?;
        let new = match self.write_commit(&old, &change) {
            Ok(m) => m,
            Err(e) => {
                self.poisoned = true;
                return Err(e);
            }
        };
        if appends_only(&change) {
            if let Some(lazy) = self.lazy.as_deref_mut() {
                if let Some(e) = change.events.last() {
                    lazy.event_head = e.seq;
                }
                if let Some(r) = change.audit.into_iter().last() {
                    lazy.audit_tail = Some(r);
                }
            }
        } else if self.follow_own_commit(&old, &new).is_err() {
            // The commit is durable; this handle no longer knows where it is.
            self.poisoned = true;
        }
        let generation = new.generation;
        self.manifest = Some(new);
        self.manifest_bytes = None;
        self.settle_after(&old, false);
        Ok(generation)
    }

    /// Moves the lazy image from manifest `old` to this handle's own commit `new`
    /// without loading the store: the appended segment is scanned for its keys;
    /// after a compaction, the lazy image of the new segment list is opened
    /// (scanning what the locator does not cover, and writing a new locator when
    /// that was much). The change feed is kept (the commit records its ids).
    fn follow_own_commit(&mut self, old: &Manifest, new: &Manifest) -> StoreResult<()> {
        if let Some(lazy) = self.lazy.as_deref_mut()
            && lazy.advance(&self.dir, old, new)?.is_some()
        {
            return Ok(());
        }
        match crate::lazy::Lazy::open_scanning(&self.dir, new)? {
            Some((lazy, rewrite)) => {
                if rewrite && let Some(bytes) = lazy.encode_locator(new) {
                    let _ = write_atomic(
                        self.fs.as_ref(),
                        &self.dir.join(crate::locator::LOCATOR),
                        &bytes,
                    );
                }
                self.lazy = Some(Box::new(lazy));
                Ok(())
            }
            None => {
                self.count_load();
                let loaded = crate::load::load(&self.dir, new, false)?;
                self.set_image(loaded.state);
                Ok(())
            }
        }
    }

    /// Writes everything of a commit; returns the new manifest once it is durable.
    fn write_commit(&mut self, old: &Manifest, c: &ChangeSet) -> StoreResult<Manifest> {
        let fs = self.fs.as_ref();
        let dir = self.dir.as_path();
        let mut m = old.clone();
        if m.events.file != layout::EVENTS || m.audit.file != layout::AUDIT {
            settle(fs, dir, &mut m, false)?;
        }
        self.notes.extend(cut_tails(fs, dir, &m)?);
        let fs = self.fs.as_ref();
        // Compaction and audit pruning rewrite from the image; a commit of a
        // handle without it (`commit_lazily`) never does either.
        let image = || {
            self.state
                .get()
                .ok_or_else(|| StoreError::Backend("the store image is not loaded".into()))
        };
        let data_before = m.data_generation.unwrap_or(m.generation);
        m.generation += 1;
        m.data_generation = Some(if c.changes_data() {
            m.generation
        } else {
            data_before
        });

        // 1. Node, edge and review records: a delta segment, or one compacted segment.
        let delta = delta(c);
        let compact =
            c.purge || m.segments.len() + usize::from(!delta.is_empty()) > crate::max_segments();
        m.compaction = None;
        if compact {
            let base_next_segment = m.next_segment;
            let delta_bytes = encode(&delta)?;
            // The delta too (unless purging, which handles reload anyway): a handle
            // at the old manifest follows with it instead of reloading everything.
            if !c.purge && !delta.is_empty() {
                let file = segment_name(m.next_segment);
                write_atomic(fs, &dir.join(layout::SEGMENTS).join(&file), &delta_bytes)?;
                m.next_segment += 1;
                m.compaction = Some(Compaction {
                    base_next_segment,
                    delta: SegmentEntry {
                        file,
                        blake3: blake3_hex(&delta_bytes),
                        records: delta.len() as u64,
                        bytes: delta_bytes.len() as u64,
                    },
                });
            }
            let tail = if c.purge {
                None
            } else {
                folded_tail(dir, &m.segments, &delta_bytes, delta.len() as u64)
            };
            if let Some((bytes, records)) = tail {
                // Tiered: the first segment stays; the others and this delta are
                // folded into one (their records in order, so replaying it is
                // replaying them).
                let file = segment_name(m.next_segment);
                write_atomic(fs, &dir.join(layout::SEGMENTS).join(&file), &bytes)?;
                let entry = SegmentEntry {
                    file,
                    blake3: blake3_hex(&bytes),
                    records,
                    bytes: bytes.len() as u64,
                };
                m.segments.truncate(1);
                m.segments.push(entry);
            } else {
                // A handle without its image loads it for this rewrite only
                // (through the files it holds open: exactly `old`'s bytes).
                let loaded;
                let state = match (self.state.get(), self.lazy.as_deref()) {
                    (Some(s), _) => s,
                    (None, Some(lazy)) => {
                        self.count_load();
                        loaded = crate::load::load_with(dir, old, false, Some(&lazy.pins), false)?;
                        &loaded.state
                    }
                    (None, None) => image()?,
                };
                let image = merged_image(state, c);
                let entry = write_segment(fs, dir, m.next_segment, &image)?;
                m.segments = vec![entry];
            }
            m.next_segment += 1;
        } else if !delta.is_empty() {
            let entry = write_segment(fs, dir, m.next_segment, &delta)?;
            m.segments.push(entry);
            m.next_segment += 1;
        }

        // 2. The profile, under a name of its own.
        if let Some(p) = &c.profile {
            let file = layout::profile_name(m.generation);
            write_atomic(fs, &dir.join(&file), p.as_bytes())?;
            m.profile = Some(ProfileEntry {
                file,
                blake3: blake3_hex(p.as_bytes()),
            });
        }

        // 3. Audit: append, or (when pruning) a staged rewrite.
        if let Some(cp) = &c.prune_audit {
            let kept: Vec<_> = image()?
                .audit
                .iter()
                .filter(|r| r.seq > cp.last_pruned_seq)
                .chain(c.audit.iter())
                .collect();
            let bytes = encode(&kept)?;
            write_atomic(fs, &dir.join(layout::AUDIT_NEXT), &bytes)?;
            m.audit = LogEntry {
                file: layout::AUDIT_NEXT.into(),
                bytes: bytes.len() as u64,
                lines: kept.len() as u64,
            };
            m.audit_checkpoint = cp.clone();
        } else if !c.audit.is_empty() {
            append_log(fs, dir, &mut m.audit, &encode(&c.audit)?)?;
        }

        // 4. Events: append.
        if !c.events.is_empty() {
            append_log(fs, dir, &mut m.events, &encode(&c.events)?)?;
        }

        if let Some(meta) = &c.meta {
            m.meta = meta.clone();
        }

        // 5. The commit point.
        write_atomic(fs, &dir.join(layout::MANIFEST), &pretty_json(&m)?)?;
        Ok(m)
    }
}

/// Whether manifest `new` differs from `old` only in what appending to the logs
/// changes (generations and log lengths): the same segments, profile, metadata
/// and audit checkpoint, no compaction, logs under their canonical names.
fn only_appended(old: &Manifest, new: &Manifest) -> bool {
    new.segments == old.segments
        && new.next_segment == old.next_segment
        && new.compaction.is_none()
        && old.compaction.is_none()
        && new.profile == old.profile
        && new.meta == old.meta
        && new.audit_checkpoint == old.audit_checkpoint
        && new.events.file == layout::EVENTS
        && new.audit.file == layout::AUDIT
        && old.events.file == layout::EVENTS
        && old.audit.file == layout::AUDIT
}

/// Whether a change set only appends to the logs (audit records, events): what a
/// handle commits without its whole image.
fn appends_only(c: &ChangeSet) -> bool {
    c.put_nodes.is_empty()
        && c.delete_nodes.is_empty()
        && c.put_edges.is_empty()
        && c.delete_edges.is_empty()
        && c.put_reviews.is_empty()
        && c.profile.is_none()
        && c.meta.is_none()
        && c.prune_audit.is_none()
        && !c.purge
}

fn append_log(fs: &dyn Fs, dir: &Path, log: &mut LogEntry, bytes: &[u8]) -> StoreResult<()> {
    let path = dir.join(&log.file);
    fs.append(&path, bytes)
        .map_err(|e| io_err("appending to", &path, e))?;
    log.bytes += bytes.len() as u64;
    log.lines += count_lines(bytes);
    Ok(())
}

/// Moves the uncommitted tail of each log (bytes beyond the manifest's committed
/// length, left by an interrupted commit) into quarantine and truncates the log.
pub(crate) fn cut_tails(
    fs: &dyn Fs,
    dir: &Path,
    m: &Manifest,
) -> StoreResult<Vec<IntegrityFinding>> {
    let mut notes = Vec::new();
    for (entry, canonical) in [(&m.events, layout::EVENTS), (&m.audit, layout::AUDIT)] {
        let path = resolve_log(dir, entry, canonical);
        let len = match std::fs::metadata(&path) {
            Ok(md) => md.len(),
            Err(_) => continue,
        };
        if len <= entry.bytes {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| io_err("reading", &path, e))?;
        let tail = &bytes[entry.bytes.min(bytes.len() as u64) as usize..];
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let q = quarantine_path(dir, m.generation, &format!("{name}.tail"));
        ensure_dir(fs, &dir.join(layout::QUARANTINE))?;
        write_atomic(fs, &q, tail)?;
        fs.truncate(&path, entry.bytes)
            .map_err(|e| io_err("truncating the uncommitted tail of", &path, e))?;
        notes.push(IntegrityFinding {
            code: "store.orphaned_path".into(),
            location: name,
            message: format!(
                "{} bytes beyond the commit point (an interrupted commit) were moved to {} and cut off",
                tail.len(),
                rel_of(dir, &q)
            ),
            fixable: true,
        });
    }
    Ok(notes)
}

/// Creates a folder if it is missing.
pub(crate) fn ensure_dir(fs: &dyn Fs, path: &Path) -> StoreResult<()> {
    if !path.is_dir() {
        fs.create_dir_all(path)
            .map_err(|e| io_err("creating", path, e))?;
    }
    Ok(())
}

/// A free path in quarantine for `name` (`quarantine/g<generation>-<name>[-n]`).
pub(crate) fn quarantine_path(dir: &Path, generation: u64, name: &str) -> std::path::PathBuf {
    let q = dir.join(layout::QUARANTINE);
    let safe: String = name
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    let base = format!("g{generation:08}-{safe}");
    let mut p = q.join(&base);
    let mut n = 2;
    while p.exists() {
        p = q.join(format!("{base}-{n}"));
        n += 1;
    }
    p
}

/// A path relative to the store folder, for messages.
pub(crate) fn rel_of(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Finishes what a commit leaves behind, idempotently: renames staged logs into
/// place (rewriting the manifest to name them), removes superseded segments, old
/// profiles and the remains of a v1 layout, and refreshes `meta.json`. With `purge`,
/// every file in `segments/` the manifest does not name is removed too.
pub(crate) fn settle(fs: &dyn Fs, dir: &Path, m: &mut Manifest, purge: bool) -> StoreResult<()> {
    let mut renamed = false;
    for (log, canonical) in [
        (&mut m.events, layout::EVENTS),
        (&mut m.audit, layout::AUDIT),
    ] {
        if log.file != canonical {
            let staged = dir.join(&log.file);
            if staged.exists() {
                let to = dir.join(canonical);
                fs.rename(&staged, &to)
                    .map_err(|e| io_err("renaming into place", &to, e))?;
            }
            log.file = canonical.to_string();
            renamed = true;
        }
    }
    if renamed {
        write_atomic(fs, &dir.join(layout::MANIFEST), &pretty_json(&*m)?)?;
    }

    if m.meta
        .applied_migrations
        .iter()
        .any(|x| x == layout::MIGRATION_0002)
    {
        for d in [crate::v1::NODES, crate::v1::REVIEWS] {
            let p = dir.join(d);
            if p.is_dir() {
                fs.remove_dir_all(&p)
                    .map_err(|e| io_err("removing", &p, e))?;
            }
        }
        for f in [crate::v1::EDGES, crate::v1::PROFILE] {
            let p = dir.join(f);
            if p.is_file() {
                fs.remove_file(&p).map_err(|e| io_err("removing", &p, e))?;
            }
        }
    }

    let named: BTreeSet<&str> = m.named_segments();
    let seg_dir = dir.join(layout::SEGMENTS);
    if let Ok(entries) = std::fs::read_dir(&seg_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if named.contains(name.as_str()) || !entry.path().is_file() {
                continue;
            }
            let superseded = segment_number(&name).is_some_and(|n| n < m.next_segment);
            if superseded || purge {
                let p = entry.path();
                fs.remove_file(&p).map_err(|e| io_err("removing", &p, e))?;
            }
        }
    }

    // The locator names node ids; after a purge no file keeps an erased one.
    let locator = dir.join(crate::locator::LOCATOR);
    if purge && locator.exists() {
        fs.remove_file(&locator)
            .map_err(|e| io_err("removing", &locator, e))?;
    }

    let profile = m.profile.as_ref().map(|p| p.file.as_str());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if layout::is_profile_name(&name) && Some(name.as_str()) != profile {
                let p = entry.path();
                fs.remove_file(&p).map_err(|e| io_err("removing", &p, e))?;
            }
        }
    }

    let meta_path = dir.join(layout::META);
    let on_disk: Option<phase_memory_store::StoreMeta> = std::fs::read(&meta_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if on_disk.as_ref() != Some(&m.meta) {
        write_atomic(fs, &meta_path, &pretty_json(&m.meta)?)?;
    }
    Ok(())
}

/// Removes what a commit interrupted before its commit point left behind: temp
/// files (`*.tmp`), segments numbered at or above the manifest's `next_segment`
/// that it does not name, and staged `*.next.jsonl` logs it does not name. None of
/// them was ever committed, and the next commit would overwrite them; only the
/// writer (holding the lock) calls this.
pub(crate) fn clear_uncommitted(fs: &dyn Fs, dir: &Path, m: &Manifest) -> StoreResult<()> {
    let named: BTreeSet<&str> = m.named_segments();
    let remove = |p: &Path| fs.remove_file(p).map_err(|e| io_err("removing", p, e));
    if let Ok(entries) = std::fs::read_dir(dir.join(layout::SEGMENTS)) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_file() || named.contains(name.as_str()) {
                continue;
            }
            let uncommitted = name.ends_with(".tmp")
                || segment_number(&name).is_some_and(|n| n >= m.next_segment);
            if uncommitted {
                remove(&entry.path())?;
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_file() {
                continue;
            }
            let staged_log = (name == layout::EVENTS_NEXT || name == layout::AUDIT_NEXT)
                && name != m.events.file
                && name != m.audit.file;
            if name.ends_with(".tmp") || staged_log {
                remove(&entry.path())?;
            }
        }
    }
    Ok(())
}
