#!/usr/bin/env bash
# PCA benchmark (not a test). 1) run_pca() randomized (and exact) on the kept cells x 2,000
# vst HVGs of a store of N cells (default 1,000,000; made by inst/bench/h5ad.sh when missing),
# each in its own Rscript under /usr/bin/time -v. 2) Side by side at PEER_N cells (default
# 100,000): cellstream's run_pca() and scanpy's sc.pp.scale(max_value = 10) + sc.pp.pca(50)
# on the same cells and genes, with times and peak RSS. MAIN=0 skips part 1, PEER=0 part 2,
# EXACT=0 the exact run. Usage: bash inst/bench/pca.sh [N] [STORE]
. "$(dirname "$0")/common.sh"
n=${1:-1000000}
peer_n=${PEER_N:-100000}
prepare() {  # store: QC, keep cells with >= 200 genes and < 20% MT, 2,000 vst HVGs
  Rscript -e "suppressMessages({library(cellstream); x <- open_store('$1'); calculate_qc_metrics(x); set_keep(x, 'n_genes >= 200 AND pct_mt < 20'); find_hvg(x)})"
}
timed_pca() {  # store, method, label
  /usr/bin/time -v Rscript -e "suppressMessages(library(cellstream)); x <- open_store('$1'); run_pca(x, method = '$2')" > "$work/$3.out" 2> "$work/time-$3.txt"
  echo "cellstream run_pca($2) on $(basename "$1"): wall $(wall "$work/time-$3.txt"), peak RSS $(peak "$work/time-$3.txt")"
}

store=${2:-$work/store-h5ad-$n}
if [ "${MAIN:-1}" = 1 ]; then
  [ -d "$store" ] || bash "$(dirname "$0")/h5ad.sh" "$n"
  prepare "$store"
  timed_pca "$store" randomized "pca-randomized-$n"
  if [ "${EXACT:-1}" = 1 ]; then timed_pca "$store" exact "pca-exact-$n"; fi
fi

[ "${PEER:-1}" = 1 ] && [ -x "$py" ] || exit 0
h5ad="$work/upsampled-$peer_n.h5ad"
[ -f "$h5ad" ] || "$py" "$shared/tools/make_upsampled.py" "$peer_n" "$h5ad" 2>/dev/null
peer_store="$work/store-h5ad-$peer_n"
[ -d "$peer_store" ] || Rscript -e "invisible(cellstream::ingest_h5ad('$h5ad', '$peer_store'))"
prepare "$peer_store"
Rscript -e "suppressMessages(library(cellstream)); x <- open_store('$peer_store'); writeLines(obs(x)\$cell_id[keep(x)], '$work/peer-cells.txt'); writeLines(hvg(x)\$gene_id, '$work/peer-genes.txt')" 2>/dev/null
timed_pca "$peer_store" randomized "pca-randomized-$peer_n"
/usr/bin/time -v "$py" - "$h5ad" "$work/peer-cells.txt" "$work/peer-genes.txt" > "$work/scanpy-pca.txt" 2> "$work/time-scanpy-pca.txt" <<'PY'
import sys, time, anndata, scanpy as sc
a = anndata.read_h5ad(sys.argv[1])
cells = open(sys.argv[2]).read().split()
genes = open(sys.argv[3]).read().split()
ids = a.var["gene_ids"] if "gene_ids" in a.var else a.var_names
sc.pp.normalize_total(a, target_sum=1e4); sc.pp.log1p(a)
wanted = set(genes)
a = a[cells, [g in wanted for g in ids]].copy()
t = time.time(); sc.pp.scale(a, max_value=10); t_scale = time.time() - t
t = time.time(); sc.pp.pca(a, n_comps=50); t_pca = time.time() - t
print(f"scanpy on {a.n_obs} cells x {a.n_vars} genes: scale {t_scale:.1f} s, pca {t_pca:.1f} s, scale + pca {t_scale + t_pca:.1f} s")
PY
cat "$work/scanpy-pca.txt"
echo "scanpy process (read, normalise, subset, scale, pca): wall $(wall "$work/time-scanpy-pca.txt"), peak RSS $(peak "$work/time-scanpy-pca.txt")"
