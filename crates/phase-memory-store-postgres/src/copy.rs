//! The rows of a bulk `COPY`, in PostgreSQL's binary copy format, encoded by
//! this process ahead of the server.
//!
//! Rows are encoded step by step ([`COPY_STEP`] rows), each step in parallel
//! straight into byte buffers, on a thread of its own: while the server takes
//! in one step, the next is being encoded (at most [`STEPS_AHEAD`] steps wait,
//! so memory stays bounded). The connection only copies finished bytes to the
//! socket — no per-row round into the driver's async writer.
//!
//! The format (PostgreSQL's documentation, "COPY", binary format): a signature,
//! flags and header extension length, then per row the field count (16 bits)
//! and per field its length (32 bits, big-endian) and bytes — UTF-8 for `text`,
//! the raw bytes for `bytea`, 8 big-endian bytes for `bigint` — and a trailer.

use std::io::Write;

use phase_memory_store::{StoreError, StoreResult};
use rayon::prelude::*;

/// Rows encoded per step of a bulk `COPY`.
pub(crate) const COPY_STEP: usize = 32_768;

/// Steps encoded ahead of the one being sent.
const STEPS_AHEAD: usize = 1;

/// Rows encoded into one buffer by one task of a step.
const CHUNK_ROWS: usize = 2_048;

/// The header of a binary copy: signature, flags (none), extension length (0).
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The trailer: a field count of -1.
const TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// One field of a row.
pub(crate) enum Field<'a> {
    /// A `text` value.
    Text(&'a str),
    /// A `bytea` value.
    Bytes(&'a [u8]),
    /// A `bigint` value.
    Int8(i64),
}

/// Appends one row (its fields in column order) to `out`.
pub(crate) fn encode_row(fields: &[Field<'_>], out: &mut Vec<u8>) -> StoreResult<()> {
    let count = i16::try_from(fields.len())
        .map_err(|_| StoreError::InvalidChange("a row has too many columns".into()))?;
    out.extend_from_slice(&count.to_be_bytes());
    for f in fields {
        let bytes: &[u8] = match f {
            Field::Text(s) => s.as_bytes(),
            Field::Bytes(b) => b,
            Field::Int8(v) => {
                out.extend_from_slice(&8i32.to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
                continue;
            }
        };
        let len = i32::try_from(bytes.len()).map_err(|_| {
            StoreError::InvalidChange(format!(
                "a value of {} bytes is larger than PostgreSQL takes",
                bytes.len()
            ))
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes);
    }
    Ok(())
}

/// The buffers of rows `start..end`, encoded in parallel (in row order).
fn encode_step(
    start: usize,
    end: usize,
    encode: &(impl Fn(usize, &mut Vec<u8>) -> StoreResult<()> + Sync),
) -> StoreResult<Vec<Vec<u8>>> {
    let chunks: Vec<usize> = (start..end).step_by(CHUNK_ROWS).collect();
    chunks
        .into_par_iter()
        .map(|a| {
            let mut buf = Vec::new();
            for i in a..(a + CHUNK_ROWS).min(end) {
                encode(i, &mut buf)?;
            }
            Ok(buf)
        })
        .collect()
}

/// Sends `count` rows, row `i` appended to a buffer by `encode(i, buffer)`, in
/// the binary copy format to `sink` (a `COPY … FROM STDIN (FORMAT binary)`),
/// header and trailer included. `what` names the table for errors.
pub(crate) fn send_rows(
    sink: &mut impl Write,
    count: usize,
    encode: &(impl Fn(usize, &mut Vec<u8>) -> StoreResult<()> + Sync),
    what: &str,
) -> StoreResult<()> {
    let io =
        |e: std::io::Error| StoreError::Backend(format!("postgres: copying rows of {what}: {e}"));
    sink.write_all(HEADER).map_err(io)?;
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<StoreResult<Vec<Vec<u8>>>>(STEPS_AHEAD);
        s.spawn(move || {
            for start in (0..count).step_by(COPY_STEP) {
                let step = encode_step(start, (start + COPY_STEP).min(count), encode);
                let failed = step.is_err();
                // The receiver is gone when sending failed: stop encoding.
                if tx.send(step).is_err() || failed {
                    break;
                }
            }
        });
        for step in rx {
            for buf in step? {
                sink.write_all(&buf).map_err(io)?;
            }
        }
        Ok::<(), StoreError>(())
    })?;
    sink.write_all(&TRAILER).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_encoded_in_the_binary_copy_format() {
        let mut out = Vec::new();
        encode_row(
            &[Field::Text("ab"), Field::Bytes(&[1, 2, 3]), Field::Int8(-2)],
            &mut out,
        )
        .expect("encode");
        let want: Vec<u8> = [
            &3i16.to_be_bytes()[..],
            &2i32.to_be_bytes(),
            b"ab",
            &3i32.to_be_bytes(),
            &[1, 2, 3],
            &8i32.to_be_bytes(),
            &(-2i64).to_be_bytes(),
        ]
        .concat();
        assert_eq!(out, want);
    }

    #[test]
    fn every_row_is_sent_once_in_order_between_header_and_trailer() {
        let count = COPY_STEP * 2 + 5;
        let mut sent = Vec::new();
        send_rows(
            &mut sent,
            count,
            &|i, out: &mut Vec<u8>| encode_row(&[Field::Int8(i as i64)], out),
            "numbers",
        )
        .expect("send");
        assert!(sent.starts_with(HEADER));
        assert!(sent.ends_with(&TRAILER));
        let body = &sent[HEADER.len()..sent.len() - TRAILER.len()];
        let row = 2 + 4 + 8;
        assert_eq!(body.len(), count * row);
        for (i, r) in body.chunks(row).enumerate() {
            assert_eq!(r[6..], (i as i64).to_be_bytes(), "row {i}");
        }
    }

    #[test]
    fn an_encoding_error_stops_the_copy_with_that_error() {
        let mut sent = Vec::new();
        let err = send_rows(
            &mut sent,
            COPY_STEP * 3,
            &|i, out: &mut Vec<u8>| {
                if i == COPY_STEP + 7 {
                    return Err(StoreError::InvalidChange("row refused".into()));
                }
                encode_row(&[Field::Int8(i as i64)], out)
            },
            "numbers",
        )
        .expect_err("refused");
        assert!(err.to_string().contains("row refused"), "{err}");
        assert!(!sent.ends_with(&TRAILER), "no trailer after a failure");
    }
}
