//! Hash tables for per-connection state, sized for 10,000s of idle connections.
//!
//! - [`KeyedSet`]: shared values (`Arc<T>`) found by a key they hold themselves
//!   (a session by its Client Identifier, a registry entry by its client's). A
//!   `HashMap<Utf8Bytes, Arc<T>>` keeps a copy of the key handle in every bucket:
//!   41 bytes a bucket, ~67 bytes per entry at the usual load; this table keeps the
//!   pointer only (9 bytes a bucket, ~15 per entry) and reads the key through it.
//! - [`Seeded`]: the hasher of the small maps every session or connection holds
//!   (subscriptions, packet ids in use, topic aliases). `RandomState` makes each
//!   map 16 bytes bigger to carry its keys; [`Seeded`] is zero-sized and hashes
//!   with one random per-process key instead, which keeps the protection against
//!   chosen-collision keys (the keys are peer-chosen topic filters and ids).

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use hashbrown::HashTable;

/// A value that carries its own key.
pub trait Keyed {
    /// The key the value is found by (never changes while it is in a set).
    fn key(&self) -> &str;
}

/// Zero-sized `BuildHasher` with one random key per process (SipHash-1-3, as
/// `RandomState`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Seeded;

impl BuildHasher for Seeded {
    type Hasher = DefaultHasher;

    #[inline]
    fn build_hasher(&self) -> DefaultHasher {
        static STATE: OnceLock<RandomState> = OnceLock::new();
        STATE.get_or_init(RandomState::new).build_hasher()
    }
}

/// A set of `Arc<T>` indexed by [`Keyed::key`]; at most one value per key.
pub struct KeyedSet<T> {
    table: HashTable<Arc<T>>,
}

impl<T> Default for KeyedSet<T> {
    fn default() -> Self {
        Self {
            table: HashTable::new(),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for KeyedSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.table.iter()).finish()
    }
}

#[inline]
fn hash(key: &str) -> u64 {
    Seeded.hash_one(key)
}

impl<T: Keyed> KeyedSet<T> {
    /// An empty set (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// The value with `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<T>> {
        self.table.find(hash(key), |v| v.key() == key)
    }

    /// Whether a value has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Adds `value`; returns the value it replaces (the one with the same key).
    pub fn insert(&mut self, value: Arc<T>) -> Option<Arc<T>> {
        let h = hash(value.key());
        match self
            .table
            .entry(h, |v| v.key() == value.key(), |v| hash(v.key()))
        {
            hashbrown::hash_table::Entry::Occupied(mut slot) => {
                Some(std::mem::replace(slot.get_mut(), value))
            }
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert(value);
                None
            }
        }
    }

    /// Removes and returns the value with `key`.
    pub fn remove(&mut self, key: &str) -> Option<Arc<T>> {
        self.remove_if(key, |_| true)
    }

    /// Removes and returns the value with `key` if `pred` accepts it.
    pub fn remove_if(&mut self, key: &str, pred: impl FnOnce(&Arc<T>) -> bool) -> Option<Arc<T>> {
        match self.table.find_entry(hash(key), |v| v.key() == key) {
            Ok(slot) if pred(slot.get()) => Some(slot.remove().0),
            _ => None,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The values, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &Arc<T>> {
        self.table.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct V(String, u32);
    impl Keyed for V {
        fn key(&self) -> &str {
            &self.0
        }
    }

    #[test]
    fn one_value_per_key_replaced_found_and_removed() {
        let mut s = KeyedSet::new();
        assert!(s.is_empty());
        for i in 0..1000u32 {
            assert!(s.insert(Arc::new(V(format!("c{i}"), i))).is_none());
        }
        let old = s.insert(Arc::new(V("c7".into(), 70)));
        assert_eq!(old.map(|v| v.1), Some(7));
        assert_eq!(s.len(), 1000);
        assert_eq!(s.get("c7").map(|v| v.1), Some(70));
        assert!(s.get("c1000").is_none());
        assert!(s.remove_if("c8", |v| v.1 == 0).is_none());
        assert!(s.contains_key("c8"));
        assert_eq!(s.remove("c8").map(|v| v.1), Some(8));
        assert!(!s.contains_key("c8"));
        assert_eq!(s.len(), 999);
        let sum: u64 = s.values().map(|v| u64::from(v.1)).sum();
        assert_eq!(sum, (0..1000u64).sum::<u64>() - 7 - 8 + 70);
    }

    #[test]
    fn seeded_maps_are_zero_sized_and_hash_consistently() {
        assert_eq!(std::mem::size_of::<Seeded>(), 0);
        let mut m: std::collections::HashMap<String, u32, Seeded> = Default::default();
        m.insert("a".into(), 1);
        assert_eq!(m.get("a"), Some(&1));
        assert_eq!(Seeded.hash_one("x"), Seeded.hash_one("x"));
    }
}
