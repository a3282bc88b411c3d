//! Persistence. It owns how state is kept: named tables of JSON documents behind the
//! [`Backend`] trait (the embedded SQLite backend is the default; a PostgreSQL one can
//! be added without touching the services), an append-only audit log, schema
//! migrations, and encryption of secrets at rest. It knows nothing of protocols.

mod audit;
mod cache;
mod crypto;
pub mod export;
mod lock;
mod sqlite;

pub use audit::{
    AuditEvent, AuditQuery, AuthorizationRecord, ContextEntry, EncodedAudit, MatchedStatement,
};
pub use cache::Snapshot;
pub use crypto::{random_bytes, MasterKey, SealedSecret};
pub use lock::DataDirLock;
pub use sqlite::SqliteBackend;

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("stored document {table}/{key} is unreadable: {source}")]
    Corrupt {
        table: String,
        key: String,
        source: serde_json::Error,
    },
    #[error("cannot encode document: {0}")]
    Encode(serde_json::Error),
    #[error("master key: {0}")]
    MasterKey(String),
    #[error("the store's schema version {found} is newer than this program knows ({known})")]
    NewerSchema { found: i64, known: i64 },
    #[error("a secret could not be decrypted (wrong master key?)")]
    Decrypt,
    #[error("{0} is in use by a running `sesame serve`; stop it first")]
    InUse(String),
    #[error("export document: {0}")]
    Snapshot(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How many audit records [`Store::query_audit_where`] reads at a time.
const AUDIT_PAGE: usize = 200;

/// One transaction over the document tables. Dropped without `commit`, it rolls back.
pub trait Tx {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>>;
    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<()>;
    /// Returns whether the key existed.
    fn delete(&mut self, table: &str, key: &str) -> Result<bool>;
    /// Documents whose key starts with `prefix`, in key order.
    fn scan(&mut self, table: &str, prefix: &str) -> Result<Vec<(String, Vec<u8>)>>;
    fn commit(self: Box<Self>) -> Result<()>;
}

/// A storage engine. Writes are serialised; a committed write is durable.
pub trait Backend: Send + Sync {
    fn read(&self) -> Result<Box<dyn Tx + '_>>;
    fn write(&self) -> Result<Box<dyn Tx + '_>>;
    fn append_audit(&self, records: &[EncodedAudit]) -> Result<()>;
    fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>>;
    /// The generation stamp: it takes a new value after every versioned change, as
    /// seen by every process and node sharing the store.
    fn generation(&self) -> Result<u64>;
    /// Gives the generation stamp a value it never had.
    fn advance_generation(&self) -> Result<()>;
}

/// The store handle the services use: typed documents over a backend, and a cache
/// of decoded documents read through [`Snapshot`]s.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    cache: Arc<cache::DocCache>,
}

impl Store {
    pub fn new(backend: Arc<dyn Backend>) -> Store {
        Store {
            backend,
            cache: Arc::default(),
        }
    }

    pub fn read(&self) -> Result<Docs<'_>> {
        Ok(Docs::new(self.backend.read()?, None))
    }

    /// A write transaction; committing a change advances the store's generation, so
    /// every snapshot taken afterwards (in any process) sees it.
    pub fn write(&self) -> Result<Docs<'_>> {
        Ok(Docs::new(self.backend.write()?, Some(&*self.backend)))
    }

    /// A write transaction that leaves the generation alone: only for tables that no
    /// snapshot reads (the spool, the delivery queue, statistics, events), which
    /// change on every send and would otherwise keep emptying the cache.
    pub fn write_unversioned(&self) -> Result<Docs<'_>> {
        Ok(Docs::new(self.backend.write()?, None))
    }

    /// Reads the current generation: documents read through the snapshot come from
    /// the cache when they were read at this generation.
    pub fn snapshot(&self) -> Result<Snapshot<'_>> {
        Snapshot::new(self)
    }

    pub fn append_audit(&self, records: &[EncodedAudit]) -> Result<()> {
        self.backend.append_audit(records)
    }

    pub fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        self.backend.query_audit(query)
    }

    /// Up to `query.limit` audit records that match `query` and pass `keep`, newest
    /// first: the log is read page by page until enough pass or it is exhausted.
    pub fn query_audit_where(
        &self,
        query: &AuditQuery,
        keep: impl Fn(&AuditEvent) -> bool,
    ) -> Result<Vec<AuditEvent>> {
        let wanted = query.limit.max(1);
        let mut page_query = AuditQuery {
            limit: wanted.max(AUDIT_PAGE),
            ..query.clone()
        };
        let mut kept = Vec::new();
        loop {
            let page = self.backend.query_audit(&page_query)?;
            let exhausted = page.len() < page_query.limit;
            let cursor = page.last().map(|e| (e.time_ms, e.event_id.clone()));
            for event in page {
                if keep(&event) {
                    kept.push(event);
                    if kept.len() == wanted {
                        return Ok(kept);
                    }
                }
            }
            match cursor {
                Some(cursor) if !exhausted => page_query.before = Some(cursor),
                _ => return Ok(kept),
            }
        }
    }
}

/// A document encoded ahead of its transaction (e.g. on the caller's thread, so that a
/// single committer thread only writes).
pub struct Encoded(Vec<u8>);

impl Encoded {
    pub fn new<T: Serialize>(value: &T) -> Result<Encoded> {
        serde_json::to_vec(value)
            .map(Encoded)
            .map_err(StoreError::Encode)
    }
}

/// A transaction with typed (JSON) document access.
pub struct Docs<'a> {
    tx: Box<dyn Tx + 'a>,
    /// Where committing a change advances the generation (versioned writes only).
    versioned: Option<&'a dyn Backend>,
    changed: bool,
}

impl<'a> Docs<'a> {
    fn new(tx: Box<dyn Tx + 'a>, versioned: Option<&'a dyn Backend>) -> Docs<'a> {
        Docs {
            tx,
            versioned,
            changed: false,
        }
    }

    pub fn get<T: DeserializeOwned>(&mut self, table: &str, key: &str) -> Result<Option<T>> {
        match self.tx.get(table, key)? {
            None => Ok(None),
            Some(bytes) => decode(table, key, &bytes).map(Some),
        }
    }

    pub fn put<T: Serialize>(&mut self, table: &str, key: &str, value: &T) -> Result<()> {
        self.put_encoded(table, key, &Encoded::new(value)?)
    }

    pub fn put_encoded(&mut self, table: &str, key: &str, doc: &Encoded) -> Result<()> {
        self.changed = true;
        self.tx.put(table, key, &doc.0)
    }

    pub fn delete(&mut self, table: &str, key: &str) -> Result<bool> {
        self.changed = true;
        self.tx.delete(table, key)
    }

    pub fn scan<T: DeserializeOwned>(&mut self, table: &str, prefix: &str) -> Result<Vec<T>> {
        self.tx
            .scan(table, prefix)?
            .into_iter()
            .map(|(key, bytes)| decode(table, &key, &bytes))
            .collect()
    }

    /// Like [`Docs::scan`], with each document's key.
    pub fn scan_keyed<T: DeserializeOwned>(
        &mut self,
        table: &str,
        prefix: &str,
    ) -> Result<Vec<(String, T)>> {
        self.tx
            .scan(table, prefix)?
            .into_iter()
            .map(|(key, bytes)| decode(table, &key, &bytes).map(|doc| (key, doc)))
            .collect()
    }

    /// Commits; a versioned change then advances the generation (after the commit,
    /// so a snapshot that sees the new stamp also sees the change).
    pub fn commit(self) -> Result<()> {
        self.tx.commit()?;
        match self.versioned {
            Some(backend) if self.changed => backend.advance_generation(),
            _ => Ok(()),
        }
    }
}

fn decode<T: DeserializeOwned>(table: &str, key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        table: table.to_string(),
        key: key.to_string(),
        source,
    })
}
