#' Find highly variable genes
#'
#' One streaming pass over the gene-major chunks, on the kept cells only (see [set_keep()]).
#'
#' - `"vst"` (default), Seurat v3's `FindVariableFeatures(selection.method = "vst")`: mean and
#'   variance of raw counts per gene; a loess (span 0.3, degree 2) of log10 variance on log10
#'   mean gives each gene's expected variance; values standardised by it and clipped at
#'   sqrt(number of cells) give `hvg_variance_standardized`, which ranks the genes.
#' - `"dispersion"`, Seurat v1 / scanpy's `flavor = "seurat"`: mean and variance of normalised
#'   counts; log dispersion z-scored within 20 bins of mean (`hvg_dispersion_norm`) ranks the
#'   genes. `hvg_mean` is then log1p of the mean normalised count (as scanpy's `means`).
#'
#' With `batch`, each batch ranks its genes; genes are ordered by the number of batches that
#' place them in their top `n` (`hvg_n_batches`), then by their median rank there (Seurat's
#' `SelectIntegrationFeatures()`, scanpy's `batch_key`); statistics are batch averages.
#'
#' The result is stored in [var()] (`hvg_*` columns, `hvg_rank`, `highly_variable`) and
#' stamped with the kept-cell generation: after [set_keep()] it is stale, and [hvg()] (and
#' every later step using it) stops with an error until `find_hvg()` is run again.
#'
#' @param x A store.
#' @param n Number of genes to select (2000, as Seurat's `nfeatures` and scanpy's common
#'   `n_top_genes`).
#' @param method `"vst"` or `"dispersion"`.
#' @param batch An obs column naming each cell's batch, or `NULL`.
#' @param verbose Show a progress bar and a one-line summary (`TRUE`).
#' @return The store, invisibly; [hvg()] reads the genes.
#' @examples
#' x <- ingest_mtx(simulate_counts(500, 400, path = tempfile()), tempfile(), min_cells = 3)
#' x |> find_hvg(n = 100)
#' head(hvg(x))
#' @export
find_hvg <- function(x, n = 2000, method = c("vst", "dispersion"), batch = NULL, verbose = TRUE) {
  method <- match.arg(method)
  check_whole(n, "n", 1)
  if (n > x$dim[2]) {
    stop(sprintf("`n` (%s) is larger than the number of genes in the store (%s)", num(n), num(x$dim[2])),
         call. = FALSE)
  }
  rust(wrap__cs_hvg, x$path, method, as.numeric(n), batch, progress_reporter(verbose))
  if (isTRUE(verbose)) {
    top <- hvg(x)
    say(verbose, "%s highly variable genes (%s) on %s kept cells; top: %s", num(nrow(top)), method,
        num(store_info(x)$n_kept), paste(utils::head(top$symbol, 5), collapse = ", "))
  }
  invisible(x)
}

#' The highly variable genes
#'
#' @param x A store.
#' @param all `FALSE`: the selected genes in rank order; `TRUE`: every gene in store order.
#' @return A data.frame with `gene_id`, `symbol` and the `hvg_*` statistics, `hvg_rank` and
#'   `highly_variable`. An error if [find_hvg()] has not been run, or if the kept cells
#'   changed since.
#' @export
hvg <- function(x, all = FALSE) {
  genes <- step_genes(x, "hvg")
  if (all) genes else selected_hvg(genes)
}

selected_hvg <- function(genes) {
  top <- genes[genes$highly_variable, , drop = FALSE]
  top <- top[order(top$hvg_rank), , drop = FALSE]
  rownames(top) <- NULL
  top
}
