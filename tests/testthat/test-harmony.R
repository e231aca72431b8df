# Harmony and LISI against harmonypy 2.1.0, R harmony and R lisi (../shared), and on simulated
# batches.

per_pc_cor <- function(a, b) sapply(seq_len(ncol(a)), function(i) stats::cor(a[, i], b[, i]))

harmony_data <- function(name) skip_without_shared("data", "harmony", name)
harmonypy_output <- function(name) {
  as.matrix(utils::read.csv(skip_without_shared("reference", "harmony_harmonypy", name))[, -1])
}

test_that("cell_lines: Harmony matches harmonypy, mixes the datasets and keeps the lines apart", {
  pcs <- as.matrix(utils::read.csv(harmony_data("cell_lines_pcs.csv"), row.names = 1))
  meta <- utils::read.csv(harmony_data("cell_lines_meta.csv"))
  ours <- run_harmony(pcs, meta$dataset, seed = 0, verbose = FALSE)
  expect_equal(attr(ours, "n_clusters"), 79)
  expect_true(attr(ours, "converged"))
  expect_equal(dimnames(ours), dimnames(pcs))
  r <- per_pc_cor(ours, harmonypy_output("cell_lines_harmonypy_seed0.csv.gz"))
  expect_gte(min(r), 0.95)
  expect_gte(mean(r), 0.99)
  before <- lisi(pcs, meta[c("dataset", "cell_type")])
  after <- lisi(ours, meta[c("dataset", "cell_type")])
  expect_equal(median(before$dataset), 1.018, tolerance = 0.01)
  expect_gte(median(after$dataset), 1.7)
  expect_lte(median(after$cell_type), 1.05)
  expect_lte(mean(after$cell_type), 1.05)
})

test_that("pbmc_3500: Harmony matches harmonypy and R harmony's stored output", {
  read_tsv <- function(name) utils::read.delim(harmony_data(name))
  pcs <- as.matrix(read_tsv("pbmc_3500_pcs.tsv.gz"))
  donor <- read_tsv("pbmc_3500_meta.tsv.gz")$donor
  ours <- run_harmony(pcs, donor, seed = 0, verbose = FALSE)
  expect_equal(attr(ours, "n_clusters"), 100)
  r <- per_pc_cor(ours, harmonypy_output("pbmc_3500_harmonypy_seed0.csv.gz"))
  expect_gte(min(r), 0.95)
  expect_gte(mean(r), 0.99)
  r_harmony <- per_pc_cor(ours, as.matrix(read_tsv("pbmc_3500_pcs_harmonized.tsv.gz")))
  expect_gte(min(r_harmony), 0.95)
  expect_gte(median(lisi(ours, donor)$lisi), 2.3172 - 0.05)
})

test_that("LISI equals R lisi's and harmonypy's values on their fixture", {
  x <- as.matrix(utils::read.delim(harmony_data("lisi_x.tsv.gz")))
  labels <- utils::read.delim(harmony_data("lisi_metadata.tsv.gz"))
  ours <- lisi(x, labels)
  expect_named(ours, c("label1", "label2"))
  r_lisi <- utils::read.delim(harmony_data("lisi_lisi.tsv.gz"))
  expect_lte(max(abs(as.matrix(ours) - as.matrix(r_lisi[c("label1", "label2")]))), 1e-6)
  harmonypy <- utils::read.csv(skip_without_shared("reference", "harmony_harmonypy", "lisi_fixture_harmonypy.csv"))
  expect_lte(max(abs(as.matrix(ours) - as.matrix(harmonypy))), 2e-3)
})

test_that("simulated batches mix after Harmony while the cell types stay apart; one seed repeats", {
  set.seed(3)
  type <- rep(1:3, length.out = 1500)
  batch <- rep(c("a", "b"), each = 750)
  centres <- matrix(rnorm(3 * 10, sd = 4), 3)
  pcs <- centres[type, ] + matrix(rnorm(1500 * 10), ncol = 10) + outer(batch == "b", rnorm(10, sd = 2))
  corrected <- run_harmony(pcs, batch, verbose = FALSE)
  expect_lt(median(lisi(pcs, batch)$lisi), 1.1)
  expect_gt(median(lisi(corrected, batch)$lisi), 1.8)
  expect_lt(median(lisi(corrected, type)$lisi), 1.02)
  expect_identical(run_harmony(pcs, batch, verbose = FALSE), corrected)
  expect_message(run_harmony(pcs, batch), "Harmony: 50 clusters, \\d+ iterations \\(converged\\)")
  two_vars <- run_harmony(pcs, data.frame(batch = batch, lane = rep(c("x", "y"), 750)), verbose = FALSE)
  expect_gt(median(lisi(two_vars, batch)$lisi), 1.8)
})

test_that("bad batch labels are clear errors", {
  pcs <- matrix(rnorm(300 * 4), ncol = 4)
  expect_error(run_harmony(pcs, rep("a", 300), verbose = FALSE), "at least 2 batches")
  expect_error(run_harmony(pcs, c(NA, rep(c("a", "b"), length.out = 299)), verbose = FALSE), "missing \\(NA\\) labels")
  expect_error(run_harmony(pcs, rep(c("a", "b"), 100), verbose = FALSE), "200 labels for 300 cells")
  expect_error(run_harmony(pcs, rep(c("a", "b"), 150), sigma = 0, verbose = FALSE), "`sigma` must be a positive number")
  expect_error(lisi(pcs[1:50, ], rep(c("a", "b"), 25)), "perplexity 30 needs more than 90 cells")
})
