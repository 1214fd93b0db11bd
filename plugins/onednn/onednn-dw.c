/* onednn-dw.c: the oneDNN region's own depthwise 2-D convolution.
 *
 * Depthwise convolutions (one filter per channel) are memory-bound: oneDNN
 * 2.6's jit_dw kernel reaches 20-40 GFLOP/s on MobileNetV2's and
 * EfficientNet-B0's (1.3 of MobileNetV2's 5.4 ms at one thread). This
 * kernel works on the blocked nChw16c layout the region's convolutions
 * use, one 16-channel block at a time:
 *
 *   - the input rows are read where they are: the outputs whose windows
 *     lie inside the row 8 vectors at a time (8 independent accumulators
 *     keep both FMA pipes busy), with the common 3x3 and 5x5, stride 1 and
 *     2, padding 0 and k/2 cases unrolled, and the few whose windows hang
 *     over the left or right border one by one; a row of padding above or
 *     below is a row of zeros. Copying each input row into a ring of
 *     padded rows first, so every output took the unrolled path, cost more
 *     than it saved: MobileNetV2's depthwise steps took 790 us per run at
 *     one thread with the copies, 630-650 without (the 112x112 stride-2
 *     one alone 129 -> 86 us);
 *   - a swish the producer left to the region (pre_swish) is applied as
 *     the input rows are copied into such a ring, once per input value,
 *     instead of in a pass of its own over the whole tensor: the one case
 *     where rows are still copied;
 *   - bias and the activation (ReLU/LeakyReLU, Clip, swish) are applied in
 *     registers before the store.
 *
 * The work is split over (image, channel block, row band) between the
 * session's OpenMP threads. AVX-512 only; onednn-kernel.c falls back to
 * oneDNN's kernel elsewhere.
 */
#include "onednn-private.h"

#include <omp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include "onednn-avx512.h"
#define DW_SIMD 1
#endif

#define BLK    16
#define UNROLL 8

#define HUGE_PAGE ((gsize)2 << 20)

#ifdef MADV_HUGEPAGE
/* @bytes rounded up to whole pages: what a mapping of them takes */
static gsize
mapped_len (gsize bytes)
{
  gsize page = (gsize)sysconf (_SC_PAGESIZE);
  return (bytes + page - 1) / page * page;
}
#endif

gpointer
onednn_weights_alloc (gsize bytes)
{
#ifdef MADV_HUGEPAGE
  if (bytes >= HUGE_PAGE) {
    gsize len = mapped_len (bytes);
    char *p0
        = mmap (NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p0 == MAP_FAILED)
      g_error ("%s: failed to allocate %" G_GSIZE_FORMAT " bytes", G_STRLOC, bytes);
    /* a 2 MiB aligned start, the rest unmapped again */
    char *p = (char *)(((guintptr)p0 + HUGE_PAGE - 1) & ~(guintptr)(HUGE_PAGE - 1));
    if (p > p0)
      munmap (p0, p - p0);
    if (p0 + len + HUGE_PAGE > p + len)
      munmap (p + len, p0 + len + HUGE_PAGE - (p + len));
    madvise (p, bytes / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE); /* a hint: failure is fine */
    return p;
  }
#endif
  return g_aligned_alloc0 (MAX (bytes, 1), 1, 64);
}

void
onednn_weights_free (gpointer p, gsize bytes)
{
  if (p == NULL)
    return;
#ifdef MADV_HUGEPAGE
  if (bytes >= HUGE_PAGE) {
    munmap (p, mapped_len (bytes));
    return;
  }
#endif
  g_aligned_free (p);
}

gboolean
onednn_have_avx512 (void)
{
#ifdef DW_SIMD
  static gsize once = 0;
  static gboolean yes = FALSE;
  if (g_once_init_enter (&once)) {
    __builtin_cpu_init ();
    yes = __builtin_cpu_supports ("avx512f");
    g_once_init_leave (&once, 1);
  }
  return yes;
#else
  return FALSE;
#endif
}

OnednnDw *
onednn_dw_new (const OnednnDwShape *shape, const float *weights, const float *bias)
{
  g_return_val_if_fail (shape->c % BLK == 0 && shape->kh >= 1 && shape->kh <= ONEDNN_DW_MAX_K
                            && shape->kw >= 1 && shape->sh >= 1 && shape->sw >= 1,
                        NULL);
  OnednnDw *dw = g_new0 (OnednnDw, 1);
  dw->shape = *shape;
  gint64 cb = shape->c / BLK, taps = (gint64)shape->kh * shape->kw;
  dw->weights = g_aligned_alloc0 (cb * taps * BLK, sizeof (float), 64);
  dw->bias = g_aligned_alloc0 (shape->c, sizeof (float), 64);
  /* [C, 1, kh, kw] -> [C/16][kh][kw][16] */
  for (gint64 c = 0; c < shape->c; c++)
    for (gint64 t = 0; t < taps; t++)
      dw->weights[((c / BLK) * taps + t) * BLK + c % BLK] = weights[c * taps + t];
  if (bias)
    memcpy (dw->bias, bias, shape->c * sizeof (float));
  return dw;
}

void
onednn_dw_free (OnednnDw *dw)
{
  if (dw == NULL)
    return;
  g_aligned_free (dw->weights);
  g_aligned_free (dw->bias);
  g_free (dw);
}

#ifdef DW_SIMD

/* Outputs [x, x + U) of a row from @KH input rows, whose windows lie
 * inside them (column j of row r at rows[r] + j * 16; the windows start
 * @PL columns left of the output): U independent accumulators. Inlined
 * with constant U, KH, KW, SW, PL, fully unrolled. */
__attribute__ ((target ("avx512f"), always_inline)) static inline void
dw_block (float *restrict y, const float *const *rows, const float *restrict w, __m512 bias,
          gint64 x, int U, int KH, int KW, int SW, int PL, const OnednnVecAct *act)
{
  __m512 a[UNROLL];
#pragma GCC unroll 8
  for (int u = 0; u < U; u++)
    a[u] = bias;
  if (__builtin_constant_p (KW) && __builtin_constant_p (SW)) {
    /* each input vector of a row loaded once into a register for all the
     * outputs that read it: the loads, not the FMAs, bound this kernel
     * (about one 512-bit load a cycle here), and the compiler otherwise
     * folds a load into every FMA (KW loads of each vector) */
#pragma GCC unroll 7
    for (int r = 0; r < KH; r++) {
      const float *rp = rows[r] + (x * SW - PL) * BLK;
      __m512 in[(UNROLL - 1) * 2 + ONEDNN_DW_MAX_K];
#pragma GCC unroll 21
      for (int j = 0; j < (U - 1) * SW + KW; j++) {
        in[j] = _mm512_load_ps (rp + j * BLK);
        __asm__("" : "+v"(in[j])); /* kept in a register, not refolded */
      }
#pragma GCC unroll 7
      for (int k = 0; k < KW; k++) {
        __m512 wv = _mm512_load_ps (w + (r * KW + k) * BLK);
#pragma GCC unroll 8
        for (int u = 0; u < U; u++)
          a[u] = _mm512_fmadd_ps (in[u * SW + k], wv, a[u]);
      }
    }
  } else
#pragma GCC unroll 7
    for (int r = 0; r < KH; r++) {
      const float *rp = rows[r] + (x * SW - PL) * BLK;
#pragma GCC unroll 7
      for (int k = 0; k < KW; k++) {
        __m512 wv = _mm512_load_ps (w + (r * KW + k) * BLK);
#pragma GCC unroll 8
        for (int u = 0; u < U; u++)
          a[u] = _mm512_fmadd_ps (_mm512_load_ps (rp + (u * SW + k) * BLK), wv, a[u]);
      }
    }
#pragma GCC unroll 8
  for (int u = 0; u < U; u++)
    _mm512_storeu_ps (y + (x + u) * BLK, onednn_act_ps (act, a[u]));
}

/* Output @x of a row whose window hangs over its left or right end
 * (columns outside [0, @iw) are zero). */
__attribute__ ((target ("avx512f"), always_inline)) static inline void
dw_edge (float *restrict y, const float *const *rows, const float *restrict w, __m512 bias,
         gint64 x, gint64 iw, int KH, int KW, int SW, int PL, const OnednnVecAct *act)
{
  __m512 a = bias;
#pragma GCC unroll 7
  for (int r = 0; r < KH; r++)
#pragma GCC unroll 7
    for (int k = 0; k < KW; k++) {
      gint64 j = x * SW - PL + k;
      if (j >= 0 && j < iw)
        a = _mm512_fmadd_ps (_mm512_load_ps (rows[r] + j * BLK),
                             _mm512_load_ps (w + (r * KW + k) * BLK), a);
    }
  _mm512_storeu_ps (y + x * BLK, onednn_act_ps (act, a));
}

/* Outputs [0, @ow) of a row: those whose windows lie inside [0, @iw)
 * (@x_lo to @x_hi) in blocks of 8 and one of the rest, the others at the
 * borders one by one. */
__attribute__ ((target ("avx512f"), always_inline)) static inline void
dw_row (float *restrict y, const float *const *rows, const float *restrict w, __m512 bias,
        gint64 ow, gint64 iw, gint64 x_lo, gint64 x_hi, int KH, int KW, int SW, int PL,
        const OnednnVecAct *act)
{
  for (gint64 x = 0; x < x_lo; x++)
    dw_edge (y, rows, w, bias, x, iw, KH, KW, SW, PL, act);
  gint64 x = x_lo;
  for (; x + UNROLL <= x_hi; x += UNROLL)
    dw_block (y, rows, w, bias, x, UNROLL, KH, KW, SW, PL, act);
  switch (x_hi - x) {
  case 7:
    dw_block (y, rows, w, bias, x, 7, KH, KW, SW, PL, act);
    break;
  case 6:
    dw_block (y, rows, w, bias, x, 6, KH, KW, SW, PL, act);
    break;
  case 5:
    dw_block (y, rows, w, bias, x, 5, KH, KW, SW, PL, act);
    break;
  case 4:
    dw_block (y, rows, w, bias, x, 4, KH, KW, SW, PL, act);
    break;
  case 3:
    dw_block (y, rows, w, bias, x, 3, KH, KW, SW, PL, act);
    break;
  case 2:
    dw_block (y, rows, w, bias, x, 2, KH, KW, SW, PL, act);
    break;
  case 1:
    dw_block (y, rows, w, bias, x, 1, KH, KW, SW, PL, act);
    break;
  default:
    break;
  }
  for (x = x_hi; x < ow; x++)
    dw_edge (y, rows, w, bias, x, iw, KH, KW, SW, PL, act);
}

/* A row of @s's outputs, from padded input rows (@padded: column j at
 * rows[r] + j * 16 for 0 <= j < pw, the padding included) or from the
 * input rows themselves (0 <= j < iw; the windows' overhang is zero). */
__attribute__ ((target ("avx512f"))) static void
dw_row_any (float *y, const float *const *rows, const float *w, __m512 bias, const OnednnDwShape *s,
            gboolean padded, const OnednnVecAct *act)
{
  int pl = padded ? 0 : s->pl;
  gint64 iw = padded ? (s->ow - 1) * s->sw + s->kw : s->iw;
  /* the outputs whose windows start at column 0 or later and end before iw */
  gint64 x_lo = MIN (s->ow, (pl + s->sw - 1) / s->sw);
  gint64 x_hi = iw + pl >= s->kw ? MIN (s->ow, (iw + pl - s->kw) / s->sw + 1) : 0;
  x_hi = MAX (x_hi, x_lo);
#define DW_CASE(K, S, P)                                                                           \
  if (s->kh == K && s->kw == K && s->sw == S && pl == P) {                                         \
    dw_row (y, rows, w, bias, s->ow, iw, x_lo, x_hi, K, K, S, P, act);                             \
    return;                                                                                        \
  }
  DW_CASE (3, 1, 0)
  DW_CASE (3, 1, 1)
  DW_CASE (3, 2, 0)
  DW_CASE (3, 2, 1)
  DW_CASE (5, 1, 0)
  DW_CASE (5, 1, 2)
  DW_CASE (5, 2, 0)
  DW_CASE (5, 2, 2)
#undef DW_CASE
  dw_row (y, rows, w, bias, s->ow, iw, x_lo, x_hi, s->kh, s->kw, s->sw, pl, act);
}

/* Input row @src (iw vectors) into padded row @row (pw vectors): zeros
 * left of pl and right of the input, swish applied when @pre_swish. */
__attribute__ ((target ("avx512f"))) static void
fill_row (float *restrict row, const float *restrict src, const OnednnDwShape *s, gint64 pw)
{
  gint64 end = MIN (s->pl + s->iw, pw);
  for (gint64 j = 0; j < MIN (s->pl, pw); j++)
    _mm512_store_ps (row + j * BLK, _mm512_setzero_ps ());
  if (s->pre_swish)
    for (gint64 j = s->pl; j < end; j++)
      _mm512_store_ps (row + j * BLK, onednn_swish_ps (_mm512_loadu_ps (src + (j - s->pl) * BLK)));
  else
    for (gint64 j = s->pl; j < end; j++)
      _mm512_store_ps (row + j * BLK, _mm512_loadu_ps (src + (j - s->pl) * BLK));
  for (gint64 j = MAX (end, s->pl); j < pw; j++)
    _mm512_store_ps (row + j * BLK, _mm512_setzero_ps ());
}

/* Where input row @ih of channel block @c is, if in @src. */
static inline const float *
src_row (const OnednnDwRows *src, gint64 c, gint64 ih, gint64 iw)
{
  for (guint k = 0; k < src->n_segments; k++) {
    const OnednnDwSegment *sg = &src->segments[k];
    if (ih >= sg->row0 && ih < sg->row0 + sg->n_rows)
      return sg->data + c * sg->block_stride + (ih - sg->row0) * iw * BLK;
  }
  return NULL;
}

/* Output rows [oh0, oh1) of channel block @c into @y (row oh0). @ring: kh
 * padded rows, then one row of zeros. */
__attribute__ ((target ("avx512f"))) static void
dw_band (const OnednnDw *dw, const OnednnDwRows *src, gint64 c, float *y, gint64 oh0, gint64 oh1,
         float *ring, const OnednnVecAct *act)
{
  const OnednnDwShape *s = &dw->shape;
  gint64 taps = (gint64)s->kh * s->kw;
  const float *w = dw->weights + c * taps * BLK;
  gint64 pw = (s->ow - 1) * s->sw + s->kw;
  float *zero = ring + (gsize)s->kh * pw * BLK;
  gint64 in_slot[ONEDNN_DW_MAX_K];
  for (int r = 0; r < s->kh; r++)
    in_slot[r] = G_MININT64;
  __m512 b = _mm512_load_ps (dw->bias + c * BLK);
  if (!s->pre_swish) {
    /* the input rows read in place, no copies (copying each row into the
     * ring took a fifth to a quarter of the kernel's time); a row of
     * padding is the ring's row of zeros */
    for (gint64 oh = oh0; oh < oh1; oh++) {
      const float *rows[ONEDNN_DW_MAX_K];
      for (int r = 0; r < s->kh; r++) {
        gint64 ih = oh * s->sh - s->pt + r;
        const float *in = ih < 0 || ih >= s->ih ? NULL : src_row (src, c, ih, s->iw);
        rows[r] = in ? in : zero;
      }
      dw_row_any (y + (oh - oh0) * s->ow * BLK, rows, w, b, s, FALSE, act);
    }
    return;
  }
  for (gint64 oh = oh0; oh < oh1; oh++) {
    const float *rows[ONEDNN_DW_MAX_K];
    for (int r = 0; r < s->kh; r++) {
      gint64 ih = oh * s->sh - s->pt + r;
      const float *in = ih < 0 || ih >= s->ih ? NULL : src_row (src, c, ih, s->iw);
      if (in == NULL) {
        rows[r] = zero;
        continue;
      }
      int slot = (int)(ih % s->kh);
      float *row = ring + (gsize)slot * pw * BLK;
      if (in_slot[slot] != ih) {
        fill_row (row, in, s, pw);
        in_slot[slot] = ih;
      }
      rows[r] = row;
    }
    dw_row_any (y + (oh - oh0) * s->ow * BLK, rows, w, b, s, TRUE, act);
  }
}

static gsize
ring_floats (const OnednnDwShape *s)
{
  return (gsize)(s->kh + 1) * ((s->ow - 1) * s->sw + s->kw) * BLK;
}

__attribute__ ((target ("avx512f"))) static void
dw_run (const OnednnDw *dw, const float *x, float *y, float *scratch, gsize stride)
{
  const OnednnDwShape *s = &dw->shape;
  gint64 cb = s->c / BLK, units = s->n * cb;
  gint nt = omp_get_max_threads ();
  /* enough bands for every thread to get several: rows of one block are
   * the unit of work when there are few blocks */
  gint64 bands = 1;
  if (nt > 1 && units < 4 * nt)
    bands = MIN (s->oh, (4 * nt + units - 1) / units);
  gint64 tasks = units * bands;
  OnednnVecAct act = { s->act, _mm512_set1_ps (s->alpha), _mm512_set1_ps (s->beta) };
  gint64 in_image = s->c * s->ih * s->iw, out_image = s->c * s->oh * s->ow;
#pragma omp parallel if (tasks > 1 && nt > 1)
  {
    float *ring = scratch + omp_get_thread_num () * stride;
    onednn_dw_prepare_scratch (dw, ring);
#pragma omp for schedule(static)
    for (gint64 t = 0; t < tasks; t++) {
      gint64 unit = t / bands, band = t % bands, n = unit / cb, c = unit % cb;
      gint64 oh0 = band * s->oh / bands, oh1 = (band + 1) * s->oh / bands;
      OnednnDwRows src = { 1, { { x + n * in_image, 0, s->ih, s->ih * s->iw * BLK } } };
      dw_band (dw, &src, c, y + n * out_image + (c * s->oh + oh0) * s->ow * BLK, oh0, oh1, ring,
               &act);
    }
  }
}

__attribute__ ((target ("avx512f"))) static void
dw_rows (const OnednnDw *dw, const OnednnDwRows *src, gint64 oh0, gint64 oh1, float *y,
         gint64 y_stride, float *ring)
{
  const OnednnDwShape *s = &dw->shape;
  OnednnVecAct act = { s->act, _mm512_set1_ps (s->alpha), _mm512_set1_ps (s->beta) };
  for (gint64 c = 0; c < s->c / BLK; c++)
    dw_band (dw, src, c, y + c * y_stride, oh0, oh1, ring, &act);
}

#endif

void
onednn_dw_prepare_scratch (const OnednnDw *dw, float *scratch)
{
#ifdef DW_SIMD
  /* the ring's rows are filled before they are read; the row of zeros
   * after them stands for the padding */
  const OnednnDwShape *s = &dw->shape;
  gsize row = (gsize)((s->ow - 1) * s->sw + s->kw) * BLK;
  memset (scratch + (gsize)s->kh * row, 0, row * sizeof (float));
#else
  (void)dw;
  (void)scratch;
#endif
}

gsize
onednn_dw_scratch_floats (const OnednnDw *dw)
{
#ifdef DW_SIMD
  return ring_floats (&dw->shape);
#else
  (void)dw;
  return 0;
#endif
}

void
onednn_dw_rows (const OnednnDw *dw, const OnednnDwRows *src, gint64 oh0, gint64 oh1, float *y,
                gint64 y_stride, float *scratch)
{
#ifdef DW_SIMD
  if (oh1 > oh0)
    dw_rows (dw, src, oh0, oh1, y, y_stride, scratch);
#else
  (void)dw;
  (void)src;
  (void)oh0;
  (void)oh1;
  (void)y;
  (void)y_stride;
  (void)scratch;
  g_assert_not_reached (); /* onednn_have_avx512() is FALSE */
#endif
}

void
onednn_dw_run (const OnednnDw *dw, const float *x, float *y, float *scratch, gsize stride)
{
#ifdef DW_SIMD
  dw_run (dw, x, y, scratch, stride);
#else
  (void)dw;
  (void)x;
  (void)y;
  (void)scratch;
  (void)stride;
  g_assert_not_reached (); /* onednn_have_avx512() is FALSE */
#endif
}
