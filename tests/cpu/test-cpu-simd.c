/* test-cpu-simd.c: the CPU provider's float32 kernels (plugins/cpu/cpu-simd.h)
 * on every ISA this machine supports (portable C, AVX2 + FMA, AVX-512),
 * against double-precision libm references and against each other, over edge
 * values (zeros, subnormals, overflow and underflow bounds, infinities, NaN)
 * and lengths that are not multiples of the vector width.
 */
#include "cpu-simd.h"

#include <math.h>
#include <string.h>

/* Relative error bound of the polynomial functions, plus an absolute slack of
 * one subnormal step where results underflow. */
#define REL_TOL 1e-6
#define ABS_TOL 1.5e-45

static const float edge_values[] = {
  0.0f,    -0.0f,   1e-45f,   -1e-45f,  1e-40f,    -1e-40f, 1.17549435e-38f,
  -1e-38f, 1e-30f,  -1e-30f,  1e-7f,    -1e-7f,    1e-3f,   -1e-3f,
  0.1f,    -0.1f,   0.5f,     -0.5f,    0.62f,     0.625f,  -0.625f,
  0.63f,   0.7071f, 0.7072f,  1.0f,     -1.0f,     1.5f,    2.0f,
  -2.0f,   3.0f,    8.0f,     -8.0f,    9.0f,      10.0f,   -10.0f,
  15.0f,   20.0f,   -20.0f,   40.0f,    -40.0f,    80.0f,   -80.0f,
  87.0f,   -87.0f,  88.0f,    88.7f,    88.72f,    88.73f,  89.0f,
  100.0f,  -100.0f, -103.0f,  -103.9f,  -104.0f,   -110.0f, 1e10f,
  -1e10f,  3.4e38f, -3.4e38f, INFINITY, -INFINITY, NAN,
};

/* Edge values, then a sweep of [-lo, hi] with uneven steps. */
static float *
make_inputs (gsize *n, double lo, double hi, gsize sweep)
{
  gsize ne = G_N_ELEMENTS (edge_values);
  float *x = g_new (float, ne + sweep);
  memcpy (x, edge_values, sizeof edge_values);
  for (gsize i = 0; i < sweep; i++) {
    double t = (double)i / (double)(sweep - 1);
    x[ne + i] = (float)(lo + (hi - lo) * t * t * (3 - 2 * t) + 1e-4 * sin ((double)i));
  }
  *n = ne + sweep;
  return x;
}

static gboolean
close_to (double got, double want, double rel)
{
  if (isnan (want))
    return isnan (got);
  if (isinf (want))
    return got == want;
  return fabs (got - want) <= rel * fabs (want) + ABS_TOL;
}

static double
ref_sigmoid (double x)
{
  return x >= 0 ? 1.0 / (1.0 + exp (-x)) : exp (x) / (1.0 + exp (x));
}

typedef struct
{
  CpuSimdUnary op;
  const char *name;
  double (*ref) (double);
  double lo, hi;
} UnaryCase;

static double
ref_exp (double x)
{
  return exp (x);
}
static double
ref_log (double x)
{
  return log (x);
}
static double
ref_tanh (double x)
{
  return tanh (x);
}
static double
ref_sqrt (double x)
{
  return sqrt (x);
}
static double
ref_erf (double x)
{
  return erf (x);
}

static const UnaryCase unary_cases[] = {
  { CPU_SIMD_UN_EXP, "exp", ref_exp, -110, 90 },
  { CPU_SIMD_UN_LOG, "log", ref_log, 0, 1e6 },
  { CPU_SIMD_UN_SIGMOID, "sigmoid", ref_sigmoid, -110, 110 },
  { CPU_SIMD_UN_TANH, "tanh", ref_tanh, -12, 12 },
  { CPU_SIMD_UN_SQRT, "sqrt", ref_sqrt, 0, 1e6 },
  { CPU_SIMD_UN_ERF, "erf", ref_erf, -5, 5 },
};

/* Runs @ops' unary @op at several lengths and offsets (so every tail length
 * is seen) and checks each element with @check. */
static void
check_unary_against (const CpuSimdOps *ops, const UnaryCase *c)
{
  gsize n;
  g_autofree float *x = make_inputs (&n, c->lo, c->hi, 20011);
  g_autofree float *y = g_new (float, n);
  double worst = 0;
  /* chunks of every length 1..40 walk the whole input */
  gsize len = 1;
  for (gsize i = 0; i < n; i += len, len = len % 40 + 1) {
    gsize m = MIN (len, n - i);
    ops->unary (c->op, x + i, y + i, m, 0, 0);
  }
  for (gsize i = 0; i < n; i++) {
    /* rounded to float: results beyond FLT_MAX are inf */
    double want = (float)c->ref (x[i]);
    if (!close_to (y[i], want, REL_TOL))
      g_error ("%s %s(%.9g) = %.9g, want %.9g", ops->name, c->name, x[i], y[i], want);
    if (want != 0 && isfinite (want) && fabs (want) > 1e-37)
      worst = MAX (worst, fabs (y[i] - want) / fabs (want));
  }
  g_test_message ("%s %s: max relative error %.3g", ops->name, c->name, worst);
  /* in place gives the same */
  g_autofree float *z = g_memdup2 (x, n * sizeof (float));
  ops->unary (c->op, z, z, n, 0, 0);
  for (gsize i = 0; i < n; i++)
    g_assert_true (memcmp (&z[i], &y[i], sizeof (float)) == 0 || (isnan (z[i]) && isnan (y[i])));
}

static void
for_each_isa (void (*fn) (const CpuSimdOps *ops))
{
  guint n = 0;
  for (guint isa = 0; isa < CPU_ISA_N; isa++) {
    const CpuSimdOps *ops = cpu_simd_get ((CpuIsa)isa);
    if (ops == NULL) {
      g_test_message ("ISA %u not supported here, skipped", isa);
      continue;
    }
    g_assert_cmpuint (ops->isa, ==, isa);
    fn (ops);
    n++;
  }
  g_assert_cmpuint (n, >=, 1);
}

static void
unary_poly (const CpuSimdOps *ops)
{
  for (guint i = 0; i < G_N_ELEMENTS (unary_cases); i++)
    check_unary_against (ops, &unary_cases[i]);
}

static void
test_unary_functions (void)
{
  for_each_isa (unary_poly);
}

/* NaN stays NaN, as in cpu-math.c */
static float
clamp01 (float t)
{
  return t < 0 ? 0 : t > 1 ? 1 : t;
}

/* Ops with exact results: compared bit for bit with their definitions. */
static void
unary_exact (const CpuSimdOps *ops)
{
  gsize n;
  g_autofree float *x = make_inputs (&n, -50, 50, 1001);
  g_autofree float *y = g_new (float, n);
  const float alpha = 0.25f, beta = 2.5f;
  for (CpuSimdUnary op = 0; op < CPU_SIMD_UN_N; op++) {
    if (op == CPU_SIMD_UN_EXP || op == CPU_SIMD_UN_LOG || op == CPU_SIMD_UN_SIGMOID
        || op == CPU_SIMD_UN_TANH || op == CPU_SIMD_UN_ERF || op == CPU_SIMD_UN_ELU)
      continue;
    ops->unary (op, x, y, n, op == CPU_SIMD_UN_CLIP ? -1.5f : alpha, beta);
    for (gsize i = 0; i < n; i++) {
      float v = x[i], want;
      switch (op) {
      case CPU_SIMD_UN_RELU:
        want = v > 0 ? v : 0;
        break;
      case CPU_SIMD_UN_SQRT:
        want = sqrtf (v);
        break;
      case CPU_SIMD_UN_RECIPROCAL:
        want = 1.0f / v;
        break;
      case CPU_SIMD_UN_NEG:
        want = -v;
        break;
      case CPU_SIMD_UN_ABS:
        want = fabsf (v);
        break;
      case CPU_SIMD_UN_FLOOR:
        want = floorf (v);
        break;
      case CPU_SIMD_UN_CEIL:
        want = ceilf (v);
        break;
      case CPU_SIMD_UN_LEAKY_RELU:
        want = v >= 0 ? v : alpha * v;
        break;
      case CPU_SIMD_UN_CLIP:
        want = v < -1.5f ? -1.5f : v > beta ? beta : v;
        break;
      case CPU_SIMD_UN_HARD_SIGMOID:
        want = clamp01 (alpha * v + beta);
        break;
      case CPU_SIMD_UN_HARD_SWISH:
        want = v * clamp01 (v / 6 + 0.5f);
        break;
      case CPU_SIMD_UN_SOFTSIGN:
        want = v / (1 + fabsf (v));
        break;
      default:
        g_assert_not_reached ();
      }
      /* hard sigmoid / swish may fuse a multiply-add: absolute error */
      double tol = (op == CPU_SIMD_UN_HARD_SIGMOID || op == CPU_SIMD_UN_HARD_SWISH) ? 1e-6 : 0;
      gboolean ok = isnan (want) ? isnan (y[i])
                                 : y[i] == want || fabs (y[i] - want) <= tol * (1 + fabs (v));
      if (ok && tol == 0 && want == 0)
        ok = signbit (y[i]) == signbit (want);
      if (!ok)
        g_error ("%s unary %d (%.9g) = %.9g, want %.9g", ops->name, op, v, y[i], want);
    }
  }
  /* ELU: alpha (exp(x) - 1) for negatives */
  ops->unary (CPU_SIMD_UN_ELU, x, y, n, 1.5f, 0);
  for (gsize i = 0; i < n; i++) {
    double want = x[i] >= 0 ? x[i] : 1.5 * expm1 (x[i]);
    g_assert_true (close_to (y[i], want, 1e-6) || fabs (y[i] - want) < 1e-6);
  }
}

static void
test_unary_exact (void)
{
  for_each_isa (unary_exact);
}

static float
binary_ref (CpuSimdBinary op, float a, float b)
{
  switch (op) {
  case CPU_SIMD_BIN_ADD:
    return a + b;
  case CPU_SIMD_BIN_SUB:
    return a - b;
  case CPU_SIMD_BIN_MUL:
    return a * b;
  case CPU_SIMD_BIN_DIV:
    return a / b;
  case CPU_SIMD_BIN_MAX:
    return isnan (a) || isnan (b) ? NAN : (a > b ? a : b);
  case CPU_SIMD_BIN_MIN:
    return isnan (a) || isnan (b) ? NAN : (a < b ? a : b);
  default:
    g_assert_not_reached ();
  }
}

static void
binary_all (const CpuSimdOps *ops)
{
  gsize n;
  g_autofree float *a = make_inputs (&n, -30, 30, 300);
  g_autofree float *b = g_new (float, n);
  g_autofree float *y = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    b[i] = a[(i * 7 + 3) % n];
  for (CpuSimdBinary op = 0; op < CPU_SIMD_BIN_N; op++)
    for (guint mode = 0; mode < 4; mode++) {
      gsize sa = mode & 1, sb = mode >> 1;
      for (gsize len = 0; len <= 37; len++)
        for (gsize off = 0; off + len <= n; off += 41) {
          ops->binary (op, a + off, sa, b + off, sb, y, len);
          for (gsize i = 0; i < len; i++) {
            float want = binary_ref (op, a[off + i * sa], b[off + i * sb]);
            if (!(isnan (want) ? isnan (y[i]) : memcmp (&want, &y[i], sizeof want) == 0))
              g_error ("%s binary %d mode %u: %.9g, %.9g -> %.9g, want %.9g", ops->name, op, mode,
                       a[off + i * sa], b[off + i * sb], y[i], want);
          }
        }
    }
  /* in place into a */
  g_autofree float *c = g_memdup2 (a, n * sizeof (float));
  ops->binary (CPU_SIMD_BIN_ADD, c, 1, b, 1, c, n);
  for (gsize i = 0; i < n; i++)
    g_assert_true (isnan (c[i]) || c[i] == a[i] + b[i]);
  /* affine */
  ops->affine (a, y, n, 1.5f, -2.0f);
  for (gsize i = 0; i < n; i++)
    g_assert_true (close_to (y[i], (float)((double)a[i] * 1.5 - 2.0), 1e-6)
                   || fabs (y[i] - (a[i] * 1.5f - 2.0f)) < 1e-6);
}

static void
test_binary (void)
{
  for_each_isa (binary_all);
}

static void
reductions (const CpuSimdOps *ops)
{
  float x[300];
  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    x[i] = (float)sin (i * 0.37) * 10.0f + 0.25f;
  for (gsize n = 0; n <= G_N_ELEMENTS (x); n += (n < 70 ? 1 : 23)) {
    double sum = 0, sq = 0;
    float mx = -INFINITY, mn = INFINITY;
    for (gsize i = 0; i < n; i++) {
      sum += x[i];
      sq += (double)x[i] * x[i];
      mx = MAX (mx, x[i]);
      mn = MIN (mn, x[i]);
    }
    g_assert_cmpfloat_with_epsilon (ops->sum (x, n), sum, 1e-4 * (1 + fabs (sum)) + 1e-5 * n);
    g_assert_cmpfloat_with_epsilon (ops->sum_squares (x, n), sq, 1e-6 * sq + 1e-6);
    g_assert_cmpfloat (ops->max (x, n), ==, mx);
    g_assert_cmpfloat (ops->min (x, n), ==, mn);
    /* a NaN anywhere wins */
    for (gsize k = 0; k < n; k += 5) {
      float saved = x[k];
      x[k] = NAN;
      g_assert_true (isnan (ops->max (x, n)));
      g_assert_true (isnan (ops->min (x, n)));
      x[k] = saved;
    }
  }
  /* accumulate */
  float acc[45], want[45];
  for (guint op = CPU_SIMD_BIN_ADD; op <= CPU_SIMD_BIN_MIN; op++) {
    if (op != CPU_SIMD_BIN_ADD && op != CPU_SIMD_BIN_MAX && op != CPU_SIMD_BIN_MIN)
      continue;
    for (guint i = 0; i < 45; i++)
      acc[i] = want[i] = (float)i - 20.0f;
    acc[3] = want[3] = NAN;
    ops->accumulate (op, acc, x, 45);
    for (guint i = 0; i < 45; i++) {
      float w = binary_ref (op, want[i], x[i]);
      g_assert_true (isnan (w) ? isnan (acc[i]) : acc[i] == w);
    }
  }
}

static void
test_reductions (void)
{
  for_each_isa (reductions);
}

static void
softmax_rows (const CpuSimdOps *ops)
{
  static const gsize lens[] = { 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 128, 1000 };
  for (guint li = 0; li < G_N_ELEMENTS (lens); li++) {
    gsize n = lens[li];
    g_autofree float *x = g_new (float, n);
    g_autofree float *y = g_new (float, n);
    g_autofree double *e = g_new (double, n);
    for (gsize i = 0; i < n; i++)
      x[i] = (float)(cos (i * 1.7 + n) * 20.0);
    double m = -INFINITY, s = 0;
    for (gsize i = 0; i < n; i++)
      m = MAX (m, x[i]);
    for (gsize i = 0; i < n; i++)
      /* x - max rounds in float, as it does in the kernels */
      s += (e[i] = exp ((float)(x[i] - m)));
    ops->softmax (x, y, n);
    for (gsize i = 0; i < n; i++)
      if (!close_to (y[i], e[i] / s, 2e-6))
        g_error ("%s softmax n=%zu [%zu] = %.9g, want %.9g", ops->name, n, i, y[i], e[i] / s);
    ops->log_softmax (x, y, n);
    for (gsize i = 0; i < n; i++) {
      double want = x[i] - m - log (s);
      g_assert_true (fabs (y[i] - want) <= 2e-6 * (1 + fabs (want)));
    }
    /* in place */
    memcpy (y, x, n * sizeof (float));
    ops->softmax (y, y, n);
    for (gsize i = 0; i < n; i++)
      g_assert_true (close_to (y[i], e[i] / s, 2e-6));
    /* -inf entries get 0, a NaN poisons the row */
    if (n > 1) {
      x[0] = -INFINITY;
      ops->softmax (x, y, n);
      g_assert_cmpfloat (y[0], ==, 0.0f);
      x[n - 1] = NAN;
      ops->softmax (x, y, n);
      for (gsize i = 0; i < n; i++)
        g_assert_true (isnan (y[i]));
    }
  }
}

static void
test_softmax (void)
{
  for_each_isa (softmax_rows);
}

static void
layer_norm_rows (const CpuSimdOps *ops)
{
  static const gsize lens[] = { 1, 2, 5, 8, 15, 16, 17, 33, 256, 1001 };
  for (guint li = 0; li < G_N_ELEMENTS (lens); li++) {
    gsize n = lens[li];
    g_autofree float *x = g_new (float, n), *y = g_new (float, n);
    g_autofree float *scale = g_new (float, n), *bias = g_new (float, n);
    for (gsize i = 0; i < n; i++) {
      x[i] = (float)(sin (i * 0.9) * 3 + 100.0);
      scale[i] = 0.5f + (float)(i % 7) * 0.25f;
      bias[i] = (float)(i % 5) - 2.0f;
    }
    double mean = 0, var = 0;
    for (gsize i = 0; i < n; i++)
      mean += x[i];
    mean /= (double)n;
    for (gsize i = 0; i < n; i++)
      var += (x[i] - mean) * (x[i] - mean);
    var /= (double)n;
    double inv = 1.0 / sqrt (var + 1e-5);
    float got_mean, got_inv;
    for (guint with_bias = 0; with_bias < 2; with_bias++) {
      ops->layer_norm (x, y, n, scale, with_bias ? bias : NULL, 1e-5f, &got_mean, &got_inv);
      for (gsize i = 0; i < n; i++) {
        double want = (x[i] - mean) * inv * scale[i] + (with_bias ? bias[i] : 0);
        if (fabs (y[i] - want) > 2e-4 * (1 + fabs (want)))
          g_error ("%s layer_norm n=%zu [%zu] = %.9g, want %.9g", ops->name, n, i, y[i], want);
      }
      g_assert_cmpfloat_with_epsilon (got_mean, mean, 1e-5 * fabs (mean));
      g_assert_cmpfloat_with_epsilon (got_inv, inv, 1e-3 * inv);
    }
  }
}

static void
test_layer_norm (void)
{
  for_each_isa (layer_norm_rows);
}

static void
rnn_pieces (const CpuSimdOps *ops)
{
  static const gsize ms[] = { 1, 3, 4, 5, 9, 64, 512 };
  static const gsize ks[] = { 1, 2, 7, 8, 16, 17, 33, 128 };
  for (guint mi = 0; mi < G_N_ELEMENTS (ms); mi++)
    for (guint ki = 0; ki < G_N_ELEMENTS (ks); ki++) {
      gsize m = ms[mi], k = ks[ki], lda = k + 3;
      g_autofree float *a = g_new (float, m *lda), *x = g_new (float, k);
      g_autofree float *init = g_new (float, m), *y = g_new (float, m);
      for (gsize i = 0; i < m * lda; i++)
        a[i] = (float)sin (i * 0.31);
      for (gsize i = 0; i < k; i++)
        x[i] = (float)cos (i * 0.17);
      for (gsize j = 0; j < m; j++)
        init[j] = (float)j * 0.5f;
      for (guint with_init = 0; with_init < 2; with_init++) {
        ops->matvec (a, lda, m, x, k, with_init ? init : NULL, y);
        for (gsize j = 0; j < m; j++) {
          double want = with_init ? init[j] : 0;
          for (gsize i = 0; i < k; i++)
            want += (double)a[j * lda + i] * x[i];
          g_assert_cmpfloat_with_epsilon (y[j], want, 1e-5 * (1 + k));
        }
      }
    }

  for (gsize n = 1; n <= 40; n += 3) {
    g_autofree float *g = g_new (float, 4 * n), *g0 = g_new (float, 4 * n);
    g_autofree float *c = g_new (float, n), *h = g_new (float, n), *c0 = g_new (float, n);
    for (gsize i = 0; i < 4 * n; i++)
      g0[i] = (float)(sin (i * 1.3) * 4);
    for (gsize i = 0; i < n; i++)
      c0[i] = (float)cos (i * 0.7);
    memcpy (g, g0, 4 * n * sizeof (float));
    memcpy (c, c0, n * sizeof (float));
    ops->lstm_cell (g, c, h, n);
    for (gsize i = 0; i < n; i++) {
      double gi = ref_sigmoid (g0[i]), go = ref_sigmoid (g0[n + i]);
      double gf = ref_sigmoid (g0[2 * n + i]), gc = tanh (g0[3 * n + i]);
      double cn = gf * c0[i] + gi * gc;
      g_assert_cmpfloat_with_epsilon (c[i], cn, 1e-6 * (1 + fabs (cn)));
      g_assert_cmpfloat_with_epsilon (h[i], go * tanh (cn), 2e-6);
    }
  }
}

static void
test_rnn_pieces (void)
{
  for_each_isa (rnn_pieces);
}

/* Every vector path agrees with the portable one to a few ulps. */
static void
test_paths_agree (void)
{
  const CpuSimdOps *generic = cpu_simd_get (CPU_ISA_GENERIC);
  gsize n;
  g_autofree float *x = make_inputs (&n, -90, 90, 5003);
  g_autofree float *want = g_new (float, n), *got = g_new (float, n);
  g_assert_nonnull (generic);
  g_assert_nonnull (cpu_simd ());
  for (guint isa = CPU_ISA_AVX2; isa < CPU_ISA_N; isa++) {
    const CpuSimdOps *ops = cpu_simd_get ((CpuIsa)isa);
    if (ops == NULL)
      continue;
    for (CpuSimdUnary op = 0; op < CPU_SIMD_UN_N; op++) {
      generic->unary (op, x, want, n, 0.5f, 2.0f);
      ops->unary (op, x, got, n, 0.5f, 2.0f);
      for (gsize i = 0; i < n; i++)
        if (!close_to (got[i], want[i], 4e-7) && !(fabs (got[i] - want[i]) < 1e-37)
            && !((op == CPU_SIMD_UN_HARD_SIGMOID || op == CPU_SIMD_UN_HARD_SWISH)
                 && fabs (got[i] - want[i]) <= 1e-6 * (1 + fabs (x[i]))))
          g_error ("%s vs generic: unary %d (%.9g) = %.9g vs %.9g", ops->name, op, x[i], got[i],
                   want[i]);
    }
  }
}

/* GLIA_CPU_ISA caps the choice. */
static void
test_env_choice (void)
{
  if (g_test_subprocess ()) {
    const CpuSimdOps *ops = cpu_simd ();
    g_assert_cmpint (ops->isa, ==, CPU_ISA_GENERIC);
    return;
  }
  g_setenv ("GLIA_CPU_ISA", "generic", TRUE);
  g_test_trap_subprocess (NULL, 0, 0);
  g_unsetenv ("GLIA_CPU_ISA");
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cpu-simd/unary-functions", test_unary_functions);
  g_test_add_func ("/cpu-simd/unary-exact", test_unary_exact);
  g_test_add_func ("/cpu-simd/binary", test_binary);
  g_test_add_func ("/cpu-simd/reductions", test_reductions);
  g_test_add_func ("/cpu-simd/softmax", test_softmax);
  g_test_add_func ("/cpu-simd/layer-norm", test_layer_norm);
  g_test_add_func ("/cpu-simd/rnn-pieces", test_rnn_pieces);
  g_test_add_func ("/cpu-simd/paths-agree", test_paths_agree);
  g_test_add_func ("/cpu-simd/env-choice", test_env_choice);
  return g_test_run ();
}
