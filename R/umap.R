#' UMAP
#'
#' A two-dimensional layout of the kept cells with UMAP (McInnes et al. 2018), computed in
#' Rust from the neighbours of [find_neighbors()]: the fuzzy simplicial set of each cell's
#' first `n_neighbors` neighbours, a starting layout, and stochastic gradient descent with
#' negative sampling, parallel over edges. Defaults and details follow umap-learn (as
#' scanpy's `umap`). The layout is stored (`umap.embedding`) and stamped with the neighbours
#' it used.
#'
#' @param x A store, or a numeric matrix with one row per cell (e.g. PCs from another tool):
#'   its exact (up to 5,000 rows) or NN-Descent neighbours are found first, and the `"pca"`
#'   start is its first two columns.
#' @param n_neighbors Neighbours per cell, the cell itself included (15, as umap-learn and
#'   scanpy); at most the `k` of [find_neighbors()], whose neighbours are re-used.
#' @param min_dist,spread How tightly points may pack (0.3, as Seurat's `RunUMAP`) and the
#'   scale of the layout (1).
#' @param n_epochs Passes over the edges; `NULL`: 500 up to 10,000 cells, 200 above (as
#'   umap-learn).
#' @param init `"spectral"`: the spectral layout of the graph (as umap-learn); the PCA start is
#'   used instead when the graph has several components or more than 200,000 cells (the
#'   stored `params` say which). `"pca"`: the first two principal components.
#' @param seed Seed of the start and of the negative samples (42, as Seurat).
#' @param threads Threads for the gradient descent; `NULL`: all. With `threads = 1` the layout
#'   depends only on the seed (reproducible); with more, on thread timing too (as umap-learn's
#'   parallel mode).
#' @param device Where the gradient descent runs (see [gpu_info()]): `"gpu"`, `"cpu"`, or
#'   `"auto"` (a hardware GPU from 20,000 cells; default `getOption("cellstream.device",
#'   "auto")`). On the GPU each epoch reads the positions of its start and adds the moves with
#'   integer atomics: the layout repeats bit for bit on one device and driver for a seed, and
#'   is alike in quality to the CPU's (trustworthiness and silhouette; not the same numbers).
#' @param verbose Show a progress bar (epochs) and a one-line summary (`TRUE`).
#' @return For a store, the store, invisibly; see [embedding()]. For a matrix, the layout (a
#'   cells x 2 matrix, `UMAP_1` and `UMAP_2`) with the start used as attribute `"init"` and
#'   where it ran as attribute `"device"`.
#' @examples
#' x <- ingest_mtx(simulate_counts(500, 400, path = tempfile()), tempfile(), min_cells = 3)
#' find_hvg(x, n = 200)
#' run_pca(x, n_pcs = 10, verbose = FALSE)
#' find_neighbors(x, n_pcs = 10, verbose = FALSE)
#' run_umap(x, threads = 1)
#' head(embedding(x, "umap"))
#' @export
run_umap <- function(x, n_neighbors = 15, min_dist = 0.3, spread = 1, n_epochs = NULL,
                     init = c("spectral", "pca"), seed = 42, threads = NULL,
                     device = getOption("cellstream.device", "auto"), verbose = TRUE) {
  init <- match.arg(init)
  device <- device_arg(device)
  check_whole(n_neighbors, "n_neighbors", 2)
  if (!is.null(n_epochs)) check_whole(n_epochs, "n_epochs", 1)
  if (!is.null(threads)) check_whole(threads, "threads", 1)
  check_whole(seed, "seed", 0)
  if (is.matrix(x) || is.data.frame(x)) {
    data <- as.matrix(x)
    storage.mode(data) <- "double"
    nb <- find_neighbors(data, k = n_neighbors, seed = seed, device = device, verbose = FALSE)
    res <- rust(wrap__cs_umap_matrix, nb$index, nb$distance, data, as.numeric(n_neighbors),
                as.numeric(min_dist), as.numeric(spread),
                if (is.null(n_epochs)) NULL else as.numeric(n_epochs), init, as.numeric(seed),
                if (is.null(threads)) NULL else as.numeric(threads), device, gpu_adapter())
    note_device(res$device, verbose)
    dimnames(res$embedding) <- list(rownames(data), c("UMAP_1", "UMAP_2"))
    return(structure(res$embedding, init = res$init, device = res$device))
  }
  started <- Sys.time()
  used <- rust(wrap__cs_umap, x$path, as.numeric(n_neighbors), as.numeric(min_dist), as.numeric(spread),
               if (is.null(n_epochs)) NULL else as.numeric(n_epochs), init, as.numeric(seed),
               if (is.null(threads)) NULL else as.numeric(threads), device, gpu_adapter(),
               progress_reporter(verbose))
  note_device(used$device, verbose)
  say(verbose, "UMAP (%s start, on %s) in %.1f s", used$init, used$device,
      as.numeric(difftime(Sys.time(), started, units = "secs")))
  invisible(x)
}

#' Cell embeddings with their metadata
#'
#' The coordinates of a stored embedding next to each cell's `obs()` columns, one row per
#' cell the embedding holds: what `ggplot2` needs to colour a UMAP or PCA plot by cluster,
#' sample or QC metric. An error when the embedding is missing or stale.
#'
#' @param x A store.
#' @param reduction `"umap"` ([run_umap()]: `UMAP_1`, `UMAP_2`) or `"pca"` ([run_pca()]:
#'   `PC_1`, ...).
#' @return A data.frame: `cell_id`, the coordinates, then the other `obs()` columns.
#' @export
embedding <- function(x, reduction = c("umap", "pca")) {
  reduction <- match.arg(reduction)
  res <- rust(if (reduction == "umap") wrap__cs_umap_embedding else wrap__cs_pca_embedding, x$path)
  colnames(res$embedding) <- if (reduction == "umap") c("UMAP_1", "UMAP_2") else sprintf("PC_%d",
      seq_len(ncol(res$embedding)))
  meta <- suppressMessages(obs(x))[res$cell_index, , drop = FALSE]
  data.frame(cell_id = meta$cell_id, res$embedding, meta[setdiff(names(meta), "cell_id")],
             check.names = FALSE, row.names = NULL)
}
