# Ingests interrupted from outside: killed (SIGKILL) or interrupted with Ctrl-C (SIGINT).

sim <- simulate_counts(30000, 3000, n_clusters = 3, path = tempfile("sim_"), seed = 2)

# Starts `ingest_mtx(sim, <parent>/store)` in a child Rscript; returns once its partial
# directory holds a chunk file (the write pass has begun).
start_ingest <- function() {
  parent <- tempfile("parent_")
  dir.create(parent)
  script <- tempfile(fileext = ".R")
  log <- tempfile(fileext = ".log")
  writeLines(sprintf("cellstream::ingest_mtx('%s', '%s')", sim, file.path(parent, "store")), script)
  libs <- paste(.libPaths(), collapse = ":")
  pid <- as.integer(system(sprintf("R_LIBS='%s' Rscript '%s' >'%s' 2>&1 & echo $!", libs, script, log),
                           intern = TRUE))
  partial <- character()
  for (i in 1:200) {
    partial <- list.files(parent, pattern = "partial", all.files = TRUE, full.names = TRUE)
    if (length(partial) > 0 && file.exists(file.path(partial[1], "cells.chunks"))) break
    Sys.sleep(0.05)
  }
  expect_length(partial, 1)
  list(pid = pid, parent = parent, store = file.path(parent, "store"), partial = partial, log = log)
}

test_that("an ingest killed mid-write leaves no store behind", {
  skip_on_os("windows")
  run <- start_ingest()
  tools::pskill(run$pid, tools::SIGKILL)
  wait_for_exit(run$pid)
  expect_false(file.exists(run$store))
  expect_error(open_store(run$store), "does not exist")
  expect_error(open_store(run$partial), "is not a cellstream store: it has no manifest.json")
})

test_that("Ctrl-C stops an ingest with an R error and removes its partial files", {
  skip_on_os("windows")
  run <- start_ingest()
  tools::pskill(run$pid, tools::SIGINT)
  wait_for_exit(run$pid)
  expect_match(paste(readLines(run$log), collapse = "\n"), "interrupted by the user; nothing was written")
  expect_only_files(run$parent)
})
