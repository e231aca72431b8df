#!/usr/bin/env bash
# Graph benchmark (not a test), each step in its own Rscript under /usr/bin/time -v.
# 1) N cells (default 1,000,000; the store of inst/bench/pca.sh, PCA computed when missing):
#    find_neighbors(k = 20, n_pcs = 30) (kNN + sNN), then cluster_leiden(resolution = 1).
# 2) Side by side at PEER_N cells (default 100,000) on the same PCA embedding: cellstream's
#    find_neighbors() + cluster_leiden() and scanpy's neighbors(n_neighbors = 20, n_pcs = 30) +
#    leiden(flavor = "igraph", n_iterations = 2), with times, peak RSS and the modularity of
#    the partitions (igraph's, each on its own graph and on scanpy's graph).
# 3) Recall@20 of the approximate searches against exact neighbours (2,000 sampled cells) on
#    a simulated store of SIM_N cells (default 100,000); the exact check, done in R, is what
#    sets those runs' peak RSS.
# MAIN=0, PEER=0, SIM=0 skip a part. Usage: bash inst/bench/graph.sh [N] [STORE]
. "$(dirname "$0")/common.sh"
n=${1:-1000000}
peer_n=${PEER_N:-100000}
sim_n=${SIM_N:-100000}
here=$(dirname "$0")
timed() {  # label, R code run on the store in $store
  /usr/bin/time -v Rscript -e "suppressMessages(library(cellstream)); x <- open_store('$store'); $2" > "$work/$1.out" 2> "$work/time-$1.txt"
  grep -v '^\s' "$work/time-$1.txt" | grep -v 'Command being timed' | sed 's/^/  /' || true
  echo "$1: wall $(wall "$work/time-$1.txt"), peak RSS $(peak "$work/time-$1.txt")"
}
with_pca() {  # store: QC, keep, HVGs and PCA unless a current PCA exists
  Rscript -e "suppressMessages(library(cellstream)); x <- open_store('$1')
    if (!isTRUE(tryCatch(nrow(pca_variance(x)) > 0, error = function(e) FALSE))) {
      calculate_qc_metrics(x); set_keep(x, 'n_genes >= 200 AND pct_mt < 20'); find_hvg(x); run_pca(x, verbose = FALSE)
    }" 2>/dev/null
}
graph_steps() {  # label suffix
  timed "neighbors-$1" "find_neighbors(x, k = 20, n_pcs = 30)"
  timed "leiden-$1" "print(cluster_leiden(x, resolution = 1))"
  cat "$work/leiden-$1.out"
}

if [ "${MAIN:-1}" = 1 ]; then
  store=${2:-$work/store-h5ad-$n}
  [ -d "$store" ] || bash "$here/h5ad.sh" "$n"
  with_pca "$store"
  graph_steps "$n"
fi

if [ "${PEER:-1}" = 1 ] && [ -x "$py" ]; then
  store=$work/store-h5ad-$peer_n
  [ -d "$store" ] || MAIN=0 EXACT=0 PEER_N=$peer_n bash "$here/pca.sh"
  with_pca "$store"
  graph_steps "$peer_n"
  timed "leiden-umap-$peer_n" "cluster_leiden(x, resolution = 1, graph = 'umap', name = 'leiden_umap', verbose = FALSE)
    o <- obs(x)[keep(x), ]; write.csv(data.frame(cell = o\$cell_id, snn = o\$leiden, umap = o\$leiden_umap), '$work/ours-leiden.csv', row.names = FALSE)
    g <- snn_graph(x); s <- Matrix::summary(Matrix::tril(g)); write.csv(s, '$work/ours-snn.csv', row.names = FALSE)"
  /usr/bin/time -v "$py" - "$(ls "$store"/pca.embedding.* | head -n 1)" "$work/ours-leiden.csv" "$work/ours-snn.csv" > "$work/scanpy-graph.txt" 2> "$work/time-scanpy-graph.txt" <<'PY'
import sys, time, numpy as np, pandas as pd, anndata, scanpy as sc, igraph as ig
raw = open(sys.argv[1], "rb").read()
n, k = np.frombuffer(raw[8:24], dtype="<u8")
pcs = np.frombuffer(raw[64 + 4 * n:64 + 4 * n + 4 * n * k], dtype="<f4").reshape(n, k)
a = anndata.AnnData(np.zeros((n, 1), dtype=np.float32))
a.obsm["X_pca"] = pcs.astype(np.float32)
t = time.time(); sc.pp.neighbors(a, n_neighbors=20, n_pcs=30, use_rep="X_pca", random_state=0); t_nb = time.time() - t
t = time.time(); sc.tl.leiden(a, resolution=1.0, flavor="igraph", n_iterations=2, directed=False, random_state=0); t_ld = time.time() - t
print(f"scanpy on {n} cells: neighbors {t_nb:.1f} s, leiden (igraph) {t_ld:.1f} s, {a.obs['leiden'].nunique()} clusters")
c = a.obsp["connectivities"].tocoo()
keep = c.row < c.col
g = ig.Graph(n=int(n), edges=list(zip(c.row[keep].tolist(), c.col[keep].tolist())), directed=False)
w = c.data[keep]
ours = pd.read_csv(sys.argv[2])
theirs = a.obs["leiden"].astype(int).values
print(f"modularity on scanpy's graph: scanpy {g.modularity(theirs, weights=w):.4f}, ours (umap graph) {g.modularity(ours['umap'].values, weights=w):.4f}, ours (sNN) {g.modularity(ours['snn'].values, weights=w):.4f}")
s = pd.read_csv(sys.argv[3])
i, j, x = s["i"].values - 1, s["j"].values - 1, s["x"].values
off = i != j
h = ig.Graph(n=int(n), edges=list(zip(i[off].tolist(), j[off].tolist())), directed=False)
print(f"modularity on our sNN graph (no self-loops): ours {h.modularity(ours['snn'].values, weights=x[off]):.4f}, scanpy {h.modularity(theirs, weights=x[off]):.4f}")
PY
  cat "$work/scanpy-graph.txt"
  echo "scanpy process (load PCs, neighbors, leiden, modularity): wall $(wall "$work/time-scanpy-graph.txt"), peak RSS $(peak "$work/time-scanpy-graph.txt")"
fi

if [ "${SIM:-1}" = 1 ]; then
  store=$work/store-sim-$sim_n
  if [ ! -d "$store" ]; then
    Rscript -e "suppressMessages(library(cellstream)); x <- ingest_mtx(simulate_counts($sim_n, 2000, n_clusters = 12, path = '$work/sim-$sim_n'), '$store', min_cells = 3)" 2>/dev/null
    rm -rf "$work/sim-$sim_n"
  fi
  with_pca "$store"
  for method in nndescent hnsw; do
    timed "recall-$method-$sim_n" "find_neighbors(x, k = 20, n_pcs = 30, method = '$method')
      e <- as.matrix(pca(x)[, 2:31]); nb <- neighbors(x); set.seed(1); rows <- sort(sample(nrow(e), 2000))
      d <- -2 * e[rows, ] %*% t(e) + outer(rowSums(e[rows, ]^2), rowSums(e^2), '+')
      exact <- t(apply(d, 1, function(r) order(r)[1:20]))
      hits <- vapply(seq_along(rows), function(t) length(intersect(nb\$index[rows[t], -1], exact[t, -1])), 0)
      cat(sprintf('recall@20 of $method on %d of %d simulated cells: %.4f\n', length(rows), nrow(e), sum(hits) / (19 * length(rows))))"
    cat "$work/recall-$method-$sim_n.out"
  done
fi
