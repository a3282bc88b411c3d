//! A read-through cache of decoded documents, exact across the processes sharing a
//! store.
//!
//! After every write transaction that changes a document, the backend's generation
//! stamp takes a new value, unless the write is unversioned (spool, delivery queue,
//! statistics: tables no cache reads). A [`Snapshot`] reads the stamp once; a cached
//! document is used only when it was read under that same stamp, so a change
//! committed by any process (an operator command on the data directory, another
//! server) is seen by the next snapshot.

use crate::{Result, Store};
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most documents kept; past it the cache starts again empty.
const MAX_ENTRIES: usize = 65_536;

type Shared = Arc<dyn Any + Send + Sync>;

struct Entry {
    generation: u64,
    /// `None`: the document does not exist (absence is cached too).
    value: Option<Shared>,
}

#[derive(Default)]
struct Tables {
    entries: HashMap<String, HashMap<String, Entry>>,
    len: usize,
}

/// Decoded documents by table and key, each tagged with the generation it was read at.
#[derive(Default)]
pub(crate) struct DocCache {
    tables: Mutex<Tables>,
}

impl DocCache {
    fn lookup(&self, generation: u64, table: &str, key: &str) -> Option<Option<Shared>> {
        let tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let entry = tables.entries.get(table)?.get(key)?;
        (entry.generation == generation).then(|| entry.value.clone())
    }

    fn keep(&self, generation: u64, table: &str, key: &str, value: Option<Shared>) {
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        if tables.len >= MAX_ENTRIES {
            *tables = Tables::default();
        }
        let entry = Entry { generation, value };
        let previous = tables
            .entries
            .entry(table.to_string())
            .or_default()
            .insert(key.to_string(), entry);
        if previous.is_none() {
            tables.len += 1;
        }
    }
}

/// Reads through the cache at one generation of the store. Take a new snapshot for
/// each request so that changes committed meanwhile are seen.
pub struct Snapshot<'a> {
    store: &'a Store,
    generation: u64,
}

impl<'a> Snapshot<'a> {
    pub(crate) fn new(store: &'a Store) -> Result<Snapshot<'a>> {
        let generation = store.backend.generation()?;
        Ok(Snapshot { store, generation })
    }

    /// A document, shared: decoded once per generation.
    pub fn get<T>(&self, table: &str, key: &str) -> Result<Option<Arc<T>>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let cache = &self.store.cache;
        if let Some(hit) = cache.lookup(self.generation, table, key) {
            match hit {
                None => return Ok(None),
                Some(value) => {
                    if let Ok(typed) = value.downcast::<T>() {
                        return Ok(Some(typed));
                    }
                }
            }
        }
        let value: Option<Arc<T>> = self.store.read()?.get(table, key)?.map(Arc::new);
        let shared = value.clone().map(|v| v as Shared);
        cache.keep(self.generation, table, key, shared);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use crate::{SqliteBackend, Store};
    use std::sync::Arc;

    fn open(dir: &std::path::Path) -> Store {
        Store::new(Arc::new(SqliteBackend::open(dir).unwrap()))
    }

    fn put(store: &Store, value: &str) {
        let mut tx = store.write().unwrap();
        tx.put("t", "k", &value.to_string()).unwrap();
        tx.commit().unwrap();
    }

    fn read(store: &Store) -> Option<String> {
        let snap = store.snapshot().unwrap();
        snap.get::<String>("t", "k").unwrap().map(|v| (*v).clone())
    }

    #[test]
    fn a_write_from_another_process_is_seen_by_the_next_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let server = open(dir.path());
        let operator = open(dir.path());
        assert_eq!(read(&server), None);
        put(&operator, "one");
        assert_eq!(read(&server).as_deref(), Some("one"));
        put(&operator, "two");
        assert_eq!(read(&server).as_deref(), Some("two"));
    }

    #[test]
    fn documents_come_from_the_cache_within_a_generation() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        put(&store, "cached");
        let snap = store.snapshot().unwrap();
        let first = snap.get::<String>("t", "k").unwrap().unwrap();
        let again = store
            .snapshot()
            .unwrap()
            .get::<String>("t", "k")
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again), "decoded once per generation");
        // An unversioned write leaves the generation (and so the cache) alone.
        let mut tx = store.write_unversioned().unwrap();
        tx.put("spool", "m", &1).unwrap();
        tx.commit().unwrap();
        let after = store
            .snapshot()
            .unwrap()
            .get::<String>("t", "k")
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&first, &after));
    }
}
