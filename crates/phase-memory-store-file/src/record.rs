//! The on-disk line format: one JSON object per line, opened by a checksum of the
//! rest of the line (`{"sum":"<16 hex>",…}`), shared by segments, `events.jsonl` and
//! `audit.jsonl`; and the typed records a segment holds.

use phase_memory_model::{Edge, EdgeKey, Node, Review};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// `{"sum":"`.
const PREFIX: &[u8] = b"{\"sum\":\"";
/// Hex digits of a line checksum (64 bits of BLAKE3).
const SUM_HEX: usize = 16;
/// Bytes before the checksummed content: `{"sum":"<16 hex>",`.
pub(crate) const HEADER_LEN: usize = PREFIX.len() + SUM_HEX + 2;

/// Lines encoded per parallel task.
const CHUNK: usize = 2048;

/// The checksum of a line's content, as 16 lowercase hex digits.
fn line_sum(content: &[u8]) -> [u8; SUM_HEX] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let h = blake3::hash(content);
    let mut out = [0u8; SUM_HEX];
    for (i, b) in h.as_bytes()[..SUM_HEX / 2].iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// Appends one checksummed line (with its newline) for `rec` to `out`.
fn encode_line<T: Serialize>(
    rec: &T,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    scratch.clear();
    serde_json::to_writer(&mut *scratch, rec).map_err(|e| e.to_string())?;
    let content = match scratch.split_first() {
        Some((b'{', rest)) if rest.len() > 1 => rest,
        _ => return Err("record does not encode as a non-empty JSON object".into()),
    };
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(&line_sum(content));
    out.extend_from_slice(b"\",");
    out.extend_from_slice(content);
    out.push(b'\n');
    Ok(())
}

/// Encodes records as checksummed lines, in parallel, keeping their order.
pub(crate) fn encode_lines<T: Serialize + Sync>(records: &[T]) -> Result<Vec<u8>, String> {
    let chunks: Vec<Result<Vec<u8>, String>> = records
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut scratch = Vec::with_capacity(1024);
            let mut out = Vec::with_capacity(chunk.len() * 256);
            for r in chunk {
                encode_line(r, &mut scratch, &mut out)?;
            }
            Ok(out)
        })
        .collect();
    let mut all = Vec::with_capacity(chunks.iter().map(|c| c.as_ref().map_or(0, Vec::len)).sum());
    for c in chunks {
        all.extend_from_slice(&c?);
    }
    Ok(all)
}

/// Checks a line's checksum (the line without its newline).
pub(crate) fn check_line(line: &[u8]) -> Result<(), String> {
    if line.len() <= HEADER_LEN
        || !line.starts_with(PREFIX)
        || &line[HEADER_LEN - 2..HEADER_LEN] != b"\","
    {
        return Err("line does not start with its checksum (torn or hand-edited)".into());
    }
    let content = &line[HEADER_LEN..];
    if line[PREFIX.len()..PREFIX.len() + SUM_HEX] != line_sum(content) {
        return Err("checksum mismatch (torn or hand-edited line)".into());
    }
    Ok(())
}

/// A line that failed its checksum or did not parse.
#[derive(Debug, Clone)]
pub(crate) struct BadLine {
    /// Line number, from 1.
    pub line: usize,
    /// What is wrong.
    pub detail: String,
    /// The raw bytes of the line (without newline).
    pub text: Vec<u8>,
}

/// Splits a file's bytes into lines. A last line without its newline is torn: it is
/// returned as a bad line.
fn split_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Decodes every line of a file in parallel, in order: each is a record or a bad line.
/// With `check_sums` false the per-line checksums are skipped (the caller verified a
/// checksum of the whole file, which covers every byte).
pub(crate) fn decode_lines<T: DeserializeOwned + Send>(
    bytes: &[u8],
    check_sums: bool,
) -> Vec<Result<T, BadLine>> {
    let torn_tail = !bytes.is_empty() && !bytes.ends_with(b"\n");
    let lines = split_lines(bytes);
    let n = lines.len();
    lines
        .into_par_iter()
        .enumerate()
        .map(|(i, line)| {
            let bad = |detail: String| BadLine {
                line: i + 1,
                detail,
                text: line.to_vec(),
            };
            if torn_tail && i + 1 == n {
                return Err(bad("last line has no newline (torn write)".into()));
            }
            if check_sums {
                check_line(line).map_err(bad)?;
            }
            serde_json::from_slice::<T>(line).map_err(|e| bad(format!("does not parse: {e}")))
        })
        .collect()
}

/// Number of lines (newlines) in a byte buffer.
pub(crate) fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

/// What a segment line does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    PutNode,
    DeleteNode,
    PutEdge,
    DeleteEdge,
    PutReview,
}

/// One segment record, borrowed, for writing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SegmentRef<'a> {
    /// Insert or replace a node.
    PutNode(&'a Node),
    /// Delete a node by id.
    DeleteNode(&'a str),
    /// Insert or replace an edge.
    PutEdge(&'a Edge),
    /// Delete an edge by key.
    DeleteEdge(&'a EdgeKey),
    /// Insert or replace a review.
    PutReview(&'a Review),
}

#[derive(Serialize)]
struct SegmentLineOut<'a> {
    op: Op,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a EdgeKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<&'a Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    edge: Option<&'a Edge>,
    #[serde(skip_serializing_if = "Option::is_none")]
    review: Option<&'a Review>,
}

impl Serialize for SegmentRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = SegmentLineOut {
            op: Op::PutNode,
            id: None,
            key: None,
            node: None,
            edge: None,
            review: None,
        };
        match *self {
            SegmentRef::PutNode(n) => out.node = Some(n),
            SegmentRef::DeleteNode(id) => {
                out.op = Op::DeleteNode;
                out.id = Some(id);
            }
            SegmentRef::PutEdge(e) => {
                out.op = Op::PutEdge;
                out.edge = Some(e);
            }
            SegmentRef::DeleteEdge(k) => {
                out.op = Op::DeleteEdge;
                out.key = Some(k);
            }
            SegmentRef::PutReview(r) => {
                out.op = Op::PutReview;
                out.review = Some(r);
            }
        }
        out.serialize(s)
    }
}

#[derive(Deserialize)]
struct SegmentLineIn {
    op: Op,
    id: Option<String>,
    key: Option<EdgeKey>,
    node: Option<Node>,
    edge: Option<Edge>,
    review: Option<Review>,
}

/// One segment record, owned, as read back.
#[derive(Debug, Clone)]
pub(crate) enum SegmentRecord {
    /// Insert or replace a node.
    PutNode(Node),
    /// Delete a node by id.
    DeleteNode(String),
    /// Insert or replace an edge.
    PutEdge(Edge),
    /// Delete an edge by key.
    DeleteEdge(EdgeKey),
    /// Insert or replace a review.
    PutReview(Review),
}

impl<'de> Deserialize<'de> for SegmentRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let l = SegmentLineIn::deserialize(d)?;
        let op = l.op;
        let missing = |f: &str| serde::de::Error::custom(format!("{op:?} record lacks {f}"));
        Ok(match op {
            Op::PutNode => SegmentRecord::PutNode(l.node.ok_or_else(|| missing("node"))?),
            Op::DeleteNode => SegmentRecord::DeleteNode(l.id.ok_or_else(|| missing("id"))?),
            Op::PutEdge => SegmentRecord::PutEdge(l.edge.ok_or_else(|| missing("edge"))?),
            Op::DeleteEdge => SegmentRecord::DeleteEdge(l.key.ok_or_else(|| missing("key"))?),
            Op::PutReview => SegmentRecord::PutReview(l.review.ok_or_else(|| missing("review"))?),
        })
    }
}

/// What one segment line names, read without building its record (a lazy open
/// scans the segments its locator does not cover this way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineKey {
    /// A node put (`true`) or delete (`false`).
    Node(String, bool),
    /// An edge put (`true`) or deleted (`false`).
    Edge(EdgeKey, bool),
    /// A review.
    Review,
}

#[derive(Deserialize)]
struct IdHead {
    id: String,
}

#[derive(Deserialize)]
struct EndsHead {
    from: String,
    to: String,
    #[serde(rename = "type")]
    edge_type: String,
}

impl EndsHead {
    fn key(self) -> EdgeKey {
        EdgeKey {
            from: self.from,
            to: self.to,
            edge_type: self.edge_type,
        }
    }
}

#[derive(Deserialize)]
struct LineHead {
    op: Op,
    id: Option<String>,
    key: Option<EndsHead>,
    node: Option<IdHead>,
    edge: Option<EndsHead>,
}

/// The key of a segment line (without its newline; the checksum is not checked).
pub(crate) fn line_key(line: &[u8]) -> Result<LineKey, String> {
    let h: LineHead = serde_json::from_slice(line).map_err(|e| format!("does not parse: {e}"))?;
    let missing = |f: &str| format!("{:?} record lacks {f}", h.op);
    Ok(match h.op {
        Op::PutNode => LineKey::Node(h.node.ok_or_else(|| missing("node"))?.id, true),
        Op::DeleteNode => LineKey::Node(h.id.clone().ok_or_else(|| missing("id"))?, false),
        Op::PutEdge => LineKey::Edge(h.edge.ok_or_else(|| missing("edge"))?.key(), true),
        Op::DeleteEdge => LineKey::Edge(h.key.ok_or_else(|| missing("key"))?.key(), false),
        Op::PutReview => LineKey::Review,
    })
}

/// Byte offset and length (without the newline) of every complete line.
pub(crate) fn line_spans(bytes: &[u8]) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            out.push((start as u64, (i - start) as u32));
            start = i + 1;
        }
    }
    out
}
