# One convention: every step verb stores its result and returns the store invisibly, so a
# whole analysis is one pipe; accessors read the results.

test_that("each step verb returns the store, invisibly", {
  dir <- simulate_counts(600, 400, path = tempfile("sim_"))
  made <- withVisible(ingest_mtx(dir, tempfile("store_"), min_cells = 3, verbose = FALSE))
  expect_false(made$visible)
  x <- made$value
  expect_s3_class(x, "cellstream_store")
  verbs <- list(
    calculate_qc_metrics = function(s) calculate_qc_metrics(s, verbose = FALSE),
    find_outliers = function(s) find_outliers(s, verbose = FALSE),
    set_keep = function(s) set_keep(s, "NOT qc_outlier", verbose = FALSE),
    find_hvg = function(s) find_hvg(s, n = 200, verbose = FALSE),
    run_pca = function(s) run_pca(s, n_pcs = 10, verbose = FALSE),
    find_neighbors = function(s) find_neighbors(s, n_pcs = 10, verbose = FALSE),
    cluster_leiden = function(s) cluster_leiden(s, verbose = FALSE),
    run_umap = function(s) run_umap(s, verbose = FALSE)
  )
  for (name in names(verbs)) {
    out <- withVisible(x |> verbs[[name]]())
    expect_false(out$visible, label = name)
    expect_identical(out$value, x, label = name)
  }
  expect_equal(nrow(qc_metrics(x)), 600)
  expect_equal(sum(outliers(x)$outlier), sum(!keep(x)))
  expect_equal(nrow(hvg(x)), 200)
  expect_equal(nrow(pca_variance(x)), 10)
  expect_equal(leiden_summary(x)$column, "leiden")
  expect_equal(leiden_summary(x)$n_clusters, nlevels(obs(x)$leiden))
  expect_equal(nrow(embedding(x)), sum(keep(x)))
})

test_that("the README's example runs as written", {
  readme <- file.path(testthat::test_path(), "..", "..", "README.md")
  skip_if_not(file.exists(readme), "README.md is not beside the tests (an installed package)")
  text <- readLines(readme)
  starts <- which(text == "```r")
  ends <- which(text == "```")
  block <- text[(starts[1] + 1):(ends[ends > starts[1]][1] - 1)]
  expect_match(paste(block, collapse = "\n"), "ingest_mtx\\(.*run_umap\\(\\)")
  env <- new.env()
  suppressMessages(eval(parse(text = block), envir = env))
  x <- env$x
  expect_s3_class(x, "cellstream_store")
  expect_true(all(steps(x)$current))
  expect_setequal(steps(x)$step, c("qc", "outliers:qc_outlier", "hvg", "pca", "neighbors", "leiden:leiden",
                                   "umap", "markers:leiden"))
  expect_identical(env$m, markers(x))
  expect_equal(nrow(embedding(x)), sum(keep(x)))
  expect_gte(nlevels(obs(x)$leiden), 4)
})
