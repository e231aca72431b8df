# Reading speed with and without the store's integrity checks (issue 15): counts() of 1,000
# random cells and of 100 random genes, and one QC pass, on a 200,000-cell h5ad made by
# ../shared/tools/make_upsampled.py. OLD_LIB is an R library holding the cellstream before
# the checks (e.g. `git worktree add /tmp/old <commit> && R CMD INSTALL --library=OLD_LIB
# /tmp/old`); the current one is in R_LIBS_USER. Each library ingests its own store (the
# formats differ), then each read runs 5 times; the median is printed. Then the opening of
# the h5ad (with its check in a child process) by cellstream-bench open, with peak RSS.
# Usage: OLD_LIB=/tmp/rlib-old bash inst/bench/integrity.sh [N]
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
n=${1:-200000}
input=$work/upsampled-$n.h5ad
[ -f "$input" ] || "$py" "$shared/tools/make_upsampled.py" "$n" "$input"

measure() { # label, library
  local store=$work/integrity-$1-$n
  R_LIBS_USER=$2 Rscript -e "
    suppressMessages(library(cellstream))
    if (!dir.exists('$store')) ingest_h5ad('$input', '$store', verbose = FALSE)
    x <- open_store('$store')
    set.seed(1)
    med <- function(f) median(replicate(5, system.time(f())[['elapsed']]))
    t_cells <- med(function() counts(x, cells = sample(nrow(x), 1000)))
    t_genes <- med(function() counts(x, genes = sample(ncol(x), 100)))
    t_qc <- med(function() calculate_qc_metrics(x, verbose = FALSE))
    cat(sprintf('%s: counts() of 1,000 random cells %.3f s, of 100 random genes %.3f s, one QC pass %.2f s (medians of 5)\n',
                '$1', t_cells, t_genes, t_qc))"
}
measure before "${OLD_LIB:?set OLD_LIB to a library with the earlier cellstream}"
measure after "$R_LIBS_USER"
"${CELLSTREAM_TARGET_DIR:-$HOME/.cache/cellstream-target}/release/cellstream-bench" open "$input"
