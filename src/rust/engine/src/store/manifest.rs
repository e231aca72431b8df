//! The store manifest (`manifest.json`) and the staging protocol that makes a store appear
//! atomically: everything is written in a hidden sibling directory, the manifest is renamed
//! into place last inside it, then the directory is renamed to the store's name. The manifest
//! carries a checksum of its content, and every other file of the store carries the store's
//! tag (a hash of its id), so a damaged manifest or a file of another store is refused.

use crate::error::{Error, IoContext, Result};
use crate::store::lock::{abandoned, WriteLock};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const STORE_MAGIC: &str = "cellstream-store";
pub const STORE_VERSION: u32 = 2;
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

/// The manifest as written: its fields and the CRC-32 (hex) of their compact JSON.
#[derive(Serialize, Deserialize)]
struct ManifestFile {
    #[serde(flatten)]
    manifest: Manifest,
    checksum: String,
}

fn checksum(m: &Manifest) -> String {
    format!(
        "{:08x}",
        crc32fast::hash(serde_json::to_string(m).expect("manifest serialises").as_bytes())
    )
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
        let damaged = |why: String| Error::Corrupt(format!("'{}' is damaged: {why}", path.display()));
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| damaged(e.to_string()))?;
        if value.get("magic").and_then(|m| m.as_str()) != Some(STORE_MAGIC) {
            return Err(Error::Corrupt(format!(
                "'{}' is not a cellstream manifest",
                path.display()
            )));
        }
        let version = value.get("format_version").and_then(|v| v.as_u64());
        if version != Some(STORE_VERSION as u64) {
            let version = version.map_or("unknown".to_string(), |v| v.to_string());
            return Err(Error::Corrupt(format!(
                "store '{}' has format version {version}; this cellstream reads version {STORE_VERSION}. \
                    Version-1 stores (earlier cellstream) have no checksums: ingest the input \
                    again to make a version-2 store (results are recomputed from it)",
                store.display(),
            )));
        }
        let file: ManifestFile = serde_json::from_value(value).map_err(|e| damaged(e.to_string()))?;
        if checksum(&file.manifest) != file.checksum {
            return Err(damaged(
                "its content does not match its checksum (was it edited?); the store cannot be trusted: \
                    ingest the input again"
                    .into(),
            ));
        }
        let m = file.manifest;
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

impl Manifest {
    /// The tag every file of this store carries.
    pub fn tag(&self) -> u64 {
        store_tag(&self.store_id)
    }
}

/// A store's tag: the 64-bit FNV-1a hash of its id.
pub fn store_tag(store_id: &str) -> u64 {
    store_id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A store being written. Dropping it without [`StagedStore::commit`] removes everything.
/// Its writer holds the staging folder's write lock, so that another process can tell a
/// staging folder in use from one whose writer was killed.
pub struct StagedStore {
    target: PathBuf,
    dir: PathBuf,
    committed: bool,
    _lock: WriteLock,
}

const STAGING_MARK: &str = ".partial-";

/// Removes the staging folders in `parent` whose writers are gone (killed processes).
fn remove_abandoned_staging(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with('.')
            && name.contains(STAGING_MARK)
            && path.is_dir()
            && abandoned(&path, Duration::from_secs(600))
        {
            let _ = fs::remove_dir_all(&path);
        }
    }
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
        remove_abandoned_staging(&parent);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = parent.join(format!(
            ".{}{STAGING_MARK}{}-{nanos}",
            name.to_string_lossy(),
            std::process::id()
        ));
        fs::create_dir(&dir).ctx("cannot create", &dir)?;
        let lock = WriteLock::acquire(&dir, Duration::ZERO).inspect_err(|_| {
            let _ = fs::remove_dir_all(&dir);
        })?;
        Ok(StagedStore {
            target: target.to_path_buf(),
            dir,
            committed: false,
            _lock: lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn commit(mut self, manifest: &Manifest) -> Result<()> {
        let tmp = self.dir.join(format!("{MANIFEST_FILE}.tmp"));
        let file = ManifestFile {
            manifest: manifest.clone(),
            checksum: checksum(manifest),
        };
        let text = serde_json::to_string_pretty(&file).expect("manifest serialises");
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
    fn staging_left_by_a_killed_writer_is_removed_but_one_in_use_is_not() {
        let root = crate::testdir::TestDir::new();
        let live = StagedStore::begin(&root.path().join("a")).unwrap();
        let dead = root.path().join(".b.partial-1-2");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join(crate::store::lock::LOCK_FILE), b"1").unwrap();
        let unlocked_recent = root.path().join(".c.partial-1-2");
        fs::create_dir(&unlocked_recent).unwrap();
        let _next = StagedStore::begin(&root.path().join("d")).unwrap();
        assert!(live.dir().is_dir() && unlocked_recent.is_dir());
        assert!(!dead.exists());
    }

    #[test]
    fn an_edited_or_old_manifest_is_refused() {
        let root = crate::testdir::TestDir::new();
        let target = root.path().join("s");
        StagedStore::begin(&target).unwrap().commit(&manifest()).unwrap();
        let path = target.join(MANIFEST_FILE);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replace("10000.0", "20000.0")).unwrap();
        let msg = Manifest::read(&target).unwrap_err().to_string();
        assert!(msg.contains("does not match its checksum"), "{msg}");
        fs::write(
            &path,
            text.replace("\"format_version\": 2", "\"format_version\": 1"),
        )
        .unwrap();
        let msg = Manifest::read(&target).unwrap_err().to_string();
        assert!(
            msg.contains("format version 1") && msg.contains("ingest the input again"),
            "{msg}"
        );
    }

    #[test]
    fn directory_without_manifest_is_not_a_store() {
        let root = crate::testdir::TestDir::new();
        let msg = Manifest::read(root.path()).unwrap_err().to_string();
        assert!(msg.contains("not a cellstream store"), "{msg}");
    }
}
