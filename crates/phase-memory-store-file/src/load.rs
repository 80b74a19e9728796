//! Loading a v2 store into its in-memory image: segments replayed in manifest order,
//! the committed prefix of the logs, the profile; every line checked, in parallel.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use phase_memory_model::{AuditRecord, Edge, EdgeKey, Event, Node, Review};
use phase_memory_store::{MemoryState, StoreResult};
use rayon::prelude::*;

use crate::layout::{self, LogEntry, Manifest, SegmentEntry, blake3_hex, corrupt, io_err};
use crate::locator::Pos;
use crate::record::{BadLine, SegmentRecord, decode_lines, line_spans};

/// What is wrong with one file of the store.
#[derive(Debug, Clone)]
pub(crate) enum DamageKind {
    /// Lines that fail their checksum or do not parse.
    BadLines(Vec<BadLine>),
    /// A file the manifest names is missing.
    Missing,
    /// The file reads line by line but differs from what the manifest recorded.
    Mismatch(String),
    /// A log is shorter than its committed length.
    Short {
        /// Bytes found.
        have: u64,
    },
}

/// One damaged file found by a tolerant load.
#[derive(Debug, Clone)]
pub(crate) struct Damage {
    /// Path inside the store (`segments/00000003.jsonl`, `events.jsonl`).
    pub rel: String,
    /// What is wrong.
    pub kind: DamageKind,
}

/// A loaded image and, for tolerant loads, what was skipped.
pub(crate) struct Loaded {
    /// The image.
    pub state: MemoryState,
    /// Damage found (always empty for strict loads, which fail instead).
    pub damage: Vec<Damage>,
    /// Where each node's newest record is (ids sorted), when asked for and
    /// nothing was damaged: what a locator holds.
    pub positions: Option<Positions>,
}

/// Where the newest record of every node and edge that exists is (sorted by
/// key): what a locator holds.
pub(crate) struct Positions {
    pub nodes: Vec<(String, Pos)>,
    pub edges: Vec<(EdgeKey, Pos)>,
}

impl Positions {
    /// The locator of these positions for manifest `m`'s segment list.
    pub fn encode(&self, m: &Manifest) -> Vec<u8> {
        let ends = crate::locator::edge_ends(self.edges.iter().map(|(k, p)| (k, *p)));
        crate::locator::encode(
            m.data_generation.unwrap_or(m.generation),
            &m.segments,
            self.nodes.iter().map(|(id, p)| (id.as_str(), *p)),
            ends.into_iter(),
        )
    }
}

/// Files a lazy handle holds open: the segments and logs of the manifest it is
/// at, so that loading its image later reads exactly those bytes even if another
/// handle's commit has since removed or replaced the files (compaction, audit
/// prune).
#[derive(Debug, Default)]
pub(crate) struct Pins {
    /// Segment files by name.
    pub segments: std::collections::HashMap<String, std::fs::File>,
    /// The event log.
    pub events: Option<std::fs::File>,
    /// The audit log.
    pub audit: Option<std::fs::File>,
    /// The profile as read at the manifest (not read again).
    pub profile: Option<Option<String>>,
}

/// Reads `len` bytes at `offset` of an open file (fewer at its end).
pub(crate) fn read_at(f: &std::fs::File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut out = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    let mut done = 0usize;
    while done < out.len() {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(f, &mut out[done..], offset + done as u64)?;
        #[cfg(windows)]
        let n =
            std::os::windows::fs::FileExt::seek_read(f, &mut out[done..], offset + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    out.truncate(done);
    Ok(out)
}

/// Where a log named by the manifest lives: the named file, or — when a staged
/// replacement was already renamed into place — the canonical name.
pub(crate) fn resolve_log(dir: &Path, entry: &LogEntry, canonical: &str) -> PathBuf {
    let named = dir.join(&entry.file);
    if entry.file != canonical && !named.exists() {
        dir.join(canonical)
    } else {
        named
    }
}

/// Reads at most `limit` bytes of a file.
fn read_prefix(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    let mut out = Vec::with_capacity(limit as usize);
    f.take(limit).read_to_end(&mut out)?;
    Ok(out)
}

fn is_not_found(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

/// Records of one segment file, or its damage.
pub(crate) fn load_segment(
    dir: &Path,
    s: &SegmentEntry,
) -> StoreResult<(Vec<SegmentRecord>, Option<Damage>)> {
    load_segment_from(dir, s, None).map(|(r, d, _)| (r, d))
}

/// Records of one segment file (read through `pinned` when given), its damage,
/// and the spans of its lines when it is undamaged.
#[allow(clippy::type_complexity)]
pub(crate) fn load_segment_from(
    dir: &Path,
    s: &SegmentEntry,
    pinned: Option<&std::fs::File>,
) -> StoreResult<(Vec<SegmentRecord>, Option<Damage>, Vec<(u64, u32)>)> {
    let rel = layout::segment_rel(s);
    let path = dir.join(layout::SEGMENTS).join(&s.file);
    let read = match pinned {
        Some(f) => f.metadata().and_then(|md| read_at(f, 0, md.len())),
        None => std::fs::read(&path),
    };
    let bytes = match read {
        Ok(b) => b,
        Err(e) if is_not_found(&e) => {
            return Ok((
                Vec::new(),
                Some(Damage {
                    rel,
                    kind: DamageKind::Missing,
                }),
                Vec::new(),
            ));
        }
        Err(e) => return Err(io_err("reading", &path, e)),
    };
    let whole_file_ok = blake3_hex(&bytes) == s.blake3;
    let mut records = Vec::with_capacity(s.records as usize);
    let mut bad = Vec::new();
    for r in decode_lines::<SegmentRecord>(&bytes, !whole_file_ok) {
        match r {
            Ok(rec) => records.push(rec),
            Err(b) => bad.push(b),
        }
    }
    let damage = if !bad.is_empty() {
        Some(DamageKind::BadLines(bad))
    } else if !whole_file_ok || records.len() as u64 != s.records {
        Some(DamageKind::Mismatch(format!(
            "holds {} valid records but differs from the manifest ({} records, {}): lines were added, removed or reordered",
            records.len(),
            s.records,
            s.blake3
        )))
    } else {
        None
    };
    let spans = if damage.is_none() {
        line_spans(&bytes)
    } else {
        Vec::new()
    };
    Ok((records, damage.map(|kind| Damage { rel, kind }), spans))
}

/// Lines of a log up to its committed length, or its damage.
pub(crate) fn load_log<T: serde::de::DeserializeOwned + Send>(
    dir: &Path,
    entry: &LogEntry,
    canonical: &str,
    seq_of: fn(&T) -> u64,
) -> StoreResult<(Vec<T>, Option<Damage>)> {
    load_log_from(dir, entry, canonical, seq_of, None)
}

/// [`load_log`] reading through `pinned` when given.
pub(crate) fn load_log_from<T: serde::de::DeserializeOwned + Send>(
    dir: &Path,
    entry: &LogEntry,
    canonical: &str,
    seq_of: fn(&T) -> u64,
    pinned: Option<&std::fs::File>,
) -> StoreResult<(Vec<T>, Option<Damage>)> {
    let path = resolve_log(dir, entry, canonical);
    let rel = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| canonical.to_string());
    let read = match pinned {
        Some(f) => read_at(f, 0, entry.bytes),
        None => read_prefix(&path, entry.bytes),
    };
    let bytes = match read {
        Ok(b) => b,
        Err(e) if is_not_found(&e) && entry.bytes == 0 => Vec::new(),
        Err(e) if is_not_found(&e) => {
            return Ok((
                Vec::new(),
                Some(Damage {
                    rel,
                    kind: DamageKind::Missing,
                }),
            ));
        }
        Err(e) => return Err(io_err("reading", &path, e)),
    };
    let mut damage = None;
    if (bytes.len() as u64) < entry.bytes {
        damage = Some(DamageKind::Short {
            have: bytes.len() as u64,
        });
    }
    let mut out: Vec<T> = Vec::with_capacity(entry.lines as usize);
    let mut bad = Vec::new();
    for r in decode_lines::<T>(&bytes, true) {
        match r {
            Ok(rec) => {
                if let Some(prev) = out.last()
                    && seq_of(prev) >= seq_of(&rec)
                {
                    bad.push(BadLine {
                        line: out.len() + bad.len() + 1,
                        detail: format!(
                            "seq {} does not follow seq {}: lines were reordered or duplicated",
                            seq_of(&rec),
                            seq_of(prev)
                        ),
                        text: Vec::new(),
                    });
                    continue;
                }
                out.push(rec)
            }
            Err(b) => bad.push(b),
        }
    }
    if !bad.is_empty() {
        damage = Some(DamageKind::BadLines(bad));
    } else if damage.is_none() && out.len() as u64 != entry.lines {
        damage = Some(DamageKind::Mismatch(format!(
            "{} lines, the manifest committed {}",
            out.len(),
            entry.lines
        )));
    }
    Ok((out, damage.map(|kind| Damage { rel, kind })))
}

/// The location and detail of the first problem of a damage, for a strict load.
pub(crate) fn damage_error(d: &Damage) -> phase_memory_store::StoreError {
    match &d.kind {
        DamageKind::BadLines(lines) => {
            let first = &lines[0];
            corrupt(
                format!("{}:{}", d.rel, first.line),
                format!("line {}: {}", first.line, first.detail),
            )
        }
        DamageKind::Missing => corrupt(&d.rel, "a file the manifest names is missing"),
        DamageKind::Mismatch(why) => corrupt(&d.rel, why.clone()),
        DamageKind::Short { have } => corrupt(
            &d.rel,
            format!("only {have} bytes; committed records are missing"),
        ),
    }
}

/// Loads the image a manifest describes. A strict load fails on the first damage;
/// a tolerant one leaves damaged records out and reports them.
pub(crate) fn load(dir: &Path, m: &Manifest, tolerant: bool) -> StoreResult<Loaded> {
    load_with(dir, m, tolerant, None, false)
}

/// [`load`] reading through the files `pins` holds open (a lazy handle's), and
/// with the positions of the nodes' newest records when `positions` is set.
pub(crate) fn load_with(
    dir: &Path,
    m: &Manifest,
    tolerant: bool,
    pins: Option<&Pins>,
    positions: bool,
) -> StoreResult<Loaded> {
    let seg_pin = |s: &SegmentEntry| pins.and_then(|p| p.segments.get(&s.file));
    let ((segments, events), (audit, profile)) = rayon::join(
        || {
            rayon::join(
                || {
                    m.segments
                        .par_iter()
                        .map(|s| load_segment_from(dir, s, seg_pin(s)))
                        .collect::<Vec<_>>()
                },
                || {
                    load_log_from::<Event>(
                        dir,
                        &m.events,
                        layout::EVENTS,
                        |e| e.seq,
                        pins.and_then(|p| p.events.as_ref()),
                    )
                },
            )
        },
        || {
            rayon::join(
                || {
                    load_log_from::<AuditRecord>(
                        dir,
                        &m.audit,
                        layout::AUDIT,
                        |r| r.seq,
                        pins.and_then(|p| p.audit.as_ref()),
                    )
                },
                || match pins.and_then(|p| p.profile.clone()) {
                    Some(p) => Ok((p, None)),
                    None => load_profile(dir, m),
                },
            )
        },
    );
    let mut damage = Vec::new();
    let mut seg_records = Vec::with_capacity(segments.len());
    let mut spans = Vec::with_capacity(segments.len());
    for s in segments {
        let (recs, d, sp) = s?;
        damage.extend(d);
        seg_records.push(recs);
        spans.push(sp);
    }
    let (events, d) = events?;
    damage.extend(d);
    let (audit, d) = audit?;
    damage.extend(d);
    let (profile, d) = profile?;
    damage.extend(d);
    if !tolerant && let Some(d) = damage.first() {
        return Err(damage_error(d));
    }
    let positions = (positions && damage.is_empty())
        .then(|| node_positions(&seg_records, &spans))
        .flatten();

    // Keys are cloned in parallel; the last record of a key wins (stable sorts keep
    // the replay order within a key).
    let keyed: Vec<Vec<Keyed>> = seg_records
        .into_par_iter()
        .map(|recs| recs.into_par_iter().map(Keyed::from).collect())
        .collect();
    let mut node_ops = Vec::new();
    let mut edge_ops = Vec::new();
    let mut reviews: BTreeMap<String, Review> = BTreeMap::new();
    for recs in keyed {
        for k in recs {
            match k {
                Keyed::Node(id, n) => node_ops.push((id, n)),
                Keyed::Edge(key, e) => edge_ops.push((key, e)),
                Keyed::Review(r) => {
                    reviews.insert(r.id.clone(), r);
                }
            }
        }
    }
    let (nodes, edges) = {
        let (nodes, edge_list) = rayon::join(|| last_wins(node_ops), || last_wins(edge_ops));
        let (nodes, edges): (BTreeMap<String, Node>, BTreeMap<EdgeKey, Edge>) = rayon::join(
            || nodes.into_iter().collect(),
            || edge_list.into_iter().collect(),
        );
        (nodes, edges)
    };

    let mut state = MemoryState::new(m.meta.clone());
    state.nodes = nodes;
    state.edges = edges;
    state.events = events;
    state.audit = audit;
    state.checkpoint = m.audit_checkpoint.clone();
    state.reviews = reviews;
    state.profile = profile;
    state.generation = m.generation;
    state.data_generation = m.data_generation.unwrap_or(m.generation);
    Ok(Loaded {
        state,
        damage,
        positions,
    })
}

/// Where the newest record of every existing node and edge is, sorted by key
/// (`None` when a segment's lines do not match its records).
fn node_positions(records: &[Vec<SegmentRecord>], spans: &[Vec<(u64, u32)>]) -> Option<Positions> {
    let mut ops = Vec::new();
    let mut edge_ops = Vec::new();
    for (seg, (recs, sp)) in records.iter().zip(spans).enumerate() {
        if recs.len() != sp.len() {
            return None;
        }
        for (r, (offset, len)) in recs.iter().zip(sp) {
            let pos = Pos {
                seg: u32::try_from(seg).ok()?,
                offset: *offset,
                len: *len,
            };
            match r {
                SegmentRecord::PutNode(n) => ops.push((n.id.clone(), Some(pos))),
                SegmentRecord::DeleteNode(id) => ops.push((id.clone(), None)),
                SegmentRecord::PutEdge(e) => edge_ops.push((e.key(), Some(pos))),
                SegmentRecord::DeleteEdge(k) => edge_ops.push((k.clone(), None)),
                SegmentRecord::PutReview(_) => {}
            }
        }
    }
    let (nodes, edges) = rayon::join(|| last_wins(ops), || last_wins(edge_ops));
    Some(Positions { nodes, edges })
}

/// A segment record with its key split out (built in parallel).
enum Keyed {
    Node(String, Option<Node>),
    Edge(EdgeKey, Option<Edge>),
    Review(Review),
}

impl From<SegmentRecord> for Keyed {
    fn from(r: SegmentRecord) -> Self {
        match r {
            SegmentRecord::PutNode(n) => Keyed::Node(n.id.clone(), Some(n)),
            SegmentRecord::DeleteNode(id) => Keyed::Node(id, None),
            SegmentRecord::PutEdge(e) => Keyed::Edge(e.key(), Some(e)),
            SegmentRecord::DeleteEdge(k) => Keyed::Edge(k, None),
            SegmentRecord::PutReview(r) => Keyed::Review(r),
        }
    }
}

/// Replays puts (`Some`) and deletes (`None`) in order: the last operation on each
/// key wins. Returns the survivors sorted by key.
fn last_wins<K: Ord + Send + Sync, V: Send + Sync>(mut ops: Vec<(K, Option<V>)>) -> Vec<(K, V)> {
    // A compacted segment is already in key order: skip moving its records around.
    let sorted = ops.par_windows(2).all(|w| w[0].0 < w[1].0);
    if sorted && ops.iter().all(|(_, v)| v.is_some()) {
        return ops
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
    }
    if !sorted {
        ops.par_sort_by(|a, b| a.0.cmp(&b.0));
    }
    let mut out = Vec::with_capacity(ops.len());
    let mut it = ops.into_iter().peekable();
    while let Some((k, v)) = it.next() {
        if it.peek().is_some_and(|(next, _)| *next == k) {
            continue;
        }
        if let Some(v) = v {
            out.push((k, v));
        }
    }
    out
}

pub(crate) fn load_profile(
    dir: &Path,
    m: &Manifest,
) -> StoreResult<(Option<String>, Option<Damage>)> {
    let Some(p) = &m.profile else {
        return Ok((None, None));
    };
    let path = dir.join(&p.file);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if is_not_found(&e) => {
            return Ok((
                None,
                Some(Damage {
                    rel: p.file.clone(),
                    kind: DamageKind::Missing,
                }),
            ));
        }
        Err(e) => return Err(io_err("reading", &path, e)),
    };
    if blake3_hex(&bytes) != p.blake3 {
        return Ok((
            None,
            Some(Damage {
                rel: p.file.clone(),
                kind: DamageKind::Mismatch("profile does not match its checksum".into()),
            }),
        ));
    }
    match String::from_utf8(bytes) {
        Ok(s) => Ok((Some(s), None)),
        Err(_) => Ok((
            None,
            Some(Damage {
                rel: p.file.clone(),
                kind: DamageKind::Mismatch("profile is not UTF-8".into()),
            }),
        )),
    }
}
