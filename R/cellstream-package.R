#' cellstream: single-cell analysis that streams from disk
#'
#' A store is a directory written once by [ingest_mtx()]: cell-major and gene-major chunk
#' files of raw counts and normalised values, and a DuckDB database of cell (`obs`) and gene
#' (`var`) metadata. Every verb reads from the store in Rust; R receives small results.
#'
#' @keywords internal
#' @useDynLib cellstream, .registration = TRUE
"_PACKAGE"

# ggplot2's data pronoun in aes(); ggplot2 is used through `ggplot2::` only, so that loading
# cellstream does not load it.
utils::globalVariables(".data")
