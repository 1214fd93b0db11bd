/* cpu-simd-impl.h: the kernels of cpu-simd.h, written once over a small
 * vector vocabulary that the including file defines for its ISA:
 *
 *   V, VI, VM        float vector, int32 vector, comparison mask
 *   VLEN             floats per vector; SIMD_TABLE the table's name
 *   SIMD_ISA, SIMD_NAME
 *   v_load v_store v_set1 v_load_part v_store_part (n < VLEN elements; the
 *   rest of the vector is @fill) v_add v_sub v_mul v_div v_fma (a * b + c)
 *   v_fnma (c - a * b) v_max v_min (x86 semantics: a > b ? a : b, a < b ? a :
 *   b) v_sqrt v_abs v_neg v_floor v_ceil v_round (to nearest even)
 *   v_lt v_le v_gt v_ge v_eq v_isnan (-> VM) v_sel (m ? b : a) vm_or vm_any
 *   v_hsum v_hmax v_hmin
 *   vi_cvt (V holding integers -> VI) vi_add vi_sub vi_sar1 vi_pow2 (2^n as
 *   V, for n in [-126, 127]) v_frexp (x = m * 2^e, m in [0.5, 1), for
 *   positive normal x; e as V)
 *
 * Only static functions and the one table are defined, so several ISAs can
 * live in one shared object.
 */
#include <math.h>

#define SIMD_CAT2(a, b) a##_##b
#define SIMD_CAT(a, b)  SIMD_CAT2 (a, b)
#define S(name)         SIMD_CAT (name, SIMD_NAME)

/* ---- elementary functions ------------------------------------------------ */

static inline V
S (v_exp) (V x)
{
  /* Clamped so that n stays in [-150, 128]; NaN passes (x86 min/max return
   * the second operand when one is NaN). exp(89) overflows to inf through
   * the two-step scaling below, exp(-104) underflows to 0. */
  x = v_max (v_set1 (-104.0f), v_min (v_set1 (89.0f), x));
  V n = v_round (v_mul (x, v_set1 (1.44269504088896341f)));
  V r = v_fnma (n, v_set1 (0.693145751953125f), x);
  r = v_fnma (n, v_set1 (1.428606765330187045e-06f), r);
  V p = v_set1 (1.9875691500E-4f);
  p = v_fma (p, r, v_set1 (1.3981999507E-3f));
  p = v_fma (p, r, v_set1 (8.3334519073E-3f));
  p = v_fma (p, r, v_set1 (4.1665795894E-2f));
  p = v_fma (p, r, v_set1 (1.6666665459E-1f));
  p = v_fma (p, r, v_set1 (5.0000001201E-1f));
  p = v_fma (p, v_mul (r, r), v_add (r, v_set1 (1.0f)));
  /* 2^n in two factors, each a normal float, so subnormal results round
   * once and large ones overflow to inf. */
  VI ni = vi_cvt (n);
  VI n1 = vi_sar1 (ni);
  VI n2 = vi_sub (ni, n1);
  return v_mul (v_mul (p, vi_pow2 (n1)), vi_pow2 (n2));
}

static inline V
S (v_log) (V x)
{
  /* subnormals: scale into the normal range first */
  VM tiny = v_lt (x, v_set1 (1.17549435e-38f));
  V xs = v_sel (tiny, x, v_mul (x, v_set1 (8388608.0f)));
  V e;
  V m = v_frexp (xs, &e);
  e = v_sel (tiny, e, v_sub (e, v_set1 (23.0f)));
  /* m in [sqrt(1/2), sqrt(2)) - 1 */
  VM small = v_lt (m, v_set1 (0.707106781186547524f));
  e = v_sel (small, e, v_sub (e, v_set1 (1.0f)));
  m = v_sel (small, v_sub (m, v_set1 (1.0f)), v_sub (v_add (m, m), v_set1 (1.0f)));
  V z = v_mul (m, m);
  V p = v_set1 (7.0376836292E-2f);
  p = v_fma (p, m, v_set1 (-1.1514610310E-1f));
  p = v_fma (p, m, v_set1 (1.1676998740E-1f));
  p = v_fma (p, m, v_set1 (-1.2420140846E-1f));
  p = v_fma (p, m, v_set1 (1.4249322787E-1f));
  p = v_fma (p, m, v_set1 (-1.6668057665E-1f));
  p = v_fma (p, m, v_set1 (2.0000714765E-1f));
  p = v_fma (p, m, v_set1 (-2.4999993993E-1f));
  p = v_fma (p, m, v_set1 (3.3333331174E-1f));
  V y = v_mul (v_mul (p, m), z);
  y = v_fma (e, v_set1 (-2.12194440e-4f), y);
  y = v_fnma (v_set1 (0.5f), z, y);
  V r = v_add (m, y);
  r = v_fma (e, v_set1 (0.693359375f), r);
  /* log(inf) = inf, log(0) = -inf, log(x < 0) = NaN, log(NaN) = NaN */
  r = v_sel (v_eq (x, v_set1 (INFINITY)), r, x);
  r = v_sel (v_eq (x, v_set1 (0.0f)), r, v_set1 (-INFINITY));
  r = v_sel (v_lt (x, v_set1 (0.0f)), r, v_set1 (NAN));
  return v_sel (v_isnan (x), r, x);
}

static inline V
S (v_sigmoid) (V x)
{
  /* e = exp(-|x|) <= 1 never overflows; sigmoid(-|x|) = e / (1 + e) */
  V e = S (v_exp) (v_neg (v_abs (x)));
  V s = v_div (v_set1 (1.0f), v_add (v_set1 (1.0f), e));
  return v_sel (v_ge (x, v_set1 (0.0f)), v_mul (e, s), s);
}

static inline V
S (v_tanh) (V x)
{
  V a = v_abs (x);
  /* |x| < 0.625: odd polynomial */
  V z = v_mul (x, x);
  V p = v_set1 (-5.70498872745E-3f);
  p = v_fma (p, z, v_set1 (2.06390887954E-2f));
  p = v_fma (p, z, v_set1 (-5.37397155531E-2f));
  p = v_fma (p, z, v_set1 (1.33314422036E-1f));
  p = v_fma (p, z, v_set1 (-3.33332819422E-1f));
  V small = v_fma (v_mul (p, z), x, x);
  /* otherwise 1 - 2 / (exp(2|x|) + 1), with x's sign (NaN stays NaN) */
  V e = S (v_exp) (v_add (a, a));
  V big = v_sub (v_set1 (1.0f), v_div (v_set1 (2.0f), v_add (e, v_set1 (1.0f))));
  big = v_sel (v_lt (x, v_set1 (0.0f)), big, v_neg (big));
  return v_sel (v_lt (a, v_set1 (0.625f)), big, small);
}

static inline V
S (v_erf) (V x)
{
  V a = v_abs (x);
  V z = v_mul (x, x);
  /* |x| < 0.8: the Taylor series to x^17 (the next term is under 3e-9) */
  V p = v_set1 (1.0f / 685440.0f);
  p = v_fma (p, z, v_set1 (-1.0f / 75600.0f));
  p = v_fma (p, z, v_set1 (1.0f / 9360.0f));
  p = v_fma (p, z, v_set1 (-1.0f / 1320.0f));
  p = v_fma (p, z, v_set1 (1.0f / 216.0f));
  p = v_fma (p, z, v_set1 (-1.0f / 42.0f));
  p = v_fma (p, z, v_set1 (1.0f / 10.0f));
  p = v_fma (p, z, v_set1 (-1.0f / 3.0f));
  V small = v_mul (v_fma (v_mul (p, z), x, x), v_set1 (1.12837916709551257f));
  /* otherwise 1 - t P(t) exp(-x^2), t = 1 / (1 + 0.3275911 |x|) (Abramowitz
   * and Stegun 7.1.26, absolute error under 1.5e-7), with x's sign */
  V t = v_div (v_set1 (1.0f), v_fma (v_set1 (0.3275911f), a, v_set1 (1.0f)));
  V q = v_set1 (1.061405429f);
  q = v_fma (q, t, v_set1 (-1.453152027f));
  q = v_fma (q, t, v_set1 (1.421413741f));
  q = v_fma (q, t, v_set1 (-0.284496736f));
  q = v_fma (q, t, v_set1 (0.254829592f));
  V big = v_fnma (v_mul (q, t), S (v_exp) (v_neg (z)), v_set1 (1.0f));
  big = v_sel (v_lt (x, v_set1 (0.0f)), big, v_neg (big));
  /* NaN fails the comparison and stays NaN through big */
  return v_sel (v_lt (a, v_set1 (0.8f)), big, small);
}

/* ---- loops ------------------------------------------------------------------ */

/* Runs EXPR (of the vector `v`) over x -> y, full vectors then the tail. */
#define SIMD_MAP(EXPR)                                                                             \
  do {                                                                                             \
    gsize i_ = 0;                                                                                  \
    for (; i_ + VLEN <= n; i_ += VLEN) {                                                           \
      V v = v_load (x + i_);                                                                       \
      v_store (y + i_, (EXPR));                                                                    \
    }                                                                                              \
    if (i_ < n) {                                                                                  \
      V v = v_load_part (x + i_, n - i_, 0.0f);                                                    \
      v_store_part (y + i_, n - i_, (EXPR));                                                       \
    }                                                                                              \
  } while (0)

static void
S (unary) (CpuSimdUnary op, const float *x, float *y, gsize n, float alpha, float beta)
{
  const V zero = v_set1 (0.0f), one = v_set1 (1.0f);
  const V va = v_set1 (alpha), vb = v_set1 (beta);
  switch (op) {
  case CPU_SIMD_UN_RELU:
    SIMD_MAP (v_max (v, zero));
    break;
  case CPU_SIMD_UN_EXP:
    SIMD_MAP (S (v_exp) (v));
    break;
  case CPU_SIMD_UN_LOG:
    SIMD_MAP (S (v_log) (v));
    break;
  case CPU_SIMD_UN_SIGMOID:
    SIMD_MAP (S (v_sigmoid) (v));
    break;
  case CPU_SIMD_UN_TANH:
    SIMD_MAP (S (v_tanh) (v));
    break;
  case CPU_SIMD_UN_SQRT:
    SIMD_MAP (v_sqrt (v));
    break;
  case CPU_SIMD_UN_RECIPROCAL:
    SIMD_MAP (v_div (one, v));
    break;
  case CPU_SIMD_UN_NEG:
    SIMD_MAP (v_neg (v));
    break;
  case CPU_SIMD_UN_ABS:
    SIMD_MAP (v_abs (v));
    break;
  case CPU_SIMD_UN_FLOOR:
    SIMD_MAP (v_floor (v));
    break;
  case CPU_SIMD_UN_CEIL:
    SIMD_MAP (v_ceil (v));
    break;
  case CPU_SIMD_UN_ERF:
    SIMD_MAP (S (v_erf) (v));
    break;
  case CPU_SIMD_UN_LEAKY_RELU:
    SIMD_MAP (v_sel (v_ge (v, zero), v_mul (va, v), v));
    break;
  case CPU_SIMD_UN_ELU:
    SIMD_MAP (v_sel (v_ge (v, zero), v_mul (va, v_sub (S (v_exp) (v), one)), v));
    break;
  case CPU_SIMD_UN_CLIP:
    /* v < lo ? lo : v > hi ? hi : v */
    SIMD_MAP (v_sel (v_lt (v, va), v_sel (v_gt (v, vb), v, vb), va));
    break;
  case CPU_SIMD_UN_HARD_SIGMOID:
    SIMD_MAP (v_max (zero, v_min (one, v_fma (va, v, vb))));
    break;
  case CPU_SIMD_UN_HARD_SWISH:
    SIMD_MAP (v_mul (v, v_max (zero, v_min (one, v_fma (v_set1 (1.0f / 6.0f), v, v_set1 (0.5f))))));
    break;
  case CPU_SIMD_UN_SOFTSIGN:
    SIMD_MAP (v_div (v, v_add (one, v_abs (v))));
    break;
  case CPU_SIMD_UN_N:
    g_assert_not_reached ();
  }
}

static inline V
S (v_binary_max) (V a, V b)
{
  /* NaN in a or b wins */
  return v_sel (v_isnan (a), v_max (a, b), a);
}

static inline V
S (v_binary_min) (V a, V b)
{
  return v_sel (v_isnan (a), v_min (a, b), a);
}

/* The four stride combinations of one op; EXPR of `va` and `vb`. */
#define SIMD_BINARY(EXPR)                                                                          \
  do {                                                                                             \
    gsize i_ = 0;                                                                                  \
    if (sa && sb) {                                                                                \
      for (; i_ + VLEN <= n; i_ += VLEN) {                                                         \
        V va = v_load (a + i_), vb = v_load (b + i_);                                              \
        v_store (y + i_, (EXPR));                                                                  \
      }                                                                                            \
      if (i_ < n) {                                                                                \
        V va = v_load_part (a + i_, n - i_, 1.0f), vb = v_load_part (b + i_, n - i_, 1.0f);        \
        v_store_part (y + i_, n - i_, (EXPR));                                                     \
      }                                                                                            \
    } else if (sa) {                                                                               \
      const V vb = v_set1 (b[0]);                                                                  \
      for (; i_ + VLEN <= n; i_ += VLEN) {                                                         \
        V va = v_load (a + i_);                                                                    \
        v_store (y + i_, (EXPR));                                                                  \
      }                                                                                            \
      if (i_ < n) {                                                                                \
        V va = v_load_part (a + i_, n - i_, 1.0f);                                                 \
        v_store_part (y + i_, n - i_, (EXPR));                                                     \
      }                                                                                            \
    } else if (sb) {                                                                               \
      const V va = v_set1 (a[0]);                                                                  \
      for (; i_ + VLEN <= n; i_ += VLEN) {                                                         \
        V vb = v_load (b + i_);                                                                    \
        v_store (y + i_, (EXPR));                                                                  \
      }                                                                                            \
      if (i_ < n) {                                                                                \
        V vb = v_load_part (b + i_, n - i_, 1.0f);                                                 \
        v_store_part (y + i_, n - i_, (EXPR));                                                     \
      }                                                                                            \
    } else {                                                                                       \
      const V va = v_set1 (a[0]), vb = v_set1 (b[0]);                                              \
      const V r_ = (EXPR);                                                                         \
      for (; i_ + VLEN <= n; i_ += VLEN)                                                           \
        v_store (y + i_, r_);                                                                      \
      if (i_ < n)                                                                                  \
        v_store_part (y + i_, n - i_, r_);                                                         \
    }                                                                                              \
  } while (0)

static void
S (binary) (CpuSimdBinary op, const float *a, gsize sa, const float *b, gsize sb, float *y, gsize n)
{
  switch (op) {
  case CPU_SIMD_BIN_ADD:
    SIMD_BINARY (v_add (va, vb));
    break;
  case CPU_SIMD_BIN_SUB:
    SIMD_BINARY (v_sub (va, vb));
    break;
  case CPU_SIMD_BIN_MUL:
    SIMD_BINARY (v_mul (va, vb));
    break;
  case CPU_SIMD_BIN_DIV:
    SIMD_BINARY (v_div (va, vb));
    break;
  case CPU_SIMD_BIN_MAX:
    SIMD_BINARY (S (v_binary_max) (va, vb));
    break;
  case CPU_SIMD_BIN_MIN:
    SIMD_BINARY (S (v_binary_min) (va, vb));
    break;
  case CPU_SIMD_BIN_N:
    g_assert_not_reached ();
  }
}

static void
S (affine) (const float *x, float *y, gsize n, float a, float b)
{
  const V va = v_set1 (a), vb = v_set1 (b);
  SIMD_MAP (v_fma (v, va, vb));
}

/* ---- reductions --------------------------------------------------------------- */

/* Folds x into four accumulators with STEP(acc, v), tail padded with FILL,
 * then combines them with COMBINE. */
#define SIMD_FOLD(FILL, STEP, COMBINE)                                                             \
  V acc0 = v_set1 (FILL), acc1 = acc0, acc2 = acc0, acc3 = acc0;                                   \
  gsize i_ = 0;                                                                                    \
  for (; i_ + 4 * VLEN <= n; i_ += 4 * VLEN) {                                                     \
    acc0 = STEP (acc0, v_load (x + i_));                                                           \
    acc1 = STEP (acc1, v_load (x + i_ + VLEN));                                                    \
    acc2 = STEP (acc2, v_load (x + i_ + 2 * VLEN));                                                \
    acc3 = STEP (acc3, v_load (x + i_ + 3 * VLEN));                                                \
  }                                                                                                \
  for (; i_ + VLEN <= n; i_ += VLEN)                                                               \
    acc0 = STEP (acc0, v_load (x + i_));                                                           \
  if (i_ < n)                                                                                      \
    acc1 = STEP (acc1, v_load_part (x + i_, n - i_, FILL));                                        \
  V acc = COMBINE (COMBINE (acc0, acc1), COMBINE (acc2, acc3))

#define SIMD_SQ_STEP(acc, v) v_fma (v, v, acc)

static float
S (sum) (const float *x, gsize n)
{
  SIMD_FOLD (0.0f, v_add, v_add);
  return v_hsum (acc);
}

static float
S (sum_squares) (const float *x, gsize n)
{
  SIMD_FOLD (0.0f, SIMD_SQ_STEP, v_add);
  return v_hsum (acc);
}

static float
S (max) (const float *x, gsize n)
{
  SIMD_FOLD (-INFINITY, S (v_binary_max), S (v_binary_max));
  float r = v_hmax (acc);
  /* v_hmax may drop a NaN lane */
  return vm_any (v_isnan (acc)) ? NAN : r;
}

static float
S (min) (const float *x, gsize n)
{
  SIMD_FOLD (INFINITY, S (v_binary_min), S (v_binary_min));
  float r = v_hmin (acc);
  return vm_any (v_isnan (acc)) ? NAN : r;
}

static void
S (accumulate) (CpuSimdBinary op, float *acc, const float *x, gsize n)
{
  switch (op) {
  case CPU_SIMD_BIN_ADD:
    S (binary) (CPU_SIMD_BIN_ADD, acc, 1, x, 1, acc, n);
    break;
  case CPU_SIMD_BIN_MAX:
    S (binary) (CPU_SIMD_BIN_MAX, acc, 1, x, 1, acc, n);
    /* acc's NaN wins already; x's NaN must too */
    break;
  case CPU_SIMD_BIN_MIN:
    S (binary) (CPU_SIMD_BIN_MIN, acc, 1, x, 1, acc, n);
    break;
  default:
    S (binary) (op, acc, 1, x, 1, acc, n);
    break;
  }
}

/* ---- softmax, layer norm -------------------------------------------------------- */

/* y = exp(x - m), returning the sum. */
static float
S (exp_shift_sum) (const float *x, float *y, gsize n, float m)
{
  const V vm = v_set1 (m);
  V s0 = v_set1 (0.0f), s1 = s0;
  gsize i = 0;
  for (; i + 2 * VLEN <= n; i += 2 * VLEN) {
    V e0 = S (v_exp) (v_sub (v_load (x + i), vm));
    V e1 = S (v_exp) (v_sub (v_load (x + i + VLEN), vm));
    if (y) {
      v_store (y + i, e0);
      v_store (y + i + VLEN, e1);
    }
    s0 = v_add (s0, e0);
    s1 = v_add (s1, e1);
  }
  for (; i < n; i += VLEN) {
    gsize k = MIN (n - i, (gsize)VLEN);
    /* padding exp(-inf) = 0 adds nothing */
    V e = S (v_exp) (v_sub (v_load_part (x + i, k, -INFINITY), vm));
    if (y)
      v_store_part (y + i, k, e);
    s0 = v_add (s0, e);
  }
  return v_hsum (v_add (s0, s1));
}

static void
S (softmax) (const float *x, float *y, gsize n)
{
  float m = S (max) (x, n);
  float sum = S (exp_shift_sum) (x, y, n, m);
  const V inv = v_set1 (1.0f / sum);
  const float *src = y;
  gsize i = 0;
  for (; i + VLEN <= n; i += VLEN)
    v_store (y + i, v_mul (v_load (src + i), inv));
  if (i < n)
    v_store_part (y + i, n - i, v_mul (v_load_part (src + i, n - i, 0.0f), inv));
}

static void
S (log_softmax) (const float *x, float *y, gsize n)
{
  float m = S (max) (x, n);
  float lse = logf (S (exp_shift_sum) (x, NULL, n, m));
  const V vm = v_set1 (m), vl = v_set1 (lse);
  SIMD_MAP (v_sub (v_sub (v, vm), vl));
}

static void
S (layer_norm) (const float *x, float *y, gsize n, const float *scale, const float *bias, float eps,
                float *mean_out, float *inv_std_out)
{
  float mean = S (sum) (x, n) / (float)n;
  const V vm = v_set1 (mean);
  V q0 = v_set1 (0.0f), q1 = q0;
  gsize i = 0;
  for (; i + 2 * VLEN <= n; i += 2 * VLEN) {
    V d0 = v_sub (v_load (x + i), vm), d1 = v_sub (v_load (x + i + VLEN), vm);
    q0 = v_fma (d0, d0, q0);
    q1 = v_fma (d1, d1, q1);
  }
  for (; i < n; i += VLEN) {
    gsize k = MIN (n - i, (gsize)VLEN);
    V d = v_sub (v_load_part (x + i, k, mean), vm);
    q0 = v_fma (d, d, q0);
  }
  float var = v_hsum (v_add (q0, q1)) / (float)n;
  float inv = 1.0f / sqrtf (var + eps);
  const V vi = v_set1 (inv);
  for (i = 0; i + VLEN <= n; i += VLEN) {
    V r = v_mul (v_mul (v_sub (v_load (x + i), vm), vi), v_load (scale + i));
    if (bias)
      r = v_add (r, v_load (bias + i));
    v_store (y + i, r);
  }
  if (i < n) {
    gsize k = n - i;
    V r = v_mul (v_mul (v_sub (v_load_part (x + i, k, 0.0f), vm), vi),
                 v_load_part (scale + i, k, 0.0f));
    if (bias)
      r = v_add (r, v_load_part (bias + i, k, 0.0f));
    v_store_part (y + i, k, r);
  }
  if (mean_out)
    *mean_out = mean;
  if (inv_std_out)
    *inv_std_out = inv;
}

/* ---- RNN pieces ---------------------------------------------------------------- */

static void
S (matvec) (const float *a, gsize lda, gsize m, const float *x, gsize k, const float *init,
            float *y)
{
  gsize j = 0;
  for (; j + 4 <= m; j += 4) {
    const float *a0 = a + j * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
    V c0 = v_set1 (0.0f), c1 = c0, c2 = c0, c3 = c0;
    gsize i = 0;
    for (; i + VLEN <= k; i += VLEN) {
      V xv = v_load (x + i);
      c0 = v_fma (v_load (a0 + i), xv, c0);
      c1 = v_fma (v_load (a1 + i), xv, c1);
      c2 = v_fma (v_load (a2 + i), xv, c2);
      c3 = v_fma (v_load (a3 + i), xv, c3);
    }
    if (i < k) {
      gsize t = k - i;
      V xv = v_load_part (x + i, t, 0.0f);
      c0 = v_fma (v_load_part (a0 + i, t, 0.0f), xv, c0);
      c1 = v_fma (v_load_part (a1 + i, t, 0.0f), xv, c1);
      c2 = v_fma (v_load_part (a2 + i, t, 0.0f), xv, c2);
      c3 = v_fma (v_load_part (a3 + i, t, 0.0f), xv, c3);
    }
    y[j] = v_hsum (c0) + (init ? init[j] : 0.0f);
    y[j + 1] = v_hsum (c1) + (init ? init[j + 1] : 0.0f);
    y[j + 2] = v_hsum (c2) + (init ? init[j + 2] : 0.0f);
    y[j + 3] = v_hsum (c3) + (init ? init[j + 3] : 0.0f);
  }
  for (; j < m; j++) {
    const float *aj = a + j * lda;
    V c = v_set1 (0.0f);
    gsize i = 0;
    for (; i + VLEN <= k; i += VLEN)
      c = v_fma (v_load (aj + i), v_load (x + i), c);
    if (i < k)
      c = v_fma (v_load_part (aj + i, k - i, 0.0f), v_load_part (x + i, k - i, 0.0f), c);
    y[j] = v_hsum (c) + (init ? init[j] : 0.0f);
  }
}

static void
S (lstm_cell) (float *g, float *c, float *h, gsize n)
{
  float *gi = g, *go = g + n, *gf = g + 2 * n, *gc = g + 3 * n;
  gsize i = 0;
  for (; i < n; i += VLEN) {
    gsize k = MIN (n - i, (gsize)VLEN);
    V vi = S (v_sigmoid) (v_load_part (gi + i, k, 0.0f));
    V vf = S (v_sigmoid) (v_load_part (gf + i, k, 0.0f));
    V vc = S (v_tanh) (v_load_part (gc + i, k, 0.0f));
    V vo = S (v_sigmoid) (v_load_part (go + i, k, 0.0f));
    V cn = v_fma (vf, v_load_part (c + i, k, 0.0f), v_mul (vi, vc));
    v_store_part (c + i, k, cn);
    v_store_part (h + i, k, v_mul (vo, S (v_tanh) (cn)));
  }
}

const CpuSimdOps SIMD_TABLE = {
  .isa = SIMD_ISA,
  .name = G_STRINGIFY (SIMD_NAME),
  .width = VLEN,
  .unary = S (unary),
  .binary = S (binary),
  .affine = S (affine),
  .sum = S (sum),
  .max = S (max),
  .min = S (min),
  .sum_squares = S (sum_squares),
  .accumulate = S (accumulate),
  .softmax = S (softmax),
  .log_softmax = S (log_softmax),
  .layer_norm = S (layer_norm),
  .matvec = S (matvec),
  .lstm_cell = S (lstm_cell),
};
