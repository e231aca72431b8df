# Neighbours, sNN graphs and Leiden: against Seurat's and scanpy's PBMC3k results, igraph and
# bluster, and the store's stamps.

ari <- function(a, b) {
  t <- table(a, b)
  s <- sum(choose(t, 2))
  sa <- sum(choose(rowSums(t), 2))
  sb <- sum(choose(colSums(t), 2))
  e <- sa * sb / choose(sum(t), 2)
  (s - e) / ((sa + sb) / 2 - e)
}

recall <- function(approx, exact) {
  k <- ncol(exact)
  mean(vapply(seq_len(nrow(exact)), function(i) length(intersect(approx[i, -1], exact[i, -1])), 0) / (k - 1))
}

# A store with PCA on simulated counts.
store_with_pca <- function(n_cells = 600, n_pcs = 10) {
  x <- ingest_mtx(simulate_counts(n_cells, 400, n_clusters = 4, path = tempfile("sim_")), tempfile("store_"),
                  min_cells = 3)
  find_hvg(x, n = 200)
  run_pca(x, n_pcs = n_pcs, verbose = FALSE)
  x
}

test_that("exact kNN (k = 20) and prune 1/15 on Seurat's PBMC3k PCs 1-10 give Seurat's sNN graph", {
  emb <- reference_csv("pbmc3k_seurat", "pca_embedding.csv")
  mtx <- skip_without_shared("reference", "pbmc3k_seurat", "snn.mtx")
  nb <- find_neighbors(emb, k = 20, n_pcs = 10, method = "exact")
  expect_equal(nb$method, "exact")
  expect_equal(dim(nb$index), c(2638L, 20L))
  expect_equal(nb$index[, 1], seq_len(2638))
  expect_equal(rownames(nb$snn), rownames(emb))
  seurat <- methods::as(Matrix::readMM(mtx), "CsparseMatrix")
  ours <- Matrix::tril(nb$snn)
  theirs <- Matrix::tril(seurat)
  expect_equal(Matrix::nnzero(ours), 98575)
  expect_identical(Matrix::summary(ours)[, 1:2], Matrix::summary(theirs)[, 1:2])
  expect_lt(max(abs(Matrix::summary(ours)$x - Matrix::summary(theirs)$x)), 1e-6)
  # Approximate searches find the exact neighbours.
  for (method in c("nndescent", "hnsw")) {
    approx <- find_neighbors(emb, k = 20, n_pcs = 10, method = method)
    expect_gte(recall(approx$index, nb$index), 0.98)
    expect_equal(approx$index[, 1], seq_len(2638))
  }
})

test_that("Leiden on Seurat's graph beats igraph's modularity and agrees with Seurat's clusters", {
  skip_if_not_installed("igraph")
  emb <- reference_csv("pbmc3k_seurat", "pca_embedding.csv")
  seurat_obs <- utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "obs.csv"), row.names = 1)
  g <- find_neighbors(emb, k = 20, n_pcs = 10, method = "exact")$snn
  ig <- igraph::graph_from_adjacency_matrix(g, mode = "undirected", weighted = TRUE, diag = TRUE)
  set.seed(1)
  theirs <- igraph::cluster_leiden(ig, objective_function = "modularity", resolution_parameter = 1,
                                   n_iterations = -1)
  ours <- cluster_leiden(g, resolution = 1)
  q_theirs <- igraph::modularity(ig, igraph::membership(theirs), weights = igraph::E(ig)$weight)
  q_ours <- igraph::modularity(ig, as.integer(ours), weights = igraph::E(ig)$weight)
  expect_gte(q_ours, q_theirs)
  expect_gt(q_ours, 0.81)
  # Labels by size, "0" the largest.
  sizes <- table(ours)
  expect_equal(names(sizes), as.character(seq_along(sizes) - 1))
  expect_true(all(diff(as.vector(sizes)) <= 0))
  # Seurat's FindClusters at resolution 0.5 on the same graph.
  at_half <- cluster_leiden(g, resolution = 0.5)
  expect_gte(ari(at_half, seurat_obs[rownames(emb), "seurat_clusters"]), 0.8)
  # Same seed, same labels; several resolutions in one call equal single calls.
  both <- cluster_leiden(g, resolution = c(0.5, 1))
  expect_identical(both[[1]], structure(at_half, clustering = NULL))
  expect_identical(both[[2]], structure(ours, clustering = NULL))
  expect_equal(attr(both, "clustering")$n_clusters, c(nlevels(at_half), nlevels(ours)))
})

test_that(paste0("Leiden ignores self-loops as Seurat: Seurat's sNN with, without or with 5x its ",
    "diagonal clusters alike"), {
  seurat_obs <- utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "obs.csv"), row.names = 1)
  g <- methods::as(Matrix::readMM(skip_without_shared("reference", "pbmc3k_seurat", "snn.mtx")),
                   "CsparseMatrix")
  expect_true(all(Matrix::diag(g) == 1))
  ids <- rownames(utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "pca_embedding.csv"),
                                  row.names = 1))
  no_loops <- g
  Matrix::diag(no_loops) <- 0
  no_loops <- Matrix::drop0(no_loops)
  heavy_loops <- g
  Matrix::diag(heavy_loops) <- 5
  as_codes <- function(f) structure(f, clustering = NULL)
  with_diag <- cluster_leiden(g, resolution = 0.5)
  expect_identical(as_codes(cluster_leiden(no_loops, resolution = 0.5)), as_codes(with_diag))
  expect_identical(as_codes(cluster_leiden(heavy_loops, resolution = 0.5)), as_codes(with_diag))
  seurat <- seurat_obs[ids, "seurat_clusters"]
  counted <- cluster_leiden(g, resolution = 0.5, self_loops = TRUE)
  expect_gte(ari(with_diag, seurat), ari(counted, seurat))
  expect_gte(ari(with_diag, seurat), 0.8)
  # Counting the loops changes the objective: 5x the diagonal then does change the partition's quality.
  expect_false(isTRUE(all.equal(attr(cluster_leiden(heavy_loops, resolution = 0.5, self_loops = TRUE),
                                     "clustering")$quality,
                                attr(with_diag, "clustering")$quality)))
  expect_error(cluster_leiden(g, self_loops = NA), "`self_loops` must be TRUE or FALSE")
})

test_that("Leiden on a kNN graph built like scanpy's agrees with scanpy's leiden", {
  emb <- reference_csv("pbmc3k_scanpy", "pca_embedding.csv")
  scanpy_obs <- utils::read.csv(skip_without_shared("reference", "pbmc3k_scanpy", "obs.csv"), row.names = 1)
  scanpy_conn <- methods::as(Matrix::readMM(skip_without_shared("reference", "pbmc3k_scanpy",
                                                                "connectivities.mtx")), "CsparseMatrix")
  nb <- find_neighbors(emb, k = 10, n_pcs = 40, method = "exact")
  # Our UMAP weights are scanpy's connectivities (its kNN is approximate, in float32).
  expect_equal(Matrix::nnzero(nb$connectivities), Matrix::nnzero(scanpy_conn), tolerance = 0.01)
  expect_lt(max(abs(nb$connectivities - scanpy_conn)), 0.01)
  labels <- cluster_leiden(nb$connectivities, resolution = 1)
  expect_gte(ari(labels, scanpy_obs[rownames(emb), "leiden"]), 0.8)
})

test_that("rank-weighted sNN equals scran's (bluster) and CPM clusters by density", {
  skip_if_not_installed("bluster")
  emb <- reference_csv("pbmc3k_seurat", "pca_embedding.csv")[1:400, 1:10]
  nb <- find_neighbors(emb, k = 11, snn = "rank", method = "exact")
  theirs <- igraph::as_adjacency_matrix(bluster::neighborsToSNNGraph(nb$index[, -1], type = "rank"),
                                        attr = "weight")
  expect_equal(max(abs(nb$snn - theirs)), 0)
  # CPM: at a resolution above every edge weight, each cell is its own cluster.
  expect_equal(nlevels(cluster_leiden(nb$snn, resolution = 20, objective = "CPM")), 400)
  expect_lt(nlevels(cluster_leiden(nb$snn, resolution = 0.05, objective = "CPM")), 40)
})

test_that("cosine neighbours are Euclidean neighbours of unit-length rows", {
  set.seed(3)
  m <- matrix(stats::rnorm(300 * 6), 300)
  cos <- find_neighbors(m, k = 8, metric = "cosine", method = "exact")
  unit <- find_neighbors(m / sqrt(rowSums(m^2)), k = 8, method = "exact")
  expect_identical(cos$index, unit$index)
  expect_equal(cos$distance, unit$distance^2 / 2, tolerance = 1e-5)
})

test_that("neighbours and clusters are stored, stamped and read back", {
  x <- store_with_pca(600)
  set_keep(x, seq_len(600) > 30)
  find_hvg(x, n = 200)
  run_pca(x, n_pcs = 10, verbose = FALSE)
  said <- testthat::capture_messages(find_neighbors(x, k = 15, n_pcs = 8))
  expect_match(said, "^15 nearest neighbours \\(exact on cpu, 8 PCs\\) and the jaccard sNN graph in [0-9.]+ s",
               all = FALSE)
  expect_match(steps(x)$params[steps(x)$step == "neighbors"], "570 cells, [0-9]+ sNN edges")
  nb <- neighbors(x)
  expect_equal(nb$cell_id, cell_ids(x)[31:600])
  # The store's neighbours are those of its PCA embedding.
  direct <- find_neighbors(as.matrix(pca(x)[, 2:9]), k = 15, method = "exact")
  expect_identical(nb$index, direct$index)
  expect_equal(nb$distance, direct$distance, tolerance = 1e-6)
  g <- snn_graph(x)
  expect_equal(rownames(g), nb$cell_id)
  expect_equal(as.matrix(g), as.matrix(direct$snn), tolerance = 1e-6, ignore_attr = TRUE)

  res <- x |> cluster_leiden(resolution = c(0.3, 1.2), verbose = FALSE) |> leiden_summary()
  expect_equal(res$column, c("leiden_0.3", "leiden_1.2"))
  o <- obs(x)
  expect_true(is.factor(o$leiden_1.2))
  expect_true(all(is.na(o$leiden_1.2[1:30])))
  expect_false(anyNA(o$leiden_1.2[31:600]))
  expect_equal(nlevels(o$leiden_1.2), res$n_clusters[2])
  expect_identical(as.integer(as.character(o$leiden_1.2[31:600])), as.integer(as.character(cluster_leiden(g,
      resolution = 1.2))))
  expect_gte(res$n_clusters[2], res$n_clusters[1])
  cluster_leiden(x, name = "clusters", graph = "umap", verbose = FALSE)
  expect_true("clusters" %in% names(obs(x)))
  st <- steps(x)
  expect_match(st$params[st$step == "neighbors"],
               "^k = 15, 8 PCs, exact on cpu, euclidean, Jaccard \\(prune 0.0667\\) sNN, 570 cells, \\d+ sNN edges$")
  expect_true(all(st$current))

  # A new PCA makes neighbours and clusters stale.
  run_pca(x, n_pcs = 10, verbose = FALSE)
  expect_error(neighbors(x),
               paste0("the nearest neighbours are stale: its input, the principal components, was ",
                   "recomputed since; rerun find_neighbors\\(x\\)"))
  expect_error(cluster_leiden(x), "rerun find_neighbors\\(x\\)")
  o <- suppressMessages(obs(x))
  expect_false("leiden_1.2" %in% names(o))
  find_neighbors(x, k = 15, n_pcs = 8, verbose = FALSE)
  expect_message(obs(x), "leiden_1.2")
  set_keep(x, rep(TRUE, 600))
  expect_error(snn_graph(x), "the kept cells changed")
})

test_that("bad input to the graph steps gets clear errors", {
  x <- ingest_mtx(simulate_counts(200, 300, path = tempfile("sim_")), tempfile("store_"), min_cells = 3)
  expect_error(find_neighbors(x),
               "there are no principal components in this store yet; run run_pca\\(x\\) first")
  expect_error(cluster_leiden(x),
               "there are no nearest neighbours in this store yet; run find_neighbors\\(x\\) first")
  find_hvg(x, n = 100)
  run_pca(x, n_pcs = 10, verbose = FALSE)
  expect_error(find_neighbors(x, n_pcs = 20),
               paste0("n_pcs must be between 1 and the 10 PCs computed, not 20; lower n_pcs or rerun ",
                   "run_pca\\(x, n_pcs = 20\\)"))
  expect_error(find_neighbors(x, k = 200, n_pcs = 10),
               "k \\(200\\) must be smaller than the number of kept cells \\(200\\)")
  expect_error(find_neighbors(x, k = 1), "`k` must be a whole number >= 2")
  expect_error(find_neighbors(x, prune = 2, n_pcs = 10), "`prune` must be between 0 and 1")
  set_keep(x, seq_len(200) <= 100)
  expect_error(find_neighbors(x, n_pcs = 10), "the principal components are stale: the kept cells changed")
  set_keep(x, rep(TRUE, 200))
  find_hvg(x, n = 100)
  run_pca(x, n_pcs = 10, verbose = FALSE)
  find_neighbors(x, n_pcs = 10, verbose = FALSE)
  expect_error(cluster_leiden(x, resolution = 0), "`resolution` must be one or more positive numbers")
  expect_error(cluster_leiden(x, resolution = -1), "`resolution` must be one or more positive numbers")
  expect_error(cluster_leiden(x, resolution = c(1, 2), name = c("a", "b", "c")),
               "give one `name`, or one per resolution")
  expect_error(cluster_leiden(x, name = "n_counts", verbose = FALSE), "n_counts")
  expect_error(find_neighbors(matrix(c(1, NA, 3, 4), 2), k = 2),
               paste0("k \\(neighbours per cell, the cell itself included\\) must be at least 2 and ",
                   "smaller than the number of cells \\(2\\)"))
  expect_error(find_neighbors(matrix(c(1, NA, 3, 4, 5, 6), 3), k = 2),
               "the embedding has a missing or infinite value \\(row 2, column 1\\)")
  expect_error(cluster_leiden(Matrix::sparseMatrix(i = 1, j = 2, x = 1, dims = c(2, 2))),
               "the graph must be a symmetric")
})
