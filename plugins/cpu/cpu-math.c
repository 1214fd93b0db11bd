/* cpu-math.c: unary math and activation functions (the trigonometric and
 * hyperbolic functions and their inverses, Round, Sign, IsInf, IsNaN,
 * HardSigmoid, HardSwish, ThresholdedRelu, Selu, Celu, Softsign, Softplus,
 * Shrink), Not, and Dropout.
 *
 * As in cpu-elementwise.c, one state holds the op kind and its attributes and
 * one loop per element type runs it, with the op switch hoisted out of the
 * loop. float and double have loops of their own (tgmath.h picks the float or
 * double function); the other types (float16, bfloat16, and the integers for
 * Sign and Shrink) go through the double loop a block at a time. float32
 * HardSigmoid, HardSwish and Softsign run the vector kernels of cpu-simd.h.
 *
 * Dropout is the identity outside training. In training mode it draws one
 * uniform double per element; with a `seed` the draws are those of numpy's
 * legacy generator seeded with it (MT19937, which is GRand's generator and
 * seeding too, with numpy's 53-bit doubles), so seeded results match the ONNX
 * reference implementation.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"
#include "cpu-simd.h"

#include <string.h>
#include <tgmath.h>

#define DTYPE_BOOL   GLIA_DTYPE_BIT (GLIA_DATA_TYPE_BOOL)
#define DTYPES_FLOAT GLIA_DTYPES_FLOATS
#define DTYPES_NUM   (GLIA_DTYPES_FLOATS | GLIA_DTYPES_INTS)

/* Elements per block on the double path. */
#define MATH_BLOCK 256

/* ======================================================================== */
/* Unary                                                                     */
/* ======================================================================== */

typedef enum
{
  MATH_SIN,
  MATH_COS,
  MATH_TAN,
  MATH_ASIN,
  MATH_ACOS,
  MATH_ATAN,
  MATH_SINH,
  MATH_COSH,
  MATH_ASINH,
  MATH_ACOSH,
  MATH_ATANH,
  MATH_ROUND,
  MATH_SIGN,
  MATH_HARD_SIGMOID,
  MATH_HARD_SWISH,
  MATH_THRESHOLDED_RELU,
  MATH_SELU,
  MATH_CELU,
  MATH_SOFTSIGN,
  MATH_SOFTPLUS,
  MATH_SHRINK,
  /* bool out */
  MATH_IS_INF,
  MATH_IS_NAN,
  /* bool in and out */
  MATH_NOT,
} MathKind;

static const struct
{
  const char *name;
  MathKind kind;
  guint64 dtypes;
} math_kinds[] = {
  { "Sin", MATH_SIN, DTYPES_FLOAT },
  { "Cos", MATH_COS, DTYPES_FLOAT },
  { "Tan", MATH_TAN, DTYPES_FLOAT },
  { "Asin", MATH_ASIN, DTYPES_FLOAT },
  { "Acos", MATH_ACOS, DTYPES_FLOAT },
  { "Atan", MATH_ATAN, DTYPES_FLOAT },
  { "Sinh", MATH_SINH, DTYPES_FLOAT },
  { "Cosh", MATH_COSH, DTYPES_FLOAT },
  { "Asinh", MATH_ASINH, DTYPES_FLOAT },
  { "Acosh", MATH_ACOSH, DTYPES_FLOAT },
  { "Atanh", MATH_ATANH, DTYPES_FLOAT },
  { "Round", MATH_ROUND, DTYPES_FLOAT },
  { "Sign", MATH_SIGN, DTYPES_NUM },
  { "HardSigmoid", MATH_HARD_SIGMOID, DTYPES_FLOAT },
  { "HardSwish", MATH_HARD_SWISH, DTYPES_FLOAT },
  { "ThresholdedRelu", MATH_THRESHOLDED_RELU, DTYPES_FLOAT },
  { "Selu", MATH_SELU, DTYPES_FLOAT },
  { "Celu", MATH_CELU, DTYPES_FLOAT },
  { "Softsign", MATH_SOFTSIGN, DTYPES_FLOAT },
  { "Softplus", MATH_SOFTPLUS, DTYPES_FLOAT },
  { "Shrink", MATH_SHRINK, DTYPES_NUM },
  { "IsInf", MATH_IS_INF, DTYPES_FLOAT },
  { "IsNaN", MATH_IS_NAN, DTYPES_FLOAT },
  { "Not", MATH_NOT, DTYPE_BOOL },
};

typedef struct
{
  MathKind kind;
  guint64 dtypes;
  /* HardSigmoid alpha/beta, ThresholdedRelu, Selu, Celu alpha (Selu's gamma
   * in beta), Shrink lambd/bias in alpha/beta */
  double alpha;
  double beta;
  gboolean detect_positive;
  gboolean detect_negative;
} MathState;

static gpointer
math_create (const GliaGraph *graph, gint node, GError **error)
{
  const char *op = glia_graph_node_get_op_type (graph, node);
  MathState s = { 0 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (math_kinds); i++)
    if (g_str_equal (op, math_kinds[i].name))
      break;
  g_assert (i < G_N_ELEMENTS (math_kinds));
  s.kind = math_kinds[i].kind;
  s.dtypes = math_kinds[i].dtypes;

  switch (s.kind) {
  case MATH_HARD_SIGMOID:
    s.alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 0.2f);
    s.beta = glia_graph_node_get_attr_float (graph, node, "beta", 0.5f);
    break;
  case MATH_HARD_SWISH:
    s.alpha = 1.0 / 6.0;
    s.beta = 0.5;
    break;
  case MATH_THRESHOLDED_RELU:
    s.alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 1.0f);
    break;
  case MATH_SELU:
    s.alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 1.67326319217681884765625f);
    s.beta = glia_graph_node_get_attr_float (graph, node, "gamma", 1.05070102214813232421875f);
    break;
  case MATH_CELU:
    s.alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 1.0f);
    if (s.alpha == 0) {
      cpu_node_error (error, graph, node, "attribute 'alpha' must not be 0");
      return NULL;
    }
    break;
  case MATH_SHRINK:
    s.alpha = glia_graph_node_get_attr_float (graph, node, "lambd", 0.5f);
    s.beta = glia_graph_node_get_attr_float (graph, node, "bias", 0.0f);
    break;
  case MATH_IS_INF:
    if (!cpu_parse_flag (graph, node, "detect_positive", 1, &s.detect_positive, error)
        || !cpu_parse_flag (graph, node, "detect_negative", 1, &s.detect_negative, error))
      return NULL;
    break;
  default:
    break;
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
math_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const char *op = glia_graph_node_get_op_type (glia_shape_context_get_graph (ctx),
                                                glia_shape_context_get_node (ctx));
  gboolean bool_out = g_str_equal (op, "IsInf") || g_str_equal (op, "IsNaN");
  cpu_infer_like_input (
      ctx, 0, 0, bool_out ? GLIA_DATA_TYPE_BOOL : glia_shape_context_get_input_dtype (ctx, 0));
  return TRUE;
}

typedef struct
{
  const MathState *s;
  GliaDataType dtype;
  gconstpointer x;
  gpointer y;
} MathJob;

#define MATH_LOOP(T, EXPR)                                                                         \
  for (gsize i = begin; i < end; i++) {                                                            \
    T v = x[i];                                                                                    \
    y[i] = (EXPR);                                                                                 \
  }                                                                                                \
  break

/* The value-to-value kinds in T (float or double). */
#define DEFINE_MATH_FLOAT(NAME, T)                                                                 \
  static void NAME (const MathState *s, const T *x, T *y, gsize begin, gsize end)                  \
  {                                                                                                \
    const T alpha = (T)s->alpha, beta = (T)s->beta;                                                \
    const T zero = 0, one = 1;                                                                     \
    switch (s->kind) {                                                                             \
    case MATH_SIN:                                                                                 \
      MATH_LOOP (T, sin (v));                                                                      \
    case MATH_COS:                                                                                 \
      MATH_LOOP (T, cos (v));                                                                      \
    case MATH_TAN:                                                                                 \
      MATH_LOOP (T, tan (v));                                                                      \
    case MATH_ASIN:                                                                                \
      MATH_LOOP (T, asin (v));                                                                     \
    case MATH_ACOS:                                                                                \
      MATH_LOOP (T, acos (v));                                                                     \
    case MATH_ATAN:                                                                                \
      MATH_LOOP (T, atan (v));                                                                     \
    case MATH_SINH:                                                                                \
      MATH_LOOP (T, sinh (v));                                                                     \
    case MATH_COSH:                                                                                \
      MATH_LOOP (T, cosh (v));                                                                     \
    case MATH_ASINH:                                                                               \
      MATH_LOOP (T, asinh (v));                                                                    \
    case MATH_ACOSH:                                                                               \
      MATH_LOOP (T, acosh (v));                                                                    \
    case MATH_ATANH:                                                                               \
      MATH_LOOP (T, atanh (v));                                                                    \
    case MATH_ROUND:                                                                               \
      /* the default rounding mode rounds halves to even */                                        \
      MATH_LOOP (T, nearbyint (v));                                                                \
    case MATH_SIGN:                                                                                \
      /* zeros and NaN are their own sign */                                                       \
      MATH_LOOP (T, v > zero ? one : v < zero ? -one : v);                                         \
    case MATH_HARD_SIGMOID:                                                                        \
    case MATH_HARD_SWISH: {                                                                        \
      /* NaN falls through both comparisons */                                                     \
      gboolean swish = s->kind == MATH_HARD_SWISH;                                                 \
      for (gsize i = begin; i < end; i++) {                                                        \
        T v = x[i], t = alpha * v + beta;                                                          \
        t = t < zero ? zero : t > one ? one : t;                                                   \
        y[i] = swish ? v * t : t;                                                                  \
      }                                                                                            \
      break;                                                                                       \
    }                                                                                              \
    case MATH_THRESHOLDED_RELU:                                                                    \
      MATH_LOOP (T, v > alpha ? v : zero);                                                         \
    case MATH_SELU:                                                                                \
      MATH_LOOP (T, v > zero ? beta * v : beta * alpha * expm1 (v));                               \
    case MATH_CELU:                                                                                \
      MATH_LOOP (T, v > zero ? v : alpha * expm1 (v / alpha));                                     \
    case MATH_SOFTSIGN:                                                                            \
      MATH_LOOP (T, v / (one + fabs (v)));                                                         \
    case MATH_SOFTPLUS:                                                                            \
      /* log (1 + exp (v)) without overflowing exp */                                              \
      MATH_LOOP (T, v > zero ? v + log1p (exp (-v)) : log1p (exp (v)));                            \
    case MATH_SHRINK:                                                                              \
      MATH_LOOP (T, (v < -alpha) ? v + beta : (v > alpha) ? v - beta : zero);                      \
    default:                                                                                       \
      g_assert_not_reached ();                                                                     \
    }                                                                                              \
  }

DEFINE_MATH_FLOAT (math_f32, float)
DEFINE_MATH_FLOAT (math_f64, double)

/* IsInf / IsNaN on doubles. */
static void
classify (const MathState *s, const double *x, guint8 *y, gsize n)
{
  if (s->kind == MATH_IS_NAN)
    for (gsize i = 0; i < n; i++)
      y[i] = isnan (x[i]);
  else
    for (gsize i = 0; i < n; i++)
      y[i] = (s->detect_positive && x[i] == INFINITY) || (s->detect_negative && x[i] == -INFINITY);
}

static void
math_chunk (gsize begin, gsize end, gpointer user_data)
{
  const MathJob *job = user_data;
  const MathState *s = job->s;
  gsize size = glia_data_type_get_size (job->dtype);
  const guint8 *x = job->x;
  guint8 *y = job->y;

  if (s->kind == MATH_NOT) {
    for (gsize i = begin; i < end; i++)
      y[i] = !x[i];
    return;
  }
  gboolean bool_out = s->kind == MATH_IS_INF || s->kind == MATH_IS_NAN;
  if (!bool_out && job->dtype == GLIA_DATA_TYPE_FLOAT) {
    const float *fx = (const float *)job->x + begin;
    float *fy = (float *)job->y + begin;
    switch (s->kind) {
    case MATH_HARD_SIGMOID:
      cpu_simd ()->unary (CPU_SIMD_UN_HARD_SIGMOID, fx, fy, end - begin, (float)s->alpha,
                          (float)s->beta);
      return;
    case MATH_HARD_SWISH:
      cpu_simd ()->unary (CPU_SIMD_UN_HARD_SWISH, fx, fy, end - begin, 0.0f, 0.0f);
      return;
    case MATH_SOFTSIGN:
      cpu_simd ()->unary (CPU_SIMD_UN_SOFTSIGN, fx, fy, end - begin, 0.0f, 0.0f);
      return;
    default:
      math_f32 (s, job->x, job->y, begin, end);
      return;
    }
  }
  if (!bool_out && job->dtype == GLIA_DATA_TYPE_DOUBLE) {
    math_f64 (s, job->x, job->y, begin, end);
    return;
  }
  double buf[MATH_BLOCK];
  for (gsize i = begin; i < end; i += MATH_BLOCK) {
    gsize n = MIN (MATH_BLOCK, end - i);
    cpu_load_doubles (job->dtype, x + i * size, buf, n);
    if (bool_out)
      classify (s, buf, y + i, n);
    else {
      math_f64 (s, buf, buf, 0, n);
      cpu_store_doubles (job->dtype, buf, y + i * size, n);
    }
  }
}

static gboolean
math_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const MathState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !cpu_check_dtype (ctx, x, s->dtypes, NULL, error))
    return FALSE;
  GliaDataType out_dtype
      = s->kind == MATH_IS_INF || s->kind == MATH_IS_NAN ? GLIA_DATA_TYPE_BOOL : x->dtype;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, out_dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  MathJob job = { s, x->dtype, x->data, y->data };
  glia_kernel_context_parallel_for (ctx, x->n_elements, CPU_GRAIN / 4, math_chunk, &job);
  return TRUE;
}

/* ======================================================================== */
/* Dropout                                                                   */
/* ======================================================================== */

typedef struct
{
  /* opset 12 moved ratio and training mode from attributes to inputs */
  gboolean ratio_from_input;
  double ratio;
  /* before opset 7, is_test = 0 asked for training */
  gboolean training;
  /* opset 10 made the mask bool (it had X's type) */
  gboolean bool_mask;
  gboolean seeded;
  guint32 seed;
} DropoutState;

static gboolean
ratio_ok (double r)
{
  return r >= 0 && r < 1;
}

static gpointer
dropout_create (const GliaGraph *graph, gint node, GError **error)
{
  gint opset = glia_graph_node_get_opset (graph, node);
  DropoutState s = { 0 };
  s.ratio_from_input = opset >= 12;
  s.bool_mask = opset >= 10;
  s.ratio = 0.5;
  if (!s.ratio_from_input) {
    s.ratio = glia_graph_node_get_attr_float (graph, node, "ratio", 0.5f);
    if (!ratio_ok (s.ratio)) {
      cpu_node_error (error, graph, node, "attribute 'ratio' must be in [0, 1), got %g", s.ratio);
      return NULL;
    }
  }
  if (opset < 7) {
    gboolean is_test;
    if (!cpu_parse_flag (graph, node, "is_test", 0, &is_test, error))
      return NULL;
    s.training = !is_test;
  }
  if (glia_graph_node_has_attr (graph, node, "seed")) {
    s.seeded = TRUE;
    s.seed = (guint32)glia_graph_node_get_attr_int (graph, node, "seed", 0);
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
dropout_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint opset = glia_graph_node_get_opset (glia_shape_context_get_graph (ctx),
                                          glia_shape_context_get_node (ctx));
  cpu_infer_like_input (ctx, 0, 0, dtype);
  if (glia_shape_context_get_n_outputs (ctx) > 1)
    cpu_infer_like_input (ctx, 1, 0, opset >= 10 ? GLIA_DATA_TYPE_BOOL : dtype);
  return TRUE;
}

/* A uniform double in [0, 1) from two 32-bit draws, as numpy makes them. */
static double
uniform_double (GRand *rand)
{
  guint32 a = g_rand_int (rand) >> 5;
  guint32 b = g_rand_int (rand) >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

/* Reads optional scalar input @i of a dtype in @mask as a double; FALSE with
 * @error if it is not one. Leaves @out alone when the input is absent. */
static gboolean
read_scalar (GliaKernelContext *ctx, guint i, const char *what, guint64 mask, double *out,
             GError **error)
{
  const GliaTensorView *v
      = i < glia_kernel_context_get_n_inputs (ctx) ? glia_kernel_context_get_input (ctx, i) : NULL;
  if (v == NULL)
    return TRUE;
  if (!cpu_dtype_in (v->dtype, mask) || v->n_elements != 1) {
    g_autofree char *dims = cpu_dims_to_string (v->rank, v->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s must be a scalar, got %s %s",
                      what, glia_data_type_get_name (v->dtype), dims);
    return FALSE;
  }
  cpu_load_doubles (v->dtype, v->data, out, 1);
  return TRUE;
}

static gboolean
dropout_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const DropoutState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !cpu_check_dtype (ctx, x, DTYPES_FLOAT, NULL, error))
    return FALSE;

  double ratio = s->ratio, training = s->training;
  if (s->ratio_from_input) {
    if (!read_scalar (ctx, 1, "ratio", DTYPES_FLOAT, &ratio, error)
        || !read_scalar (ctx, 2, "training_mode", DTYPE_BOOL, &training, error))
      return FALSE;
    if (!ratio_ok (ratio)) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "ratio must be in [0, 1), got %g",
                        ratio);
      return FALSE;
    }
  }

  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  GliaTensorView *mask = NULL;
  if (cpu_kernel_has_output (ctx, 1)) {
    GliaDataType mask_dtype = s->bool_mask ? GLIA_DATA_TYPE_BOOL : x->dtype;
    mask = glia_kernel_context_allocate_output (ctx, 1, mask_dtype, x->rank, x->dims, error);
    if (mask == NULL)
      return FALSE;
  }
  gsize size = glia_data_type_get_size (x->dtype);
  gsize mask_size = mask ? glia_data_type_get_size (mask->dtype) : 0;

  if (training == 0 || ratio == 0) {
    if (x->n_bytes)
      memcpy (y->data, x->data, x->n_bytes);
    if (mask) {
      double one[MATH_BLOCK];
      for (gsize i = 0; i < MATH_BLOCK; i++)
        one[i] = 1;
      for (gsize i = 0; i < x->n_elements; i += MATH_BLOCK)
        cpu_store_doubles (mask->dtype, one, (guint8 *)mask->data + i * mask_size,
                           MIN (MATH_BLOCK, x->n_elements - i));
    }
    return TRUE;
  }

  /* The draws are sequential so that a seed gives one answer. */
  g_autoptr (GRand) rand = s->seeded ? g_rand_new_with_seed (s->seed) : g_rand_new ();
  double scale = 1.0 / (1.0 - ratio);
  double v[MATH_BLOCK], keep[MATH_BLOCK];
  for (gsize i = 0; i < x->n_elements; i += MATH_BLOCK) {
    gsize n = MIN (MATH_BLOCK, x->n_elements - i);
    cpu_load_doubles (x->dtype, (const guint8 *)x->data + i * size, v, n);
    for (gsize j = 0; j < n; j++) {
      keep[j] = uniform_double (rand) >= ratio;
      v[j] = keep[j] != 0 ? v[j] * scale : 0;
    }
    cpu_store_doubles (x->dtype, v, (guint8 *)y->data + i * size, n);
    if (mask)
      cpu_store_doubles (mask->dtype, keep, (guint8 *)mask->data + i * mask_size, n);
  }
  return TRUE;
}

/* ======================================================================== */
/* Op defs                                                                   */
/* ======================================================================== */

#define MATH_DEF(NAME, SINCE, DTYPES)                                                              \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = G_MAXINT, .dtypes = DTYPES, .infer_shapes = math_infer_shapes,                \
    .create = math_create, .compute = math_compute, .destroy = g_free,                             \
  }

static const GliaOpDef math_ops[] = {
  MATH_DEF ("Sin", 7, DTYPES_FLOAT),
  MATH_DEF ("Cos", 7, DTYPES_FLOAT),
  MATH_DEF ("Tan", 7, DTYPES_FLOAT),
  MATH_DEF ("Asin", 7, DTYPES_FLOAT),
  MATH_DEF ("Acos", 7, DTYPES_FLOAT),
  MATH_DEF ("Atan", 7, DTYPES_FLOAT),
  MATH_DEF ("Sinh", 9, DTYPES_FLOAT),
  MATH_DEF ("Cosh", 9, DTYPES_FLOAT),
  MATH_DEF ("Asinh", 9, DTYPES_FLOAT),
  MATH_DEF ("Acosh", 9, DTYPES_FLOAT),
  MATH_DEF ("Atanh", 9, DTYPES_FLOAT),
  MATH_DEF ("Round", 11, DTYPES_FLOAT),
  MATH_DEF ("Sign", 9, DTYPES_NUM),
  /* opset 1 of these differs only by the consumed_inputs attribute */
  MATH_DEF ("HardSigmoid", 1, DTYPES_FLOAT),
  MATH_DEF ("HardSwish", 14, DTYPES_FLOAT),
  MATH_DEF ("ThresholdedRelu", 10, DTYPES_FLOAT),
  MATH_DEF ("Selu", 1, DTYPES_FLOAT),
  MATH_DEF ("Celu", 12, DTYPES_FLOAT),
  MATH_DEF ("Softsign", 1, DTYPES_FLOAT),
  MATH_DEF ("Softplus", 1, DTYPES_FLOAT),
  MATH_DEF ("Shrink", 9, DTYPES_NUM),
  MATH_DEF ("IsInf", 10, DTYPES_FLOAT),
  MATH_DEF ("IsNaN", 9, DTYPES_FLOAT),
  MATH_DEF ("Not", 1, DTYPE_BOOL),
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "Dropout",
      .since_version = 1,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_FLOAT,
      .infer_shapes = dropout_infer_shapes,
      .create = dropout_create,
      .compute = dropout_compute,
      .destroy = g_free,
  },
};

void
cpu_math_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (math_ops); i++)
    glia_op_table_add (table, &math_ops[i]);
}
