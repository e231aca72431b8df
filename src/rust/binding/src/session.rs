//! Stores opened in this R session, kept open between calls: opening DuckDB and reading the
//! chunk offset tables costs far more than most requests. Each call re-reads the small
//! manifest and reopens when the store at that path was replaced (a new `store_id`).
//! `close_store()` in R releases a store (and its DuckDB lock) for other processes.

use super::Res;
use cellstream_engine::store::manifest::{Manifest, META_FILE};
use cellstream_engine::store::Store;
use cellstream_steps::MetaDb;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

pub struct OpenStore {
    pub store: Store,
    db: Mutex<MetaDb>,
    cell_ids: OnceLock<Vec<String>>,
    gene_ids: OnceLock<Vec<String>>,
}

fn registry() -> MutexGuard<'static, HashMap<PathBuf, Arc<OpenStore>>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Arc<OpenStore>>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn open(path: &Path) -> Res<Arc<OpenStore>> {
    let manifest = Manifest::read(path).map_err(|e| {
        registry().remove(path);
        e.to_string()
    })?;
    let mut open = registry();
    if let Some(s) = open.get(path) {
        if s.store.manifest.store_id == manifest.store_id {
            return Ok(s.clone());
        }
    }
    open.remove(path);
    let store = Store::open(path).map_err(|e| e.to_string())?;
    let db = MetaDb::open(&path.join(META_FILE))?;
    let s = Arc::new(OpenStore {
        store,
        db: Mutex::new(db),
        cell_ids: OnceLock::new(),
        gene_ids: OnceLock::new(),
    });
    open.insert(path.to_path_buf(), s.clone());
    Ok(s)
}

/// Forgets an open store; true if it was open.
pub fn close(path: &Path) -> bool {
    registry().remove(path).is_some()
}

impl OpenStore {
    pub fn db(&self) -> MutexGuard<'_, MetaDb> {
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Cell ids in store order (immutable after ingest, so read once).
    pub fn cell_ids(&self) -> Res<&[String]> {
        cached(&self.cell_ids, || self.db().text_column("obs", "cell_id"))
    }

    pub fn gene_ids(&self) -> Res<&[String]> {
        cached(&self.gene_ids, || self.db().text_column("var", "gene_id"))
    }
}

fn cached(cell: &OnceLock<Vec<String>>, load: impl FnOnce() -> Res<Vec<String>>) -> Res<&[String]> {
    if let Some(v) = cell.get() {
        return Ok(v);
    }
    let v = load()?;
    Ok(cell.get_or_init(|| v))
}
