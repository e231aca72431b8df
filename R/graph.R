#' Nearest neighbours and the shared-nearest-neighbour graph
#'
#' The k nearest neighbours of every kept cell in PCA space, and from them the
#' shared-nearest-neighbour (sNN) graph that [cluster_leiden()] clusters, as Seurat's
#' `FindNeighbors()`. Each cell counts as its own first neighbour (as Seurat and scanpy).
#'
#' On a store, both are written to the store (`knn.graph`, `snn.graph`; see
#' `inst/FORMAT.md`) and stamped with the PCA they used: after [run_pca()] or [set_keep()]
#' they are stale. On a numeric matrix (cells x dimensions, e.g. an embedding from another
#' tool) nothing is stored and the result is returned.
#'
#' @param x A store, or a numeric matrix with one row per cell.
#' @param k Neighbours per cell, the cell itself included (20, Seurat's `k.param`).
#' @param n_pcs Leading principal components used (30). For a matrix: its first `n_pcs`
#'   columns; all of them when `n_pcs` is not given.
#' @param method `"exact"`: brute force over all pairs. `"nndescent"`: NN-Descent
#'   (approximate; recall@20 > 0.99 on PCA embeddings). `"hnsw"`: an HNSW index (m = 16,
#'   ef_construction = 100, ef_search = 100). `"auto"` (default): exact up to 5,000 cells (as
#'   Seurat on PBMC3k), NN-Descent above.
#' @param metric `"euclidean"` (as Seurat and scanpy) or `"cosine"` (1 - cosine similarity).
#' @param snn `"jaccard"`: Seurat's weights, the Jaccard index of the two neighbour sets,
#'   edges below `prune` dropped. `"rank"`: scran's `buildSNNGraph(type = "rank")` weights,
#'   (k - 1) - r / 2 with r the smallest rank sum of a shared neighbour.
#' @param prune Jaccard weights below this are dropped (1/15, Seurat's `prune.SNN`).
#' @param seed Seed of the approximate searches (42).
#' @param device Where the search runs (see [gpu_info()]): `"gpu"` searches exactly on the GPU
#'   (neighbours and distances equal the CPU's exact search), `"cpu"` on the CPU, `"auto"`
#'   on a hardware GPU from 20,000 cells when `method` is `"auto"` or `"exact"`, else on the
#'   CPU (default: `getOption("cellstream.device", "auto")`).
#' @param verbose Show progress bars (kNN, sNN) and a one-line summary (`TRUE`).
#' @return For a store, the store, invisibly (see [neighbors()] and [snn_graph()] to read the
#'   results). For a matrix, a list: `index` and `distance` (cells x k matrices: neighbour
#'   rows, nearest first, and their distances), `snn` (a symmetric `dgCMatrix`),
#'   `connectivities` (the kNN weighted as UMAP's fuzzy simplicial set, scanpy's
#'   `connectivities`; a symmetric `dgCMatrix`), `method` and `device`.
#' @examples
#' x <- ingest_mtx(simulate_counts(500, 400, path = tempfile()), tempfile(), min_cells = 3)
#' x |> find_hvg(n = 200) |> run_pca(n_pcs = 10) |> find_neighbors(n_pcs = 10)
#' dim(neighbors(x)$index)
#' @export
find_neighbors <- function(x, k = 20, n_pcs = 30, method = c("auto", "exact", "hnsw", "nndescent"),
                           metric = c("euclidean", "cosine"), snn = c("jaccard", "rank"),
                           prune = 1 / 15, seed = 42, device = getOption("cellstream.device", "auto"),
                           verbose = TRUE) {
  method <- match.arg(method)
  device <- device_arg(device)
  metric <- match.arg(metric)
  snn <- match.arg(snn)
  check_whole(k, "k", 2)
  check_whole(n_pcs, "n_pcs", 1)
  if (is.data.frame(x) || is.matrix(x)) {
    data <- as.matrix(x)
    if (!is.numeric(data)) stop("the embedding must be numeric", call. = FALSE)
    if (!missing(n_pcs)) {
      if (n_pcs > ncol(data)) stop(sprintf("n_pcs (%d) is larger than the matrix's %d columns",
                                           as.integer(n_pcs), ncol(data)), call. = FALSE)
      data <- data[, seq_len(n_pcs), drop = FALSE]
    }
    storage.mode(data) <- "double"
    res <- rust(wrap__cs_knn_matrix, data, as.numeric(k), method, metric, as.numeric(seed), device,
                gpu_adapter(), progress_reporter(verbose))
    note_device(res$device, verbose)
    graphs <- rust(wrap__cs_graphs_matrix, res$knn$index, res$knn$distance, snn, as.numeric(prune))
    return(c(res$knn, list(snn = sparse_graph(graphs$snn, rownames(data)),
                           connectivities = sparse_graph(graphs$umap, rownames(data)), method = res$method,
                           device = res$device)))
  }
  started <- Sys.time()
  used <- rust(wrap__cs_neighbors, x$path, as.numeric(k), as.numeric(n_pcs), method, metric, snn,
               as.numeric(prune), as.numeric(seed), device, gpu_adapter(), progress_reporter(verbose))
  note_device(used$device, verbose)
  say(verbose, "%d nearest neighbours (%s on %s, %d PCs) and the %s sNN graph in %.1f s", as.integer(k),
      used$method, used$device, as.integer(n_pcs), snn, as.numeric(difftime(Sys.time(), started, units = "secs")))
  invisible(x)
}

#' Stored neighbours and graph
#'
#' Each is an error when [find_neighbors()] has not been run or its result is stale.
#'
#' @param x A store.
#' @return `neighbors()`: a list with `cell_id` (the cells, in the order of the rows) and
#'   `index` and `distance` (cells x k matrices: the rows of each cell's neighbours, itself
#'   first, and their distances). `snn_graph()`: the sNN graph as a symmetric `dgCMatrix`
#'   with cell ids as dimnames (it is read into memory: about 12 bytes per edge).
#' @export
neighbors <- function(x) {
  res <- rust(wrap__cs_knn, x$path)
  c(list(cell_id = cell_ids(x)[res$cell_index]), res$knn)
}

#' @rdname neighbors
#' @export
snn_graph <- function(x) {
  res <- rust(wrap__cs_snn, x$path)
  sparse_graph(res$graph, cell_ids(x)[res$cell_index])
}

#' Leiden clustering
#'
#' Clusters cells with the Leiden algorithm (Traag, Waltman & van Eck 2019), run in Rust:
#' fast local moving, refinement and aggregation, iterated until no cell moves (or
#' `n_iterations` times). Clusters are numbered by size: "0" is the largest, as in Seurat and
#' scanpy.
#'
#' On a store it clusters the kept cells on the graph of [find_neighbors()] and writes a
#' factor column to `obs()` (missing for cells not kept), stamped with the neighbours it
#' used. Several resolutions in one call share the graph and run in parallel; each gets its
#' own column. On a symmetric sparse matrix (e.g. [snn_graph()] or a graph from another tool)
#' it returns the labels.
#'
#' @param x A store, or a symmetric sparse matrix (`Matrix`) of edge weights.
#' @param resolution Resolution γ (1, as scanpy's `leiden`; Seurat's `FindClusters` uses
#'   0.8). Several values give several clusterings.
#' @param name Column(s) of `obs()` to write: one per resolution, or one name that gets
#'   `_<resolution>` appended when there are several resolutions ("leiden").
#' @param objective `"modularity"` (Newman's, with resolution γ; as Seurat and scanpy) or
#'   `"CPM"` (the constant Potts model; resolution is then a density threshold).
#' @param graph `"snn"`: the sNN graph (as Seurat). `"umap"`: the kNN weighted as UMAP's
#'   fuzzy simplicial set (as scanpy's `leiden` on its `neighbors` connectivities).
#' @param self_loops Whether the graph's diagonal (self-loops) counts in the objective
#'   (`FALSE`). The sNN graph has a diagonal of ones, as Seurat's; Seurat's modularity
#'   optimiser reads only the entries off the diagonal, and so does igraph's `cluster_leiden`
#'   on a `simplify()`d graph, so by default they are ignored. `TRUE` counts each diagonal
#'   entry once in the cell's strength and in its cluster's internal weight (igraph on the
#'   graph as it is, with loops, counts them twice).
#' @param seed Seed of the random node orders (0, as Seurat's and scanpy's `random_state`).
#' @param n_iterations Iterations; negative: until no cell moves (-1).
#' @param verbose Show a progress bar (iterations) and the clusters found (`TRUE`).
#' @return For a store, the store, invisibly; the labels are `obs()` columns and
#'   [leiden_summary()] gives, per column, the resolution, number of clusters and quality.
#'   For a matrix, a factor of cluster labels (a data.frame of factors for several
#'   resolutions) with attribute `"clustering"`: `resolution`, `n_clusters` and `quality`
#'   (the modularity, or CPM quality, of the partition).
#' @examples
#' x <- ingest_mtx(simulate_counts(500, 400, path = tempfile()), tempfile(), min_cells = 3)
#' x |> find_hvg(n = 200) |> run_pca(n_pcs = 10) |> find_neighbors(n_pcs = 10) |>
#'   cluster_leiden(resolution = c(0.5, 1))
#' table(obs(x)$leiden_0.5)
#' leiden_summary(x)
#' @export
cluster_leiden <- function(x, resolution = 1, name = "leiden", objective = c("modularity", "CPM"),
                           graph = c("snn", "umap"), self_loops = FALSE, seed = 0, n_iterations = -1,
                           verbose = TRUE) {
  objective <- match.arg(objective)
  graph <- match.arg(graph)
  if (!is.logical(self_loops) || length(self_loops) != 1 || is.na(self_loops)) {
    stop("`self_loops` must be TRUE or FALSE", call. = FALSE)
  }
  if (!is.numeric(resolution) || length(resolution) == 0 || anyNA(resolution) || any(resolution <= 0)) {
    stop("`resolution` must be one or more positive numbers", call. = FALSE)
  }
  if (!is.numeric(n_iterations) || length(n_iterations) != 1 || is.na(n_iterations)) {
    stop("`n_iterations` must be a number", call. = FALSE)
  }
  check_whole(seed, "seed", 0)
  if (inherits(x, "Matrix")) {
    g <- methods::as(methods::as(methods::as(x, "CsparseMatrix"), "generalMatrix"), "dMatrix")
    if (nrow(g) != ncol(g) || !Matrix::isSymmetric(g)) {
      stop("the graph must be a symmetric (undirected) matrix", call. = FALSE)
    }
    res <- rust(wrap__cs_leiden_matrix, g@p, g@i, g@x, as.numeric(resolution), objective, self_loops,
                as.numeric(seed), as.numeric(n_iterations))
    labels <- lapply(seq_along(resolution), function(r) factor(res$labels[, r],
                                                               levels = seq_len(res$n_clusters[r]) - 1L))
    summary <- data.frame(resolution = resolution, n_clusters = res$n_clusters, quality = res$quality)
    out <- if (length(resolution) == 1) labels[[1]] else stats::setNames(as.data.frame(labels),
        sprintf("res_%s", format(resolution)))
    return(structure(out, clustering = summary))
  }
  columns <- if (length(name) == length(resolution)) name else if (length(name) == 1) paste0(name, "_",
      format(resolution, trim = TRUE)) else {
    stop("give one `name`, or one per resolution", call. = FALSE)
  }
  if (!is.character(columns) || anyNA(columns) || anyDuplicated(columns)) {
    stop("`name` must hold distinct column names", call. = FALSE)
  }
  started <- Sys.time()
  res <- rust(wrap__cs_leiden, x$path, as.numeric(resolution), columns, objective, graph, self_loops,
              as.numeric(seed), as.numeric(n_iterations), progress_reporter(verbose))
  say(verbose, "Leiden (%s) in %.1f s: %s", objective, as.numeric(difftime(Sys.time(), started,
      units = "secs")),
      paste(sprintf("%s: %d clusters, quality %.4f", columns, res$n_clusters, res$quality), collapse = "; "))
  invisible(x)
}

#' Leiden clusterings of a store
#'
#' @param x A store.
#' @param name Columns written by [cluster_leiden()]; `NULL` (default): every current one.
#' @return A data.frame, one row per column: `column`, `resolution`, `n_clusters`, `quality`
#'   (the modularity, or CPM quality, of the partition) and `iterations`. An error for a
#'   column without a current clustering.
#' @export
leiden_summary <- function(x, name = NULL) {
  s <- steps(x)
  if (is.null(name)) name <- sub("^leiden:", "", s$step[startsWith(s$step, "leiden:") & s$current])
  rows <- lapply(name, function(column) {
    step <- paste0("leiden:", column)
    rust(wrap__cs_require_current, x$path, step)
    sql(x, sprintf('SELECT * FROM "%s_summary"', step))
  })
  empty <- data.frame(column = character(), resolution = numeric(), n_clusters = integer(),
                      quality = numeric(), iterations = integer())
  do.call(rbind, c(list(empty), rows))
}

# A symmetric graph from Rust's compressed rows (equal to its compressed columns).
sparse_graph <- function(g, ids) {
  n <- length(g$p) - 1L
  Matrix::sparseMatrix(i = g$i, p = as.integer(g$p), x = g$x, dims = c(n, n), index1 = FALSE,
                       dimnames = if (is.null(ids)) NULL else list(ids, ids))
}
