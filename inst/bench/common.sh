# Sourced by every benchmark script: settings and the readers of /usr/bin/time -v output.
# BENCH_DIR (default $TMPDIR/cellstream-bench) holds inputs, stores and logs;
# CELLSTREAM_PYTHON is the Python with the peers (scanpy); CELLSTREAM_SHARED is ../shared.
set -euo pipefail
export R_LIBS_USER=${R_LIBS_USER:-$HOME/.cache/cellstream-rlib}  # where `make install` puts the package
work=${BENCH_DIR:-${TMPDIR:-/tmp}/cellstream-bench}
py=${CELLSTREAM_PYTHON:-$HOME/.cache/cellstream-peers/bin/python}
shared=${CELLSTREAM_SHARED:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared}
mkdir -p "$work"
peak() { grep 'Maximum resident' "$1" | awk '{printf "%.0f MB", $NF / 1024}'; }
wall() { grep 'Elapsed (wall' "$1" | awk '{print $NF}'; }
