#!/usr/bin/env bash
# Harmony benchmark (not a test), side by side in one run, each under /usr/bin/time -v at
# THREADS threads (default 2): N cells (default 1,000,000) x 30 PCs in SAMPLES samples
# (default 100), 12 cell types, a random shift per sample; harmonypy 2.1.0 (its venv at
# $HARMONY_PYTHON, made when missing) and `cellstream-bench harmony` (the engine's Harmony,
# the same defaults), each timed around the Harmony call, with wall time and peak RSS of the
# whole process (which reads the same table), and the per-PC Pearson between the two results.
# Usage: bash inst/bench/harmony.sh [N] [SAMPLES]
. "$(dirname "$0")/common.sh"
n=${1:-1000000}
samples=${2:-100}
threads=${THREADS:-2}
harmony_py=${HARMONY_PYTHON:-$HOME/.cache/cellstream-harmony/bin/python}
[ -x "$harmony_py" ] || { python3 -m venv "${harmony_py%/bin/python}" && "$harmony_py" -m pip install -q harmonypy==2.1.0 numpy==2.4.6 pandas==3.1.1; }
bench_bin=${CELLSTREAM_BENCH:-${CARGO_TARGET_DIR:-$HOME/.cache/cellstream-target}/release/cellstream-bench}
[ -x "$bench_bin" ] || cargo build --release --locked -p cellstream-engine --bin cellstream-bench
dir=$work/harmony-$n-$samples
mkdir -p "$dir"
if [ ! -f "$dir/pcs.tsv" ]; then
  "$harmony_py" - "$n" "$samples" "$dir" <<'PY'
import sys, numpy as np, pandas as pd
n, samples, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(1)
centres = rng.normal(0, 5, (12, 30)); shifts = rng.normal(0, 2, (samples, 30))
kind = rng.integers(0, 12, n); sample = rng.integers(0, samples, n)
x = centres[kind] + shifts[sample] + rng.normal(0, 1, (n, 30))
pd.DataFrame(x, columns=[f"PC{i + 1}" for i in range(30)]).to_csv(f"{out}/pcs.tsv", sep="\t", index=False, float_format="%.6g")
pd.DataFrame({"sample": [f"S{s:03d}" for s in sample], "type": kind}).to_csv(f"{out}/meta.tsv", sep="\t", index=False)
PY
fi
cat > "$dir/peer.py" <<'PY'
import sys, time, numpy as np, pandas as pd, harmonypy as hm
d, threads = sys.argv[1], int(sys.argv[2])
x = pd.read_csv(f"{d}/pcs.tsv", sep="\t").values; meta = pd.read_csv(f"{d}/meta.tsv", sep="\t")
t = time.perf_counter()
h = hm.run_harmony(x, meta, ["sample"], random_state=0, verbose=False, ncores=threads)
print(f"harmonypy 2.1.0: {x.shape[0]} cells, K = {h.K}, {len(h.kmeans_rounds)} iterations, {time.perf_counter() - t:.2f} s ({threads} threads)")
pd.DataFrame(np.asarray(h.Z_corr)).to_csv(f"{d}/harmonypy.csv", index=False, float_format="%.6g")
PY
/usr/bin/time -v "$harmony_py" "$dir/peer.py" "$dir" "$threads" > "$dir/peer.out" 2> "$dir/time-peer.txt" || { cat "$dir/time-peer.txt"; exit 1; }
cat "$dir/peer.out"; echo "  wall $(wall "$dir/time-peer.txt"), peak RSS $(peak "$dir/time-peer.txt")"
/usr/bin/time -v "$bench_bin" harmony "$dir/pcs.tsv" "$dir/meta.tsv" sample "$dir/cellstream.csv" 0 "$threads" \
  > "$dir/ours.out" 2> "$dir/time-ours.txt" || { cat "$dir/time-ours.txt"; exit 1; }
cut -c1-200 "$dir/ours.out"; echo "  wall $(wall "$dir/time-ours.txt"), peak RSS $(peak "$dir/time-ours.txt")"
"$harmony_py" - "$dir" <<'PY'
import sys, numpy as np, pandas as pd
d = sys.argv[1]
a, b = pd.read_csv(f"{d}/cellstream.csv").values, pd.read_csv(f"{d}/harmonypy.csv").values
r = [np.corrcoef(a[:, i], b[:, i])[0, 1] for i in range(a.shape[1])]
print(f"per-PC Pearson cellstream vs harmonypy: min {min(r):.4f}, mean {np.mean(r):.4f}")
PY
