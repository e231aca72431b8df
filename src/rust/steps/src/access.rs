//! How processes share a store. A writer (a process running a step) holds the store's write
//! lock for the whole step and alone opens `meta.duckdb`; after each step it publishes a copy,
//! `meta.snapshot.duckdb`, by rename. Readers (accessors, `sql()`, any number of processes)
//! open only that copy, read-only, with DuckDB's access to other files disabled and its
//! configuration locked, so they never wait for a writer, never see a half-written step and
//! cannot change the store. A result file is written under a new name and the step record that
//! names it is committed last; files that no record names (a killed step's, or those a newer
//! run replaced) are removed by the next writer, which holds the lock and so knows their owner
//! is gone.

use crate::{db_err, MetaDb, Result};
use cellstream_engine::store::lock::WriteLock;
use cellstream_engine::store::manifest::{Manifest, META_FILE};
use duckdb::{AccessMode, Config, Connection};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SNAPSHOT_FILE: &str = "meta.snapshot.duckdb";

/// How long a writer waits for another to finish before giving up with a clear error.
const WRITER_WAIT: Duration = Duration::from_secs(3);

/// The metadata of a store open for one step; [`Writer::finish`] publishes what it committed.
pub struct Writer {
    db: MetaDb,
    dir: PathBuf,
    _lock: WriteLock,
}

impl Writer {
    pub fn open(dir: &Path, manifest: &Manifest) -> Result<Self> {
        let lock = WriteLock::acquire(dir, WRITER_WAIT).map_err(|e| e.to_string())?;
        let modified = |name: &str| std::fs::metadata(dir.join(name)).and_then(|m| m.modified()).ok();
        // A writer killed after its commit left the snapshot behind (older than the database).
        let behind = modified(SNAPSHOT_FILE) < modified(META_FILE);
        let db = MetaDb::open(&dir.join(META_FILE), manifest)?;
        let writer = Writer {
            db,
            dir: dir.to_path_buf(),
            _lock: lock,
        };
        if behind {
            writer.publish()?;
        } else {
            remove_unnamed_files(&writer.dir, &writer.db.result_files()?);
        }
        Ok(writer)
    }

    /// Publishes the committed state to readers and removes the result files no step names.
    pub fn finish(self) -> Result<()> {
        self.publish()
    }

    fn publish(&self) -> Result<()> {
        self.db.checkpoint()?;
        publish_snapshot(&self.dir)?;
        let named = self.db.result_files()?;
        remove_unnamed_files(&self.dir, &named);
        Ok(())
    }
}

impl std::ops::Deref for Writer {
    type Target = MetaDb;
    fn deref(&self) -> &MetaDb {
        &self.db
    }
}

impl std::ops::DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut MetaDb {
        &mut self.db
    }
}

/// Copies the checkpointed `meta.duckdb` of `dir` to the readers' snapshot, atomically.
pub(crate) fn publish_snapshot(dir: &Path) -> Result<()> {
    let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
    let failed = |e: std::io::Error| format!("cannot publish the store's metadata to readers: {e}");
    std::fs::copy(dir.join(META_FILE), &tmp).map_err(failed)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(failed)?;
    std::fs::rename(&tmp, dir.join(SNAPSHOT_FILE)).map_err(failed)
}

/// Leftovers a step can leave in a store: temporary files, and result files of a kind
/// (`pca.embedding.<id>`) that no step names.
fn remove_unnamed_files(dir: &Path, named: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let result_file = crate::steps::RESULT_KINDS
            .iter()
            .any(|kind| name.strip_prefix(kind).is_some_and(|rest| rest.starts_with('.')));
        let temporary = name.ends_with(".tmp") || name.ends_with(".new");
        if (temporary || result_file) && !named.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Opens the readers' snapshot of the store at `dir`.
pub fn open_reader(dir: &Path, manifest: &Manifest) -> Result<MetaDb> {
    let path = dir.join(SNAPSHOT_FILE);
    if !path.is_file() {
        // Only a writer killed between its commit and its first publish leaves none.
        Writer::open(dir, manifest)?.finish()?;
    }
    let config = Config::default()
        .access_mode(AccessMode::ReadOnly)
        .and_then(|c| c.enable_external_access(false))
        .and_then(|c| c.enable_autoload_extension(false))
        .and_then(|c| c.with("lock_configuration", "true"))
        .map_err(db_err("cannot configure the metadata reader"))?;
    let conn = Connection::open_with_flags(&path, config).map_err(db_err(&format!(
        "cannot open the metadata of the store '{}'",
        dir.display()
    )))?;
    let db = MetaDb {
        conn,
        cache: Some(Default::default()),
    };
    db.check_owner(manifest)?;
    db.register_expr(dir, manifest.target_sum)?;
    Ok(db)
}
