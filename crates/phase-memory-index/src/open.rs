//! Opening the index: a folder (synced or, see `relaxed.rs`, not) or RAM; an
//! index of another schema, or an unsynced one left unreadable, is cleared.

use std::path::Path;
use std::sync::{Arc, RwLock};

use tantivy::{Index, ReloadPolicy};

use crate::{
    ANALYZER, EXACT_ANALYZER, Fields, FullTextIndex, IndexError, IndexOptions, Shared, analyzer,
    clear_dir, exact_analyzer, generation_of, relaxed, schema,
};

impl FullTextIndex {
    /// Opens the index in `dir` (created with its parents if missing), or a fresh
    /// in-RAM index when `dir` is `None`, with the default [`IndexOptions`].
    pub fn open_or_create(dir: Option<&Path>) -> Result<FullTextIndex, IndexError> {
        Self::open_or_create_with(dir, IndexOptions::default())
    }

    /// Like [`FullTextIndex::open_or_create`] with explicit writer settings.
    pub fn open_or_create_with(
        dir: Option<&Path>,
        options: IndexOptions,
    ) -> Result<FullTextIndex, IndexError> {
        let location = match dir {
            Some(d) => d.display().to_string(),
            None => "memory".to_string(),
        };
        match dir {
            None => Self::open_index(Index::create_in_ram(schema()), options, &location, None),
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|source| IndexError::CreateDir {
                    path: d.to_path_buf(),
                    source,
                })?;
                match Self::open_dir(d, options, &location) {
                    // Written with another schema (an older analyzer version), or,
                    // for an index written without syncing, left unreadable by an
                    // operating-system crash: the index is derived data, so clear
                    // the folder and start again; the runtime rebuilds it because
                    // it reports no generation.
                    Err(IndexError::Open {
                        source: tantivy::TantivyError::SchemaError(_),
                        ..
                    }) => Self::reopen_cleared(d, options, &location),
                    Err(IndexError::Open { .. }) if !options.durable => {
                        Self::reopen_cleared(d, options, &location)
                    }
                    other => other,
                }
            }
        }
    }

    /// Clears the folder `d` and opens a new index there.
    fn reopen_cleared(
        d: &Path,
        options: IndexOptions,
        location: &str,
    ) -> Result<FullTextIndex, IndexError> {
        clear_dir(d).map_err(|source| IndexError::CreateDir {
            path: d.to_path_buf(),
            source,
        })?;
        Self::open_dir(d, options, location)
    }

    /// Opens (or creates) the index in folder `d`, with its reader.
    fn open_dir(
        d: &Path,
        options: IndexOptions,
        location: &str,
    ) -> Result<FullTextIndex, IndexError> {
        let open_err = open_error(location);
        let index = if options.durable {
            let mmap =
                tantivy::directory::MmapDirectory::open(d).map_err(|e| open_err(e.into()))?;
            Index::open_or_create(mmap, schema())
        } else {
            let relaxed = relaxed::RelaxedDirectory::open(d).map_err(open_err)?;
            Index::open_or_create(relaxed, schema())
        }
        .map_err(open_err)?;
        Self::open_index(index, options, location, Some(d))
    }

    /// The handle of an opened index: analyzers registered, fields found, a
    /// reader, the generation tag.
    fn open_index(
        index: Index,
        options: IndexOptions,
        location: &str,
        dir: Option<&Path>,
    ) -> Result<FullTextIndex, IndexError> {
        let open_err = open_error(location);
        index
            .tokenizers()
            .register(ANALYZER, analyzer(options.analysis));
        index
            .tokenizers()
            .register(EXACT_ANALYZER, exact_analyzer());
        index
            .tokenizers()
            .register(crate::analysis::TERMS, crate::analysis::terms_tokenizer());
        let s = index.schema();
        let field = |name: &'static str| {
            s.get_field(name).map_err(|_| IndexError::Schema {
                location: location.to_string(),
                field: name,
            })
        };
        let fields = Fields {
            id: field(crate::ID_FIELD)?,
            title: field("title")?,
            body: field("body")?,
            exact: field("exact")?,
            scope: field("scope")?,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(open_err)?;
        let metas = index.load_metas().map_err(open_err)?;
        let shared = Shared {
            generation: generation_of(&metas.payload, options.analysis),
            written: generation_of(&metas.payload, options.analysis),
            opstamp: metas.opstamp,
            noting: false,
            overlay: Default::default(),
        };
        Ok(FullTextIndex {
            index,
            writer: None,
            uncommitted: false,
            superseded: false,
            writer_bulk: false,
            reader,
            fields,
            location: location.to_string(),
            options,
            shared: Arc::new(RwLock::new(shared)),
            dir: dir.map(Path::to_path_buf),
            staged: Vec::new(),
            ids: Default::default(),
        })
    }
}

/// The error of opening the index at `location`.
fn open_error(location: &str) -> impl Fn(tantivy::TantivyError) -> IndexError + Copy + '_ {
    move |source| IndexError::Open {
        location: location.to_string(),
        source,
    }
}
