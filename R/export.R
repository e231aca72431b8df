#' Write a store as an h5ad file
#'
#' Streams the selected cells from the store into an AnnData file that scanpy / anndata read
#' directly: `X` holds the raw counts (float32 CSR, as scanpy's readers give), `obs` and `var`
#' hold every metadata column with its type (factors become categoricals, `NA` becomes a
#' missing value), `obs_names` are the cell ids and `var_names` the gene ids (symbols are in
#' var's `symbol` column). Memory does not grow with the number of cells; the file appears
#' only when complete.
#'
#' @param x A store.
#' @param path The h5ad file to write (must not exist).
#' @param cells,genes As in [counts()]; `cells` defaults to the kept cells ([keep()]).
#' @param layer `"raw"` writes the counts in `X`; `c("raw", "norm")` also writes the
#'   log-normalised values as `layers["logcounts"]`.
#' @param verbose Show progress bars (`TRUE`).
#' @return `path`, invisibly.
#' @examples
#' x <- ingest_mtx(simulate_counts(300, 200, path = tempfile()), tempfile())
#' write_h5ad(x, tempfile(fileext = ".h5ad"))
#' @export
write_h5ad <- function(x, path, cells = keep(x), genes = NULL, layer = "raw", verbose = TRUE) {
  layer <- match.arg(layer, c("raw", "norm"), several.ok = TRUE)
  if (!"raw" %in% layer) stop("`layer` must include \"raw\": X holds the raw counts", call. = FALSE)
  cells <- cell_positions(x, cells)
  genes <- gene_positions(x, genes)
  path <- normalizePath(path.expand(path), mustWork = FALSE)
  rust(wrap__cs_write_h5ad, x$path, path, rust_index(cells), rust_index(genes), "norm" %in% layer,
       progress_reporter(verbose))
  invisible(path)
}

#' Convert (part of) a store to a Seurat or SingleCellExperiment object
#'
#' For a subset that fits in memory: reads the counts and the normalised values of the
#' selected cells and genes, with obs as cell metadata and var as feature metadata.
#'
#' @inheritParams write_h5ad
#' @return `as_Seurat()`: a Seurat object with assay "RNA" (counts and data = the store's
#'   log-normalised values, so `NormalizeData()` need not be rerun). `as_SingleCellExperiment()`:
#'   a SingleCellExperiment with assays `counts` and `logcounts` (natural log, as Seurat).
#' @export
as_Seurat <- function(x, cells = keep(x), genes = NULL) {
  require_package("SeuratObject")
  parts <- object_parts(x, cells, genes)
  # Seurat turns "_" in feature names into "-"; keep ids as they are written there.
  rownames(parts$counts) <- rownames(parts$norm) <- gsub("_", "-", rownames(parts$counts))
  rownames(parts$var) <- rownames(parts$counts)
  obj <- SeuratObject::CreateSeuratObject(counts = parts$counts, meta.data = parts$obs)
  obj <- SeuratObject::SetAssayData(obj, slot = "data", new.data = parts$norm)
  obj[["RNA"]] <- SeuratObject::AddMetaData(obj[["RNA"]], parts$var)
  obj
}

#' @rdname as_Seurat
#' @export
as_SingleCellExperiment <- function(x, cells = keep(x), genes = NULL) {
  require_package("SingleCellExperiment")
  require_package("S4Vectors")
  parts <- object_parts(x, cells, genes)
  SingleCellExperiment::SingleCellExperiment(
    assays = list(counts = parts$counts, logcounts = parts$norm),
    colData = S4Vectors::DataFrame(parts$obs, check.names = FALSE),
    rowData = S4Vectors::DataFrame(parts$var, check.names = FALSE))
}

# Counts, normalised values, obs and var rows of a selection, ids as row names.
object_parts <- function(x, cells, genes) {
  cells <- cell_positions(x, cells)
  genes <- gene_positions(x, genes)
  obs <- obs(x)[cells, , drop = FALSE]
  var <- var(x)[genes, , drop = FALSE]
  rownames(obs) <- obs$cell_id
  rownames(var) <- var$gene_id
  list(counts = counts(x, cells, genes, layer = "raw"), norm = counts(x, cells, genes, layer = "norm"),
       obs = obs, var = var)
}

require_package <- function(pkg) {
  debian <- c(Seurat = "r-cran-seurat", SeuratObject = "r-cran-seuratobject",
              SingleCellExperiment = "r-bioc-singlecellexperiment", edgeR = "r-bioc-edger",
              DESeq2 = "r-bioc-deseq2", limma = "r-bioc-limma")
  if (!requireNamespace(pkg, quietly = TRUE)) {
    stop(sprintf("package '%s' is needed for this; on Debian/Ubuntu install %s", pkg,
                 if (pkg %in% names(debian)) debian[[pkg]] else paste0("r-cran-", tolower(pkg))), call. = FALSE)
  }
}
