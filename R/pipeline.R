#' The whole job: from a raw file to clusters, a UMAP plot and a table of results
#'
#' Ingests `input` (a 10x MTX directory, a 10x HDF5 `.h5` file or an `.h5ad` file) into a
#' store, or opens the store if `store` already is one, then runs: QC metrics, outlier calls
#' (3 MADs, as scater) and keeping the other cells, highly variable genes, PCA, neighbours,
#' Leiden clusters, UMAP and marker genes of each cluster ([find_all_markers()], Seurat 5's
#' defaults with `only_pos = TRUE`). Writes to `output_dir`: `umap.png` (coloured by cluster),
#' `qc.png`, `markers.csv` (the top 10 markers of each cluster), `dotplot.png` (the top 5
#' markers of each cluster, 3 beyond 8 clusters, at most 60 genes; [plot_dot()]), `cells.csv`
#' (one row per cell: QC metrics, outlier call, kept, cluster, UMAP coordinates) and
#' `timings.csv` (wall time and peak memory of each step).
#'
#' The job adapts to the data: on a gene panel with fewer genes than `n_hvg` it uses every
#' gene (and fewer PCs than genes), with a message; when QC keeps under 10% of the barcodes
#' it warns, saying which filter removed them; it stops with an explanation only when fewer
#' cells remain than the steps need (more than `k` for the neighbours, more than `n_pcs` for
#' the PCA).
#'
#' @param input Path of the data (see above); ignored when `store` is an existing store.
#' @param output_dir Directory for the plots and tables (created).
#' @param store Directory of the store (`output_dir/store`).
#' @param min_cells,min_genes Ingest filters (3 and 200, as Seurat's tutorial).
#' @param n_hvg,n_pcs,k,n_neighbor_pcs,resolution,umap_neighbors Highly variable genes (2000),
#'   principal components (50), neighbours per cell (20) on the first `n_neighbor_pcs` PCs
#'   (30), Leiden resolution (0.8, as Seurat's `FindClusters`), UMAP neighbours (15; at most
#'   `k`, whose neighbours UMAP re-uses).
#' @param seed Seed of every random step (42).
#' @param device Where the steps that can use a GPU run (see [gpu_info()]; default
#'   `getOption("cellstream.device", "auto")`).
#' @param verbose Report each step (`TRUE`).
#' @return Invisibly, a list: `store` and `timings` (a data.frame: `step`, `seconds`,
#'   `peak_rss_mb`; the peak is the process's during that step, on Linux).
#' @examples
#' \donttest{
#' out <- tempfile()
#' res <- run_pipeline(simulate_counts(2000, 2000, path = tempfile()), out)
#' res$timings
#' }
#' @export
run_pipeline <- function(input, output_dir, store = file.path(output_dir, "store"), min_cells = 3,
                         min_genes = 200, n_hvg = 2000, n_pcs = 50, k = 20, n_neighbor_pcs = 30,
                         resolution = 0.8, umap_neighbors = 15, seed = 42,
                         device = getOption("cellstream.device", "auto"), verbose = TRUE) {
  if (n_neighbor_pcs > n_pcs) {
    stop(sprintf("n_neighbor_pcs (%d) must not exceed n_pcs (%d)", as.integer(n_neighbor_pcs),
                 as.integer(n_pcs)), call. = FALSE)
  }
  if (umap_neighbors > k) {
    stop(sprintf("umap_neighbors (%d) must not exceed k (%d): UMAP re-uses the neighbours",
                 as.integer(umap_neighbors), as.integer(k)), call. = FALSE)
  }
  dir.create(output_dir, showWarnings = FALSE, recursive = TRUE)
  timings <- data.frame(step = character(), seconds = numeric(), peak_rss_mb = numeric())
  step <- function(name, code) {
    reset_peak_rss()
    started <- Sys.time()
    value <- force(code)
    timings[nrow(timings) + 1, ] <<- list(name, as.numeric(difftime(Sys.time(), started, units = "secs")),
                                          peak_rss_mb())
    say(verbose, "== %s: %.1f s", name, timings$seconds[nrow(timings)])
    value
  }
  existing <- file.exists(file.path(store, "manifest.json"))
  x <- step("ingest", if (existing) {
    open_store(store)
  } else {
    ingest_any(input, store, min_cells, min_genes, verbose)
  })
  if (existing) say(verbose, "%s", ingest_summary(store_info(x)))
  step("qc", calculate_qc_metrics(x, verbose = verbose))
  step("outliers", find_outliers(x, column = "qc_outlier", verbose = verbose))
  step("keep", set_keep(x, "NOT qc_outlier", verbose = verbose))
  n_hvg <- at_most(n_hvg, x$dim[2], "n_hvg = %s is more than the genes in the store: using all %s genes",
                   verbose)
  n_pcs <- at_most(n_pcs, n_hvg - 1, "n_pcs = %s needs more highly variable genes: using %s PCs", verbose)
  n_neighbor_pcs <- min(n_neighbor_pcs, n_pcs)
  check_kept_cells(store_info(x), k = k, n_pcs = n_pcs)
  step("hvg", find_hvg(x, n = n_hvg, verbose = verbose))
  step("pca", run_pca(x, n_pcs = n_pcs, seed = seed, device = device, verbose = verbose))
  step("neighbors", find_neighbors(x, k = k, n_pcs = n_neighbor_pcs, seed = seed, device = device,
                                         verbose = verbose))
  step("leiden", cluster_leiden(x, resolution = resolution, name = "leiden", seed = 0, verbose = verbose))
  step("umap", run_umap(x, n_neighbors = umap_neighbors, seed = seed, device = device, verbose = verbose))
  markers <- step("markers", find_all_markers(x, group_by = "leiden", only_pos = TRUE, verbose = verbose))
  step("plots", {
    ggplot2::ggsave(file.path(output_dir, "umap.png"), plot_embedding(x, color_by = "leiden"), width = 7,
                    height = 6, dpi = 150)
    ggplot2::ggsave(file.path(output_dir, "qc.png"), plot_qc(x), width = 9, height = 4, dpi = 150)
    utils::write.csv(top_markers(markers, 10), file.path(output_dir, "markers.csv"), row.names = FALSE)
    shown <- unique(top_markers(markers, if (nlevels(markers$cluster) <= 8) 5 else 3)$gene_id)
    shown <- utils::head(shown, MAX_DOTPLOT_GENES)
    if (length(shown) > 0) {
      ggplot2::ggsave(file.path(output_dir, "dotplot.png"), plot_dot(x, shown, group_by = "leiden"),
                      width = min(30, 3 + 0.22 * length(shown)), height = min(30, 2 + 0.25 * nlevels(markers$cluster)),
                      dpi = 150, limitsize = FALSE)
    }
  })
  step("table", {
    cells <- suppressMessages(obs(x))
    # The layout's rows are store rows: placed directly, without a second obs() read.
    layout <- rust(wrap__cs_umap_embedding, x$path)
    cells$UMAP_1 <- NA_real_
    cells$UMAP_2 <- NA_real_
    cells$UMAP_1[layout$cell_index] <- layout$embedding[, 1]
    cells$UMAP_2[layout$cell_index] <- layout$embedding[, 2]
    utils::write.csv(cells, file.path(output_dir, "cells.csv"), row.names = FALSE)
  })
  utils::write.csv(timings, file.path(output_dir, "timings.csv"), row.names = FALSE)
  invisible(list(store = x, timings = timings))
}

# Genes shown in the pipeline's dot plot at most (top markers of each cluster, in cluster order).
MAX_DOTPLOT_GENES <- 60

# The first `n` rows of each cluster of a marker table (ordered by p-value within clusters).
top_markers <- function(markers, n) {
  rows <- unlist(lapply(split(seq_len(nrow(markers)), markers$cluster), utils::head, n), use.names = FALSE)
  markers[sort(rows), , drop = FALSE]
}

# One line on what the ingest filters kept.
ingest_summary <- function(info) {
  sprintf("ingest kept %s of %s barcodes (min_genes = %s) and %s of %s genes (min_cells = %s)",
          num(info$n_cells), num(info$input_cells), num(info$min_genes), num(info$n_genes),
          num(info$input_genes), num(info$min_cells))
}

# Warns when QC kept under 10% of the input barcodes, naming the filters that removed them;
# stops when fewer cells remain than PCA (n_pcs + 1) and the neighbours (k + 1) need.
check_kept_cells <- function(info, k, n_pcs) {
  at_ingest <- info$input_cells - info$n_cells
  as_outliers <- info$n_cells - info$n_kept
  removed <- c(if (at_ingest > 0) sprintf("%s had fewer than min_genes = %s genes at ingest", num(at_ingest),
                                          num(info$min_genes)),
               if (as_outliers > 0) sprintf("%s %s QC outliers (3 MADs)", num(as_outliers),
                                            if (as_outliers == 1) "was" else "were"))
  what <- sprintf("QC kept %s of %s barcodes (%.1f%%)%s", num(info$n_kept), num(info$input_cells),
                  100 * info$n_kept / info$input_cells,
                  if (length(removed) > 0) paste0(": ", paste(removed, collapse = "; ")) else "")
  advice <- if (at_ingest >= as_outliers) {
    paste0("If this is a raw (unfiltered) droplet matrix, most barcodes are empty droplets: use Cell ",
           "Ranger's filtered matrix, or lower min_genes (run_pipeline(min_genes = ...), or --min-genes ",
           "in run_pipeline.R).")
  } else {
    "Look at qc.png and obs(x): the outlier filter (find_outliers(), 3 MADs) removed most cells."
  }
  needed <- max(k, n_pcs) + 1
  if (info$n_kept < needed) {
    stop(sprintf(paste("%s, too few for the analysis: the neighbours need more than k = %s cells and",
                       "the PCA more than n_pcs = %s. %s"),
                 what, num(k), num(n_pcs), advice), call. = FALSE)
  }
  if (info$n_kept < 0.1 * info$input_cells) warning(paste0(what, ". ", advice), call. = FALSE,
                                                    immediate. = TRUE)
  invisible(info$n_kept)
}

# `value`, or `limit` with a message saying why when `value` is larger.
at_most <- function(value, limit, why, verbose) {
  if (value <= limit) return(value)
  say(verbose, why, num(value), num(limit))
  limit
}

# Ingests by the kind of input: a directory (10x MTX), .h5ad, or .h5 (10x HDF5).
ingest_any <- function(input, store, min_cells, min_genes, verbose) {
  reader <- if (dir.exists(input)) {
    ingest_mtx
  } else if (grepl("\\.h5ad$", input, ignore.case = TRUE)) {
    ingest_h5ad
  } else if (grepl("\\.h5$", input, ignore.case = TRUE)) {
    ingest_10x_h5
  }
  if (!is.null(reader)) return(reader(input, store, min_cells = min_cells, min_genes = min_genes,
                                      verbose = verbose))
  stop(sprintf("'%s' is neither a 10x directory, an .h5ad file nor a 10x .h5 file", input), call. = FALSE)
}

# Peak resident memory of this process since the last reset, in MB (Linux; NA elsewhere).
peak_rss_mb <- function() {
  status <- tryCatch(readLines("/proc/self/status"), error = function(e) character())
  hwm <- grep("^VmHWM:", status, value = TRUE)
  if (length(hwm) == 0) return(NA_real_)
  as.numeric(gsub("[^0-9]", "", hwm)) / 1024
}

reset_peak_rss <- function() {
  # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0); elsewhere the peak is cumulative.
  invisible(tryCatch(cat("5", file = "/proc/self/clear_refs"), error = function(e) NULL,
                     warning = function(w) NULL))
}
