# PCA against R's own scaling and SVD on simulated data, against Seurat on PBMC3k, and its
# stamp (kept cells, HVGs).

# Seurat's ScaleData + an exact SVD, in R: scaled genes x cells -> cells x PCs embeddings.
pca_oracle <- function(x, genes, cells, n_pcs, scale = TRUE, clip = 10) {
  m <- counts(x, cells = cells, genes = genes)
  lib <- Matrix::colSums(counts(x, cells = cells))
  norm <- log1p(as.matrix(m) %*% diag(1e4 / lib))
  mu <- rowMeans(norm)
  sd <- if (scale) apply(norm, 1, stats::sd) else rep(1, nrow(norm))
  z <- pmin((norm - mu) / sd, clip)
  s <- svd(t(z), nu = n_pcs, nv = n_pcs)
  list(embedding = s$u %*% diag(s$d[1:n_pcs]), stdev = s$d[1:n_pcs] / sqrt(ncol(z) - 1))
}

test_that("PCA equals the SVD of Seurat-scaled data computed in R; options scale and clip", {
  x <- ingest_mtx(simulate_counts(400, 300, path = tempfile("sim_")), tempfile("store_"), min_cells = 3)
  calculate_qc_metrics(x)
  set_keep(x, "pct_mt < 8")
  find_hvg(x, n = 120)
  genes <- hvg(x)$gene_id
  cells <- which(keep(x))
  for (opt in list(list(scale = TRUE, clip = 10), list(scale = TRUE, clip = 2), list(scale = FALSE,
      clip = Inf))) {
    run_pca(x, n_pcs = 8, method = "exact", scale = opt$scale, clip = opt$clip)
    o <- pca_oracle(x, genes, cells, 8, opt$scale, opt$clip)
    p <- pca(x)
    expect_equal(p$cell_id, cell_ids(x)[cells])
    r <- sapply(1:8, function(k) abs(stats::cor(p[[k + 1]], o$embedding[, k])))
    expect_gt(min(r), 0.9999)
    expect_equal(pca_variance(x)$stdev, o$stdev, tolerance = 1e-5)
    # Embeddings are U S: same scale as the oracle's, up to sign.
    expect_equal(abs(p$PC_1), abs(o$embedding[, 1]), tolerance = 1e-4)
  }
  l <- pca_loadings(x)
  expect_equal(l$gene_id, var(x)$gene_id[var(x)$gene_id %in% genes])
  expect_equal(sum(l$PC_1^2), 1, tolerance = 1e-6)
  # Given genes instead of the HVGs.
  run_pca(x, n_pcs = 5, hvg = genes[1:50], method = "exact")
  o <- pca_oracle(x, genes[1:50], cells, 5)
  expect_gt(abs(stats::cor(pca(x)$PC_2, o$embedding[, 2])), 0.9999)
})

test_that("PCA goes stale with the kept cells or the HVGs it used", {
  x <- ingest_mtx(simulate_counts(300, 250, path = tempfile("sim_")), tempfile("store_"), min_cells = 3)
  expect_error(run_pca(x), "there are no highly variable genes in this store yet; run find_hvg\\(x\\) first")
  find_hvg(x, n = 100)
  expect_error(run_pca(x, n_pcs = 101), "n_pcs \\(101\\) must not exceed the number of genes used \\(100\\)")
  expect_error(pca(x), "there are no principal components in this store yet; run run_pca\\(x\\) first")
  said <- testthat::capture_messages(run_pca(x, n_pcs = 10))
  expect_match(said, "10 principal components \\(randomized, on cpu\\)", all = FALSE)
  expect_length(testthat::capture_messages(run_pca(x, n_pcs = 10, verbose = FALSE)), 0)
  expect_equal(dim(pca(x)), c(300, 11))
  find_hvg(x, n = 100)
  expect_error(pca(x),
               paste0("the principal components are stale: its input, the highly variable genes, was ",
                   "recomputed since; rerun run_pca\\(x\\)"))
  run_pca(x, n_pcs = 10)
  set_keep(x, 1:200)
  expect_error(pca_variance(x), "the principal components are stale: the kept cells changed")
  expect_message(v <- var(x), "leaving out .*PC_1")
  find_hvg(x, n = 100)
  run_pca(x, n_pcs = 10)
  expect_equal(nrow(pca(x)), 200)
})

test_that("PBMC3k: exact PCs equal Seurat's; randomized PCs and neighbours agree", {
  x <- ingest_mtx(skip_without_shared("data", "pbmc3k", "filtered_gene_bc_matrices", "hg19"),
                  tempfile("pbmc_"),
                  min_cells = 3, min_genes = 200)
  calculate_qc_metrics(x)
  set_keep(x, "n_genes > 200 AND n_genes < 2500 AND pct_mt < 5")
  # Seurat's own 2,000 HVGs (our vst gives the same set; its names replace "_" by "-").
  seurat_hvg <- readLines(skip_without_shared("reference", "pbmc3k_seurat", "hvg_genes.txt"))
  v <- var(x)
  genes <- v$gene_id[match(seurat_hvg, gsub("_", "-", make.unique(v$symbol)))]
  expect_false(anyNA(genes))
  ref <- utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "pca_embedding.csv"),
                         row.names = 1)
  ref_sd <- utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "pca_stdev.csv"))[[1]]

  run_pca(x, hvg = genes, method = "exact")
  p <- pca(x)
  expect_identical(p$cell_id, rownames(ref))
  r <- sapply(1:50, function(k) abs(stats::cor(p[[k + 1]], ref[[k]])))
  expect_gte(min(r), 0.99)
  expect_lt(max(abs(pca_variance(x)$stdev - ref_sd) / ref_sd), 0.005)

  run_pca(x, hvg = genes)
  p <- pca(x)
  r <- sapply(1:10, function(k) abs(stats::cor(p[[k + 1]], ref[[k]])))
  expect_gte(min(r), 0.99)
  expect_gte(sum(pca_variance(x)$stdev^2) / sum(ref_sd^2), 0.995)
  knn <- function(e, k = 20) {
    d <- as.matrix(stats::dist(e))
    t(apply(d, 1, function(row) order(row)[2:(k + 1)]))
  }
  ours <- knn(as.matrix(p[, 2:31]))
  theirs <- knn(as.matrix(ref[, 1:30]))
  shared <- mean(sapply(seq_len(nrow(ours)), function(i) length(intersect(ours[i, ], theirs[i, ]))) / 20)
  expect_gte(shared, 0.95)
})
