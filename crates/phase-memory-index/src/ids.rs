//! The node ids of a segment's documents, read once per segment from its id
//! column (a fast field) and kept in memory: a search looks its hits' ids up
//! here instead of decoding a stored document, or a block of the id
//! dictionary, per hit. A segment never changes once written (a deletion only
//! marks documents), so its table stays right for as long as the segment
//! exists; tables of segments the current searcher no longer shows are dropped.
//! A segment's first search looks its hits up in the dictionary instead (a
//! process answering one search, such as one CLI command, never reads a
//! whole table); the table is read at its second.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::{DocId, Searcher, SegmentReader};

use crate::ID_FIELD;

/// No id (a document without one; never written by this crate).
const NONE: u32 = u32::MAX;

/// The ids of one segment's documents.
#[derive(Debug, Default)]
pub(crate) struct SegmentIds {
    /// The segment's distinct ids, in term order, one after another (checked
    /// to be UTF-8 once, when the table is read; an id that is not is left
    /// out: empty).
    text: String,
    /// Where each id (by term ordinal) ends in `text`.
    ends: Vec<usize>,
    /// The term ordinal of each document's id ([`NONE`]: none).
    by_doc: Vec<u32>,
}

impl SegmentIds {
    /// Reads the table of `reader`'s segment: one pass over its id dictionary
    /// and one over its id column.
    fn read(reader: &SegmentReader) -> tantivy::Result<SegmentIds> {
        let Some(column) = reader.fast_fields().str(ID_FIELD)? else {
            return Ok(SegmentIds::default());
        };
        let mut table = SegmentIds {
            text: String::new(),
            ends: Vec::with_capacity(column.num_terms()),
            by_doc: Vec::with_capacity(reader.max_doc() as usize),
        };
        let mut terms = column.dictionary().stream()?;
        while terms.advance() {
            if let Ok(id) = std::str::from_utf8(terms.key()) {
                table.text.push_str(id);
            }
            table.ends.push(table.text.len());
        }
        for doc in 0..reader.max_doc() {
            let ord = column
                .term_ords(doc)
                .next()
                .and_then(|o| u32::try_from(o).ok())
                .unwrap_or(NONE);
            table.by_doc.push(ord);
        }
        Ok(table)
    }

    /// The id of document `doc`.
    pub(crate) fn id(&self, doc: DocId) -> Option<&str> {
        let ord = *self.by_doc.get(doc as usize)?;
        if ord == NONE {
            return None;
        }
        let ord = ord as usize;
        let end = *self.ends.get(ord)?;
        let start = if ord == 0 {
            0
        } else {
            *self.ends.get(ord - 1)?
        };
        // Slicing checks only that both ends are character boundaries.
        self.text.get(start..end).filter(|id| !id.is_empty())
    }
}

/// The id tables of the segments searched lately (shared by the handles of
/// [`crate::FullTextIndex::share`]).
#[derive(Debug, Default)]
pub(crate) struct IdTables {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    read: HashMap<SegmentId, Arc<SegmentIds>>,
    /// Segments searched once (their table is read at the next search).
    seen: HashSet<SegmentId>,
}

impl IdTables {
    /// The tables of `searcher`'s segments whose ordinals `wanted` holds (by
    /// segment ordinal; `None` for the others, and for a segment searched for
    /// the first time), read now where missing.
    pub(crate) fn of(
        &self,
        searcher: &Searcher,
        wanted: &[bool],
    ) -> tantivy::Result<Vec<Option<Arc<SegmentIds>>>> {
        let readers = searcher.segment_readers();
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(readers.len());
        let mut added = false;
        for (ord, reader) in readers.iter().enumerate() {
            if !wanted.get(ord).copied().unwrap_or(false) {
                out.push(None);
                continue;
            }
            let id = reader.segment_id();
            if let Some(t) = tables.read.get(&id) {
                out.push(Some(t.clone()));
            } else if tables.seen.insert(id) {
                added = true;
                out.push(None);
            } else {
                let t = Arc::new(SegmentIds::read(reader)?);
                tables.read.insert(id, t.clone());
                added = true;
                out.push(Some(t));
            }
        }
        if added {
            // Keep only the segments of this searcher (a segment merged away
            // is never searched again).
            let current = |id: &SegmentId| readers.iter().any(|r| r.segment_id() == *id);
            tables.read.retain(|id, _| current(id));
            tables.seen.retain(current);
        }
        Ok(out)
    }
}
