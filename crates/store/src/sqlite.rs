//! The embedded default backend: one SQLite file in WAL mode with synchronous writes,
//! so a committed write survives `kill -9`. One writer connection (writes are
//! serialised, as SQLite requires) and a few reader connections. The generation
//! stamp is an 8-byte file beside the database, read and written with positioned
//! I/O, so every process on the data directory sees a change at once. The audit log
//! is a database of its own (`audit.db`, WAL, synced at checkpoints: its records
//! survive `kill -9` but the last moments of them not a power loss), so its batch
//! commits never hold up the document writer.

use crate::audit::{AuditEvent, AuditQuery, EncodedAudit};
use crate::{Backend, Result, StoreError, Tx};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE docs (tbl TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID;
     CREATE TABLE audit (seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE,
        account TEXT NOT NULL, event_name TEXT NOT NULL, event_source TEXT NOT NULL, user_name TEXT NOT NULL,
        access_key_id TEXT NOT NULL, body TEXT NOT NULL);
     CREATE INDEX audit_time ON audit (time_ms, event_id);",
];

/// Migrations of `audit.db`. Stores made before it kept the log in `sesame.db`'s
/// `audit` table; opening one moves those records over.
const AUDIT_MIGRATIONS: &[&str] = &[
    "CREATE TABLE audit (seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE,
        account TEXT NOT NULL, event_name TEXT NOT NULL, event_source TEXT NOT NULL, user_name TEXT NOT NULL,
        access_key_id TEXT NOT NULL, body TEXT NOT NULL);
     CREATE INDEX audit_time ON audit (time_ms, event_id);",
];

const AUDIT_COLUMNS: &str =
    "time_ms, event_id, account, event_name, event_source, user_name, access_key_id, body";

const READERS: usize = 4;

pub struct SqliteBackend {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    audit_writer: Mutex<Connection>,
    audit_reader: Mutex<Connection>,
    /// `None` when a read-only store has no stamp file: nothing is then cached.
    stamp: Option<File>,
}

const STAMP_FILE: &str = "sesame.generation";

impl SqliteBackend {
    /// Opens (creating and migrating as needed) `sesame.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<SqliteBackend> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join("sesame.db");
        let writer = connect(&path, Durability::Full)?;
        migrate(&writer, MIGRATIONS)?;
        let audit_path = data_dir.join("audit.db");
        let audit_writer = connect(&audit_path, Durability::Normal)?;
        migrate(&audit_writer, AUDIT_MIGRATIONS)?;
        move_legacy_audit(&audit_writer, &path)?;
        let readers = (0..READERS)
            .map(|_| connect(&path, Durability::Full).map(Mutex::new))
            .collect::<Result<_>>()?;
        let stamp_path = data_dir.join(STAMP_FILE);
        let stamp = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&stamp_path)
            .map_err(|source| StoreError::Io {
                path: stamp_path.display().to_string(),
                source,
            })?;
        let backend = SqliteBackend {
            writer: Mutex::new(writer),
            readers,
            audit_reader: Mutex::new(connect(&audit_path, Durability::Normal)?),
            audit_writer: Mutex::new(audit_writer),
            stamp: Some(stamp),
        };
        backend.advance_generation()?;
        Ok(backend)
    }

    /// Opens an existing store for reading only, e.g. while `sesame serve` runs on it
    /// (WAL lets readers work beside the writer). Nothing is created or migrated;
    /// writes through this backend fail.
    pub fn open_read_only(data_dir: &Path) -> Result<SqliteBackend> {
        let path = data_dir.join("sesame.db");
        if !path.is_file() {
            return Err(StoreError::Io {
                path: path.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no store here"),
            });
        }
        let conn = open_read_only_connection(&path)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version > known {
            return Err(StoreError::NewerSchema {
                found: version,
                known,
            });
        }
        // A store no server has opened since the audit log moved keeps it in sesame.db.
        let audit_path = data_dir.join("audit.db");
        let audit = || {
            let at = if audit_path.is_file() {
                &audit_path
            } else {
                &path
            };
            open_read_only_connection(at).map(Mutex::new)
        };
        Ok(SqliteBackend {
            writer: Mutex::new(conn),
            readers: vec![Mutex::new(open_read_only_connection(&path)?)],
            audit_writer: audit()?,
            audit_reader: audit()?,
            stamp: File::open(data_dir.join(STAMP_FILE)).ok(),
        })
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        for r in &self.readers {
            if let Ok(guard) = r.try_lock() {
                return guard;
            }
        }
        lock(&self.readers[0])
    }
}

/// How a database's commits reach the disk.
#[derive(Clone, Copy)]
enum Durability {
    /// Every commit is fsynced: it survives a power loss (documents, the spool).
    Full,
    /// Commits survive the process (`kill -9`), not the machine: the WAL is synced
    /// at checkpoints (the audit log, whose writes never hold up a caller).
    Normal,
}

/// Page size of a database made from scratch (SQLite keeps an existing database's).
/// Accepted messages (a few KB each) and audit records (about 2.5 KB) then share
/// their B-tree leaves, several to a page, where 4 KB pages hold one record each
/// (a message also needs an overflow page): under the SendEmail benchmark the files
/// take 3.3 KB per message and 2.8 KB per audit record instead of 4.6 and 4.2.
const NEW_DATABASE_PAGE_SIZE: u32 = 16 * 1024;

fn connect(path: &Path, durability: Durability) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "page_size", NEW_DATABASE_PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let synchronous = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn open_read_only_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// Moves audit records a store made before `audit.db` existed out of `sesame.db`.
fn move_legacy_audit(audit: &Connection, main: &Path) -> Result<()> {
    let main = main.to_str().ok_or_else(|| StoreError::Io {
        path: main.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "path is not UTF-8"),
    })?;
    audit.execute("ATTACH DATABASE ?1 AS legacy", [main])?;
    let moved = audit.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         INSERT OR IGNORE INTO main.audit ({AUDIT_COLUMNS}) SELECT {AUDIT_COLUMNS} FROM legacy.audit ORDER BY seq;
         DELETE FROM legacy.audit;
         COMMIT;"
    ));
    if moved.is_err() {
        let _ = audit.execute_batch("ROLLBACK");
    }
    audit.execute_batch("DETACH DATABASE legacy")?;
    Ok(moved?)
}

fn migrate(conn: &Connection, migrations: &[&str]) -> Result<()> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in migrations
        .iter()
        .enumerate()
        .skip(usize::try_from(done).unwrap_or(0))
    {
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))?;
    }
    Ok(())
}

/// A poisoned lock only means another thread panicked mid-call; the connection
/// itself is still consistent (SQLite rolls back unfinished transactions).
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn stamp_error(source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: STAMP_FILE.into(),
        source,
    }
}

/// Runs a statement without parameters, prepared once per connection.
fn run_cached(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
}

impl<'a> SqliteTx<'a> {
    fn begin(conn: MutexGuard<'a, Connection>, immediate: bool) -> Result<SqliteTx<'a>> {
        run_cached(
            &conn,
            if immediate {
                "BEGIN IMMEDIATE"
            } else {
                "BEGIN"
            },
        )?;
        Ok(SqliteTx { conn, open: true })
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Tx for SqliteTx<'_> {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM docs WHERE tbl = ?1 AND key = ?2")?;
        Ok(stmt
            .query_row(params![table, key], |r| r.get(0))
            .optional()?)
    }

    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO docs (tbl, key, value) VALUES (?1, ?2, ?3)")?;
        stmt.execute(params![table, key, value])?;
        Ok(())
    }

    fn delete(&mut self, table: &str, key: &str) -> Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM docs WHERE tbl = ?1 AND key = ?2")?;
        Ok(stmt.execute(params![table, key])? > 0)
    }

    fn scan(&mut self, table: &str, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, value FROM docs WHERE tbl = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key",
        )?;
        let rows = stmt.query_map(params![table, prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.open = false;
        run_cached(&self.conn, "COMMIT")
    }
}

impl Backend for SqliteBackend {
    fn generation(&self) -> Result<u64> {
        let Some(stamp) = &self.stamp else {
            return Ok(u64::from_le_bytes(crate::random_bytes()?));
        };
        let mut bytes = [0u8; 8];
        let read = stamp.read_at(&mut bytes, 0).map_err(stamp_error)?;
        // A stamp file not yet written reads short: the zero generation.
        Ok(if read == 8 {
            u64::from_le_bytes(bytes)
        } else {
            0
        })
    }

    fn advance_generation(&self) -> Result<()> {
        let Some(stamp) = &self.stamp else {
            return Ok(());
        };
        let fresh: [u8; 8] = crate::random_bytes()?;
        stamp.write_all_at(&fresh, 0).map_err(stamp_error)
    }

    fn read(&self) -> Result<Box<dyn Tx + '_>> {
        Ok(Box::new(SqliteTx::begin(self.reader(), false)?))
    }

    fn write(&self) -> Result<Box<dyn Tx + '_>> {
        Ok(Box::new(SqliteTx::begin(lock(&self.writer), true)?))
    }

    fn append_audit(&self, records: &[EncodedAudit]) -> Result<()> {
        let conn = lock(&self.audit_writer);
        let tx = SqliteTx::begin(conn, true)?;
        {
            let mut stmt = tx.conn.prepare_cached(
                "INSERT OR IGNORE INTO audit (time_ms, event_id, account, event_name, event_source, user_name, access_key_id, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for r in records {
                stmt.execute(params![
                    r.time_ms,
                    r.event_id,
                    r.account,
                    r.event_name,
                    r.event_source,
                    r.user_name,
                    r.access_key_id,
                    r.body
                ])?;
            }
        }
        Box::new(tx).commit()
    }

    fn query_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let conn = lock(&self.audit_reader);
        let mut stmt = conn.prepare_cached(
            "SELECT event_id, body FROM audit
             WHERE (?1 IS NULL OR account = ?1) AND (?2 IS NULL OR event_name = ?2) AND (?3 IS NULL OR user_name = ?3)
               AND (?4 IS NULL OR access_key_id = ?4) AND (?5 IS NULL OR event_id = ?5)
               AND (?6 IS NULL OR time_ms >= ?6) AND (?7 IS NULL OR time_ms <= ?7)
               AND (?8 IS NULL OR time_ms < ?8 OR (time_ms = ?8 AND event_id < ?9))
               AND (?11 IS NULL OR event_source = ?11)
               AND (?12 IS NULL OR json_extract(body, '$.detail.readOnly') = ?12)
             ORDER BY time_ms DESC, event_id DESC LIMIT ?10",
        )?;
        let (before_ms, before_id) = q.before.clone().unzip();
        let limit = i64::try_from(q.limit.max(1)).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![
                q.account,
                q.event_name,
                q.user_name,
                q.access_key_id,
                q.event_id,
                q.start_ms,
                q.end_ms,
                before_ms,
                before_id,
                limit,
                q.event_source,
                q.read_only
            ],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?;
        rows.map(|row| {
            let (id, body) = row?;
            serde_json::from_str(&body).map_err(|source| StoreError::Corrupt {
                table: "audit".into(),
                key: id,
                source,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use std::sync::Arc;

    fn encoded(events: &[AuditEvent]) -> Vec<EncodedAudit> {
        events
            .iter()
            .map(|e| EncodedAudit::new(e).unwrap())
            .collect()
    }

    #[test]
    fn documents_commit_roll_back_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Arc::new(SqliteBackend::open(dir.path()).unwrap()));
        let mut tx = store.write().unwrap();
        tx.put("users", "111/alice", &serde_json::json!({"name": "alice"}))
            .unwrap();
        tx.put("users", "111/bob", &serde_json::json!({"name": "bob"}))
            .unwrap();
        tx.put("users", "222/carol", &serde_json::json!({"name": "carol"}))
            .unwrap();
        tx.commit().unwrap();
        let mut tx = store.write().unwrap();
        tx.put("users", "111/mallory", &serde_json::json!({}))
            .unwrap();
        drop(tx);
        drop(store);
        let store = Store::new(Arc::new(SqliteBackend::open(dir.path()).unwrap()));
        let mut r = store.read().unwrap();
        let names: Vec<serde_json::Value> = r.scan("users", "111/").unwrap();
        assert_eq!(
            names,
            vec![
                serde_json::json!({"name": "alice"}),
                serde_json::json!({"name": "bob"})
            ]
        );
        assert!(r
            .get::<serde_json::Value>("users", "111/mallory")
            .unwrap()
            .is_none());
    }

    fn page_size(path: &Path) -> i64 {
        let conn = Connection::open(path).unwrap();
        conn.pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn new_databases_get_large_pages_and_older_ones_keep_theirs() {
        let fresh = tempfile::tempdir().unwrap();
        drop(SqliteBackend::open(fresh.path()).unwrap());
        for db in ["sesame.db", "audit.db"] {
            assert_eq!(page_size(&fresh.path().join(db)), 16384, "{db}");
        }
        let older = tempfile::tempdir().unwrap();
        let made_before = Connection::open(older.path().join("sesame.db")).unwrap();
        made_before
            .execute_batch("PRAGMA page_size = 4096; CREATE TABLE before (x);")
            .unwrap();
        drop(made_before);
        let store = Store::new(Arc::new(SqliteBackend::open(older.path()).unwrap()));
        let mut tx = store.write().unwrap();
        tx.put("users", "111/alice", &serde_json::json!({"name": "alice"}))
            .unwrap();
        tx.commit().unwrap();
        let alice: Option<serde_json::Value> =
            store.read().unwrap().get("users", "111/alice").unwrap();
        assert_eq!(alice, Some(serde_json::json!({"name": "alice"})));
        assert_eq!(page_size(&older.path().join("sesame.db")), 4096);
    }

    #[test]
    fn audit_query_filters_and_pages_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(dir.path()).unwrap();
        let event = |i: i64, name: &str| AuditEvent {
            event_id: format!("e{i}"),
            time_ms: 1000 + i,
            account: "111".into(),
            event_name: name.into(),
            event_source: "iam.amazonaws.com".into(),
            user_name: "alice".into(),
            access_key_id: "AKIA".into(),
            trace: vec![],
            detail: serde_json::json!({}),
            authorizations: Vec::new(),
        };
        let events: Vec<_> = (0..5)
            .map(|i| {
                event(
                    i,
                    if i % 2 == 0 {
                        "ListUsers"
                    } else {
                        "CreateUser"
                    },
                )
            })
            .collect();
        backend.append_audit(&encoded(&events)).unwrap();
        let q = AuditQuery {
            event_name: Some("ListUsers".into()),
            limit: 2,
            ..Default::default()
        };
        let page = backend.query_audit(&q).unwrap();
        assert_eq!(
            page.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
            ["e4", "e2"]
        );
        let last = page.last().unwrap();
        let next = AuditQuery {
            before: Some((last.time_ms, last.event_id.clone())),
            ..q
        };
        assert_eq!(
            backend
                .query_audit(&next)
                .unwrap()
                .iter()
                .map(|e| e.event_id.as_str())
                .collect::<Vec<_>>(),
            ["e0"]
        );
    }

    #[test]
    fn read_only_opening_reads_beside_the_writer_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SqliteBackend::open_read_only(dir.path()).is_err());
        let writer = SqliteBackend::open(dir.path()).unwrap();
        let event = |i: i64, source: &str, read_only: bool| AuditEvent {
            event_id: format!("e{i}"),
            time_ms: 1000 + i,
            account: "111".into(),
            event_name: "X".into(),
            event_source: source.into(),
            user_name: "alice".into(),
            access_key_id: "AKIA".into(),
            trace: vec![],
            detail: serde_json::json!({ "readOnly": read_only }),
            authorizations: Vec::new(),
        };
        writer
            .append_audit(&encoded(&[event(0, "iam.amazonaws.com", true)]))
            .unwrap();
        let reader = Store::new(Arc::new(SqliteBackend::open_read_only(dir.path()).unwrap()));
        let events: Vec<_> = (1..500)
            .map(|i| {
                event(
                    i,
                    if i % 2 == 0 {
                        "iam.amazonaws.com"
                    } else {
                        "sts.amazonaws.com"
                    },
                    i % 3 == 0,
                )
            })
            .collect();
        writer.append_audit(&encoded(&events)).unwrap();
        let all = AuditQuery {
            limit: 1000,
            ..Default::default()
        };
        assert_eq!(reader.query_audit(&all).unwrap().len(), 500);
        let write = reader.write().and_then(|mut tx| {
            tx.put("t", "k", &1)?;
            tx.commit()
        });
        assert!(write.is_err(), "a read-only store cannot write");
        let sts = AuditQuery {
            event_source: Some("sts.amazonaws.com".into()),
            ..all.clone()
        };
        assert_eq!(reader.query_audit(&sts).unwrap().len(), 250);
        let read_only = AuditQuery {
            read_only: Some(true),
            ..all.clone()
        };
        assert_eq!(reader.query_audit(&read_only).unwrap().len(), 167);
        // Filtered in memory across several pages, newest first, stopping at the limit.
        let q = AuditQuery {
            limit: 3,
            ..Default::default()
        };
        let got = reader
            .query_audit_where(&q, |e| e.time_ms % 250 == 0)
            .unwrap();
        assert_eq!(
            got.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
            ["e250", "e0"]
        );
    }

    #[test]
    fn audit_records_of_an_older_store_move_to_the_audit_database() {
        let dir = tempfile::tempdir().unwrap();
        {
            let old = connect(&dir.path().join("sesame.db"), Durability::Full).unwrap();
            migrate(&old, MIGRATIONS).unwrap();
            old.execute(
                &format!("INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (5, 'old-1', '111', 'ListUsers', 'iam.amazonaws.com', 'alice', 'AKIA', ?1)"),
                [r#"{"event_id":"old-1","time_ms":5,"account":"111","event_name":"ListUsers","event_source":"iam.amazonaws.com","user_name":"alice","access_key_id":"AKIA","trace":[],"detail":{}}"#],
            )
            .unwrap();
        }
        let backend = SqliteBackend::open(dir.path()).unwrap();
        let found = backend
            .query_audit(&AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(
            found
                .iter()
                .map(|e| e.event_id.as_str())
                .collect::<Vec<_>>(),
            ["old-1"]
        );
        let left: i64 = lock(&backend.writer)
            .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "moved, not copied");
        drop(backend);
        let reopened = SqliteBackend::open(dir.path()).unwrap();
        assert_eq!(
            reopened
                .query_audit(&AuditQuery {
                    limit: 10,
                    ..AuditQuery::default()
                })
                .unwrap()
                .len(),
            1
        );
    }
}
