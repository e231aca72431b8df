# The corpus of malformed inputs (helper-corpus.R): every case is an R error whose message
# names the problem, and leaves nothing behind.

test_that("each of the 100+ malformed inputs gives its own error and leaves nothing", {
  cases <- bad_input_corpus()
  expect_gte(length(cases), 100)
  for (case in cases) {
    parent <- tempfile("parent_")
    dir.create(parent)
    args <- c(list(case$make()), if (!"store" %in% names(case$args)) list(store = file.path(parent, "s")),
              case$args, verbose = FALSE)
    expect_error(do.call(ingest_mtx, args), case$pattern, info = case$name)
    expect_only_files(parent)
  }
})
