# Progress bars: in a non-interactive R (Rscript writing to a log) a few lines per pass, not
# one per update; verbose = FALSE prints nothing.

run_rscript <- function(code) {
  libs <- paste(deparse(.libPaths()), collapse = "")
  script <- tempfile(fileext = ".R")
  writeLines(c(sprintf(".libPaths(%s)", libs), code), script)
  system2(file.path(R.home("bin"), "Rscript"), script, stdout = TRUE, stderr = TRUE)
}

test_that("a non-interactive run prints a few progress lines per step; verbose = FALSE none", {
  lines <- run_rscript(c(
    "suppressPackageStartupMessages(library(cellstream))",
    "options(cli.progress_show_after = 0)",  # show every bar, however short
    "dir <- simulate_counts(3000, 1000, path = tempfile())",
    "message('== ingest'); x <- ingest_mtx(dir, tempfile(), min_cells = 3)",
    "message('== hvg'); find_hvg(x, n = 300)",
    "message('== pca'); run_pca(x, n_pcs = 20)",
    "message('== neighbors'); find_neighbors(x, n_pcs = 20)",
    "message('== umap'); run_umap(x)",
    "message('== quiet')",
    "y <- ingest_mtx(dir, tempfile(), verbose = FALSE) |> find_hvg(n = 300, verbose = FALSE) |>",
    "  run_pca(n_pcs = 20, verbose = FALSE) |> find_neighbors(n_pcs = 20, verbose = FALSE) |>",
    "  run_umap(verbose = FALSE)",
    "message('== end')"
  ))
  marks <- grep("^== ", lines)
  expect_equal(sub("^== ", "", lines[marks]), c("ingest", "hvg", "pca", "neighbors", "umap", "quiet", "end"))
  section <- function(name) {
    at <- marks[lines[marks] == paste("==", name)]
    lines[seq_len(marks[match(at, marks) + 1] - at - 1) + at]
  }
  for (name in c("ingest", "hvg", "pca", "neighbors", "umap")) {
    expect_lt(length(section(name)), 30, label = name)
  }
  expect_match(section("ingest"), "Ingest: checking cells .*3,000/3,000", all = FALSE)
  expect_match(section("ingest"), "Ingest: writing genes .*/", all = FALSE)
  expect_match(section("pca"), "PCA: Krylov blocks .*9/9", all = FALSE)
  expect_match(section("umap"), "UMAP: epochs .*500/500", all = FALSE)
  expect_match(section("umap"), "UMAP \\(.*start, on cpu\\) in", all = FALSE)
  expect_length(section("quiet"), 0)
})

test_that("options(cellstream.progress = FALSE) hides the bars but keeps the summaries", {
  reporter <- cellstream:::progress_reporter
  x <- ingest_mtx(simulate_counts(200, 150, path = tempfile()), tempfile(), verbose = FALSE)
  old <- options(cellstream.progress = FALSE, cli.progress_show_after = 0)
  on.exit(options(old))
  expect_null(reporter(TRUE))
  said <- testthat::capture_messages(find_hvg(x, n = 50))
  expect_length(said, 1)
  expect_match(said, "50 highly variable genes")
  options(cellstream.progress = TRUE)
  expect_null(reporter(FALSE))
  expect_true(is.function(reporter(TRUE)))
})
