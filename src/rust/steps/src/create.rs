//! Building a new store from any ingest source: chunk files by the engine, then the metadata
//! database and its readers' snapshot, then the manifest; all in a hidden staging directory that appears at the target
//! path only when complete.

use crate::access::publish_snapshot;
use crate::{MetaDb, NewObs, NewVar, Result};
use cellstream_engine::input::CellSource;
use cellstream_engine::monitor::Monitor;
use cellstream_engine::store::ingest::{ingest, IngestOptions};
use cellstream_engine::store::manifest::{StagedStore, META_FILE};
use std::path::Path;

/// Ingests `source` into a new store at `target`. Returns what the user should be told
/// (choices the reader made, values rounded, input columns renamed).
pub fn create_store(
    target: &Path,
    source: &mut dyn CellSource,
    opts: &IngestOptions,
    monitor: Monitor,
) -> Result<Vec<String>> {
    let staged = StagedStore::begin(target).map_err(|e| e.to_string())?;
    let done = ingest(source, staged.dir(), opts, monitor).map_err(|e| e.to_string())?;
    let (db, renamed) = MetaDb::create(
        &staged.dir().join(META_FILE),
        done.manifest.tag(),
        &NewObs {
            cell_id: &done.obs.cell_id,
            n_counts: &done.obs.n_counts,
            n_genes: &done.obs.n_genes,
            extra: &done.obs.extra,
        },
        &NewVar {
            gene_id: &done.var.gene_id,
            symbol: &done.var.symbol,
            feature_type: &done.var.feature_type,
            n_cells: &done.var.n_cells,
            n_counts: &done.var.n_counts,
            extra: &done.var.extra,
        },
    )?;
    drop(db);
    publish_snapshot(staged.dir())?;
    staged.commit(&done.manifest).map_err(|e| e.to_string())?;
    let mut notes = source.notes();
    notes.extend(renamed);
    Ok(notes)
}
