//! A [`Snapshot`] as bytes: what a process writes beside the store so that the
//! next process reads the activation snapshot of a generation instead of
//! building it from every record.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `PMACTSNP` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | 4 | reserved, 0 |
//! | 8 | payload length `L` |
//! | L | payload |
//! | 32 | BLAKE3 of everything before it |
//!
//! The payload starts with the key ([`PersistKey`]: generation, event head,
//! profile digest, store identity), then the interned name tables and what the
//! profile contributed (edge types, phase weights, tokenizer), then every column
//! as a length-prefixed array of fixed-size little-endian values (strings as
//! their UTF-8 bytes). Decoding checks the size, the magic and the version
//! before anything else, then reads each array in bulk straight into its column
//! (no per-node parsing of text, no copy of the whole file: a reader is read
//! once, hashed as it goes), checks the checksum before handing anything out
//! (a damaged file is [`PersistError::Checksum`] even when its damage also
//! breaks the structure) and checks the result is consistent (lengths,
//! offsets, indices, sorted ids), so a foreign, damaged, truncated or
//! old-format file is an error, never a panic or a wrong answer. Errors name
//! what is wrong, never content.

use std::io::Read;
use std::sync::Arc;

use bytemuck::{Pod, Zeroable};
use phase_memory_model::Time;
use phase_memory_profile::Direction;
use rustc_hash::FxHashMap;

use super::chunked::{Chunked, Sorted};
use super::csr::{Rows, StrRows};
use super::dict::{Dict, Table};
use super::{BaseIds, Snapshot};

/// The version of the byte layout this build writes and reads; any other is
/// rejected ([`PersistError::Version`]).
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: [u8; 8] = *b"PMACTSNP";
const HEAD: usize = 24;
const SUM: usize = 32;

/// What a persisted snapshot is valid for, besides its generation: the caller
/// checks it matches before using the snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersistKey {
    /// The sequence number of the last event the snapshot holds.
    pub event_head: u64,
    /// Digest of the profile the snapshot was derived under.
    pub profile_digest: String,
    /// Identity of the store (e.g. adapter and creation time), so a snapshot of
    /// another store that was in the same folder is never taken for this one.
    pub store: String,
}

/// Why bytes are not a usable persisted snapshot. The message names the
/// problem, never the bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PersistError {
    /// Shorter than its header and checksum, or than the length it declares.
    #[error("the persisted activation snapshot is truncated")]
    Truncated,
    /// Not a persisted activation snapshot.
    #[error("not a persisted activation snapshot (unknown magic)")]
    Foreign,
    /// Written by a build with another layout.
    #[error("persisted activation snapshot format {found}; this build reads format {expected}")]
    Version {
        /// The version in the file.
        found: u32,
        /// [`FORMAT_VERSION`].
        expected: u32,
    },
    /// The checksum does not match: the file was damaged or partly written.
    #[error("the persisted activation snapshot fails its checksum (damaged or partly written)")]
    Checksum,
    /// The checksum matches but the content is not a consistent snapshot.
    #[error("the persisted activation snapshot is inconsistent: {0}")]
    Invalid(&'static str),
}

impl Snapshot {
    /// The snapshot as bytes (see the module docs), tagged with `key`.
    /// Deterministic: the same snapshot and key give the same bytes.
    pub fn encode(&self, key: &PersistKey) -> Vec<u8> {
        let mut o = Out(Vec::with_capacity(HEAD + self.heap_bytes() + SUM));
        o.0.extend_from_slice(&MAGIC);
        o.0.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        o.0.extend_from_slice(&0u32.to_le_bytes());
        o.0.extend_from_slice(&0u64.to_le_bytes());
        o.u64(self.generation);
        o.u64(key.event_head);
        o.str(&key.profile_digest);
        o.str(&key.store);
        self.encode_dict(&mut o);
        self.encode_columns(&mut o);
        let len = (o.0.len() - HEAD) as u64;
        o.0[16..HEAD].copy_from_slice(&len.to_le_bytes());
        let sum = blake3::hash(&o.0);
        o.0.extend_from_slice(sum.as_bytes());
        o.0
    }

    /// Reads bytes written by [`Snapshot::encode`]: the key they were tagged
    /// with and the snapshot, equal to the one encoded.
    pub fn decode(bytes: &[u8]) -> Result<(PersistKey, Snapshot), PersistError> {
        let mut r = bytes;
        Snapshot::read_from(&mut r, bytes.len() as u64)
    }

    /// [`Snapshot::decode`] from a reader of `len` bytes (e.g. a file and its
    /// size): each column is read straight into place, the checksum computed
    /// on the way, so the file is read once and never held whole. Any read
    /// error (e.g. the file shrank) is [`PersistError::Truncated`].
    pub fn read_from(r: &mut impl Read, len: u64) -> Result<(PersistKey, Snapshot), PersistError> {
        let mut head = [0u8; HEAD];
        if len < (HEAD + SUM) as u64 {
            return Err(PersistError::Truncated);
        }
        r.read_exact(&mut head)
            .map_err(|_| PersistError::Truncated)?;
        let payload = check_head(&head, len)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(&head);
        let mut i = In {
            r,
            left: payload,
            hasher,
            failed: false,
        };
        let decoded = decode_payload(&mut i);
        if i.failed {
            return Err(PersistError::Truncated);
        }
        // Hash whatever a structural error left unread, so damage is always
        // reported as such; then compare with the stored checksum.
        let mut rest = i.r.take(i.left as u64);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match rest.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    i.hasher.update(&buf[..n]);
                }
                Err(_) => return Err(PersistError::Truncated),
            }
        }
        let mut sum = [0u8; SUM];
        i.r.read_exact(&mut sum)
            .map_err(|_| PersistError::Truncated)?;
        if i.hasher.finalize().as_bytes() != &sum {
            return Err(PersistError::Checksum);
        }
        let (key, mut s) = decoded?;
        if i.left != 0 {
            return Err(PersistError::Invalid("bytes after the last column"));
        }
        validate(&s).map_err(PersistError::Invalid)?;
        s.derive_classes();
        Ok((key, s))
    }

    fn encode_dict(&self, o: &mut Out) {
        let d = &self.dict;
        let mut types: Vec<(&String, &(f32, Direction))> = d.edge_types.iter().collect();
        types.sort_unstable_by(|a, b| a.0.cmp(b.0));
        o.u64(types.len() as u64);
        for (name, (w, dir)) in types {
            o.str(name);
            o.u64(u64::from(w.to_bits()));
            o.u64(match dir {
                Direction::Forward => 0,
                Direction::Backward => 1,
                Direction::Both => 2,
            });
        }
        for t in [&d.phases, &d.kinds, &d.sensitivities, &d.scopes, &d.labels] {
            o.u64(t.names.len() as u64);
            t.names.iter().for_each(|n| o.str(n));
        }
        o.arr(&d.phase_weights);
        o.str(&d.encoding);
    }

    /// The columns in the canonical form a fresh build has: live rows in id
    /// order, arc targets renumbered to it (each row's arcs by target, then
    /// weight), no garbage. So the bytes do not depend on how the snapshot was
    /// brought forward, and a reader gets a compact snapshot.
    fn encode_columns(&self, o: &mut Out) {
        let order: Vec<u32> = self
            .rows_by_id()
            .into_iter()
            .filter(|&r| self.alive[r as usize])
            .collect();
        let mut remap = vec![u32::MAX; self.index_bound()];
        for (k, &r) in order.iter().enumerate() {
            remap[r as usize] = k as u32;
        }
        o.str_rows(&order, |r| self.id(r));
        o.col(&order, &self.kind);
        o.col(&order, &self.phase);
        o.col(&order, &self.sensitivity);
        o.col(&order, &self.scope);
        o.rows(&order, |r| self.labels.get(r as usize), |&l| l);
        o.str_rows(&order, |r| self.title(r));
        o.col(&order, &self.valid_from);
        o.col(&order, &self.valid_to);
        o.col(&order, &self.tokens);
        o.col(&order, &self.created_at);
        o.col(&order, &self.signature);
        let mut offsets = Vec::with_capacity(order.len() + 1);
        offsets.push(0);
        let mut arcs: Vec<(u32, f32)> = Vec::with_capacity(self.arcs.live_items());
        for &r in &order {
            let a = arcs.len();
            arcs.extend(self.arcs(r).iter().map(|&(t, w)| (remap[t as usize], w)));
            arcs[a..].sort_unstable_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
            offsets.push(arcs.len());
        }
        o.offsets(&offsets);
        o.arr(&arcs.iter().map(|a| a.0).collect::<Vec<u32>>());
        o.arr(&arcs.iter().map(|a| a.1).collect::<Vec<f32>>());
        drop(arcs);
        o.col(&order, &self.arc_max);
        o.rows(&order, |r| self.access_times(r), |t| t.0);
        let extra: Vec<u8> = order
            .iter()
            .map(|&r| u8::from(self.created_extra[r as usize]))
            .collect();
        o.arr(&extra);
        let mut touches: Vec<(i64, u32)> = Vec::with_capacity(self.touches.len());
        touches.extend(self.touches.iter().map(|&(at, i)| (at, remap[i as usize])));
        touches.sort_unstable();
        o.arr(&touches.iter().map(|t| t.0).collect::<Vec<i64>>());
        o.arr(&touches.iter().map(|t| t.1).collect::<Vec<u32>>());
        for map in [&*self.orphan_access, &*self.orphan_touches] {
            let mut rows: Vec<_> = map.iter().collect();
            rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
            o.u64(rows.len() as u64);
            for (id, times) in rows {
                o.str(id);
                o.arr(times);
            }
        }
        o.u64(self.edge_count);
    }
}

/// The payload length the header declares once size, magic and version are
/// right for a file of `len` bytes.
fn check_head(head: &[u8; HEAD], len: u64) -> Result<usize, PersistError> {
    if head[..8] != MAGIC {
        return Err(PersistError::Foreign);
    }
    let version = u32::from_le_bytes(le(&head[8..12]));
    if version != FORMAT_VERSION {
        return Err(PersistError::Version {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let declared = u64::from_le_bytes(le(&head[16..HEAD]));
    declared
        .checked_add((HEAD + SUM) as u64)
        .filter(|&total| total == len)
        .and_then(|_| usize::try_from(declared).ok())
        .ok_or(PersistError::Truncated)
}

/// The key and the snapshot, read from the payload.
fn decode_payload<R: Read>(i: &mut In<'_, R>) -> Result<(PersistKey, Snapshot), PersistError> {
    let generation = i.u64()?;
    let key = PersistKey {
        event_head: i.u64()?,
        profile_digest: i.string()?,
        store: i.string()?,
    };
    let dict = decode_dict(i)?;
    let s = decode_columns(i, generation, dict)?;
    Ok((key, s))
}

fn decode_dict<R: Read>(i: &mut In<'_, R>) -> Result<Dict, PersistError> {
    let n = i.len(1)?;
    let mut edge_types = FxHashMap::default();
    for _ in 0..n {
        let name = i.string()?;
        let w = f32::from_bits(
            u32::try_from(i.u64()?).map_err(|_| PersistError::Invalid("edge type weight"))?,
        );
        let dir = match i.u64()? {
            0 => Direction::Forward,
            1 => Direction::Backward,
            2 => Direction::Both,
            _ => return Err(PersistError::Invalid("edge type direction")),
        };
        edge_types.insert(name, (w, dir));
    }
    let mut tables = Vec::with_capacity(5);
    for _ in 0..5 {
        let n = i.len(8)?;
        let mut t = Table::default();
        for _ in 0..n {
            let name = i.string()?;
            if t.intern(&name) as usize != t.names.len() - 1 {
                return Err(PersistError::Invalid("a name twice in an interned table"));
            }
        }
        tables.push(t);
    }
    let mut tables = tables.into_iter();
    let mut next = || tables.next().unwrap_or_default();
    Ok(Dict {
        edge_types,
        phases: next(),
        kinds: next(),
        sensitivities: next(),
        scopes: next(),
        labels: next(),
        phase_weights: i.arr()?,
        encoding: i.string()?,
    })
}

fn decode_columns<R: Read>(
    i: &mut In<'_, R>,
    generation: u64,
    dict: Dict,
) -> Result<Snapshot, PersistError> {
    let id_bytes = i.string()?;
    let id_offsets = i.offsets()?;
    let n = id_offsets.len().saturating_sub(1);
    check_text(&id_offsets, n, &id_bytes)?;
    let (kind, phase, sensitivity, scope) = (i.arr()?, i.arr()?, i.arr()?, i.arr()?);
    let label_offsets = i.offsets()?;
    let label_ids = i.arr()?;
    check_offsets(&label_offsets, n, Vec::len(&label_ids))?;
    let title_bytes = i.string()?;
    let title_offsets = i.offsets()?;
    check_text(&title_offsets, n, &title_bytes)?;
    let (valid_from, valid_to, tokens, created_at) = (i.arr()?, i.arr()?, i.arr()?, i.arr()?);
    let signature = i.arr()?;
    let arc_offsets = i.offsets()?;
    let (arc_targets, arc_weights): (Vec<u32>, Vec<f32>) = (i.arr()?, i.arr()?);
    let arc_max = i.arr()?;
    check_offsets(&arc_offsets, n, arc_targets.len())?;
    if arc_weights.len() != arc_targets.len() {
        return Err(PersistError::Invalid("arc columns of different lengths"));
    }
    let access_offsets = i.offsets()?;
    let access_times: Vec<Time> = i.arr::<i64>()?.into_iter().map(Time).collect();
    check_offsets(&access_offsets, n, access_times.len())?;
    let extra: Vec<u8> = i.arr()?;
    if extra.iter().any(|&b| b > 1) {
        return Err(PersistError::Invalid("a flag that is neither 0 nor 1"));
    }
    let at: Vec<i64> = i.arr()?;
    let node: Vec<u32> = i.arr()?;
    if at.len() != node.len() {
        return Err(PersistError::Invalid("touch columns of different lengths"));
    }
    let orphan_access = decode_orphans(i)?;
    let orphan_touches = decode_orphans(i)?;
    let touches: Vec<(i64, u32)> = at.into_iter().zip(node).collect();
    if !touches.is_sorted() {
        return Err(PersistError::Invalid("touches not in time order"));
    }
    let arcs: Vec<(u32, f32)> = arc_targets.into_iter().zip(arc_weights).collect();
    Ok(Snapshot {
        generation,
        base_ids: Arc::new(BaseIds::new(id_bytes, id_offsets)),
        added_ids: StrRows::default(),
        base: n,
        added: Arc::default(),
        alive: std::iter::repeat_n(true, n).collect(),
        live: n,
        kind: kind.into(),
        phase: phase.into(),
        sensitivity: sensitivity.into(),
        scope: scope.into(),
        labels: Rows::from_offsets(&label_offsets, &label_ids),
        titles: StrRows::from_offsets(&title_offsets, &title_bytes),
        valid_from: valid_from.into(),
        valid_to: valid_to.into(),
        tokens: tokens.into(),
        created_at: created_at.into(),
        signature: signature.into(),
        arcs: Rows::from_offsets(&arc_offsets, &arcs),
        arc_max: arc_max.into(),
        access: Rows::from_offsets(&access_offsets, &access_times),
        created_extra: extra.into_iter().map(|b| b == 1).collect(),
        touches: Sorted::from_sorted(&touches),
        orphan_access: Arc::new(orphan_access),
        orphan_touches: Arc::new(orphan_touches),
        edge_count: i.u64()?,
        dict: Arc::new(dict),
        policy_class: Chunked::default(),
        classes: Default::default(),
    })
}

fn decode_orphans<R: Read>(
    i: &mut In<'_, R>,
) -> Result<FxHashMap<Box<str>, Vec<i64>>, PersistError> {
    let n = i.len(16)?;
    let mut map = FxHashMap::default();
    for _ in 0..n {
        let id: Box<str> = i.string()?.into();
        if map.insert(id, i.arr()?).is_some() {
            return Err(PersistError::Invalid("an id twice among kept-aside times"));
        }
    }
    Ok(map)
}

/// Checks what the offsets did not: that every accessor of the snapshot
/// stays in bounds and that ids are sorted (lookups are binary searches).
fn validate(s: &Snapshot) -> Result<(), &'static str> {
    let n = s.kind.len();
    let per_node = [
        s.base_ids.len() + s.added_ids.len(),
        s.phase.len(),
        s.sensitivity.len(),
        s.scope.len(),
        s.valid_from.len(),
        s.valid_to.len(),
        s.tokens.len(),
        s.created_at.len(),
        s.signature.len(),
        s.arc_max.len(),
        s.created_extra.len(),
    ];
    if per_node.iter().any(|&l| l != n) {
        return Err("node columns of different lengths");
    }
    if s.edge_count != s.arcs.live_items() as u64 {
        return Err("arc columns of different lengths");
    }
    let d = &s.dict;
    fn below<'a>(mut v: impl Iterator<Item = &'a u32>, bound: usize) -> bool {
        v.all(|&x| (x as usize) < bound)
    }
    let phases = d.phases.names.len().min(d.phase_weights.len());
    if !below(s.kind.iter(), d.kinds.names.len())
        || !below(s.phase.iter(), phases)
        || !below(s.sensitivity.iter(), d.sensitivities.names.len())
        || !below(s.scope.iter(), d.scopes.names.len())
        || !below(s.labels.items(), d.labels.names.len())
    {
        return Err("an interned name out of its table");
    }
    if s.arcs.items().any(|a| a.0 as usize >= n) || s.touches.iter().any(|t| t.1 as usize >= n) {
        return Err("a node index out of range");
    }
    if (1..n).any(|i| s.id(i as u32 - 1) >= s.id(i as u32)) {
        return Err("node ids not in ascending order");
    }
    Ok(())
}

/// [`check_offsets`] of a string CSR, every offset on a character boundary.
fn check_text(offsets: &[usize], rows: usize, text: &str) -> Result<(), PersistError> {
    check_offsets(offsets, rows, text.len())?;
    if !offsets.iter().all(|&o| text.is_char_boundary(o)) {
        return Err(PersistError::Invalid("a string offset inside a character"));
    }
    Ok(())
}

/// Offsets of a CSR of `rows` rows over `items` items: `rows + 1` entries from 0
/// to `items`, never decreasing.
fn check_offsets(offsets: &[usize], rows: usize, items: usize) -> Result<(), PersistError> {
    if offsets.len() != rows + 1
        || offsets.first() != Some(&0)
        || offsets.last() != Some(&items)
        || offsets.windows(2).any(|w| w[0] > w[1])
    {
        return Err(PersistError::Invalid(
            "row offsets out of order or out of range",
        ));
    }
    Ok(())
}

fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(b);
    a
}

/// A fixed-size little-endian value of a column.
trait Le: Pod + Zeroable {
    const SIZE: usize;
    fn put(&self, out: &mut Vec<u8>);
    fn get(b: &[u8]) -> Self;
}

macro_rules! le_impl {
    ($($t:ty),*) => {$(
        impl Le for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(b: &[u8]) -> Self {
                <$t>::from_le_bytes(le(b))
            }
        }
    )*};
}
le_impl!(u8, u32, u64, i64, f32, f64);

struct Out(Vec<u8>);

impl Out {
    fn u64(&mut self, x: u64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn arr<T: Le>(&mut self, v: &[T]) {
        self.u64(v.len() as u64);
        self.0.reserve(v.len() * T::SIZE);
        v.iter().for_each(|x| x.put(&mut self.0));
    }
    fn offsets(&mut self, v: &[usize]) {
        self.u64(v.len() as u64);
        self.0.reserve(v.len() * 8);
        v.iter()
            .for_each(|&x| self.0.extend_from_slice(&(x as u64).to_le_bytes()));
    }
    /// A per-node column, rows in `order`.
    fn col<T: Le>(&mut self, order: &[u32], column: &Chunked<T>) {
        self.u64(order.len() as u64);
        self.0.reserve(order.len() * T::SIZE);
        order
            .iter()
            .for_each(|&r| column[r as usize].put(&mut self.0));
    }
    /// Rows of text in `order`, as their bytes then their end offsets.
    fn str_rows<'a>(&mut self, order: &[u32], get: impl Fn(u32) -> &'a str) {
        let total: usize = order.iter().map(|&r| get(r).len()).sum();
        self.u64(total as u64);
        self.0.reserve(total);
        order
            .iter()
            .for_each(|&r| self.0.extend_from_slice(get(r).as_bytes()));
        self.row_offsets(order, |r| get(r).len());
    }
    /// Rows of items in `order`, as their end offsets then the items (`f` of
    /// each).
    fn rows<'a, U: 'a, T: Le>(
        &mut self,
        order: &[u32],
        get: impl Fn(u32) -> &'a [U],
        f: impl Fn(&U) -> T,
    ) {
        let total = self.row_offsets(order, |r| get(r).len());
        self.u64(total as u64);
        self.0.reserve(total * T::SIZE);
        for &r in order {
            get(r).iter().for_each(|x| f(x).put(&mut self.0));
        }
    }
    /// The CSR offsets of rows of `len(r)` items in `order`; their total.
    fn row_offsets(&mut self, order: &[u32], len: impl Fn(u32) -> usize) -> usize {
        self.u64(order.len() as u64 + 1);
        let mut at = 0usize;
        self.u64(0);
        for &r in order {
            at += len(r);
            self.u64(at as u64);
        }
        at
    }
}

/// The payload being read: `left` bytes of it not read yet, every byte read
/// hashed. `failed`: the reader itself failed (the file shrank or could not be
/// read), which no checksum can be checked after.
struct In<'a, R: Read> {
    r: &'a mut R,
    left: usize,
    hasher: blake3::Hasher,
    failed: bool,
}

impl<R: Read> In<'_, R> {
    /// Fills `buf` from the payload.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), PersistError> {
        if buf.len() > self.left {
            return Err(PersistError::Invalid("a column longer than the file"));
        }
        if self.r.read_exact(buf).is_err() {
            self.failed = true;
            return Err(PersistError::Truncated);
        }
        self.left -= buf.len();
        self.hasher.update(buf);
        Ok(())
    }
    fn u64(&mut self) -> Result<u64, PersistError> {
        let mut b = [0u8; 8];
        self.fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    /// A count of items of at least `min` bytes each, checked against what is left.
    fn len(&mut self, min: usize) -> Result<usize, PersistError> {
        let n = usize::try_from(self.u64()?)
            .ok()
            .filter(|n| n.saturating_mul(min) <= self.left)
            .ok_or(PersistError::Invalid("a column longer than the file"))?;
        Ok(n)
    }
    fn string(&mut self) -> Result<String, PersistError> {
        let n = self.len(1)?;
        let mut raw = vec![0u8; n];
        self.fill(&mut raw)?;
        String::from_utf8(raw).map_err(|_| PersistError::Invalid("text that is not UTF-8"))
    }
    /// A column read in bulk into its own memory (little-endian on disk).
    fn arr<T: Le>(&mut self) -> Result<Vec<T>, PersistError> {
        let n = self.len(T::SIZE)?;
        let mut v = vec![T::zeroed(); n];
        self.fill(bytemuck::cast_slice_mut(&mut v))?;
        if cfg!(target_endian = "big") {
            v.iter_mut()
                .for_each(|x| *x = T::get(bytemuck::bytes_of(x)));
        }
        Ok(v)
    }
    fn offsets(&mut self) -> Result<Vec<usize>, PersistError> {
        let v: Vec<u64> = self.arr()?;
        if usize::try_from(v.iter().copied().max().unwrap_or(0)).is_err() {
            return Err(PersistError::Invalid("an offset too large"));
        }
        Ok(v.into_iter().map(|x| x as usize).collect())
    }
}
