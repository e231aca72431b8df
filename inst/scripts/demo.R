#!/usr/bin/env Rscript
# The main job: simulate (or read) a 10x data set, ingest it into a store, compute QC
# metrics, drop outlier cells, find highly variable genes, run PCA, find neighbours, cluster
# with Leiden, and write a QC / HVG / PCA plot (cells coloured by cluster).
#   Rscript demo.R                      # simulate 20,000 cells x 15,000 genes
#   Rscript demo.R MTX_DIR [OUT_DIR]    # use your own 10x directory
# The store goes to OUT_DIR (default: a temporary directory), the plot to OUT_DIR (default:
# ./cellstream-demo).
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

qc <- calculate_qc_metrics(x)
cat("\nQC summary (per cell):\n")
print(summary(qc[c("n_counts", "n_genes", "pct_mt", "pct_ribo", "pct_top_50")]))
outliers <- find_outliers(x, column = "qc_outlier")
print(attr(outliers, "thresholds"), row.names = FALSE)
set_keep(x, "NOT qc_outlier")
t <- system.time(top <- find_hvg(x, n = 2000))
message(sprintf("highly variable genes in %.1f s", t[["elapsed"]]))
print(utils::head(top[c("symbol", "hvg_mean", "hvg_variance_standardized", "hvg_rank")], 10), row.names = FALSE)
run_pca(x)
print(utils::head(pca_variance(x), 5), row.names = FALSE)
find_neighbors(x)
print(cluster_leiden(x, resolution = 0.5), row.names = FALSE)
print(x)

plot_dir <- if (length(args) >= 2) out else "cellstream-demo"
dir.create(plot_dir, showWarnings = FALSE)
plot_file <- normalizePath(file.path(plot_dir, "qc_hvg_pca.png"), mustWork = FALSE)
grDevices::png(plot_file, width = 2000, height = 600, res = 110)
graphics::par(mfrow = c(1, 3))
graphics::plot(qc$n_counts, qc$pct_mt, log = "x", pch = 20, cex = 0.3,
               col = ifelse(outliers$outlier, "firebrick", "grey40"),
               xlab = "library size (n_counts)", ylab = "% mitochondrial", main = "QC (red: outliers)")
genes <- hvg(x, all = TRUE)
graphics::plot(genes$hvg_mean, genes$hvg_variance_standardized, log = "x", pch = 20, cex = 0.3,
               col = ifelse(genes$highly_variable, "firebrick", "grey40"),
               xlab = "mean count", ylab = "standardised variance", main = "vst (red: top 2,000)")
pcs <- pca(x)
clusters <- obs(x)$leiden[keep(x)]
graphics::plot(pcs$PC_1, pcs$PC_2, pch = 20, cex = 0.3, col = grDevices::hcl.colors(nlevels(clusters), "Dark 3")[clusters],
               xlab = "PC 1", ylab = "PC 2", main = sprintf("PCA, %d Leiden clusters", nlevels(clusters)))
invisible(grDevices::dev.off())
message("plot written to ", plot_file)
