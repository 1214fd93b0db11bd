/* cpu-elementwise.c: unary, binary and ternary elementwise operators.
 *
 * Unary ops share one state (the op kind and its attributes) and one loop per
 * element type, with the op switch hoisted out of the loop. Binary ops
 * (arithmetic, Mod, BitShift, PRelu, comparisons, logic) broadcast
 * numpy-style through CpuBroadcast: the output is walked in rows whose inputs
 * advance by 0 or 1, and a row function per (op, type) has specialised loops
 * for each of the four stride combinations so the common cases vectorise.
 * The variadic ops (Max, Min, Sum, Mean) fold their inputs pairwise into the
 * output; Where moves bytes by element size. Cast converts through a double
 * (when a float type is involved) or a 64-bit integer, a block at a time.
 *
 * float32 unary ops and the arithmetic rows (Add, Sub, Mul, Div, Max, Min)
 * run the vector kernels of cpu-simd.h, chosen at run time for the CPU.
 *
 * float16 and bfloat16 have no arithmetic of their own: their unary loops and
 * row functions convert a block at a time to float32, run the float32 code
 * and convert the result back.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"
#include "cpu-simd.h"

#include <float.h>
#include <string.h>
#include <tgmath.h>

#define DTYPE_I32  GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32)
#define DTYPE_I64  GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64)
#define DTYPE_BOOL GLIA_DTYPE_BIT (GLIA_DATA_TYPE_BOOL)
/* float, double, float16 and bfloat16 */
#define DTYPES_FLOAT GLIA_DTYPES_FLOATS
#define DTYPES_SINT                                                                                \
  (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT8) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT16) | DTYPE_I32        \
   | DTYPE_I64)
#define DTYPES_UINT                                                                                \
  (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT8) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT16)                  \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT64))
/* the four float types and the eight integer types */
#define DTYPES_NUM   (DTYPES_FLOAT | GLIA_DTYPES_INTS)
#define DTYPES_BYTES (GLIA_DTYPES_ALL & ~GLIA_DTYPE_BIT (GLIA_DATA_TYPE_STRING))
/* what the conversion helpers read and write */
#define DTYPES_CAST_NUM (GLIA_DTYPES_FLOATS | GLIA_DTYPES_INTS)

/* ======================================================================== */
/* Element conversions (Cast, Clip bounds, Pow exponents)                    */
/* ======================================================================== */

static gboolean
is_float_type (GliaDataType t)
{
  return cpu_dtype_in (t, GLIA_DTYPES_FLOATS);
}

#define CAST_BLOCK 512

/* Integer <-> int64 conversions; the double ones are cpu_load_doubles() and
 * cpu_store_doubles(). */
#define LOAD_CASE(ENUM, T, DST, CONV)                                                              \
  case ENUM:                                                                                       \
    for (gsize i = 0; i < n; i++)                                                                  \
      DST[i] = CONV (((const T *)src)[i]);                                                         \
    break

#define IDENT(x) (x)

static void
load_ints (GliaDataType dtype, gconstpointer src, gint64 *dst, gsize n)
{
  switch (dtype) {
    LOAD_CASE (GLIA_DATA_TYPE_INT8, gint8, dst, IDENT);
    LOAD_CASE (GLIA_DATA_TYPE_INT16, gint16, dst, IDENT);
    LOAD_CASE (GLIA_DATA_TYPE_INT32, gint32, dst, IDENT);
    LOAD_CASE (GLIA_DATA_TYPE_INT64, gint64, dst, IDENT);
    LOAD_CASE (GLIA_DATA_TYPE_UINT8, guint8, dst, IDENT);
    LOAD_CASE (GLIA_DATA_TYPE_UINT16, guint16, dst, IDENT);
    LOAD_CASE (GLIA_DATA_TYPE_UINT32, guint32, dst, IDENT);
    LOAD_CASE (GLIA_DATA_TYPE_UINT64, guint64, dst, (gint64));
    LOAD_CASE (GLIA_DATA_TYPE_BOOL, guint8, dst, !!);
  default:
    g_assert_not_reached ();
  }
}

#define STORE_CASE(ENUM, T, CONV)                                                                  \
  case ENUM:                                                                                       \
    for (gsize i = 0; i < n; i++)                                                                  \
      ((T *)dst)[i] = CONV (src[i]);                                                               \
    break

/* Integer to integer wraps modulo 2^bits, as C conversions do. */
static void
store_ints (GliaDataType dtype, const gint64 *src, gpointer dst, gsize n)
{
  switch (dtype) {
    STORE_CASE (GLIA_DATA_TYPE_INT8, gint8, (gint8));
    STORE_CASE (GLIA_DATA_TYPE_INT16, gint16, (gint16));
    STORE_CASE (GLIA_DATA_TYPE_INT32, gint32, (gint32));
    STORE_CASE (GLIA_DATA_TYPE_INT64, gint64, IDENT);
    STORE_CASE (GLIA_DATA_TYPE_UINT8, guint8, (guint8));
    STORE_CASE (GLIA_DATA_TYPE_UINT16, guint16, (guint16));
    STORE_CASE (GLIA_DATA_TYPE_UINT32, guint32, (guint32));
    STORE_CASE (GLIA_DATA_TYPE_UINT64, guint64, (guint64));
    STORE_CASE (GLIA_DATA_TYPE_BOOL, guint8, 0 !=);
  default:
    g_assert_not_reached ();
  }
}

/* float16 and bfloat16 go through float32 a block at a time. */
#define HALF_BLOCK 256

static void
halves_to_floats (gboolean bf16, const guint16 *src, float *dst, gsize n)
{
  if (bf16)
    for (gsize i = 0; i < n; i++)
      dst[i] = cpu_bfloat16_to_float (src[i]);
  else
    for (gsize i = 0; i < n; i++)
      dst[i] = cpu_half_to_float (src[i]);
}

static void
floats_to_halves (gboolean bf16, const float *src, guint16 *dst, gsize n)
{
  if (bf16)
    for (gsize i = 0; i < n; i++)
      dst[i] = cpu_float_to_bfloat16 (src[i]);
  else
    for (gsize i = 0; i < n; i++)
      dst[i] = cpu_float_to_half (src[i]);
}

/* ======================================================================== */
/* Unary                                                                     */
/* ======================================================================== */

typedef enum
{
  UN_RELU,
  UN_SIGMOID,
  UN_TANH,
  UN_EXP,
  UN_LOG,
  UN_SQRT,
  UN_NEG,
  UN_ABS,
  UN_RECIPROCAL,
  UN_FLOOR,
  UN_CEIL,
  UN_ERF,
  UN_LEAKY_RELU,
  UN_ELU,
  UN_CLIP,
} UnaryKind;

static const struct
{
  const char *name;
  UnaryKind kind;
  guint64 dtypes;
} unary_kinds[] = {
  { "Relu", UN_RELU, DTYPES_FLOAT | DTYPES_SINT },
  { "Sigmoid", UN_SIGMOID, DTYPES_FLOAT },
  { "Tanh", UN_TANH, DTYPES_FLOAT },
  { "Exp", UN_EXP, DTYPES_FLOAT },
  { "Log", UN_LOG, DTYPES_FLOAT },
  { "Sqrt", UN_SQRT, DTYPES_FLOAT },
  { "Neg", UN_NEG, DTYPES_FLOAT | DTYPES_SINT },
  { "Abs", UN_ABS, DTYPES_NUM },
  { "Reciprocal", UN_RECIPROCAL, DTYPES_FLOAT },
  { "Floor", UN_FLOOR, DTYPES_FLOAT },
  { "Ceil", UN_CEIL, DTYPES_FLOAT },
  { "Erf", UN_ERF, DTYPES_FLOAT },
  { "LeakyRelu", UN_LEAKY_RELU, DTYPES_FLOAT },
  { "Elu", UN_ELU, DTYPES_FLOAT },
  { "Clip", UN_CLIP, DTYPES_NUM },
};

typedef struct
{
  UnaryKind kind;
  guint64 dtypes;
  double alpha;
  /* Clip before opset 11: bounds from attributes. */
  gboolean clip_attrs;
  double clip_min;
  double clip_max;
} UnaryState;

static gpointer
unary_create (const GliaGraph *graph, gint node, GError **error)
{
  const char *op = glia_graph_node_get_op_type (graph, node);
  UnaryState *s = g_new0 (UnaryState, 1);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (unary_kinds); i++)
    if (g_str_equal (op, unary_kinds[i].name))
      break;
  g_assert (i < G_N_ELEMENTS (unary_kinds));
  s->kind = unary_kinds[i].kind;
  s->dtypes = unary_kinds[i].dtypes;

  switch (s->kind) {
  case UN_LEAKY_RELU:
    s->alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 0.01f);
    break;
  case UN_ELU:
    s->alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 1.0f);
    break;
  case UN_CLIP:
    if (glia_graph_node_get_opset (graph, node) < 11) {
      s->clip_attrs = TRUE;
      s->clip_min = glia_graph_node_get_attr_float (graph, node, "min", -FLT_MAX);
      s->clip_max = glia_graph_node_get_attr_float (graph, node, "max", FLT_MAX);
      if (isnan (s->clip_min) || isnan (s->clip_max)) {
        cpu_node_error (error, graph, node, "attributes 'min' and 'max' must not be NaN");
        g_free (s);
        return NULL;
      }
    }
    break;
  default:
    break;
  }
  return s;
}

typedef struct
{
  const UnaryState *s;
  gconstpointer x;
  gpointer y;
  GliaDataType dtype;
  /* Clip bounds in the element type's domain. */
  double lo, hi;
  gint64 ilo, ihi;
} UnaryJob;

#define UNARY_LOOP(T, EXPR)                                                                        \
  for (gsize i = begin; i < end; i++) {                                                            \
    T v = x[i];                                                                                    \
    y[i] = (EXPR);                                                                                 \
  }                                                                                                \
  break

/* tgmath.h picks the float or double function from T. */
#define DEFINE_UNARY_FLOAT(NAME, T)                                                                \
  static void NAME (const UnaryJob *job, gsize begin, gsize end)                                   \
  {                                                                                                \
    const T *x = job->x;                                                                           \
    T *y = job->y;                                                                                 \
    const T alpha = (T)job->s->alpha, lo = (T)job->lo, hi = (T)job->hi;                            \
    const T one = 1, zero = 0;                                                                     \
    switch (job->s->kind) {                                                                        \
    case UN_RELU:                                                                                  \
      UNARY_LOOP (T, v > zero ? v : zero);                                                         \
    case UN_SIGMOID:                                                                               \
      /* written so that exp never overflows */                                                    \
      UNARY_LOOP (T, v >= zero ? one / (one + exp (-v)) : exp (v) / (one + exp (v)));              \
    case UN_TANH:                                                                                  \
      UNARY_LOOP (T, tanh (v));                                                                    \
    case UN_EXP:                                                                                   \
      UNARY_LOOP (T, exp (v));                                                                     \
    case UN_LOG:                                                                                   \
      UNARY_LOOP (T, log (v));                                                                     \
    case UN_SQRT:                                                                                  \
      UNARY_LOOP (T, sqrt (v));                                                                    \
    case UN_NEG:                                                                                   \
      UNARY_LOOP (T, -v);                                                                          \
    case UN_ABS:                                                                                   \
      UNARY_LOOP (T, fabs (v));                                                                    \
    case UN_RECIPROCAL:                                                                            \
      UNARY_LOOP (T, one / v);                                                                     \
    case UN_FLOOR:                                                                                 \
      UNARY_LOOP (T, floor (v));                                                                   \
    case UN_CEIL:                                                                                  \
      UNARY_LOOP (T, ceil (v));                                                                    \
    case UN_ERF:                                                                                   \
      UNARY_LOOP (T, erf (v));                                                                     \
    case UN_LEAKY_RELU:                                                                            \
      UNARY_LOOP (T, v >= zero ? v : alpha * v);                                                   \
    case UN_ELU:                                                                                   \
      UNARY_LOOP (T, v >= zero ? v : alpha * (exp (v) - one));                                     \
    case UN_CLIP:                                                                                  \
      UNARY_LOOP (T, v < lo ? lo : (v > hi ? hi : v));                                             \
    }                                                                                              \
  }

DEFINE_UNARY_FLOAT (unary_f32_scalar, float)
DEFINE_UNARY_FLOAT (unary_f64, double)

static const CpuSimdUnary unary_simd_ops[] = {
  [UN_RELU] = CPU_SIMD_UN_RELU,
  [UN_SIGMOID] = CPU_SIMD_UN_SIGMOID,
  [UN_TANH] = CPU_SIMD_UN_TANH,
  [UN_EXP] = CPU_SIMD_UN_EXP,
  [UN_LOG] = CPU_SIMD_UN_LOG,
  [UN_SQRT] = CPU_SIMD_UN_SQRT,
  [UN_NEG] = CPU_SIMD_UN_NEG,
  [UN_ABS] = CPU_SIMD_UN_ABS,
  [UN_RECIPROCAL] = CPU_SIMD_UN_RECIPROCAL,
  [UN_FLOOR] = CPU_SIMD_UN_FLOOR,
  [UN_CEIL] = CPU_SIMD_UN_CEIL,
  [UN_ERF] = CPU_SIMD_UN_ERF,
  [UN_LEAKY_RELU] = CPU_SIMD_UN_LEAKY_RELU,
  [UN_ELU] = CPU_SIMD_UN_ELU,
  [UN_CLIP] = CPU_SIMD_UN_CLIP,
};

/* float32: the vector kernels; Clip's bounds in alpha and beta. */
static void
unary_f32 (const UnaryJob *job, gsize begin, gsize end)
{
  const float *x = job->x;
  float *y = job->y;
  UnaryKind k = job->s->kind;
  if (k == UN_CLIP && (isnan (job->lo) || isnan (job->hi))) {
    unary_f32_scalar (job, begin, end);
    return;
  }
  float alpha = k == UN_CLIP ? (float)job->lo : (float)job->s->alpha;
  float beta = k == UN_CLIP ? (float)job->hi : 0.0f;
  cpu_simd ()->unary (unary_simd_ops[k], x + begin, y + begin, end - begin, alpha, beta);
}

/* Integer kinds: Relu, Neg, Abs, Clip on signed types (Abs and Clip on
 * unsigned ones). Negation goes through the wide unsigned type WT so it wraps
 * like two's complement (-INT_MIN is INT_MIN) instead of overflowing. */
#define DEFINE_UNARY_SINT(NAME, T, WT)                                                             \
  static void NAME (const UnaryJob *job, gsize begin, gsize end)                                   \
  {                                                                                                \
    const T *x = job->x;                                                                           \
    T *y = job->y;                                                                                 \
    const T lo = (T)job->ilo, hi = (T)job->ihi;                                                    \
    switch (job->s->kind) {                                                                        \
    case UN_RELU:                                                                                  \
      UNARY_LOOP (T, v > 0 ? v : 0);                                                               \
    case UN_NEG:                                                                                   \
      UNARY_LOOP (T, (T)(0 - (WT)v));                                                              \
    case UN_ABS:                                                                                   \
      UNARY_LOOP (T, v < 0 ? (T)(0 - (WT)v) : v);                                                  \
    case UN_CLIP:                                                                                  \
      UNARY_LOOP (T, v < lo ? lo : (v > hi ? hi : v));                                             \
    default:                                                                                       \
      g_assert_not_reached ();                                                                     \
    }                                                                                              \
  }

#define DEFINE_UNARY_UINT(NAME, T)                                                                 \
  static void NAME (const UnaryJob *job, gsize begin, gsize end)                                   \
  {                                                                                                \
    const T *x = job->x;                                                                           \
    T *y = job->y;                                                                                 \
    const T lo = (T)job->ilo, hi = (T)job->ihi;                                                    \
    switch (job->s->kind) {                                                                        \
    case UN_ABS:                                                                                   \
      UNARY_LOOP (T, v);                                                                           \
    case UN_CLIP:                                                                                  \
      UNARY_LOOP (T, v < lo ? lo : (v > hi ? hi : v));                                             \
    default:                                                                                       \
      g_assert_not_reached ();                                                                     \
    }                                                                                              \
  }

DEFINE_UNARY_SINT (unary_i8, gint8, guint32)
DEFINE_UNARY_SINT (unary_i16, gint16, guint32)
DEFINE_UNARY_SINT (unary_i32, gint32, guint32)
DEFINE_UNARY_SINT (unary_i64, gint64, guint64)
DEFINE_UNARY_UINT (unary_u8, guint8)
DEFINE_UNARY_UINT (unary_u16, guint16)
DEFINE_UNARY_UINT (unary_u32, guint32)
DEFINE_UNARY_UINT (unary_u64, guint64)

static void
unary_half (const UnaryJob *job, gsize begin, gsize end)
{
  gboolean bf16 = job->dtype == GLIA_DATA_TYPE_BFLOAT16;
  const guint16 *x = job->x;
  guint16 *y = job->y;
  float buf[HALF_BLOCK];
  UnaryJob fjob = *job;
  fjob.x = buf;
  fjob.y = buf;
  fjob.dtype = GLIA_DATA_TYPE_FLOAT;
  for (gsize i = begin; i < end; i += HALF_BLOCK) {
    gsize n = MIN (HALF_BLOCK, end - i);
    halves_to_floats (bf16, x + i, buf, n);
    unary_f32 (&fjob, 0, n);
    floats_to_halves (bf16, buf, y + i, n);
  }
}

typedef void (*UnaryFunc) (const UnaryJob *job, gsize begin, gsize end);

static void
unary_chunk (gsize begin, gsize end, gpointer user_data)
{
  const UnaryJob *job = user_data;
  UnaryFunc fn = NULL;
  switch (job->dtype) {
  case GLIA_DATA_TYPE_FLOAT:
    fn = unary_f32;
    break;
  case GLIA_DATA_TYPE_DOUBLE:
    fn = unary_f64;
    break;
  case GLIA_DATA_TYPE_FLOAT16:
  case GLIA_DATA_TYPE_BFLOAT16:
    fn = unary_half;
    break;
  case GLIA_DATA_TYPE_INT8:
    fn = unary_i8;
    break;
  case GLIA_DATA_TYPE_INT16:
    fn = unary_i16;
    break;
  case GLIA_DATA_TYPE_INT32:
    fn = unary_i32;
    break;
  case GLIA_DATA_TYPE_INT64:
    fn = unary_i64;
    break;
  case GLIA_DATA_TYPE_UINT8:
    fn = unary_u8;
    break;
  case GLIA_DATA_TYPE_UINT16:
    fn = unary_u16;
    break;
  case GLIA_DATA_TYPE_UINT32:
    fn = unary_u32;
    break;
  case GLIA_DATA_TYPE_UINT64:
    fn = unary_u64;
    break;
  default:
    g_assert_not_reached ();
  }
  fn (job, begin, end);
}

/* The range of an integer type, as gint64 (G_MAXUINT64 wraps to -1 and
 * converts back exactly). */
static void
int_limits (GliaDataType dtype, gint64 *lo, gint64 *hi)
{
  switch (dtype) {
  case GLIA_DATA_TYPE_INT8:
    *lo = G_MININT8, *hi = G_MAXINT8;
    break;
  case GLIA_DATA_TYPE_INT16:
    *lo = G_MININT16, *hi = G_MAXINT16;
    break;
  case GLIA_DATA_TYPE_INT32:
    *lo = G_MININT32, *hi = G_MAXINT32;
    break;
  case GLIA_DATA_TYPE_UINT8:
    *lo = 0, *hi = G_MAXUINT8;
    break;
  case GLIA_DATA_TYPE_UINT16:
    *lo = 0, *hi = G_MAXUINT16;
    break;
  case GLIA_DATA_TYPE_UINT32:
    *lo = 0, *hi = G_MAXUINT32;
    break;
  case GLIA_DATA_TYPE_UINT64:
    *lo = 0, *hi = (gint64)G_MAXUINT64;
    break;
  default:
    *lo = G_MININT64, *hi = G_MAXINT64;
    break;
  }
}

/* Reads an optional scalar Clip bound (input @i) into @d / @l. */
static gboolean
read_clip_bound (GliaKernelContext *ctx, guint i, GliaDataType dtype, double *d, gint64 *l,
                 GError **error)
{
  const GliaTensorView *v
      = i < glia_kernel_context_get_n_inputs (ctx) ? glia_kernel_context_get_input (ctx, i) : NULL;
  if (v == NULL)
    return TRUE;
  if (v->dtype != dtype || v->n_elements != 1) {
    g_autofree char *dims = cpu_dims_to_string (v->rank, v->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "input %u (%s) must be a %s scalar, got %s %s", i, i == 1 ? "min" : "max",
                      glia_data_type_get_name (dtype), glia_data_type_get_name (v->dtype), dims);
    return FALSE;
  }
  if (is_float_type (dtype))
    cpu_load_doubles (dtype, v->data, d, 1);
  else
    load_ints (dtype, v->data, l, 1);
  return TRUE;
}

static gboolean
unary_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const UnaryState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !cpu_check_dtype (ctx, x, s->dtypes, NULL, error))
    return FALSE;

  UnaryJob job = { s, x->data, NULL, x->dtype, -INFINITY, INFINITY, 0, 0 };
  int_limits (x->dtype, &job.ilo, &job.ihi);
  if (s->kind == UN_CLIP) {
    if (s->clip_attrs) {
      job.lo = s->clip_min;
      job.hi = s->clip_max;
      job.ilo = (gint64)CLAMP (s->clip_min, (double)G_MININT64, (double)G_MAXINT64);
      job.ihi = (gint64)CLAMP (s->clip_max, (double)G_MININT64, (double)G_MAXINT64);
    } else if (!read_clip_bound (ctx, 1, x->dtype, &job.lo, &job.ilo, error)
               || !read_clip_bound (ctx, 2, x->dtype, &job.hi, &job.ihi, error))
      return FALSE;
  }

  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  job.y = y->data;
  glia_kernel_context_parallel_for (ctx, x->n_elements, CPU_GRAIN / 4, unary_chunk, &job);
  return TRUE;
}

/* ---- Identity ----------------------------------------------------------- */

static gboolean
identity_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !cpu_check_dtype (ctx, x, DTYPES_BYTES, NULL, error))
    return FALSE;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  if (x->n_bytes)
    memcpy (y->data, x->data, x->n_bytes);
  return TRUE;
}

/* ======================================================================== */
/* Cast                                                                      */
/* ======================================================================== */

#define DTYPES_CAST (GLIA_DTYPES_FLOATS | GLIA_DTYPES_INTS | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_BOOL))

typedef struct
{
  GliaDataType to;
  /* float to bfloat16 drops the low mantissa bits instead of rounding */
  gboolean truncate_bf16;
} CastState;

/* String casts belong to cpu-string.c, registered after this file: leave
 * them to it. */
static gboolean
cast_supports (const GliaGraph *graph, gint node)
{
  if (glia_graph_node_get_attr_int (graph, node, "to", 0) == GLIA_DATA_TYPE_STRING)
    return FALSE;
  return glia_graph_node_get_n_inputs (graph, node) == 0
         || glia_graph_value_get_dtype (graph, glia_graph_node_get_input (graph, node, 0))
                != GLIA_DATA_TYPE_STRING;
}

static gpointer
cast_create (const GliaGraph *graph, gint node, GError **error)
{
  if (glia_graph_node_get_attr_type (graph, node, "to") != GLIA_ATTR_INT) {
    cpu_node_error (error, graph, node, "attribute 'to' (an element type) is required");
    return NULL;
  }
  gint64 to = glia_graph_node_get_attr_int (graph, node, "to", 0);
  if (to <= 0 || to > GLIA_DATA_TYPE_LAST || !cpu_dtype_in ((GliaDataType)to, DTYPES_CAST)) {
    cpu_node_error (error, graph, node,
                    "attribute 'to' = %" G_GINT64_FORMAT
                    " is not a numeric or boolean element type this provider can cast to",
                    to);
    return NULL;
  }
  CastState *s = g_new0 (CastState, 1);
  s->to = (GliaDataType)to;
  /* The ONNX reference of Cast up to opset 18 truncates float32 to bfloat16;
   * later ones round to nearest even, as cpu_float_to_bfloat16() does. */
  s->truncate_bf16 = glia_graph_node_get_opset (graph, node) < 19;
  return s;
}

static gboolean
cast_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  CastState *s
      = cast_create (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), error);
  if (s == NULL)
    return FALSE;
  cpu_infer_like_input (ctx, 0, 0, s->to);
  g_free (s);
  return TRUE;
}

typedef struct
{
  GliaDataType from, to;
  gboolean truncate_bf16;
  const guint8 *src;
  guint8 *dst;
  gsize src_size, dst_size;
} CastJob;

/* bfloat16 is the high half of a float32; NaNs stay (quiet) NaNs. */
static void
store_bfloat16_truncated (const double *src, guint16 *dst, gsize n)
{
  for (gsize i = 0; i < n; i++) {
    float f = (float)src[i];
    guint32 bits;
    memcpy (&bits, &f, sizeof bits);
    dst[i] = (guint16)(bits >> 16);
    if (f != f)
      dst[i] |= 0x40;
  }
}

static void
cast_chunk (gsize begin, gsize end, gpointer user_data)
{
  const CastJob *job = user_data;
  gboolean via_double = is_float_type (job->from) || is_float_type (job->to);
  union
  {
    double d[CAST_BLOCK];
    gint64 l[CAST_BLOCK];
  } buf;

  for (gsize i = begin; i < end; i += CAST_BLOCK) {
    gsize n = MIN (CAST_BLOCK, end - i);
    gconstpointer src = job->src + i * job->src_size;
    gpointer dst = job->dst + i * job->dst_size;
    if (via_double) {
      cpu_load_doubles (job->from, src, buf.d, n);
      if (job->to == GLIA_DATA_TYPE_BFLOAT16 && job->truncate_bf16)
        store_bfloat16_truncated (buf.d, dst, n);
      else
        cpu_store_doubles (job->to, buf.d, dst, n);
    } else {
      load_ints (job->from, src, buf.l, n);
      store_ints (job->to, buf.l, dst, n);
    }
  }
}

static gboolean
cast_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const CastState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !cpu_check_dtype (ctx, x, DTYPES_CAST, NULL, error))
    return FALSE;
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, s->to, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  if (x->dtype == s->to) {
    if (x->n_bytes)
      memcpy (y->data, x->data, x->n_bytes);
    return TRUE;
  }
  CastJob job = { x->dtype,
                  s->to,
                  s->truncate_bf16,
                  x->data,
                  y->data,
                  glia_data_type_get_size (x->dtype),
                  glia_data_type_get_size (s->to) };
  glia_kernel_context_parallel_for (ctx, x->n_elements, CPU_GRAIN, cast_chunk, &job);
  return TRUE;
}

/* ======================================================================== */
/* Binary with broadcasting                                                  */
/* ======================================================================== */

typedef enum
{
  BIN_ADD,
  BIN_SUB,
  BIN_MUL,
  BIN_DIV,
  BIN_POW,
  BIN_MAX,
  BIN_MIN,
  BIN_MOD,  /* integer remainder with the divisor's sign (Python's %) */
  BIN_FMOD, /* remainder with the dividend's sign (C's fmod and %) */
  BIN_PRELU,
  BIN_SHIFT_LEFT,
  BIN_SHIFT_RIGHT,
  BIN_EQUAL,
  BIN_LESS,
  BIN_GREATER,
  BIN_LESS_OR_EQUAL,
  BIN_GREATER_OR_EQUAL,
  BIN_AND,
  BIN_OR,
  BIN_XOR,
  BIN_N_KINDS
} BinaryKind;

#define DTYPES_PRELU                                                                               \
  (DTYPES_FLOAT | DTYPE_I32 | DTYPE_I64 | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT32)                   \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT64))

/* Mod and BitShift pick their kind from an attribute in binary_create(). */
static const struct
{
  const char *name;
  BinaryKind kind;
  guint64 dtypes;
  gboolean bool_out;
} binary_kinds[] = {
  { "Add", BIN_ADD, DTYPES_NUM, FALSE },
  { "Sub", BIN_SUB, DTYPES_NUM, FALSE },
  { "Mul", BIN_MUL, DTYPES_NUM, FALSE },
  { "Div", BIN_DIV, DTYPES_NUM, FALSE },
  { "Pow", BIN_POW, DTYPES_NUM, FALSE },
  { "Max", BIN_MAX, DTYPES_NUM, FALSE },
  { "Min", BIN_MIN, DTYPES_NUM, FALSE },
  { "Sum", BIN_ADD, DTYPES_FLOAT, FALSE },
  { "Mean", BIN_ADD, DTYPES_FLOAT, FALSE },
  { "Mod", BIN_MOD, DTYPES_NUM, FALSE },
  { "PRelu", BIN_PRELU, DTYPES_PRELU, FALSE },
  { "BitShift", BIN_SHIFT_LEFT, DTYPES_UINT, FALSE },
  { "Equal", BIN_EQUAL, DTYPES_NUM | DTYPE_BOOL, TRUE },
  { "Less", BIN_LESS, DTYPES_NUM, TRUE },
  { "Greater", BIN_GREATER, DTYPES_NUM, TRUE },
  { "LessOrEqual", BIN_LESS_OR_EQUAL, DTYPES_NUM, TRUE },
  { "GreaterOrEqual", BIN_GREATER_OR_EQUAL, DTYPES_NUM, TRUE },
  { "And", BIN_AND, DTYPE_BOOL, TRUE },
  { "Or", BIN_OR, DTYPE_BOOL, TRUE },
  { "Xor", BIN_XOR, DTYPE_BOOL, TRUE },
};

typedef struct
{
  BinaryKind kind;
  guint64 dtypes;
  gboolean bool_out;
  /* Mean: divide the folded sum by the number of inputs */
  gboolean mean;
} BinaryState;

static guint
binary_lookup (const char *op)
{
  for (guint i = 0; i < G_N_ELEMENTS (binary_kinds); i++)
    if (g_str_equal (op, binary_kinds[i].name))
      return i;
  g_assert_not_reached ();
  return 0;
}

static gpointer
binary_create (const GliaGraph *graph, gint node, GError **error)
{
  const char *op = glia_graph_node_get_op_type (graph, node);
  guint i = binary_lookup (op);
  BinaryState s = { binary_kinds[i].kind, binary_kinds[i].dtypes, binary_kinds[i].bool_out,
                    g_str_equal (op, "Mean") };

  if (s.kind == BIN_MOD) {
    gint64 fmod_attr = glia_graph_node_get_attr_int (graph, node, "fmod", 0);
    if (fmod_attr != 0 && fmod_attr != 1) {
      cpu_node_error (error, graph, node, "attribute 'fmod' must be 0 or 1, got %" G_GINT64_FORMAT,
                      fmod_attr);
      return NULL;
    }
    GliaDataType t = GLIA_DATA_TYPE_UNDEFINED;
    if (glia_graph_node_get_n_inputs (graph, node) > 0)
      t = glia_graph_value_get_dtype (graph, glia_graph_node_get_input (graph, node, 0));
    if (fmod_attr == 0 && is_float_type (t)) {
      cpu_node_error (error, graph, node,
                      "attribute 'fmod' must be 1 for floating-point inputs (%s)",
                      glia_data_type_get_name (t));
      return NULL;
    }
    if (fmod_attr == 1)
      s.kind = BIN_FMOD;
  } else if (s.kind == BIN_SHIFT_LEFT) {
    const char *dir = glia_graph_node_get_attr_string (graph, node, "direction", NULL, NULL);
    if (dir == NULL || !(g_str_equal (dir, "LEFT") || g_str_equal (dir, "RIGHT"))) {
      cpu_node_error (error, graph, node,
                      "attribute 'direction' must be \"LEFT\" or \"RIGHT\", got %s%s%s",
                      dir ? "\"" : "", dir ? dir : "nothing", dir ? "\"" : "");
      return NULL;
    }
    if (g_str_equal (dir, "RIGHT"))
      s.kind = BIN_SHIFT_RIGHT;
  }
  return g_memdup2 (&s, sizeof s);
}

/* Output dtype from the first input; output shape the broadcast of all. */
static gboolean
broadcast_infer_shapes (GliaShapeContext *ctx, GliaDataType out_dtype, guint first, GError **error)
{
  guint n = glia_shape_context_get_n_inputs (ctx);
  gint64 dims[GLIA_MAX_RANK];
  guint rank = 0;

  for (guint i = first; i < n; i++) {
    if (!glia_shape_context_has_input (ctx, i))
      continue;
    gint r = glia_shape_context_get_input_rank (ctx, i);
    if (r < 0) {
      glia_shape_context_set_output (ctx, 0, out_dtype, -1, NULL);
      return TRUE;
    }
    const gint64 *d = glia_shape_context_get_input_dims (ctx, i);
    gint64 prev[GLIA_MAX_RANK];
    memcpy (prev, dims, rank * sizeof (gint64));
    if (!cpu_broadcast_dims (rank, prev, (guint)r, d, &rank, dims)) {
      g_autofree char *a = cpu_dims_to_string (rank, prev);
      g_autofree char *b = cpu_dims_to_string ((guint)r, d);
      cpu_shape_error (error, ctx, "input shapes %s and %s cannot be broadcast together", a, b);
      return FALSE;
    }
  }
  glia_shape_context_set_output (ctx, 0, out_dtype, (gint)rank, dims);
  return TRUE;
}

static gboolean
binary_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  guint i = binary_lookup (glia_graph_node_get_op_type (graph, glia_shape_context_get_node (ctx)));
  GliaDataType dtype = binary_kinds[i].bool_out ? GLIA_DATA_TYPE_BOOL
                                                : glia_shape_context_get_input_dtype (ctx, 0);
  return broadcast_infer_shapes (ctx, dtype, 0, error);
}

typedef void (*BinaryRowFunc) (gconstpointer a, gsize sa, gconstpointer b, gsize sb, gpointer out,
                               gsize n);

#define DEFINE_BINARY_ROW(NAME, T, TO, EXPR)                                                       \
  static void NAME (gconstpointer ap, gsize sa, gconstpointer bp, gsize sb, gpointer op, gsize n)  \
  {                                                                                                \
    const T *a = ap;                                                                               \
    const T *b = bp;                                                                               \
    TO *o = op;                                                                                    \
    if (sa && sb)                                                                                  \
      for (gsize i = 0; i < n; i++) {                                                              \
        T x = a[i], y = b[i];                                                                      \
        o[i] = (EXPR);                                                                             \
      }                                                                                            \
    else if (sa) {                                                                                 \
      T y = b[0];                                                                                  \
      for (gsize i = 0; i < n; i++) {                                                              \
        T x = a[i];                                                                                \
        o[i] = (EXPR);                                                                             \
      }                                                                                            \
    } else if (sb) {                                                                               \
      T x = a[0];                                                                                  \
      for (gsize i = 0; i < n; i++) {                                                              \
        T y = b[i];                                                                                \
        o[i] = (EXPR);                                                                             \
      }                                                                                            \
    } else {                                                                                       \
      T x = a[0], y = b[0];                                                                        \
      TO r = (EXPR);                                                                               \
      for (gsize i = 0; i < n; i++)                                                                \
        o[i] = r;                                                                                  \
    }                                                                                              \
  }

/* Integer power by squaring in the wide unsigned type WT, wrapping on
 * overflow; negative exponents give the truncated result (0 unless the base
 * is 1 or -1). */
#define DEFINE_IPOW_SIGNED(NAME, T, WT)                                                            \
  static inline T NAME (T base, T e)                                                               \
  {                                                                                                \
    if (e < 0)                                                                                     \
      return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;                                  \
    WT r = 1, b = (WT)base;                                                                        \
    while (e) {                                                                                    \
      if (e & 1)                                                                                   \
        r *= b;                                                                                    \
      b *= b;                                                                                      \
      e >>= 1;                                                                                     \
    }                                                                                              \
    return (T)r;                                                                                   \
  }

#define DEFINE_IPOW_UNSIGNED(NAME, T, WT)                                                          \
  static inline T NAME (T base, T e)                                                               \
  {                                                                                                \
    WT r = 1, b = base;                                                                            \
    while (e) {                                                                                    \
      if (e & 1)                                                                                   \
        r *= b;                                                                                    \
      b *= b;                                                                                      \
      e >>= 1;                                                                                     \
    }                                                                                              \
    return (T)r;                                                                                   \
  }

DEFINE_IPOW_SIGNED (ipow_i8, gint8, guint32)
DEFINE_IPOW_SIGNED (ipow_i16, gint16, guint32)
DEFINE_IPOW_SIGNED (ipow_i32, gint32, guint32)
DEFINE_IPOW_SIGNED (ipow_i64, gint64, guint64)
DEFINE_IPOW_UNSIGNED (ipow_u8, guint8, guint32)
DEFINE_IPOW_UNSIGNED (ipow_u16, guint16, guint32)
DEFINE_IPOW_UNSIGNED (ipow_u32, guint32, guint32)
DEFINE_IPOW_UNSIGNED (ipow_u64, guint64, guint64)

/* Python-style remainder: C's truncated one, moved into the divisor's sign.
 * x % -1 is written as 0 so INT_MIN % -1 cannot trap. */
#define DEFINE_IMOD_SIGNED(NAME, T)                                                                \
  static inline T NAME (T x, T y)                                                                  \
  {                                                                                                \
    if (y == -1)                                                                                   \
      return 0;                                                                                    \
    T r = (T)(x % y);                                                                              \
    return (r != 0 && ((r < 0) != (y < 0))) ? (T)(r + y) : r;                                      \
  }

DEFINE_IMOD_SIGNED (imod_i8, gint8)
DEFINE_IMOD_SIGNED (imod_i16, gint16)
DEFINE_IMOD_SIGNED (imod_i32, gint32)
DEFINE_IMOD_SIGNED (imod_i64, gint64)

#define FMAX(x, y) (((x) != (x) || (x) > (y)) ? (x) : (y))
#define FMIN(x, y) (((x) != (x) || (x) < (y)) ? (x) : (y))

/* Arithmetic for one type. Integer arithmetic goes through the wide unsigned
 * type WT, so overflow wraps instead of being undefined (narrow types would
 * otherwise be promoted to int). Integer Div and Mod truncate; the caller
 * rejects zero divisors, and a signed x / -1 is written as a negation so
 * INT_MIN / -1 cannot trap. */
#define DEFINE_BINARY_FLOAT_ROWS(SUF, T)                                                           \
  DEFINE_BINARY_ROW (add_##SUF, T, T, x + y)                                                       \
  DEFINE_BINARY_ROW (sub_##SUF, T, T, x - y)                                                       \
  DEFINE_BINARY_ROW (mul_##SUF, T, T, x *y)                                                        \
  DEFINE_BINARY_ROW (div_##SUF, T, T, x / y)                                                       \
  DEFINE_BINARY_ROW (pow_##SUF, T, T, pow (x, y))                                                  \
  DEFINE_BINARY_ROW (max_##SUF, T, T, FMAX (x, y))                                                 \
  DEFINE_BINARY_ROW (min_##SUF, T, T, FMIN (x, y))                                                 \
  DEFINE_BINARY_ROW (fmod_##SUF, T, T, fmod (x, y))                                                \
  DEFINE_BINARY_ROW (prelu_##SUF, T, T, x < 0 ? y * x : x)

#define DEFINE_BINARY_INT_ROWS(SUF, T, WT, DIV)                                                    \
  DEFINE_BINARY_ROW (add_##SUF, T, T, (T)((WT)x + (WT)y))                                          \
  DEFINE_BINARY_ROW (sub_##SUF, T, T, (T)((WT)x - (WT)y))                                          \
  DEFINE_BINARY_ROW (mul_##SUF, T, T, (T)((WT)x * (WT)y))                                          \
  DEFINE_BINARY_ROW (div_##SUF, T, T, DIV)                                                         \
  DEFINE_BINARY_ROW (pow_##SUF, T, T, ipow_##SUF (x, y))                                           \
  DEFINE_BINARY_ROW (max_##SUF, T, T, x > y ? x : y)                                               \
  DEFINE_BINARY_ROW (min_##SUF, T, T, x < y ? x : y)

#define SIGNED_DIV(T, WT)   (y == -1 ? (T)(0 - (WT)x) : (T)(x / y))
#define UNSIGNED_DIV(T, WT) ((T)(x / y))

#define DEFINE_COMPARE_ROWS(SUF, T)                                                                \
  DEFINE_BINARY_ROW (eq_##SUF, T, guint8, x == y)                                                  \
  DEFINE_BINARY_ROW (lt_##SUF, T, guint8, x < y)                                                   \
  DEFINE_BINARY_ROW (gt_##SUF, T, guint8, x > y)                                                   \
  DEFINE_BINARY_ROW (le_##SUF, T, guint8, x <= y)                                                  \
  DEFINE_BINARY_ROW (ge_##SUF, T, guint8, x >= y)

#define DEFINE_ALL_ROWS_SINT(SUF, T, WT)                                                           \
  DEFINE_BINARY_INT_ROWS (SUF, T, WT, SIGNED_DIV (T, WT))                                          \
  DEFINE_BINARY_ROW (mod_##SUF, T, T, imod_##SUF (x, y))                                           \
  DEFINE_BINARY_ROW (fmod_##SUF, T, T, y == -1 ? 0 : (T)(x % y))                                   \
  DEFINE_BINARY_ROW (prelu_##SUF, T, T, x < 0 ? (T)((WT)y * (WT)x) : x)                            \
  DEFINE_COMPARE_ROWS (SUF, T)

/* A shift by the type's width or more gives 0 (in C it is undefined). */
#define DEFINE_ALL_ROWS_UINT(SUF, T, WT)                                                           \
  DEFINE_BINARY_INT_ROWS (SUF, T, WT, UNSIGNED_DIV (T, WT))                                        \
  DEFINE_BINARY_ROW (mod_##SUF, T, T, (T)(x % y))                                                  \
  DEFINE_BINARY_ROW (fmod_##SUF, T, T, (T)(x % y))                                                 \
  DEFINE_BINARY_ROW (prelu_##SUF, T, T, ((void)y, x))                                              \
  DEFINE_BINARY_ROW (shl_##SUF, T, T, y >= 8 * sizeof (T) ? 0 : (T)((WT)x << y))                   \
  DEFINE_BINARY_ROW (shr_##SUF, T, T, y >= 8 * sizeof (T) ? 0 : (T)(x >> y))                       \
  DEFINE_COMPARE_ROWS (SUF, T)

DEFINE_BINARY_FLOAT_ROWS (f64, double)

/* float32 arithmetic rows: the vector kernels; Pow, Mod and PRelu scalar. */
#define DEFINE_SIMD_ROW(NAME, OP)                                                                  \
  static void NAME (gconstpointer ap, gsize sa, gconstpointer bp, gsize sb, gpointer op, gsize n)  \
  {                                                                                                \
    cpu_simd ()->binary (OP, ap, sa, bp, sb, op, n);                                               \
  }

DEFINE_SIMD_ROW (add_f32, CPU_SIMD_BIN_ADD)
DEFINE_SIMD_ROW (sub_f32, CPU_SIMD_BIN_SUB)
DEFINE_SIMD_ROW (mul_f32, CPU_SIMD_BIN_MUL)
DEFINE_SIMD_ROW (div_f32, CPU_SIMD_BIN_DIV)
DEFINE_SIMD_ROW (max_f32, CPU_SIMD_BIN_MAX)
DEFINE_SIMD_ROW (min_f32, CPU_SIMD_BIN_MIN)
DEFINE_BINARY_ROW (pow_f32, float, float, pow (x, y))
DEFINE_BINARY_ROW (fmod_f32, float, float, fmod (x, y))
DEFINE_BINARY_ROW (prelu_f32, float, float, x < 0 ? y * x : x)
DEFINE_COMPARE_ROWS (f32, float)
DEFINE_COMPARE_ROWS (f64, double)
DEFINE_ALL_ROWS_SINT (i8, gint8, guint32)
DEFINE_ALL_ROWS_SINT (i16, gint16, guint32)
DEFINE_ALL_ROWS_SINT (i32, gint32, guint32)
DEFINE_ALL_ROWS_SINT (i64, gint64, guint64)
DEFINE_ALL_ROWS_UINT (u8, guint8, guint32)
DEFINE_ALL_ROWS_UINT (u16, guint16, guint32)
DEFINE_ALL_ROWS_UINT (u32, guint32, guint32)
DEFINE_ALL_ROWS_UINT (u64, guint64, guint64)
DEFINE_BINARY_ROW (eq_bool, guint8, guint8, (x != 0) == (y != 0))
DEFINE_BINARY_ROW (and_bool, guint8, guint8, (x != 0) & (y != 0))
DEFINE_BINARY_ROW (or_bool, guint8, guint8, (x != 0) | (y != 0))
DEFINE_BINARY_ROW (xor_bool, guint8, guint8, (x != 0) ^ (y != 0))

/* float16 / bfloat16 rows: the float32 row on converted blocks. The output
 * may alias input a (Max, Min, Sum fold into it): each block of a is read
 * before that block of the output is written. */
static void
half_row (BinaryRowFunc f32_row, gboolean bf16, gboolean bool_out, gconstpointer ap, gsize sa,
          gconstpointer bp, gsize sb, gpointer op, gsize n)
{
  const guint16 *a = ap, *b = bp;
  float fa[HALF_BLOCK], fb[HALF_BLOCK], fo[HALF_BLOCK];
  for (gsize i = 0; i < n; i += HALF_BLOCK) {
    gsize m = MIN (HALF_BLOCK, n - i);
    halves_to_floats (bf16, a + i * sa, fa, sa ? m : 1);
    halves_to_floats (bf16, b + i * sb, fb, sb ? m : 1);
    if (bool_out)
      f32_row (fa, sa, fb, sb, (guint8 *)op + i, m);
    else {
      f32_row (fa, sa, fb, sb, fo, m);
      floats_to_halves (bf16, fo, (guint16 *)op + i, m);
    }
  }
}

#define DEFINE_HALF_ROW(NAME, F32_ROW, BF16, BOOL_OUT)                                             \
  static void NAME (gconstpointer ap, gsize sa, gconstpointer bp, gsize sb, gpointer op, gsize n)  \
  {                                                                                                \
    half_row (F32_ROW, BF16, BOOL_OUT, ap, sa, bp, sb, op, n);                                     \
  }

#define DEFINE_HALF_ROWS(SUF, BF16)                                                                \
  DEFINE_HALF_ROW (add_##SUF, add_f32, BF16, FALSE)                                                \
  DEFINE_HALF_ROW (sub_##SUF, sub_f32, BF16, FALSE)                                                \
  DEFINE_HALF_ROW (mul_##SUF, mul_f32, BF16, FALSE)                                                \
  DEFINE_HALF_ROW (div_##SUF, div_f32, BF16, FALSE)                                                \
  DEFINE_HALF_ROW (pow_##SUF, pow_f32, BF16, FALSE)                                                \
  DEFINE_HALF_ROW (max_##SUF, max_f32, BF16, FALSE)                                                \
  DEFINE_HALF_ROW (min_##SUF, min_f32, BF16, FALSE)                                                \
  DEFINE_HALF_ROW (fmod_##SUF, fmod_f32, BF16, FALSE)                                              \
  DEFINE_HALF_ROW (prelu_##SUF, prelu_f32, BF16, FALSE)                                            \
  DEFINE_HALF_ROW (eq_##SUF, eq_f32, BF16, TRUE)                                                   \
  DEFINE_HALF_ROW (lt_##SUF, lt_f32, BF16, TRUE)                                                   \
  DEFINE_HALF_ROW (gt_##SUF, gt_f32, BF16, TRUE)                                                   \
  DEFINE_HALF_ROW (le_##SUF, le_f32, BF16, TRUE)                                                   \
  DEFINE_HALF_ROW (ge_##SUF, ge_f32, BF16, TRUE)

DEFINE_HALF_ROWS (f16, FALSE)
DEFINE_HALF_ROWS (bf16, TRUE)

#define ARITH_ROWS(SUF)                                                                            \
  [BIN_ADD] = add_##SUF, [BIN_SUB] = sub_##SUF, [BIN_MUL] = mul_##SUF, [BIN_DIV] = div_##SUF,      \
  [BIN_POW] = pow_##SUF, [BIN_MAX] = max_##SUF, [BIN_MIN] = min_##SUF, [BIN_FMOD] = fmod_##SUF,    \
  [BIN_PRELU] = prelu_##SUF, [BIN_EQUAL] = eq_##SUF, [BIN_LESS] = lt_##SUF,                        \
  [BIN_GREATER] = gt_##SUF, [BIN_LESS_OR_EQUAL] = le_##SUF, [BIN_GREATER_OR_EQUAL] = ge_##SUF

/* Floats have no BIN_MOD (Mod needs fmod=1 for them); only unsigned types
 * shift. */
#define FLOAT_ROWS(SUF)                                                                            \
  {                                                                                                \
    ARITH_ROWS (SUF)                                                                               \
  }
#define SINT_ROWS(SUF)                                                                             \
  {                                                                                                \
    ARITH_ROWS (SUF), [BIN_MOD] = mod_##SUF                                                        \
  }
#define UINT_ROWS(SUF)                                                                             \
  {                                                                                                \
    ARITH_ROWS (SUF), [BIN_MOD] = mod_##SUF, [BIN_SHIFT_LEFT] = shl_##SUF,                         \
                      [BIN_SHIFT_RIGHT] = shr_##SUF                                                \
  }

/* Indexed by GliaDataType. */
static const BinaryRowFunc binary_rows[GLIA_DATA_TYPE_LAST + 1][BIN_N_KINDS] = {
  [GLIA_DATA_TYPE_FLOAT] = FLOAT_ROWS (f32),
  [GLIA_DATA_TYPE_DOUBLE] = FLOAT_ROWS (f64),
  [GLIA_DATA_TYPE_FLOAT16] = FLOAT_ROWS (f16),
  [GLIA_DATA_TYPE_BFLOAT16] = FLOAT_ROWS (bf16),
  [GLIA_DATA_TYPE_INT8] = SINT_ROWS (i8),
  [GLIA_DATA_TYPE_INT16] = SINT_ROWS (i16),
  [GLIA_DATA_TYPE_INT32] = SINT_ROWS (i32),
  [GLIA_DATA_TYPE_INT64] = SINT_ROWS (i64),
  [GLIA_DATA_TYPE_UINT8] = UINT_ROWS (u8),
  [GLIA_DATA_TYPE_UINT16] = UINT_ROWS (u16),
  [GLIA_DATA_TYPE_UINT32] = UINT_ROWS (u32),
  [GLIA_DATA_TYPE_UINT64] = UINT_ROWS (u64),
  [GLIA_DATA_TYPE_BOOL]
  = { [BIN_EQUAL] = eq_bool, [BIN_AND] = and_bool, [BIN_OR] = or_bool, [BIN_XOR] = xor_bool },
};

static BinaryRowFunc
binary_row_func (BinaryKind kind, GliaDataType dtype)
{
  if (dtype <= 0 || dtype > GLIA_DATA_TYPE_LAST)
    return NULL;
  return binary_rows[dtype][kind];
}

typedef struct
{
  CpuBroadcast bc;
  BinaryRowFunc fn;
  const guint8 *a;
  const guint8 *b;
  guint8 *out;
  gsize in_size;
  gsize out_size;
} BinaryJob;

/* Walks elements [begin, end) of the output, a row segment at a time. */
static void
binary_chunk (gsize begin, gsize end, gpointer user_data)
{
  const BinaryJob *job = user_data;
  const CpuBroadcast *bc = &job->bc;
  gsize sa = (gsize)bc->strides[0][bc->rank - 1];
  gsize sb = (gsize)bc->strides[1][bc->rank - 1];
  gsize row = begin / bc->row_len;
  gsize col = begin % bc->row_len;
  CpuBroadcastPos pos;

  cpu_broadcast_seek (bc, row, &pos);
  while (begin < end) {
    gsize n = MIN (bc->row_len - col, end - begin);
    job->fn (job->a + (pos.offset[0] + col * sa) * job->in_size, sa,
             job->b + (pos.offset[1] + col * sb) * job->in_size, sb,
             job->out + begin * job->out_size, n);
    begin += n;
    col = 0;
    cpu_broadcast_next_row (bc, &pos);
  }
}

/* out (shape out_rank/out_dims) = fn (a, b), a and b broadcast to it. */
static void
binary_run (GliaKernelContext *ctx, BinaryRowFunc fn, const GliaTensorView *a,
            const GliaTensorView *b, GliaTensorView *out)
{
  BinaryJob job;
  const guint ranks[2] = { a->rank, b->rank };
  const gint64 *dims[2] = { a->dims, b->dims };

  cpu_broadcast_init (&job.bc, out->rank, out->dims, 2, ranks, dims);
  job.fn = fn;
  job.a = a->data;
  job.b = b->data;
  job.out = out->data;
  job.in_size = glia_data_type_get_size (a->dtype);
  job.out_size = glia_data_type_get_size (out->dtype);
  gsize n = job.bc.n_rows * job.bc.row_len;
  if (n)
    /* memory bound: small tensors are faster on one thread than split */
    glia_kernel_context_parallel_for (ctx, n, CPU_GRAIN * 4, binary_chunk, &job);
}

static gboolean
broadcast_shapes_or_error (GliaKernelContext *ctx, guint n, const GliaTensorView *const *in,
                           guint *rank, gint64 *dims, GError **error)
{
  *rank = 0;
  for (guint i = 0; i < n; i++) {
    gint64 prev[GLIA_MAX_RANK];
    guint prev_rank = *rank;
    memcpy (prev, dims, prev_rank * sizeof (gint64));
    if (!cpu_broadcast_dims (prev_rank, prev, in[i]->rank, in[i]->dims, rank, dims)) {
      GString *s = g_string_new (NULL);
      for (guint j = 0; j < n; j++) {
        g_autofree char *d = cpu_dims_to_string (in[j]->rank, in[j]->dims);
        g_string_append_printf (s, "%s%s", j ? " and " : "", d);
      }
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "input shapes %s cannot be broadcast together", s->str);
      g_string_free (s, TRUE);
      return FALSE;
    }
  }
  return TRUE;
}

/* Whether an integer tensor holds a 0 (all bytes of an element zero). */
static gboolean
has_zero (const GliaTensorView *v)
{
  gsize size = glia_data_type_get_size (v->dtype);
  const guint8 *p = v->data;
  for (gsize i = 0; i < v->n_elements; i++, p += size) {
    guint64 bits = 0;
    memcpy (&bits, p, size);
    if (bits == 0)
      return TRUE;
  }
  return FALSE;
}

/* Pow's exponent may have another type than its base: convert it (through
 * double) into scratch memory of the base's type. */
static const GliaTensorView *
convert_exponent (GliaKernelContext *ctx, const GliaTensorView *e, GliaDataType to,
                  GliaTensorView *tmp, GError **error)
{
  *tmp = *e;
  tmp->dtype = to;
  tmp->n_bytes = e->n_elements * glia_data_type_get_size (to);
  tmp->data = glia_kernel_context_get_scratch (ctx, MAX (tmp->n_bytes, 1), error);
  if (tmp->data == NULL)
    return NULL;
  double buf[CAST_BLOCK];
  gsize esz = glia_data_type_get_size (e->dtype), tsz = glia_data_type_get_size (to);
  for (gsize i = 0; i < e->n_elements; i += CAST_BLOCK) {
    gsize n = MIN (CAST_BLOCK, e->n_elements - i);
    cpu_load_doubles (e->dtype, (const guint8 *)e->data + i * esz, buf, n);
    cpu_store_doubles (to, buf, (guint8 *)tmp->data + i * tsz, n);
  }
  return tmp;
}

/* An integer base with a float exponent: the power is taken in double and
 * truncated into the base's type (2 ** 0.5 is 1, not 2 ** 0). */
static gboolean
pow_via_double (GliaKernelContext *ctx, const GliaTensorView *base, const GliaTensorView *e,
                GliaTensorView *out, GError **error)
{
  gsize nb = base->n_elements, ne = e->n_elements, no = out->n_elements;
  double *buf
      = glia_kernel_context_get_scratch (ctx, MAX ((nb + ne + no) * sizeof (double), 1), error);
  if (buf == NULL)
    return FALSE;
  GliaTensorView b = *base, x = *e, o = *out;
  b.dtype = x.dtype = o.dtype = GLIA_DATA_TYPE_DOUBLE;
  b.data = buf;
  x.data = buf + nb;
  o.data = buf + nb + ne;
  cpu_load_doubles (base->dtype, base->data, b.data, nb);
  cpu_load_doubles (e->dtype, e->data, x.data, ne);
  binary_run (ctx, pow_f64, &b, &x, &o);
  cpu_store_doubles (out->dtype, o.data, out->data, no);
  return TRUE;
}

static gboolean
binary_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const BinaryState *s = state;
  guint n_in = glia_kernel_context_get_n_inputs (ctx);
  const GliaTensorView *in[2];
  GliaTensorView exponent;

  if (n_in != 2) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "expects 2 inputs, got %u", n_in);
    return FALSE;
  }
  /* Pow's exponent may be of any numeric type. */
  for (guint i = 0; i < 2; i++)
    if ((in[i] = cpu_require_input (ctx, i, error)) == NULL
        || !cpu_check_dtype (ctx, in[i], i == 1 && s->kind == BIN_POW ? DTYPES_CAST_NUM : s->dtypes,
                             NULL, error))
      return FALSE;
  if (in[0]->dtype != in[1]->dtype && s->kind != BIN_POW) {
    cpu_kernel_error (
        error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "inputs have different element types (%s and %s)",
        glia_data_type_get_name (in[0]->dtype), glia_data_type_get_name (in[1]->dtype));
    return FALSE;
  }
  BinaryRowFunc fn = binary_row_func (s->kind, in[0]->dtype);
  if (fn == NULL) {
    /* only Mod without fmod on floats gets here */
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "attribute 'fmod' must be 1 for %s inputs",
                      glia_data_type_get_name (in[0]->dtype));
    return FALSE;
  }
  if ((s->kind == BIN_DIV || s->kind == BIN_MOD || s->kind == BIN_FMOD)
      && cpu_dtype_in (in[1]->dtype, GLIA_DTYPES_INTS) && has_zero (in[1])) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "integer division by zero");
    return FALSE;
  }

  guint rank;
  gint64 dims[GLIA_MAX_RANK];
  if (!broadcast_shapes_or_error (ctx, 2, in, &rank, dims, error))
    return FALSE;
  /* PRelu broadcasts the slope to X, never X to the slope. */
  if (s->kind == BIN_PRELU
      && (rank != in[0]->rank || memcmp (dims, in[0]->dims, rank * sizeof (gint64)) != 0)) {
    g_autofree char *x = cpu_dims_to_string (in[0]->rank, in[0]->dims);
    g_autofree char *slope = cpu_dims_to_string (in[1]->rank, in[1]->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "slope %s cannot be broadcast to X %s", slope, x);
    return FALSE;
  }
  GliaDataType out_dtype = s->bool_out ? GLIA_DATA_TYPE_BOOL : in[0]->dtype;
  GliaTensorView *out = glia_kernel_context_allocate_output (ctx, 0, out_dtype, rank, dims, error);
  if (out == NULL)
    return FALSE;

  if (in[0]->dtype != in[1]->dtype) {
    if (!is_float_type (in[0]->dtype) && is_float_type (in[1]->dtype))
      return pow_via_double (ctx, in[0], in[1], out, error);
    if ((in[1] = convert_exponent (ctx, in[1], in[0]->dtype, &exponent, error)) == NULL)
      return FALSE;
  }
  binary_run (ctx, fn, in[0], in[1], out);
  return TRUE;
}

/* ---- Max / Min / Sum / Mean (variadic) ----------------------------------- */

static gboolean
variadic_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  return broadcast_infer_shapes (ctx, glia_shape_context_get_input_dtype (ctx, 0), 0, error);
}

static gboolean
variadic_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const BinaryState *s = state;
  guint n = glia_kernel_context_get_n_inputs (ctx);
  const GliaTensorView **in = g_newa (const GliaTensorView *, MAX (n, 1));

  if (n == 0) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "needs at least one input");
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    if ((in[i] = cpu_require_input (ctx, i, error)) == NULL
        || !cpu_check_dtype (ctx, in[i], s->dtypes, NULL, error))
      return FALSE;
    if (in[i]->dtype != in[0]->dtype) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "inputs have different element types (%s and %s)",
                        glia_data_type_get_name (in[0]->dtype),
                        glia_data_type_get_name (in[i]->dtype));
      return FALSE;
    }
  }

  guint rank;
  gint64 dims[GLIA_MAX_RANK];
  if (!broadcast_shapes_or_error (ctx, n, in, &rank, dims, error))
    return FALSE;
  GliaTensorView *out
      = glia_kernel_context_allocate_output (ctx, 0, in[0]->dtype, rank, dims, error);
  if (out == NULL)
    return FALSE;

  BinaryRowFunc fn = binary_row_func (s->kind, in[0]->dtype);
  if (n == 1) {
    if (in[0]->n_bytes)
      memcpy (out->data, in[0]->data, in[0]->n_bytes);
    return TRUE;
  }
  /* out = op (in0, in1), then out = op (out, in_k): the row functions read
   * and write the same element, so the aliasing is safe. */
  binary_run (ctx, fn, in[0], in[1], out);
  for (guint i = 2; i < n; i++)
    binary_run (ctx, fn, out, in[i], out);
  if (s->mean) {
    /* the divisor as a scalar of the output's type */
    guint64 scalar = 0;
    double count = n;
    cpu_store_doubles (out->dtype, &count, &scalar, 1);
    GliaTensorView divisor = { .dtype = out->dtype, .rank = 0, .data = &scalar, .n_elements = 1 };
    binary_run (ctx, binary_row_func (BIN_DIV, out->dtype), out, &divisor, out);
  }
  return TRUE;
}

/* ---- Where --------------------------------------------------------------- */

static gboolean
where_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  return broadcast_infer_shapes (ctx, glia_shape_context_get_input_dtype (ctx, 1), 0, error);
}

typedef struct
{
  CpuBroadcast bc;
  const guint8 *cond;
  const guint8 *x;
  const guint8 *y;
  guint8 *out;
  gsize size;
} WhereJob;

#define WHERE_LOOP(T)                                                                              \
  {                                                                                                \
    const T *xt = (const T *)job->x, *yt = (const T *)job->y;                                      \
    T *o = (T *)job->out + begin;                                                                  \
    for (gsize i = 0; i < n; i++)                                                                  \
      o[i] = c[i * sc] ? xt[xo + i * sx] : yt[yo + i * sy];                                        \
  }                                                                                                \
  break

static void
where_chunk (gsize begin, gsize end, gpointer user_data)
{
  const WhereJob *job = user_data;
  const CpuBroadcast *bc = &job->bc;
  gsize sc = (gsize)bc->strides[0][bc->rank - 1];
  gsize sx = (gsize)bc->strides[1][bc->rank - 1];
  gsize sy = (gsize)bc->strides[2][bc->rank - 1];
  gsize row = begin / bc->row_len;
  gsize col = begin % bc->row_len;
  CpuBroadcastPos pos;

  cpu_broadcast_seek (bc, row, &pos);
  while (begin < end) {
    gsize n = MIN (bc->row_len - col, end - begin);
    const guint8 *c = job->cond + pos.offset[0] + col * sc;
    gsize xo = pos.offset[1] + col * sx;
    gsize yo = pos.offset[2] + col * sy;
    switch (job->size) {
    case 1:
      WHERE_LOOP (guint8);
    case 2:
      WHERE_LOOP (guint16);
    case 4:
      WHERE_LOOP (guint32);
    case 8:
      WHERE_LOOP (guint64);
    default:
      for (gsize i = 0; i < n; i++)
        memcpy (job->out + (begin + i) * job->size,
                c[i * sc] ? job->x + (xo + i * sx) * job->size : job->y + (yo + i * sy) * job->size,
                job->size);
      break;
    }
    begin += n;
    col = 0;
    cpu_broadcast_next_row (bc, &pos);
  }
}

static gboolean
where_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *in[3];
  for (guint i = 0; i < 3; i++)
    if ((in[i] = cpu_require_input (ctx, i, error)) == NULL)
      return FALSE;
  if (in[0]->dtype != GLIA_DATA_TYPE_BOOL) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "the condition must be bool, got %s",
                      glia_data_type_get_name (in[0]->dtype));
    return FALSE;
  }
  if (!cpu_check_dtype (ctx, in[1], DTYPES_BYTES, NULL, error))
    return FALSE;
  if (in[1]->dtype != in[2]->dtype) {
    cpu_kernel_error (
        error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "X and Y have different element types (%s and %s)",
        glia_data_type_get_name (in[1]->dtype), glia_data_type_get_name (in[2]->dtype));
    return FALSE;
  }

  guint rank;
  gint64 dims[GLIA_MAX_RANK];
  if (!broadcast_shapes_or_error (ctx, 3, in, &rank, dims, error))
    return FALSE;
  GliaTensorView *out
      = glia_kernel_context_allocate_output (ctx, 0, in[1]->dtype, rank, dims, error);
  if (out == NULL)
    return FALSE;

  WhereJob job;
  const guint ranks[3] = { in[0]->rank, in[1]->rank, in[2]->rank };
  const gint64 *in_dims[3] = { in[0]->dims, in[1]->dims, in[2]->dims };
  cpu_broadcast_init (&job.bc, rank, dims, 3, ranks, in_dims);
  job.cond = in[0]->data;
  job.x = in[1]->data;
  job.y = in[2]->data;
  job.out = out->data;
  job.size = glia_data_type_get_size (in[1]->dtype);
  gsize n = job.bc.n_rows * job.bc.row_len;
  if (n)
    glia_kernel_context_parallel_for (ctx, n, CPU_GRAIN, where_chunk, &job);
  return TRUE;
}

/* ======================================================================== */
/* Op defs                                                                   */
/* ======================================================================== */

#define UNARY_DEF(NAME, SINCE, UNTIL, DTYPES)                                                      \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = UNTIL, .dtypes = DTYPES, .infer_shapes = cpu_infer_same_as_input,             \
    .create = unary_create, .compute = unary_compute, .destroy = g_free,                           \
  }

#define BINARY_DEF(NAME, SINCE, DTYPES)                                                            \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = G_MAXINT, .dtypes = DTYPES, .infer_shapes = binary_infer_shapes,              \
    .create = binary_create, .compute = binary_compute, .destroy = g_free,                         \
  }

/* Opset 8 turned same-shape inputs into broadcasting ones: a superset. */
#define VARIADIC_DEF(NAME, DTYPES)                                                                 \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = 6,             \
    .until_version = G_MAXINT, .dtypes = DTYPES, .infer_shapes = variadic_infer_shapes,            \
    .create = binary_create, .compute = variadic_compute, .destroy = g_free,                       \
  }

static const GliaOpDef elementwise_ops[] = {
  UNARY_DEF ("Relu", 6, G_MAXINT, DTYPES_FLOAT | DTYPES_SINT),
  UNARY_DEF ("Sigmoid", 6, G_MAXINT, DTYPES_FLOAT),
  UNARY_DEF ("Tanh", 6, G_MAXINT, DTYPES_FLOAT),
  UNARY_DEF ("Exp", 6, G_MAXINT, DTYPES_FLOAT),
  UNARY_DEF ("Log", 6, G_MAXINT, DTYPES_FLOAT),
  UNARY_DEF ("Sqrt", 6, G_MAXINT, DTYPES_FLOAT),
  UNARY_DEF ("Neg", 6, G_MAXINT, DTYPES_FLOAT | DTYPES_SINT),
  UNARY_DEF ("Abs", 6, G_MAXINT, DTYPES_NUM),
  UNARY_DEF ("Reciprocal", 6, G_MAXINT, DTYPES_FLOAT),
  UNARY_DEF ("Floor", 6, G_MAXINT, DTYPES_FLOAT),
  UNARY_DEF ("Ceil", 6, G_MAXINT, DTYPES_FLOAT),
  UNARY_DEF ("Erf", 9, G_MAXINT, DTYPES_FLOAT),
  UNARY_DEF ("LeakyRelu", 6, G_MAXINT, DTYPES_FLOAT),
  UNARY_DEF ("Elu", 6, G_MAXINT, DTYPES_FLOAT),
  /* Clip: min/max attributes before opset 11, optional scalar inputs since. */
  UNARY_DEF ("Clip", 6, 10, DTYPES_FLOAT),
  UNARY_DEF ("Clip", 11, G_MAXINT, DTYPES_NUM),
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "Identity",
      .since_version = 1,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_BYTES,
      .infer_shapes = cpu_infer_same_as_input,
      .compute = identity_compute,
  },
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "Cast",
      .since_version = 6,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_CAST,
      .supports = cast_supports,
      .infer_shapes = cast_infer_shapes,
      .create = cast_create,
      .compute = cast_compute,
      .destroy = g_free,
  },
  /* Opset 7 replaced the broadcast/axis attributes with numpy broadcasting. */
  BINARY_DEF ("Add", 7, DTYPES_NUM),
  BINARY_DEF ("Sub", 7, DTYPES_NUM),
  BINARY_DEF ("Mul", 7, DTYPES_NUM),
  BINARY_DEF ("Div", 7, DTYPES_NUM),
  BINARY_DEF ("Pow", 7, DTYPES_NUM),
  BINARY_DEF ("Equal", 7, DTYPES_NUM | DTYPE_BOOL),
  BINARY_DEF ("Less", 7, DTYPES_NUM),
  BINARY_DEF ("Greater", 7, DTYPES_NUM),
  BINARY_DEF ("LessOrEqual", 12, DTYPES_NUM),
  BINARY_DEF ("GreaterOrEqual", 12, DTYPES_NUM),
  BINARY_DEF ("Mod", 10, DTYPES_NUM),
  BINARY_DEF ("BitShift", 11, DTYPES_UINT),
  /* opset 6's slope (same shape as X, or one value) is a case of opset 7's
   * unidirectional broadcasting; 9 added the integer types */
  BINARY_DEF ("PRelu", 6, DTYPES_PRELU),
  BINARY_DEF ("And", 7, DTYPE_BOOL),
  BINARY_DEF ("Or", 7, DTYPE_BOOL),
  BINARY_DEF ("Xor", 7, DTYPE_BOOL),
  VARIADIC_DEF ("Max", DTYPES_NUM),
  VARIADIC_DEF ("Min", DTYPES_NUM),
  VARIADIC_DEF ("Sum", DTYPES_FLOAT),
  VARIADIC_DEF ("Mean", DTYPES_FLOAT),
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "Where",
      .since_version = 9,
      .until_version = G_MAXINT,
      .dtypes = DTYPE_BOOL,
      .infer_shapes = where_infer_shapes,
      .compute = where_compute,
  },
};

void
cpu_elementwise_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (elementwise_ops); i++)
    glia_op_table_add (table, &elementwise_ops[i]);
}
