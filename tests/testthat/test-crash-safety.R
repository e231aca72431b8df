test_that("an ingest killed mid-write leaves no store behind", {
  skip_on_os("windows")
  sim <- simulate_counts(30000, 3000, n_clusters = 3, path = tempfile("sim_"), seed = 2)
  parent <- tempfile("parent_")
  dir.create(parent)
  store <- file.path(parent, "store")
  script <- tempfile(fileext = ".R")
  writeLines(sprintf("cellstream::ingest_mtx('%s', '%s')", sim, store), script)
  libs <- paste(.libPaths(), collapse = ":")
  pid <- as.integer(system(sprintf("R_LIBS='%s' Rscript '%s' >/dev/null 2>&1 & echo $!", libs, script), intern = TRUE))
  partial <- character()
  for (i in 1:200) {
    partial <- list.files(parent, pattern = "partial", all.files = TRUE, full.names = TRUE)
    if (length(partial) > 0 && file.exists(file.path(partial[1], "cells.chunks"))) break
    Sys.sleep(0.05)
  }
  expect_length(partial, 1)
  tools::pskill(pid, tools::SIGKILL)
  Sys.sleep(0.5)
  expect_false(file.exists(store))
  expect_error(open_store(store), "does not exist")
  expect_error(open_store(partial), "is not a cellstream store: it has no manifest.json")
})
