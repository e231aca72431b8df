# Several processes on one store: readers alongside a writer, a second writer refused, steps
# killed (SIGKILL) at random moments, and writes that fail for lack of space.

skip_on_os("windows")

prepared <- function(n_cells = 3000) {
  x <- ingest_mtx(simulate_counts(n_cells, 500, n_clusters = 3, path = tempfile(), seed = 3), tempfile(),
                  verbose = FALSE)
  x |>
    calculate_qc_metrics(verbose = FALSE) |>
    find_hvg(n = 200, verbose = FALSE) |>
    run_pca(n_pcs = 20, verbose = FALSE) |>
    find_neighbors(k = 10, n_pcs = 10, verbose = FALSE) |>
    run_umap(n_neighbors = 10, n_epochs = 50, verbose = FALSE)
}

# The lock file of a store is held (the `flock` tool from util-linux tells).
write_locked <- function(x) {
  system2("flock", c("-n", shQuote(file.path(x$path, "write.lock")), "true")) != 0
}

test_that("two readers never fail or see a partial result while a third process runs run_pca()", {
  skip_if(Sys.which("flock") == "", "no flock tool")
  x <- prepared()
  reader <- c(
    sprintf("x <- cellstream::open_store('%s')", x$path),
    "n <- 0; t0 <- Sys.time()",
    "while (Sys.time() - t0 < 12) {",
    "  p <- cellstream::pca(x); s <- cellstream::steps(x); o <- cellstream::obs(x)",
    "  stopifnot(nrow(p) == 3000, (ncol(p) - 1) %in% c(20, 30), all(is.finite(as.matrix(p[, -1]))),",
    "            nrow(o) == 3000, 'pca' %in% s$step)",
    "  n <- n + 1",
    "}",
    "cat('reads:', n, '\\n')"
  )
  readers <- lapply(1:2, function(i) child_r(reader, wait = FALSE))
  # A long UMAP first, so that the lock is held for longer than a second writer waits.
  writer <- child_r(c(
    sprintf("x <- cellstream::open_store('%s')", x$path),
    "cellstream::run_umap(x, n_neighbors = 10, n_epochs = 1500, verbose = FALSE)",
    "for (i in 1:4) cellstream::run_pca(x, n_pcs = c(30, 20)[i %% 2 + 1], verbose = FALSE)",
    "cat('writer done\\n')"
  ), wait = FALSE)
  for (i in 1:200) if (write_locked(x)) break else Sys.sleep(0.05)
  expect_true(write_locked(x))
  expect_error(find_hvg(x, n = 100, verbose = FALSE),
               sprintf("another session \\(process %d\\) is writing to the store", writer$pid))
  for (p in c(writer$pid, sapply(readers, `[[`, "pid"))) expect_true(wait_for_exit(p, 60))
  expect_match(paste(readLines(writer$log), collapse = "\n"), "writer done")
  for (r in readers) {
    log <- paste(readLines(r$log), collapse = "\n")
    expect_match(log, "reads: [1-9]")
    expect_no_match(log, "Error")
  }
  expect_true(steps(x)$current[steps(x)$step == "pca"])
})

# Runs `code` (after opening the store as `x`) over and over in a child, kills it after a
# random delay, and checks the store.
kill_during <- function(x, code, delay) {
  run <- child_r(c(sprintf("x <- cellstream::open_store('%s')", x$path), "cat('started\\n')",
                   "repeat {", code, "}"), wait = FALSE)
  for (i in 1:100) if (any(grepl("started", readLines(run$log)))) break else Sys.sleep(0.1)
  Sys.sleep(delay)
  tools::pskill(run$pid, tools::SIGKILL)
  wait_for_exit(run$pid)
}

# Each recorded current step can be read; every result file is named by a step.
expect_consistent <- function(x) {
  close_store(x)
  s <- steps(x)
  for (step in s$step[s$current]) {
    suppressMessages(switch(step,
      pca = expect_no_error(pca(x)),
      neighbors = { expect_no_error(neighbors(x)); expect_no_error(snn_graph(x)) },
      umap = expect_no_error(embedding(x, "umap")),
      hvg = expect_no_error(hvg(x)),
      expect_no_error(obs(x))))
  }
  expect_no_error(suppressMessages(var(x)))
}

test_that("a step killed at any moment leaves a store that opens, each step absent or complete", {
  x <- prepared(1500)
  set.seed(7)
  codes <- c(qc = "cellstream::calculate_qc_metrics(x, verbose = FALSE)",
             hvg = "cellstream::find_hvg(x, n = 200, verbose = FALSE)",
             pca = "cellstream::run_pca(x, n_pcs = 20, verbose = FALSE)",
             neighbors = "cellstream::find_neighbors(x, k = 10, n_pcs = 10, verbose = FALSE)",
             leiden = "cellstream::cluster_leiden(x, verbose = FALSE)",
             umap = "cellstream::run_umap(x, n_neighbors = 10, n_epochs = 50, verbose = FALSE)",
             keep = "cellstream::set_keep(x, 'n_genes > 0', verbose = FALSE)",
             export = sprintf("cellstream::write_h5ad(x, tempfile(tmpdir = '%s', fileext = '.h5ad'), verbose = FALSE)",
                              dirname(x$path)))
  for (step in names(codes)) {
    for (k in 1:2) {
      kill_during(x, codes[[step]], runif(1, 0, 1.5))
      expect_consistent(x)
    }
    # The next writer removes what the killed ones left.
    find_hvg(x, n = 200, verbose = FALSE)
    left <- list.files(x$path, all.files = TRUE, no.. = TRUE)
    expect_false(any(grepl("\\.(tmp|new)$", left)), info = paste(step, paste(left, collapse = " ")))
    for (kind in c("pca.embedding", "knn.graph", "snn.graph", "umap.embedding")) {
      expect_lte(sum(startsWith(left, paste0(kind, "."))), 1)
    }
  }
  # Rebuild what the killed steps left stale, and read it all.
  x |>
    run_pca(n_pcs = 20, verbose = FALSE) |>
    find_neighbors(k = 10, n_pcs = 10, verbose = FALSE) |>
    run_umap(n_neighbors = 10, n_epochs = 50, verbose = FALSE)
  expect_true(all(steps(x)$current[steps(x)$step %in% c("pca", "neighbors", "umap")]))
  expect_consistent(x)
  write_h5ad(x, file.path(tempdir(), "after-kills.h5ad"), verbose = FALSE)
  expect_false(any(grepl("partial", list.files(dirname(x$path), all.files = TRUE))))
})

test_that("a write that fails for lack of space is a clear error and changes nothing", {
  x <- prepared(1500)
  before <- steps(x)
  pcs <- pca(x)
  # ulimit -f caps file sizes (in KiB) just above the metadata's; with SIGXFSZ ignored a
  # write past the cap fails with EFBIG.
  cap <- ceiling(max(file.size(list.files(x$path, full.names = TRUE))) / 1024) + 64
  script <- tempfile(fileext = ".R")
  writeLines(c(sprintf("x <- cellstream::open_store('%s')", x$path),
               "r <- tryCatch({ cellstream::run_pca(x, n_pcs = 40, verbose = FALSE); 'no error' },",
               "              error = conditionMessage)",
               "cat('result:', r, '\\n')"), script)
  out <- system(sprintf("bash -c \"trap '' XFSZ; ulimit -f %d; R_LIBS='%s' Rscript '%s' 2>&1\"", cap,
                        paste(.libPaths(), collapse = ":"), script), intern = TRUE)
  expect_match(paste(out, collapse = "\n"), "result: .*File too large")
  close_store(x)
  expect_identical(steps(x)$params, before$params)
  expect_identical(pca(x), pcs)
  expect_false(any(grepl("\\.(tmp|new)$", list.files(x$path))))
})
