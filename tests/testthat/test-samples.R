# Several inputs -> one store with a sample column and unique barcodes.

test_that("PBMC3k split in two halves gives one store with samples and unique barcodes", {
  src <- pbmc_h5ad()
  dir <- tempfile("halves_")
  dir.create(dir)
  run_python('
import sys, anndata as ad
a = ad.read_h5ad(sys.argv[1])
a[:1350].copy().write_h5ad(sys.argv[2] + "/a.h5ad")
b = a[1350:, ::-1].copy()  # the second half lists its genes in reverse order, stored CSC
b.X = b.X.tocsc()
b.obs["batch_note"] = "late"
b.write_h5ad(sys.argv[2] + "/b.h5ad")
', src, dir)
  x <- ingest_h5ad(c(first = file.path(dir, "a.h5ad"), second = file.path(dir, "b.h5ad")), tempfile())
  whole <- ingest_h5ad(src, tempfile())
  expect_equal(dim(x), dim(whole))
  o <- obs(x)
  expect_identical(o$sample, factor(rep(c("first", "second"), each = 1350), levels = c("first", "second")))
  expect_identical(o$cell_id, paste(o$sample, obs(whole)$cell_id, sep = "_"))
  expect_false(anyDuplicated(o$cell_id) > 0)
  # anndata stores string columns as categoricals
  expect_identical(o$batch_note, factor(rep(c(NA, "late"), each = 1350)))
  expect_identical(var(x)$gene_id, var(whole)$gene_id)
  expect_identical(unname(counts(x)), unname(counts(whole)))
  expect_equal(o$n_counts, obs(whole)$n_counts)
})

test_that("gene universe: union fills absent genes with zeros, intersection keeps shared ones", {
  a <- write_mtx(c("1 1 3", "2 2 1"), 2, 2, genes = c("G1", "G2"), barcodes = c("AAA", "BBB"))
  b <- write_mtx(c("1 1 5", "2 1 2"), 2, 1, genes = c("G3", "G2"), barcodes = "AAA")
  u <- ingest_mtx(c(s1 = a, s2 = b), tempfile())
  expect_identical(var(u)$gene_id, c("G1", "G2", "G3"))
  expect_equal(as.matrix(counts(u)), matrix(c(3, 0, 0, 0, 1, 0, 0, 2, 5), 3,
                                            dimnames = list(c("G1", "G2", "G3"), c("s1_AAA", "s1_BBB",
                                                "s2_AAA"))))
  i <- ingest_mtx(c(s1 = a, s2 = b), tempfile(), genes = "intersection")
  expect_identical(var(i)$gene_id, "G2")
  expect_equal(as.vector(counts(i)), c(0, 1, 2))
  expect_identical(levels(obs(ingest_mtx(c(a, b), tempfile()))$sample), basename(c(a, b)))
  twin <- tempfile()
  dir.create(twin)
  file.copy(a, twin, recursive = TRUE)
  expect_error(ingest_mtx(c(a, file.path(twin, basename(a))), tempfile()), "several inputs need sample names")
  expect_error(ingest_mtx(c(s = a, s = b), tempfile()), "sample name 's' is given twice")
  expect_error(ingest_mtx(c(s1 = a, s2 = write_mtx("1 1 1", 1, 1, genes = "Z")), tempfile(),
                          genes = "intersection"),
               "share no gene id", class = "cellstream_error")
})
