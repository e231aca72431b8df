#' Ingest a 10x MTX matrix into a new store
#'
#' Streams the matrix twice (a pre-scan, then a write pass) and never holds it in memory:
#' genes detected in fewer than `min_cells` cells are dropped, then cells with fewer than
#' `min_genes` genes or `min_counts` counts (over the kept genes) are dropped, as Seurat's
#' `CreateSeuratObject(min.cells, min.features)`. Raw counts and log-normalised values
#' (`log1p(count / library size * target_sum)`, Seurat's `LogNormalize`) are written
#' cell-major and gene-major. The store appears only when complete; on error nothing is left.
#' Files sorted by cell (as Cell Ranger writes them) stream directly; other orders are
#' grouped by cell through temporary files first (one extra pass). Ctrl-C stops the ingest
#' between batches and removes its partial files.
#'
#' @param path A 10x directory (Cell Ranger 2: `matrix.mtx`, `genes.tsv`, `barcodes.tsv`;
#'   Cell Ranger 3: the same gzipped, with `features.tsv.gz`), or the path of the matrix
#'   file itself when `features` and `barcodes` are given.
#' @param store Path of the new store (a directory that must not exist yet).
#' @param features,barcodes Explicit feature and barcode files (with a matrix file `path`).
#' @param min_cells Keep genes detected in at least this many cells (default 0, as Seurat).
#' @param min_genes Keep cells with at least this many genes detected (default 0, as Seurat).
#' @param min_counts Keep cells with at least this many counts (default 0, as scanpy).
#' @param target_sum Counts per cell after scaling, before `log1p` (1e4, as Seurat).
#' @return The opened store (see [open_store()]).
#' @examples
#' dir <- simulate_counts(300, 200, path = tempfile())
#' x <- ingest_mtx(dir, tempfile(), min_cells = 3)
#' x
#' @export
ingest_mtx <- function(path, store, features = NULL, barcodes = NULL, min_cells = 0,
                       min_genes = 0, min_counts = 0, target_sum = 1e4) {
  if (xor(is.null(features), is.null(barcodes))) {
    stop("give both `features` and `barcodes` files, or neither (with a 10x directory)", call. = FALSE)
  }
  expand <- function(p) if (is.null(p)) NULL else path.expand(p)
  rust(wrap__cs_ingest_mtx, path.expand(path), expand(features), expand(barcodes),
       path.expand(store), min_cells, min_genes, min_counts, target_sum)
  open_store(store)
}
