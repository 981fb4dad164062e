/* OpenBLAS sanity at start-up. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise
 * some newer Xeons and silently falls back to its generic "Prescott" kernel, which makes
 * sgemm about 7 times slower; OPENBLAS_CORETYPE=SkylakeX (or Haswell) fixes it. This
 * reports it so batch mode, --version and the status line can show the remedy. */
#ifndef LS_BLAS_CHECK_H
#define LS_BLAS_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* The kernel OpenBLAS chose ("SkylakeX", "Haswell", "Prescott", ...). */
const char *ls_blas_corename(void);

/* Threads OpenBLAS uses. */
int ls_blas_threads(void);

/* Makes OpenBLAS run each call on the caller's thread only. The forward pass then splits
 * large products over its own threads (core/nn/forward.c): OpenBLAS's idle workers otherwise
 * keep spinning for a while after each call and compete on every core with the
 * attention, normalisation and SiLU steps between the products. The programs call this
 * once at start-up (tui/main.c); it changes OpenBLAS's process-wide setting. */
void ls_blas_use_caller_thread_only(void);

/* The core type this CPU could use ("SkylakeX", "Haswell", "Sandybridge") or NULL. */
const char *ls_blas_better_core(void);

/* True when OpenBLAS runs a generic kernel although the CPU supports a better one; msg
 * gets a one-line warning with the remedy, e.g. "OpenBLAS uses its generic Prescott
 * kernel on this CPU; run with OPENBLAS_CORETYPE=SkylakeX for about 7x faster matrix
 * products". False (msg = "") otherwise. */
bool ls_blas_check(char *msg, size_t cap);

/* One line for --version: "OpenBLAS 0.3.21 ... core SkylakeX, 2 threads". */
void ls_blas_describe(char *buf, size_t cap);

#endif
