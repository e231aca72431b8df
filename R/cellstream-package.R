#' cellstream: single-cell analysis that streams from disk
#'
#' A store is a directory written once by [ingest_mtx()]: cell-major and gene-major chunk
#' files of raw counts and normalised values, and a DuckDB database of cell (`obs`) and gene
#' (`var`) metadata. Every verb reads from the store in Rust; R receives small results.
#'
#' Every step verb (`ingest_*()`, [calculate_qc_metrics()], [find_outliers()], [set_keep()],
#' [find_hvg()], [run_pca()], [find_neighbors()], [cluster_leiden()], [run_umap()]) stores
#' its result, returns the store invisibly so that steps pipe with `|>`, and prints a
#' one-line summary; accessors ([obs()], [qc_metrics()], [outliers()], [hvg()], [pca()],
#' [neighbors()], [leiden_summary()], [embedding()], ...) read the results.
#'
#' Long passes show cli progress bars with what they do, done / total and an estimated time
#' left; outside an interactive console (Rscript, knitr) a line is written at each fifth of a
#' pass instead. `verbose = FALSE` on a verb silences its bars and summary;
#' `options(cellstream.progress = FALSE)` silences every bar but keeps the summaries. Errors
#' always show.
#'
#' @keywords internal
#' @useDynLib cellstream, .registration = TRUE
"_PACKAGE"

# ggplot2's data pronoun in aes(); ggplot2 is used through `ggplot2::` only, so that loading
# cellstream does not load it.
utils::globalVariables(".data")
