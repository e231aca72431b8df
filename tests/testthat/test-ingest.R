sim <- simulate_counts(n_cells = 600, n_genes = 400, n_clusters = 4, path = tempfile("sim_"), seed = 7)
oracle <- read_10x_oracle(sim)

test_that("the simulator writes a realistic 10x v3 directory", {
  expect_setequal(list.files(sim), c("matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz", "truth.tsv.gz"))
  expect_equal(dim(oracle), c(400L, 600L))
  truth <- attr(sim, "truth")
  expect_identical(truth$cell_id, colnames(oracle))
  expect_setequal(unique(truth$cluster), 1:4)
  lib <- Matrix::colSums(oracle)
  expect_gt(stats::median(lib), 2000)
  expect_lt(stats::median(lib), 4500)
  feats <- utils::read.delim(file.path(sim, "features.tsv.gz"), header = FALSE)
  pct_mt <- Matrix::colSums(oracle[startsWith(feats$V2, "MT-"), ]) / lib
  expect_gt(mean(pct_mt[truth$damaged]), 3 * mean(pct_mt[!truth$damaged]))
  again <- simulate_counts(n_cells = 600, n_genes = 400, n_clusters = 4, path = tempfile(), seed = 7)
  expect_identical(read_10x_oracle(again), oracle)
})

test_that("ingest without filters stores the source matrix exactly", {
  x <- ingest_mtx(sim, tempfile("store_"))
  expect_equal(dim(x), c(600, 400))
  all <- counts(x)
  expect_identical(dimnames(all), dimnames(oracle))
  expect_equal(all, oracle)
  o <- obs(x)
  expect_identical(o$cell_id, colnames(oracle))
  expect_equal(o$n_counts, unname(Matrix::colSums(oracle)))
  expect_equal(o$n_genes, unname(Matrix::colSums(oracle > 0)))
  v <- var(x)
  expect_equal(v$n_cells, unname(Matrix::rowSums(oracle > 0)))
  expect_equal(v$n_counts, unname(Matrix::rowSums(oracle)))
  expect_true(all(keep(x)))
})

test_that("cell and gene subsets equal the source, in the order asked", {
  x <- ingest_mtx(sim, tempfile("store_"))
  set.seed(1)
  cells <- sample(600, 37)
  genes <- sample(400, 23)
  expect_equal(counts(x, cells = cells), oracle[, cells])
  expect_equal(counts(x, genes = genes), oracle[genes, ])
  expect_equal(counts(x, cells = cells, genes = genes), oracle[genes, cells])
  expect_equal(counts(x, cells = colnames(oracle)[cells[1:3]], genes = "MT-CO1"),
               oracle[feats_of(sim, "MT-CO1"), cells[1:3], drop = FALSE])
  gv <- gene_values(x, c("MT-CO1", rownames(oracle)[10]), layer = "raw")
  expect_identical(names(gv), c("cell_id", "MT-CO1", rownames(oracle)[10]))
  expect_equal(gv[[3]], unname(as.numeric(oracle[10, ])))
})

test_that("normalised values are log1p(count / library size * 1e4) within f16 precision", {
  x <- ingest_mtx(sim, tempfile("store_"))
  lib <- Matrix::colSums(oracle)
  expected <- oracle %*% Matrix::Diagonal(x = 1e4 / lib)
  expected@x <- log1p(expected@x)
  norm <- counts(x, layer = "norm")
  expect_identical(norm@i, methods::as(expected, "CsparseMatrix")@i)
  rel <- abs(norm@x - expected@x) / expected@x
  expect_lt(max(rel), 2^-11)
  by_gene <- counts(x, genes = 1:5, layer = "norm")
  expect_equal(by_gene, norm[1:5, ])
})

test_that("filters follow Seurat: cells by min_genes over all genes, then genes by min_cells over kept", {
  x <- ingest_mtx(sim, tempfile("store_"), min_cells = 30, min_genes = 150, min_counts = 1000)
  sub <- expect_seurat_filter(x, oracle, min_cells = 30, min_genes = 150, min_counts = 1000)
  expect_lt(ncol(sub), 600)
  expect_lt(nrow(sub), 400)
  expect_equal(counts(x), sub)
})

test_that("a raw-droplet input (most barcodes empty) keeps Seurat's cells and genes", {
  expect_error(simulate_counts(10, 100, path = tempfile(), empty_fraction = 1),
               "empty_fraction must be within \\[0, 1\\), not 1")
  raw <- simulate_counts(n_cells = 300, n_genes = 500, n_clusters = 3, path = tempfile(), seed = 5,
                         empty_fraction = 0.9)
  m <- read_10x_oracle(raw)
  empty <- attr(raw, "truth")$empty
  expect_equal(mean(empty), 0.9, tolerance = 0.05)
  expect_lt(stats::quantile(Matrix::colSums(m[, empty] > 0), 0.99), 100)
  x <- ingest_mtx(raw, tempfile("store_"), min_cells = 3, min_genes = 100)
  sub <- expect_seurat_filter(x, m, min_cells = 3, min_genes = 100)
  expect_gt(mean(!empty[match(colnames(sub), colnames(m))]), 0.95)
  # The old order (genes over all barcodes first) keeps genes seen only in empty droplets.
  expect_gt(sum(Matrix::rowSums(m > 0) >= 3), nrow(sub))
  expect_equal(counts(x), sub)
})

test_that("the filters equal SeuratObject's CreateSeuratObject on real cell-hashing data and raw droplets", {
  skip_if_not_installed("SeuratObject")
  chcl <- skip_without_shared("data", "doublets", "chcl")
  raw <- simulate_counts(n_cells = 2000, n_genes = 800, n_clusters = 3, path = tempfile(), seed = 9,
                         empty_fraction = 0.9)
  for (case in list(list(chcl, 200), list(chcl, 100), list(raw, 150))) {
    m <- read_10x_oracle(case[[1]])
    seurat <- suppressWarnings(SeuratObject::CreateSeuratObject(m, min.cells = 3, min.features = case[[2]]))
    x <- ingest_mtx(case[[1]], tempfile("store_"), min_cells = 3, min_genes = case[[2]])
    expect_identical(obs(x)$cell_id, colnames(seurat))
    expect_identical(var(x)$gene_id, rownames(m)[rownames(m) %in% rownames(seurat) | gsub("_", "-",
        rownames(m)) %in% rownames(seurat)])
    expect_equal(dim(x), rev(dim(seurat)))
    expect_equal(obs(x)$n_counts, unname(seurat$nCount_RNA))
    expect_equal(obs(x)$n_genes, unname(seurat$nFeature_RNA))
  }
})

test_that("10x v2 (plain) and v3 (gzipped) layouts give the same store", {
  v2 <- simulate_counts(n_cells = 600, n_genes = 400, n_clusters = 4, path = tempfile(), seed = 7,
                        gzip = FALSE)
  expect_setequal(list.files(v2), c("matrix.mtx", "genes.tsv", "barcodes.tsv", "truth.tsv"))
  a <- ingest_mtx(v2, tempfile("store_"))
  b <- ingest_mtx(file.path(sim, "matrix.mtx.gz"), tempfile("store_"),
                  features = file.path(sim, "features.tsv.gz"), barcodes = file.path(sim, "barcodes.tsv.gz"))
  expect_equal(counts(a), counts(b))
  expect_identical(obs(a), obs(b))
})

test_that("MTX files not sorted by cell (e.g. written gene by gene) ingest the same", {
  entries <- Matrix::summary(oracle)
  for (ord in list(order(entries$i, entries$j), sample(nrow(entries)))) {
    dir <- write_mtx(sprintf("%d %d %d", entries$i[ord], entries$j[ord], as.integer(entries$x[ord])),
                     nrow(oracle), ncol(oracle), genes = rownames(oracle), barcodes = colnames(oracle))
    parent <- tempfile("parent_")
    dir.create(parent)
    x <- ingest_mtx(dir, file.path(parent, "store"), min_cells = 5)
    expect_equal(counts(x), oracle[Matrix::rowSums(oracle > 0) >= 5, ])
    expect_only_files(parent, "store")
    expect_false(any(grepl("tmp", list.files(x$path))))
  }
})

test_that("kept cells persist with a generation, across reopening", {
  path <- tempfile("store_")
  x <- ingest_mtx(sim, path)
  expect_message(set_keep(x, obs(x)$n_genes > 150), "generation 2")
  mask <- obs(x)$n_genes > 150
  y <- open_store(path)
  expect_identical(keep(y), mask)
  expect_identical(sql(y, "SELECT value FROM state WHERE key = 'keep_generation'")$value, 2L)
  expect_message(set_keep(y, c(3, 1)), "keeping 2 of 600 cells \\(generation 3\\)")
  expect_identical(which(keep(y)), c(1L, 3L))
  expect_error(set_keep(y, logical(600)), "selects no cell")
  out <- capture.output(print(y))
  expect_match(out[2], "600 cells x 400 genes")
  expect_match(out[4], "kept cells: 2 of 600 \\(generation 3\\)")
})

test_that("sql() returns typed data.frames and reports SQL errors", {
  x <- ingest_mtx(sim, tempfile("store_"))
  d <- sql(x,
           paste0("SELECT cell_index, cell_id, n_counts / 2 AS half, keep FROM obs WHERE cell_index <= 3 ",
               "ORDER BY cell_index"))
  expect_identical(d$cell_index, 1:3)
  expect_type(d$half, "double")
  expect_type(d$keep, "logical")
  agg <- sql(x, "SELECT sum(n_counts) AS total, median(n_genes) AS med FROM obs")
  expect_equal(agg$total, sum(Matrix::colSums(oracle)))
  expect_equal(agg$med, stats::median(Matrix::colSums(oracle > 0)))
  expect_error(sql(x, "SELECT nope FROM obs"), "SQL error.*nope")
})

test_that("stats::var still works on numbers", {
  expect_equal(var(c(1, 2, 3, 4)), stats::var(c(1, 2, 3, 4)))
})

test_that("an open store is reused, and a store replaced at the same path is noticed", {
  path <- tempfile("store_")
  x <- ingest_mtx(sim, path)
  expect_equal(dim(counts(x, cells = 1:3)), c(400L, 3L))
  expect_true(close_store(x))
  expect_false(close_store(x))
  expect_equal(dim(counts(x, cells = 1:3)), c(400L, 3L))
  unlink(path, recursive = TRUE)
  expect_error(counts(x, cells = 1), "does not exist")
  small <- simulate_counts(50, 100, n_clusters = 2, path = tempfile())
  ingest_mtx(small, path)
  y <- open_store(path)
  expect_equal(dim(y), c(50, 100))
  expect_identical(colnames(counts(y, cells = 1:2)), attr(small, "truth")$cell_id[1:2])
})
