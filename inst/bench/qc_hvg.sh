#!/usr/bin/env bash
# QC and highly-variable-gene benchmark (not a test) on a store of N cells (default
# 1,000,000; made by inst/bench/h5ad.sh from an upsampled PBMC3k h5ad when missing), or on
# STORE. Each step runs in its own Rscript under /usr/bin/time -v (wall time, peak RSS):
# calculate_qc_metrics(), set_keep() with an SQL condition, find_hvg() vst and dispersion.
# Then the engine alone (cellstream-bench passes): each pass next to a plain lz4 decompress
# loop over the same chunks (the floor), in decompressed bytes per second. Finally scanpy on
# the h5ad for comparison (PEER=0 skips it).
# Usage: bash inst/bench/qc_hvg.sh [N] [STORE]
. "$(dirname "$0")/common.sh"
n=${1:-1000000}
store=${2:-$work/store-h5ad-$n}
target=${CARGO_TARGET_DIR:-$HOME/.cache/cellstream-target}
[ -d "$store" ] || bash "$(dirname "$0")/h5ad.sh" "$n"
step() {  # name, R code using x
  /usr/bin/time -v Rscript -e "suppressMessages(library(cellstream)); x <- open_store('$store'); $2" > "$work/$1.out" 2> "$work/time-$1.txt"
  echo "$1: wall $(wall "$work/time-$1.txt"), peak RSS $(peak "$work/time-$1.txt")"
}
step qc "invisible(calculate_qc_metrics(x))"
step keep "set_keep(x, 'n_genes >= 200 AND pct_mt < 20'); cat(sum(keep(x)), 'kept\n')"
step hvg-vst "invisible(find_hvg(x))"
step hvg-dispersion "invisible(find_hvg(x, method = 'dispersion'))"
cat "$work/keep.out"
cargo build --release --quiet --manifest-path "$(dirname "$0")/../../Cargo.toml" --workspace
"$target/release/cellstream-bench" passes "$store"

h5ad="$work/upsampled-$n.h5ad"
if [ "${PEER:-1}" = 1 ] && [ -f "$h5ad" ] && [ -x "$py" ]; then
  /usr/bin/time -v "$py" - "$h5ad" > "$work/scanpy-qc-hvg.txt" 2> "$work/time-scanpy-qc-hvg.txt" <<'PY' || echo "scanpy failed: $(tail -1 "$work/time-scanpy-qc-hvg.txt")"
import sys, time, anndata, scanpy as sc
t = time.time(); a = anndata.read_h5ad(sys.argv[1]); print(f"read_h5ad {time.time() - t:.1f} s")
a.var["mt"] = a.var_names.str.startswith("MT-")
t = time.time(); sc.pp.calculate_qc_metrics(a, qc_vars=["mt"], inplace=True); print(f"calculate_qc_metrics {time.time() - t:.1f} s")
t = time.time(); sc.pp.normalize_total(a, target_sum=1e4); sc.pp.log1p(a); print(f"normalize_total + log1p {time.time() - t:.1f} s")
t = time.time(); sc.pp.highly_variable_genes(a, flavor="seurat", n_top_genes=2000); print(f"highly_variable_genes(seurat) {time.time() - t:.1f} s")
PY
  echo "scanpy (whole script): wall $(wall "$work/time-scanpy-qc-hvg.txt"), peak RSS $(peak "$work/time-scanpy-qc-hvg.txt")"
  cat "$work/scanpy-qc-hvg.txt"
fi
