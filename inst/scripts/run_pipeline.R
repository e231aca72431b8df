#!/usr/bin/env Rscript
# The main job (cellstream::run_pipeline): a raw file -> store -> QC -> keep -> HVG -> PCA ->
# neighbours -> Leiden -> UMAP -> umap.png, qc.png, cells.csv and timings.csv.
usage <- "Usage: Rscript run_pipeline.R [options] [INPUT [OUTPUT_DIR]]

INPUT        a 10x directory, 10x .h5 or .h5ad file; without it, 20,000 cells x 15,000 genes
             (8 clusters) are simulated
OUTPUT_DIR   plots, tables and the store (OUTPUT_DIR/store); ./cellstream-demo by default

Options (defaults as Seurat's PBMC3k tutorial):
  --min-genes N    keep cells with at least N genes detected (200)
  --min-cells N    keep genes detected in at least N kept cells (3)
  --n-hvg N        highly variable genes (2000; all genes when there are fewer)
  --resolution R   Leiden resolution (0.8, as Seurat's FindClusters)
  --k N            nearest neighbours per cell, the cell included (20)
  --threads N      threads for the Rust engine (all cores)
  --help           show this text
"

# Options as `--name value` or `--name=value`; the rest are positional.
parse_args <- function(args, defaults) {
  options <- defaults
  positional <- character()
  i <- 1
  while (i <= length(args)) {
    a <- args[i]
    if (a %in% c("-h", "--help")) {
      cat(usage)
      quit(status = 0)
    }
    if (!startsWith(a, "--")) {
      positional <- c(positional, a)
      i <- i + 1
      next
    }
    parts <- strsplit(sub("^--", "", a), "=", fixed = TRUE)[[1]]
    name <- gsub("-", "_", parts[1])
    if (!name %in% names(defaults)) stop(sprintf("unknown option '%s'\n\n%s", a, usage), call. = FALSE)
    value <- if (length(parts) > 1) paste(parts[-1], collapse = "=") else {
      i <- i + 1
      if (i > length(args)) stop(sprintf("option '%s' needs a value", a), call. = FALSE)
      args[i]
    }
    number <- suppressWarnings(as.numeric(value))
    if (is.na(number) || number < 0) stop(sprintf("option '%s' needs a non-negative number, not '%s'", a,
                                                  value), call. = FALSE)
    options[[name]] <- number
    i <- i + 1
  }
  if (length(positional) > 2) stop(sprintf("at most INPUT and OUTPUT_DIR, not %d arguments\n\n%s",
                                           length(positional), usage), call. = FALSE)
  list(options = options, positional = positional)
}

parsed <- parse_args(commandArgs(trailingOnly = TRUE),
                     list(min_genes = 200, min_cells = 3, n_hvg = 2000, resolution = 0.8, k = 20,
                          threads = NA))
opt <- parsed$options
args <- parsed$positional
# Read by the engine's thread pools when they start, so it is set before any work.
if (!is.na(opt$threads)) Sys.setenv(RAYON_NUM_THREADS = as.integer(opt$threads))
suppressPackageStartupMessages(library(cellstream))

out <- if (length(args) >= 2) args[2] else "cellstream-demo"
if (dir.exists(file.path(out, "store"))) {
  # The demo replaces its own earlier run; a named output directory is never overwritten.
  if (length(args) >= 2) {
    stop(sprintf("'%s' already holds a store; remove it or name another output directory", out),
         call. = FALSE)
  }
  unlink(file.path(out, "store"), recursive = TRUE)
}
dir.create(out, showWarnings = FALSE, recursive = TRUE)
input <- if (length(args) >= 1) args[1] else {
  message("simulating 20,000 cells x 15,000 genes (8 clusters) ...")
  simulate_counts(20000, 15000, n_clusters = 8, path = tempfile("sim10x_"), seed = 42)
}
res <- run_pipeline(input, out, min_cells = opt$min_cells, min_genes = opt$min_genes, n_hvg = opt$n_hvg,
                    k = opt$k, umap_neighbors = min(15, opt$k), resolution = opt$resolution)
print(res$store)
print(res$timings, row.names = FALSE)
clusters <- table(obs(res$store)$leiden)
message(sprintf("%d Leiden clusters (sizes %s); results in %s: umap.png, qc.png, cells.csv, timings.csv",
                length(clusters), paste(clusters, collapse = ", "), normalizePath(out)))
