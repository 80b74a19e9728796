//! What the SQL adapters (and any adapter keeping a key/value meta table) share:
//! the meta keys, JSON-encoded meta values with a corrupt-value diagnostic, the
//! [`StoreMeta`] and audit checkpoint rows built on them, and the small checks every
//! adapter's `Store` implementation repeats (schema current, handle writable, the
//! planned migrations reported by `meta`).

use phase_memory_model::AuditCheckpoint;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{SCHEMA_VERSION, StoreError, StoreMeta, StoreResult};

/// Meta keys.
pub mod key {
    /// Always `phase-memory-store`.
    pub const FORMAT: &str = "format";
    /// Schema version of the stored data.
    pub const SCHEMA_VERSION: &str = "schema_version";
    /// Adapter name.
    pub const ADAPTER: &str = "adapter";
    /// Migrations applied, in order.
    pub const APPLIED: &str = "applied_migrations";
    /// Migrations planned.
    pub const PLANNED: &str = "planned_migrations";
    /// When the store was created.
    pub const CREATED_AT: &str = "created_at";
    /// The commit counter (adapters without a chain head row).
    pub const GENERATION: &str = "generation";
    /// The generation of the last commit that changed data.
    pub const DATA_GENERATION: &str = "data_generation";
    /// The profile source.
    pub const PROFILE: &str = "profile";
    /// The audit checkpoint.
    pub const CHECKPOINT: &str = "audit_checkpoint";
}

/// A key/value meta table of one store (values are JSON text). An adapter
/// implements the two raw accessors; the typed reads and writes come with them.
pub trait MetaTable {
    /// The raw value of `key`, if any.
    fn get_raw(&mut self, key: &str) -> StoreResult<Option<String>>;
    /// Writes (inserts or replaces) the raw value of `key`.
    fn put_raw(&mut self, key: &str, value: &str) -> StoreResult<()>;

    /// One meta value; a value that does not parse is a corrupt record.
    fn get<T: DeserializeOwned>(&mut self, k: &str) -> StoreResult<Option<T>> {
        decode_value(k, self.get_raw(k)?)
    }

    /// A meta value that must be there.
    fn require<T: DeserializeOwned>(&mut self, k: &str) -> StoreResult<T> {
        require_value(k, self.get_raw(k)?)
    }

    /// Writes one meta value as JSON.
    fn put<T: Serialize>(&mut self, k: &str, v: &T) -> StoreResult<()> {
        let raw = serde_json::to_string(v)
            .map_err(|e| StoreError::InvalidChange(format!("meta {k} cannot be encoded: {e}")))?;
        self.put_raw(k, &raw)
    }

    /// The store metadata.
    fn read_meta(&mut self) -> StoreResult<StoreMeta> {
        Ok(StoreMeta {
            format: self.require(key::FORMAT)?,
            schema_version: self.require(key::SCHEMA_VERSION)?,
            adapter: self.require(key::ADAPTER)?,
            applied_migrations: self.get(key::APPLIED)?.unwrap_or_default(),
            planned_migrations: self.get(key::PLANNED)?.unwrap_or_default(),
            created_at: self.require(key::CREATED_AT)?,
        })
    }

    /// Writes the store metadata.
    fn write_meta(&mut self, m: &StoreMeta) -> StoreResult<()> {
        self.put(key::FORMAT, &m.format)?;
        self.put(key::SCHEMA_VERSION, &m.schema_version)?;
        self.put(key::ADAPTER, &m.adapter)?;
        self.put(key::APPLIED, &m.applied_migrations)?;
        self.put(key::PLANNED, &m.planned_migrations)?;
        self.put(key::CREATED_AT, &m.created_at)
    }

    /// The audit checkpoint (the default when nothing was pruned).
    fn read_checkpoint(&mut self) -> StoreResult<AuditCheckpoint> {
        Ok(self.get(key::CHECKPOINT)?.unwrap_or_default())
    }
}

/// The raw JSON of meta key `k` decoded; a value that does not parse is a
/// corrupt record.
pub fn decode_value<T: DeserializeOwned>(k: &str, raw: Option<String>) -> StoreResult<Option<T>> {
    match raw {
        None => Ok(None),
        Some(raw) => serde_json::from_str(&raw)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                location: format!("meta/{k}"),
                detail: format!("value does not parse: {e}"),
            }),
    }
}

/// Like [`decode_value`], for a key that must be there.
pub fn require_value<T: DeserializeOwned>(k: &str, raw: Option<String>) -> StoreResult<T> {
    decode_value(k, raw)?.ok_or_else(|| StoreError::Corrupt {
        location: format!("meta/{k}"),
        detail: "missing".into(),
    })
}

/// A store keeping its metadata, profile and schema version in a [`MetaTable`],
/// read in the handle's own snapshot. The `Store` methods that only read them
/// (`manifest`, `meta`, `profile_source`, `pending_migrations`) then have one
/// body for every such adapter: [`meta_store_methods!`](crate::meta_store_methods).
pub trait MetaStore {
    /// The raw JSON of one meta key, if any.
    fn meta_value(&self, key: &str) -> StoreResult<Option<String>>;
    /// The store metadata, read at once (one snapshot).
    fn meta_record(&self) -> StoreResult<StoreMeta>;
    /// The migrations a store at schema `version` still needs, in order.
    fn migrations_after(&self, version: u32) -> Vec<String>;

    /// The stored profile source.
    fn stored_profile(&self) -> StoreResult<Option<String>> {
        decode_value(key::PROFILE, self.meta_value(key::PROFILE)?)
    }

    /// The migrations still pending.
    fn pending(&self) -> StoreResult<Vec<String>> {
        let version: u32 =
            require_value(key::SCHEMA_VERSION, self.meta_value(key::SCHEMA_VERSION)?)?;
        Ok(self.migrations_after(version))
    }

    /// `meta` as `Store::meta` reports it (see [`with_pending`]).
    fn reported_meta(&self) -> StoreResult<StoreMeta> {
        Ok(with_pending(self.meta_record()?, self.pending()?))
    }
}

/// The `Store` methods of a [`MetaStore`](crate::meta::MetaStore) whose type also
/// has an inherent `adapter_manifest()`; used inside `impl Store for …`.
#[macro_export]
macro_rules! meta_store_methods {
    () => {
        fn manifest(&self) -> $crate::AdapterManifest {
            Self::adapter_manifest()
        }

        fn meta(&self) -> $crate::StoreResult<$crate::StoreMeta> {
            $crate::meta::MetaStore::reported_meta(self)
        }

        fn profile_source(&self) -> $crate::StoreResult<::std::option::Option<String>> {
            $crate::meta::MetaStore::stored_profile(self)
        }

        fn pending_migrations(&self) -> $crate::StoreResult<::std::vec::Vec<String>> {
            $crate::meta::MetaStore::pending(self)
        }
    };
}

/// `meta` as `Store::meta` reports it: the migrations still pending replace the
/// planned ones recorded at creation.
pub fn with_pending(mut meta: StoreMeta, pending: Vec<String>) -> StoreMeta {
    if !pending.is_empty() {
        meta.planned_migrations = pending;
    }
    meta
}

/// Refuses writes to a store whose schema is older than this build writes.
pub fn require_current_schema(found: u32) -> StoreResult<()> {
    if found < SCHEMA_VERSION {
        return Err(StoreError::MigrationNeeded {
            found,
            want: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// The refusal of a write through a read-only handle on `location`.
pub fn read_only(location: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidChange(format!("store {location} is opened read-only"))
}

/// An adapter whose whole store lives in its folder ([`crate::AdapterKind`] through
/// [`folder_adapter!`](crate::folder_adapter)).
pub trait FolderStore: crate::Store + Sized + 'static {
    /// Whether `dir` holds a store of this adapter.
    fn is_store(dir: &std::path::Path) -> bool;
    /// Creates a store in `dir`.
    fn init(dir: &std::path::Path, meta: StoreMeta) -> StoreResult<Self>;
    /// Opens the store in `dir`.
    fn open(dir: &std::path::Path, mode: crate::OpenMode) -> StoreResult<Self>;
}

/// Declares the unit struct through which "open any adapter" sees a
/// [`FolderStore`](crate::meta::FolderStore): `folder_adapter!(SqliteAdapter, SqliteStore, "sqlite");`.
#[macro_export]
macro_rules! folder_adapter {
    ($(#[$attr:meta])* $adapter:ident, $store:ty, $name:literal) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $adapter;

        impl $crate::AdapterKind for $adapter {
            fn name(&self) -> &'static str {
                $name
            }
            fn detect(&self, dir: &::std::path::Path) -> bool {
                <$store as $crate::meta::FolderStore>::is_store(dir)
            }
            fn init(
                &self,
                dir: &::std::path::Path,
                _config: ::std::option::Option<&$crate::StoreConfig>,
                meta: $crate::StoreMeta,
            ) -> $crate::StoreResult<::std::boxed::Box<dyn $crate::Store>> {
                Ok(::std::boxed::Box::new(
                    <$store as $crate::meta::FolderStore>::init(dir, meta)?,
                ))
            }
            fn open(
                &self,
                dir: &::std::path::Path,
                _config: ::std::option::Option<&$crate::StoreConfig>,
                mode: $crate::OpenMode,
            ) -> $crate::StoreResult<::std::boxed::Box<dyn $crate::Store>> {
                Ok(::std::boxed::Box::new(
                    <$store as $crate::meta::FolderStore>::open(dir, mode)?,
                ))
            }
        }
    };
}
