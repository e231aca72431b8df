// Lets Rust ask, between batches of work, whether the user pressed Ctrl-C: R_CheckUserInterrupt
// may longjmp, so it runs inside R_ToplevelExec, which contains the jump.
#include <Rinternals.h>
#include <R_ext/Utils.h>

static void check_interrupt(void *unused) {
    (void) unused;
    R_CheckUserInterrupt();
}

int cellstream_interrupt_pending(void) {
    return R_ToplevelExec(check_interrupt, NULL) == FALSE;
}
