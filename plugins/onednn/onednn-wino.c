/* onednn-wino.c: the oneDNN region's own Winograd convolution F(2x2, 3x3),
 * for 3x3 stride-1 convolutions of one-pixel padding on blocked data.
 *
 * oneDNN 2.6's Winograd kernels lose much of their speed inside a network:
 * ResNet-50's 256-channel 14x14 layers ran in 552 us alone at one thread
 * and in 803 inside the model, the 128-channel 28x28 ones in 422 and 627
 * (DNNL_VERBOSE), where their transformed weights (4.2 and 2.4 MB) come
 * from memory instead of the caches. This kernel reads each transformed
 * weight once per run, in the order it stores them, and shares them between
 * threads by output channels instead of splitting the transforms.
 *
 * A run: (1) the input transform V = B^T d B of every 4x4 input patch (2x2
 * output tile) and 16-channel block into 16 "images" of T tiles, blocked
 * like the input ([16][IC/16][T][16]); (2) per group of 32 output channels
 * and chunk of tiles, for each of the 16 transform points a product of the
 * chunk's V (T x IC) and that point's transformed weights (IC x 32), in
 * register tiles of up to 14 tiles x 32 channels (28 accumulators, as the
 * direct kernel in onednn-conv.c), into a thread's scratch; then the output
 * transform Y = A^T M A of the chunk, the bias, a residual (the output's
 * previous content) and the activation, stored blocked. F(2x2, 3x3) does 16 products per 2x2 outputs instead of 36 (the
 * direct algorithm); its transforms add rounding of about 1e-6 relative.
 *
 * Chosen against oneDNN's kernels by timing per shape (choose_own_wino in
 * onednn-kernel.c), or set with ep.onednn.conv-algorithm=glia-winograd.
 */
#include "onednn-private.h"

#include <omp.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include "onednn-avx512.h"
#define WINO_SIMD 1
#endif

#define BLK   16
#define NB    2  /* output blocks per group */
#define GRP   32 /* output channels per group */
#define PTS   16 /* transform points (4x4) */
#define MICRO 14 /* tiles per register tile */
#define CHUNK 64 /* tiles per chunk at most (the scratch of a thread) */

struct _OnednnWino
{
  OnednnConvShape s;
  gint64 th, tw, t; /* tile rows, columns, count */
  float *u;         /* transformed weights [OC/32][16][IC][32] */
  float *bias;      /* [OC] */
  float *v;         /* transformed input [16][IC/16][T][16] */
  float *m;         /* per thread [16][CHUNK][32] */
  int n_scratch;    /* threads the scratch has room for */
};

gboolean
onednn_wino_supports (const OnednnConvShape *s)
{
  return onednn_have_avx512 () && s->n >= 1 && s->ic >= BLK && s->ic % BLK == 0 && s->oc % GRP == 0
         && s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1 && s->pt == 1 && s->pl == 1
         && s->oh == s->ih && s->ow == s->iw && s->oh >= 1 && s->ow >= 1;
}

OnednnWino *
onednn_wino_new (const OnednnConvShape *s, const float *weights, const float *bias)
{
  g_return_val_if_fail (onednn_wino_supports (s), NULL);
  OnednnWino *w = g_new0 (OnednnWino, 1);
  w->s = *s;
  w->th = (s->oh + 1) / 2;
  w->tw = (s->ow + 1) / 2;
  w->t = w->th * w->tw;
  /* U = G g G^T, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], in double */
  static const double G[4][3] = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
  w->u = onednn_weights_alloc ((gsize)(PTS * s->ic * s->oc) * sizeof (float));
  for (gint64 o = 0; o < s->oc; o++)
    for (gint64 c = 0; c < s->ic; c++) {
      const float *g = weights + (o * s->ic + c) * 9;
      double t[4][3], u[4][4];
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
          t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
          u[i][j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
      for (int p = 0; p < PTS; p++)
        w->u[(((o / GRP) * PTS + p) * s->ic + c) * GRP + o % GRP] = (float)u[p / 4][p % 4];
    }
  w->bias = g_aligned_alloc0 ((gsize)s->oc, sizeof (float), 64);
  if (bias)
    memcpy (w->bias, bias, (gsize)s->oc * sizeof (float));
  w->v = g_aligned_alloc ((gsize)(PTS * s->ic * w->t), sizeof (float), 64);
  w->n_scratch = MAX (omp_get_max_threads (), (int)g_get_num_processors ());
  w->m = g_aligned_alloc ((gsize)w->n_scratch * PTS * CHUNK * GRP, sizeof (float), 64);
  return w;
}

void
onednn_wino_free (OnednnWino *w)
{
  if (w == NULL)
    return;
  onednn_weights_free (w->u, (gsize)(PTS * w->s.ic * w->s.oc) * sizeof (float));
  g_aligned_free (w->bias);
  g_aligned_free (w->v);
  g_aligned_free (w->m);
  g_free (w);
}

const OnednnConvShape *
onednn_wino_shape (const OnednnWino *w)
{
  return &w->s;
}

const float *
onednn_wino_weights (const OnednnWino *w, gsize *bytes)
{
  *bytes = (gsize)(PTS * w->s.ic * w->s.oc) * sizeof (float);
  return w->u;
}

#ifdef WINO_SIMD

#define WINO_TARGET __attribute__ ((target ("avx512f,avx2,fma")))

/* V = B^T d B of the 4x4 patch of tile (th, tw) in channel block @cb of
 * @x, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; rows and columns
 * outside the input are zero (the padding). */
static WINO_TARGET void
wino_input_tile (const OnednnWino *w, const float *x, gint64 cb, gint64 th, gint64 tw)
{
  const OnednnConvShape *s = &w->s;
  __m512 d[4][4], t[4][4];
  for (int i = 0; i < 4; i++) {
    gint64 r = 2 * th - 1 + i;
    for (int j = 0; j < 4; j++) {
      gint64 c = 2 * tw - 1 + j;
      d[i][j] = r >= 0 && r < s->ih && c >= 0 && c < s->iw
                    ? _mm512_load_ps (x + ((cb * s->ih + r) * s->iw + c) * BLK)
                    : _mm512_setzero_ps ();
    }
  }
  for (int j = 0; j < 4; j++) {
    t[0][j] = _mm512_sub_ps (d[0][j], d[2][j]);
    t[1][j] = _mm512_add_ps (d[1][j], d[2][j]);
    t[2][j] = _mm512_sub_ps (d[2][j], d[1][j]);
    t[3][j] = _mm512_sub_ps (d[1][j], d[3][j]);
  }
  gint64 cbs = s->ic / BLK, tile = th * w->tw + tw;
  for (int i = 0; i < 4; i++) {
    __m512 v[4] = { _mm512_sub_ps (t[i][0], t[i][2]), _mm512_add_ps (t[i][1], t[i][2]),
                    _mm512_sub_ps (t[i][2], t[i][1]), _mm512_sub_ps (t[i][1], t[i][3]) };
    for (int j = 0; j < 4; j++)
      _mm512_store_ps (w->v + (((gint64)(i * 4 + j) * cbs + cb) * w->t + tile) * BLK, v[j]);
  }
}

/* Weights are fetched this many floats ahead when @PF: the first register
 * tile of a point reads them from memory (a layer's transformed weights, 4
 * to 17 MB in ResNet-50, leave the caches between runs), about 400 cycles
 * of latency at 14 cycles a step. */
#define PF_AHEAD (32 * GRP)

/* P tiles of one transform point: @v, the first tile's first channel
 * block; @u, the point's weights of the group ([IC][32]); into @m (32
 * floats per tile). @PF: prefetch the weights ahead (they follow each
 * other in memory: the next point's, then the next group's). */
static inline __attribute__ ((always_inline)) WINO_TARGET void
wino_gemm (const OnednnWino *w, const int P, const int PF, const float *v, const float *u, float *m)
{
  const gint64 block = w->t * BLK;
  __m512 acc[MICRO * NB];
#pragma GCC unroll 14
  for (int q = 0; q < P * NB; q++)
    acc[q] = _mm512_setzero_ps ();
  for (gint64 cb = 0; cb < w->s.ic / BLK; cb++) {
    const float *vp = v + cb * block;
    for (int j = 0; j < BLK; j++) {
      __m512 w0 = _mm512_load_ps (u), w1 = _mm512_load_ps (u + BLK);
      if (PF) {
        _mm_prefetch ((const char *)(u + PF_AHEAD), _MM_HINT_T0);
        _mm_prefetch ((const char *)(u + PF_AHEAD + BLK), _MM_HINT_T0);
      }
      u += GRP;
#pragma GCC unroll 14
      for (int q = 0; q < P; q++) {
        __m512 x = _mm512_set1_ps (vp[q * BLK + j]);
        acc[q * NB] = _mm512_fmadd_ps (x, w0, acc[q * NB]);
        acc[q * NB + 1] = _mm512_fmadd_ps (x, w1, acc[q * NB + 1]);
      }
    }
  }
#pragma GCC unroll 14
  for (int q = 0; q < P; q++) {
    _mm512_store_ps (m + q * GRP, acc[q * NB]);
    _mm512_store_ps (m + q * GRP + BLK, acc[q * NB + 1]);
  }
}

#define GEMM_CASE(P)                                                                               \
  case P:                                                                                          \
    if (pf)                                                                                        \
      wino_gemm (w, P, 1, v, u, m);                                                                \
    else                                                                                           \
      wino_gemm (w, P, 0, v, u, m);                                                                \
    break;

static WINO_TARGET void
wino_gemm_any (const OnednnWino *w, int p, gboolean pf, const float *v, const float *u, float *m)
{
  switch (p) {
    GEMM_CASE (1)
    GEMM_CASE (2)
    GEMM_CASE (3)
    GEMM_CASE (4)
    GEMM_CASE (5)
    GEMM_CASE (6)
    GEMM_CASE (7)
    GEMM_CASE (8)
    GEMM_CASE (9)
    GEMM_CASE (10)
    GEMM_CASE (11)
    GEMM_CASE (12)
    GEMM_CASE (13)
    GEMM_CASE (14)
  default:
    g_assert_not_reached ();
  }
}

/* Tiles [t0, t0 + n) of group @g: the 16 products into @m ([16][CHUNK][32]),
 * then Y = A^T M A (A^T = [1 1 1 0; 0 1 -1 -1]), bias and activation into
 * @y. */
static WINO_TARGET void
wino_chunk (const OnednnWino *w, gint64 g, gint64 t0, gint64 n, float *m, float *y,
            const OnednnVecAct *act)
{
  const OnednnConvShape *s = &w->s;
  gint64 cbs = s->ic / BLK;
  /* register tiles of equal size: 16 tiles as 8 + 8, not 14 + 2 */
  gint64 parts = (n + MICRO - 1) / MICRO;
  for (int p = 0; p < PTS; p++) {
    const float *u = w->u + ((g * PTS + p) * s->ic) * GRP;
    const float *v = w->v + ((gint64)p * cbs * w->t + t0) * BLK;
    for (gint64 k = 0, done = 0; k < parts; k++) {
      gint64 size = (n - done) / (parts - k);
      wino_gemm_any (w, (int)size, k == 0, v + done * BLK, u, m + ((gint64)p * CHUNK + done) * GRP);
      done += size;
    }
  }
  for (gint64 i = 0; i < n; i++) {
    gint64 tile = t0 + i, th = tile / w->tw, tw = tile % w->tw;
    gint64 oy = 2 * th, ox = 2 * tw;
    for (int b = 0; b < NB; b++) {
      __m512 r0[4], r1[4];
      for (int j = 0; j < 4; j++) {
        __m512 m0 = _mm512_load_ps (m + ((gint64)(0 * 4 + j) * CHUNK + i) * GRP + b * BLK);
        __m512 m1 = _mm512_load_ps (m + ((gint64)(1 * 4 + j) * CHUNK + i) * GRP + b * BLK);
        __m512 m2 = _mm512_load_ps (m + ((gint64)(2 * 4 + j) * CHUNK + i) * GRP + b * BLK);
        __m512 m3 = _mm512_load_ps (m + ((gint64)(3 * 4 + j) * CHUNK + i) * GRP + b * BLK);
        r0[j] = _mm512_add_ps (_mm512_add_ps (m0, m1), m2);
        r1[j] = _mm512_sub_ps (_mm512_sub_ps (m1, m2), m3);
      }
      __m512 bias = _mm512_load_ps (w->bias + g * GRP + b * BLK);
      __m512 out[2][2] = {
        { _mm512_add_ps (_mm512_add_ps (_mm512_add_ps (r0[0], r0[1]), r0[2]), bias),
          _mm512_add_ps (_mm512_sub_ps (_mm512_sub_ps (r0[1], r0[2]), r0[3]), bias) },
        { _mm512_add_ps (_mm512_add_ps (_mm512_add_ps (r1[0], r1[1]), r1[2]), bias),
          _mm512_add_ps (_mm512_sub_ps (_mm512_sub_ps (r1[1], r1[2]), r1[3]), bias) },
      };
      float *yb = y + (g * NB + b) * s->oh * s->ow * BLK;
      for (int dy = 0; dy < 2 && oy + dy < s->oh; dy++)
        for (int dx = 0; dx < 2 && ox + dx < s->ow; dx++) {
          float *yp = yb + ((oy + dy) * s->ow + ox + dx) * BLK;
          __m512 v = s->residual ? _mm512_add_ps (out[dy][dx], _mm512_load_ps (yp)) : out[dy][dx];
          _mm512_store_ps (yp, onednn_act_ps (act, v));
        }
    }
  }
}

static WINO_TARGET void
wino_image (OnednnWino *w, const float *x, float *y, const OnednnVecAct *act)
{
  const OnednnConvShape *s = &w->s;
  gint64 cbs = s->ic / BLK, groups = s->oc / GRP, chunks = (w->t + CHUNK - 1) / CHUNK;
  int team = MIN (omp_get_max_threads (), w->n_scratch);
#pragma omp parallel num_threads(team) if (team > 1)
  {
#pragma omp for schedule(static)
    for (gint64 k = 0; k < cbs * w->th; k++)
      for (gint64 tw = 0; tw < w->tw; tw++)
        wino_input_tile (w, x, k / w->th, k % w->th, tw);
    /* (the loop's barrier: every tile transformed) */
    float *m = w->m + (gint64)omp_get_thread_num () * PTS * CHUNK * GRP;
    /* group-major: a thread's groups are consecutive, their weights read
     * once each (by tiles instead, each thread would read all the weights:
     * ResNet-50 at two threads 23.2 -> 25.7 ms) */
#pragma omp for schedule(static)
    for (gint64 k = 0; k < groups * chunks; k++) {
      gint64 c = k % chunks;
      gint64 t0 = w->t * c / chunks, t1 = w->t * (c + 1) / chunks;
      wino_chunk (w, k / chunks, t0, t1 - t0, m, y, act);
    }
  }
}

WINO_TARGET void
onednn_wino_run (OnednnWino *w, const float *x, float *y)
{
  const OnednnConvShape *s = &w->s;
  OnednnVecAct act = { s->act, _mm512_set1_ps (s->alpha), _mm512_set1_ps (s->beta) };
  for (gint64 n = 0; n < s->n; n++)
    wino_image (w, x + n * s->ic * s->ih * s->iw, y + n * s->oc * s->oh * s->ow, &act);
}

#else

void
onednn_wino_run (OnednnWino *w, const float *x, float *y)
{
  (void)w;
  (void)x;
  (void)y;
  g_assert_not_reached (); /* onednn_wino_supports() is FALSE */
}

#endif
