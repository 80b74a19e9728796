//! A snapshot written with `Snapshot::encode` and read back with
//! `Snapshot::decode` is the same snapshot (same canonical dump, same
//! activations, same bytes when written again); damaged, truncated, foreign and
//! old-format bytes are rejected, never a panic.

use phase_memory_activate::snapshot::FORMAT_VERSION;
use phase_memory_activate::{PersistError, PersistKey, SnapshotChanges};

use super::incremental::{IDS, Model, Op, activations, op};
use super::*;

fn key() -> PersistKey {
    PersistKey {
        event_head: 42,
        profile_digest: "digest-of-the-profile".into(),
        store: "file 2026-01-01".into(),
    }
}

/// A snapshot built from `start`, then brought forward by `commit` (so the
/// interned tables are in the order `apply` leaves them, not the builder's).
fn snapshot_of(start: &[Op], commit: &[Op]) -> (Model, Snapshot) {
    let p = profile();
    let mut model = Model::default();
    let mut ignored = SnapshotChanges::default();
    for o in start {
        model.apply(o, &mut ignored);
    }
    let mut snap = model.build(&p, 7);
    let mut c = SnapshotChanges::default();
    for o in commit {
        model.apply(o, &mut c);
    }
    for (id, n) in &mut c.nodes {
        *n = model.nodes.get(id).cloned();
    }
    snap.apply(8, &c, &mut |id| model.edges_of(id));
    (model, snap)
}

fn sample() -> Vec<u8> {
    let start: Vec<Op> = (0..IDS)
        .map(|k| Op::PutNode {
            k,
            text: (k % 6) as u8,
            phase: k % 5,
            created: (k % 4) as i64,
            labels: vec![k % 3],
            tokens: (k * 7) as u32,
            invalid: k % 5 == 0,
        })
        .chain((0..IDS).map(|k| Op::PutEdge(k, (k + 1) % IDS, k % 5, 1.0)))
        .chain((0..IDS).map(|k| Op::Event(vec![k, (k + 3) % IDS], k % 3, k as i64)))
        .collect();
    let (_, snap) = snapshot_of(&start, &[Op::DeleteNode(3), Op::Event(vec![3], 0, 9)]);
    snap.encode(&key())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn decoding_gives_back_the_snapshot_that_was_encoded(
        start in prop::collection::vec(op(), 0..30),
        commit in prop::collection::vec(op(), 0..5),
        cue_ids in prop::collection::vec(0..IDS, 1..5),
        withheld in 0..IDS,
    ) {
        let p = profile();
        let (_, snap) = snapshot_of(&start, &commit);
        let bytes = snap.encode(&key());
        let (k, back) = Snapshot::decode(&bytes).expect("decodes");
        prop_assert_eq!(k, key());
        prop_assert_eq!(back.generation(), snap.generation());
        prop_assert_eq!(back.canonical_dump(), snap.canonical_dump());
        prop_assert_eq!(super::incremental::classes_follow_keys(&back), Ok(()));
        prop_assert_eq!(
            activations(&back, &p, &cue_ids, withheld),
            activations(&snap, &p, &cue_ids, withheld)
        );
        prop_assert_eq!(back.encode(&key()), bytes, "written again: the same bytes");
    }

    #[test]
    fn a_decoded_snapshot_is_brought_forward_like_the_original(
        start in prop::collection::vec(op(), 0..20),
        commit in prop::collection::vec(op(), 1..6),
        cue_ids in prop::collection::vec(0..IDS, 1..5),
    ) {
        let p = profile();
        let (mut model, snap) = snapshot_of(&start, &[]);
        let (_, mut back) = Snapshot::decode(&snap.encode(&key())).expect("decodes");
        let mut c = SnapshotChanges::default();
        for o in &commit {
            model.apply(o, &mut c);
        }
        for (id, n) in &mut c.nodes {
            *n = model.nodes.get(id).cloned();
        }
        back.apply(9, &c, &mut |id| model.edges_of(id));
        let fresh = model.build(&p, 9);
        prop_assert_eq!(back.canonical_dump(), fresh.canonical_dump());
        prop_assert_eq!(super::incremental::classes_follow_keys(&back), Ok(()));
        prop_assert_eq!(
            activations(&back, &p, &cue_ids, 0),
            activations(&fresh, &p, &cue_ids, 0)
        );
    }

    #[test]
    fn any_flipped_bit_is_rejected(bit in 0usize..1_000_000) {
        let mut bytes = sample();
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(Snapshot::decode(&bytes).is_err());
    }

    #[test]
    fn any_truncation_is_rejected(cut in 0usize..1_000_000) {
        let bytes = sample();
        let cut = cut % bytes.len();
        prop_assert!(Snapshot::decode(&bytes[..cut]).is_err());
    }

    /// Bytes with a valid checksum but a changed payload (a foreign writer, a
    /// bug) are rejected or decode to something consistent: never a panic,
    /// and the snapshot still answers.
    #[test]
    fn a_changed_payload_with_a_fresh_checksum_never_panics(at in 24usize..1_000_000, x in 1u8..=255) {
        let mut bytes = sample();
        let end = bytes.len() - 32;
        let at = 24 + (at - 24) % (end - 24);
        bytes[at] ^= x;
        let sum = blake3::hash(&bytes[..end]);
        bytes[end..].copy_from_slice(sum.as_bytes());
        if let Ok((_, s)) = Snapshot::decode(&bytes) {
            let _ = s.canonical_dump();
            let _ = activations(&s, &profile(), &[0, 1, 2], 0);
        }
    }
}

#[test]
fn old_or_foreign_bytes_are_rejected_with_a_clear_error() {
    let good = sample();
    assert!(Snapshot::decode(&good).is_ok());

    let mut old = good.clone();
    old[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = Snapshot::decode(&old)
        .map(|_| ())
        .expect_err("another version");
    assert_eq!(
        e,
        PersistError::Version {
            found: FORMAT_VERSION + 1,
            expected: FORMAT_VERSION
        }
    );
    assert!(e.to_string().contains("format"), "{e}");

    let mut foreign = good.clone();
    foreign[..8].copy_from_slice(b"SQLite f");
    assert_eq!(
        Snapshot::decode(&foreign).map(|_| ()),
        Err(PersistError::Foreign)
    );

    assert_eq!(
        Snapshot::decode(&good[..good.len() - 1]).map(|_| ()),
        Err(PersistError::Truncated)
    );
    assert_eq!(
        Snapshot::decode(b"").map(|_| ()),
        Err(PersistError::Truncated)
    );

    let mut damaged = good.clone();
    let mid = good.len() / 2;
    damaged[mid] ^= 0x10;
    let e = Snapshot::decode(&damaged).map(|_| ()).expect_err("damaged");
    assert_eq!(e, PersistError::Checksum);
    // The message names the problem, not the content.
    assert!(!e.to_string().contains("Title"), "{e}");
}

/// A reader that hands out at most `step` bytes per call and fails once
/// `fail_at` bytes were read (a file that shrank or a read error).
struct Dribble<'a> {
    bytes: &'a [u8],
    pos: usize,
    step: usize,
    fail_at: usize,
}

impl std::io::Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.fail_at {
            return Err(std::io::Error::other("gone"));
        }
        let n = buf
            .len()
            .min(self.step)
            .min(self.bytes.len() - self.pos)
            .min(self.fail_at - self.pos);
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reading from a reader (short reads, a column over 1 MiB) gives what
/// `decode` gives; a reader failing anywhere is
/// `Truncated`, a flipped byte still `Checksum`.
#[test]
fn reading_from_a_reader_equals_decoding_and_a_failing_reader_is_truncated() {
    let start: Vec<Op> = (0..IDS)
        .map(|k| Op::PutNode {
            k,
            text: 0,
            phase: 0,
            created: 0,
            labels: vec![],
            tokens: 1,
            invalid: false,
        })
        .chain((0..140_000i64).map(|t| Op::Event(vec![t as usize % IDS], 1, t)))
        .collect();
    let (_, snap) = snapshot_of(&start, &[]);
    let bytes = snap.encode(&key());
    assert!(bytes.len() > 1 << 20, "{} bytes", bytes.len());
    let (k, back) = Snapshot::decode(&bytes).expect("decodes");
    assert_eq!(k, key());
    for step in [7, 4096, usize::MAX] {
        let mut r = Dribble {
            bytes: &bytes,
            pos: 0,
            step,
            fail_at: usize::MAX,
        };
        let (k2, read) = Snapshot::read_from(&mut r, bytes.len() as u64).expect("reads");
        assert_eq!(k2, key());
        assert_eq!(read.canonical_dump(), back.canonical_dump());
        assert_eq!(read.encode(&key()), bytes);
    }
    for fail_at in [0, 10, 24, 100, bytes.len() / 2, bytes.len() - 1] {
        let mut r = Dribble {
            bytes: &bytes,
            pos: 0,
            step: 1 << 16,
            fail_at,
        };
        assert_eq!(
            Snapshot::read_from(&mut r, bytes.len() as u64).map(|_| ()),
            Err(PersistError::Truncated),
            "failing at {fail_at}"
        );
    }
    let mut damaged = bytes.clone();
    damaged[bytes.len() / 3] ^= 0x40;
    let mut r = Dribble {
        bytes: &damaged,
        pos: 0,
        step: 1 << 16,
        fail_at: usize::MAX,
    };
    assert_eq!(
        Snapshot::read_from(&mut r, bytes.len() as u64).map(|_| ()),
        Err(PersistError::Checksum)
    );
}
