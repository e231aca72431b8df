#!/usr/bin/env bash
# Marker-gene and expression benchmark (not a test), each run under /usr/bin/time -v.
# Groups: each cell's PBMC3k template cell's Seurat cluster (9 groups, the clusters of
# ../shared/reference/pbmc3k_seurat/obs.csv), on the cells kept by n_genes >= 200 AND
# pct_mt < 20. Stores are those of inst/bench/h5ad.sh (upsampled PBMC3k h5ad).
# 1) N cells (default 1,000,000): find_all_markers() over all genes (Wilcoxon, Seurat 5
#    defaults), then aggregate_expression() and expr() in sql() for one gene (count, mean
#    and max per group, warm, median of 10 calls), then pseudobulk() of all genes per sample x
#    group next to one plain sequential read of cells.chunks (cellstream-bench passes).
# 2) PEER_N cells (default 100,000), the same cells and groups written with write_h5ad():
#    cellstream find_all_markers(), scanpy rank_genes_groups(method = "wilcoxon") and illico
#    asymptotic_wilcoxon(n_threads = 2) (pip install illico into the peers venv), each with
#    all threads of the machine.
# MAIN=0 or PEER=0 skip a part. Usage: bash inst/bench/markers.sh [N]
. "$(dirname "$0")/common.sh"
n=${1:-1000000}
peer_n=${PEER_N:-100000}
here=$(dirname "$0")
bench=${CELLSTREAM_BENCH:-$HOME/.cache/cellstream-target/release/cellstream-bench}
clusters=$shared/reference/pbmc3k_seurat/obs.csv
timed() {  # label, R code run on the store in $store
  /usr/bin/time -v Rscript -e "suppressMessages(library(cellstream)); x <- open_store('$store'); $2" > "$work/$1.out" 2> "$work/time-$1.txt" || { cat "$work/time-$1.txt"; exit 1; }
  cat "$work/$1.out"
  echo "$1: wall $(wall "$work/time-$1.txt"), peak RSS $(peak "$work/time-$1.txt")"
}
with_groups() {  # store: QC, kept cells and the template clusters as obs column 'cl'
  Rscript -e "suppressMessages(library(cellstream)); x <- open_store('$1')
    if (!'cl' %in% names(obs(x))) {
      calculate_qc_metrics(x, verbose = FALSE); set_keep(x, 'n_genes >= 200 AND pct_mt < 20', verbose = FALSE)
      seurat <- read.csv('$clusters', row.names = 1)
      # template_cell indexes the 2,700 PBMC3k barcodes; Seurat's 2,638 kept cells have clusters.
      barcodes <- readLines('$shared/data/pbmc3k/filtered_gene_bc_matrices/hg19/barcodes.tsv')
      cl <- as.character(seurat\$seurat_clusters)[match(barcodes, rownames(seurat))]
      set_obs(x, 'cl', cl[obs(x)\$template_cell + 1], verbose = FALSE)
      set_keep(x, 'keep AND cl IS NOT NULL', verbose = FALSE)
    }" 2>/dev/null
}
markers_run() {  # label
  timed "markers-$1" "t <- system.time(m <- find_all_markers(x, group_by = 'cl', verbose = FALSE))
    cat(sprintf('find_all_markers: %s kept cells x %s genes, 9 groups: %.1f s, %d rows\n', sum(keep(x)), x\$dim[2], t[['elapsed']], nrow(m)))
    write.csv(m, '$work/ours-markers-$1.csv', row.names = FALSE)"
}

if [ "${MAIN:-1}" = 1 ]; then
  store=$work/store-h5ad-$n
  [ -d "$store" ] || bash "$here/h5ad.sh" "$n"
  with_groups "$store"
  markers_run "$n"
  timed "expr-$n" "g <- 'MS4A1'; warm <- function(f) { f(); median(sapply(1:10, function(i) system.time(f())[['elapsed']])) * 1e3 }
    a <- warm(function() aggregate_expression(x, g, 'cl', fun = c('count_nonzero', 'mean', 'max'), layer = 'cp10k'))
    q <- sprintf(\"SELECT o.cl, count(e.value) AS n, coalesce(sum(e.value), 0) / count(*) AS mean, max(e.value) AS max FROM obs o LEFT JOIN expr('%s', 'cp10k') e USING (cell_index) WHERE o.keep GROUP BY o.cl\", g)
    s <- warm(function() sql(x, q))
    cat(sprintf('one gene (%s) over %s cells, count / mean / max per group, warm median of 10: aggregate_expression %.0f ms, sql() + expr() %.0f ms\n', g, x\$dim[1], a, s))"
  timed "pseudobulk-$n" "cold <- system.time(p <- pseudobulk(x, 'sample', 'cl')); warm <- system.time(pseudobulk(x, 'sample', 'cl'))
    cat(sprintf('pseudobulk: %d genes x %d pseudosamples, first call %.1f s (reads the sample and group columns), again %.1f s\n', nrow(p), ncol(p), cold[['elapsed']], warm[['elapsed']]))"
  "$bench" passes "$store" | grep -E "cells.chunks|pseudobulk|markers"
fi

if [ "${PEER:-1}" = 1 ] && [ -x "$py" ]; then
  store=$work/store-h5ad-$peer_n
  [ -d "$store" ] || MAIN=0 bash "$here/h5ad.sh" "$peer_n"
  with_groups "$store"
  markers_run "$peer_n"
  h5ad=$work/kept-$peer_n.h5ad
  [ -f "$h5ad" ] || Rscript -e "suppressMessages(library(cellstream)); write_h5ad(open_store('$store'), '$h5ad', verbose = FALSE)"
  for peer in scanpy illico; do
    /usr/bin/time -v "$py" - "$h5ad" "$peer" > "$work/$peer-markers.txt" 2> "$work/time-$peer-markers.txt" <<'PY' || tail -5 "$work/time-$peer-markers.txt"
import sys, time, numpy as np, scipy.sparse as sp, anndata
a = anndata.read_h5ad(sys.argv[1])
a.X = sp.csr_matrix(a.X, dtype=np.float32)
import scanpy as sc
sc.pp.normalize_total(a, target_sum=1e4); sc.pp.log1p(a)
a.obs["cl"] = a.obs["cl"].astype(str).astype("category")
t = time.time()
if sys.argv[2] == "scanpy":
    sc.tl.rank_genes_groups(a, "cl", method="wilcoxon", n_genes=a.n_vars)
else:
    from illico import asymptotic_wilcoxon
    asymptotic_wilcoxon(a, is_log1p=True, group_keys="cl", reference=None, n_threads=2)
print(f"{sys.argv[2]}: {a.n_obs} cells x {a.n_vars} genes, 9 groups vs rest: {time.time() - t:.1f} s (test only)")
PY
    cat "$work/$peer-markers.txt"
    echo "$peer: wall $(wall "$work/time-$peer-markers.txt"), peak RSS $(peak "$work/time-$peer-markers.txt")"
  done
fi
