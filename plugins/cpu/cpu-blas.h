/* cpu-blas.h: the CPU provider's BLAS (OpenBLAS) and its thread count.
 *
 * The session's intra-op thread count is the whole budget: a kernel calls
 * cpu_blas_set_threads (glia_kernel_context_get_n_threads (ctx)) before
 * issuing BLAS calls from its own (calling) thread, and
 * cpu_blas_set_threads (1) before BLAS calls made inside
 * glia_kernel_context_parallel_for() workers, so BLAS threads and the
 * provider's pool never run together. OpenBLAS keeps one process-wide count,
 * so the call is cheap when it does not change.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void cpu_blas_set_threads (guint n_threads);

G_END_DECLS
