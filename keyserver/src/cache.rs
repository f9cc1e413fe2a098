//! A least-recently-used map with a byte budget and metrics: what every
//! cache on the key path is built from, so none of them can grow without
//! bound or hide from `/metrics`.
//!
//! Each entry is charged its own estimate of the bytes it holds (the caller
//! knows what is in it) plus a fixed overhead; inserting past the budget
//! evicts the least recently used entries. `sealcast_cache_bytes{cache=…}`
//! and `sealcast_cache_entries` are gauges, `sealcast_cache_requests_total
//! {cache, result="hit"|"miss"}` counts lookups.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Mutex;

use lru::LruCache;

/// Hash-map and LRU-list bookkeeping charged to every entry.
const ENTRY_OVERHEAD: usize = 64;

/// A bounded, thread-safe LRU cache (see the module docs).
pub struct BudgetCache<K: Hash + Eq, V> {
    name: &'static str,
    budget: usize,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K: Hash + Eq, V> {
    map: LruCache<K, (V, usize)>,
    bytes: usize,
}

impl<K: Hash + Eq, V: Clone> BudgetCache<K, V> {
    /// An empty cache called `name` in metrics, holding at most `budget` bytes.
    pub fn new(name: &'static str, budget: usize) -> Self {
        Self {
            name,
            budget,
            inner: Mutex::new(Inner {
                map: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    /// The entry for `key`, if one is cached and `valid` accepts it; an entry
    /// `valid` refuses is dropped. `key` may be a borrowed form (`&str` for a
    /// `String` key), so a lookup allocates nothing; a hit changes no gauge.
    pub fn get<Q>(&self, key: &Q, valid: impl FnOnce(&V) -> bool) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.inner.lock().expect("cache lock");
        let found = match inner.map.get(key) {
            Some((value, _)) if valid(value) => Some(value.clone()),
            Some(_) => {
                if let Some((_, size)) = inner.map.pop(key) {
                    inner.bytes -= size;
                }
                self.report(&inner);
                None
            }
            None => None,
        };
        let result = if found.is_some() { "hit" } else { "miss" };
        metrics::counter!("sealcast_cache_requests_total", "cache" => self.name, "result" => result)
            .increment(1);
        found
    }

    /// Caches `value` under `key`, charged `size` bytes (what it holds beyond
    /// the fixed overhead); evicts least recently used entries to fit.
    pub fn insert(&self, key: K, value: V, size: usize) {
        let size = size + ENTRY_OVERHEAD;
        if size > self.budget {
            return;
        }
        let mut inner = self.inner.lock().expect("cache lock");
        if let Some((_, old)) = inner.map.put(key, (value, size)) {
            inner.bytes -= old;
        }
        inner.bytes += size;
        while inner.bytes > self.budget {
            match inner.map.pop_lru() {
                Some((_, (_, evicted))) => inner.bytes -= evicted,
                None => break,
            }
        }
        self.report(&inner);
    }

    /// Drops every entry (e.g. when what they were read under has changed).
    pub fn clear(&self) {
        let mut inner = self.inner.lock().expect("cache lock");
        inner.map.clear();
        inner.bytes = 0;
        self.report(&inner);
    }

    /// Bytes charged now.
    pub fn bytes(&self) -> usize {
        self.inner.lock().expect("cache lock").bytes
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("cache lock").map.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn report(&self, inner: &Inner<K, V>) {
        metrics::gauge!("sealcast_cache_bytes", "cache" => self.name).set(inner.bytes as f64);
        metrics::gauge!("sealcast_cache_entries", "cache" => self.name).set(inner.map.len() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_holds_and_the_least_recently_used_goes_first() {
        let cache = BudgetCache::new("test", 3 * (ENTRY_OVERHEAD + 10));
        for k in 0..3 {
            cache.insert(k, k * 10, 10);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&0, |_| true), Some(0)); // 0 is now the most recent
        cache.insert(3, 30, 10);
        assert_eq!(cache.len(), 3);
        assert!(cache.bytes() <= 3 * (ENTRY_OVERHEAD + 10));
        assert_eq!(cache.get(&1, |_| true), None, "least recently used");
        assert_eq!(cache.get(&0, |_| true), Some(0));
        // An entry larger than the whole budget is not cached at all.
        cache.insert(9, 90, 10_000);
        assert_eq!(cache.get(&9, |_| true), None);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn an_invalid_entry_is_dropped_and_its_bytes_returned() {
        let cache = BudgetCache::new("test", 1 << 20);
        cache.insert("a", 1, 100);
        let before = cache.bytes();
        assert_eq!(cache.get(&"a", |v| *v == 2), None);
        assert_eq!(cache.bytes(), before - (100 + ENTRY_OVERHEAD));
        assert!(cache.is_empty());
        cache.insert("b", 1, 5);
        cache.insert("b", 2, 7);
        assert_eq!(
            cache.bytes(),
            7 + ENTRY_OVERHEAD,
            "a replaced entry is charged once"
        );
        cache.clear();
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }
}
