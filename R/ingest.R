#' Ingest counts into a new store
#'
#' Each input is streamed twice (a pre-scan, then a write pass) and never held in memory.
#' Filters run in the order of Seurat's `CreateSeuratObject(min.cells, min.features)` (and
#' of scanpy's tutorial, `filter_cells()` then `filter_genes()`): cells with fewer than
#' `min_genes` genes or `min_counts` counts over all genes are dropped, then genes detected
#' in fewer than `min_cells` of the kept cells. `n_counts` and `n_genes` in [obs()] are then
#' counted over the kept genes (Seurat's `nCount_RNA` and `nFeature_RNA`), so a kept cell
#' can show fewer than `min_genes` genes. Raw counts and log-normalised values
#' (`log1p(count / library size * target_sum)`, Seurat's `LogNormalize`) are written
#' cell-major and gene-major. The store appears only when complete; on error or Ctrl-C
#' nothing is left.
#'
#' Several inputs make one store: give them as a named vector (or with `samples`). Cells
#' then get the id `<sample>_<barcode>` (as Seurat's `merge(add.cell.ids =)`) and a `sample`
#' column in [obs()]; genes are matched by id and the store holds their union or their
#' intersection (`genes`). Input columns whose names clash with cellstream's own (`n_counts`,
#' `sample`, ...) are kept with the suffix `_input`.
#'
#' @param path Input file(s) or 10x directory(ies); a named vector names the samples.
#' @param store Path of the new store (a directory that must not exist yet).
#' @param samples Sample names, one per input (default: the names of `path`; required for
#'   several unnamed inputs unless their file names differ, which are then used).
#' @param genes With several inputs, keep the `"union"` (default, as Seurat's `merge()`) or the
#'   `"intersection"` (as scanpy's `concat()` default) of their genes.
#' @param min_cells Keep genes detected in at least this many kept cells (default 0, as
#'   Seurat's `min.cells`).
#' @param min_genes Keep cells with at least this many genes detected, over all genes
#'   (default 0, as Seurat's `min.features`).
#' @param min_counts Keep cells with at least this many counts, over all genes (default 0, as
#'   scanpy's `filter_cells(min_counts)`).
#' @param target_sum Counts per cell after scaling, before `log1p` (1e4, as Seurat).
#' @param verbose Show progress bars (pre-scan, writing cells, writing genes), the reader's
#'   notes and a one-line summary (`TRUE`).
#' @return The opened store (see [open_store()]), invisibly.
#' @name ingest
NULL

#' @describeIn ingest 10x MTX directories (Cell Ranger 2: `matrix.mtx`, `genes.tsv`,
#'   `barcodes.tsv`; Cell Ranger 3: the same gzipped, with `features.tsv.gz`), or matrix
#'   files with explicit `features` and `barcodes`. Entries need not be sorted. All feature
#'   types are kept (see `feature_type` in [var()]).
#' @param features,barcodes Explicit feature and barcode files, one per matrix file `path`.
#' @examples
#' dir <- simulate_counts(300, 200, path = tempfile())
#' x <- ingest_mtx(dir, tempfile(), min_cells = 3)
#' print(x)
#' @export
ingest_mtx <- function(path, store, features = NULL, barcodes = NULL, samples = names(path),
                       genes = c("union", "intersection"), min_cells = 0, min_genes = 0,
                       min_counts = 0, target_sum = 1e4, verbose = TRUE) {
  if (xor(is.null(features), is.null(barcodes))) {
    stop("give both `features` and `barcodes` files, or neither (with a 10x directory)", call. = FALSE)
  }
  if (!is.null(features) && (length(features) != length(path) || length(barcodes) != length(path))) {
    stop("give one `features` and one `barcodes` file per matrix file", call. = FALSE)
  }
  expand <- function(p) if (is.null(p)) NULL else path.expand(p)
  run_ingest(wrap__cs_ingest_mtx, store, path, samples, genes,
             min_cells, min_genes, min_counts, target_sum, verbose,
             path.expand(path), expand(features), expand(barcodes))
}

#' @describeIn ingest AnnData h5ad files (from scanpy, CELLxGENE, ...). X may be stored as
#'   CSR, CSC or dense, with integer or float values; CSC and dense matrices are read in
#'   blocks. obs and var columns come along with their types (numbers, logicals, strings,
#'   categoricals as factors, nullable columns with `NA`). Gene ids come from var's
#'   `gene_ids` column when present (scanpy's `read_10x_*`), otherwise from var's index, with
#'   symbols from `symbol`, `gene_symbols` or `feature_name` (CELLxGENE).
#' @param counts Where the raw counts are: `"auto"` (default) takes the first of
#'   `layers/counts`, `raw/X` and `X` that holds whole numbers and says which; or name one:
#'   `"X"`, `"raw/X"`, `"layers/<name>"`.
#' @param allow_non_integer Counts that are not whole numbers (e.g. ambient-corrected) are an
#'   error unless `TRUE`; they are then rounded to the nearest whole number, with a message
#'   saying how many.
#' @export
ingest_h5ad <- function(path, store, counts = "auto", allow_non_integer = FALSE,
                        samples = names(path), genes = c("union", "intersection"),
                        min_cells = 0, min_genes = 0, min_counts = 0, target_sum = 1e4, verbose = TRUE) {
  run_ingest(wrap__cs_ingest_h5ad, store, path, samples, genes,
             min_cells, min_genes, min_counts, target_sum, verbose,
             path.expand(path), counts, allow_non_integer)
}

#' @describeIn ingest 10x Genomics HDF5 files (`filtered_feature_bc_matrix.h5`): Cell Ranger 3+
#'   (`/matrix`, features chosen by type) and Cell Ranger 2 (one group per genome; several
#'   genomes are combined, their gene ids prefixed with the genome, unless one is chosen).
#' @param genome Read only this genome (default `NULL`: all).
#' @param feature_types Feature types to keep (Cell Ranger 3+; default `"Gene Expression"`,
#'   as Seurat's `Read10X_h5()` list element and scanpy's `gex_only = TRUE`); `NULL` keeps all.
#' @export
ingest_10x_h5 <- function(path, store, genome = NULL, feature_types = "Gene Expression",
                          samples = names(path), genes = c("union", "intersection"),
                          min_cells = 0, min_genes = 0, min_counts = 0, target_sum = 1e4, verbose = TRUE) {
  run_ingest(wrap__cs_ingest_10x_h5, store, path, samples, genes,
             min_cells, min_genes, min_counts, target_sum, verbose,
             path.expand(path), genome, feature_types)
}

# Shared by the ingest verbs: sample names, gene universe, filters; reports the reader's
# notes as messages and opens the new store.
run_ingest <- function(routine, store, path, samples, genes, min_cells, min_genes, min_counts,
                       target_sum, verbose, ...) {
  genes <- match.arg(genes, c("union", "intersection"))
  if (!is.character(store) || length(store) != 1) stop("`store` must be a single string", call. = FALSE)
  samples <- sample_names(path, samples)
  filters <- list(min_cells = min_cells, min_genes = min_genes, min_counts = min_counts,
                  target_sum = target_sum)
  res <- rust(routine, ..., samples, genes, path.expand(store), filters, progress_reporter(verbose))
  if (isTRUE(verbose)) for (note in res$notes) message(note)
  x <- open_store(store)
  say(verbose, "%s", ingest_summary(store_info(x)))
  invisible(x)
}

sample_names <- function(path, samples) {
  if (length(path) == 0) stop("`path` names no input", call. = FALSE)
  if (is.null(samples) && length(path) > 1) {
    samples <- sub("\\.(h5ad|h5|mtx(\\.gz)?)$", "", basename(path))
    if (anyDuplicated(samples)) {
      stop("several inputs need sample names: give `samples` or name the `path` vector", call. = FALSE)
    }
  }
  if (!is.null(samples) && (length(samples) != length(path) || anyNA(samples) || any(samples == ""))) {
    stop(sprintf("`samples` must give %d non-empty names, one per input", length(path)), call. = FALSE)
  }
  if (anyDuplicated(samples)) {
    stop(sprintf("sample name '%s' is given twice; sample names must be unique",
                 samples[duplicated(samples)][1]), call. = FALSE)
  }
  samples
}
