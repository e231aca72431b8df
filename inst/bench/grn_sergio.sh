#!/usr/bin/env bash
# GRN accuracy on the SERGIO benchmarks (not a test): every learner of cellstream-bench grn
# (the engine alone, one thread) on DS1 clean / umi / noisy and DS2 umi, seeds 1 and 2, fed as
# the reference feeds arboreto (clean: log1p(x); umi / noisy: log1p(CP10k)), TFs = the
# regulators, scored with the reference score_grn.py (BEELINE AUPR / EPR). Prints one line per
# (configuration, set): tag, set, ms per target, AUPR, EPR; then each tag's median AUPR.
# Needs the faithful venv of grn.sh ($GRN_PYTHON) and a release build of cellstream-bench.
# Usage: bash inst/bench/grn_sergio.sh ["tag method [option=value ...]" ...]
. "$(dirname "$0")/common.sh"
grn_py=${GRN_PYTHON:-$HOME/.cache/cellstream-grn-faithful/bin/python}
bench=${CELLSTREAM_BENCH:-${CELLSTREAM_TARGET_DIR:-$HOME/.cache/cellstream-target}/release/cellstream-bench}
data=$shared/data/grn
[ "$#" -gt 0 ] || set -- "default batched" "gbm gbm" "shared shared_splits" "k5 batched screen_k=5" \
  "k10 batched screen_k=10" "t50 batched n_trees=50"
sets="DS1_clean DS1_umi DS1_noisy DS2_umi"
"$grn_py" - "$data" "$work" <<'PY'
import gzip, os, sys, numpy as np, scipy.io, pandas as pd
data, work = sys.argv[1:]
for s in (1, 2):
    for ds, tiers in (("DS1", ("clean", "umi", "noisy")), ("DS2", ("umi",))):
        for tier in tiers:
            out = f"{work}/sergio-{ds}_{tier}-seed{s}.tsv"
            if os.path.exists(out):
                continue
            if tier == "clean":
                df = pd.read_csv(f"{data}/{ds}/seed{s}/clean.csv.gz", index_col=0)
                names, X = [str(g) for g in df.index], np.log1p(df.values.astype(np.float64))
            else:
                d = f"{data}/{ds}/seed{s}/{tier}"
                C = scipy.io.mmread(gzip.open(f"{d}/matrix.mtx.gz")).toarray().astype(np.float64)
                names = [l.split("\t")[0] for l in gzip.open(f"{d}/features.tsv.gz").read().decode().splitlines()]
                lib = C.sum(0, keepdims=True); lib[lib == 0] = 1
                X = np.log1p(C / lib * 1e4)
            with open(out + ".part", "w") as f:
                for n, row in zip(names, X):
                    f.write(n + "\t" + "\t".join("%.7g" % v for v in row) + "\n")
            os.replace(out + ".part", out)
PY
results=$work/grn-sergio.txt
: > "$results"
for config in "$@"; do
  set -- $config
  tag=$1; method=$2; shift 2
  for s in 1 2; do for set in $sets; do
    ds=${set%%_*}
    net=$work/grn-sergio-$tag-$set-seed$s.tsv
    line=$("$bench" grn "$work/sergio-$set-seed$s.tsv" "$data/$ds/regulators.txt" "$method" "$net" threads=1 "$@")
    ms=$(echo "$line" | sed -E 's/.*\(([0-9.]+) ms per target.*/\1/')
    score=$("$grn_py" "$shared/reference/grn_arboreto/score_grn.py" --net "$net" --ds "$data/$ds" |
      "$grn_py" -c 'import json, sys; d = json.load(sys.stdin); print("%.4f %.3f" % (d["AUPR"], d["EPR"]))')
    echo "$tag ${set}_s$s $ms $score" | tee -a "$results"
  done; done
done
"$grn_py" -c '
import sys, collections, statistics
aupr = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split(); aupr[f[0]].append(float(f[3]))
for tag, v in aupr.items(): print("%s: median AUPR %.4f over %d sets" % (tag, statistics.median(v), len(v)))' "$results"
