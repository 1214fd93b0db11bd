/* cpu-loss.c: losses and the selection / contraction ops that sit beside
 * them. NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (reductions
 * none / sum / mean, class weights, ignore_index, any number of spatial dims,
 * the log-probabilities as an optional output), Hardmax (both semantics:
 * before opset 13 the input is coerced to 2-D at `axis`, since 13 one axis),
 * CumSum, TopK (k an attribute in opset 1, an input since 10), Einsum, Det and
 * NonMaxSuppression.
 *
 * Kernels work on "lanes": an input seen as [outer, n, inner] has outer *
 * inner independent lanes of n elements along the op's axis, split across
 * threads. Float types (float16 and bfloat16 included) are read and written
 * through double; integers through 64-bit values that wrap like the element
 * type does. Losses, Det and Einsum accumulate in double.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DTYPES_FLOAT GLIA_DTYPES_FLOATS
#define DTYPES_NUM   (GLIA_DTYPES_FLOATS | GLIA_DTYPES_INTS)
#define DTYPES_INDEX (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64))
#define DTYPES_CUMSUM                                                                              \
  (GLIA_DTYPES_FLOATS | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32)                                      \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT32)                \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT64))

/* ---- element access ------------------------------------------------------ */

static gboolean
dtype_in (GliaDataType t, guint64 mask)
{
  return t > 0 && t <= GLIA_DATA_TYPE_LAST && (mask & GLIA_DTYPE_BIT (t)) != 0;
}

static gboolean
check_dtype (GliaKernelContext *ctx, const GliaTensorView *v, const char *what, guint64 mask,
             GError **error)
{
  if (dtype_in (v->dtype, mask))
    return TRUE;
  cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s: element type %s is not supported",
                    what, glia_data_type_get_name (v->dtype));
  return FALSE;
}

static double
load_f (GliaDataType t, gconstpointer p, gsize i)
{
  switch (t) {
  case GLIA_DATA_TYPE_FLOAT:
    return ((const float *)p)[i];
  case GLIA_DATA_TYPE_DOUBLE:
    return ((const double *)p)[i];
  case GLIA_DATA_TYPE_FLOAT16:
    return cpu_half_to_float (((const guint16 *)p)[i]);
  case GLIA_DATA_TYPE_BFLOAT16:
    return cpu_bfloat16_to_float (((const guint16 *)p)[i]);
  default:
    g_assert_not_reached ();
  }
}

static void
store_f (GliaDataType t, gpointer p, gsize i, double v)
{
  switch (t) {
  case GLIA_DATA_TYPE_FLOAT:
    ((float *)p)[i] = (float)v;
    break;
  case GLIA_DATA_TYPE_DOUBLE:
    ((double *)p)[i] = v;
    break;
  case GLIA_DATA_TYPE_FLOAT16:
    ((guint16 *)p)[i] = cpu_float_to_half ((float)v);
    break;
  case GLIA_DATA_TYPE_BFLOAT16:
    ((guint16 *)p)[i] = cpu_float_to_bfloat16 ((float)v);
    break;
  default:
    g_assert_not_reached ();
  }
}

/* Integers, sign-extended to 64 bits; sums and products of these, stored
 * back with store_u(), wrap as they would in the element type. */
static guint64
load_u (GliaDataType t, gconstpointer p, gsize i)
{
  switch (t) {
  case GLIA_DATA_TYPE_INT8:
    return (guint64)(gint64)((const gint8 *)p)[i];
  case GLIA_DATA_TYPE_INT16:
    return (guint64)(gint64)((const gint16 *)p)[i];
  case GLIA_DATA_TYPE_INT32:
    return (guint64)(gint64)((const gint32 *)p)[i];
  case GLIA_DATA_TYPE_INT64:
    return (guint64)((const gint64 *)p)[i];
  case GLIA_DATA_TYPE_UINT8:
    return ((const guint8 *)p)[i];
  case GLIA_DATA_TYPE_UINT16:
    return ((const guint16 *)p)[i];
  case GLIA_DATA_TYPE_UINT32:
    return ((const guint32 *)p)[i];
  case GLIA_DATA_TYPE_UINT64:
    return ((const guint64 *)p)[i];
  default:
    g_assert_not_reached ();
  }
}

static void
store_u (GliaDataType t, gpointer p, gsize i, guint64 v)
{
  switch (t) {
  case GLIA_DATA_TYPE_INT8:
  case GLIA_DATA_TYPE_UINT8:
    ((guint8 *)p)[i] = (guint8)v;
    break;
  case GLIA_DATA_TYPE_INT16:
  case GLIA_DATA_TYPE_UINT16:
    ((guint16 *)p)[i] = (guint16)v;
    break;
  case GLIA_DATA_TYPE_INT32:
  case GLIA_DATA_TYPE_UINT32:
    ((guint32 *)p)[i] = (guint32)v;
    break;
  case GLIA_DATA_TYPE_INT64:
  case GLIA_DATA_TYPE_UINT64:
    ((guint64 *)p)[i] = v;
    break;
  default:
    g_assert_not_reached ();
  }
}

static gint64
load_index (GliaDataType t, gconstpointer p, gsize i)
{
  return t == GLIA_DATA_TYPE_INT32 ? ((const gint32 *)p)[i] : ((const gint64 *)p)[i];
}

/* ---- attributes and scalar inputs ----------------------------------------- */

static gboolean
parse_flag (const GliaGraph *graph, gint node, const char *name, gint64 def, gboolean *out,
            GError **error)
{
  gint64 v = glia_graph_node_get_attr_int (graph, node, name, def);
  if (v != 0 && v != 1) {
    cpu_node_error (error, graph, node, "attribute '%s' must be 0 or 1, got %" G_GINT64_FORMAT,
                    name, v);
    return FALSE;
  }
  *out = v == 1;
  return TRUE;
}

static gboolean
parse_axis (const GliaGraph *graph, gint node, gint64 def, gint64 *out, GError **error)
{
  *out = glia_graph_node_get_attr_int (graph, node, "axis", def);
  if (*out < -GLIA_MAX_RANK || *out >= GLIA_MAX_RANK) {
    cpu_node_error (error, graph, node, "attribute 'axis' = %" G_GINT64_FORMAT " is out of range",
                    *out);
    return FALSE;
  }
  return TRUE;
}

static const GliaTensorView *
optional_input (GliaKernelContext *ctx, guint i)
{
  return i < glia_kernel_context_get_n_inputs (ctx) ? glia_kernel_context_get_input (ctx, i) : NULL;
}

/* The one value of input @i (a scalar or a 1-element vector), or @def when
 * the input is omitted. */
static gboolean
input_scalar_int (GliaKernelContext *ctx, guint i, const char *what, gint64 def, gint64 *out,
                  GError **error)
{
  const GliaTensorView *v = optional_input (ctx, i);
  gsize n = 0;
  if (v == NULL) {
    *out = def;
    return TRUE;
  }
  if (v->rank > 1 || !cpu_view_get_ints (v, out, 1, &n) || n != 1) {
    g_autofree char *d = cpu_dims_to_string (v->rank, v->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "%s must be a single int32 or int64 value, got %s %s", what,
                      glia_data_type_get_name (v->dtype), d);
    return FALSE;
  }
  return TRUE;
}

static gboolean
input_scalar_float (GliaKernelContext *ctx, guint i, const char *what, gboolean *present,
                    double *out, GError **error)
{
  const GliaTensorView *v = optional_input (ctx, i);
  *present = v != NULL;
  if (v == NULL)
    return TRUE;
  if (v->rank > 1 || v->n_elements != 1 || !dtype_in (v->dtype, DTYPES_FLOAT)) {
    g_autofree char *d = cpu_dims_to_string (v->rank, v->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "%s must be a single float value, got %s %s", what,
                      glia_data_type_get_name (v->dtype), d);
    return FALSE;
  }
  *out = load_f (v->dtype, v->data, 0);
  return TRUE;
}

/* ======================================================================== */
/* NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss                       */
/* ======================================================================== */

typedef enum
{
  LOSS_NONE,
  LOSS_SUM,
  LOSS_MEAN,
} LossReduction;

typedef struct
{
  gboolean softmax; /* SoftmaxCrossEntropyLoss: log-softmax over C first */
  LossReduction reduction;
  gboolean has_ignore;
  gint64 ignore_index;
} LossState;

static gboolean
loss_parse (const GliaGraph *graph, gint node, LossState *s, GError **error)
{
  static const char *const names[] = { "none", "sum", "mean" };
  gsize len;
  const char *r = glia_graph_node_get_attr_string (graph, node, "reduction", "mean", &len);
  guint i;

  s->softmax = g_str_equal (glia_graph_node_get_op_type (graph, node), "SoftmaxCrossEntropyLoss");
  for (i = 0; i < G_N_ELEMENTS (names); i++)
    if (len == strlen (names[i]) && memcmp (r, names[i], len) == 0)
      break;
  if (i == G_N_ELEMENTS (names)) {
    g_autofree char *shown = g_strndup (r, len);
    cpu_node_error (error, graph, node,
                    "attribute 'reduction' must be 'none', 'sum' or 'mean', got '%s'", shown);
    return FALSE;
  }
  s->reduction = (LossReduction)i;
  s->has_ignore = glia_graph_node_has_attr (graph, node, "ignore_index");
  s->ignore_index = glia_graph_node_get_attr_int (graph, node, "ignore_index", 0);
  return TRUE;
}

static gpointer
loss_create (const GliaGraph *graph, gint node, GError **error)
{
  LossState s;
  if (!loss_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

/* loss: the target's shape for reduction 'none', else a scalar; log_prob
 * (SoftmaxCrossEntropyLoss) like the scores. */
static gboolean
loss_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  LossState s;
  g_autoptr (GError) local = NULL;
  if (!loss_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s,
                   &local)) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  GliaDataType t = glia_shape_context_get_input_dtype (ctx, 0);
  if (s.reduction == LOSS_NONE)
    cpu_infer_like_input (ctx, 0, 1, t);
  else
    glia_shape_context_set_output (ctx, 0, t, 0, NULL);
  if (glia_shape_context_get_n_outputs (ctx) > 1)
    cpu_infer_like_input (ctx, 1, 0, t);
  return TRUE;
}

typedef struct
{
  const LossState *s;
  const GliaTensorView *x;
  const GliaTensorView *target;
  const GliaTensorView *weight;
  gpointer log_prob; /* NULL unless wanted */
  gsize classes;
  gsize spatial;     /* product of the dims after C */
  gpointer loss_out; /* reduction 'none': the output */
  double *loss;      /* otherwise each lane's weighted loss and weight */
  double *weights;
} LossJob;

/* A lane is one (n, d1, ..., dk) position: its C scores lie spatial apart. */
static void
loss_lanes (gsize begin, gsize end, gpointer user_data)
{
  const LossJob *job = user_data;
  const LossState *s = job->s;
  GliaDataType t = job->x->dtype;
  gsize C = job->classes, D = job->spatial;

  for (gsize lane = begin; lane < end; lane++) {
    gsize base = (lane / D) * C * D + lane % D;
    double shift = 0.0; /* log-softmax: max + log (sum (exp (x - max))) */
    if (s->softmax && C > 0) {
      double max = load_f (t, job->x->data, base);
      for (gsize c = 1; c < C; c++)
        max = MAX (max, load_f (t, job->x->data, base + c * D));
      double sum = 0.0;
      for (gsize c = 0; c < C; c++)
        sum += exp (load_f (t, job->x->data, base + c * D) - max);
      shift = max + log (sum);
      if (job->log_prob)
        for (gsize c = 0; c < C; c++)
          store_f (t, job->log_prob, base + c * D, load_f (t, job->x->data, base + c * D) - shift);
    }
    gint64 target = load_index (job->target->dtype, job->target->data, lane);
    double loss = 0.0, w = 0.0;
    if (!(s->has_ignore && target == s->ignore_index)) {
      w = job->weight ? load_f (job->weight->dtype, job->weight->data, (gsize)target) : 1.0;
      loss = -(load_f (t, job->x->data, base + (gsize)target * D) - shift) * w;
    }
    if (job->loss_out)
      store_f (t, job->loss_out, lane, loss);
    else {
      job->loss[lane] = loss;
      job->weights[lane] = w;
    }
  }
}

static gboolean
loss_check_inputs (GliaKernelContext *ctx, const GliaTensorView *x, const GliaTensorView *target,
                   const GliaTensorView *weight, GError **error)
{
  g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
  g_autofree char *dt = cpu_dims_to_string (target->rank, target->dims);

  if (!check_dtype (ctx, x, "scores", DTYPES_FLOAT, error)
      || !check_dtype (ctx, target, "target", DTYPES_INDEX, error))
    return FALSE;
  if (x->rank < 2) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "scores must have shape [N, C, d1, ...], got %s", dx);
    return FALSE;
  }
  gboolean ok = target->rank == x->rank - 1 && target->dims[0] == x->dims[0];
  for (guint i = 1; ok && i < target->rank; i++)
    ok = target->dims[i] == x->dims[i + 1];
  if (!ok) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "target %s does not match scores %s (expected [N, d1, ...])", dt, dx);
    return FALSE;
  }
  if (weight && (weight->dtype != x->dtype || weight->rank != 1 || weight->dims[0] != x->dims[1])) {
    g_autofree char *dw = cpu_dims_to_string (weight->rank, weight->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "weight must be a %s vector of the %" G_GINT64_FORMAT " classes, got %s %s",
                      glia_data_type_get_name (x->dtype), x->dims[1],
                      glia_data_type_get_name (weight->dtype), dw);
    return FALSE;
  }
  return TRUE;
}

static gboolean
loss_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const LossState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *target = x ? cpu_require_input (ctx, 1, error) : NULL;
  if (target == NULL)
    return FALSE;
  const GliaTensorView *weight = optional_input (ctx, 2);
  if (!loss_check_inputs (ctx, x, target, weight, error))
    return FALSE;

  gsize C = (gsize)x->dims[1];
  gsize lanes = target->n_elements;
  for (gsize i = 0; i < lanes; i++) {
    gint64 t = load_index (target->dtype, target->data, i);
    if ((s->has_ignore && t == s->ignore_index) || (t >= 0 && (guint64)t < C))
      continue;
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "target value %" G_GINT64_FORMAT " (element %" G_GSIZE_FORMAT
                      ") is not a class in [0, %" G_GSIZE_FORMAT ")",
                      t, i, C);
    return FALSE;
  }

  LossJob job = { s, x, target, weight };
  job.classes = C;
  job.spatial = cpu_numel_range (x->dims, 2, x->rank);
  if (s->softmax && cpu_kernel_has_output (ctx, 1)) {
    GliaTensorView *lp
        = glia_kernel_context_allocate_output (ctx, 1, x->dtype, x->rank, x->dims, error);
    if (lp == NULL)
      return FALSE;
    job.log_prob = lp->data;
  }
  GliaTensorView *out;
  if (s->reduction == LOSS_NONE) {
    out = glia_kernel_context_allocate_output (ctx, 0, x->dtype, target->rank, target->dims, error);
    if (out == NULL)
      return FALSE;
    job.loss_out = out->data;
  } else {
    out = glia_kernel_context_allocate_output (ctx, 0, x->dtype, 0, NULL, error);
    job.loss = glia_kernel_context_get_scratch (ctx, 2 * MAX (lanes, 1) * sizeof (double), error);
    if (out == NULL || job.loss == NULL)
      return FALSE;
    job.weights = job.loss + lanes;
  }
  if (lanes > 0)
    glia_kernel_context_parallel_for (ctx, lanes, MAX (1, CPU_GRAIN / (4 * MAX (C, 1))), loss_lanes,
                                      &job);
  if (s->reduction != LOSS_NONE) {
    double sum = 0.0, wsum = 0.0;
    for (gsize i = 0; i < lanes; i++) {
      sum += job.loss[i];
      wsum += job.weights[i];
    }
    store_f (x->dtype, out->data, 0, s->reduction == LOSS_SUM ? sum : sum / wsum);
  }
  return TRUE;
}

/* ======================================================================== */
/* Hardmax                                                                   */
/* ======================================================================== */

typedef struct
{
  gint64 axis;
  gboolean coerce_2d; /* opset < 13 */
} HardmaxState;

static gboolean
hardmax_parse (const GliaGraph *graph, gint node, HardmaxState *s, GError **error)
{
  s->coerce_2d = glia_graph_node_get_opset (graph, node) < 13;
  return parse_axis (graph, node, s->coerce_2d ? 1 : -1, &s->axis, error);
}

static gpointer
hardmax_create (const GliaGraph *graph, gint node, GError **error)
{
  HardmaxState s;
  if (!hardmax_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
hardmax_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  HardmaxState s;
  guint a;
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  g_autoptr (GError) local = NULL;
  if (!hardmax_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s,
                      &local)) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  if (rank >= 0 && !cpu_normalize_axis (s.axis, (guint)MAX (rank, 1), &a)) {
    cpu_shape_error (error, ctx,
                     "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d", s.axis,
                     rank);
    return FALSE;
  }
  return cpu_infer_same_as_input (ctx, error);
}

typedef struct
{
  GliaDataType dtype;
  gconstpointer x;
  gpointer y;
  gsize n;
  gsize inner;
} LaneJob;

static void
hardmax_lanes (gsize begin, gsize end, gpointer user_data)
{
  const LaneJob *job = user_data;
  for (gsize lane = begin; lane < end; lane++) {
    gsize base = (lane / job->inner) * job->n * job->inner + lane % job->inner;
    gsize at = 0;
    double best = load_f (job->dtype, job->x, base);
    for (gsize i = 1; i < job->n; i++) {
      double v = load_f (job->dtype, job->x, base + i * job->inner);
      if (v > best) {
        best = v;
        at = i;
      }
    }
    store_f (job->dtype, job->y, base + at * job->inner, 1.0);
  }
}

static gboolean
hardmax_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const HardmaxState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !check_dtype (ctx, x, "input", DTYPES_FLOAT, error))
    return FALSE;
  guint axis;
  if (!cpu_normalize_axis (s->axis, MAX (x->rank, 1), &axis)) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for input %s", s->axis, dx);
    return FALSE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  if (x->n_elements == 0)
    return TRUE;
  memset (y->data, 0, y->n_bytes); /* 0.0 in every float format */

  gsize outer = cpu_numel_range (x->dims, 0, MIN (axis, x->rank));
  LaneJob job = { x->dtype, x->data, y->data, 1, 1 };
  if (x->rank > 0 && s->coerce_2d)
    job.n = cpu_numel_range (x->dims, axis, x->rank);
  else if (x->rank > 0) {
    job.n = (gsize)x->dims[axis];
    job.inner = cpu_numel_range (x->dims, axis + 1, x->rank);
  }
  glia_kernel_context_parallel_for (ctx, outer * job.inner, MAX (1, CPU_GRAIN / job.n),
                                    hardmax_lanes, &job);
  return TRUE;
}

/* ======================================================================== */
/* CumSum                                                                    */
/* ======================================================================== */

typedef struct
{
  gboolean exclusive;
  gboolean reverse;
} CumSumState;

static gpointer
cumsum_create (const GliaGraph *graph, gint node, GError **error)
{
  CumSumState s;
  if (!parse_flag (graph, node, "exclusive", 0, &s.exclusive, error)
      || !parse_flag (graph, node, "reverse", 0, &s.reverse, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

/* Units of work: one outer index times a block of inner positions. */
#define CUMSUM_BLOCK 1024

typedef struct
{
  const CumSumState *s;
  GliaDataType dtype;
  gconstpointer x;
  gpointer y;
  gsize n;
  gsize inner;
  gsize n_blocks;
} CumSumJob;

/* Each output row is the previous output row plus an input row (the current
 * one, or the previous one when exclusive), walked forwards or backwards. */
#define CUMSUM_UNITS(T, ADD)                                                                       \
  for (gsize u = begin; u < end; u++) {                                                            \
    gsize inner = job->inner, n = job->n;                                                          \
    gsize j0 = (u % job->n_blocks) * CUMSUM_BLOCK, j1 = MIN (j0 + CUMSUM_BLOCK, inner);            \
    const T *x = (const T *)job->x + (u / job->n_blocks) * n * inner;                              \
    T *y = (T *)job->y + (u / job->n_blocks) * n * inner;                                          \
    for (gsize step = 0; step < n; step++) {                                                       \
      gsize i = job->s->reverse ? n - 1 - step : step;                                             \
      T *yr = y + i * inner;                                                                       \
      if (step == 0) {                                                                             \
        for (gsize j = j0; j < j1; j++)                                                            \
          yr[j] = job->s->exclusive ? (T)0 : x[i * inner + j];                                     \
        continue;                                                                                  \
      }                                                                                            \
      gsize prev = job->s->reverse ? i + 1 : i - 1;                                                \
      const T *yp = y + prev * inner;                                                              \
      const T *xr = x + (job->s->exclusive ? prev : i) * inner;                                    \
      for (gsize j = j0; j < j1; j++)                                                              \
        yr[j] = ADD (yp[j], xr[j]);                                                                \
    }                                                                                              \
  }

#define ADD_PLAIN(a, b) ((a) + (b))
#define ADD_I32(a, b)   ((gint32)((guint32)(a) + (guint32)(b)))
#define ADD_I64(a, b)   ((gint64)((guint64)(a) + (guint64)(b)))
#define ADD_F16(a, b)   cpu_float_to_half (cpu_half_to_float (a) + cpu_half_to_float (b))
#define ADD_BF16(a, b)  cpu_float_to_bfloat16 (cpu_bfloat16_to_float (a) + cpu_bfloat16_to_float (b))

static void
cumsum_units (gsize begin, gsize end, gpointer user_data)
{
  const CumSumJob *job = user_data;
  switch (job->dtype) {
  case GLIA_DATA_TYPE_FLOAT:
    CUMSUM_UNITS (float, ADD_PLAIN);
    break;
  case GLIA_DATA_TYPE_DOUBLE:
    CUMSUM_UNITS (double, ADD_PLAIN);
    break;
  case GLIA_DATA_TYPE_FLOAT16:
    CUMSUM_UNITS (guint16, ADD_F16);
    break;
  case GLIA_DATA_TYPE_BFLOAT16:
    CUMSUM_UNITS (guint16, ADD_BF16);
    break;
  case GLIA_DATA_TYPE_INT32:
    CUMSUM_UNITS (gint32, ADD_I32);
    break;
  case GLIA_DATA_TYPE_INT64:
    CUMSUM_UNITS (gint64, ADD_I64);
    break;
  case GLIA_DATA_TYPE_UINT32:
    CUMSUM_UNITS (guint32, ADD_PLAIN);
    break;
  case GLIA_DATA_TYPE_UINT64:
    CUMSUM_UNITS (guint64, ADD_PLAIN);
    break;
  default:
    g_assert_not_reached ();
  }
}

static gboolean
cumsum_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !check_dtype (ctx, x, "x", DTYPES_CUMSUM, error))
    return FALSE;
  gint64 axis_value;
  guint axis;
  if (cpu_require_input (ctx, 1, error) == NULL
      || !input_scalar_int (ctx, 1, "axis", 0, &axis_value, error))
    return FALSE;
  if (!cpu_normalize_axis (axis_value, MAX (x->rank, 1), &axis)) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for x %s", axis_value, dx);
    return FALSE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  if (x->n_elements == 0)
    return TRUE;

  CumSumJob job = { state, x->dtype, x->data, y->data, 1, 1, 1 };
  if (x->rank > 0) {
    job.n = (gsize)x->dims[axis];
    job.inner = cpu_numel_range (x->dims, axis + 1, x->rank);
  }
  job.n_blocks = (job.inner + CUMSUM_BLOCK - 1) / CUMSUM_BLOCK;
  gsize outer = x->n_elements / (job.n * job.inner);
  gsize unit = job.n * MIN (job.inner, CUMSUM_BLOCK);
  glia_kernel_context_parallel_for (ctx, outer * job.n_blocks, MAX (1, CPU_GRAIN / unit),
                                    cumsum_units, &job);
  return TRUE;
}

/* ======================================================================== */
/* TopK                                                                      */
/* ======================================================================== */

typedef struct
{
  gint64 axis;
  gboolean largest;
  gint64 k; /* opset 1: the attribute; -1 when k is input 1 */
} TopKState;

static gboolean
topk_parse (const GliaGraph *graph, gint node, TopKState *s, GError **error)
{
  gboolean sorted;
  if (!parse_axis (graph, node, -1, &s->axis, error)
      || !parse_flag (graph, node, "largest", 1, &s->largest, error)
      || !parse_flag (graph, node, "sorted", 1, &sorted, error))
    return FALSE;
  s->k = -1;
  if (glia_graph_node_get_opset (graph, node) < 10) {
    if (!glia_graph_node_has_attr (graph, node, "k")) {
      cpu_node_error (error, graph, node, "attribute 'k' is required");
      return FALSE;
    }
    s->k = glia_graph_node_get_attr_int (graph, node, "k", 0);
    if (s->k < 0) {
      cpu_node_error (error, graph, node,
                      "attribute 'k' = %" G_GINT64_FORMAT " must not be negative", s->k);
      return FALSE;
    }
  }
  return TRUE;
}

static gpointer
topk_create (const GliaGraph *graph, gint node, GError **error)
{
  TopKState s;
  if (!topk_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

/* Values and Indices: X's shape with k (-1 when unknown) along the axis. */
static gboolean
topk_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  TopKState s;
  g_autoptr (GError) local = NULL;
  if (!topk_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s,
                   &local)) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  GliaDataType t = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  guint n_out = glia_shape_context_get_n_outputs (ctx);
  gint64 dims[GLIA_MAX_RANK];
  guint axis;
  if (rank >= 0) {
    if (!cpu_normalize_axis (s.axis, (guint)rank, &axis)) {
      cpu_shape_error (error, ctx,
                       "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d",
                       s.axis, rank);
      return FALSE;
    }
    memcpy (dims, glia_shape_context_get_input_dims (ctx, 0), (gsize)rank * sizeof (gint64));
    gsize n = 0;
    gint64 k = s.k;
    if (k < 0 && glia_shape_context_get_n_inputs (ctx) > 1
        && (!cpu_shape_context_get_ints (ctx, 1, &k, 1, &n) || n != 1))
      k = -1;
    dims[axis] = k;
  }
  glia_shape_context_set_output (ctx, 0, t, rank, rank >= 0 ? dims : NULL);
  if (n_out > 1)
    glia_shape_context_set_output (ctx, 1, GLIA_DATA_TYPE_INT64, rank, rank >= 0 ? dims : NULL);
  return TRUE;
}

/* An element's rank in the selection: a larger key is better, and of equal
 * keys the lower index. Keys map every element type to an unsigned integer of
 * the same order (NaN above +inf, -0 as +0); for the smallest k they are
 * inverted. */
typedef struct
{
  guint64 key;
  gint64 index;
} TopKItem;

static guint64
topk_key (GliaDataType t, gconstpointer p, gsize i)
{
  const guint64 sign = G_GUINT64_CONSTANT (1) << 63;
  switch (t) {
  case GLIA_DATA_TYPE_FLOAT:
  case GLIA_DATA_TYPE_DOUBLE:
  case GLIA_DATA_TYPE_FLOAT16:
  case GLIA_DATA_TYPE_BFLOAT16: {
    double v = load_f (t, p, i);
    guint64 bits;
    if (isnan (v))
      return G_GUINT64_CONSTANT (0x7ff8000000000000) | sign;
    if (v == 0.0)
      v = 0.0;
    memcpy (&bits, &v, sizeof bits);
    return (bits & sign) ? ~bits : bits | sign;
  }
  case GLIA_DATA_TYPE_UINT8:
  case GLIA_DATA_TYPE_UINT16:
  case GLIA_DATA_TYPE_UINT32:
  case GLIA_DATA_TYPE_UINT64:
    return load_u (t, p, i);
  default:
    return load_u (t, p, i) ^ sign;
  }
}

static inline gboolean
topk_better (const TopKItem *a, const TopKItem *b)
{
  return a->key > b->key || (a->key == b->key && a->index < b->index);
}

static int
topk_compare (const void *pa, const void *pb)
{
  return topk_better (pa, pb) ? -1 : topk_better (pb, pa) ? 1 : 0;
}

/* The heap keeps the k best items seen so far with the worst at its root. */
static void
topk_sift_down (TopKItem *heap, gsize n, gsize i)
{
  for (;;) {
    gsize l = 2 * i + 1, r = l + 1, worst = i;
    if (l < n && topk_better (&heap[worst], &heap[l]))
      worst = l;
    if (r < n && topk_better (&heap[worst], &heap[r]))
      worst = r;
    if (worst == i)
      return;
    TopKItem tmp = heap[i];
    heap[i] = heap[worst];
    heap[worst] = tmp;
    i = worst;
  }
}

typedef struct
{
  gboolean largest;
  const GliaTensorView *x;
  guint8 *values;  /* NULL when not wanted */
  gint64 *indices; /* NULL when not wanted */
  gsize n;
  gsize k;
  gsize inner;
} TopKJob;

static void
topk_lanes (gsize begin, gsize end, gpointer user_data)
{
  const TopKJob *job = user_data;
  gsize es = glia_data_type_get_size (job->x->dtype);
  g_autofree TopKItem *heap = g_new (TopKItem, job->k);

  for (gsize lane = begin; lane < end; lane++) {
    gsize o = lane / job->inner, in = lane % job->inner;
    gsize src = o * job->n * job->inner + in, dst = o * job->k * job->inner + in;
    for (gsize i = 0; i < job->n; i++) {
      TopKItem item = { topk_key (job->x->dtype, job->x->data, src + i * job->inner), (gint64)i };
      if (!job->largest)
        item.key = ~item.key;
      if (i < job->k) {
        heap[i] = item;
        if (i + 1 == job->k)
          for (gsize h = job->k / 2; h-- > 0;)
            topk_sift_down (heap, job->k, h);
      } else if (topk_better (&item, &heap[0])) {
        heap[0] = item;
        topk_sift_down (heap, job->k, 0);
      }
    }
    qsort (heap, job->k, sizeof (TopKItem), topk_compare);
    for (gsize j = 0; j < job->k; j++) {
      gsize at = dst + j * job->inner;
      if (job->values)
        memcpy (job->values + at * es,
                (const guint8 *)job->x->data + (src + (gsize)heap[j].index * job->inner) * es, es);
      if (job->indices)
        job->indices[at] = heap[j].index;
    }
  }
}

static gboolean
topk_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const TopKState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !check_dtype (ctx, x, "X", DTYPES_NUM, error))
    return FALSE;
  guint axis;
  if (x->rank == 0 || !cpu_normalize_axis (s->axis, x->rank, &axis)) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for X %s", s->axis, dx);
    return FALSE;
  }
  gint64 k = s->k;
  if (k < 0
      && (cpu_require_input (ctx, 1, error) == NULL
          || !input_scalar_int (ctx, 1, "K", 0, &k, error)))
    return FALSE;
  if (k < 0 || k > x->dims[axis]) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "k = %" G_GINT64_FORMAT " is not in [0, %" G_GINT64_FORMAT
                      "] for axis %u of X %s",
                      k, x->dims[axis], axis, dx);
    return FALSE;
  }

  gint64 dims[GLIA_MAX_RANK];
  memcpy (dims, x->dims, x->rank * sizeof (gint64));
  dims[axis] = k;
  TopKJob job = { s->largest,
                  x,
                  NULL,
                  NULL,
                  (gsize)x->dims[axis],
                  (gsize)k,
                  cpu_numel_range (x->dims, axis + 1, x->rank) };
  GliaTensorView *out;
  if (cpu_kernel_has_output (ctx, 0)) {
    if ((out = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, dims, error))
        == NULL)
      return FALSE;
    job.values = out->data;
  }
  if (cpu_kernel_has_output (ctx, 1)) {
    if ((out
         = glia_kernel_context_allocate_output (ctx, 1, GLIA_DATA_TYPE_INT64, x->rank, dims, error))
        == NULL)
      return FALSE;
    job.indices = out->data;
  }
  gsize lanes = cpu_numel (x->rank, dims) / MAX (job.k, 1);
  if (job.k == 0 || lanes == 0)
    return TRUE;
  glia_kernel_context_parallel_for (ctx, lanes, MAX (1, CPU_GRAIN / (4 * job.n)), topk_lanes, &job);
  return TRUE;
}

/* ======================================================================== */
/* Einsum                                                                    */
/* ======================================================================== */

/* Labels: 'A'-'Z' are 0-25 and 'a'-'z' 26-51 (so codes sort as ASCII does),
 * the dims an ellipsis stands for are 52 on, counted from the left of the
 * widest ellipsis; numpy broadcasting applies among those. */
#define EINSUM_LETTERS      52
#define EINSUM_N_LABELS     (EINSUM_LETTERS + GLIA_MAX_RANK)
#define EINSUM_ELLIPSIS     (-1)
#define EINSUM_MAX_OPERANDS 16

typedef struct
{
  guint n_terms;
  guint term_len[EINSUM_MAX_OPERANDS];
  gint8 terms[EINSUM_MAX_OPERANDS][GLIA_MAX_RANK + 1];
  gboolean explicit_output;
  guint out_len;
  gint8 out[EINSUM_N_LABELS];
} EinsumState;

static gboolean
einsum_parse (const GliaGraph *graph, gint node, EinsumState *s, GError **error)
{
  gsize len = 0;
  const char *eq = glia_graph_node_get_attr_string (graph, node, "equation", NULL, &len);
  const char *why = NULL;
  gint8 *term;
  guint *term_len;
  gboolean output = FALSE, ellipsis = FALSE;

  memset (s, 0, sizeof *s);
  if (eq == NULL) {
    cpu_node_error (error, graph, node, "attribute 'equation' is required");
    return FALSE;
  }
  s->n_terms = 1;
  term = s->terms[0];
  term_len = &s->term_len[0];
  for (gsize i = 0; i < len && why == NULL; i++) {
    char c = eq[i];
    guint max_len = output ? EINSUM_N_LABELS : GLIA_MAX_RANK + 1;
    if (g_ascii_isspace (c))
      continue;
    if (c == ',' && !output) {
      if (s->n_terms == EINSUM_MAX_OPERANDS)
        why = "has too many operands";
      else {
        term = s->terms[s->n_terms];
        term_len = &s->term_len[s->n_terms++];
        ellipsis = FALSE;
      }
    } else if (c == '-' && !output) {
      if (i + 1 >= len || eq[i + 1] != '>')
        why = "has a '-' without '>'";
      else {
        i++;
        output = TRUE;
        s->explicit_output = TRUE;
        term = s->out;
        term_len = &s->out_len;
        ellipsis = FALSE;
      }
    } else if (c == '.') {
      if (i + 2 >= len || eq[i + 1] != '.' || eq[i + 2] != '.')
        why = "has a '.' outside an ellipsis";
      else if (ellipsis)
        why = "has two ellipses in one term";
      else if (*term_len >= max_len)
        why = "has a term with too many dims";
      else {
        i += 2;
        ellipsis = TRUE;
        term[(*term_len)++] = EINSUM_ELLIPSIS;
      }
    } else if (g_ascii_isalpha (c)) {
      if (*term_len >= max_len)
        why = "has a term with too many dims";
      else
        term[(*term_len)++] = (gint8)(g_ascii_isupper (c) ? c - 'A' : 26 + c - 'a');
    } else
      why = "has an invalid character";
  }
  if (why == NULL && glia_graph_node_get_n_inputs (graph, node) != s->n_terms)
    why = "does not have one term per input";
  if (why) {
    g_autofree char *shown = g_strndup (eq, len);
    cpu_node_error (error, graph, node, "attribute 'equation' = '%s' %s", shown, why);
    return FALSE;
  }
  return TRUE;
}

static gpointer
einsum_create (const GliaGraph *graph, gint node, GError **error)
{
  EinsumState s;
  if (!einsum_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

/* The equation resolved for operand shapes: every label's size, which label
 * each operand dim carries, the output labels and the summed ones. */
typedef struct
{
  gint64 label_dim[EINSUM_N_LABELS]; /* -2 unused, -1 unknown */
  guint8 dim_label[EINSUM_MAX_OPERANDS][GLIA_MAX_RANK];
  guint n_out;
  guint8 out[GLIA_MAX_RANK];
  gint64 out_dims[GLIA_MAX_RANK];
  guint n_sum;
  guint8 sum[EINSUM_N_LABELS];
} EinsumPlan;

static char *
einsum_label_name (guint label)
{
  if (label >= EINSUM_LETTERS)
    return g_strdup_printf ("ellipsis dim %u", label - EINSUM_LETTERS);
  return g_strdup_printf ("'%c'", label < 26 ? 'A' + label : 'a' + label - 26);
}

/* @dims may hold -1 (unknown) at shape inference. */
static gboolean
einsum_resolve (const EinsumState *s, const guint *ranks, const gint64 *const *dims, EinsumPlan *p,
                char **why)
{
  guint ell_rank[EINSUM_MAX_OPERANDS], max_ell = 0, count[EINSUM_N_LABELS] = { 0 };

  for (guint l = 0; l < EINSUM_N_LABELS; l++)
    p->label_dim[l] = -2;
  for (guint k = 0; k < s->n_terms; k++) {
    gboolean has_ell = memchr (s->terms[k], EINSUM_ELLIPSIS, s->term_len[k]) != NULL;
    guint letters = s->term_len[k] - (has_ell ? 1 : 0);
    if (has_ell ? ranks[k] < letters : ranks[k] != letters) {
      *why = g_strdup_printf ("operand %u has rank %u but its term has %u labels%s", k, ranks[k],
                              letters, has_ell ? " and an ellipsis" : "");
      return FALSE;
    }
    ell_rank[k] = ranks[k] - letters;
    max_ell = MAX (max_ell, ell_rank[k]);
  }
  for (guint k = 0; k < s->n_terms; k++) {
    guint d = 0;
    for (guint t = 0; t < s->term_len[k]; t++) {
      if (s->terms[k][t] != EINSUM_ELLIPSIS) {
        p->dim_label[k][d++] = (guint8)s->terms[k][t];
        count[s->terms[k][t]]++;
        continue;
      }
      for (guint e = 0; e < ell_rank[k]; e++)
        p->dim_label[k][d++] = (guint8)(EINSUM_LETTERS + max_ell - ell_rank[k] + e);
    }
    for (guint i = 0; i < ranks[k]; i++) {
      guint l = p->dim_label[k][i];
      gint64 have = p->label_dim[l], d = dims[k][i];
      if (have == -2 || have == -1)
        p->label_dim[l] = d;
      else if (d == -1 || d == have)
        continue;
      else if (l >= EINSUM_LETTERS && (have == 1 || d == 1))
        p->label_dim[l] = MAX (have, d);
      else {
        g_autofree char *name = einsum_label_name (l);
        *why = g_strdup_printf ("label %s has size %" G_GINT64_FORMAT
                                " in operand %u but %" G_GINT64_FORMAT " before",
                                name, d, k, have);
        return FALSE;
      }
    }
  }

  /* Output: as written, or (implicit) the ellipsis dims then the letters
   * used exactly once, in order. */
  gboolean in_out[EINSUM_N_LABELS] = { FALSE };
  p->n_out = 0;
  for (guint t = 0; t < (s->explicit_output ? s->out_len : 1); t++) {
    gint8 code = s->explicit_output ? s->out[t] : EINSUM_ELLIPSIS;
    guint first = code == EINSUM_ELLIPSIS ? EINSUM_LETTERS : (guint)code;
    guint n = code == EINSUM_ELLIPSIS ? max_ell : 1;
    for (guint l = first; l < first + n; l++) {
      g_autofree char *name = einsum_label_name (l);
      if (p->label_dim[l] == -2) {
        *why = g_strdup_printf ("output label %s is not in any input", name);
        return FALSE;
      }
      if (in_out[l]) {
        *why = g_strdup_printf ("output label %s appears twice", name);
        return FALSE;
      }
      if (p->n_out == GLIA_MAX_RANK) {
        *why = g_strdup ("the output has too many dims");
        return FALSE;
      }
      in_out[l] = TRUE;
      p->out[p->n_out++] = (guint8)l;
    }
  }
  if (!s->explicit_output)
    for (guint l = 0; l < EINSUM_LETTERS; l++)
      if (count[l] == 1) {
        if (p->n_out == GLIA_MAX_RANK) {
          *why = g_strdup ("the output has too many dims");
          return FALSE;
        }
        in_out[l] = TRUE;
        p->out[p->n_out++] = (guint8)l;
      }
  for (guint i = 0; i < p->n_out; i++)
    p->out_dims[i] = p->label_dim[p->out[i]];
  p->n_sum = 0;
  for (guint l = 0; l < EINSUM_N_LABELS; l++)
    if (p->label_dim[l] != -2 && !in_out[l])
      p->sum[p->n_sum++] = (guint8)l;
  return TRUE;
}

static gboolean
einsum_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  EinsumState s;
  g_autoptr (GError) local = NULL;
  if (!einsum_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s,
                     &local)) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  GliaDataType t = glia_shape_context_get_input_dtype (ctx, 0);
  guint ranks[EINSUM_MAX_OPERANDS];
  const gint64 *dims[EINSUM_MAX_OPERANDS];
  for (guint k = 0; k < s.n_terms; k++) {
    gint r = glia_shape_context_get_input_rank (ctx, k);
    if (r < 0) {
      glia_shape_context_set_output (ctx, 0, t, -1, NULL);
      return TRUE;
    }
    ranks[k] = (guint)r;
    dims[k] = glia_shape_context_get_input_dims (ctx, k);
  }
  EinsumPlan p;
  g_autofree char *why = NULL;
  if (!einsum_resolve (&s, ranks, dims, &p, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, t, (gint)p.n_out, p.out_dims);
  return TRUE;
}

/* Operands are converted to double (float types) or 64-bit integers first.
 * The output is computed a row (its last dim) at a time: for every
 * combination of the summed labels the row accumulates the product of the
 * operands along that dim, a loop that is contiguous in the output and
 * usually in one operand (the i-k-j order of a matrix product). */
typedef struct
{
  gboolean is_float;
  guint n_ops;
  gconstpointer ops[EINSUM_MAX_OPERANDS];
  guint n_prefix; /* output dims before the row */
  gint64 out_dims[GLIA_MAX_RANK];
  gint64 out_stride[EINSUM_MAX_OPERANDS][GLIA_MAX_RANK];
  gsize row_len;
  gint64 row_stride[EINSUM_MAX_OPERANDS];
  guint n_sum;
  gint64 sum_dims[EINSUM_N_LABELS];
  gint64 sum_stride[EINSUM_MAX_OPERANDS][EINSUM_N_LABELS];
  gpointer y; /* doubles or 64-bit integers */
} EinsumJob;

#define EINSUM_ROWS(T)                                                                             \
  for (gsize row = begin; row < end; row++) {                                                      \
    gsize off[EINSUM_MAX_OPERANDS] = { 0 }, rest = row, len = job->row_len;                        \
    for (gint i = (gint)job->n_prefix - 1; i >= 0; i--) {                                          \
      gsize idx = rest % (gsize)job->out_dims[i];                                                  \
      rest /= (gsize)job->out_dims[i];                                                             \
      for (guint k = 0; k < n_ops; k++)                                                            \
        off[k] += idx * (gsize)job->out_stride[k][i];                                              \
    }                                                                                              \
    const T *a = job->ops[0], *b = job->ops[n_ops > 1 ? 1 : 0];                                    \
    gsize sa = (gsize)job->row_stride[0], sb = (gsize)job->row_stride[n_ops > 1 ? 1 : 0];          \
    T *y = (T *)job->y + row * len;                                                                \
    gint64 idx[EINSUM_N_LABELS] = { 0 };                                                           \
    for (gsize l = 0; l < len; l++)                                                                \
      y[l] = 0;                                                                                    \
    for (;;) {                                                                                     \
      if (n_ops == 1)                                                                              \
        for (gsize l = 0; l < len; l++)                                                            \
          y[l] += a[off[0] + l * sa];                                                              \
      else if (n_ops == 2)                                                                         \
        for (gsize l = 0; l < len; l++)                                                            \
          y[l] += a[off[0] + l * sa] * b[off[1] + l * sb];                                         \
      else                                                                                         \
        for (gsize l = 0; l < len; l++) {                                                          \
          T prod = 1;                                                                              \
          for (guint k = 0; k < n_ops; k++)                                                        \
            prod *= ((const T *)job->ops[k])[off[k] + l * (gsize)job->row_stride[k]];              \
          y[l] += prod;                                                                            \
        }                                                                                          \
      gint j = (gint)job->n_sum - 1;                                                               \
      for (; j >= 0; j--) {                                                                        \
        for (guint k = 0; k < n_ops; k++)                                                          \
          off[k] += (gsize)job->sum_stride[k][j];                                                  \
        if (++idx[j] < job->sum_dims[j])                                                           \
          break;                                                                                   \
        for (guint k = 0; k < n_ops; k++)                                                          \
          off[k] -= (gsize)(job->sum_stride[k][j] * job->sum_dims[j]);                             \
        idx[j] = 0;                                                                                \
      }                                                                                            \
      if (j < 0)                                                                                   \
        break;                                                                                     \
    }                                                                                              \
  }

static void
einsum_rows (gsize begin, gsize end, gpointer user_data)
{
  const EinsumJob *job = user_data;
  guint n_ops = job->n_ops;
  if (job->is_float)
    EINSUM_ROWS (double)
  else
    EINSUM_ROWS (guint64)
}

static gboolean
einsum_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const EinsumState *s = state;
  const GliaTensorView *in[EINSUM_MAX_OPERANDS];
  guint ranks[EINSUM_MAX_OPERANDS];
  const gint64 *dims[EINSUM_MAX_OPERANDS];
  gsize total = 0;

  for (guint k = 0; k < s->n_terms; k++) {
    if ((in[k] = cpu_require_input (ctx, k, error)) == NULL)
      return FALSE;
    if (!check_dtype (ctx, in[k], "Inputs", DTYPES_NUM, error))
      return FALSE;
    if (in[k]->dtype != in[0]->dtype) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "input %u is %s but input 0 is %s",
                        k, glia_data_type_get_name (in[k]->dtype),
                        glia_data_type_get_name (in[0]->dtype));
      return FALSE;
    }
    ranks[k] = in[k]->rank;
    dims[k] = in[k]->dims;
    total += in[k]->n_elements;
  }
  EinsumPlan p;
  g_autofree char *why = NULL;
  if (!einsum_resolve (s, ranks, dims, &p, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  GliaDataType t = in[0]->dtype;
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, t, p.n_out, p.out_dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;

  EinsumJob job = { 0 };
  job.is_float = dtype_in (t, DTYPES_FLOAT);
  job.n_ops = s->n_terms;
  job.n_prefix = p.n_out > 0 ? p.n_out - 1 : 0;
  job.row_len = p.n_out > 0 ? (gsize)p.out_dims[p.n_out - 1] : 1;
  memcpy (job.out_dims, p.out_dims, sizeof job.out_dims);
  job.n_sum = p.n_sum;
  gsize n_sum_total = 1;
  for (guint j = 0; j < p.n_sum; j++) {
    job.sum_dims[j] = p.label_dim[p.sum[j]];
    n_sum_total *= (gsize)job.sum_dims[j];
  }

  /* 8 bytes per operand element, then the result before conversion */
  guint64 *scratch
      = glia_kernel_context_get_scratch (ctx, (total + y->n_elements) * sizeof (guint64), error);
  if (scratch == NULL)
    return FALSE;
  guint64 *next = scratch;
  for (guint k = 0; k < job.n_ops; k++) {
    gint64 label_stride[EINSUM_N_LABELS] = { 0 }, stride = 1;
    for (gint i = (gint)in[k]->rank - 1; i >= 0; i--) {
      guint l = p.dim_label[k][i];
      if (!(in[k]->dims[i] == 1 && p.label_dim[l] != 1))
        label_stride[l] += stride;
      stride *= in[k]->dims[i];
    }
    for (guint j = 0; j < p.n_out; j++)
      job.out_stride[k][j] = label_stride[p.out[j]];
    job.row_stride[k] = p.n_out > 0 ? job.out_stride[k][p.n_out - 1] : 0;
    for (guint j = 0; j < p.n_sum; j++)
      job.sum_stride[k][j] = label_stride[p.sum[j]];
    if (job.is_float)
      cpu_load_doubles (t, in[k]->data, (double *)next, in[k]->n_elements);
    else
      for (gsize i = 0; i < in[k]->n_elements; i++)
        next[i] = load_u (t, in[k]->data, i);
    job.ops[k] = next;
    next += in[k]->n_elements;
  }
  job.y = next;
  if (n_sum_total == 0)
    memset (job.y, 0, y->n_elements * sizeof (guint64)); /* 0.0 as well */
  else
    glia_kernel_context_parallel_for (ctx, y->n_elements / job.row_len,
                                      MAX (1, CPU_GRAIN / (n_sum_total * job.row_len)), einsum_rows,
                                      &job);
  if (job.is_float)
    cpu_store_doubles (t, job.y, y->data, y->n_elements);
  else
    for (gsize i = 0; i < y->n_elements; i++)
      store_u (t, y->data, i, ((const guint64 *)job.y)[i]);
  return TRUE;
}

/* ======================================================================== */
/* Det                                                                       */
/* ======================================================================== */

static gboolean
det_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  GliaDataType t = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, t, -1, NULL);
    return TRUE;
  }
  const gint64 *dims = glia_shape_context_get_input_dims (ctx, 0);
  if (rank < 2
      || (dims[rank - 1] >= 0 && dims[rank - 2] >= 0 && dims[rank - 1] != dims[rank - 2])) {
    g_autofree char *d = cpu_dims_to_string ((guint)rank, dims);
    cpu_shape_error (error, ctx, "X %s is not a (batch of) square matrices", d);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, t, rank - 2, dims);
  return TRUE;
}

typedef struct
{
  GliaDataType dtype;
  gconstpointer x;
  gpointer y;
  gsize m;
} DetJob;

/* Gaussian elimination with partial pivoting: the determinant is the product
 * of the pivots, negated once per row swap. */
static double
det_lu (double *a, gsize m)
{
  double det = 1.0;
  for (gsize c = 0; c < m; c++) {
    gsize p = c;
    for (gsize r = c + 1; r < m; r++)
      if (fabs (a[r * m + c]) > fabs (a[p * m + c]))
        p = r;
    if (a[p * m + c] == 0.0)
      return 0.0;
    if (p != c) {
      for (gsize j = c; j < m; j++) {
        double tmp = a[c * m + j];
        a[c * m + j] = a[p * m + j];
        a[p * m + j] = tmp;
      }
      det = -det;
    }
    double pivot = a[c * m + c];
    det *= pivot;
    for (gsize r = c + 1; r < m; r++) {
      double f = a[r * m + c] / pivot;
      for (gsize j = c + 1; j < m; j++)
        a[r * m + j] -= f * a[c * m + j];
    }
  }
  return det;
}

static void
det_matrices (gsize begin, gsize end, gpointer user_data)
{
  const DetJob *job = user_data;
  gsize mm = job->m * job->m;
  gsize es = glia_data_type_get_size (job->dtype);
  g_autofree double *a = g_new (double, MAX (mm, 1));
  for (gsize b = begin; b < end; b++) {
    cpu_load_doubles (job->dtype, (const guint8 *)job->x + b * mm * es, a, mm);
    store_f (job->dtype, job->y, b, det_lu (a, job->m));
  }
}

static gboolean
det_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !check_dtype (ctx, x, "X", DTYPES_FLOAT, error))
    return FALSE;
  if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2]) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "X %s is not a (batch of) square matrices", d);
    return FALSE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank - 2, x->dims, error);
  if (y == NULL)
    return FALSE;
  DetJob job = { x->dtype, x->data, y->data, (gsize)x->dims[x->rank - 1] };
  if (y->n_elements > 0)
    glia_kernel_context_parallel_for (ctx, y->n_elements,
                                      MAX (1, CPU_GRAIN / MAX (job.m * job.m * job.m, 1)),
                                      det_matrices, &job);
  return TRUE;
}

/* ======================================================================== */
/* NonMaxSuppression                                                         */
/* ======================================================================== */

typedef struct
{
  gboolean center_point_box;
} NmsState;

static gpointer
nms_create (const GliaGraph *graph, gint node, GError **error)
{
  NmsState s;
  if (!parse_flag (graph, node, "center_point_box", 0, &s.center_point_box, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
nms_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const gint64 dims[2] = { -1, 3 };
  glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_INT64, 2, dims);
  return TRUE;
}

typedef struct
{
  float score;
  gint64 index;
} NmsCandidate;

/* Higher scores first, then lower indices. */
static int
nms_compare (const void *pa, const void *pb)
{
  const NmsCandidate *a = pa, *b = pb;
  if (a->score != b->score)
    return a->score > b->score ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

/* Boxes as [ymin, xmin, ymax, xmax]. Suppression needs an IoU above the
 * threshold; boxes without area never suppress. */
static gboolean
nms_suppresses (const float *a, const float *b, float iou_threshold)
{
  float ymin = MAX (a[0], b[0]), xmin = MAX (a[1], b[1]);
  float ymax = MIN (a[2], b[2]), xmax = MIN (a[3], b[3]);
  if (ymax <= ymin || xmax <= xmin)
    return FALSE;
  float inter = (ymax - ymin) * (xmax - xmin);
  float area_a = (a[2] - a[0]) * (a[3] - a[1]);
  float area_b = (b[2] - b[0]) * (b[3] - b[1]);
  float uni = area_a + area_b - inter;
  if (area_a <= 0.0f || area_b <= 0.0f || uni <= 0.0f)
    return FALSE;
  return inter / uni > iou_threshold;
}

static gboolean
nms_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const NmsState *s = state;
  const GliaTensorView *boxes = cpu_require_input (ctx, 0, error);
  const GliaTensorView *scores = boxes ? cpu_require_input (ctx, 1, error) : NULL;
  if (scores == NULL
      || !check_dtype (ctx, boxes, "boxes", GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT), error)
      || !check_dtype (ctx, scores, "scores", GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT), error))
    return FALSE;
  if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3
      || scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1]) {
    g_autofree char *db = cpu_dims_to_string (boxes->rank, boxes->dims);
    g_autofree char *ds = cpu_dims_to_string (scores->rank, scores->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "boxes %s and scores %s must be [B, N, 4] and [B, C, N]", db, ds);
    return FALSE;
  }
  gint64 max_out;
  double iou_threshold = 0.0, score_threshold = 0.0;
  gboolean has_iou, has_score;
  if (!input_scalar_int (ctx, 2, "max_output_boxes_per_class", 0, &max_out, error)
      || !input_scalar_float (ctx, 3, "iou_threshold", &has_iou, &iou_threshold, error)
      || !input_scalar_float (ctx, 4, "score_threshold", &has_score, &score_threshold, error))
    return FALSE;
  if (!(iou_threshold >= 0.0 && iou_threshold <= 1.0)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "iou_threshold = %g is not in [0, 1]", iou_threshold);
    return FALSE;
  }

  gsize B = (gsize)boxes->dims[0], N = (gsize)boxes->dims[1], C = (gsize)scores->dims[1];
  g_autoptr (GArray) selected = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (max_out > 0 && N > 0) {
    g_autofree float *corners = g_new (float, N * 4);
    g_autofree NmsCandidate *cand = g_new (NmsCandidate, N);
    g_autofree gsize *kept = g_new (gsize, N);
    for (gsize b = 0; b < B; b++) {
      const float *bx = (const float *)boxes->data + b * N * 4;
      for (gsize i = 0; i < N; i++) {
        const float *v = bx + i * 4;
        float *c = corners + i * 4;
        if (s->center_point_box) {
          c[0] = v[1] - v[3] / 2;
          c[1] = v[0] - v[2] / 2;
          c[2] = v[1] + v[3] / 2;
          c[3] = v[0] + v[2] / 2;
        } else {
          c[0] = MIN (v[0], v[2]);
          c[1] = MIN (v[1], v[3]);
          c[2] = MAX (v[0], v[2]);
          c[3] = MAX (v[1], v[3]);
        }
      }
      for (gsize c = 0; c < C; c++) {
        const float *sc = (const float *)scores->data + (b * C + c) * N;
        gsize n_cand = 0, n_kept = 0;
        for (gsize i = 0; i < N; i++)
          if (!has_score || sc[i] > (float)score_threshold)
            cand[n_cand++] = (NmsCandidate){ sc[i], (gint64)i };
        qsort (cand, n_cand, sizeof (NmsCandidate), nms_compare);
        for (gsize i = 0; i < n_cand && n_kept < (guint64)max_out; i++) {
          const float *box = corners + cand[i].index * 4;
          gboolean keep = TRUE;
          for (gsize j = 0; j < n_kept && keep; j++)
            keep = !nms_suppresses (corners + kept[j] * 4, box, (float)iou_threshold);
          if (!keep)
            continue;
          kept[n_kept++] = (gsize)cand[i].index;
          gint64 triple[3] = { (gint64)b, (gint64)c, cand[i].index };
          g_array_append_vals (selected, triple, 3);
        }
      }
    }
  }
  gint64 dims[2] = { (gint64)selected->len / 3, 3 };
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_INT64, 2, dims, error);
  if (y == NULL)
    return FALSE;
  if (selected->len)
    memcpy (y->data, selected->data, selected->len * sizeof (gint64));
  return TRUE;
}

/* ======================================================================== */

#define OP_DEF(NAME, SINCE, UNTIL, DTYPES, INFER, CREATE, COMPUTE)                                 \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = UNTIL, .dtypes = DTYPES, .infer_shapes = INFER, .create = CREATE,             \
    .compute = COMPUTE, .destroy = g_free,                                                         \
  }

static const GliaOpDef loss_ops[] = {
  OP_DEF ("NegativeLogLikelihoodLoss", 12, G_MAXINT, DTYPES_FLOAT, loss_infer_shapes, loss_create,
          loss_compute),
  OP_DEF ("SoftmaxCrossEntropyLoss", 12, G_MAXINT, DTYPES_FLOAT, loss_infer_shapes, loss_create,
          loss_compute),
  /* Before 13: coerce to 2-D at axis (default 1). Since 13: one axis
   * (default -1). */
  OP_DEF ("Hardmax", 1, 12, DTYPES_FLOAT, hardmax_infer_shapes, hardmax_create, hardmax_compute),
  OP_DEF ("Hardmax", 13, G_MAXINT, DTYPES_FLOAT, hardmax_infer_shapes, hardmax_create,
          hardmax_compute),
  OP_DEF ("CumSum", 11, G_MAXINT, DTYPES_CUMSUM, cpu_infer_same_as_input, cumsum_create,
          cumsum_compute),
  /* k: an attribute in opset 1, input 1 since 10; largest and sorted since 11 */
  OP_DEF ("TopK", 1, 9, DTYPES_NUM, topk_infer_shapes, topk_create, topk_compute),
  OP_DEF ("TopK", 10, G_MAXINT, DTYPES_NUM, topk_infer_shapes, topk_create, topk_compute),
  OP_DEF ("Einsum", 12, G_MAXINT, DTYPES_NUM, einsum_infer_shapes, einsum_create, einsum_compute),
  OP_DEF ("Det", 11, G_MAXINT, DTYPES_FLOAT, det_infer_shapes, NULL, det_compute),
  OP_DEF ("NonMaxSuppression", 10, G_MAXINT, GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT),
          nms_infer_shapes, nms_create, nms_compute),
};

void
cpu_loss_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (loss_ops); i++)
    glia_op_table_add (table, &loss_ops[i]);
}
