//! Per-cell columns of a readers' snapshot, read from DuckDB once: a snapshot never changes,
//! so the kept flags, numbers and group values that reads of millions of cells need (library
//! sizes, clusters) stay valid as long as its reader. Writers' connections keep no cache.

use crate::{MetaDb, Result};
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Entry = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
pub(crate) struct CellCache {
    entries: Mutex<HashMap<String, Entry>>,
}

/// An obs column as text: each cell's position in `values` (u32::MAX where missing).
pub(crate) struct Factor {
    pub code: Vec<u32>,
    pub values: Vec<String>,
}

impl MetaDb {
    /// `load(self)`, remembered under `key` on a reader (recomputed on a writer).
    pub(crate) fn remembered<T: Send + Sync + 'static>(
        &self,
        key: &str,
        load: impl FnOnce(&Self) -> Result<T>,
    ) -> Result<Arc<T>> {
        let Some(cache) = &self.cache else {
            return load(self).map(Arc::new);
        };
        if let Some(hit) = lock(cache).get(key).and_then(|e| e.clone().downcast::<T>().ok()) {
            return Ok(hit);
        }
        let value = Arc::new(load(self)?);
        lock(cache).insert(key.to_string(), value.clone());
        Ok(value)
    }
}

fn lock(cache: &CellCache) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
    cache
        .entries
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
