//! The key-value engine under the store: a few ordered tables, atomic batches.
//! [`MemoryEngine`] backs the `memory` mode; the disk engine is in
//! `disk_engine.rs` (see `docs/store-engine.md` for why that engine).

use super::codec::{KvOp, Table};
use super::error::StoreError;
use std::collections::BTreeMap;

/// Receives one (key, value) of a scan; an error stops the scan.
pub(crate) type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StoreError> + 'a;

/// What the store needs from a storage engine.
pub(crate) trait Engine: Send {
    /// Applies `ops` in order as one atomic transaction. With `fsync` the
    /// transaction is on stable storage when this returns; without, it survives
    /// a crash of the process but maybe not of the machine.
    fn commit(&mut self, ops: &[KvOp], fsync: bool) -> Result<(), StoreError>;

    /// Calls `visit` with every (key, value) of `table` in key order.
    fn scan(&self, table: Table, visit: &mut Visit<'_>) -> Result<(), StoreError>;
}

/// Ordered maps in memory: the `memory` mode, and a model for tests.
#[derive(Debug, Default)]
pub(crate) struct MemoryEngine {
    tables: BTreeMap<Table, BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl Engine for MemoryEngine {
    fn commit(&mut self, ops: &[KvOp], _fsync: bool) -> Result<(), StoreError> {
        for op in ops {
            let t = self.tables.entry(op.table).or_default();
            match &op.value {
                Some(v) => {
                    t.insert(op.key.clone(), v.clone());
                }
                None => {
                    t.remove(&op.key);
                }
            }
        }
        Ok(())
    }

    fn scan(&self, table: Table, visit: &mut Visit<'_>) -> Result<(), StoreError> {
        if let Some(t) = self.tables.get(&table) {
            for (k, v) in t {
                visit(k, v)?;
            }
        }
        Ok(())
    }
}
