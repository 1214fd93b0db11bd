/* onednn-pool.c: the oneDNN region's own 2-D max pooling on blocked
 * (nChw16c) data.
 *
 * oneDNN 2.6's pooling took 102 us at one thread for SqueezeNet 1.1's 3x3
 * stride-2 pool over 128 x 55 x 55 (1.5 MB in, 15 GB/s) and 31 us for the
 * one over 256 x 27 x 27, which sits in L2. Here each output vector (16
 * channels of one pixel) is the maximum of its window's vectors, the 3x3
 * window unrolled; padded cells do not take part (ONNX's MaxPool). The
 * maximum is exact, so the result is oneDNN's to the bit. Threads share
 * the (image, channel block, output row) triples in order, as oneDNN's
 * pooling does.
 */
#include "onednn-private.h"

#include <math.h>
#include <omp.h>

#define BLK 16

gboolean
onednn_maxpool_supports (const OnednnPoolShape *s)
{
  return onednn_have_avx512 () && s->n >= 1 && s->cb >= 1 && s->kh >= 1 && s->kw >= 1 && s->sh >= 1
         && s->sw >= 1 && s->pt >= 0 && s->pl >= 0 && s->pt < s->kh && s->pl < s->kw && s->oh >= 1
         && s->ow >= 1 && s->ih >= 1
         && s->iw >= 1
         /* every window holds at least one cell of the input */
         && (s->oh - 1) * s->sh - s->pt < s->ih && (s->ow - 1) * s->sw - s->pl < s->iw;
}

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#define POOL_TARGET __attribute__ ((target ("avx512f")))

/* One output row @r of the plane @x (ih x iw vectors) into @y (ow vectors). */
static POOL_TARGET void
pool_row (const OnednnPoolShape *s, const float *x, float *y, gint64 r)
{
  gint64 y0 = r * s->sh - s->pt;
  gint64 r0 = MAX (y0, 0), r1 = MIN (y0 + s->kh, s->ih);
  /* outputs whose window lies inside the row: [c0, c1) */
  gint64 c0 = (s->pl + s->sw - 1) / s->sw;
  gint64 c1 = s->iw >= s->kw ? (s->iw - s->kw + s->pl) / s->sw + 1 : 0;
  c1 = MIN (c1, s->ow);
  c0 = MIN (c0, c1);
  gboolean full3 = s->kh == 3 && s->kw == 3 && r1 - r0 == 3;
  for (gint64 c = 0; c < s->ow; c++) {
    gint64 x0 = c * s->sw - s->pl;
    __m512 m;
    if (full3 && c >= c0 && c < c1) {
      const float *p = x + (r0 * s->iw + x0) * BLK;
      const gint64 row = s->iw * BLK;
      __m512 a = _mm512_max_ps (_mm512_load_ps (p), _mm512_load_ps (p + BLK));
      __m512 b = _mm512_max_ps (_mm512_load_ps (p + 2 * BLK), _mm512_load_ps (p + row));
      __m512 d = _mm512_max_ps (_mm512_load_ps (p + row + BLK), _mm512_load_ps (p + row + 2 * BLK));
      __m512 e = _mm512_max_ps (_mm512_load_ps (p + 2 * row), _mm512_load_ps (p + 2 * row + BLK));
      m = _mm512_max_ps (_mm512_max_ps (a, b), _mm512_max_ps (d, e));
      m = _mm512_max_ps (m, _mm512_load_ps (p + 2 * row + 2 * BLK));
    } else {
      gint64 q0 = MAX (x0, 0), q1 = MIN (x0 + s->kw, s->iw);
      m = _mm512_set1_ps (-INFINITY);
      for (gint64 i = r0; i < r1; i++)
        for (gint64 j = q0; j < q1; j++)
          m = _mm512_max_ps (m, _mm512_load_ps (x + (i * s->iw + j) * BLK));
    }
    _mm512_store_ps (y + c * BLK, m);
  }
}

POOL_TARGET void
onednn_maxpool_run (const OnednnPoolShape *s, const float *x, float *y)
{
  gint64 rows = s->n * s->cb * s->oh;
  gint64 plane = s->ih * s->iw * BLK;
  /* (a small pool is not worth waking the team for) */
#pragma omp parallel for schedule(static) if (rows * s->ow > 1024 && omp_get_max_threads() > 1)
  for (gint64 k = 0; k < rows; k++) {
    gint64 img = k / s->oh, r = k % s->oh;
    pool_row (s, x + img * plane, y + k * s->ow * BLK, r);
  }
}

#else

void
onednn_maxpool_run (const OnednnPoolShape *s, const float *x, float *y)
{
  (void)s;
  (void)x;
  (void)y;
  g_assert_not_reached (); /* onednn_have_avx512() is FALSE */
}

#endif
