/* cpu-reduce.c: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
 * ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare (axes as
 * an attribute, or as an input from opset 13 for ReduceSum and 18 for the
 * others, with noop_with_empty_axes) and ArgMax / ArgMin, on the float types
 * and the integer types.
 *
 * A reduction first merges neighbouring dims that are both reduced or both
 * kept. If the innermost group is kept (say its size is `inner`), each output
 * row of `inner` values accumulates whole contiguous vectors, one per reduced
 * position, into a block of accumulators, which vectorises; otherwise each
 * output element walks its reduced positions, whose innermost run is
 * contiguous. Floats (float16 and bfloat16 included) accumulate in double,
 * signed integers in a wrapping int64, unsigned ones in uint64; float32
 * sums over a contiguous innermost run (ReduceSum, ReduceMean,
 * ReduceSumSquare, ReduceL2 over the last axis, say) add each run with the
 * vector kernels of cpu-simd.h (float, several accumulators) into the double,
 * and float32 Max and Min over such runs use them too. Max and Min
 * propagate NaN. ReduceLogSumExp takes the maximum first and sums exp (x - max)
 * so large inputs do not overflow. Reducing an empty set gives the
 * reduction's identity: 0 for the sums, 1 for the product, -inf / +inf (the
 * type's lowest / highest for integers) for Max / Min, log (0) = -inf for the
 * log sums, NaN for the mean.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"
#include "cpu-simd.h"

#include <math.h>
#include <string.h>

/* the four float types and the eight integer types */
#define DTYPES_NUM (GLIA_DTYPES_FLOATS | GLIA_DTYPES_INTS)

static gboolean
check_num_dtype (GliaKernelContext *ctx, const GliaTensorView *x, GError **error)
{
  if (x->dtype > 0 && x->dtype <= GLIA_DATA_TYPE_LAST && (DTYPES_NUM & GLIA_DTYPE_BIT (x->dtype)))
    return TRUE;
  cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "element type %s is not supported",
                    glia_data_type_get_name (x->dtype));
  return FALSE;
}

/* ======================================================================== */
/* Reduce*                                                                   */
/* ======================================================================== */

typedef enum
{
  RED_SUM,
  RED_MEAN,
  RED_MAX,
  RED_MIN,
  RED_PROD,
  RED_L1,
  RED_L2,
  RED_LOG_SUM,
  RED_LOG_SUM_EXP,
  RED_SUM_SQUARE,
} ReduceKind;

static const struct
{
  const char *name;
  ReduceKind kind;
  gint axes_input_since;
} reduce_kinds[] = {
  { "ReduceSum", RED_SUM, 13 },
  { "ReduceMean", RED_MEAN, 18 },
  { "ReduceMax", RED_MAX, 18 },
  { "ReduceMin", RED_MIN, 18 },
  { "ReduceProd", RED_PROD, 18 },
  { "ReduceL1", RED_L1, 18 },
  { "ReduceL2", RED_L2, 18 },
  { "ReduceLogSum", RED_LOG_SUM, 18 },
  { "ReduceLogSumExp", RED_LOG_SUM_EXP, 18 },
  { "ReduceSumSquare", RED_SUM_SQUARE, 18 },
};

typedef struct
{
  ReduceKind kind;
  gboolean keepdims;
  gboolean noop_with_empty_axes;
  gboolean axes_from_input;
  gsize n_axes;
  gint64 axes[GLIA_MAX_RANK];
} ReduceState;

static gpointer
reduce_create (const GliaGraph *graph, gint node, GError **error)
{
  const char *op = glia_graph_node_get_op_type (graph, node);
  ReduceState s = { 0 };
  guint i;
  for (i = 0; i < G_N_ELEMENTS (reduce_kinds); i++)
    if (g_str_equal (op, reduce_kinds[i].name))
      break;
  g_assert (i < G_N_ELEMENTS (reduce_kinds));
  s.kind = reduce_kinds[i].kind;
  s.axes_from_input = glia_graph_node_get_opset (graph, node) >= reduce_kinds[i].axes_input_since;
  if (!cpu_parse_flag (graph, node, "keepdims", 1, &s.keepdims, error)
      || !cpu_parse_flag (graph, node, "noop_with_empty_axes", 0, &s.noop_with_empty_axes, error))
    return NULL;
  if (!s.axes_from_input) {
    guint n = 0;
    const gint64 *axes = glia_graph_node_get_attr_ints (graph, node, "axes", &n);
    if (n > GLIA_MAX_RANK) {
      cpu_node_error (error, graph, node, "attribute 'axes' has too many values (%u)", n);
      return NULL;
    }
    if (n)
      memcpy (s.axes, axes, n * sizeof (gint64));
    s.n_axes = n;
  }
  return g_memdup2 (&s, sizeof s);
}

/* The reduced-dims mask; FALSE with @why on a bad axis. Empty axes reduce
 * everything unless noop_with_empty_axes. */
static gboolean
reduce_mask (const ReduceState *s, const gint64 *axes, gsize n, guint rank, gboolean *mask,
             gboolean *noop, char **why)
{
  *noop = FALSE;
  if (n == 0) {
    *noop = s->noop_with_empty_axes;
    for (guint i = 0; i < rank; i++)
      mask[i] = !*noop;
    return TRUE;
  }
  memset (mask, 0, rank * sizeof (gboolean));
  for (gsize i = 0; i < n; i++) {
    guint a;
    if (!cpu_normalize_axis (axes[i], rank, &a)) {
      *why = g_strdup_printf ("axis %" G_GINT64_FORMAT " is out of range for rank %u", axes[i],
                              rank);
      return FALSE;
    }
    mask[a] = TRUE;
  }
  return TRUE;
}

static guint
reduce_out_dims (gboolean keepdims, guint rank, const gint64 *in, const gboolean *mask, gint64 *out)
{
  guint r = 0;
  for (guint i = 0; i < rank; i++) {
    if (!mask[i])
      out[r++] = in[i];
    else if (keepdims)
      out[r++] = 1;
  }
  return r;
}

static gboolean
reduce_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  g_autoptr (GError) local = NULL;
  g_autofree ReduceState *s = reduce_create (graph, glia_shape_context_get_node (ctx), &local);
  if (s == NULL) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  gint64 axes[GLIA_MAX_RANK];
  gsize n = s->n_axes;
  memcpy (axes, s->axes, sizeof axes);
  if (s->axes_from_input && glia_shape_context_get_n_inputs (ctx) > 1
      && glia_shape_context_has_input (ctx, 1)) {
    if (!cpu_shape_context_get_ints (ctx, 1, axes, GLIA_MAX_RANK, &n)) {
      if (rank >= 0 && s->keepdims) {
        gint64 unknown[GLIA_MAX_RANK];
        for (gint i = 0; i < rank; i++)
          unknown[i] = -1;
        glia_shape_context_set_output (ctx, 0, dtype, rank, unknown);
      } else
        glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
      return TRUE;
    }
  }
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  gboolean mask[GLIA_MAX_RANK], noop;
  g_autofree char *why = NULL;
  if (!reduce_mask (s, axes, n, (guint)rank, mask, &noop, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  gint64 out[GLIA_MAX_RANK];
  guint r = reduce_out_dims (s->keepdims, (guint)rank, glia_shape_context_get_input_dims (ctx, 0),
                             mask, out);
  glia_shape_context_set_output (ctx, 0, dtype, (gint)r, out);
  return TRUE;
}

typedef struct
{
  ReduceKind kind;
  const guint8 *x;
  guint8 *y;
  /* kept dims (without the innermost group when it is kept) */
  guint n_kept;
  gint64 kept_dims[GLIA_MAX_RANK];
  gint64 kept_strides[GLIA_MAX_RANK];
  gsize inner;      /* size of the innermost kept group, 1 when it is reduced */
  CpuBroadcast red; /* the reduced positions, input 0 strides */
  gsize count;      /* number of reduced positions */
} ReduceJob;

static gsize
kept_offset (const ReduceJob *job, gsize o)
{
  gsize off = 0;
  for (gint i = (gint)job->n_kept - 1; i >= 0; i--) {
    off += (o % (gsize)job->kept_dims[i]) * (gsize)job->kept_strides[i];
    o /= (gsize)job->kept_dims[i];
  }
  return off;
}

/* Accumulator arithmetic per accumulator type: doubles as usual, int64
 * wrapping like two's complement instead of overflowing, uint64 wrapping. */
static inline double
acc_add_d (double a, double b)
{
  return a + b;
}
static inline double
acc_mul_d (double a, double b)
{
  return a * b;
}
static inline double
acc_abs_d (double a)
{
  return fabs (a);
}
static inline gint64
acc_add_s (gint64 a, gint64 b)
{
  return (gint64)((guint64)a + (guint64)b);
}
static inline gint64
acc_mul_s (gint64 a, gint64 b)
{
  return (gint64)((guint64)a * (guint64)b);
}
static inline gint64
acc_abs_s (gint64 a)
{
  return a < 0 ? (gint64)(0 - (guint64)a) : a;
}
static inline guint64
acc_add_u (guint64 a, guint64 b)
{
  return a + b;
}
static inline guint64
acc_mul_u (guint64 a, guint64 b)
{
  return a * b;
}
static inline guint64
acc_abs_u (guint64 a)
{
  return a;
}

#define NO_NAN(v) FALSE

/* Lanes of the vector path accumulated at once. */
#define RED_LANES 256

/* One reduction over a type T with accumulator ACC and its acc_*_OPS
 * arithmetic. LOAD reads an element as ACC; STORE_ACC and STORE_DOUBLE write an ACC or double
 * result as T (STORE_DOUBLE saturates for integers); IS_NAN is NO_NAN for integers. */
#define DEFINE_REDUCE(SUF, T, ACC, OPS, LOAD, STORE_ACC, STORE_DOUBLE, IS_NAN, LOWEST, HIGHEST)    \
  static inline ACC reduce_init_##SUF (ReduceKind kind)                                            \
  {                                                                                                \
    switch (kind) {                                                                                \
    case RED_MAX:                                                                                  \
    case RED_LOG_SUM_EXP: /* its first pass is a max */                                            \
      return (ACC)(LOWEST);                                                                        \
    case RED_MIN:                                                                                  \
      return (ACC)(HIGHEST);                                                                       \
    case RED_PROD:                                                                                 \
      return (ACC)1;                                                                               \
    default:                                                                                       \
      return (ACC)0;                                                                               \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  /* @acc holds the max for RED_LOG_SUM_EXP, @sum the sum of exp (x - max). */                     \
  static inline T reduce_finish_##SUF (ReduceKind kind, ACC acc, double sum, gsize count)          \
  {                                                                                                \
    switch (kind) {                                                                                \
    case RED_MEAN:                                                                                 \
      return count ? STORE_ACC (acc / (ACC)count) : STORE_DOUBLE (NAN);                            \
    case RED_L2:                                                                                   \
      return STORE_DOUBLE (sqrt ((double)acc));                                                    \
    case RED_LOG_SUM:                                                                              \
      return STORE_DOUBLE (log ((double)acc));                                                     \
    case RED_LOG_SUM_EXP:                                                                          \
      /* an infinite or NaN max is the answer (and would make NaN below) */                        \
      return isfinite ((double)acc) && count ? STORE_DOUBLE ((double)acc + log (sum))              \
             : count                         ? STORE_ACC (acc)                                     \
                                             : STORE_DOUBLE (-INFINITY);                                                   \
    default:                                                                                       \
      return STORE_ACC (acc);                                                                      \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  /* Innermost group reduced: one output element at a time. */                                     \
  static void reduce_elements_##SUF (const ReduceJob *job, gsize begin, gsize end)                 \
  {                                                                                                \
    const CpuBroadcast *rb = &job->red;                                                            \
    const gint64 st = rb->strides[0][rb->rank - 1];                                                \
    const ReduceKind kind = job->kind;                                                             \
    for (gsize o = begin; o < end; o++) {                                                          \
      const T *x = (const T *)job->x + kept_offset (job, o);                                       \
      ACC acc = reduce_init_##SUF (kind);                                                          \
      double sum = 0;                                                                              \
      CpuBroadcastPos pos;                                                                         \
      if (job->count)                                                                              \
        cpu_broadcast_seek (rb, 0, &pos);                                                          \
      for (gsize r = 0; r < rb->n_rows; r++, cpu_broadcast_next_row (rb, &pos)) {                  \
        const T *v = x + pos.offset[0];                                                            \
        const gsize n = rb->row_len;                                                               \
        switch (kind) {                                                                            \
        case RED_SUM:                                                                              \
        case RED_MEAN:                                                                             \
        case RED_LOG_SUM:                                                                          \
          for (gsize i = 0; i < n; i++)                                                            \
            acc = acc_add_##OPS (acc, LOAD (v[(gint64)i * st]));                                   \
          break;                                                                                   \
        case RED_PROD:                                                                             \
          for (gsize i = 0; i < n; i++)                                                            \
            acc = acc_mul_##OPS (acc, LOAD (v[(gint64)i * st]));                                   \
          break;                                                                                   \
        case RED_MAX:                                                                              \
        case RED_LOG_SUM_EXP:                                                                      \
          for (gsize i = 0; i < n; i++) {                                                          \
            ACC a = LOAD (v[(gint64)i * st]);                                                      \
            acc = a > acc || IS_NAN (a) ? a : acc;                                                 \
          }                                                                                        \
          break;                                                                                   \
        case RED_MIN:                                                                              \
          for (gsize i = 0; i < n; i++) {                                                          \
            ACC a = LOAD (v[(gint64)i * st]);                                                      \
            acc = a < acc || IS_NAN (a) ? a : acc;                                                 \
          }                                                                                        \
          break;                                                                                   \
        case RED_L1:                                                                               \
          for (gsize i = 0; i < n; i++) {                                                          \
            ACC a = LOAD (v[(gint64)i * st]);                                                      \
            acc = acc_add_##OPS (acc, acc_abs_##OPS (a));                                          \
          }                                                                                        \
          break;                                                                                   \
        case RED_L2:                                                                               \
        case RED_SUM_SQUARE:                                                                       \
          for (gsize i = 0; i < n; i++) {                                                          \
            ACC a = LOAD (v[(gint64)i * st]);                                                      \
            acc = acc_add_##OPS (acc, acc_mul_##OPS (a, a));                                       \
          }                                                                                        \
          break;                                                                                   \
        }                                                                                          \
      }                                                                                            \
      if (kind == RED_LOG_SUM_EXP && job->count && isfinite ((double)acc)) {                       \
        cpu_broadcast_seek (rb, 0, &pos);                                                          \
        for (gsize r = 0; r < rb->n_rows; r++, cpu_broadcast_next_row (rb, &pos)) {                \
          const T *v = x + pos.offset[0];                                                          \
          for (gsize i = 0; i < rb->row_len; i++)                                                  \
            sum += exp ((double)LOAD (v[(gint64)i * st]) - (double)acc);                           \
        }                                                                                          \
      }                                                                                            \
      ((T *)job->y)[o] = reduce_finish_##SUF (kind, acc, sum, job->count);                         \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  /* Innermost group kept: accumulate whole vectors, RED_LANES lanes at a                          \
   * time. */                                                                                      \
  static void reduce_vectors_##SUF (const ReduceJob *job, gsize begin, gsize end)                  \
  {                                                                                                \
    const CpuBroadcast *rb = &job->red;                                                            \
    const gint64 st = rb->strides[0][rb->rank - 1];                                                \
    const ReduceKind kind = job->kind;                                                             \
    const gsize inner = job->inner;                                                                \
    ACC acc[RED_LANES];                                                                            \
    double sum[RED_LANES];                                                                         \
    for (gsize o = begin; o < end; o++) {                                                          \
      const T *x = (const T *)job->x + kept_offset (job, o);                                       \
      T *y = (T *)job->y + o * inner;                                                              \
      for (gsize j0 = 0; j0 < inner; j0 += RED_LANES) {                                            \
        const gsize nl = MIN (RED_LANES, inner - j0);                                              \
        const ACC init = reduce_init_##SUF (kind);                                                 \
        CpuBroadcastPos pos;                                                                       \
        for (gsize j = 0; j < nl; j++) {                                                           \
          acc[j] = init;                                                                           \
          sum[j] = 0;                                                                              \
        }                                                                                          \
        if (job->count)                                                                            \
          cpu_broadcast_seek (rb, 0, &pos);                                                        \
        for (gsize r = 0; r < rb->n_rows; r++, cpu_broadcast_next_row (rb, &pos))                  \
          for (gsize i = 0; i < rb->row_len; i++) {                                                \
            const T *v = x + pos.offset[0] + (gint64)i * st + j0;                                  \
            switch (kind) {                                                                        \
            case RED_SUM:                                                                          \
            case RED_MEAN:                                                                         \
            case RED_LOG_SUM:                                                                      \
              for (gsize j = 0; j < nl; j++)                                                       \
                acc[j] = acc_add_##OPS (acc[j], LOAD (v[j]));                                      \
              break;                                                                               \
            case RED_PROD:                                                                         \
              for (gsize j = 0; j < nl; j++)                                                       \
                acc[j] = acc_mul_##OPS (acc[j], LOAD (v[j]));                                      \
              break;                                                                               \
            case RED_MAX:                                                                          \
            case RED_LOG_SUM_EXP:                                                                  \
              for (gsize j = 0; j < nl; j++) {                                                     \
                ACC a = LOAD (v[j]);                                                               \
                acc[j] = a > acc[j] || IS_NAN (a) ? a : acc[j];                                    \
              }                                                                                    \
              break;                                                                               \
            case RED_MIN:                                                                          \
              for (gsize j = 0; j < nl; j++) {                                                     \
                ACC a = LOAD (v[j]);                                                               \
                acc[j] = a < acc[j] || IS_NAN (a) ? a : acc[j];                                    \
              }                                                                                    \
              break;                                                                               \
            case RED_L1:                                                                           \
              for (gsize j = 0; j < nl; j++) {                                                     \
                ACC a = LOAD (v[j]);                                                               \
                acc[j] = acc_add_##OPS (acc[j], acc_abs_##OPS (a));                                \
              }                                                                                    \
              break;                                                                               \
            case RED_L2:                                                                           \
            case RED_SUM_SQUARE:                                                                   \
              for (gsize j = 0; j < nl; j++) {                                                     \
                ACC a = LOAD (v[j]);                                                               \
                acc[j] = acc_add_##OPS (acc[j], acc_mul_##OPS (a, a));                             \
              }                                                                                    \
              break;                                                                               \
            }                                                                                      \
          }                                                                                        \
        if (kind == RED_LOG_SUM_EXP && job->count) {                                               \
          cpu_broadcast_seek (rb, 0, &pos);                                                        \
          for (gsize r = 0; r < rb->n_rows; r++, cpu_broadcast_next_row (rb, &pos))                \
            for (gsize i = 0; i < rb->row_len; i++) {                                              \
              const T *v = x + pos.offset[0] + (gint64)i * st + j0;                                \
              for (gsize j = 0; j < nl; j++)                                                       \
                if (isfinite ((double)acc[j]))                                                     \
                  sum[j] += exp ((double)LOAD (v[j]) - (double)acc[j]);                            \
            }                                                                                      \
        }                                                                                          \
        for (gsize j = 0; j < nl; j++)                                                             \
          y[j0 + j] = reduce_finish_##SUF (kind, acc[j], sum[j], job->count);                      \
      }                                                                                            \
    }                                                                                              \
  }

/* Saturating double -> integer, NaN giving 0. */
#define SAT(T, LO, HI, d)                                                                          \
  ((d) != (d) ? (T)0 : (d) <= (double)(LO) ? (T)(LO) : (d) >= (double)(HI) ? (T)(HI) : (T)(d))

#define LOAD_F(x)     ((double)(x))
#define LOAD_F16(x)   ((double)cpu_half_to_float (x))
#define LOAD_BF16(x)  ((double)cpu_bfloat16_to_float (x))
#define STORE_F32(v)  ((float)(v))
#define STORE_F64(v)  ((double)(v))
#define STORE_F16(v)  cpu_float_to_half ((float)(v))
#define STORE_BF16(v) cpu_float_to_bfloat16 ((float)(v))
#define LOAD_I(x)     ((gint64)(x))
#define LOAD_U(x)     ((guint64)(x))

#define DEFINE_REDUCE_INT(SUF, T, ACC, OPS, LOAD, LO, HI)                                          \
  static inline T store_double_##SUF (double d)                                                    \
  {                                                                                                \
    return SAT (T, LO, HI, d);                                                                     \
  }                                                                                                \
  DEFINE_REDUCE (SUF, T, ACC, OPS, LOAD, (T), store_double_##SUF, NO_NAN, LO, HI)

DEFINE_REDUCE (f32, float, double, d, LOAD_F, STORE_F32, STORE_F32, isnan, -INFINITY, INFINITY)
DEFINE_REDUCE (f64, double, double, d, LOAD_F, STORE_F64, STORE_F64, isnan, -INFINITY, INFINITY)
DEFINE_REDUCE (f16, guint16, double, d, LOAD_F16, STORE_F16, STORE_F16, isnan, -INFINITY, INFINITY)
DEFINE_REDUCE (bf16, guint16, double, d, LOAD_BF16, STORE_BF16, STORE_BF16, isnan, -INFINITY,
               INFINITY)
DEFINE_REDUCE_INT (i8, gint8, gint64, s, LOAD_I, G_MININT8, G_MAXINT8)
DEFINE_REDUCE_INT (i16, gint16, gint64, s, LOAD_I, G_MININT16, G_MAXINT16)
DEFINE_REDUCE_INT (i32, gint32, gint64, s, LOAD_I, G_MININT32, G_MAXINT32)
DEFINE_REDUCE_INT (i64, gint64, gint64, s, LOAD_I, G_MININT64, G_MAXINT64)
DEFINE_REDUCE_INT (u8, guint8, guint64, u, LOAD_U, 0, G_MAXUINT8)
DEFINE_REDUCE_INT (u16, guint16, guint64, u, LOAD_U, 0, G_MAXUINT16)
DEFINE_REDUCE_INT (u32, guint32, guint64, u, LOAD_U, 0, G_MAXUINT32)
DEFINE_REDUCE_INT (u64, guint64, guint64, u, LOAD_U, 0, G_MAXUINT64)

/* float32, innermost group reduced and contiguous: the vector kernels do
 * each contiguous run. */
static gboolean
reduce_simd_applies (const ReduceJob *job)
{
  const CpuBroadcast *rb = &job->red;
  if (job->inner != 1 || job->count == 0 || rb->rank == 0 || rb->strides[0][rb->rank - 1] != 1)
    return FALSE;
  switch (job->kind) {
  case RED_SUM:
  case RED_MEAN:
  case RED_MAX:
  case RED_MIN:
  case RED_L2:
  case RED_SUM_SQUARE:
    return TRUE;
  default:
    return FALSE;
  }
}

static void
reduce_elements_f32_simd (const ReduceJob *job, gsize begin, gsize end)
{
  const CpuSimdOps *ops = cpu_simd ();
  const CpuBroadcast *rb = &job->red;
  const ReduceKind kind = job->kind;
  for (gsize o = begin; o < end; o++) {
    const float *x = (const float *)job->x + kept_offset (job, o);
    double acc = reduce_init_f32 (kind);
    CpuBroadcastPos pos;
    cpu_broadcast_seek (rb, 0, &pos);
    for (gsize r = 0; r < rb->n_rows; r++, cpu_broadcast_next_row (rb, &pos)) {
      const float *v = x + pos.offset[0];
      double a;
      switch (kind) {
      case RED_MAX:
        a = ops->max (v, rb->row_len);
        acc = a > acc || isnan (a) || isnan (acc) ? (isnan (acc) ? acc : a) : acc;
        break;
      case RED_MIN:
        a = ops->min (v, rb->row_len);
        acc = a < acc || isnan (a) || isnan (acc) ? (isnan (acc) ? acc : a) : acc;
        break;
      case RED_L2:
      case RED_SUM_SQUARE:
        acc += ops->sum_squares (v, rb->row_len);
        break;
      default:
        acc += ops->sum (v, rb->row_len);
        break;
      }
    }
    ((float *)job->y)[o] = reduce_finish_f32 (kind, acc, 0, job->count);
  }
}

typedef struct
{
  const ReduceJob *job;
  GliaDataType dtype;
  gboolean simd;
} ReduceTask;

#define REDUCE_CASE(ENUM, SUF)                                                                     \
  case ENUM:                                                                                       \
    (vectors ? reduce_vectors_##SUF : reduce_elements_##SUF) (t->job, begin, end);                 \
    break

static void
reduce_chunk (gsize begin, gsize end, gpointer user_data)
{
  const ReduceTask *t = user_data;
  gboolean vectors = t->job->inner > 1;
  if (t->simd) {
    reduce_elements_f32_simd (t->job, begin, end);
    return;
  }
  switch (t->dtype) {
    REDUCE_CASE (GLIA_DATA_TYPE_FLOAT, f32);
    REDUCE_CASE (GLIA_DATA_TYPE_DOUBLE, f64);
    REDUCE_CASE (GLIA_DATA_TYPE_FLOAT16, f16);
    REDUCE_CASE (GLIA_DATA_TYPE_BFLOAT16, bf16);
    REDUCE_CASE (GLIA_DATA_TYPE_INT8, i8);
    REDUCE_CASE (GLIA_DATA_TYPE_INT16, i16);
    REDUCE_CASE (GLIA_DATA_TYPE_INT32, i32);
    REDUCE_CASE (GLIA_DATA_TYPE_INT64, i64);
    REDUCE_CASE (GLIA_DATA_TYPE_UINT8, u8);
    REDUCE_CASE (GLIA_DATA_TYPE_UINT16, u16);
    REDUCE_CASE (GLIA_DATA_TYPE_UINT32, u32);
    REDUCE_CASE (GLIA_DATA_TYPE_UINT64, u64);
  default:
    g_assert_not_reached ();
  }
}

static gboolean
reduce_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ReduceState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !check_num_dtype (ctx, x, error))
    return FALSE;

  gint64 axes[GLIA_MAX_RANK];
  gsize n = s->n_axes;
  memcpy (axes, s->axes, sizeof axes);
  if (s->axes_from_input && glia_kernel_context_get_n_inputs (ctx) > 1) {
    const GliaTensorView *a = glia_kernel_context_get_input (ctx, 1);
    n = 0;
    if (a && (a->rank > 1 || !cpu_view_get_ints (a, axes, GLIA_MAX_RANK, &n))) {
      g_autofree char *d = cpu_dims_to_string (a->rank, a->dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "axes must be a 1-D int64 tensor, got %s %s",
                        glia_data_type_get_name (a->dtype), d);
      return FALSE;
    }
  }
  gboolean mask[GLIA_MAX_RANK], noop;
  g_autofree char *why = NULL;
  if (!reduce_mask (s, axes, n, x->rank, mask, &noop, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  gint64 out[GLIA_MAX_RANK];
  guint out_rank = reduce_out_dims (s->keepdims, x->rank, x->dims, mask, out);
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, out_rank, out, error);
  if (y == NULL)
    return FALSE;
  if (noop) {
    if (x->n_bytes)
      memcpy (y->data, x->data, x->n_bytes);
    return TRUE;
  }
  if (y->n_elements == 0)
    return TRUE;

  /* Group neighbouring dims by reduced/kept (dims of size 1 drop out). */
  gint64 gd[GLIA_MAX_RANK], gs[GLIA_MAX_RANK];
  gboolean gr[GLIA_MAX_RANK];
  guint ng = 0;
  gint64 stride = 1;
  for (gint i = (gint)x->rank - 1; i >= 0; i--) {
    gint64 d = x->dims[i];
    if (d != 1) {
      if (ng > 0 && gr[ng - 1] == mask[i])
        gd[ng - 1] *= d;
      else {
        gd[ng] = d;
        gs[ng] = stride;
        gr[ng] = mask[i];
        ng++;
      }
    }
    stride *= d;
  }
  /* Groups are innermost first here. */
  ReduceJob job = { 0 };
  job.kind = s->kind;
  job.x = x->data;
  job.y = y->data;
  job.inner = 1;
  guint first = 0;
  if (ng > 0 && !gr[0]) {
    job.inner = (gsize)gd[0];
    first = 1;
  }
  gint64 rdims[GLIA_MAX_RANK];
  gint64 rstrides[CPU_BROADCAST_MAX_INPUTS][GLIA_MAX_RANK];
  guint nr = 0;
  for (gint g = (gint)ng - 1; g >= (gint)first; g--) {
    if (gr[g]) {
      rdims[nr] = gd[g];
      rstrides[0][nr] = gs[g];
      nr++;
    } else {
      job.kept_dims[job.n_kept] = gd[g];
      job.kept_strides[job.n_kept] = gs[g];
      job.n_kept++;
    }
  }
  cpu_broadcast_init_strided (&job.red, nr, rdims, 1, rstrides);
  job.count = cpu_numel (nr, rdims);

  gsize n_out = y->n_elements / job.inner;
  ReduceTask task
      = { &job, x->dtype, x->dtype == GLIA_DATA_TYPE_FLOAT && reduce_simd_applies (&job) };
  gsize work = MAX (job.count * job.inner, 1);
  glia_kernel_context_parallel_for (ctx, n_out, MAX (1, CPU_GRAIN / work), reduce_chunk, &task);
  return TRUE;
}

/* ======================================================================== */
/* ArgMax / ArgMin                                                           */
/* ======================================================================== */

typedef struct
{
  gboolean is_max;
  gint64 axis;
  gboolean keepdims;
  gboolean select_last;
} ArgState;

static gpointer
arg_create (const GliaGraph *graph, gint node, GError **error)
{
  ArgState s;
  s.is_max = g_str_equal (glia_graph_node_get_op_type (graph, node), "ArgMax");
  s.axis = glia_graph_node_get_attr_int (graph, node, "axis", 0);
  if (!cpu_parse_flag (graph, node, "keepdims", 1, &s.keepdims, error)
      || !cpu_parse_flag (graph, node, "select_last_index", 0, &s.select_last, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
arg_out_dims (const ArgState *s, guint rank, const gint64 *in, guint *axis, guint *out_rank,
              gint64 *out)
{
  if (!cpu_normalize_axis (s->axis, rank, axis))
    return FALSE;
  guint r = 0;
  for (guint i = 0; i < rank; i++)
    if (i != *axis)
      out[r++] = in[i];
    else if (s->keepdims)
      out[r++] = 1;
  *out_rank = r;
  return TRUE;
}

static gboolean
arg_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_INT64, -1, NULL);
    return TRUE;
  }
  g_autoptr (GError) local = NULL;
  g_autofree ArgState *s
      = arg_create (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &local);
  if (s == NULL) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  guint axis, r;
  gint64 out[GLIA_MAX_RANK];
  if (!arg_out_dims (s, (guint)rank, glia_shape_context_get_input_dims (ctx, 0), &axis, &r, out)) {
    cpu_shape_error (error, ctx,
                     "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d", s->axis,
                     rank);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_INT64, (gint)r, out);
  return TRUE;
}

typedef struct
{
  const ArgState *s;
  GliaDataType dtype;
  gconstpointer x;
  gint64 *y;
  gsize n;
  gsize inner;
} ArgJob;

/* V is the type elements are compared in, LOAD reads one. NaN wins over
 * any number, as in numpy: the first NaN (the last with select_last_index)
 * is the answer. */
#define ARG_LANES(T, V, LOAD, IS_NAN)                                                              \
  for (gsize lane = begin; lane < end; lane++) {                                                   \
    gsize o = lane / job->inner, in = lane % job->inner;                                           \
    const T *x = (const T *)job->x + o * job->n * job->inner + in;                                 \
    V best = LOAD (x[0]);                                                                          \
    gsize at = 0;                                                                                  \
    for (gsize i = 1; i < job->n; i++) {                                                           \
      V v = LOAD (x[i * job->inner]);                                                              \
      gboolean better;                                                                             \
      if (IS_NAN (best))                                                                           \
        better = last && IS_NAN (v);                                                               \
      else if (IS_NAN (v))                                                                         \
        better = TRUE;                                                                             \
      else                                                                                         \
        better = is_max ? (last ? v >= best : v > best) : (last ? v <= best : v < best);           \
      if (better) {                                                                                \
        best = v;                                                                                  \
        at = i;                                                                                    \
      }                                                                                            \
    }                                                                                              \
    job->y[lane] = (gint64)at;                                                                     \
  }                                                                                                \
  break

#define ARG_INT(T) ARG_LANES (T, T, (T), NO_NAN)

static void
arg_lanes (gsize begin, gsize end, gpointer user_data)
{
  const ArgJob *job = user_data;
  const gboolean last = job->s->select_last, is_max = job->s->is_max;
  switch (job->dtype) {
  case GLIA_DATA_TYPE_FLOAT:
    ARG_LANES (float, float, (float), isnan);
  case GLIA_DATA_TYPE_DOUBLE:
    ARG_LANES (double, double, (double), isnan);
  case GLIA_DATA_TYPE_FLOAT16:
    ARG_LANES (guint16, float, cpu_half_to_float, isnan);
  case GLIA_DATA_TYPE_BFLOAT16:
    ARG_LANES (guint16, float, cpu_bfloat16_to_float, isnan);
  case GLIA_DATA_TYPE_INT8:
    ARG_INT (gint8);
  case GLIA_DATA_TYPE_INT16:
    ARG_INT (gint16);
  case GLIA_DATA_TYPE_INT32:
    ARG_INT (gint32);
  case GLIA_DATA_TYPE_INT64:
    ARG_INT (gint64);
  case GLIA_DATA_TYPE_UINT8:
    ARG_INT (guint8);
  case GLIA_DATA_TYPE_UINT16:
    ARG_INT (guint16);
  case GLIA_DATA_TYPE_UINT32:
    ARG_INT (guint32);
  case GLIA_DATA_TYPE_UINT64:
    ARG_INT (guint64);
  default:
    g_assert_not_reached ();
  }
}

static gboolean
arg_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ArgState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !check_num_dtype (ctx, x, error))
    return FALSE;
  guint axis, r;
  gint64 out[GLIA_MAX_RANK];
  if (!arg_out_dims (s, x->rank, x->dims, &axis, &r, out)) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for input %s", s->axis, d);
    return FALSE;
  }
  if (x->dims[axis] == 0) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "cannot take the %s over the empty axis %u of %s",
                      s->is_max ? "ArgMax" : "ArgMin", axis, d);
    return FALSE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_INT64, r, out, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  ArgJob job = { s,
                 x->dtype,
                 x->data,
                 y->data,
                 (gsize)x->dims[axis],
                 cpu_numel_range (x->dims, axis + 1, x->rank) };
  glia_kernel_context_parallel_for (ctx, y->n_elements, MAX (1, CPU_GRAIN / job.n), arg_lanes,
                                    &job);
  return TRUE;
}

#define REDUCE_DEF(NAME, SINCE, UNTIL)                                                             \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = UNTIL, .dtypes = DTYPES_NUM, .infer_shapes = reduce_infer_shapes,             \
    .create = reduce_create, .compute = reduce_compute, .destroy = g_free,                         \
  }

static const GliaOpDef reduce_ops[] = {
  /* axes: an attribute, then an optional input (13 for ReduceSum, 18 for the
   * rest) along with noop_with_empty_axes. */
  REDUCE_DEF ("ReduceSum", 1, 12),
  REDUCE_DEF ("ReduceSum", 13, G_MAXINT),
  REDUCE_DEF ("ReduceMean", 1, 17),
  REDUCE_DEF ("ReduceMean", 18, G_MAXINT),
  REDUCE_DEF ("ReduceMax", 1, 17),
  REDUCE_DEF ("ReduceMax", 18, G_MAXINT),
  REDUCE_DEF ("ReduceMin", 1, 17),
  REDUCE_DEF ("ReduceMin", 18, G_MAXINT),
  REDUCE_DEF ("ReduceProd", 1, 17),
  REDUCE_DEF ("ReduceProd", 18, G_MAXINT),
  REDUCE_DEF ("ReduceL1", 1, 17),
  REDUCE_DEF ("ReduceL1", 18, G_MAXINT),
  REDUCE_DEF ("ReduceL2", 1, 17),
  REDUCE_DEF ("ReduceL2", 18, G_MAXINT),
  REDUCE_DEF ("ReduceLogSum", 1, 17),
  REDUCE_DEF ("ReduceLogSum", 18, G_MAXINT),
  REDUCE_DEF ("ReduceLogSumExp", 1, 17),
  REDUCE_DEF ("ReduceLogSumExp", 18, G_MAXINT),
  REDUCE_DEF ("ReduceSumSquare", 1, 17),
  REDUCE_DEF ("ReduceSumSquare", 18, G_MAXINT),
  /* select_last_index since 12 (absent before, so one def). */
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "ArgMax",
      .since_version = 1,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_NUM,
      .infer_shapes = arg_infer_shapes,
      .create = arg_create,
      .compute = arg_compute,
      .destroy = g_free,
  },
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "ArgMin",
      .since_version = 1,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_NUM,
      .infer_shapes = arg_infer_shapes,
      .create = arg_create,
      .compute = arg_compute,
      .destroy = g_free,
  },
};

void
cpu_reduce_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (reduce_ops); i++)
    glia_op_table_add (table, &reduce_ops[i]);
}
