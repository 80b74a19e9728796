//! Store errors, split into the caller's fault and ours.

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer holds the lock.
    #[error("store {0} is locked by another writer")]
    Locked(String),
    /// No store there.
    #[error("no store at {0}; run `phase-memory init` first")]
    NotFound(String),
    /// A store already exists there.
    #[error("a store already exists at {0}")]
    Exists(String),
    /// A record or file fails its checksum or does not parse.
    #[error("corrupt record at {location}: {detail}")]
    Corrupt {
        /// Where.
        location: String,
        /// What.
        detail: String,
    },
    /// The store's format is older than this build.
    #[error("store schema version {found} is older than {want}; run `phase-memory migrate`")]
    MigrationNeeded {
        /// Version found.
        found: u32,
        /// Version this build writes.
        want: u32,
    },
    /// The store's format is newer than this build.
    #[error("store schema version {found} is newer than this build ({want}); upgrade phase-memory")]
    TooNew {
        /// Version found.
        found: u32,
        /// Version this build understands.
        want: u32,
    },
    /// The change set breaks a store invariant (e.g. a seq gap).
    #[error("invalid change: {0}")]
    InvalidChange(String),
    /// An earlier I/O error poisoned this handle.
    #[error("store handle refused the write after an earlier I/O error; reopen the store")]
    Poisoned,
    /// The adapter lacks a capability.
    #[error("adapter {adapter} lacks capability {capability}")]
    MissingCapability {
        /// Adapter name.
        adapter: String,
        /// Capability name.
        capability: String,
    },
    /// I/O failure, with context.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Backend failure (SQL and the like), with context.
    #[error("{0}")]
    Backend(String),
}

impl StoreError {
    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }

    /// The diagnostic code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Locked(_) => "store.locked",
            StoreError::NotFound(_) => "store.not_found",
            StoreError::Exists(_) => "store.exists",
            StoreError::Corrupt { .. } => "store.corrupt_record",
            StoreError::MigrationNeeded { .. } | StoreError::TooNew { .. } => {
                "store.migration_needed"
            }
            StoreError::InvalidChange(_) => "request.invalid",
            StoreError::MissingCapability { .. } => "adapter.missing_capability",
            StoreError::Poisoned | StoreError::Io { .. } | StoreError::Backend(_) => "store.io",
        }
    }
}
