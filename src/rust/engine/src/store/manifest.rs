//! The store manifest (`manifest.json`) and the staging protocol that makes a store appear
//! atomically: everything is written in a hidden sibling directory, the manifest is renamed
//! into place last inside it, then the directory is renamed to the store's name.

use crate::error::{Error, IoContext, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

pub const STORE_MAGIC: &str = "cellstream-store";
pub const STORE_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const CELLS_FILE: &str = "cells.chunks";
pub const GENES_FILE: &str = "genes.chunks";
pub const META_FILE: &str = "meta.duckdb";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub magic: String,
    pub format_version: u32,
    pub created_by: String,
    /// Unique per store: tells a cached open store from a new one written at the same path.
    pub store_id: String,
    pub n_cells: u64,
    pub n_genes: u64,
    pub nnz: u64,
    pub target_sum: f64,
    pub ingest: IngestRecord,
}

/// How the store was made: the source and the filters applied at ingest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestRecord {
    pub source: String,
    pub input_cells: u64,
    pub input_genes: u64,
    pub min_cells: u32,
    pub min_genes: u32,
    pub min_counts: u64,
}

impl Manifest {
    pub fn read(store: &Path) -> Result<Self> {
        let path = store.join(MANIFEST_FILE);
        if !store.is_dir() {
            return Err(Error::Request(format!(
                "'{}' does not exist or is not a directory",
                store.display()
            )));
        }
        if !path.is_file() {
            return Err(Error::Corrupt(format!(
                "'{}' is not a cellstream store: it has no {MANIFEST_FILE} (an interrupted ingest leaves \
                    none; ingest again)",
                store.display()
            )));
        }
        let text = fs::read_to_string(&path).ctx("cannot read", &path)?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| Error::Corrupt(format!("'{}' is damaged: {e}", path.display())))?;
        if m.magic != STORE_MAGIC {
            return Err(Error::Corrupt(format!(
                "'{}' is not a cellstream manifest",
                path.display()
            )));
        }
        if m.format_version != STORE_VERSION {
            return Err(Error::Corrupt(format!(
                "store '{}' has format version {}; this cellstream reads version {STORE_VERSION}",
                store.display(),
                m.format_version
            )));
        }
        Ok(m)
    }
}

/// A fresh identifier for a new store (time, process and a counter; not a secret).
pub fn new_store_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// A store being written. Dropping it without [`StagedStore::commit`] removes everything.
pub struct StagedStore {
    target: PathBuf,
    dir: PathBuf,
    committed: bool,
}

impl StagedStore {
    pub fn begin(target: &Path) -> Result<Self> {
        if target.exists() {
            let what = if target.join(MANIFEST_FILE).is_file() {
                "a cellstream store"
            } else {
                "a file or directory"
            };
            return Err(Error::Request(format!(
                "'{}' already holds {what}; choose a new path or delete it first (cellstream never \
                    overwrites)",
                target.display()
            )));
        }
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(Error::Request(format!(
                "the folder '{}' for the new store does not exist",
                parent.display()
            )));
        }
        let name = target
            .file_name()
            .ok_or_else(|| Error::Request(format!("'{}' is not a valid store path", target.display())))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = parent.join(format!(
            ".{}.partial-{}-{nanos}",
            name.to_string_lossy(),
            std::process::id()
        ));
        fs::create_dir(&dir).ctx("cannot create", &dir)?;
        Ok(StagedStore {
            target: target.to_path_buf(),
            dir,
            committed: false,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn commit(mut self, manifest: &Manifest) -> Result<()> {
        let tmp = self.dir.join(format!("{MANIFEST_FILE}.tmp"));
        let text = serde_json::to_string_pretty(manifest).expect("manifest serialises");
        fs::write(&tmp, text).ctx("cannot write", &tmp)?;
        fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .ctx("cannot sync", &tmp)?;
        fs::rename(&tmp, self.dir.join(MANIFEST_FILE)).ctx("cannot write manifest in", &self.dir)?;
        sync_dir(&self.dir)?;
        if self.target.exists() {
            return Err(Error::Request(format!(
                "'{}' appeared while the store was being written",
                self.target.display()
            )));
        }
        fs::rename(&self.dir, &self.target).ctx("cannot move the finished store to", &self.target)?;
        self.committed = true;
        sync_dir(
            self.target
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
    }
}

impl Drop for StagedStore {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .ctx("cannot sync", dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            magic: STORE_MAGIC.into(),
            format_version: STORE_VERSION,
            created_by: "test".into(),
            store_id: new_store_id(),
            n_cells: 3,
            n_genes: 2,
            nnz: 4,
            target_sum: 1e4,
            ingest: IngestRecord {
                source: "x".into(),
                input_cells: 3,
                input_genes: 2,
                min_cells: 0,
                min_genes: 0,
                min_counts: 0,
            },
        }
    }

    #[test]
    fn store_appears_only_on_commit_and_abandoned_staging_is_removed() {
        let root = crate::testdir::TestDir::new();
        let target = root.path().join("s");
        let staged = StagedStore::begin(&target).unwrap();
        fs::write(staged.dir().join("x"), b"1").unwrap();
        assert!(!target.exists());
        drop(staged);
        assert_eq!(
            fs::read_dir(root.path()).unwrap().count(),
            0,
            "staging directory removed"
        );

        let staged = StagedStore::begin(&target).unwrap();
        let m = manifest();
        staged.commit(&m).unwrap();
        assert_eq!(Manifest::read(&target).unwrap(), m);
        assert_ne!(new_store_id(), new_store_id());
        let again = StagedStore::begin(&target).err().unwrap().to_string();
        assert!(again.contains("already holds a cellstream store"), "{again}");
    }

    #[test]
    fn directory_without_manifest_is_not_a_store() {
        let root = crate::testdir::TestDir::new();
        let msg = Manifest::read(root.path()).unwrap_err().to_string();
        assert!(msg.contains("not a cellstream store"), "{msg}");
    }
}
