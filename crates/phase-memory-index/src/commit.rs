//! Committing: to the documents kept in memory (see `overlay.rs`) or to the
//! folder, and the handles that share them.

use std::sync::Arc;

use tantivy::Term;

use crate::overlay::Doc;
use crate::{
    ANALYZER_VERSION, BULK_DOCUMENTS, FullTextIndex, IndexError, Shared, analysis_tag,
    generation_of, read_generation,
};

impl FullTextIndex {
    /// Another handle on the same index, sharing this one's reader, generation
    /// and documents kept in memory (not its writer or uncommitted writes).
    pub fn share(&self) -> FullTextIndex {
        FullTextIndex {
            index: self.index.clone(),
            writer: None,
            reader: self.reader.clone(),
            fields: self.fields,
            location: self.location.clone(),
            options: self.options,
            shared: self.shared.clone(),
            dir: self.dir.clone(),
            staged: Vec::new(),
            uncommitted: false,
            superseded: false,
            writer_bulk: false,
            ids: self.ids.clone(),
        }
    }

    /// Whether `other` shares this handle's state ([`FullTextIndex::share`]).
    pub fn shares_with(&self, other: &FullTextIndex) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The folder this handle reads (`memory` for an index in RAM).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Shows what other handles committed since this one last looked: reloads the
    /// reader and the generation tag. When the folder's last commit is another
    /// than the one shown, its generation is taken (documents kept in memory stay
    /// when that generation is older than theirs: they shadow the folder's until
    /// the user catches the index up from that generation).
    pub fn reload(&mut self) -> Result<(), IndexError> {
        let shared = self.shared.clone();
        let mut st = Self::write_shared(&shared);
        let metas = self.index.load_metas().map_err(self.err("reload"))?;
        if metas.opstamp == st.opstamp {
            return Ok(());
        }
        self.reader.reload().map_err(self.err("reload"))?;
        let disk = generation_of(&metas.payload, self.options.analysis);
        st.opstamp = metas.opstamp;
        st.written = disk;
        if st.overlay.is_empty() || disk.is_none() || disk >= st.generation {
            st.overlay.clear();
        } else {
            st.overlay.reshadow(&self.reader.searcher(), self.fields.id);
        }
        st.generation = disk;
        Ok(())
    }

    /// Makes pending writes visible, recording the store generation the index now
    /// reflects; durable too unless [`IndexOptions::pending_docs`] lets the
    /// documents stay in memory (see [`FullTextIndex::flush`]).
    pub fn commit(&mut self, generation: u64) -> Result<(), IndexError> {
        let lone = Arc::strong_count(&self.shared) == 1;
        let shared = self.shared.clone();
        let mut st = Self::write_shared(&shared);
        st.generation = Some(generation);
        if self.uncommitted || self.options.pending_docs == 0 || lone {
            // A lone handle (one process's only user, such as one CLI command)
            // writes at once: other processes then never wait to catch up with
            // what it kept.
            return self.commit_locked(&mut st, true);
        }
        let searcher = self.reader.searcher();
        let ids: Vec<String> = self.staged.iter().map(|(id, _)| id.clone()).collect();
        for (id, doc) in self.staged.drain(..) {
            st.overlay.put(&id, doc, &searcher, self.fields.id);
        }
        if let Some(dir) = self.dir.clone() {
            let noted = (st.noting || crate::journal::restart(&dir, st.written).is_ok())
                && crate::journal::note(&dir, generation, ids).is_ok();
            st.noting = noted;
            if !noted {
                // Without the note, write now: a process that ends without a
                // flush would leave the folder behind with nothing to catch up by.
                return self.commit_locked(&mut st, false);
            }
        }
        let full = st.overlay.len() >= self.options.pending_docs
            || st
                .overlay
                .since
                .is_some_and(|t| t.elapsed() >= self.options.pending_age);
        if full {
            self.commit_locked(&mut st, false)?;
        }
        Ok(())
    }

    /// Writes the documents kept in memory (see [`IndexOptions::pending_docs`])
    /// to the folder, under the generation they reflect. Nothing to do when
    /// there are none and the folder records that generation.
    pub fn flush(&mut self) -> Result<(), IndexError> {
        let shared = self.shared.clone();
        let mut st = Self::write_shared(&shared);
        if st.overlay.is_empty() && st.written == st.generation {
            return Ok(());
        }
        self.commit_locked(&mut st, false)
    }

    /// Documents kept in memory, not yet written to the folder.
    pub fn pending(&self) -> usize {
        self.read_shared().overlay.len()
    }

    /// Moves staged writes to the tantivy writer.
    pub(crate) fn write_staged(&mut self) -> Result<(), IndexError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        self.writer_for(false)?;
        let staged = std::mem::take(&mut self.staged);
        let Some(writer) = self.writer.as_ref() else {
            return Ok(());
        };
        self.uncommitted = true;
        for (id, doc) in staged {
            writer.delete_term(Term::from_field_text(self.fields.id, &id));
            if let Some(d) = doc {
                writer
                    .add_document(d.document)
                    .map_err(self.err("upsert"))?;
            }
        }
        Ok(())
    }

    pub(crate) fn commit_with(&mut self, generation: Option<u64>) -> Result<(), IndexError> {
        let shared = self.shared.clone();
        let mut st = Self::write_shared(&shared);
        if generation.is_some() {
            st.generation = generation;
        }
        self.commit_locked(&mut st, true)
    }

    /// Commits the tantivy writer under the shared generation: first the
    /// overlay's documents (unless a rebuild replaced them), which are older
    /// than anything else pending, then (`staged`) this handle's staged writes.
    /// A bulk write or a rebuild in the writer comes after an overlay that was
    /// already flushed (see [`FullTextIndex::upsert`]) or is dropped.
    fn commit_locked(&mut self, st: &mut Shared, staged: bool) -> Result<(), IndexError> {
        let analysis = analysis_tag(self.options.analysis);
        let payload = st.generation.map(|g| {
            serde_json::json!({ "generation": g, "analyzer": ANALYZER_VERSION, "analysis": analysis })
                .to_string()
        });
        let mut writes: Vec<(String, Option<Doc>)> = if self.superseded {
            Vec::new()
        } else {
            std::mem::take(&mut st.overlay.docs).into_iter().collect()
        };
        if staged {
            writes.append(&mut self.staged);
        }
        self.writer_for(writes.len() >= BULK_DOCUMENTS)?;
        let writer = self.writer.as_mut().ok_or_else(|| IndexError::WriterLost {
            location: self.location.clone(),
        })?;
        let id_field = self.fields.id;
        let res = (|| {
            for (id, doc) in writes {
                writer.delete_term(Term::from_field_text(id_field, &id));
                if let Some(d) = doc {
                    writer.add_document(d.document)?;
                }
            }
            writer.prepare_commit().and_then(|mut prepared| {
                if let Some(p) = &payload {
                    prepared.set_payload(p);
                }
                prepared.commit()
            })
        })();
        // On failure the overlay is lost too: the writer is dropped and the
        // index reports the folder's generation, so its user catches it up.
        let opstamp = match res {
            Ok(o) => o,
            Err(source) => {
                self.writer = None;
                self.uncommitted = false;
                self.superseded = false;
                st.overlay.clear();
                st.opstamp = u64::MAX;
                st.generation = read_generation(&self.index, self.options.analysis)
                    .ok()
                    .flatten();
                return Err(IndexError::Tantivy {
                    action: "commit",
                    location: self.location.clone(),
                    source,
                });
            }
        };
        st.overlay.clear();
        st.opstamp = opstamp;
        st.written = st.generation;
        if let Some(dir) = &self.dir
            && self.options.pending_docs > 0
        {
            // Best effort: a journal that does not start at the folder's
            // generation is not used (the user rebuilds instead).
            st.noting = crate::journal::restart(dir, st.written).is_ok();
        }
        self.uncommitted = false;
        self.superseded = false;
        self.reader.reload().map_err(self.err("reload"))
    }
}
