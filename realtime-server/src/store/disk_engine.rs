//! The on-disk engine: SQLite (bundled library, via rusqlite) in WAL mode with
//! `synchronous=FULL`, so a committed transaction is fsynced to the WAL before
//! `commit` returns. Chosen by the benchmark in `bench/store-engines`; see
//! `docs/store-engine.md`.
//!
//! One file `store.sqlite` (plus its `-wal`) per data directory, one
//! `WITHOUT ROWID` table per store table holding `(k BLOB PRIMARY KEY, v BLOB)`.
//! The database is opened in exclusive locking mode: a second process opening
//! the same directory fails instead of corrupting it.

use super::codec::{KvOp, Table};
use super::engine::{Engine, Visit};
use super::error::StoreError;
use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;

/// Schema version in `PRAGMA user_version`; a newer file is refused.
const SCHEMA_VERSION: i64 = 1;
/// `PRAGMA application_id`: marks the file as this store's ("RTS1").
const APPLICATION_ID: i64 = 0x5254_5331;
/// File name inside the data directory.
pub(crate) const FILE_NAME: &str = "store.sqlite";

/// A SQLite database holding the store's tables.
pub(crate) struct DiskEngine {
    conn: Connection,
}

/// The statements of one table, as literals so that `prepare_cached` finds them
/// without formatting a string per write.
struct Sql {
    upsert: &'static str,
    delete: &'static str,
    scan: &'static str,
}

macro_rules! sql {
    ($name:literal) => {
        Sql {
            upsert: concat!(
                "INSERT INTO ",
                $name,
                " (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v"
            ),
            delete: concat!("DELETE FROM ", $name, " WHERE k = ?1"),
            scan: concat!("SELECT k, v FROM ", $name, " ORDER BY k"),
        }
    };
}

fn sql(t: Table) -> Sql {
    // The literals must match `Table::name` (checked by a test).
    match t {
        Table::Sessions => sql!("sessions"),
        Table::Subscriptions => sql!("subscriptions"),
        Table::Messages => sql!("messages"),
        Table::Outbound => sql!("outbound"),
        Table::Incoming => sql!("incoming_qos2"),
        Table::Retained => sql!("retained"),
    }
}

fn err(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::engine(context, e)
}

impl DiskEngine {
    /// Opens or creates `dir/store.sqlite`, creating `dir` if needed.
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::engine("creating the data directory", e))?;
        let conn = Connection::open_with_flags(
            dir.join(FILE_NAME),
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err("opening the database"))?;
        // Exclusive locking first: WAL then needs no shared-memory file, and a
        // second broker on the same directory gets "database is locked".
        conn.execute_batch(
            "PRAGMA locking_mode=EXCLUSIVE;
             PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;",
        )
        .map_err(err("configuring the database"))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err("reading the schema version"))?;
        let app: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(err("reading the application id"))?;
        if version > SCHEMA_VERSION || (version != 0 && app != APPLICATION_ID) {
            return Err(StoreError::Corrupt {
                table: "(schema)",
                reason: format!(
                    "{} is not a store of this version (user_version {version}, application_id {app:#x})",
                    dir.join(FILE_NAME).display()
                ),
            });
        }
        let mut ddl = String::from("BEGIN;");
        for t in Table::ALL {
            ddl.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {} (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;",
                t.name()
            ));
        }
        ddl.push_str(&format!(
            "PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
        ));
        conn.execute_batch(&ddl)
            .map_err(err("creating the tables"))?;
        Ok(Self { conn })
    }
}

impl Engine for DiskEngine {
    fn commit(&mut self, ops: &[KvOp], _fsync: bool) -> Result<(), StoreError> {
        // synchronous=FULL: every commit is fsynced (periodic mode commits once
        // per interval, so it pays one fsync per interval).
        let tx = self
            .conn
            .transaction()
            .map_err(err("beginning a transaction"))?;
        for op in ops {
            let sql = sql(op.table);
            match &op.value {
                Some(v) => {
                    let mut st = tx
                        .prepare_cached(sql.upsert)
                        .map_err(err("preparing a write"))?;
                    st.execute(params![op.key, v])
                        .map_err(err("writing a record"))?;
                }
                None => {
                    let mut st = tx
                        .prepare_cached(sql.delete)
                        .map_err(err("preparing a delete"))?;
                    st.execute(params![op.key])
                        .map_err(err("deleting a record"))?;
                }
            }
        }
        tx.commit().map_err(err("committing"))
    }

    fn scan(&self, table: Table, visit: &mut Visit<'_>) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare_cached(sql(table).scan)
            .map_err(err("preparing a scan"))?;
        let mut rows = st.query([]).map_err(err("scanning"))?;
        while let Some(row) = rows.next().map_err(err("scanning"))? {
            let k = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(err("reading a key"))?;
            let v = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(err("reading a value"))?;
            visit(k, v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL literals name the same tables as `Table::name`.
    #[test]
    fn sql_names_match_table_names() {
        for t in Table::ALL {
            let s = sql(t);
            assert!(s.upsert.starts_with(&format!("INSERT INTO {} ", t.name())));
            assert_eq!(s.delete, format!("DELETE FROM {} WHERE k = ?1", t.name()));
            assert_eq!(s.scan, format!("SELECT k, v FROM {} ORDER BY k", t.name()));
        }
    }

    /// A directory holding another application's SQLite file is refused, not
    /// overwritten.
    #[test]
    fn foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        c.execute_batch("PRAGMA user_version=7;").unwrap();
        drop(c);
        assert!(matches!(
            DiskEngine::open(dir.path()),
            Err(StoreError::Corrupt { .. })
        ));
    }

    /// Exclusive locking: a second opener of the same directory fails while the
    /// first holds it (two brokers must not share one store).
    #[test]
    fn second_opener_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = DiskEngine::open(dir.path()).unwrap();
        a.commit(&[], true).unwrap();
        assert!(DiskEngine::open(dir.path()).is_err());
    }
}
