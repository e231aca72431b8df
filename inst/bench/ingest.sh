#!/usr/bin/env bash
# Ingest benchmark (not a test): simulated 10x data at 50k and 200k cells (~1,000 genes
# detected per cell). Reports wall time and peak RSS (/usr/bin/time -v) of the ingest, store
# size vs the gzipped MTX, and random-access read times. Usage: bash inst/bench/ingest.sh [SIZES]
set -euo pipefail
export R_LIBS_USER=${R_LIBS_USER:-$HOME/.cache/cellstream-rlib}  # where `make install` puts the package
sizes=${*:-50000 200000}
work=${BENCH_DIR:-${TMPDIR:-/tmp}/cellstream-bench}
mkdir -p "$work"
for n in $sizes; do
  sim="$work/sim-$n"
  [ -d "$sim" ] || Rscript -e "cellstream::simulate_counts($n, 20000, n_clusters = 10, path = '$sim', seed = 1, median_library = 2500)" >/dev/null
  rm -rf "$work/store-$n"
  /usr/bin/time -v Rscript -e "invisible(cellstream::ingest_mtx('$sim', '$work/store-$n'))" 2> "$work/time-$n.txt"
  wall=$(grep 'Elapsed (wall' "$work/time-$n.txt" | awk '{print $NF}')
  rss=$(grep 'Maximum resident' "$work/time-$n.txt" | awk '{print $NF}')
  Rscript - "$work/store-$n" "$sim" "$n" "$wall" "$rss" <<'RS'
a <- commandArgs(TRUE)
x <- cellstream::open_store(a[1])
mtx <- sum(file.size(list.files(a[2], pattern = "^(matrix|features|barcodes)", full.names = TRUE)))
store <- sum(file.size(list.files(a[1], full.names = TRUE)))
set.seed(1)
cells <- sample(dim(x)[1], 1000); genes <- sample(dim(x)[2], 100)
m <- cellstream::counts(x, cells = 1)  # warm the metadata
tc <- system.time(cellstream:::rust(cellstream:::wrap__cs_counts, x$path, cellstream:::rust_index(sort(cells)), cellstream:::rust_index(seq_len(dim(x)[2])), "raw"))[["elapsed"]]
tg <- system.time(cellstream:::rust(cellstream:::wrap__cs_counts, x$path, cellstream:::rust_index(seq_len(dim(x)[1])), cellstream:::rust_index(sort(genes)), "raw"))[["elapsed"]]
tcr <- system.time(cellstream::counts(x, cells = cells))[["elapsed"]]
o <- cellstream::obs(x)
cat(sprintf("cells=%s store=%s x %s nnz=%.0f genes/cell(median)=%d | ingest wall=%s peakRSS=%.0f MB | store %.1f MB vs gzipped MTX %.1f MB (ratio %.2f) | read 1000 random cells %.0f ms (with dimnames via R: %.0f ms), 100 random genes %.0f ms\n",
            a[3], dim(x)[1], dim(x)[2], sum(o$n_genes), as.integer(stats::median(o$n_genes)), a[4], as.numeric(a[5]) / 1024,
            store / 1e6, mtx / 1e6, store / mtx, 1000 * tc, 1000 * tcr, 1000 * tg))
RS
done
