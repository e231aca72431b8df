# Two entry points (see README.md): `make demo` and `make test`. Each installs what is
# missing. One cargo target directory outside the checkout is shared by cargo, R CMD INSTALL
# (src/Makevars) and CI, so DuckDB's C++ is compiled once per machine.
CELLSTREAM_TARGET_DIR ?= $(HOME)/.cache/cellstream-target
export CELLSTREAM_TARGET_DIR
export CARGO_TARGET_DIR := $(CELLSTREAM_TARGET_DIR)
export PATH := $(HOME)/.cargo/bin:$(PATH)
R_LIB ?= $(HOME)/.cache/cellstream-rlib
export R_LIBS_USER := $(R_LIB)
APT_PACKAGES = r-base-dev r-cran-cli r-cran-matrix r-cran-testthat r-cran-knitr r-cran-rmarkdown r-cran-ggplot2 r-cran-igraph r-bioc-bluster r-cran-seuratobject \
               r-bioc-edger r-bioc-deseq2 r-bioc-limma pandoc curl \
               libhdf5-dev pkg-config python3-venv libvulkan1 mesa-vulkan-drivers
# Vulkan (the GPU path; lavapipe, Mesa's software adapter, serves the tests without a GPU)
# wants a runtime directory.
ifeq ($(strip $(XDG_RUNTIME_DIR)),)
XDG_RUNTIME_DIR := /tmp/cellstream-xdg-$(shell id -u)
endif
export XDG_RUNTIME_DIR
# Python peers (anndata, scanpy) for tests and benchmarks only, never a runtime dependency;
# scipy < 1.14: scanpy 1.11's neighbors calls getnnz on the csr_array it gets back, which
# scipy 1.14 no longer has (measured: scipy 1.14.1 fails on 50,000 cells, 1.13.1 works).
PEERS ?= $(HOME)/.cache/cellstream-peers
PEER_PACKAGES = "scipy<1.14" anndata h5py scanpy igraph leidenalg

.PHONY: deps peers install lint test test-rust test-r demo bench

deps:
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v cargo >/dev/null || { \
	  echo "installing Rust with rustup (https://rustup.rs)"; \
	  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal; }
	@cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 || rustup component add rustfmt clippy

# Best effort: without PyPI the tests that need anndata skip.
peers: deps
	@[ -x $(PEERS)/bin/python ] && $(PEERS)/bin/python -c "import anndata, h5py, scipy; assert tuple(map(int, scipy.__version__.split('.')[:2])) < (1, 14)" 2>/dev/null || \
	  { python3 -m venv $(PEERS) && $(PEERS)/bin/pip install -q $(PEER_PACKAGES); } || \
	  echo "could not set up the Python peers in $(PEERS); tests that need anndata will skip"

install: deps
	mkdir -p $(R_LIB)
	R CMD INSTALL --library=$(R_LIB) .

# Habits before tests: formatting (rustfmt.toml) and every clippy warning as an error.
lint: deps
	cargo fmt --all --check
	cargo clippy --release --locked --workspace --all-targets -- -D warnings

# One test thread: the HDF5 readers fork a child to open a file first (input/isolated.rs); a
# fork while another test thread is inside a library can leave the child stuck on that
# thread's lock (seen: 1 run in 8). R calls the readers from its one main thread.
test-rust: lint
	RUST_TEST_THREADS=1 cargo test --release --locked --workspace

test-r: install peers
	Rscript -e 'res <- as.data.frame(testthat::test_dir("tests/testthat", package = "cellstream", load_package = "installed", reporter = "summary", stop_on_failure = FALSE)); failed <- sum(res$$failed) + sum(res$$error); cat(sprintf("testthat: %d passed, %d failed, %d skipped\n", sum(res$$passed), failed, sum(res$$skipped))); quit(status = as.integer(failed > 0))'

test: test-rust test-r

demo: install
	Rscript inst/scripts/run_pipeline.R $(ARGS)

bench: install peers
	bash inst/bench/ingest.sh
	bash inst/bench/h5ad.sh
	bash inst/bench/qc_hvg.sh
	bash inst/bench/pca.sh
	bash inst/bench/graph.sh
	bash inst/bench/pipeline.sh
	bash inst/bench/markers.sh
	bash inst/bench/grn.sh
	bash inst/bench/grn_sergio.sh
