# Results are stamped with the kept-cell generation; stale ones are errors, and everything
# survives a new R process.

test_that("changing the kept cells makes HVGs stale until find_hvg() is rerun", {
  path <- tempfile("store_")
  x <- ingest_mtx(simulate_counts(300, 250, path = tempfile("sim_")), path, min_cells = 3)
  calculate_qc_metrics(x)
  first <- x |> find_hvg(n = 20) |> hvg()
  expect_equal(hvg(x), first)
  s <- steps(x)
  expect_equal(s$step, c("qc", "hvg"))
  expect_equal(s$current, c(TRUE, TRUE))
  expect_equal(s$generation, c(NA, 1))

  set_keep(x, "n_genes > 60")
  expect_error(hvg(x),
               paste0("the highly variable genes are stale: the kept cells changed since \\(generation ",
                   "1, now 2\\); rerun find_hvg\\(x\\)"))
  expect_message(v <- var(x), "leaving out hvg_mean, .*highly_variable, stale because the kept cells changed")
  expect_false("highly_variable" %in% names(v))
  expect_true("mean_counts" %in% names(v))  # QC uses all cells: still current
  expect_output(print(x), "hvg \\[method = vst, n = 20\\] on kept cells, generation 1: STALE")
  expect_output(print(x),
                paste0("qc \\[gene sets mt \\(13 genes\\), ribo \\(67 genes\\), hb \\(3 genes\\); top ",
                    "50, 100, 200, 500\\] on all cells: current"))

  again <- x |> find_hvg(n = 20) |> hvg()
  expect_equal(hvg(x), again)
  expect_true(all(steps(x)$current))

  # An outlier column rests on the QC metrics: rerunning QC makes it stale.
  find_outliers(x, column = "qc_outlier")
  calculate_qc_metrics(x, top_n = 20)
  s <- steps(x)
  expect_equal(s$current[s$step == "outliers:qc_outlier"], FALSE)
  expect_match(s$stale_because[s$step == "outliers:qc_outlier"], "its input, the QC metrics, was recomputed")
  expect_message(o <- obs(x), "leaving out qc_outlier")
  expect_false("qc_outlier" %in% names(o))

  # A new R process sees the same results and states.
  close_store(x)
  out <- tempfile(fileext = ".rds")
  code <- sprintf(paste0("x <- cellstream::open_store('%s'); saveRDS(list(h = cellstream::hvg(x), s = ",
      "cellstream::steps(x), k = cellstream::keep(x)), '%s')"), path, out)
  status <- system2(file.path(R.home("bin"), "Rscript"), c("-e", shQuote(code)), stdout = FALSE,
                    stderr = FALSE)
  expect_equal(status, 0)
  fresh <- readRDS(out)
  expect_equal(fresh$h, again)
  expect_equal(fresh$s, steps(x))
  expect_equal(fresh$k, keep(x))
})
