//! Stores opened in this R session, kept between calls: reading the chunk offset tables and
//! opening DuckDB cost far more than most requests. Each call re-reads the small manifest and
//! reopens when the store at that path was replaced (a new `store_id`). Reads go through the
//! readers' snapshot of the metadata, reopened whenever a writer published a new one; each
//! step opens the store for writing for its own duration (see the steps crate's `access`).
//! `close_store()` in R forgets a store.

use super::Res;
use cellstream_engine::store::manifest::Manifest;
use cellstream_engine::store::Store;
use cellstream_steps::{open_reader, MetaDb, Writer, SNAPSHOT_FILE};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

pub struct OpenStore {
    pub store: Store,
    reader: Mutex<Option<Reader>>,
    cell_ids: OnceLock<Vec<String>>,
    gene_ids: OnceLock<Vec<String>>,
    gene_symbols: OnceLock<Vec<String>>,
}

/// A reader and the snapshot file it opened (inode, change time), to tell a newer one.
struct Reader {
    db: MetaDb,
    stamp: (u64, i64, i64),
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
    let s = Arc::new(OpenStore {
        store: Store::open(path).map_err(|e| e.to_string())?,
        reader: Mutex::new(None),
        cell_ids: OnceLock::new(),
        gene_ids: OnceLock::new(),
        gene_symbols: OnceLock::new(),
    });
    s.read(|_| Ok(()))?;
    open.insert(path.to_path_buf(), s.clone());
    Ok(s)
}

/// Forgets an open store; true if it was open.
pub fn close(path: &Path) -> bool {
    registry().remove(path).is_some()
}

impl OpenStore {
    /// Runs `body` on the current snapshot; once more on a newer one if a writer published
    /// one meanwhile (the files it named may have been replaced).
    pub fn read<T>(&self, body: impl Fn(&MetaDb) -> Res<T>) -> Res<T> {
        let mut reader = self
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let outcome = body(&self.current(&mut reader)?.db);
        match outcome {
            Err(_) if self.snapshot_stamp() != reader.as_ref().map(|r| r.stamp) => {
                body(&self.current(&mut reader)?.db)
            }
            other => other,
        }
    }

    /// Runs `body` as this store's one writer, then publishes what it committed.
    pub fn write<T>(&self, body: impl FnOnce(&mut Writer) -> Res<T>) -> Res<T> {
        let mut writer = Writer::open(&self.store.path, &self.store.manifest)?;
        let outcome = body(&mut writer);
        let published = writer.finish();
        let value = outcome?;
        published?;
        Ok(value)
    }

    fn current<'a>(&self, reader: &'a mut Option<Reader>) -> Res<&'a Reader> {
        let stamp = self.snapshot_stamp();
        if reader.as_ref().map(|r| Some(r.stamp)) != Some(stamp) {
            *reader = None;
            let db = open_reader(&self.store.path, &self.store.manifest)?;
            let stamp = self.snapshot_stamp().unwrap_or_default();
            *reader = Some(Reader { db, stamp });
        }
        Ok(reader.as_ref().expect("opened above"))
    }

    fn snapshot_stamp(&self) -> Option<(u64, i64, i64)> {
        let m = std::fs::metadata(self.store.path.join(SNAPSHOT_FILE)).ok()?;
        Some((m.ino(), m.ctime(), m.ctime_nsec()))
    }

    /// Cell ids in store order (immutable after ingest, so read once).
    pub fn cell_ids(&self) -> Res<&[String]> {
        cached(&self.cell_ids, || {
            self.read(|db| db.text_column("obs", "cell_id"))
        })
    }

    pub fn gene_ids(&self) -> Res<&[String]> {
        cached(&self.gene_ids, || {
            self.read(|db| db.text_column("var", "gene_id"))
        })
    }

    pub fn gene_symbols(&self) -> Res<&[String]> {
        cached(&self.gene_symbols, || {
            self.read(|db| db.text_column("var", "symbol"))
        })
    }
}

fn cached(cell: &OnceLock<Vec<String>>, load: impl FnOnce() -> Res<Vec<String>>) -> Res<&[String]> {
    if let Some(v) = cell.get() {
        return Ok(v);
    }
    let v = load()?;
    Ok(cell.get_or_init(|| v))
}
