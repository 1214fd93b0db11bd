/* cpu-simd-generic.c: the kernels of cpu-simd-impl.h in portable C, one
 * float per "vector": the path for CPUs without AVX2 and the reference the
 * tests compare the vector paths with. */
#include "cpu-simd.h"

#include <math.h>
#include <string.h>

typedef float V;
typedef gint32 VI;
typedef gboolean VM;
#define VLEN       1
#define SIMD_NAME  generic
#define SIMD_ISA   CPU_ISA_GENERIC
#define SIMD_TABLE cpu_simd_ops_generic

#define v_load(p)       (*(p))
#define v_store(p, v)   (*(p) = (v))
#define v_set1(f)       ((float)(f))
#define v_add(a, b)     ((a) + (b))
#define v_sub(a, b)     ((a) - (b))
#define v_mul(a, b)     ((a) * (b))
#define v_div(a, b)     ((a) / (b))
#define v_fma(a, b, c)  ((a) * (b) + (c))
#define v_fnma(a, b, c) ((c) - (a) * (b))
#define v_max(a, b)     ((a) > (b) ? (a) : (b))
#define v_min(a, b)     ((a) < (b) ? (a) : (b))
#define v_sqrt(a)       sqrtf (a)
#define v_abs(a)        fabsf (a)
#define v_neg(a)        (-(a))
#define v_floor(a)      floorf (a)
#define v_ceil(a)       ceilf (a)
#define v_round(a)      rintf (a)
#define v_lt(a, b)      ((a) < (b))
#define v_le(a, b)      ((a) <= (b))
#define v_gt(a, b)      ((a) > (b))
#define v_ge(a, b)      ((a) >= (b))
#define v_eq(a, b)      ((a) == (b))
#define v_isnan(a)      isnan (a)
#define v_sel(m, a, b)  ((m) ? (b) : (a))
#define vm_or(a, b)     ((a) || (b))
#define vm_any(m)       (m)
#define vi_add(a, b)    ((a) + (b))
#define vi_sub(a, b)    ((a) - (b))
#define v_hsum(v)       (v)
#define v_hmax(v)       (v)
#define v_hmin(v)       (v)

static inline V
v_load_part (const float *p, gsize n, float fill)
{
  return n ? *p : fill;
}

static inline void
v_store_part (float *p, gsize n, V v)
{
  if (n)
    *p = v;
}

/* NaN (whose exp() comes out NaN from its polynomial anyway) converts to 0
 * instead of undefined behaviour. */
static inline VI
vi_cvt (V a)
{
  return a == a ? (VI)a : 0;
}

/* floor (a / 2), like an arithmetic shift */
static inline VI
vi_sar1 (VI a)
{
  return a >= 0 ? a / 2 : -((1 - a) / 2);
}

static inline V
vi_pow2 (VI n)
{
  guint32 bits = (guint32)(n + 127) << 23;
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

static inline V
v_frexp (V x, V *e)
{
  guint32 bits;
  memcpy (&bits, &x, sizeof bits);
  *e = (float)((gint32)(bits >> 23) - 126);
  bits = (bits & 0x007fffffu) | 0x3f000000u;
  memcpy (&x, &bits, sizeof x);
  return x;
}

#include "cpu-simd-impl.h"
