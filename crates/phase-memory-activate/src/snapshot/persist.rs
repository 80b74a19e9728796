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

use bytemuck::{Pod, Zeroable};
use phase_memory_model::Time;
use phase_memory_profile::Direction;
use rustc_hash::FxHashMap;

use super::Snapshot;
use super::dict::{Dict, Table};

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

    fn encode_columns(&self, o: &mut Out) {
        o.str(&self.id_bytes);
        o.offsets(&self.id_offsets);
        o.arr(&self.kind);
        o.arr(&self.phase);
        o.arr(&self.sensitivity);
        o.arr(&self.scope);
        o.offsets(&self.label_offsets);
        o.arr(&self.label_ids);
        o.str(&self.title_bytes);
        o.offsets(&self.title_offsets);
        o.arr(&self.valid_from);
        o.arr(&self.valid_to);
        o.arr(&self.tokens);
        o.arr(&self.created_at);
        o.arr(&self.signature);
        o.offsets(&self.arc_offsets);
        o.arr(&self.arc_targets);
        o.arr(&self.arc_weights);
        o.arr(&self.arc_max);
        o.offsets(&self.access_offsets);
        let times: Vec<i64> = self.access_times.iter().map(|t| t.0).collect();
        o.arr(&times);
        let extra: Vec<u8> = self.created_extra.iter().map(|&b| u8::from(b)).collect();
        o.arr(&extra);
        let at: Vec<i64> = self.touches.iter().map(|t| t.0).collect();
        let node: Vec<u32> = self.touches.iter().map(|t| t.1).collect();
        o.arr(&at);
        o.arr(&node);
        for map in [&self.orphan_access, &self.orphan_touches] {
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
    let (kind, phase, sensitivity, scope) = (i.arr()?, i.arr()?, i.arr()?, i.arr()?);
    let label_offsets = i.offsets()?;
    let label_ids = i.arr()?;
    let title_bytes = i.string()?;
    let title_offsets = i.offsets()?;
    let (valid_from, valid_to, tokens, created_at) = (i.arr()?, i.arr()?, i.arr()?, i.arr()?);
    let signature = i.arr()?;
    let arc_offsets = i.offsets()?;
    let (arc_targets, arc_weights, arc_max) = (i.arr()?, i.arr()?, i.arr()?);
    let access_offsets = i.offsets()?;
    let access_times = i.arr::<i64>()?.into_iter().map(Time).collect();
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
    Ok(Snapshot {
        generation,
        id_bytes,
        id_offsets,
        kind,
        phase,
        sensitivity,
        scope,
        label_offsets,
        label_ids,
        title_bytes,
        title_offsets,
        valid_from,
        valid_to,
        tokens,
        created_at,
        signature,
        arc_offsets,
        arc_targets,
        arc_weights,
        arc_max,
        access_offsets,
        access_times,
        created_extra: extra.into_iter().map(|b| b == 1).collect(),
        touches: at.into_iter().zip(node).collect(),
        orphan_access,
        orphan_touches,
        edge_count: i.u64()?,
        dict,
        policy_class: Vec::new(),
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

/// Checks that every accessor of the snapshot stays in bounds and that ids are
/// sorted (lookups are binary searches).
fn validate(s: &Snapshot) -> Result<(), &'static str> {
    let n = s.kind.len();
    let per_node = [
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
    check_offsets(&s.id_offsets, n, s.id_bytes.len())?;
    check_offsets(&s.label_offsets, n, s.label_ids.len())?;
    check_offsets(&s.title_offsets, n, s.title_bytes.len())?;
    check_offsets(&s.arc_offsets, n, s.arc_targets.len())?;
    check_offsets(&s.access_offsets, n, s.access_times.len())?;
    let on_chars =
        |text: &str, offsets: &[usize]| offsets.iter().all(|&o| text.is_char_boundary(o));
    if !on_chars(&s.id_bytes, &s.id_offsets) || !on_chars(&s.title_bytes, &s.title_offsets) {
        return Err("a string offset inside a character");
    }
    if s.arc_weights.len() != s.arc_targets.len() || s.edge_count != s.arc_targets.len() as u64 {
        return Err("arc columns of different lengths");
    }
    let d = &s.dict;
    let below = |v: &[u32], bound: usize| v.iter().all(|&x| (x as usize) < bound);
    let phases = d.phases.names.len().min(d.phase_weights.len());
    if !below(&s.kind, d.kinds.names.len())
        || !below(&s.phase, phases)
        || !below(&s.sensitivity, d.sensitivities.names.len())
        || !below(&s.scope, d.scopes.names.len())
        || !below(&s.label_ids, d.labels.names.len())
    {
        return Err("an interned name out of its table");
    }
    if !below(&s.arc_targets, n) || s.touches.iter().any(|t| t.1 as usize >= n) {
        return Err("a node index out of range");
    }
    if (1..n).any(|i| s.id(i as u32 - 1) >= s.id(i as u32)) {
        return Err("node ids not in ascending order");
    }
    Ok(())
}

/// Offsets of a CSR of `rows` rows over `items` items: `rows + 1` entries from 0
/// to `items`, never decreasing.
fn check_offsets(offsets: &[usize], rows: usize, items: usize) -> Result<(), &'static str> {
    if offsets.len() != rows + 1
        || offsets.first() != Some(&0)
        || offsets.last() != Some(&items)
        || offsets.windows(2).any(|w| w[0] > w[1])
    {
        return Err("row offsets out of order or out of range");
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
