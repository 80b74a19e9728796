//! The store folder of a PostgreSQL store keeps only what is local: `store.json`
//! naming the adapter and (optionally) the database URL, the service's token file
//! and caches. Nothing in it is locked, so any number of instances may share it.

use std::io::Write;
use std::path::Path;

use phase_memory_store::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};

use crate::PgLocation;

/// File naming the adapter inside a store folder.
pub const CONFIG_FILE: &str = "store.json";

/// The environment variable that supplies the database URL when `store.json`
/// names none (so a password need not be written into the folder).
pub const URL_VAR: &str = "PHASE_MEMORY_DATABASE_URL";

/// `DIR/store.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderConfig {
    /// Always `postgres` here.
    pub adapter: String,
    /// The database URL (may carry `?schema=NAME`); `None`: take it from
    /// [`URL_VAR`] at open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl FolderConfig {
    /// Reads `DIR/store.json` when it names the postgres adapter.
    pub fn read(dir: &Path) -> StoreResult<Option<FolderConfig>> {
        let path = dir.join(CONFIG_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e)),
        };
        let cfg: FolderConfig =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                location: CONFIG_FILE.into(),
                detail: format!("does not parse: {e}"),
            })?;
        Ok((cfg.adapter == "postgres").then_some(cfg))
    }

    /// Writes `DIR/store.json` (owner-only permissions: it may hold a password).
    pub fn write(&self, dir: &Path) -> StoreResult<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| StoreError::Backend(format!("encoding {CONFIG_FILE}: {e}")))?;
        bytes.push(b'\n');
        let path = dir.join(CONFIG_FILE);
        let tmp = dir.join(format!(".{CONFIG_FILE}.tmp"));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .map_err(|e| StoreError::io(format!("writing {}", tmp.display()), e))?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| StoreError::io(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| StoreError::io(format!("writing {}", path.display()), e))
    }

    /// Where the store is: the URL of `store.json`, else [`URL_VAR`].
    pub fn location(&self) -> StoreResult<PgLocation> {
        let url = match &self.url {
            Some(u) => u.clone(),
            None => std::env::var(URL_VAR).map_err(|_| {
                StoreError::InvalidChange(format!(
                    "{CONFIG_FILE} names no database URL and {URL_VAR} is not set"
                ))
            })?,
        };
        PgLocation::from_url(&url)
    }
}
