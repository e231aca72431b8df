#' Principal component analysis
#'
#' PCA of the kept cells x the highly variable genes on the log-normalised values, scaled and
#' clipped as Seurat's `ScaleData()` (each gene centred, divided by its standard deviation,
#' values above `clip` set to `clip`), then the leading components as Seurat's `RunPCA()`.
#' The scaled matrix is never formed: it is held as a sparse matrix minus a rank-one term,
#' and the SVD (randomised block Krylov) only multiplies it by thin dense blocks, on the CPU
#' or on a GPU (`device`).
#'
#' The result is stamped with the kept-cell generation and the HVG result it used: after
#' [set_keep()] or [find_hvg()] it is stale, and [pca()] stops until `run_pca()` is rerun.
#'
#' @param x A store.
#' @param n_pcs Number of components (50, as Seurat's `npcs`).
#' @param hvg `TRUE`: the highly variable genes of [find_hvg()]; or a vector of gene ids or
#'   unique symbols.
#' @param scale Divide each gene by its standard deviation (`TRUE`, as Seurat); `FALSE` only
#'   centres.
#' @param clip Scaled values above this are set to it (10, Seurat's `scale.max`); `Inf` for
#'   none.
#' @param method `"randomized"`: 10 extra directions and 8 Krylov blocks (18 passes over the
#'   staged matrix); on PBMC3k its PCs 1-10 match Seurat's to |r| > 0.9999 and 97.7% of
#'   30-PC neighbours agree. `"exact"`: blocks until all components converge.
#' @param seed Seed of the random start (42, as Seurat's `seed.use`).
#' @param device Where the products with the scaled matrix run (see [gpu_info()]): `"gpu"`
#'   uploads the staged matrix once and multiplies it there (PCs equal the CPU's to
#'   |r| > 0.9999, variances to 1e-5), `"cpu"` on the CPU, `"auto"` on a hardware GPU from
#'   20,000 kept cells (default: `getOption("cellstream.device", "auto")`). Staging (reading
#'   and scaling the cells) runs on the CPU either way.
#' @param verbose Show progress bars (staging, Krylov blocks) and a one-line summary
#'   (`TRUE`, as Seurat).
#' @return The store, invisibly; [pca()], [pca_loadings()] and [pca_variance()] read the
#'   result.
#' @examples
#' x <- ingest_mtx(simulate_counts(500, 400, path = tempfile()), tempfile(), min_cells = 3)
#' x |> find_hvg(n = 200) |> run_pca(n_pcs = 10)
#' head(pca(x))
#' @export
run_pca <- function(x, n_pcs = 50, hvg = TRUE, scale = TRUE, clip = 10,
                    method = c("randomized", "exact"), seed = 42,
                    device = getOption("cellstream.device", "auto"), verbose = TRUE) {
  method <- match.arg(method)
  device <- device_arg(device)
  check_whole(n_pcs, "n_pcs", 1)
  if (!is.numeric(clip) || length(clip) != 1 || is.na(clip) || clip <= 0) {
    stop("`clip` must be a positive number or Inf", call. = FALSE)
  }
  genes <- if (isTRUE(hvg)) NULL else rust_index(gene_positions(x, hvg))
  started <- Sys.time()
  used <- rust(wrap__cs_pca, x$path, as.numeric(n_pcs), isTRUE(scale), as.numeric(clip), method,
               as.numeric(seed), genes, device, gpu_adapter(), progress_reporter(verbose))
  note_device(used, verbose)
  if (isTRUE(verbose)) {
    elapsed <- as.numeric(difftime(Sys.time(), started, units = "secs"))
    say(verbose, "%d principal components (%s, on %s) in %.1f s; they explain %.1f%% of the variance",
        as.integer(n_pcs), method, used, elapsed, 100 * sum(pca_variance(x)$variance_ratio))
  }
  invisible(x)
}

#' PCA results
#'
#' Each is an error when [run_pca()] has not been run or its result is stale.
#'
#' @param x A store.
#' @return `pca()`: a data.frame with `cell_id` and `PC_1`, `PC_2`, ... (cell embeddings, as
#'   Seurat's `Embeddings()`), one row per cell the PCA used. `pca_loadings()`: `gene_id`,
#'   `symbol` and the loadings of the genes used. `pca_variance()`: `component`, `stdev`
#'   (Seurat's `Stdev()`) and `variance_ratio` (the share of the scaled data's variance, as
#'   scanpy's `variance_ratio`).
#' @export
pca <- function(x) {
  res <- rust(wrap__cs_pca_embedding, x$path)
  colnames(res$embedding) <- sprintf("PC_%d", seq_len(ncol(res$embedding)))
  data.frame(cell_id = cell_ids(x)[res$cell_index], res$embedding, stringsAsFactors = FALSE,
             check.names = FALSE)
}

#' @rdname pca
#' @export
pca_loadings <- function(x) {
  step_genes(x, "pca", where = "PC_1 IS NOT NULL")
}

#' @rdname pca
#' @export
pca_variance <- function(x) {
  rust(wrap__cs_require_current, x$path, "pca")
  sql(x, "SELECT component, stdev, variance_ratio FROM pca_components ORDER BY component")
}
