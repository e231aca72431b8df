#!/usr/bin/env Rscript
# The main job (cellstream::run_pipeline): a raw file -> store -> QC -> keep -> HVG -> PCA ->
# neighbours -> Leiden -> UMAP -> umap.png, qc.png, cells.csv and timings.csv.
#   Rscript run_pipeline.R                       # simulate 20,000 cells x 15,000 genes
#   Rscript run_pipeline.R INPUT [OUTPUT_DIR]    # a 10x directory, .h5 or .h5ad file
# OUTPUT_DIR defaults to ./cellstream-demo (the store goes to OUTPUT_DIR/store).
suppressPackageStartupMessages(library(cellstream))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 2) args[2] else "cellstream-demo"
if (dir.exists(file.path(out, "store"))) {
  # The demo replaces its own earlier run; a named output directory is never overwritten.
  if (length(args) >= 2) stop(sprintf("'%s' already holds a store; remove it or name another output directory", out), call. = FALSE)
  unlink(file.path(out, "store"), recursive = TRUE)
}
dir.create(out, showWarnings = FALSE, recursive = TRUE)
input <- if (length(args) >= 1) args[1] else {
  message("simulating 20,000 cells x 15,000 genes (8 clusters) ...")
  simulate_counts(20000, 15000, n_clusters = 8, path = tempfile("sim10x_"), seed = 42)
}
res <- run_pipeline(input, out)
print(res$store)
print(res$timings, row.names = FALSE)
clusters <- table(obs(res$store)$leiden)
message(sprintf("%d Leiden clusters (sizes %s); results in %s: umap.png, qc.png, cells.csv, timings.csv",
                length(clusters), paste(clusters, collapse = ", "), normalizePath(out)))
