/* onednn-avx512.h: vector helpers shared by the region's own AVX-512 steps
 * (the swish pass and the squeeze-and-excitation in onednn-kernel.c, the
 * depthwise and pointwise convolutions in onednn-dw.c and onednn-pw.c). Include only where
 * __x86_64__ and GCC-style target attributes are available. */
#pragma once

#include "onednn-private.h"

#include <immintrin.h>

/* exp(-v), -v clamped to [-87, 87]: exp by range reduction
 * (exp(t) = 2^k exp(r), |r| <= ln2/2), a degree-6 polynomial for exp(r) and
 * scalef for 2^k; relative error about 2e-7. */
__attribute__ ((target ("avx512f"), always_inline)) static inline __m512
onednn_exp_neg_ps (__m512 v)
{
  const __m512 lo = _mm512_set1_ps (-87.0f), hi = _mm512_set1_ps (87.0f);
  const __m512 log2e = _mm512_set1_ps (1.44269504f), one = _mm512_set1_ps (1.0f);
  const __m512 ln2_hi = _mm512_set1_ps (0.693359375f), ln2_lo = _mm512_set1_ps (-2.12194440e-4f);
  const __m512 c2 = _mm512_set1_ps (0.5f), c3 = _mm512_set1_ps (1.6666667e-1f);
  const __m512 c4 = _mm512_set1_ps (4.1666668e-2f), c5 = _mm512_set1_ps (8.3333338e-3f);
  const __m512 c6 = _mm512_set1_ps (1.3888889e-3f);
  __m512 t = _mm512_min_ps (_mm512_max_ps (_mm512_sub_ps (_mm512_setzero_ps (), v), lo), hi);
  __m512 k = _mm512_roundscale_ps (_mm512_mul_ps (t, log2e),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps (k, ln2_hi, t);
  r = _mm512_fnmadd_ps (k, ln2_lo, r);
  __m512 p = _mm512_fmadd_ps (c6, r, c5);
  p = _mm512_fmadd_ps (p, r, c4);
  p = _mm512_fmadd_ps (p, r, c3);
  p = _mm512_fmadd_ps (p, r, c2);
  p = _mm512_fmadd_ps (p, r, one);
  p = _mm512_fmadd_ps (p, r, one);
  return _mm512_scalef_ps (p, k);
}

/* x * sigmoid(x) = x / (1 + exp(-x)) */
__attribute__ ((target ("avx512f"), always_inline)) static inline __m512
onednn_swish_ps (__m512 v)
{
  return _mm512_div_ps (v, _mm512_add_ps (_mm512_set1_ps (1.0f), onednn_exp_neg_ps (v)));
}

/* sigmoid(x) = 1 / (1 + exp(-x)) */
__attribute__ ((target ("avx512f"), always_inline)) static inline __m512
onednn_sigmoid_ps (__m512 v)
{
  __m512 one = _mm512_set1_ps (1.0f);
  return _mm512_div_ps (one, _mm512_add_ps (one, onednn_exp_neg_ps (v)));
}

/* An activation the region's own kernels apply in registers. */
typedef struct
{
  OnednnDwAct act;
  __m512 alpha, beta;
} OnednnVecAct;

__attribute__ ((target ("avx512f"), always_inline)) static inline __m512
onednn_act_ps (const OnednnVecAct *a, __m512 v)
{
  switch (a->act) {
  case ONEDNN_DW_RELU:
    return _mm512_mask_mul_ps (v, _mm512_cmp_ps_mask (v, _mm512_setzero_ps (), _CMP_LT_OQ), v,
                               a->alpha);
  case ONEDNN_DW_CLIP:
    return _mm512_min_ps (_mm512_max_ps (v, a->alpha), a->beta);
  case ONEDNN_DW_SWISH:
    return onednn_swish_ps (v);
  case ONEDNN_DW_NONE:
    break;
  }
  return v;
}
