/* cpu-blas.c: BLAS thread control (see cpu-blas.h). */
#include "cpu-blas.h"

#include <cblas.h>

void
cpu_blas_set_threads (guint n_threads)
{
#ifdef CPU_HAVE_OPENBLAS_THREADS
  int n = (int)MAX (1u, MIN (n_threads, 1024u));
  if (openblas_get_num_threads () != n)
    openblas_set_num_threads (n);
#else
  (void)n_threads;
#endif
}
