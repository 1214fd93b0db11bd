/* cpu-simd-avx2.c: the kernels of cpu-simd-impl.h on 8-float AVX2 + FMA
 * vectors. Compiled with -mavx2 -mfma; only called when cpu-cpuid.h says the
 * CPU and the OS support them. */
#include "cpu-simd.h"

#include <immintrin.h>

typedef __m256 V;
typedef __m256i VI;
typedef __m256 VM;
#define VLEN       8
#define SIMD_NAME  avx2
#define SIMD_ISA   CPU_ISA_AVX2
#define SIMD_TABLE cpu_simd_ops_avx2

static inline __m256i
tail_mask (gsize n)
{
  return _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int)n),
                             _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7));
}

#define v_load(p)       _mm256_loadu_ps (p)
#define v_store(p, v)   _mm256_storeu_ps ((p), (v))
#define v_set1(f)       _mm256_set1_ps (f)
#define v_add(a, b)     _mm256_add_ps ((a), (b))
#define v_sub(a, b)     _mm256_sub_ps ((a), (b))
#define v_mul(a, b)     _mm256_mul_ps ((a), (b))
#define v_div(a, b)     _mm256_div_ps ((a), (b))
#define v_fma(a, b, c)  _mm256_fmadd_ps ((a), (b), (c))
#define v_fnma(a, b, c) _mm256_fnmadd_ps ((a), (b), (c))
#define v_max(a, b)     _mm256_max_ps ((a), (b))
#define v_min(a, b)     _mm256_min_ps ((a), (b))
#define v_sqrt(a)       _mm256_sqrt_ps (a)
#define v_abs(a)        _mm256_andnot_ps (_mm256_set1_ps (-0.0f), (a))
#define v_neg(a)        _mm256_xor_ps (_mm256_set1_ps (-0.0f), (a))
#define v_floor(a)      _mm256_floor_ps (a)
#define v_ceil(a)       _mm256_ceil_ps (a)
#define v_round(a)      _mm256_round_ps ((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define v_lt(a, b)      _mm256_cmp_ps ((a), (b), _CMP_LT_OQ)
#define v_le(a, b)      _mm256_cmp_ps ((a), (b), _CMP_LE_OQ)
#define v_gt(a, b)      _mm256_cmp_ps ((a), (b), _CMP_GT_OQ)
#define v_ge(a, b)      _mm256_cmp_ps ((a), (b), _CMP_GE_OQ)
#define v_eq(a, b)      _mm256_cmp_ps ((a), (b), _CMP_EQ_OQ)
#define v_isnan(a)      _mm256_cmp_ps ((a), (a), _CMP_UNORD_Q)
#define v_sel(m, a, b)  _mm256_blendv_ps ((a), (b), (m))
#define vm_or(a, b)     _mm256_or_ps ((a), (b))
#define vm_any(m)       (_mm256_movemask_ps (m) != 0)
#define vi_cvt(a)       _mm256_cvtps_epi32 (a)
#define vi_add(a, b)    _mm256_add_epi32 ((a), (b))
#define vi_sub(a, b)    _mm256_sub_epi32 ((a), (b))
#define vi_sar1(a)      _mm256_srai_epi32 ((a), 1)
#define vi_pow2(n)                                                                                 \
  _mm256_castsi256_ps (_mm256_slli_epi32 (_mm256_add_epi32 ((n), _mm256_set1_epi32 (127)), 23))

static inline V
v_load_part (const float *p, gsize n, float fill)
{
  __m256i m = tail_mask (n);
  return _mm256_blendv_ps (_mm256_set1_ps (fill), _mm256_maskload_ps (p, m),
                           _mm256_castsi256_ps (m));
}

static inline void
v_store_part (float *p, gsize n, V v)
{
  _mm256_maskstore_ps (p, tail_mask (n), v);
}

static inline V
v_frexp (V x, V *e)
{
  __m256i bits = _mm256_castps_si256 (x);
  *e = _mm256_cvtepi32_ps (
      _mm256_sub_epi32 (_mm256_srli_epi32 (bits, 23), _mm256_set1_epi32 (126)));
  return _mm256_castsi256_ps (_mm256_or_si256 (
      _mm256_and_si256 (bits, _mm256_set1_epi32 (0x007fffff)), _mm256_set1_epi32 (0x3f000000)));
}

static inline float
v_hsum (V v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

static inline float
v_hmax (V v)
{
  __m128 s = _mm_max_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_max_ps (s, _mm_movehl_ps (s, s));
  s = _mm_max_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

static inline float
v_hmin (V v)
{
  __m128 s = _mm_min_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_min_ps (s, _mm_movehl_ps (s, s));
  s = _mm_min_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

#include "cpu-simd-impl.h"
