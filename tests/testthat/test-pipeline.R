# Plots (ggplot objects with the right data) and the whole job from a raw directory.

test_that("run_pipeline goes from a 10x directory to clusters, plots and a results table", {
  out <- tempfile("job_")
  input <- simulate_counts(1500, 3000, n_clusters = 4, path = tempfile("sim_"), seed = 3)
  res <- run_pipeline(input, out, n_pcs = 20, n_neighbor_pcs = 15, verbose = FALSE)
  expect_setequal(list.files(out), c("store", "umap.png", "qc.png", "markers.csv", "dotplot.png", "cells.csv",
                                     "timings.csv"))
  expect_equal(res$timings$step, c("ingest", "qc", "outliers", "keep", "hvg", "pca", "neighbors", "leiden",
                                   "umap", "markers", "plots", "table"))
  top <- utils::read.csv(file.path(out, "markers.csv"))
  expect_true(all(table(top$cluster) <= 10))
  expect_true(all(top$avg_log2FC > 0 & top$p_val < 0.01))
  expect_identical(top$gene, markers(res$store)$gene[match(paste(top$cluster, top$gene_id),
                                                           paste(markers(res$store)$cluster, markers(res$store)$gene_id))])
  expect_true(all(res$timings$seconds >= 0))
  expect_true(all(res$timings$peak_rss_mb > 0))
  cells <- utils::read.csv(file.path(out, "cells.csv"))
  x <- res$store
  expect_equal(cells$cell_id, cell_ids(x))
  expect_equal(cells$keep, !cells$qc_outlier)
  expect_equal(is.na(cells$UMAP_1), !cells$keep)
  expect_equal(is.na(cells$leiden), !cells$keep)
  # Four simulated cell types: Leiden at 0.8 finds them (and may split one).
  expect_gte(length(unique(stats::na.omit(cells$leiden))), 4)
  expect_true(all(steps(x)$current))
  # Every step is checkpointed: the finished store holds no DuckDB write-ahead log.
  expect_false(file.exists(file.path(x$path, "meta.duckdb.wal")))
  # An existing store is reopened, not ingested again.
  again <- run_pipeline("no such input", out, n_pcs = 20, n_neighbor_pcs = 15, verbose = FALSE)
  expect_equal(dim(again$store), dim(x))
  expect_error(run_pipeline(input, tempfile(), n_pcs = 10),
               "n_neighbor_pcs \\(30\\) must not exceed n_pcs \\(10\\)")
  expect_error(run_pipeline(input, tempfile(), k = 10), "umap_neighbors \\(15\\) must not exceed k \\(10\\)")
  expect_error(run_pipeline("data.csv", tempfile()),
               "'data.csv' is neither a 10x directory, an .h5ad file nor a 10x .h5 file")
})

test_that("cells.csv has UMAP_1 before UMAP_2", {
  out <- tempfile("job_")
  run_pipeline(simulate_counts(400, 600, n_clusters = 3, path = tempfile("sim_"), seed = 2), out,
               n_pcs = 10, n_neighbor_pcs = 10, verbose = FALSE)
  header <- names(utils::read.csv(file.path(out, "cells.csv"), nrows = 1))
  expect_equal(utils::tail(header, 2), c("UMAP_1", "UMAP_2"))
})

test_that("run_pipeline on a 500-gene panel uses every gene, with a message", {
  panel <- simulate_counts(1500, 500, n_clusters = 4, path = tempfile("panel_"), seed = 4,
                           median_library = 8000)
  out <- tempfile("job_")
  expect_message(res <- run_pipeline(panel, out),
                 "n_hvg = 2,000 is more than the genes in the store: using all 4[0-9]{2} genes")
  expect_gt(dim(res$store)[2], 490)
  expect_equal(sum(hvg(res$store)$highly_variable), dim(res$store)[2])
  expect_gte(nlevels(obs(res$store)$leiden), 4)
})

test_that("run_pipeline on a raw-droplet input (95% empty barcodes) warns which filter removed them", {
  raw <- simulate_counts(6000, 2000, n_clusters = 4, path = tempfile("raw_"), seed = 6, empty_fraction = 0.95)
  truth <- attr(raw, "truth")
  out <- tempfile("job_")
  expect_warning(res <- run_pipeline(raw, out, verbose = FALSE),
                 paste0("QC kept .* of 6,000 barcodes .*: .* had fewer than min_genes = 200 genes at ",
                     "ingest.*raw \\(unfiltered\\) droplet matrix.*--min-genes"))
  o <- obs(res$store)
  # Nearly every ingested barcode is a cell, and nearly every cell is ingested.
  expect_lt(mean(truth$empty[match(o$cell_id, truth$cell_id)]), 0.01)
  expect_gt(nrow(o), 0.95 * sum(!truth$empty))
  expect_gte(nlevels(o$leiden), 4)
  # Too few cells for the steps: a clear stop, not a crash.
  expect_error(run_pipeline(raw, tempfile("job_"), min_genes = 700, verbose = FALSE),
               "too few for the analysis: the neighbours need more than k = 20 cells.*lower min_genes")
})

test_that("the batch script takes its options and explains them", {
  script <- system.file("scripts", "run_pipeline.R", package = "cellstream")
  rscript <- file.path(R.home("bin"), "Rscript")
  help <- suppressWarnings(system2(rscript, c(script, "--help"), stdout = TRUE, stderr = TRUE))
  expect_true(any(grepl("--min-genes N", help)))
  expect_true(any(grepl("--threads N", help)))
  bad <- suppressWarnings(system2(rscript, c(script, "--no-such", "1"), stdout = TRUE, stderr = TRUE))
  expect_equal(attr(bad, "status"), 1L)
  expect_true(any(grepl("unknown option '--no-such'", bad)))
  input <- simulate_counts(600, 800, n_clusters = 3, path = tempfile("sim_"), seed = 8)
  out <- tempfile("job_")
  args <- c(script, "--min-genes=100", "--min-cells", "5", "--n-hvg", "300", "--resolution", "0.5",
            "--k", "12", "--threads", "1", input, out)
  log <- suppressWarnings(system2(rscript, args,
                                  stdout = TRUE, stderr = TRUE, env = paste0("R_LIBS=", paste(.libPaths(),
                                      collapse = ":"))))
  expect_null(attr(log, "status"))
  x <- open_store(file.path(out, "store"))
  info <- cellstream:::store_info(x)
  expect_equal(c(info$min_genes, info$min_cells), c(100, 5))
  expect_equal(sum(hvg(x)$highly_variable), 300)
  expect_equal(ncol(neighbors(x)$index), 12)
  expect_match(steps(x)$params[steps(x)$step == "leiden:leiden"], "resolution = 0.5")
})

test_that("plot_embedding colours by cluster, obs value or gene, and plot_qc shows the outlier calls", {
  x <- ingest_mtx(simulate_counts(600, 500, n_clusters = 3, path = tempfile("sim_")), tempfile("store_"),
                  min_cells = 3)
  calculate_qc_metrics(x)
  expect_error(plot_embedding(x),
               "there are no UMAP coordinates in this store yet; run run_umap\\(x\\) first")
  find_hvg(x, n = 200)
  run_pca(x, n_pcs = 10, verbose = FALSE)
  find_neighbors(x, n_pcs = 10, verbose = FALSE)
  cluster_leiden(x, resolution = 0.5, verbose = FALSE)
  run_umap(x, n_epochs = 50, verbose = FALSE)

  p <- plot_embedding(x, color_by = "leiden")
  expect_s3_class(p, "ggplot")
  built <- ggplot2::ggplot_build(p)$data[[1]]
  expect_equal(nrow(built), 600)
  expect_equal(length(unique(built$colour)), nlevels(obs(x)$leiden))
  # Drawn in random order, but each cell keeps its coordinates and cluster.
  e <- embedding(x, "umap")
  at <- match(p$data$cell_id, e$cell_id)
  expect_equal(p$data$UMAP_1, e$UMAP_1[at])
  expect_equal(as.character(p$data$.colour), as.character(e$leiden[at]))

  expect_null(p$labels$subtitle)
  many <- plot_embedding(x, color_by = "cell_id")
  expect_equal(many$labels$subtitle, "cell_id: 600 categories (too many for a legend)")
  # Hundreds of categories: consecutive labels (the largest clusters) far apart in colour.
  colours <- unique(ggplot2::ggplot_build(many)$data[[1]][, c("colour", "group")])
  luv <- grDevices::convertColor(t(grDevices::col2rgb(colours$colour[order(colours$group)])) / 255, "sRGB",
                                 "Luv")
  expect_gt(min(sqrt(rowSums(diff(luv[1:40, ])^2))), 50)
  # Point size: 70 / sqrt(n) within [0.3, 1.5] (1.5 at 600 cells).
  expect_equal(p$layers[[1]]$aes_params$size, 1.5)

  gene <- var(x)$symbol[1]
  g <- plot_embedding(x, color_by = gene)
  expect_false(is.unsorted(g$data$.colour))
  expect_equal(sort(g$data$.colour), sort(gene_values(x, gene)[[2]]))
  expect_s3_class(ggplot2::ggplot_build(g)$plot$scales$get_scales("colour"), "ScaleContinuous")
  n <- plot_embedding(x, reduction = "pca", color_by = "n_counts", dims = c(2, 3))
  expect_equal(n$labels$x, "PC_2")
  expect_equal(n$data$.colour, sort(obs(x)$n_counts))
  expect_error(plot_embedding(x, color_by = "no_such_gene"), "not found in the store: no_such_gene")
  expect_error(plot_embedding(x, reduction = "pca", dims = c(1, 11)),
               "`dims` must name coordinates of the pca embedding")

  find_outliers(x, column = "qc_outlier")
  q <- plot_qc(x, max_points = 100)
  expect_s3_class(q, "ggplot")
  layers <- ggplot2::ggplot_build(q)$data
  expect_equal(nrow(layers[[1]]), 300)  # 100 points in each of 3 panels
  expect_equal(length(unique(layers[[2]]$PANEL)), 3)
  expect_setequal(levels(q$layers[[1]]$data$call), c("ok", "outlier"))
  y <- ingest_mtx(simulate_counts(50, 100, path = tempfile("sim_")), tempfile("store_"))
  expect_error(plot_qc(y), "no n_counts|no pct_mt")
})
