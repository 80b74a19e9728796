//! Where a store lives: a database URL and the SQL schema inside it.

use std::str::FromStr;

use phase_memory_store::{StoreError, StoreResult};
use postgres::{Client, Config, NoTls};

use crate::DEFAULT_SCHEMA;
use crate::record::PgContext;

/// Where a store is: a connection URL and the SQL schema inside that database.
#[derive(Clone, PartialEq, Eq)]
pub struct PgLocation {
    url: String,
    schema: String,
}

impl std::fmt::Debug for PgLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLocation")
            .field("url", &redact(&self.url))
            .field("schema", &self.schema)
            .finish()
    }
}

impl PgLocation {
    /// A location; fails on a URL the driver cannot parse or a schema name that is
    /// not a plain lower-case SQL identifier.
    pub fn new(url: &str, schema: &str) -> StoreResult<PgLocation> {
        Config::from_str(url).map_err(|e| {
            StoreError::InvalidChange(format!(
                "the database URL {} does not parse: {e}",
                redact(url)
            ))
        })?;
        let ok = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(StoreError::InvalidChange(format!(
                "schema name {schema:?} must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63 bytes)"
            )));
        }
        Ok(PgLocation {
            url: url.to_string(),
            schema: schema.to_string(),
        })
    }

    /// A location from a URL that may name the schema in a `schema=NAME` query
    /// parameter (taken out before the URL reaches the driver); the default schema
    /// otherwise.
    pub fn from_url(url: &str) -> StoreResult<PgLocation> {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut schema = DEFAULT_SCHEMA.to_string();
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", v)) => schema = v.to_string(),
                _ => rest.push(pair),
            }
        }
        let url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        PgLocation::new(&url, &schema)
    }

    /// The connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQL schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The location for messages: the URL without its password, and the schema.
    pub fn display(&self) -> String {
        format!("{} (schema {})", redact(&self.url), self.schema)
    }

    /// A new connection whose `search_path` is the store's schema.
    pub fn connect(&self) -> StoreResult<Client> {
        let config = Config::from_str(&self.url)
            .map_err(|e| StoreError::Backend(format!("postgres: parsing the URL: {e}")))?;
        let mut client = config.connect(NoTls).map_err(|e| {
            StoreError::Backend(format!(
                "postgres: connecting to {}: {e}",
                redact(&self.url)
            ))
        })?;
        client
            .batch_execute(&format!(
                "SET search_path TO \"{}\"; SET client_min_messages TO warning;",
                self.schema
            ))
            .ctx("selecting the store schema")?;
        Ok(client)
    }
}

/// A URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}
