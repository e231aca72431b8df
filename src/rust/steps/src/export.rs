//! Writing a store's cells and genes, with their obs and var columns, as an h5ad file.

use crate::{MetaDb, Result};
use cellstream_engine::frame::{Column, Frame};
use cellstream_engine::monitor::Monitor;
use cellstream_engine::output::h5ad::{write_h5ad, FrameOut, H5adContent};
use cellstream_engine::store::Store;
use std::path::Path;

/// `cells` and `genes` are 0-based store indices in output order.
pub fn export_h5ad(
    store: &Store,
    db: &MetaDb,
    path: &Path,
    cells: &[u32],
    genes: &[u32],
    norm_layer: bool,
    monitor: Monitor,
) -> Result<()> {
    let (obs_index, obs) = rows(db, "obs", "cell_index", "cell_id", cells)?;
    let (var_index, var) = rows(db, "var", "gene_index", "gene_id", genes)?;
    let content = H5adContent {
        cells,
        genes,
        obs: FrameOut {
            index: &obs_index,
            columns: &obs,
        },
        var: FrameOut {
            index: &var_index,
            columns: &var,
        },
        norm_layer,
    };
    write_h5ad(store, path, &content, monitor).map_err(|e| e.to_string())
}

/// The rows `at` of a table (all columns but the row number), split into the id column and
/// the others.
fn rows(db: &MetaDb, table: &str, row_number: &str, id: &str, at: &[u32]) -> Result<(Vec<String>, Frame)> {
    let mut all = db
        .query(&format!(
            "SELECT * EXCLUDE ({row_number}) FROM {table} ORDER BY {row_number}"
        ))?
        .take(at);
    let ids = match all.remove(id) {
        Some(Column::Text(v)) => v.into_iter().map(Option::unwrap_or_default).collect(),
        _ => {
            return Err(format!(
                "the {table} table has no text column {id}; the store is damaged"
            ))
        }
    };
    Ok((ids, all))
}
