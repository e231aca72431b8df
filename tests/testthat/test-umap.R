# UMAP against uwot (Seurat's RunUMAP) on PBMC3k, and on a store: stamps, reproducibility,
# embedding().

test_that("UMAP of Seurat's PBMC3k PCs 1-10 is as trustworthy as uwot's and separates Seurat's clusters", {
  skip_if_not_installed("cluster")
  pcs <- as.matrix(utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "pca_embedding.csv"),
                                   row.names = 1))[, 1:10]
  uwot <- as.matrix(utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "umap.csv"),
                                    row.names = 1))[rownames(pcs), ]
  clusters <- utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "obs.csv"),
                              row.names = 1)[rownames(pcs), "seurat_clusters"]
  # Seurat's RunUMAP settings: 30 neighbours, min_dist 0.3.
  ours <- run_umap(pcs, n_neighbors = 30, threads = 1)
  expect_equal(dim(ours), c(2638L, 2L))
  expect_equal(attr(ours, "init"), "spectral")
  t_ours <- trustworthiness(pcs, ours)
  t_uwot <- trustworthiness(pcs, uwot)
  expect_gt(t_ours, t_uwot - 0.01)
  expect_gt(t_ours, 0.96)
  expect_gte(mean_silhouette(ours, clusters), mean_silhouette(uwot, clusters) - 0.05)
})

test_that("UMAP on a store is stored, stamped and reproducible with one thread", {
  x <- ingest_mtx(simulate_counts(800, 400, n_clusters = 4, path = tempfile("sim_")), tempfile("store_"),
                  min_cells = 3)
  find_hvg(x, n = 200)
  run_pca(x, n_pcs = 10, verbose = FALSE)
  expect_error(run_umap(x),
               "there are no nearest neighbours in this store yet; run find_neighbors\\(x\\) first")
  find_neighbors(x, k = 20, n_pcs = 10, verbose = FALSE)
  cluster_leiden(x, resolution = 0.5, verbose = FALSE)
  said <- testthat::capture_messages(run_umap(x, threads = 1, n_epochs = 100))
  expect_match(said, "^UMAP \\((spectral|pca \\(the graph has \\d+ components\\)) start, on cpu\\) in [0-9.]+ s",
               all = FALSE)
  expect_match(steps(x)$params[steps(x)$step == "umap"], "100 epochs")
  e <- embedding(x, "umap")
  expect_equal(names(e)[1:3], c("cell_id", "UMAP_1", "UMAP_2"))
  expect_true(all(c("n_counts", "leiden") %in% names(e)))
  expect_equal(e$cell_id, cell_ids(x))
  expect_true(all(is.finite(e$UMAP_1)))
  # The clusters found on the graph are apart in the layout.
  expect_gt(mean_silhouette(e[c("UMAP_1", "UMAP_2")], e$leiden), 0.3)
  run_umap(x, threads = 1, n_epochs = 100, verbose = FALSE)
  expect_identical(embedding(x, "umap"), e)
  run_umap(x, init = "pca", threads = 1, n_epochs = 100, verbose = FALSE)
  expect_match(steps(x)$params[steps(x)$step == "umap"],
               "n_neighbors = 15, min_dist = 0.3, spread = 1, 100 epochs, pca start, seed = 42, 1 thread, on cpu")
  expect_false(identical(embedding(x, "umap")$UMAP_1, e$UMAP_1))
  p <- embedding(x, "pca")
  expect_equal(names(p)[1:3], c("cell_id", "PC_1", "PC_2"))
  expect_true("leiden" %in% names(p))

  expect_error(run_umap(x, n_neighbors = 21),
               paste0("n_neighbors \\(21\\) must be between 2 and the k of the stored neighbours ",
                   "\\(20\\); rerun find_neighbors\\(x, k = 21\\) for more"))
  expect_error(run_umap(x, min_dist = -1), "min_dist must be at least 0")
  expect_error(run_umap(x, threads = 0), "`threads` must be a whole number >= 1")
  find_neighbors(x, k = 20, n_pcs = 10, verbose = FALSE)
  expect_error(embedding(x, "umap"),
               paste0("the UMAP coordinates are stale: its input, the nearest neighbours, was recomputed ",
                   "since; rerun run_umap\\(x\\)"))
})
