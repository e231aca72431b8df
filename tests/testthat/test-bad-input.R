# Every bad input gives a clear error and leaves nothing behind.

expect_ingest_error <- function(dir, pattern, ...) {
  parent <- tempfile("parent_")
  dir.create(parent)
  expect_error(ingest_mtx(dir, file.path(parent, "store"), ...), pattern, class = "cellstream_error")
  expect_only_files(parent)
}

good_lines <- c("1 1 3", "2 1 1", "1 2 2", "3 2 5", "2 3 1")

test_that("a valid tiny matrix ingests (control for the cases below)", {
  x <- ingest_mtx(write_mtx(good_lines, 3, 3), tempfile())
  expect_equal(as.matrix(counts(x)), matrix(c(3, 1, 0, 2, 0, 5, 0, 1, 0), 3,
                                            dimnames = list(c("G1", "G2", "G3"), c("C1", "C2", "C3"))))
})

test_that("missing files are named", {
  dir <- write_mtx(good_lines, 3, 3)
  file.remove(file.path(dir, "barcodes.tsv"))
  expect_ingest_error(dir, "has no barcodes.tsv file")
  expect_ingest_error(file.path(tempdir(), "does-not-exist"), "is not a directory")
  expect_ingest_error(file.path(dir, "matrix.mtx"), "does not exist",
                      features = file.path(dir, "genes.tsv"), barcodes = file.path(dir, "nope.tsv"))
})

test_that("header dimensions that disagree with the feature or barcode files", {
  expect_ingest_error(write_mtx(good_lines, 3, 3, barcodes = c("A", "B")),
                      paste0("dimension mismatch: .* declares 3 genes x 3 cells, .* lists 3 features and ",
                          ".* lists 2 barcodes"))
  expect_ingest_error(write_mtx(c(good_lines, "4 1 1"), 3, 3),
                      "line 8: gene \\(row\\) index '4' is outside 1..3")
})

test_that("non-integer, negative and non-numeric counts", {
  expect_ingest_error(write_mtx(c("1 1 2.5"), 3, 3, banner = "%%MatrixMarket matrix coordinate real general"),
                      paste0("line 3: count 2.5 is not a whole number; cellstream needs raw ",
                          "\\(integer\\) UMI counts"))
  expect_ingest_error(write_mtx(c("1 1 1.0", "1 2 -4"), 3, 3,
                                banner = "%%MatrixMarket matrix coordinate real general"),
                      "line 4: count -4 is negative")
  expect_ingest_error(write_mtx(c("1 1 x"), 3, 3), "count 'x' is not a number")
  expect_ingest_error(write_mtx(c("1 1 7"), 3, 3,
                                banner = "%%MatrixMarket matrix coordinate pattern general"),
                      "value type 'pattern' cannot hold counts")
})

test_that("an nnz count that lies, and a truncated file", {
  expect_ingest_error(write_mtx(good_lines, 3, 3, nnz = 9),
                      "declares 9 non-zeros in its header but holds 5 entries")
  expect_ingest_error(write_mtx(good_lines, 3, 3, nnz = 2),
                      "declares 2 non-zeros in its header but holds 5 entries")
  dir <- write_mtx(good_lines, 3, 3)
  writeLines("%%MatrixMarket matrix coordinate integer general", file.path(dir, "matrix.mtx"))
  expect_ingest_error(dir, "the size line is missing")
  writeLines("hello", file.path(dir, "matrix.mtx"))
  expect_ingest_error(dir, "not a valid MatrixMarket file")
})

test_that("duplicated barcodes, gene ids and entries", {
  expect_ingest_error(write_mtx(good_lines, 3, 3, barcodes = c("A", "B", "A")),
                      "line 3: barcode 'A' appears twice")
  expect_ingest_error(write_mtx(good_lines, 3, 3, genes = c("G1", "G1", "G3")), "gene id 'G1' appears twice")
  expect_ingest_error(write_mtx(c(good_lines[1:2], "1 1 4"), 3, 3), "gene 1 of cell 1 appears twice")
})

test_that("duplicates are found in files not sorted by cell too", {
  expect_ingest_error(write_mtx(c("1 2 1", "1 1 1", "3 2 4", "1 2 5"), 3, 3),
                      "gene 1 of cell 2 appears twice")
})

test_that("an empty matrix, and filters that remove everything", {
  expect_ingest_error(write_mtx(character(), 3, 3), "is an empty matrix")
  expect_ingest_error(write_mtx(good_lines, 3, 3), "all 3 cells were filtered away.*min_genes = 5",
                      min_genes = 5)
  expect_ingest_error(write_mtx(good_lines, 3, 3),
                      "no gene is detected in at least min_cells = 4 of the kept cells", min_cells = 4)
  expect_ingest_error(write_mtx(good_lines, 3, 3), "`min_genes` must be a non-negative whole number",
                      min_genes = -1)
})

test_that("a path that already holds a store, or a file, is never overwritten", {
  dir <- write_mtx(good_lines, 3, 3)
  path <- tempfile("store_")
  x <- ingest_mtx(dir, path)
  before <- file.info(list.files(path, full.names = TRUE))$mtime
  expect_error(ingest_mtx(dir, path), "already holds a cellstream store; choose a new path",
               class = "cellstream_error")
  expect_identical(file.info(list.files(path, full.names = TRUE))$mtime, before)
  expect_equal(dim(open_store(path)), c(3, 3))
  file <- tempfile()
  writeLines("x", file)
  expect_error(ingest_mtx(dir, file), "already holds a file or directory")
})

test_that("opening something that is not a store, or a damaged one", {
  expect_error(open_store(tempdir()), "is not a cellstream store: it has no manifest.json")
  expect_error(open_store(file.path(tempdir(), "nope")), "does not exist")
  path <- tempfile("store_")
  ingest_mtx(write_mtx(good_lines, 3, 3), path)
  chunks <- file.path(path, "cells.chunks")
  bytes <- readBin(chunks, "raw", file.size(chunks))
  bytes[70] <- xor(bytes[70], as.raw(0xff))
  writeBin(bytes, chunks)
  x <- open_store(path)
  expect_error(counts(x, cells = 1),
               "chunk 1 is damaged \\(checksum mismatch\\); the store must be re-ingested")
})

test_that("bad arguments to readers", {
  x <- ingest_mtx(write_mtx(good_lines, 3, 3), tempfile())
  expect_error(counts(x, cells = 4), "within 1..3; 4 is not")
  expect_error(counts(x, genes = "nope"), "1 genes not found in the store: nope")
  expect_error(counts(x, layer = "scaled"), "should be one of")
  expect_error(set_keep(x, c(TRUE, NA, TRUE)), "contains NA")
})
