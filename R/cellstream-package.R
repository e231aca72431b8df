#' cellstream: single-cell analysis that streams from disk
#'
#' A store is a directory written once by [ingest_mtx()]: cell-major and gene-major chunk
#' files of raw counts and normalised values, and a DuckDB database of cell (`obs`) and gene
#' (`var`) metadata. Every verb reads from the store in Rust; R receives small results.
#'
#' @keywords internal
#' @useDynLib cellstream, .registration = TRUE
"_PACKAGE"
