/* cpu-conv-kernels.c: convolution inner loops, compiled once per ISA.
 *
 * meson builds this file several times with different -m flags and
 * -DCPU_ISA=<name>; each build defines cpu_conv_kernels_<name>. The loops
 * are plain C written so that the compiler vectorizes them (restrict,
 * contiguous unit-stride inner loops, no calls), which keeps one source for
 * every ISA and the portable fallback.
 */
#include "cpu-conv-kernels.h"

#include "cpu-activation-impl.h"

#include <string.h>

#ifndef CPU_ISA
#error "build with -DCPU_ISA=<name>"
#endif

#define CONCAT_(a, b) a##b
#define CONCAT(a, b)  CONCAT_ (a, b)

static void
epilogue (float *y, gsize ldy, gsize rows, gsize cols, const float *bias, const float *z, gsize ldz,
          const CpuActivation *act)
{
  for (gsize r = 0; r < rows; r++)
    cpu_activation_epilogue_row (y + r * ldy, cols, bias ? bias[r] : 0.0f, z ? z + r * ldz : NULL,
                                 act);
}

/* y[o] = sum_t w[t] * p[t][o] for o < n, for 9 and 25 taps (3x3, 5x5):
 * one pass over the output row with every tap in registers. */
#define TAP(t) w[t] * p##t[o]
static void
taps9 (float *restrict y, const float *const *p, const float *w, gint64 n)
{
  const float *restrict p0 = p[0], *restrict p1 = p[1], *restrict p2 = p[2];
  const float *restrict p3 = p[3], *restrict p4 = p[4], *restrict p5 = p[5];
  const float *restrict p6 = p[6], *restrict p7 = p[7], *restrict p8 = p[8];
  for (gint64 o = 0; o < n; o++)
    y[o] = TAP (0) + TAP (1) + TAP (2) + TAP (3) + TAP (4) + TAP (5) + TAP (6) + TAP (7) + TAP (8);
}

static void
taps25 (float *restrict y, const float *const *p, const float *w, gint64 n)
{
  for (int r = 0; r < 5; r++) {
    const float *restrict p0 = p[5 * r], *restrict p1 = p[5 * r + 1], *restrict p2 = p[5 * r + 2];
    const float *restrict p3 = p[5 * r + 3], *restrict p4 = p[5 * r + 4];
    const float *wr = w + 5 * r;
#undef TAP
#define TAP(t) wr[t] * p##t[o]
    if (r == 0)
      for (gint64 o = 0; o < n; o++)
        y[o] = TAP (0) + TAP (1) + TAP (2) + TAP (3) + TAP (4);
    else
      for (gint64 o = 0; o < n; o++)
        y[o] += TAP (0) + TAP (1) + TAP (2) + TAP (3) + TAP (4);
  }
}
#undef TAP

static void
taps_any (float *restrict y, const float *const *p, const float *w, gint64 n_taps, gint64 n)
{
  for (gint64 o = 0; o < n; o++)
    y[o] = 0.0f;
  for (gint64 t = 0; t < n_taps; t++) {
    const float *restrict pt = p[t];
    const float wt = w[t];
    for (gint64 o = 0; o < n; o++)
      y[o] += wt * pt[o];
  }
}

/* The plane is first copied, zero padded, into @scratch as sw phase planes
 * (phase q holds padded columns q, q + sw, ...), so that every tap of every
 * output reads a unit-stride run of memory with no bounds checks: output
 * (oy, ox), tap (ky, kx) reads padded row oy*sh + ky*dh, phase (kx*dw) mod sw,
 * column ox + (kx*dw) / sw. */
/* Copies plane @x into @scratch as described above, @fill outside it. */
static void
pad_plane (const CpuDwGeometry *g, const float *x, float fill, float *scratch)
{
  const gint64 sw = g->sw;
  const gint64 hp = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
  const gint64 wp = (g->ow - 1) * sw + (g->kw - 1) * g->dw + 1;
  const gint64 len = (wp + sw - 1) / sw; /* phase row length */

  for (gint64 q = 0; q < sw; q++)
    for (gint64 r = 0; r < hp; r++) {
      float *restrict dst = scratch + (q * hp + r) * len;
      gint64 iy = r - g->ph;
      if (iy < 0 || iy >= g->ih) {
        for (gint64 j = 0; j < len; j++)
          dst[j] = fill;
        continue;
      }
      const float *restrict src = x + iy * g->iw;
      /* dst[j] = x[iy][j * sw + q - pw], @fill outside [lo, hi) */
      gint64 first = q - g->pw;
      gint64 lo = first >= 0 ? 0 : (-first + sw - 1) / sw;
      gint64 hi = first < g->iw ? (g->iw - first + sw - 1) / sw : 0;
      lo = MIN (lo, len);
      hi = CLAMP (hi, lo, len);
      for (gint64 j = 0; j < lo; j++)
        dst[j] = fill;
      if (sw == 1)
        memcpy (dst + lo, src + first + lo, (gsize)(hi - lo) * sizeof (float));
      else
        for (gint64 j = lo; j < hi; j++)
          dst[j] = src[first + j * sw];
      for (gint64 j = hi; j < len; j++)
        dst[j] = fill;
    }
}

/* The taps of output row @oy in the padded plane. */
static void
row_taps (const CpuDwGeometry *g, const float *scratch, gint64 oy, const float **ptr)
{
  const gint64 sw = g->sw;
  const gint64 hp = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
  const gint64 wp = (g->ow - 1) * sw + (g->kw - 1) * g->dw + 1;
  const gint64 len = (wp + sw - 1) / sw;
  for (gint64 ky = 0; ky < g->kh; ky++)
    for (gint64 kx = 0; kx < g->kw; kx++) {
      gint64 c = kx * g->dw;
      ptr[ky * g->kw + kx] = scratch + ((c % sw) * hp + oy * g->sh + ky * g->dh) * len + c / sw;
    }
}

static void
dw_conv2d_plane (const CpuDwGeometry *g, const float *x, const float *w, float bias, const float *z,
                 const CpuActivation *act, float *y, float *scratch)
{
  const gint64 n_taps = g->kh * g->kw;
  pad_plane (g, x, 0.0f, scratch);
  const float *ptr[CPU_DW_MAX_TAPS];
  for (gint64 oy = 0; oy < g->oh; oy++) {
    float *restrict yr = y + oy * g->ow;
    row_taps (g, scratch, oy, ptr);
    if (n_taps == 9)
      taps9 (yr, ptr, w, g->ow);
    else if (n_taps == 25)
      taps25 (yr, ptr, w, g->ow);
    else
      taps_any (yr, ptr, w, n_taps, g->ow);
    cpu_activation_epilogue_row (yr, (gsize)g->ow, bias, z ? z + oy * g->ow : NULL, act);
  }
}

/* Max over the taps; padding is -inf. The first tap starts the maximum and
 * a later one replaces it only when greater, as MaxPool's reference loop
 * does. */
static void
max_pool2d_plane (const CpuDwGeometry *g, const float *x, float *y, float *scratch)
{
  const gint64 n_taps = g->kh * g->kw;
  const float *ptr[CPU_DW_MAX_TAPS];
  pad_plane (g, x, -INFINITY, scratch);
  for (gint64 oy = 0; oy < g->oh; oy++) {
    float *restrict yr = y + oy * g->ow;
    row_taps (g, scratch, oy, ptr);
    const float *restrict p0 = ptr[0];
    for (gint64 o = 0; o < g->ow; o++)
      yr[o] = p0[o];
    for (gint64 t = 1; t < n_taps; t++) {
      const float *restrict pt = ptr[t];
      for (gint64 o = 0; o < g->ow; o++)
        yr[o] = pt[o] > yr[o] ? pt[o] : yr[o];
    }
  }
}

const CpuConvKernels CONCAT (cpu_conv_kernels_, CPU_ISA) = {
  .isa = G_STRINGIFY (CPU_ISA),
  .dw_conv2d_plane = dw_conv2d_plane,
  .epilogue = epilogue,
  .max_pool2d_plane = max_pool2d_plane,
};
