#!/usr/bin/env bash
# GRN benchmark (not a test), each run under /usr/bin/time -v, one thread each (arboreto fits
# one target per worker; cellstream with RAYON_NUM_THREADS=1): per-target time on N cells
# (default 10,000) x TFS TFs (default 500) of simulate_network(), the first TARGETS targets
# (default 50; per-target times are independent, so they extrapolate):
#   cellstream infer_grn() with the default method (batched forests), gbm and shared_splits
#   (transform norm = log1p(CP10k)), optionally with SCREEN_K (screen_k for the default),
#   faithful arboreto GRNBoost2 (arboreto 0.1.6 + scikit-learn 1.2.2, the pinned venv of
#   ../shared/reference/grn_arboreto/requirements-faithful.txt at $GRN_PYTHON) on the same
#   log1p(CP10k) values, seed 777.
# MAIN=0 skips this part, PEER=0 its arboreto run. Usage: bash inst/bench/grn.sh [N] [TFS] [TARGETS]
. "$(dirname "$0")/common.sh"
n=${1:-10000}
n_tfs=${2:-500}
n_targets=${3:-50}
grn_py=${GRN_PYTHON:-$HOME/.cache/cellstream-grn-faithful/bin/python}
[ -x "$grn_py" ] || { python3 -m venv "${grn_py%/bin/python}" && "$grn_py" -m pip install -q -r "$shared/reference/grn_arboreto/requirements-faithful.txt"; }
if [ "${MAIN:-1}" = 1 ]; then
sim=$work/grn-sim-$n-$n_tfs
store=$work/grn-store-$n-$n_tfs
if [ ! -d "$store" ]; then
  rm -rf "$sim"
  Rscript -e "suppressMessages(library(cellstream)); sim <- simulate_network($n, n_tfs = $n_tfs, n_targets = 2000, path = '$sim', seed = 1); invisible(ingest_mtx(sim, '$store', verbose = FALSE))"
fi
runs="batched gbm shared_splits"
[ -n "${SCREEN_K:-}" ] && runs="$runs batched:$SCREEN_K"
for run in $runs; do
  method=${run%%:*}
  screen=$([ "$run" != "$method" ] && echo "${run#*:}" || echo NULL)
  targets="sprintf('TG%03d', 1:$n_targets)"
  /usr/bin/time -v env RAYON_NUM_THREADS=1 Rscript -e "suppressMessages(library(cellstream)); x <- open_store('$store')
    t <- system.time(net <- infer_grn(x, tfs = sprintf('TF%02d', 1:$n_tfs), targets = $targets, method = '$method', screen_k = $screen, name = 'bench', verbose = FALSE))[['elapsed']]
    cat(sprintf('cellstream %s (screen_k %s): %d targets in %.2f s, %.1f ms per target, %.0f trees per target\n', '$method', '$screen', $n_targets, t, 1e3 * t / $n_targets, mean(attr(net, 'targets')\$n_trees)))" \
    > "$work/grn-$method.out" 2> "$work/time-grn-$method.txt" || { cat "$work/time-grn-$method.txt"; exit 1; }
  cat "$work/grn-$method.out"; echo "  wall $(wall "$work/time-grn-$method.txt"), peak RSS $(peak "$work/time-grn-$method.txt")"
done
if [ "${PEER:-1}" = 1 ]; then
cat > "$work/grn_peer.py" <<'PY'
import gzip, sys, time
import numpy as np, scipy.io
from arboreto.core import infer_partial_network, SGBM_KWARGS
sim, n_tfs, n_targets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
C = scipy.io.mmread(gzip.open(sim + "/matrix.mtx.gz")).toarray().T.astype(np.float64)
genes = [l.split("\t")[0] for l in gzip.open(sim + "/features.tsv.gz").read().decode().splitlines()]
lib = C.sum(1, keepdims=True); lib[lib == 0] = 1
X = np.log1p(C / lib * 1e4)
tfs = genes[:n_tfs]
t0 = time.time(); trees = []
for j in range(n_tfs, n_tfs + n_targets):
    links, meta = infer_partial_network("GBM", SGBM_KWARGS, X[:, :n_tfs], tfs, genes[j], X[:, j],
                                        include_meta=True, early_stop_window_length=25, seed=777)
    trees.append(int(meta.n_estimators.iloc[0]))
t = time.time() - t0
print("arboreto GRNBoost2: %d targets in %.2f s, %.1f ms per target, %.0f trees per target" % (n_targets, t, 1e3 * t / n_targets, np.mean(trees)))
PY
/usr/bin/time -v "$grn_py" "$work/grn_peer.py" "$sim" "$n_tfs" "$n_targets" > "$work/grn-peer.out" 2> "$work/time-grn-peer.txt" || { cat "$work/time-grn-peer.txt"; exit 1; }
cat "$work/grn-peer.out"; echo "  wall $(wall "$work/time-grn-peer.txt"), peak RSS $(peak "$work/time-grn-peer.txt")"
fi
fi
# Scale (SCALE_STORE=<a store of inst/bench/h5ad.sh>, e.g. the 1M-cell upsampled PBMC3k): the
# default method with all threads on SCALE_TFS (1,000) stand-in TFs (genes drawn with seed 1
# among those detected in >= 0.5% of the cells: speed depends on sparsity, not on which genes
# regulate) and the SCALE_TARGETS (2,000) most detected genes as targets; SCALE_SCREEN_K sets
# screen_k.
if [ -n "${SCALE_STORE:-}" ]; then
  /usr/bin/time -v Rscript -e "suppressMessages(library(cellstream)); x <- open_store('$SCALE_STORE')
    v <- var(x); set.seed(1)
    tfs <- sample(v\$gene_id[v\$n_cells >= 0.005 * x\$dim[1]], ${SCALE_TFS:-1000})
    targets <- v\$gene_id[order(-v\$n_cells)][seq_len(${SCALE_TARGETS:-2000})]
    t <- system.time(net <- infer_grn(x, tfs = tfs, targets = targets, screen_k = ${SCALE_SCREEN_K:-NULL}, name = 'scale', verbose = FALSE))[['elapsed']]
    cat(sprintf('cellstream (default method, screen_k ${SCALE_SCREEN_K:-NULL}) at scale: %d cells kept, %d TFs x %d targets in %.1f s (%.2f targets per second)\n',
                sum(keep(x)), length(tfs), length(targets), t, length(targets) / t))" \
    > "$work/grn-scale.out" 2> "$work/time-grn-scale.txt" || { cat "$work/time-grn-scale.txt"; exit 1; }
  cat "$work/grn-scale.out"; echo "  wall $(wall "$work/time-grn-scale.txt"), peak RSS $(peak "$work/time-grn-scale.txt")"
fi
