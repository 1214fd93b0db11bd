/* cpu-simd-avx512.c: the kernels of cpu-simd-impl.h on 16-float AVX-512F
 * vectors. Compiled with -mavx512f; only called when cpu-cpuid.h says the CPU
 * and the OS support it. */
#include "cpu-simd.h"

#include <immintrin.h>

typedef __m512 V;
typedef __m512i VI;
typedef __mmask16 VM;
#define VLEN       16
#define SIMD_NAME  avx512
#define SIMD_ISA   CPU_ISA_AVX512
#define SIMD_TABLE cpu_simd_ops_avx512

#define TAIL_MASK(n) ((__mmask16)((1u << (n)) - 1u))

#define v_load(p)       _mm512_loadu_ps (p)
#define v_store(p, v)   _mm512_storeu_ps ((p), (v))
#define v_set1(f)       _mm512_set1_ps (f)
#define v_add(a, b)     _mm512_add_ps ((a), (b))
#define v_sub(a, b)     _mm512_sub_ps ((a), (b))
#define v_mul(a, b)     _mm512_mul_ps ((a), (b))
#define v_div(a, b)     _mm512_div_ps ((a), (b))
#define v_fma(a, b, c)  _mm512_fmadd_ps ((a), (b), (c))
#define v_fnma(a, b, c) _mm512_fnmadd_ps ((a), (b), (c))
#define v_max(a, b)     _mm512_max_ps ((a), (b))
#define v_min(a, b)     _mm512_min_ps ((a), (b))
#define v_sqrt(a)       _mm512_sqrt_ps (a)
#define v_abs(a)                                                                                   \
  _mm512_castsi512_ps (_mm512_and_epi32 (_mm512_castps_si512 (a), _mm512_set1_epi32 (0x7fffffff)))
#define v_neg(a)                                                                                   \
  _mm512_castsi512_ps (                                                                            \
      _mm512_xor_epi32 (_mm512_castps_si512 (a), _mm512_set1_epi32 ((int)0x80000000u)))
#define v_floor(a)     _mm512_roundscale_ps ((a), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
#define v_ceil(a)      _mm512_roundscale_ps ((a), _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)
#define v_round(a)     _mm512_roundscale_ps ((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define v_lt(a, b)     _mm512_cmp_ps_mask ((a), (b), _CMP_LT_OQ)
#define v_le(a, b)     _mm512_cmp_ps_mask ((a), (b), _CMP_LE_OQ)
#define v_gt(a, b)     _mm512_cmp_ps_mask ((a), (b), _CMP_GT_OQ)
#define v_ge(a, b)     _mm512_cmp_ps_mask ((a), (b), _CMP_GE_OQ)
#define v_eq(a, b)     _mm512_cmp_ps_mask ((a), (b), _CMP_EQ_OQ)
#define v_isnan(a)     _mm512_cmp_ps_mask ((a), (a), _CMP_UNORD_Q)
#define v_sel(m, a, b) _mm512_mask_blend_ps ((m), (a), (b))
#define vm_or(a, b)    ((VM)((a) | (b)))
#define vm_any(m)      ((m) != 0)
#define vi_cvt(a)      _mm512_cvtps_epi32 (a)
#define vi_add(a, b)   _mm512_add_epi32 ((a), (b))
#define vi_sub(a, b)   _mm512_sub_epi32 ((a), (b))
#define vi_sar1(a)     _mm512_srai_epi32 ((a), 1)
#define vi_pow2(n)                                                                                 \
  _mm512_castsi512_ps (_mm512_slli_epi32 (_mm512_add_epi32 ((n), _mm512_set1_epi32 (127)), 23))
#define v_hsum(v) _mm512_reduce_add_ps (v)
#define v_hmax(v) _mm512_reduce_max_ps (v)
#define v_hmin(v) _mm512_reduce_min_ps (v)

static inline V
v_load_part (const float *p, gsize n, float fill)
{
  return _mm512_mask_loadu_ps (_mm512_set1_ps (fill), TAIL_MASK (n), p);
}

static inline void
v_store_part (float *p, gsize n, V v)
{
  _mm512_mask_storeu_ps (p, TAIL_MASK (n), v);
}

static inline V
v_frexp (V x, V *e)
{
  __m512i bits = _mm512_castps_si512 (x);
  *e = _mm512_cvtepi32_ps (
      _mm512_sub_epi32 (_mm512_srli_epi32 (bits, 23), _mm512_set1_epi32 (126)));
  return _mm512_castsi512_ps (_mm512_or_epi32 (
      _mm512_and_epi32 (bits, _mm512_set1_epi32 (0x007fffff)), _mm512_set1_epi32 (0x3f000000)));
}

#include "cpu-simd-impl.h"
