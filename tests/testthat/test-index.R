test_that("R positions become 0-based Rust indices in one place", {
  expect_identical(cellstream:::rust_index(c(1L, 5L, 2L)), c(0L, 4L, 1L))
  expect_identical(cellstream:::rust_index(3), 2L)
})

test_that("selections resolve to validated 1-based positions", {
  resolve <- function(sel, alt = NULL) {
    cellstream:::resolve_index(sel, 4, "genes", function() c("g1", "g2", "g3", "g4"),
                               if (!is.null(alt)) function() alt)
  }
  expect_identical(resolve(NULL), 1:4)
  expect_identical(resolve(c(FALSE, TRUE, FALSE, TRUE)), c(2L, 4L))
  expect_identical(resolve(c(4, 1)), c(4L, 1L))
  expect_identical(resolve(c("g3", "g1")), c(3L, 1L))
  expect_identical(resolve(c("B", "g4"), alt = c("A", "B", "C", "C")), c(2L, 4L))
  expect_error(resolve("C", alt = c("A", "B", "C", "C")), "gene name 'C' is ambiguous")
  expect_error(resolve(c("g1", "nope")), "1 genes not found in the store: nope")
  expect_error(resolve(5), "whole numbers within 1..4; 5 is not")
  expect_error(resolve(0), "5|0 is not")
  expect_error(resolve(1.5), "1.5 is not")
  expect_error(resolve(c(TRUE, FALSE)), "one value per gene \\(4\\), not 2")
  expect_error(resolve(c(2, 2)), "selects the same gene twice")
})
