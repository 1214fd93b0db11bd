/* onednn-conv.c: the oneDNN region's own direct convolution, for the
 * shapes oneDNN 2.6's direct kernels handle worst: strided convolutions
 * (ResNet-50's three stride-2 3x3 layers ran at 124-177 GFLOP/s) and 3x3
 * ones on small maps where Winograd does not pay (SqueezeNet's 13x13).
 *
 * Input and output in the blocked nChw16c layout, whole 16-channel blocks,
 * output channels in groups of two blocks. A tile is 14 output pixels (14
 * of a row, or 7 of two rows on a 7-wide map) times the group's 32
 * channels: 28 accumulators. Per input channel and kernel tap the tile's
 * two weight vectors are loaded once and each pixel's input value is
 * broadcast from memory. The weights are packed in the order the tile
 * reads them ([group][IC/16][kh][kw][16][32]), so a group's slice (590 KB for
 * 512 channels 3x3) streams once per tile from L2. Padding: the input is
 * copied into a buffer with zero borders (written once; the interior each
 * run), so every tap is in range. Bias, a residual (the output's previous
 * content, OnednnConvShape.residual) and the activation are applied in
 * registers before the store.
 *
 * A plain input of fewer than 16 channels (a network's first convolution
 * on an image: ResNet-50's 3 -> 64 7x7 stride-2 layer ran at 88 GFLOP/s
 * on oneDNN's kernel at one thread) is read as it is: a "block" is then
 * one channel, and a pixel's next neighbour is the next float.
 *
 * Which of oneDNN's direct kernel and this one runs is timed per shape (see
 * choose_own_conv in onednn-kernel.c), or set with ep.onednn.direct-conv.
 */
#include "onednn-private.h"

#include <omp.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include "onednn-avx512.h"
#define CONV_SIMD 1
#endif

#define BLK   16
#define NB    2  /* output blocks per group */
#define TILE  14 /* pixels per tile */
#define TILE2 7  /* pixels per row of a two-row tile */

struct _OnednnConv
{
  OnednnConvShape s;
  gint64 hp, wp;  /* the padded input's rows and columns */
  float *weights; /* [OC/32][IC/16][kh][kw][16][32] */
  float *bias;    /* [OC] */
  float *xpad;    /* [IC/16][hp][wp][16] (plain: [IC][hp][wp]), zero borders; NULL: read the
                     input in place */
  gint64 cb, px;  /* channels per block, floats between neighbouring pixels: 16 or 1 (plain) */
};

gboolean
onednn_conv_supports (const OnednnConvShape *s)
{
  return onednn_have_avx512 () && s->n >= 1
         && (s->plain ? s->ic >= 1 && s->ic < BLK : s->ic >= BLK && s->ic % BLK == 0)
         && s->oc % (NB * BLK) == 0 && s->kh >= 1 && s->kw >= 1 && s->kh <= 11 && s->kw <= 11
         && s->sh >= 1 && s->sw >= 1 && s->sh <= 4 && s->sw <= 4 && s->pt >= 0 && s->pl >= 0
         && s->pt < s->kh && s->pl < s->kw && s->oh >= 1 && s->ow >= 1
         && (s->oh - 1) * s->sh + s->kh - s->pt <= s->ih + s->kh
         && (s->ow - 1) * s->sw + s->kw - s->pl <= s->iw + s->kw;
}

OnednnConv *
onednn_conv_new (const OnednnConvShape *s, const float *weights, const float *bias)
{
  g_return_val_if_fail (onednn_conv_supports (s), NULL);
  OnednnConv *c = g_new0 (OnednnConv, 1);
  c->s = *s;
  c->cb = s->plain ? 1 : BLK;
  c->px = s->plain ? 1 : BLK;
  c->hp = (s->oh - 1) * s->sh + s->kh;
  c->wp = (s->ow - 1) * s->sw + s->kw;
  /* the taps stay inside the input without padding: read it in place */
  if (s->pt == 0 && s->pl == 0 && c->hp <= s->ih && c->wp <= s->iw) {
    c->hp = s->ih;
    c->wp = s->iw;
  } else
    c->xpad = g_aligned_alloc0 ((gsize)(s->ic * c->hp * c->wp), sizeof (float), 64);
  gint64 taps = (gint64)s->kh * s->kw;
  c->weights = onednn_weights_alloc ((gsize)(s->oc * s->ic * taps) * sizeof (float));
  float *p = c->weights;
  for (gint64 g = 0; g < s->oc / (NB * BLK); g++)
    for (gint64 cb = 0; cb < s->ic / c->cb; cb++)
      for (gint64 t = 0; t < taps; t++)
        for (gint64 j = 0; j < c->cb; j++)
          for (gint64 o = 0; o < NB * BLK; o++)
            *p++ = weights[((g * NB * BLK + o) * s->ic + cb * c->cb + j) * taps + t];
  c->bias = g_aligned_alloc0 ((gsize)s->oc, sizeof (float), 64);
  if (bias)
    memcpy (c->bias, bias, (gsize)s->oc * sizeof (float));
  return c;
}

void
onednn_conv_free (OnednnConv *c)
{
  if (c == NULL)
    return;
  onednn_weights_free (c->weights, (gsize)(c->s.oc * c->s.ic * c->s.kh * c->s.kw) * sizeof (float));
  g_aligned_free (c->bias);
  g_aligned_free (c->xpad);
  g_free (c);
}

const OnednnConvShape *
onednn_conv_shape (const OnednnConv *c)
{
  return &c->s;
}

const float *
onednn_conv_weights (const OnednnConv *c, gsize *bytes)
{
  *bytes = (gsize)(c->s.oc * c->s.ic * c->s.kh * c->s.kw) * sizeof (float);
  return c->weights;
}

#ifdef CONV_SIMD

#define CONV_TARGET __attribute__ ((target ("avx512f,avx2,fma")))

/* R rows of P pixels (R * P <= 14) of output channel group @w (packed),
 * stride S (0: the shape's own, at run time), from the (padded) input at
 * @x, which is the tile's first pixel's top-left tap in the first channel
 * block (PLAIN: a plain input); written to @y, the first pixel in the
 * group's first block. */
static inline __attribute__ ((always_inline)) CONV_TARGET void
conv_tile (const OnednnConv *c, const int R, const int P, const int S, const int PLAIN,
           const float *x, const float *w, const float *bias, float *y, const OnednnVecAct *act)
{
  const OnednnConvShape *s = &c->s;
  const gint64 sw = S ? S : s->sw;
  const int CB = PLAIN ? 1 : BLK, PX = PLAIN ? 1 : BLK;
  const gint64 row = s->sh * c->wp * PX; /* floats between the tile's rows */
  const gint64 block = c->hp * c->wp * PX;
  __m512 acc[TILE * NB];
  __m512 b0 = _mm512_load_ps (bias), b1 = _mm512_load_ps (bias + BLK);
#pragma GCC unroll 14
  for (int q = 0; q < R * P; q++) {
    acc[q * NB] = b0;
    acc[q * NB + 1] = b1;
  }
  for (gint64 cb = 0; cb < s->ic / CB; cb++)
    for (int kh = 0; kh < s->kh; kh++)
      for (int kw = 0; kw < s->kw; kw++) {
        const float *xp = x + cb * block + ((gint64)kh * c->wp + kw) * PX;
        for (int j = 0; j < CB; j++) {
          __m512 w0 = _mm512_load_ps (w), w1 = _mm512_load_ps (w + BLK);
          w += NB * BLK;
#pragma GCC unroll 14
          for (int q = 0; q < R * P; q++) {
            int r = q / P, p = q % P;
            __m512 v = _mm512_set1_ps (xp[r * row + p * sw * PX + j]);
            acc[q * NB] = _mm512_fmadd_ps (v, w0, acc[q * NB]);
            acc[q * NB + 1] = _mm512_fmadd_ps (v, w1, acc[q * NB + 1]);
          }
        }
      }
  const gint64 yblock = s->oh * s->ow * BLK;
#pragma GCC unroll 14
  for (int q = 0; q < R * P; q++) {
    int r = q / P, p = q % P;
    float *yq = y + (r * s->ow + p) * BLK;
    if (s->residual) {
      acc[q * NB] = _mm512_add_ps (acc[q * NB], _mm512_load_ps (yq));
      acc[q * NB + 1] = _mm512_add_ps (acc[q * NB + 1], _mm512_load_ps (yq + yblock));
    }
    _mm512_store_ps (yq, onednn_act_ps (act, acc[q * NB]));
    _mm512_store_ps (yq + yblock, onednn_act_ps (act, acc[q * NB + 1]));
  }
}

#define CONV_CASE(R, P)                                                                            \
  case (R)*16 + (P):                                                                               \
    if (plain && sw == 2)                                                                          \
      conv_tile (c, R, P, 2, 1, x, w, bias, y, act);                                               \
    else if (plain)                                                                                \
      conv_tile (c, R, P, 0, 1, x, w, bias, y, act);                                               \
    else if (sw == 1)                                                                              \
      conv_tile (c, R, P, 1, 0, x, w, bias, y, act);                                               \
    else if (sw == 2)                                                                              \
      conv_tile (c, R, P, 2, 0, x, w, bias, y, act);                                               \
    else                                                                                           \
      conv_tile (c, R, P, 0, 0, x, w, bias, y, act);                                               \
    break;

static CONV_TARGET void
conv_tile_any (const OnednnConv *c, int rows, int p, const float *x, const float *w,
               const float *bias, float *y, const OnednnVecAct *act)
{
  gint64 sw = c->s.sw;
  gboolean plain = c->s.plain;
  switch (rows * 16 + p) {
    CONV_CASE (1, 1)
    CONV_CASE (1, 2)
    CONV_CASE (1, 3)
    CONV_CASE (1, 4)
    CONV_CASE (1, 5)
    CONV_CASE (1, 6)
    CONV_CASE (1, 7)
    CONV_CASE (1, 8)
    CONV_CASE (1, 9)
    CONV_CASE (1, 10)
    CONV_CASE (1, 11)
    CONV_CASE (1, 12)
    CONV_CASE (1, 13)
    CONV_CASE (1, 14)
    CONV_CASE (2, 1)
    CONV_CASE (2, 2)
    CONV_CASE (2, 3)
    CONV_CASE (2, 4)
    CONV_CASE (2, 5)
    CONV_CASE (2, 6)
    CONV_CASE (2, 7)
  default:
    g_assert_not_reached ();
  }
}

/* Output rows [oh, oh + rows) of group @g of one image. */
static CONV_TARGET void
conv_rows (const OnednnConv *c, const float *x, float *y, gint64 g, gint64 oh, int rows,
           const OnednnVecAct *act)
{
  const OnednnConvShape *s = &c->s;
  gint64 per_row = rows == 2 ? TILE2 : TILE;
  const float *w = c->weights + g * NB * BLK * s->ic * s->kh * s->kw;
  const float *bias = c->bias + g * NB * BLK;
  float *yg = y + g * NB * s->oh * s->ow * BLK;
  for (gint64 ow = 0; ow < s->ow; ow += per_row) {
    int p = (int)MIN (per_row, s->ow - ow);
    conv_tile_any (c, rows, p, x + (oh * s->sh * c->wp + ow * s->sw) * c->px, w, bias,
                   yg + (oh * s->ow + ow) * BLK, act);
  }
}

static void
conv_image (const OnednnConv *c, const float *x, float *y, const OnednnVecAct *act)
{
  const OnednnConvShape *s = &c->s;
  gint64 cbs = s->ic / c->cb, px = c->px;
  if (c->xpad) {
    /* the interior of the padded buffer; its borders stay zero */
#pragma omp parallel for schedule(static) if (cbs * s->ih > 64 && omp_get_max_threads() > 1)
    for (gint64 k = 0; k < cbs * s->ih; k++) {
      gint64 cb = k / s->ih, h = k % s->ih;
      if (h + s->pt >= c->hp)
        continue;
      gint64 cols = MIN (s->iw, c->wp - s->pl);
      memcpy (c->xpad + ((cb * c->hp + h + s->pt) * c->wp + s->pl) * px,
              x + (cb * s->ih + h) * s->iw * px, (gsize)cols * px * sizeof (float));
    }
    x = c->xpad;
  }
  /* two-row tiles where a row holds at most 7 pixels */
  int rows = s->ow <= TILE2 ? 2 : 1;
  gint64 row_tiles = (s->oh + rows - 1) / rows, groups = s->oc / (NB * BLK);
  /* row-major (a thread takes consecutive rows of every group) reads the
   * input once and cycles through the weights, which must stay in L2 (1
   * MB here); group-major (consecutive groups' rows) streams the weights
   * once and cycles through the input. On several threads row-major has
   * each read all the weights and a share of the input, group-major the
   * other way round: the smaller of the two is the one to share. */
  gint64 wbytes = s->oc * s->ic * s->kh * s->kw * (gint64)sizeof (float);
  gint64 xbytes = cbs * c->hp * c->wp * px * (gint64)sizeof (float);
  gboolean by_rows = wbytes <= (1 << 20) && (omp_get_max_threads () == 1 || wbytes < xbytes);
#pragma omp parallel for schedule(static) if (groups * row_tiles > 1 && omp_get_max_threads() > 1)
  for (gint64 u = 0; u < groups * row_tiles; u++) {
    gint64 g = by_rows ? u % groups : u / row_tiles;
    gint64 oh = (by_rows ? u / groups : u % row_tiles) * rows;
    conv_rows (c, x, y, g, oh, (int)MIN (rows, s->oh - oh), act);
  }
}

CONV_TARGET void
onednn_conv_run (OnednnConv *c, const float *x, float *y)
{
  const OnednnConvShape *s = &c->s;
  OnednnVecAct act = { s->act, _mm512_set1_ps (s->alpha), _mm512_set1_ps (s->beta) };
  for (gint64 n = 0; n < s->n; n++)
    conv_image (c, x + n * s->ic * s->ih * s->iw, y + n * s->oc * s->oh * s->ow, &act);
}

#else

void
onednn_conv_run (OnednnConv *c, const float *x, float *y)
{
  (void)c;
  (void)x;
  (void)y;
  g_assert_not_reached (); /* onednn_conv_supports() is FALSE */
}

#endif
