#!/usr/bin/env Rscript
# The main job: simulate (or read) a 10x data set, ingest it into a store, print the store
# and a QC summary.
#   Rscript demo.R                      # simulate 20,000 cells x 15,000 genes
#   Rscript demo.R MTX_DIR [OUT_DIR]    # use your own 10x directory
suppressPackageStartupMessages(library(cellstream))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 2) args[2] else file.path(tempdir(), "cellstream-demo")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

if (length(args) >= 1) {
  input <- args[1]
} else {
  message("simulating 20,000 cells x 15,000 genes (8 clusters) ...")
  input <- simulate_counts(20000, 15000, n_clusters = 8, path = tempfile("sim10x_", out), seed = 42)
}
store <- file.path(out, paste0("store-", format(Sys.time(), "%Y%m%d-%H%M%S")))
t <- system.time(x <- ingest_mtx(input, store, min_cells = 3, min_genes = 200))
message(sprintf("ingested in %.1f s", t[["elapsed"]]))
print(x)

cat("\nQC summary (per cell, over kept genes):\n")
qc <- sql(x, "
  SELECT count(*)                      AS cells,
         median(n_counts)              AS median_counts,
         quantile_cont(n_counts, 0.05) AS p05_counts,
         quantile_cont(n_counts, 0.95) AS p95_counts,
         median(n_genes)               AS median_genes,
         min(n_genes)                  AS min_genes,
         max(n_genes)                  AS max_genes
  FROM obs")
print(qc, row.names = FALSE)
mt <- sql(x, "SELECT gene_id, symbol FROM var WHERE symbol LIKE 'MT-%'")
if (nrow(mt) > 0) {
  v <- gene_values(x, mt$gene_id, layer = "raw")
  pct_mt <- 100 * rowSums(v[-1]) / obs(x)$n_counts
  cat(sprintf("\n%% counts in %d MT- genes: median %.2f, cells above 10%%: %d\n",
              nrow(mt), stats::median(pct_mt), sum(pct_mt > 10)))
}
cat("\ntop genes by total counts:\n")
print(sql(x, "SELECT symbol, n_cells, n_counts FROM var ORDER BY n_counts DESC LIMIT 5"), row.names = FALSE)
