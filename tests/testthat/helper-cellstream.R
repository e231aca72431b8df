# Shared test helpers.

# ../shared beside the repository (CI and developers), or CELLSTREAM_SHARED.
shared_dir <- function() {
  env <- Sys.getenv("CELLSTREAM_SHARED")
  candidates <- c(env, file.path(c("..", "../..", "../../..", "../../../.."), "shared"))
  hit <- candidates[nzchar(candidates) & dir.exists(file.path(candidates, "data"))]
  if (length(hit) == 0) "" else normalizePath(hit[1])
}

skip_without_shared <- function(...) {
  path <- file.path(shared_dir(), ...)
  if (!nzchar(shared_dir()) || !file.exists(path)) skip(paste("shared data absent:", file.path(...)))
  path
}

# Writes a tiny 10x v2 directory from MTX data lines; returns its path.
write_mtx <- function(lines, n_genes, n_cells, nnz = length(lines),
                      genes = sprintf("G%d", seq_len(n_genes)),
                      barcodes = sprintf("C%d", seq_len(n_cells)),
                      banner = "%%MatrixMarket matrix coordinate integer general") {
  dir <- tempfile("mtx_")
  dir.create(dir)
  writeLines(c(banner, sprintf("%d %d %d", n_genes, n_cells, nnz), lines), file.path(dir, "matrix.mtx"))
  writeLines(sprintf("%s\tSYM%s", genes, genes), file.path(dir, "genes.tsv"))
  writeLines(barcodes, file.path(dir, "barcodes.tsv"))
  dir
}

# Reads a 10x directory into a dgCMatrix with Matrix::readMM (the oracle).
read_10x_oracle <- function(dir) {
  f <- function(...) { p <- file.path(dir, c(...)); p[file.exists(p)][1] }
  m <- methods::as(Matrix::readMM(f("matrix.mtx.gz", "matrix.mtx")), "CsparseMatrix")
  genes <- utils::read.delim(f("features.tsv.gz", "genes.tsv"), header = FALSE, stringsAsFactors = FALSE)
  cells <- readLines(f("barcodes.tsv.gz", "barcodes.tsv"))
  dimnames(m) <- list(genes[[1]], cells)
  m
}

# Seurat's CreateSeuratObject rule: cells by min.features over all genes, then genes by
# min.cells over the kept cells; nCount / nFeature over the kept genes.
seurat_filter <- function(m, min_cells, min_genes, min_counts = 0) {
  cells <- Matrix::colSums(m > 0) >= min_genes & Matrix::colSums(m) >= min_counts
  genes <- Matrix::rowSums(m[, cells, drop = FALSE] > 0) >= min_cells
  m[genes, cells, drop = FALSE]
}

# A store's cells, genes and per-cell / per-gene counts equal Seurat's rule on `m`; returns
# the filtered matrix.
expect_seurat_filter <- function(x, m, ...) {
  sub <- seurat_filter(m, ...)
  expect_equal(dim(x), rev(dim(sub)))
  expect_identical(obs(x)$cell_id, colnames(sub))
  expect_identical(var(x)$gene_id, rownames(sub))
  expect_equal(obs(x)$n_counts, unname(Matrix::colSums(sub)))
  expect_equal(obs(x)$n_genes, unname(Matrix::colSums(sub > 0)))
  expect_equal(var(x)$n_cells, unname(Matrix::rowSums(sub > 0)))
  sub
}

# Nothing but `expected` may remain in `dir` after a failed ingest.
expect_only_files <- function(dir, expected = character()) {
  expect_setequal(list.files(dir, all.files = TRUE, no.. = TRUE), expected)
}

# The gene id of a symbol in a simulated 10x v3 directory.
feats_of <- function(dir, symbol) {
  feats <- utils::read.delim(file.path(dir, "features.tsv.gz"), header = FALSE)
  feats$V1[feats$V2 == symbol]
}

# A Python with anndata (the peers venv `make peers` creates, CELLSTREAM_PYTHON, or python3);
# tests that need it skip when none is found.
peer_python <- function() {
  candidates <- c(Sys.getenv("CELLSTREAM_PYTHON"), path.expand("~/.cache/cellstream-peers/bin/python"),
                  Sys.which("python3"))
  for (py in candidates[nzchar(candidates) & file.exists(candidates)]) {
    ok <- suppressWarnings(system2(py, c("-c", shQuote("import anndata, h5py")), stdout = FALSE,
                                   stderr = FALSE))
    if (ok == 0) return(py)
  }
  skip("no Python with anndata and h5py (run `make peers`)")
}

# Runs Python code (with the arguments as sys.argv[1:]) and fails the test on error.
run_python <- function(code, ...) {
  script <- tempfile(fileext = ".py")
  writeLines(code, script)
  out <- suppressWarnings(system2(peer_python(), c(script, shQuote(c(...))), stdout = TRUE, stderr = TRUE))
  status <- attr(out, "status")
  if (!is.null(status) && status != 0) stop("python failed:\n", paste(out, collapse = "\n"))
  invisible(out)
}

# A reference table of ../shared/reference as a matrix (row names from its first column).
reference_csv <- function(...) {
  as.matrix(utils::read.csv(skip_without_shared("reference", ...), row.names = 1, check.names = FALSE))
}

pbmc_h5ad <- function() skip_without_shared("data", "pbmc3k", "pbmc3k_raw.h5ad")

# Store contents to compare: counts and the obs / var columns cellstream derives.
expect_same_store <- function(a, b, obs_cols = c("cell_id", "n_counts", "n_genes"),
                              var_cols = c("gene_id", "n_cells", "n_counts")) {
  expect_equal(dim(a), dim(b))
  expect_identical(obs(a)[obs_cols], obs(b)[obs_cols])
  expect_identical(var(a)[var_cols], var(b)[var_cols])
  expect_identical(counts(a), counts(b))
  expect_identical(counts(a, layer = "norm"), counts(b, layer = "norm"))
}

# Runs R `code` in a child Rscript with this session's library paths. Waits and returns its
# exit status and output, or with `wait = FALSE` returns at once its pid and log file.
child_r <- function(code, wait = TRUE) {
  script <- tempfile(fileext = ".R")
  log <- tempfile(fileext = ".log")
  writeLines(code, script)
  run <- sprintf("R_LIBS='%s' Rscript '%s' >'%s' 2>&1", paste(.libPaths(), collapse = ":"), script, log)
  if (wait) {
    status <- system(run)
    return(list(status = status, output = paste(readLines(log), collapse = "\n")))
  }
  list(pid = as.integer(system(paste(run, "& echo $!"), intern = TRUE)), log = log)
}

wait_for_exit <- function(pid, seconds = 10) {
  for (i in seq_len(seconds * 10)) {
    if (!file.exists(sprintf("/proc/%d", pid))) return(invisible(TRUE))
    Sys.sleep(0.1)
  }
  invisible(FALSE)
}

# The one file of a result kind ("pca.embedding") in a store.
result_file <- function(x, kind) {
  f <- list.files(x$path, pattern = paste0("^", kind, "\\."), full.names = TRUE)
  expect_length(f, 1)
  f
}

# Flips one bit of byte `at` (1-based) of a file.
flip_byte <- function(file, at) {
  bytes <- readBin(file, "raw", file.size(file))
  bytes[at] <- xor(bytes[at], as.raw(0x10))
  writeBin(bytes, file)
}

# Seurat's gene names: Read10X makes the symbols of all 32,738 genes unique before filtering,
# and CreateSeuratObject turns underscores into dashes.
seurat_names <- function(x) {
  genes <- utils::read.delim(skip_without_shared("data", "pbmc3k", "filtered_gene_bc_matrices", "hg19", "genes.tsv"),
                             header = FALSE)
  stats::setNames(gsub("_", "-", make.unique(genes$V2)), genes$V1)[var(x)$gene_id]
}

# Trustworthiness (Venna & Kaski): how far the k nearest cells in the layout were from being
# the k nearest in the original space.
trustworthiness <- function(original, layout, k = 15) {
  n <- nrow(original)
  dx <- as.matrix(stats::dist(original))
  dy <- as.matrix(stats::dist(layout))
  diag(dx) <- Inf
  diag(dy) <- Inf
  penalty <- 0
  for (i in seq_len(n)) {
    rank_x <- rank(dx[i, ], ties.method = "first")
    penalty <- penalty + sum(pmax(rank_x[order(dy[i, ])[1:k]] - k, 0))
  }
  1 - 2 / (n * k * (2 * n - 3 * k - 1)) * penalty
}

mean_silhouette <- function(layout, clusters) {
  mean(cluster::silhouette(as.integer(factor(clusters)), stats::dist(layout))[, 3])
}
