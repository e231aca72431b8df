# Highly variable genes on simulated data: vst against an R implementation of Seurat's
# algorithm (R's own loess), batches against per-batch runs combined in R.

hvg_store <- function(n_cells = 600, n_genes = 400) {
  a <- simulate_counts(n_cells / 2, n_genes, path = tempfile("a_"), seed = 3)
  b <- simulate_counts(n_cells / 2, n_genes, path = tempfile("b_"), seed = 4, median_library = 5000)
  ingest_mtx(c(a = a, b = b), tempfile("store_"), min_cells = 3)
}

# Seurat v3 vst (FindVariableFeatures.default) on a genes x cells count matrix.
vst_oracle <- function(m) {
  mu <- Matrix::rowMeans(m)
  v <- apply(as.matrix(m), 1, var)
  ok <- v > 0
  fit <- stats::loess(log10(v[ok]) ~ log10(mu[ok]), span = 0.3, degree = 2)
  expected <- numeric(length(v))
  expected[ok] <- 10^fitted(fit)
  sd <- sqrt(expected)
  clip <- sqrt(ncol(m))
  z <- pmin((as.matrix(m) - mu) / sd, clip)
  std <- ifelse(ok, rowSums(z^2) / (ncol(m) - 1), 0)
  data.frame(mean = mu, variance = v, expected = expected, standardized = std)
}

test_that("vst statistics and ranking equal Seurat's algorithm on the kept cells", {
  x <- hvg_store()
  calculate_qc_metrics(x)
  set_keep(x, "pct_mt < 8")
  kept <- which(keep(x))
  top <- x |> find_hvg(n = 50) |> hvg()
  o <- vst_oracle(counts(x, cells = kept))
  v <- hvg(x, all = TRUE)
  expect_equal(v$hvg_mean, o$mean, tolerance = 1e-12)
  expect_equal(v$hvg_variance, o$variance, tolerance = 1e-10)
  expect_equal(v$hvg_variance_expected, o$expected, tolerance = 1e-8)
  expect_equal(v$hvg_variance_standardized, o$standardized, tolerance = 1e-8)
  # Clipping happened.
  largest <- apply(as.matrix(counts(x, cells = kept)), 1, max)
  expect_gt(sum(o$standardized > 0 & largest > o$mean + sqrt(length(kept)) * sqrt(o$expected)), 0)
  rank <- order(o$standardized, decreasing = TRUE)
  expect_equal(top$gene_id, v$gene_id[rank[1:50]])
  expect_equal(top$hvg_rank, 1:50)
  expect_equal(sum(v$highly_variable), 50)
  expect_equal(names(top), c("gene_id", "symbol", "hvg_mean", "hvg_variance", "hvg_variance_expected",
                             "hvg_variance_standardized", "hvg_rank", "highly_variable"))
})

test_that("with batches, genes rank by batches selecting them, then median rank", {
  x <- hvg_store()
  n <- 40
  cells <- obs(x)
  per_batch <- lapply(c("a", "b"), function(s) {
    set_keep(x, cells$sample == s)
    find_hvg(x, n = n)
    hvg(x, all = TRUE)
  })
  set_keep(x, rep(TRUE, nrow(cells)))
  both <- x |> find_hvg(n = n, batch = "sample") |> hvg()
  all_genes <- hvg(x, all = TRUE)
  ranks <- sapply(per_batch, function(v) ifelse(v$hvg_rank <= n, v$hvg_rank, NA))
  n_batches <- rowSums(!is.na(ranks))
  med <- apply(ranks, 1, function(r) if (all(is.na(r))) NA else stats::median(r, na.rm = TRUE))
  chosen <- n_batches > 0
  expected <- order(-n_batches[chosen], med[chosen], which(chosen))
  expect_equal(both$gene_id, all_genes$gene_id[which(chosen)[expected]][1:n])
  expect_equal(all_genes$hvg_n_batches, n_batches)
  std <- sapply(per_batch, `[[`, "hvg_variance_standardized")
  expect_equal(all_genes$hvg_variance_standardized, rowMeans(std), tolerance = 1e-12)
  expect_true(any(n_batches == 1) && any(n_batches == 2))
})

test_that("dispersion: log dispersion z-scored within 20 bins of mean", {
  x <- hvg_store()
  top <- x |> find_hvg(n = 30, method = "dispersion") |> hvg()
  v <- hvg(x, all = TRUE)
  m <- counts(x)
  norm <- m %*% Matrix::Diagonal(x = 1e4 / Matrix::colSums(m))
  mu <- unname(Matrix::rowMeans(norm))
  disp <- unname(apply(as.matrix(norm), 1, var)) / mu
  expect_equal(v$hvg_mean, log1p(mu), tolerance = 1e-10)
  expect_equal(v$hvg_dispersion, log(disp), tolerance = 1e-8)
  z <- v$hvg_dispersion_norm
  expect_equal(top$gene_id, v$gene_id[order(-z)][1:30])
  # Within a bin the normalised dispersions have mean 0 and standard deviation 1.
  edges <- seq(min(v$hvg_mean), max(v$hvg_mean), length.out = 21)
  bin <- pmax(1, ceiling((v$hvg_mean - edges[1]) / (edges[2] - edges[1])))
  big <- names(which(table(bin) > 5))
  for (b in big) {
    expect_equal(mean(z[bin == b]), 0, tolerance = 1e-8)
    expect_equal(sd(z[bin == b]), 1, tolerance = 1e-8)
  }
})

test_that("bad HVG requests give clear messages", {
  x <- hvg_store(200, 150)
  expect_error(find_hvg(x, n = 1e6), "larger than the number of genes in the store")
  expect_error(find_hvg(x, n = 0), "whole number >= 1")
  expect_error(find_hvg(x, n = 10, batch = "nope"), "obs has no column 'nope'")
  expect_error(hvg(x), "there are no highly variable genes in this store yet; run find_hvg\\(x\\) first")
  cells <- obs(x)
  set_keep(x, cells$sample == "b" | seq_len(nrow(cells)) == 1)
  expect_error(find_hvg(x, n = 10, batch = "sample"),
               "batch 'a' of column 'sample' has 1 kept cell\\(s\\); each batch needs at least 2")
})
