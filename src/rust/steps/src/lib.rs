//! Runs cellstream's analysis steps on a store: each step reads the chunk files through the
//! engine, takes and records its inputs and results in the metadata database
//! (`meta.duckdb`, DuckDB), and stamps them with the kept cells they were computed on. The map:
//!
//! - `db`: the metadata database (obs / var views, kept cells, checkpoints);
//! - `access`: one writer and many readers per store (write lock, readers' snapshot, leftovers);
//! - `usersql`: the user's own read-only, interruptible queries; `exprtable`: their `expr()`
//!   table function (gene values as rows);
//! - `steps`: the record of steps, their result tables and staleness;
//! - `create`, `export`: a new store from an ingest source; a store written as h5ad;
//! - `expression`: expression summarised per group, pseudobulk sums (reads only);
//! - `analysis` (QC, outliers, kept cells, HVGs), `pca`, `graph` (neighbours, Leiden),
//!   `umap`, `markers`, `grn`: the steps themselves;
//! - `table`, `write`: query results as typed columns; typed tables filled through Arrow.

mod access;
mod analysis;
mod cellcache;
mod create;
mod db;
mod export;
mod expression;
mod exprtable;
mod graph;
mod grn;
mod markers;
mod pca;
mod steps;
mod table;
mod umap;
mod usersql;
mod write;

pub use access::{open_reader, Writer, SNAPSHOT_FILE};
pub use analysis::{
    annotate_cells, cells_where, find_hvg, find_outliers, run_qc, HvgRequest, MetricRule, QcRequest,
};
pub use create::create_store;
pub use db::{MetaDb, NewObs, NewVar};
pub use export::export_h5ad;
pub use expression::{aggregate_expression, pseudobulk, AggregateRequest, Aggregated, PseudobulkTable};
pub use graph::{
    cluster_leiden, find_neighbors, method_name, search_knn, stored_knn, stored_snn, ClusterGraph, KnnQuery,
    KnnSearch, LeidenRequest, NeighborsRequest, KNN_FILE, SNN_FILE,
};
pub use grn::{infer_grn, GrnRequest, Network};
pub use markers::{find_markers, Markers, MarkersRequest};
pub use pca::{pca_embedding, run_pca, PcaRequest, EMBEDDING_FILE};
pub use steps::{rerun_hint, StepStatus};
pub use umap::{init_of, run_umap, umap_embedding, UMAP_FILE};

pub use cellstream_engine::frame::{Column, Frame};

pub type Result<T> = std::result::Result<T, String>;

pub(crate) fn db_err(context: &str) -> impl Fn(duckdb::Error) -> String + '_ {
    move |e| format!("{context}: {e}")
}
