/* onednn-pw.c: the oneDNN region's own pointwise (1x1, stride 1)
 * convolution, for the inverted residual blocks of onednn-mbconv.c.
 *
 * Output in the blocked nChw16c layout: each output pixel's 16-channel
 * vectors are accumulated over the input channels, a tile of pixels times
 * up to 4 output blocks at once (6 x 4, 12 x 2 or 12 x 1 accumulators):
 * per input channel the tile's weight vectors are loaded once and each
 * pixel's input value is broadcast from memory at a fixed offset. A
 * blocked input is read in place (pixels 16 floats apart); other layouts
 * are packed per tile of 12 pixels first. Bias, a residual and the
 * activation are applied in registers before the store.
 *
 * Alone, on tensors that come from memory, this is slower than oneDNN
 * 2.6's jit_1x1 (MobileNetV2 5.6 -> 6.2 ms at one thread, its 1x1
 * convolutions 1.3-1.8x slower than on the same data in cache); on data
 * in cache it runs at 145-198 GFLOP/s on one core here. So it is only
 * used where the data is in cache: on the bands of a fused block.
 */
#include "onednn-private.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include "onednn-avx512.h"
#define PW_SIMD 1
#endif

#define BLK  16
#define TILE 12 /* pixels per tile */

OnednnPw *
onednn_pw_new (gint64 ic, gint64 oc, const float *weights, const float *bias, OnednnDwAct act,
               float alpha, float beta)
{
  g_return_val_if_fail (ic >= 1 && oc >= 1, NULL);
  OnednnPw *pw = g_new0 (OnednnPw, 1);
  gint64 ocb = (oc + BLK - 1) / BLK;
  pw->ic = ic;
  pw->oc = oc;
  pw->act = act;
  pw->alpha = alpha;
  pw->beta = beta;
  pw->weights = g_aligned_alloc0 (ic * ocb * BLK, sizeof (float), 64);
  pw->bias = g_aligned_alloc0 (ocb * BLK, sizeof (float), 64);
  /* [OC, IC] -> groups of up to 4 output blocks: [group][IC][blocks][16];
   * the channels past OC (a padded last block) stay zero */
  for (gint64 b0 = 0; b0 < ocb;) {
    gint64 nb = ocb - b0 >= 4 ? 4 : ocb - b0 >= 2 ? 2 : 1;
    float *g = pw->weights + b0 * ic * BLK;
    for (gint64 k = 0; k < ic; k++)
      for (gint64 b = 0; b < nb; b++)
        for (gint64 j = 0; j < BLK && (b0 + b) * BLK + j < oc; j++)
          g[(k * nb + b) * BLK + j] = weights[((b0 + b) * BLK + j) * ic + k];
    b0 += nb;
  }
  if (bias)
    memcpy (pw->bias, bias, oc * sizeof (float));
  return pw;
}

void
onednn_pw_free (OnednnPw *pw)
{
  if (pw == NULL)
    return;
  g_aligned_free (pw->weights);
  g_aligned_free (pw->bias);
  g_free (pw);
}

#ifdef PW_SIMD

typedef struct
{
  const OnednnPw *pw;
  OnednnVecAct act;
  gint64 y_stride, res_stride; /* floats between output (residual) blocks */
} Ctx;

/* P pixels (input values @PS floats apart, channel k at @koff[k]) times
 * OB output blocks from block @b0 (weights @w), into @y (pixel 0, block
 * b0), adding @res (same). */
__attribute__ ((target ("avx512f"), always_inline)) static inline void
pw_tile (const Ctx *c, const float *restrict x, const gint64 *restrict koff, const float *w,
         gint64 b0, float *y, const float *res, int P, int OB, int PS)
{
  gint64 ic = c->pw->ic;
  __m512 a[TILE][4];
#pragma GCC unroll 4
  for (int b = 0; b < OB; b++) {
    __m512 bias = _mm512_load_ps (c->pw->bias + (b0 + b) * BLK);
#pragma GCC unroll 12
    for (int p = 0; p < P; p++)
      a[p][b] = bias;
  }
  for (gint64 k = 0; k < ic; k++) {
    const float *xk = x + koff[k];
    __m512 wv[4];
#pragma GCC unroll 4
    for (int b = 0; b < OB; b++)
      wv[b] = _mm512_load_ps (w + (k * OB + b) * BLK);
#pragma GCC unroll 12
    for (int p = 0; p < P; p++) {
      __m512 xv = _mm512_set1_ps (xk[p * PS]);
#pragma GCC unroll 4
      for (int b = 0; b < OB; b++)
        a[p][b] = _mm512_fmadd_ps (xv, wv[b], a[p][b]);
    }
  }
#pragma GCC unroll 4
  for (int b = 0; b < OB; b++) {
    float *yb = y + b * c->y_stride;
    const float *rb = res ? res + b * c->res_stride : NULL;
#pragma GCC unroll 12
    for (int p = 0; p < P; p++) {
      __m512 v = a[p][b];
      if (rb)
        v = _mm512_add_ps (v, _mm512_loadu_ps (rb + p * BLK));
      _mm512_storeu_ps (yb + p * BLK, onednn_act_ps (&c->act, v));
    }
  }
}

/* Output blocks [b0, b0 + nb) (nb 4, 2 or 1) for P pixels whose inputs
 * start at @x. */
__attribute__ ((target ("avx512f"), always_inline)) static inline void
pw_group (const Ctx *c, const float *x, const gint64 *koff, gint64 b0, gint64 nb, float *y,
          const float *res, int P, int PS)
{
  const float *w = c->pw->weights + b0 * c->pw->ic * BLK;
  float *yb = y + b0 * c->y_stride;
  const float *rb = res ? res + b0 * c->res_stride : NULL;
  if (nb == 4) {
    /* 6 pixels at a time: 24 accumulators */
    for (int h = 0; h < P; h += 6) {
      if (P - h >= 6)
        pw_tile (c, x + h * PS, koff, w, b0, yb + h * BLK, rb ? rb + h * BLK : NULL, 6, 4, PS);
      else
        for (int p = h; p < P; p++)
          pw_tile (c, x + p * PS, koff, w, b0, yb + p * BLK, rb ? rb + p * BLK : NULL, 1, 4, PS);
    }
  } else if (nb == 2) {
    if (P == TILE)
      pw_tile (c, x, koff, w, b0, yb, rb, TILE, 2, PS);
    else
      for (int p = 0; p < P; p++)
        pw_tile (c, x + p * PS, koff, w, b0, yb + p * BLK, rb ? rb + p * BLK : NULL, 1, 2, PS);
  } else {
    if (P == TILE)
      pw_tile (c, x, koff, w, b0, yb, rb, TILE, 1, PS);
    else
      for (int p = 0; p < P; p++)
        pw_tile (c, x + p * PS, koff, w, b0, yb + p * BLK, rb ? rb + p * BLK : NULL, 1, 1, PS);
  }
}

/* For each group of output blocks (its weights stay in cache), every
 * tile of pixels. A non-blocked input is packed first, tile by tile
 * ([tile][k][12]). */
__attribute__ ((target ("avx512f"))) static void
pw_rows (const OnednnPw *pw, const OnednnPwIn *in, gint64 n_pix, float *y, gint64 y_stride,
         const float *res, gint64 res_stride, float *pack)
{
  Ctx c = {
    pw, { pw->act, _mm512_set1_ps (pw->alpha), _mm512_set1_ps (pw->beta) }, y_stride, res_stride
  };
  gint64 ocb = (pw->oc + BLK - 1) / BLK, ic = pw->ic;
  gboolean blocked = in->pix_stride == BLK;
  const gint64 *pk = blocked ? NULL : (const gint64 *)pack;
  float *packed = blocked ? NULL : pack + (ic * sizeof (gint64) + 63) / 64 * 16;
  for (gint64 pix = 0; !blocked && pix < n_pix; pix += TILE) {
    float *t = packed + pix * ic;
    for (gint64 k = 0; k < ic; k++) {
      const float *src = in->x + in->koff[k] + pix * in->pix_stride;
      for (int p = 0; p < MIN (TILE, n_pix - pix); p++)
        t[k * TILE + p] = src[p * in->pix_stride];
    }
  }
  for (gint64 b0 = 0; b0 < ocb;) {
    gint64 nb = ocb - b0 >= 4 ? 4 : ocb - b0 >= 2 ? 2 : 1;
    for (gint64 pix = 0; pix < n_pix; pix += TILE) {
      int P = (int)MIN (TILE, n_pix - pix);
      float *yp = y + pix * BLK;
      const float *rp = res ? res + pix * BLK : NULL;
      if (blocked) {
        const float *xp = in->x + pix * BLK;
        if (P == TILE)
          pw_group (&c, xp, in->koff, b0, nb, yp, rp, TILE, BLK);
        else
          pw_group (&c, xp, in->koff, b0, nb, yp, rp, P, BLK);
      } else {
        const float *xp = packed + pix * ic;
        if (P == TILE)
          pw_group (&c, xp, pk, b0, nb, yp, rp, TILE, 1);
        else
          pw_group (&c, xp, pk, b0, nb, yp, rp, P, 1);
      }
    }
    b0 += nb;
  }
}

#endif

gsize
onednn_pw_scratch_size (const OnednnPw *pw, gint64 max_pix)
{
  /* the packing offsets (64-byte rounded), then the packed pixels */
  gint64 tiles = (max_pix + TILE - 1) / TILE;
  return (pw->ic * sizeof (gint64) + 63) / 64 * 64 + tiles * TILE * pw->ic * sizeof (float);
}

void
onednn_pw_init_scratch (const OnednnPw *pw, gpointer scratch)
{
  gint64 *pk = scratch;
  for (gint64 k = 0; k < pw->ic; k++)
    pk[k] = k * TILE;
}

void
onednn_pw_rows (const OnednnPw *pw, const OnednnPwIn *in, gint64 n_pix, float *y, gint64 y_stride,
                const float *res, gint64 res_stride, gpointer scratch)
{
#ifdef PW_SIMD
  pw_rows (pw, in, n_pix, y, y_stride, res, res_stride, scratch);
#else
  (void)pw;
  (void)in;
  (void)n_pix;
  (void)y;
  (void)y_stride;
  (void)res;
  (void)res_stride;
  (void)scratch;
  g_assert_not_reached (); /* onednn_have_avx512() is FALSE */
#endif
}
