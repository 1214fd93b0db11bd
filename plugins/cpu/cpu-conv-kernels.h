/* cpu-conv-kernels.h: the inner loops of the convolutions, compiled once per
 * ISA (cpu-conv-kernels.c is built as several static libraries with
 * per-file -m flags and a name suffix) and picked at run time by
 * cpu_conv_kernels_get() from the CPUID checks in cpu-cpuid.h.
 */
#pragma once

#include "cpu-activation.h"

G_BEGIN_DECLS

/* Geometry of one 2-D depthwise plane. */
typedef struct
{
  gint64 ih, iw, oh, ow;
  gint64 kh, kw;
  gint64 sh, sw;
  gint64 dh, dw;
  gint64 ph, pw; /* leading pads */
} CpuDwGeometry;

#define CPU_DW_MAX_TAPS 64

static inline gsize
cpu_dw_scratch_floats (const CpuDwGeometry *g)
{
  gint64 hp = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
  gint64 wp = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
  return (gsize)(g->sw * hp * ((wp + g->sw - 1) / g->sw));
}

typedef struct
{
  const char *isa;
  /* y[oh*ow] = act(sum_k w[k] * x(window) + bias + z[i]); @z may be NULL;
   * kh * kw <= CPU_DW_MAX_TAPS; @scratch holds cpu_dw_scratch_floats(). */
  void (*dw_conv2d_plane) (const CpuDwGeometry *g, const float *x, const float *w, float bias,
                           const float *z, const CpuActivation *act, float *y, float *scratch);
  /* For rows r in [0, rows): y[r*ldy + j] = act(y[r*ldy + j] + bias[r] +
   * z[r*ldz + j]) for j < cols; @bias and @z may be NULL. */
  /* MaxPool of one plane (CpuDwGeometry without dilation limits, kh * kw <=
   * CPU_DW_MAX_TAPS); @scratch as for dw_conv2d_plane. */
  void (*max_pool2d_plane) (const CpuDwGeometry *g, const float *x, float *y, float *scratch);
  void (*epilogue) (float *y, gsize ldy, gsize rows, gsize cols, const float *bias, const float *z,
                    gsize ldz, const CpuActivation *act);
} CpuConvKernels;

/* The fastest set the CPU supports. */
const CpuConvKernels *cpu_conv_kernels_get (void);

#define CPU_CONV_KERNELS_DECLARE(SUFFIX) extern const CpuConvKernels cpu_conv_kernels_##SUFFIX;
CPU_CONV_KERNELS_DECLARE (generic)
CPU_CONV_KERNELS_DECLARE (avx2)
CPU_CONV_KERNELS_DECLARE (avx512)

G_END_DECLS
