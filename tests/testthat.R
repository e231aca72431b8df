library(testthat)
library(cellstream)

test_check("cellstream")
