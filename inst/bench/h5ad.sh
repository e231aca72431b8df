#!/usr/bin/env bash
# h5ad ingest benchmark (not a test): a realistic h5ad of N cells (default 1,000,000) made by
# ../shared/tools/make_upsampled.py (PBMC3k cells resampled; CSR float32 X), ingested with
# ingest_h5ad(). Reports wall time and peak RSS (/usr/bin/time -v) of the ingest and the
# store size, then scanpy's read_h5ad() on the same file for scale (it loads X in memory).
# Needs the Python peers (`make peers`). Usage: bash inst/bench/h5ad.sh [N]
. "$(dirname "$0")/common.sh"
n=${1:-1000000}
h5ad="$work/upsampled-$n.h5ad"
[ -f "$h5ad" ] || "$py" "$shared/tools/make_upsampled.py" "$n" "$h5ad" 2>/dev/null

rm -rf "$work/store-h5ad-$n"
/usr/bin/time -v Rscript -e "invisible(cellstream::ingest_h5ad('$h5ad', '$work/store-h5ad-$n'))" 2> "$work/time-h5ad-$n.txt"
store_mb=$(du -sm "$work/store-h5ad-$n" | cut -f1)
h5ad_mb=$(du -smL "$h5ad" | cut -f1)
echo "cellstream ingest_h5ad: $n cells, wall $(wall "$work/time-h5ad-$n.txt"), peak RSS $(peak "$work/time-h5ad-$n.txt"), store ${store_mb} MB (h5ad ${h5ad_mb} MB)"
Rscript -e "x <- cellstream::open_store('$work/store-h5ad-$n'); print(x)"

if /usr/bin/time -v "$py" -c "import anndata, sys; a = anndata.read_h5ad(sys.argv[1]); print(a)" "$h5ad" > "$work/scanpy-$n.txt" 2> "$work/time-scanpy-$n.txt"; then
  echo "anndata/scanpy read_h5ad: wall $(wall "$work/time-scanpy-$n.txt"), peak RSS $(peak "$work/time-scanpy-$n.txt")"
else
  echo "anndata/scanpy read_h5ad failed (out of memory?): $(tail -1 "$work/time-scanpy-$n.txt")"
fi
