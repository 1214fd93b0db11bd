/* cpu-cpuid.h: which vector instruction sets the running CPU and OS allow.
 *
 * Hand-written kernels are compiled per ISA (per-file flags) and chosen at
 * run time with these checks. Each checks CPUID for the instructions and
 * XGETBV for the OS saving the register state they need; the answer is
 * computed once and cached.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* AVX2 and FMA3 usable (YMM state enabled by the OS). */
gboolean cpu_has_avx2_fma (void);
/* AVX-512 Foundation usable (ZMM and opmask state enabled by the OS); also
 * implies AVX2 and FMA3. */
gboolean cpu_has_avx512f (void);

G_END_DECLS
