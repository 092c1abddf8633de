//! The three candidate engines behind one small trait, each laid out the way the
//! broker's store would use it: a `msg` table keyed by message id and an `out`
//! table keyed by (client id, seq) so that a session's queue is one ordered range.

use std::path::Path;

/// One record-level operation of the broker's workload.
pub enum Op {
    PutMsg(u64, Vec<u8>),
    DelMsg(u64),
    PutOut(Vec<u8>, Vec<u8>),
    DelOut(Vec<u8>),
}

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub trait Engine {
    /// Applies `ops` in one transaction; with `fsync` the commit is on disk when
    /// this returns (the engine's strongest durability), without it the commit
    /// reaches at least the OS page cache (survives a process crash).
    fn apply(&mut self, ops: &[Op], fsync: bool) -> Res<()>;
    /// Makes every earlier non-fsynced commit durable (the periodic flush).
    fn sync_now(&mut self) -> Res<()>;
    /// Reads every record (what recovery does); returns (messages, outbound, bytes).
    fn load_all(&self) -> Res<(usize, usize, usize)>;
}

pub const ENGINES: [&str; 3] = ["redb", "fjall", "sqlite"];

pub fn open(name: &str, dir: &Path) -> Res<Box<dyn Engine>> {
    Ok(match name {
        "redb" => Box::new(Redb::open(dir)?),
        "fjall" => Box::new(Fjall::open(dir)?),
        "sqlite" => Box::new(Sqlite::open(dir)?),
        other => return Err(format!("unknown engine {other}").into()),
    })
}

// ---------------------------------------------------------------- redb

const MSG: redb::TableDefinition<'static, u64, &[u8]> = redb::TableDefinition::new("msg");
const OUT: redb::TableDefinition<'static, &[u8], &[u8]> = redb::TableDefinition::new("out");

pub struct Redb {
    db: redb::Database,
}

impl Redb {
    fn open(dir: &Path) -> Res<Self> {
        let db = redb::Database::create(dir.join("store.redb"))?;
        let tx = db.begin_write()?;
        tx.open_table(MSG)?;
        tx.open_table(OUT)?;
        tx.commit()?;
        Ok(Self { db })
    }
}

impl Engine for Redb {
    fn apply(&mut self, ops: &[Op], fsync: bool) -> Res<()> {
        let mut tx = self.db.begin_write()?;
        if !fsync {
            tx.set_durability(redb::Durability::None)?;
        }
        {
            let mut msg = tx.open_table(MSG)?;
            let mut out = tx.open_table(OUT)?;
            for op in ops {
                match op {
                    Op::PutMsg(id, v) => {
                        msg.insert(*id, v.as_slice())?;
                    }
                    Op::DelMsg(id) => {
                        msg.remove(*id)?;
                    }
                    Op::PutOut(k, v) => {
                        out.insert(k.as_slice(), v.as_slice())?;
                    }
                    Op::DelOut(k) => {
                        out.remove(k.as_slice())?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn sync_now(&mut self) -> Res<()> {
        // An empty Immediate commit persists every earlier Durability::None commit.
        let tx = self.db.begin_write()?;
        tx.commit()?;
        Ok(())
    }

    fn load_all(&self) -> Res<(usize, usize, usize)> {
        use redb::{ReadableDatabase, ReadableTable};
        let tx = self.db.begin_read()?;
        let (mut m, mut o, mut b) = (0, 0, 0);
        for row in tx.open_table(MSG)?.iter()? {
            let (_, v) = row?;
            b += v.value().to_vec().len();
            m += 1;
        }
        for row in tx.open_table(OUT)?.iter()? {
            let (k, v) = row?;
            b += k.value().to_vec().len() + v.value().to_vec().len();
            o += 1;
        }
        Ok((m, o, b))
    }
}

// ---------------------------------------------------------------- fjall

pub struct Fjall {
    db: fjall::Database,
    msg: fjall::Keyspace,
    out: fjall::Keyspace,
}

impl Fjall {
    fn open(dir: &Path) -> Res<Self> {
        let db = fjall::Database::builder(dir.join("fjall")).open()?;
        let msg = db.keyspace("msg", fjall::KeyspaceCreateOptions::default)?;
        let out = db.keyspace("out", fjall::KeyspaceCreateOptions::default)?;
        Ok(Self { db, msg, out })
    }
}

impl Engine for Fjall {
    fn apply(&mut self, ops: &[Op], fsync: bool) -> Res<()> {
        let mut b = self.db.batch();
        if fsync {
            b = b.durability(Some(fjall::PersistMode::SyncAll));
        }
        for op in ops {
            match op {
                Op::PutMsg(id, v) => b.insert(&self.msg, id.to_be_bytes(), v.as_slice()),
                Op::DelMsg(id) => b.remove(&self.msg, id.to_be_bytes()),
                Op::PutOut(k, v) => b.insert(&self.out, k.as_slice(), v.as_slice()),
                Op::DelOut(k) => b.remove(&self.out, k.as_slice()),
            }
        }
        b.commit()?;
        Ok(())
    }

    fn sync_now(&mut self) -> Res<()> {
        self.db.persist(fjall::PersistMode::SyncAll)?;
        Ok(())
    }

    fn load_all(&self) -> Res<(usize, usize, usize)> {
        let (mut m, mut o, mut b) = (0, 0, 0);
        for g in self.msg.iter() {
            let (_, v) = g.into_inner()?;
            b += v.to_vec().len();
            m += 1;
        }
        for g in self.out.iter() {
            let (k, v) = g.into_inner()?;
            b += k.to_vec().len() + v.to_vec().len();
            o += 1;
        }
        Ok((m, o, b))
    }
}

// ---------------------------------------------------------------- SQLite

pub struct Sqlite {
    conn: rusqlite::Connection,
    fsync_mode: bool,
}

impl Sqlite {
    fn open(dir: &Path) -> Res<Self> {
        let conn = rusqlite::Connection::open(dir.join("store.sqlite"))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS msg (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS out (k BLOB PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;",
        )?;
        Ok(Self {
            conn,
            fsync_mode: true,
        })
    }
}

impl Engine for Sqlite {
    fn apply(&mut self, ops: &[Op], fsync: bool) -> Res<()> {
        if fsync != self.fsync_mode {
            // WAL + FULL fsyncs the WAL at every commit; WAL + NORMAL only at
            // checkpoints (a commit still survives a process crash).
            let mode = if fsync { "FULL" } else { "NORMAL" };
            self.conn
                .execute_batch(&format!("PRAGMA synchronous={mode}"))?;
            self.fsync_mode = fsync;
        }
        let tx = self.conn.transaction()?;
        {
            let mut put_msg =
                tx.prepare_cached("INSERT OR REPLACE INTO msg (id, body) VALUES (?1, ?2)")?;
            let mut del_msg = tx.prepare_cached("DELETE FROM msg WHERE id = ?1")?;
            let mut put_out =
                tx.prepare_cached("INSERT OR REPLACE INTO out (k, body) VALUES (?1, ?2)")?;
            let mut del_out = tx.prepare_cached("DELETE FROM out WHERE k = ?1")?;
            for op in ops {
                match op {
                    Op::PutMsg(id, v) => {
                        put_msg.execute(rusqlite::params![*id as i64, v])?;
                    }
                    Op::DelMsg(id) => {
                        del_msg.execute([*id as i64])?;
                    }
                    Op::PutOut(k, v) => {
                        put_out.execute(rusqlite::params![k, v])?;
                    }
                    Op::DelOut(k) => {
                        del_out.execute([k])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn sync_now(&mut self) -> Res<()> {
        // A checkpoint fsyncs the WAL, copies it into the database and fsyncs that.
        self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")?;
        Ok(())
    }

    fn load_all(&self) -> Res<(usize, usize, usize)> {
        let (mut m, mut o, mut b) = (0, 0, 0);
        let mut st = self.conn.prepare("SELECT body FROM msg ORDER BY id")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let v: Vec<u8> = r.get(0)?;
            b += v.len();
            m += 1;
        }
        let mut st = self.conn.prepare("SELECT k, body FROM out ORDER BY k")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let k: Vec<u8> = r.get(0)?;
            let v: Vec<u8> = r.get(1)?;
            b += k.len() + v.len();
            o += 1;
        }
        Ok((m, o, b))
    }
}
