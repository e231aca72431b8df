# QC metrics, outlier calls and the kept-cell filter on simulated data, against R oracles.

sim_store <- function(n_cells = 400, n_genes = 300, ...) {
  ingest_mtx(simulate_counts(n_cells, n_genes, path = tempfile("sim_"), ...), tempfile("store_"))
}

test_that("QC metrics equal sums over the count matrix; gene sets by regex, id or position", {
  x <- sim_store()
  m <- counts(x)
  sym <- var(x)$symbol
  ids <- var(x)$gene_id
  qc <- x |> calculate_qc_metrics(gene_sets = list(picked = c(ids[200], "GENE5"), first = 1:3), top_n = c(10,
      500)) |>
    qc_metrics()
  lib <- Matrix::colSums(m)
  pct <- function(rows) as.numeric(Matrix::colSums(m[rows, , drop = FALSE]) / lib * 100)
  expect_identical(qc$cell_id, colnames(m))
  expect_equal(qc$n_counts, as.numeric(lib))
  expect_equal(qc$n_genes, as.numeric(Matrix::colSums(m > 0)))
  expect_equal(qc$pct_mt, pct(grepl("^MT-", sym)), tolerance = 1e-12)
  expect_equal(qc$pct_ribo, pct(grepl("^RP[SL]", sym)), tolerance = 1e-12)
  expect_equal(qc$pct_hb, pct(sym %in% c("HBB", "HBA1", "HBA2")), tolerance = 1e-12)
  expect_equal(qc$pct_picked, pct(c(200, match("GENE5", sym))), tolerance = 1e-12)
  expect_equal(qc$pct_first, pct(1:3), tolerance = 1e-12)
  top10 <- apply(as.matrix(m), 2, function(v) sum(sort(v, decreasing = TRUE)[1:10]))
  expect_equal(qc$pct_top_10, as.numeric(top10 / lib * 100), tolerance = 1e-12)
  expect_equal(qc$pct_top_500, rep(100, ncol(m)))
  o <- obs(x)
  expect_equal(o$pct_mt, qc$pct_mt)
  expect_equal(o$pct_top_10, qc$pct_top_10)
  v <- var(x)
  expect_equal(v$mean_counts, as.numeric(Matrix::rowSums(m)) / ncol(m))
  expect_equal(v$pct_dropout, 100 * (1 - as.numeric(Matrix::rowSums(m > 0)) / ncol(m)))
  # A rerun with other sets replaces the columns of the previous run.
  calculate_qc_metrics(x, patterns = c(mt = "^MT-"), top_n = 50)
  expect_setequal(grep("^pct_", names(obs(x)), value = TRUE), c("pct_mt", "pct_top_50"))
})

test_that("gene-set mistakes: unknown ids are errors, a pattern matching nothing warns", {
  x <- sim_store(100, 120)
  expect_error(calculate_qc_metrics(x, gene_sets = list(bad = c("GENE1", "NOPE"))),
               "1 genes not found in the store: NOPE")
  expect_warning(q <- qc_metrics(calculate_qc_metrics(x, patterns = c(mt = "^mt-"))),
                 "pattern '\\^mt-' for gene set 'mt' matches no gene symbol")
  expect_equal(unique(q$pct_mt), 0)
  expect_error(calculate_qc_metrics(x, patterns = "^MT-"), "needs a name")
  expect_error(calculate_qc_metrics(x, top_n = 0), "top_n")
})

test_that("MAD outliers match scater's rule computed in R; fixed thresholds; groups", {
  a <- simulate_counts(300, 200, path = tempfile("a_"), seed = 1)
  b <- simulate_counts(300, 200, path = tempfile("b_"), seed = 2, median_library = 6000)
  x <- ingest_mtx(c(a = a, b = b), tempfile("store_"))
  calculate_qc_metrics(x)
  o <- obs(x)
  rule <- function(v, side, log) {
    t <- if (log) log1p(v) else v
    lo <- median(t) - 3 * mad(t)
    hi <- median(t) + 3 * mad(t)
    switch(side, lower = t < lo, higher = t > hi, both = t < lo | t > hi)
  }
  out <- x |> find_outliers() |> outliers()
  expect_equal(out$n_counts, rule(o$n_counts, "lower", TRUE))
  expect_equal(out$n_genes, rule(o$n_genes, "lower", TRUE))
  expect_equal(out$pct_mt, rule(o$pct_mt, "higher", FALSE))
  expect_equal(out$outlier, out$n_counts | out$n_genes | out$pct_mt)
  expect_gt(sum(out$pct_mt), 0)  # the simulator's damaged cells
  th <- attr(out, "thresholds")
  expect_equal(th$median[th$metric == "pct_mt"], median(o$pct_mt))
  expect_equal(th$upper[th$metric == "pct_mt"], median(o$pct_mt) + 3 * mad(o$pct_mt))

  grouped <- x |>
    find_outliers(metrics = c(n_counts = "both"), log = character(), by = "sample", max = c(pct_mt = 5),
                  column = "by_sample") |>
    outliers("by_sample")
  per_sample <- unlist(lapply(split(o$n_counts, o$sample), rule, side = "both", log = FALSE))
  expect_equal(grouped$n_counts, unname(per_sample))
  expect_equal(grouped$pct_mt, o$pct_mt > 5)
  th <- attr(grouped, "thresholds")
  expect_equal(th$group[th$metric == "n_counts"], c("a", "b"))
  expect_equal(th$median[th$metric == "n_counts"], unname(sapply(split(o$n_counts, o$sample), median)))

  find_outliers(x, column = "qc_outlier")
  expect_equal(obs(x)$qc_outlier, out$outlier)
  set_keep(x, "NOT qc_outlier")
  expect_equal(keep(x), !out$outlier)
  expect_error(find_outliers(x, metrics = c(nope = "lower")), "obs has no column 'nope'")
  expect_error(find_outliers(x, metrics = c(n_counts = "up")), "\"both\", \"lower\" or \"higher\"")
  expect_error(find_outliers(x, by = "nope"), "obs has no column 'nope'")
})

test_that("set_keep() takes an SQL condition on obs; bad conditions change nothing", {
  x <- sim_store()
  calculate_qc_metrics(x)
  o <- obs(x)
  set_keep(x, "n_genes > 150 AND pct_mt < 10")
  expect_equal(keep(x), o$n_genes > 150 & o$pct_mt < 10)
  expect_equal(store_info(x)$keep_generation, 2)
  # A single string that is a cell id is that cell.
  set_keep(x, o$cell_id[7])
  expect_equal(which(keep(x)), 7)
  expect_error(set_keep(x, "n_genes > 1e9"), "selects no cell \\(of 400\\); the kept cells are unchanged")
  expect_error(set_keep(x, "pct_nope < 5"),
               "the cell filter \"pct_nope < 5\" failed: .*pct_nope.*obs has the columns")
  expect_error(set_keep(x, "n_genes >"), "failed")
  expect_equal(which(keep(x)), 7)
  expect_equal(store_info(x)$keep_generation, 3)
})

test_that("a stored outlier column may not take the name of an existing obs column", {
  x <- sim_store(100, 120)
  calculate_qc_metrics(x)
  expect_error(find_outliers(x, column = "n_counts"),
               "obs already has a column 'n_counts'; choose another name")
  expect_error(find_outliers(x, column = "pct_mt"), "obs already has a column 'pct_mt'")
  expect_false(any(grepl("outliers", steps(x)$step)))
})
