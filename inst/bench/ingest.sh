#!/usr/bin/env bash
# Ingest benchmark (not a test): simulated 10x data at 50k and 200k cells (~1,000 genes
# detected per cell). Reports wall time and peak RSS (/usr/bin/time -v) of the ingest, store
# size vs the gzipped MTX, and counts() times for random cells and genes. The engine alone:
# target/release/cellstream-bench read STORE. Usage: bash inst/bench/ingest.sh [SIZES]
. "$(dirname "$0")/common.sh"
sizes=${*:-50000 200000}
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
invisible(cellstream::counts(x, cells = 1))  # opens the store for the session
set.seed(1)
median_ms <- function(f) 1000 * stats::median(replicate(5, system.time(f())[["elapsed"]]))
tc <- median_ms(function() cellstream::counts(x, cells = sample(dim(x)[1], 1000)))
tg <- median_ms(function() cellstream::counts(x, genes = sample(dim(x)[2], 100)))
o <- cellstream::obs(x)
cat(sprintf("cells=%s store=%.0f x %.0f nnz=%.0f genes/cell(median)=%d | ingest wall=%s peakRSS=%.0f MB | store %.1f MB vs gzipped MTX %.1f MB (ratio %.2f) | counts() median of 5: 1000 random cells %.0f ms, 100 random genes %.0f ms\n",
            a[3], dim(x)[1], dim(x)[2], sum(o$n_genes), as.integer(stats::median(o$n_genes)), a[4], as.numeric(a[5]) / 1024,
            store / 1e6, mtx / 1e6, store / mtx, tc, tg))
RS
done
