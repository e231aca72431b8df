#!/usr/bin/env bash
# The whole job benchmark (not a test): run_pipeline() from an h5ad of N cells (default
# 1,000,000, made by ../shared/tools/make_upsampled.py when missing) to umap.png and
# cells.csv, in one Rscript under /usr/bin/time -v; per-step wall time and peak RSS come from
# run_pipeline's timings.csv. Then at PEER_N cells (default 100,000) the same job side by side
# with scanpy in the settings of ../shared/reference/pbmc3k_scanpy/scanpy_pbmc3k.py (read,
# filter, QC, normalise, log1p, HVG, scale, PCA 50, neighbors 10 / 40 PCs, leiden igraph,
# umap), cellstream with the same neighbour settings (k = 10, 40 PCs, resolution 1, UMAP on
# those 10 neighbours).
# MAIN=0 or PEER=0 skip a part. Usage: bash inst/bench/pipeline.sh [N]
. "$(dirname "$0")/common.sh"
n=${1:-1000000}
peer_n=${PEER_N:-100000}
h5ad_of() {  # cells -> path of an upsampled PBMC h5ad
  local f="$work/upsampled-$1.h5ad"
  [ -f "$f" ] || "$py" "$shared/tools/make_upsampled.py" "$1" "$f" >/dev/null 2>&1
  echo "$f"
}
job() {  # label, h5ad, extra run_pipeline arguments
  local out="$work/job-$1"
  rm -rf "$out"
  /usr/bin/time -v Rscript -e "suppressMessages(library(cellstream)); run_pipeline('$2', '$out', verbose = FALSE$3)" > "$work/job-$1.log" 2> "$work/time-job-$1.txt"
  echo "cellstream run_pipeline, $1: wall $(wall "$work/time-job-$1.txt"), peak RSS $(peak "$work/time-job-$1.txt")"
  Rscript -e "t <- read.csv('$out/timings.csv'); t\$seconds <- round(t\$seconds, 1); t\$peak_rss_mb <- round(t\$peak_rss_mb); print(t, row.names = FALSE)"
}

if [ "${MAIN:-1}" = 1 ]; then
  job "$n" "$(h5ad_of "$n")" ""
fi

if [ "${PEER:-1}" = 1 ] && [ -x "$py" ]; then
  h5ad=$(h5ad_of "$peer_n")
  job "$peer_n-scanpy-settings" "$h5ad" ", k = 10, n_neighbor_pcs = 40, resolution = 1, umap_neighbors = 10"
  /usr/bin/time -v "$py" - "$h5ad" "$work/scanpy-job-$peer_n.png" > "$work/scanpy-job.txt" 2> "$work/time-scanpy-job.txt" <<'PY'
import sys, time, anndata, scanpy as sc, matplotlib
matplotlib.use("Agg")
steps = []
def step(name, f):
    t = time.time(); r = f(); steps.append((name, time.time() - t)); return r
a = step("read_h5ad", lambda: anndata.read_h5ad(sys.argv[1]))
step("filter_cells/genes", lambda: (sc.pp.filter_cells(a, min_genes=200), sc.pp.filter_genes(a, min_cells=3)))
a.var["mt"] = a.var_names.str.startswith("MT-")
step("calculate_qc_metrics", lambda: sc.pp.calculate_qc_metrics(a, qc_vars=["mt"], percent_top=None, log1p=False, inplace=True))
a = step("qc filter", lambda: a[((a.obs["n_genes_by_counts"] < 2500) & (a.obs["pct_counts_mt"] < 5)).values, :].copy())
step("normalize_total + log1p", lambda: (sc.pp.normalize_total(a, target_sum=1e4), sc.pp.log1p(a)))
step("highly_variable_genes", lambda: sc.pp.highly_variable_genes(a, flavor="seurat", n_top_genes=2000))
a = step("subset to HVGs", lambda: a[:, a.var["highly_variable"].values].copy())
step("scale", lambda: sc.pp.scale(a, max_value=10))
step("pca", lambda: sc.tl.pca(a, n_comps=50, svd_solver="arpack", random_state=0))
step("neighbors", lambda: sc.pp.neighbors(a, n_neighbors=10, n_pcs=40, random_state=0))
step("leiden", lambda: sc.tl.leiden(a, resolution=1.0, flavor="igraph", n_iterations=2, directed=False, random_state=0))
step("umap", lambda: sc.tl.umap(a, random_state=0))
step("plot", lambda: sc.pl.umap(a, color="leiden", save=False, show=False).figure.savefig(sys.argv[2]))
for name, s in steps:
    print(f"  {name}: {s:.1f} s")
print(f"scanpy on {a.n_obs} cells: {sum(s for _, s in steps):.1f} s in steps, {a.obs['leiden'].nunique()} clusters")
PY
  cat "$work/scanpy-job.txt"
  echo "scanpy process: wall $(wall "$work/time-scanpy-job.txt"), peak RSS $(peak "$work/time-scanpy-job.txt")"
fi
