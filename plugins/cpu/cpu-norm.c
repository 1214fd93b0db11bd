/* cpu-norm.c: normalisations. BatchNormalization (with running statistics,
 * or with the batch's in training mode), Softmax and LogSoftmax (both
 * semantics: before opset 13 the input is coerced to 2-D at `axis` and
 * normalised over everything from it; since 13 over the one axis),
 * LayerNormalization (opset 17), LRN, InstanceNormalization and
 * MeanVarianceNormalization.
 *
 * Each is a loop over independent "lanes" split across threads: BatchNorm
 * over (n, c) planes with the per-channel affine folded once per run, Softmax
 * over (outer, inner) lanes of the normalised axis, LayerNorm over the rows
 * left of `axis`, LRN and InstanceNorm over (n, c) planes.
 * MeanVarianceNormalization, whose axes may be any, runs in one thread. Sums
 * are accumulated in double, except on the float32 fast paths: BatchNorm's
 * affine, and Softmax, LogSoftmax and LayerNorm over a contiguous last axis,
 * run the vector kernels of cpu-simd.h (float accumulators, several per
 * row).
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"
#include "cpu-simd.h"

#include <math.h>
#include <string.h>

#define DTYPES_FLOAT                                                                               \
  (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_DOUBLE))

static gboolean
is_float_or_double (GliaDataType t)
{
  return t == GLIA_DATA_TYPE_FLOAT || t == GLIA_DATA_TYPE_DOUBLE;
}

static double
load (GliaDataType t, gconstpointer p, gsize i)
{
  return t == GLIA_DATA_TYPE_FLOAT ? ((const float *)p)[i] : ((const double *)p)[i];
}

/* ---- BatchNormalization ---------------------------------------------------- */

typedef struct
{
  double epsilon;
  /* training_mode (opset 14+): normalise with the batch's statistics and
   * output the updated running mean and variance */
  gboolean training;
  double momentum;
} BatchNormState;

static gpointer
batch_norm_create (const GliaGraph *graph, gint node, GError **error)
{
  BatchNormState s;
  s.epsilon = glia_graph_node_get_attr_float (graph, node, "epsilon", 1e-5f);
  if (!(s.epsilon >= 0.0)) {
    cpu_node_error (error, graph, node, "attribute 'epsilon' must not be negative");
    return NULL;
  }
  if (!cpu_parse_flag (graph, node, "training_mode", 0, &s.training, error))
    return NULL;
  s.momentum = glia_graph_node_get_attr_float (graph, node, "momentum", 0.9f);
  if (glia_graph_node_get_attr_int (graph, node, "spatial", 1) != 1) {
    cpu_node_error (error, graph, node, "attribute 'spatial' = 0 is not supported");
    return NULL;
  }
  for (guint i = s.training ? 3 : 1; i < glia_graph_node_get_n_outputs (graph, node); i++)
    if (glia_graph_node_get_output (graph, node, i) >= 0) {
      cpu_node_error (error, graph, node, "output %u (a training statistic) is not supported", i);
      return NULL;
    }
  return g_memdup2 (&s, sizeof s);
}

/* Y like X; in training mode the running mean and variance like the inputs. */
static gboolean
batch_norm_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  cpu_infer_like_input (ctx, 0, 0, glia_shape_context_get_input_dtype (ctx, 0));
  for (guint i = 1; i < 3 && i < glia_shape_context_get_n_outputs (ctx); i++)
    cpu_infer_like_input (ctx, i, i + 2, glia_shape_context_get_input_dtype (ctx, i + 2));
  return TRUE;
}

typedef struct
{
  GliaDataType dtype;
  gconstpointer x;
  gpointer y;
  const double *a; /* scale / sqrt (var + eps) */
  const double *b; /* bias - mean * a */
  gsize channels;
  gsize plane;
} BatchNormJob;

static void
batch_norm_planes (gsize begin, gsize end, gpointer user_data)
{
  const BatchNormJob *job = user_data;
  for (gsize p = begin; p < end; p++) {
    gsize c = p % job->channels;
    if (job->dtype == GLIA_DATA_TYPE_FLOAT) {
      const float *x = (const float *)job->x + p * job->plane;
      float *y = (float *)job->y + p * job->plane;
      cpu_simd ()->affine (x, y, job->plane, (float)job->a[c], (float)job->b[c]);
    } else {
      const double *x = (const double *)job->x + p * job->plane;
      double *y = (double *)job->y + p * job->plane;
      for (gsize i = 0; i < job->plane; i++)
        y[i] = x[i] * job->a[c] + job->b[c];
    }
  }
}

/* Training mode: replaces @mean and @var with the batch's statistics per
 * channel and writes the running ones (outputs 1 and 2, when wanted). */
static gboolean
batch_statistics (GliaKernelContext *ctx, const BatchNormState *s, const GliaTensorView *x,
                  const GliaTensorView *running_mean, const GliaTensorView *running_var,
                  double *mean, double *var, GError **error)
{
  gsize channels = (gsize)x->dims[1], n = (gsize)x->dims[0];
  gsize plane = cpu_numel_range (x->dims, 2, x->rank), count = n * plane;
  for (gsize c = 0; c < channels; c++) {
    double sum = 0, sq = 0;
    for (gsize b = 0; b < n; b++)
      for (gsize i = 0; i < plane; i++)
        sum += load (x->dtype, x->data, (b * channels + c) * plane + i);
    double m = count ? sum / (double)count : 0;
    for (gsize b = 0; b < n; b++)
      for (gsize i = 0; i < plane; i++) {
        double d = load (x->dtype, x->data, (b * channels + c) * plane + i) - m;
        sq += d * d;
      }
    mean[c] = m;
    var[c] = count ? sq / (double)count : 0;
  }
  const GliaTensorView *prev[2] = { running_mean, running_var };
  const double *batch[2] = { mean, var };
  for (guint k = 0; k < 2; k++) {
    if (!cpu_kernel_has_output (ctx, k + 1))
      continue;
    GliaTensorView *out
        = glia_kernel_context_allocate_output (ctx, k + 1, prev[k]->dtype, 1, prev[k]->dims, error);
    if (out == NULL)
      return FALSE;
    for (gsize c = 0; c < channels; c++) {
      double v
          = load (prev[k]->dtype, prev[k]->data, c) * s->momentum + batch[k][c] * (1 - s->momentum);
      if (out->dtype == GLIA_DATA_TYPE_FLOAT)
        ((float *)out->data)[c] = (float)v;
      else
        ((double *)out->data)[c] = v;
    }
  }
  return TRUE;
}

static gboolean
batch_norm_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const BatchNormState *s = state;
  const GliaTensorView *in[5];
  static const char *const names[5] = { "X", "scale", "B", "input_mean", "input_var" };

  for (guint i = 0; i < 5; i++)
    if ((in[i] = cpu_require_input (ctx, i, error)) == NULL)
      return FALSE;
  const GliaTensorView *x = in[0];
  if (!is_float_or_double (x->dtype) || x->rank < 2) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "X must be float32 or float64 of rank 2 or more, got %s %s",
                      glia_data_type_get_name (x->dtype), dx);
    return FALSE;
  }
  gint64 channels = x->dims[1];
  for (guint i = 1; i < 5; i++)
    if (!is_float_or_double (in[i]->dtype) || in[i]->rank != 1 || in[i]->dims[0] != channels) {
      g_autofree char *d = cpu_dims_to_string (in[i]->rank, in[i]->dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "%s must be a float vector of %" G_GINT64_FORMAT " channels, got %s %s",
                        names[i], channels, glia_data_type_get_name (in[i]->dtype), d);
      return FALSE;
    }

  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;

  /* a, b, and in training the batch's mean and (population) variance */
  double *ab = glia_kernel_context_get_scratch (ctx, 4 * (gsize)channels * sizeof (double), error);
  if (ab == NULL)
    return FALSE;
  double *mean = ab + 2 * channels, *var = ab + 3 * channels;
  gsize plane = cpu_numel_range (x->dims, 2, x->rank);
  for (gint64 c = 0; c < channels; c++) {
    mean[c] = load (in[3]->dtype, in[3]->data, c);
    var[c] = load (in[4]->dtype, in[4]->data, c);
  }
  if (s->training && !batch_statistics (ctx, s, x, in[3], in[4], mean, var, error))
    return FALSE;
  for (gint64 c = 0; c < channels; c++) {
    double a = load (in[1]->dtype, in[1]->data, c) / sqrt (var[c] + s->epsilon);
    ab[c] = a;
    ab[channels + c] = load (in[2]->dtype, in[2]->data, c) - mean[c] * a;
  }

  BatchNormJob job = { x->dtype, x->data, y->data, ab, ab + channels, (gsize)channels, plane };
  glia_kernel_context_parallel_for (ctx, cpu_numel (2, x->dims),
                                    MAX (1, CPU_GRAIN / MAX (plane, 1)), batch_norm_planes, &job);
  return TRUE;
}

/* ---- Softmax / LogSoftmax --------------------------------------------------- */

typedef struct
{
  gint64 axis;
  gboolean coerce_2d; /* opset < 13 */
  gboolean log;
} SoftmaxState;

static gpointer
softmax_create (const GliaGraph *graph, gint node, GError **error)
{
  SoftmaxState s;
  s.coerce_2d = glia_graph_node_get_opset (graph, node) < 13;
  s.axis = glia_graph_node_get_attr_int (graph, node, "axis", s.coerce_2d ? 1 : -1);
  s.log = g_str_equal (glia_graph_node_get_op_type (graph, node), "LogSoftmax");
  if (s.axis < -GLIA_MAX_RANK || s.axis >= GLIA_MAX_RANK) {
    cpu_node_error (error, graph, node, "attribute 'axis' = %" G_GINT64_FORMAT " is out of range",
                    s.axis);
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
softmax_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 axis = glia_graph_node_get_attr_int (
      graph, node, "axis", glia_graph_node_get_opset (graph, node) < 13 ? 1 : -1);
  guint a;
  if (rank >= 0 && !cpu_normalize_axis (axis, (guint)MAX (rank, 1), &a)) {
    cpu_shape_error (error, ctx,
                     "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d", axis,
                     rank);
    return FALSE;
  }
  return cpu_infer_same_as_input (ctx, error);
}

typedef struct
{
  GliaDataType dtype;
  gboolean log;
  gconstpointer x;
  gpointer y;
  gsize n;     /* length of the normalised axis */
  gsize inner; /* stride between its elements */
} SoftmaxJob;

#define SOFTMAX_LANES(T)                                                                           \
  {                                                                                                \
    for (gsize lane = begin; lane < end; lane++) {                                                 \
      gsize o = lane / job->inner, in = lane % job->inner;                                         \
      const T *x = (const T *)job->x + o * job->n * job->inner + in;                               \
      T *y = (T *)job->y + o * job->n * job->inner + in;                                           \
      gsize st = job->inner;                                                                       \
      T max = x[0];                                                                                \
      for (gsize i = 1; i < job->n; i++)                                                           \
        if (x[i * st] > max)                                                                       \
          max = x[i * st];                                                                         \
      double sum = 0.0;                                                                            \
      if (job->log) {                                                                              \
        for (gsize i = 0; i < job->n; i++)                                                         \
          sum += exp ((double)(x[i * st] - max));                                                  \
        T lse = (T)log (sum);                                                                      \
        for (gsize i = 0; i < job->n; i++)                                                         \
          y[i * st] = x[i * st] - max - lse;                                                       \
      } else {                                                                                     \
        for (gsize i = 0; i < job->n; i++) {                                                       \
          T e = (T)exp ((double)(x[i * st] - max));                                                \
          y[i * st] = e;                                                                           \
          sum += e;                                                                                \
        }                                                                                          \
        T inv = (T)(1.0 / sum);                                                                    \
        for (gsize i = 0; i < job->n; i++)                                                         \
          y[i * st] *= inv;                                                                        \
      }                                                                                            \
    }                                                                                              \
  }

static void
softmax_lanes (gsize begin, gsize end, gpointer user_data)
{
  const SoftmaxJob *job = user_data;
  if (job->dtype == GLIA_DATA_TYPE_FLOAT && job->inner == 1) {
    const CpuSimdOps *ops = cpu_simd ();
    for (gsize lane = begin; lane < end; lane++) {
      const float *x = (const float *)job->x + lane * job->n;
      float *y = (float *)job->y + lane * job->n;
      if (job->log)
        ops->log_softmax (x, y, job->n);
      else
        ops->softmax (x, y, job->n);
    }
  } else if (job->dtype == GLIA_DATA_TYPE_FLOAT)
    SOFTMAX_LANES (float)
  else
    SOFTMAX_LANES (double)
}

static gboolean
softmax_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const SoftmaxState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL)
    return FALSE;
  if (!is_float_or_double (x->dtype)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "element type %s is not supported",
                      glia_data_type_get_name (x->dtype));
    return FALSE;
  }
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

  gsize outer = cpu_numel_range (x->dims, 0, MIN (axis, x->rank));
  gsize n, inner;
  if (x->rank == 0)
    n = inner = 1;
  else if (s->coerce_2d) {
    n = cpu_numel_range (x->dims, axis, x->rank);
    inner = 1;
  } else {
    n = (gsize)x->dims[axis];
    inner = cpu_numel_range (x->dims, axis + 1, x->rank);
  }
  SoftmaxJob job = { x->dtype, s->log, x->data, y->data, n, inner };
  glia_kernel_context_parallel_for (ctx, outer * inner, MAX (1, CPU_GRAIN / (2 * n)), softmax_lanes,
                                    &job);
  return TRUE;
}

/* ---- LayerNormalization ----------------------------------------------------- */

typedef struct
{
  gint64 axis;
  double epsilon;
} LayerNormState;

static gpointer
layer_norm_create (const GliaGraph *graph, gint node, GError **error)
{
  LayerNormState s;
  s.axis = glia_graph_node_get_attr_int (graph, node, "axis", -1);
  s.epsilon = glia_graph_node_get_attr_float (graph, node, "epsilon", 1e-5f);
  gint64 stash = glia_graph_node_get_attr_int (graph, node, "stash_type", 1);
  if (s.axis < -GLIA_MAX_RANK || s.axis >= GLIA_MAX_RANK) {
    cpu_node_error (error, graph, node, "attribute 'axis' = %" G_GINT64_FORMAT " is out of range",
                    s.axis);
    return NULL;
  }
  if (!(s.epsilon >= 0.0)) {
    cpu_node_error (error, graph, node, "attribute 'epsilon' must not be negative");
    return NULL;
  }
  if (stash != 1) {
    cpu_node_error (
        error, graph, node,
        "attribute 'stash_type' = %" G_GINT64_FORMAT " is not supported (only 1, float)", stash);
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
layer_norm_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  guint n_out = glia_shape_context_get_n_outputs (ctx);

  cpu_infer_same_as_input (ctx, error);
  if (n_out < 2)
    return TRUE;
  if (rank < 0) {
    for (guint i = 1; i < n_out && i < 3; i++)
      glia_shape_context_set_output (ctx, i, GLIA_DATA_TYPE_FLOAT, -1, NULL);
    return TRUE;
  }
  gint64 axis_attr = glia_graph_node_get_attr_int (graph, node, "axis", -1);
  guint axis;
  if (!cpu_normalize_axis (axis_attr, (guint)rank, &axis)) {
    cpu_shape_error (error, ctx,
                     "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d",
                     axis_attr, rank);
    return FALSE;
  }
  gint64 dims[GLIA_MAX_RANK];
  memcpy (dims, glia_shape_context_get_input_dims (ctx, 0), (gsize)rank * sizeof (gint64));
  for (guint i = axis; i < (guint)rank; i++)
    dims[i] = 1;
  for (guint i = 1; i < n_out && i < 3; i++)
    glia_shape_context_set_output (ctx, i, GLIA_DATA_TYPE_FLOAT, rank, dims);
  return TRUE;
}

/* Expands @v (broadcastable to X's shape, constant left of @axis) into @out,
 * one value per position of the normalised dims. */
static gboolean
expand_affine (GliaKernelContext *ctx, const GliaTensorView *x, guint axis, const GliaTensorView *v,
               const char *what, double *out, GError **error)
{
  guint nr = x->rank - axis;
  gint64 vd[GLIA_MAX_RANK];
  gint64 vstride[GLIA_MAX_RANK];
  gboolean ok = is_float_or_double (v->dtype) && v->rank <= x->rank;

  for (guint i = 0; ok && i < v->rank; i++) {
    gint xi = (gint)x->rank - (gint)v->rank + (gint)i;
    gint64 d = v->dims[i];
    if (xi < (gint)axis)
      ok = d == 1;
    else
      ok = d == 1 || d == x->dims[xi];
  }
  if (!ok) {
    g_autofree char *dv = cpu_dims_to_string (v->rank, v->dims);
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "%s %s %s does not broadcast over the normalised dims of X %s (axis %u)",
                      what, glia_data_type_get_name (v->dtype), dv, dx, axis);
    return FALSE;
  }

  /* Strides of v over the normalised dims (0 where broadcast). */
  gint64 stride = 1;
  for (gint i = (gint)nr - 1; i >= 0; i--) {
    gint vi = (gint)v->rank - (gint)nr + i;
    gint64 d = vi >= 0 ? v->dims[vi] : 1;
    vd[i] = x->dims[axis + (guint)i];
    vstride[i] = d == 1 ? 0 : stride;
    stride *= d;
  }
  gsize total = cpu_numel (nr, vd);
  gint64 idx[GLIA_MAX_RANK] = { 0 };
  gsize off = 0;
  for (gsize k = 0; k < total; k++) {
    out[k] = load (v->dtype, v->data, off);
    for (gint i = (gint)nr - 1; i >= 0; i--) {
      idx[i]++;
      off += (gsize)vstride[i];
      if (idx[i] < vd[i])
        break;
      off -= (gsize)(vstride[i] * vd[i]);
      idx[i] = 0;
    }
  }
  return TRUE;
}

typedef struct
{
  GliaDataType dtype;
  gconstpointer x;
  gpointer y;
  float *mean;
  float *inv_std;
  const double *scale;
  const double *bias;
  /* float32: scale and bias as floats */
  const float *fscale;
  const float *fbias;
  gsize norm;
  double epsilon;
} LayerNormJob;

#define LAYER_NORM_ROWS(T)                                                                         \
  for (gsize r = begin; r < end; r++) {                                                            \
    const T *x = (const T *)job->x + r * job->norm;                                                \
    T *y = (T *)job->y + r * job->norm;                                                            \
    double sum = 0.0, sq = 0.0;                                                                    \
    for (gsize i = 0; i < job->norm; i++)                                                          \
      sum += x[i];                                                                                 \
    double mean = sum / (double)job->norm;                                                         \
    for (gsize i = 0; i < job->norm; i++) {                                                        \
      double d = x[i] - mean;                                                                      \
      sq += d * d;                                                                                 \
    }                                                                                              \
    double inv = 1.0 / sqrt (sq / (double)job->norm + job->epsilon);                               \
    for (gsize i = 0; i < job->norm; i++)                                                          \
      y[i] = (T)((x[i] - mean) * inv * job->scale[i] + (job->bias ? job->bias[i] : 0.0));          \
    if (job->mean)                                                                                 \
      job->mean[r] = (float)mean;                                                                  \
    if (job->inv_std)                                                                              \
      job->inv_std[r] = (float)inv;                                                                \
  }

static void
layer_norm_rows (gsize begin, gsize end, gpointer user_data)
{
  const LayerNormJob *job = user_data;
  if (job->dtype == GLIA_DATA_TYPE_FLOAT) {
    const CpuSimdOps *ops = cpu_simd ();
    for (gsize r = begin; r < end; r++)
      ops->layer_norm ((const float *)job->x + r * job->norm, (float *)job->y + r * job->norm,
                       job->norm, job->fscale, job->fbias, (float)job->epsilon,
                       job->mean ? job->mean + r : NULL, job->inv_std ? job->inv_std + r : NULL);
  } else {
    LAYER_NORM_ROWS (double)
  }
}

static gboolean
layer_norm_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const LayerNormState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *scale = x ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *bias = NULL;
  if (scale == NULL)
    return FALSE;
  if (glia_kernel_context_get_n_inputs (ctx) > 2)
    bias = glia_kernel_context_get_input (ctx, 2);
  if (!is_float_or_double (x->dtype)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "element type %s is not supported",
                      glia_data_type_get_name (x->dtype));
    return FALSE;
  }
  guint axis;
  if (x->rank == 0 || !cpu_normalize_axis (s->axis, x->rank, &axis)) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for X %s", s->axis, dx);
    return FALSE;
  }

  gsize rows = cpu_numel_range (x->dims, 0, axis);
  gsize norm = cpu_numel_range (x->dims, axis, x->rank);
  /* the scale and bias as doubles, then (float32) as floats */
  gsize n_affine = MAX (norm, 1);
  double *affine = glia_kernel_context_get_scratch (
      ctx, 2 * n_affine * sizeof (double) + 2 * n_affine * sizeof (float), error);
  if (affine == NULL)
    return FALSE;
  if (!expand_affine (ctx, x, axis, scale, "Scale", affine, error)
      || (bias && !expand_affine (ctx, x, axis, bias, "B", affine + norm, error)))
    return FALSE;
  float *faffine = (float *)(affine + 2 * n_affine);
  if (x->dtype == GLIA_DATA_TYPE_FLOAT)
    for (gsize i = 0; i < (bias ? 2 : 1) * norm; i++)
      faffine[i] = (float)affine[i];

  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  gint64 stat_dims[GLIA_MAX_RANK];
  memcpy (stat_dims, x->dims, x->rank * sizeof (gint64));
  for (guint i = axis; i < x->rank; i++)
    stat_dims[i] = 1;
  GliaTensorView *stats[2] = { NULL, NULL };
  for (guint i = 0; i < 2; i++)
    if (cpu_kernel_has_output (ctx, i + 1)
        && (stats[i] = glia_kernel_context_allocate_output (ctx, i + 1, GLIA_DATA_TYPE_FLOAT,
                                                            x->rank, stat_dims, error))
               == NULL)
      return FALSE;
  if (rows == 0 || norm == 0)
    return TRUE;

  LayerNormJob job = { x->dtype,
                       x->data,
                       y->data,
                       stats[0] ? stats[0]->data : NULL,
                       stats[1] ? stats[1]->data : NULL,
                       affine,
                       bias ? affine + norm : NULL,
                       faffine,
                       bias ? faffine + norm : NULL,
                       norm,
                       s->epsilon };
  /* a row costs a few passes over it: chunks of at least 4 * CPU_GRAIN
   * elements, so the per-token norms of a small transformer stay on one
   * thread instead of paying a dispatch for microseconds of work */
  glia_kernel_context_parallel_for (ctx, rows, MAX (1, CPU_GRAIN * 4 / norm), layer_norm_rows,
                                    &job);
  return TRUE;
}

/* ---- LRN, InstanceNormalization, MeanVarianceNormalization ------------------ */

static void
norm_store (GliaDataType t, gpointer p, gsize i, double v)
{
  if (t == GLIA_DATA_TYPE_FLOAT)
    ((float *)p)[i] = (float)v;
  else
    ((double *)p)[i] = v;
}

static gboolean
norm_check_input (GliaKernelContext *ctx, const GliaTensorView *x, guint min_rank, GError **error)
{
  if (is_float_or_double (x->dtype) && x->rank >= min_rank)
    return TRUE;
  g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
  cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                    "X must be float32 or float64 of rank %u or more, got %s %s", min_rank,
                    glia_data_type_get_name (x->dtype), dx);
  return FALSE;
}

typedef struct
{
  double alpha;
  double beta;
  double bias;
  gint64 size;
} LrnState;

static gpointer
lrn_create (const GliaGraph *graph, gint node, GError **error)
{
  LrnState s;
  s.alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 1e-4f);
  s.beta = glia_graph_node_get_attr_float (graph, node, "beta", 0.75f);
  s.bias = glia_graph_node_get_attr_float (graph, node, "bias", 1.0f);
  s.size = glia_graph_node_get_attr_int (graph, node, "size", 0);
  if (s.size < 1) {
    cpu_node_error (error, graph, node, "attribute 'size' is required and must be positive");
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

typedef struct
{
  const LrnState *s;
  GliaDataType dtype;
  gconstpointer x;
  gpointer y;
  gsize channels;
  gsize plane;
} LrnJob;

/* Planes (n, c): the squares of channels c - floor ((size - 1) / 2) to
 * c + ceil ((size - 1) / 2) summed at each position. */
static void
lrn_planes (gsize begin, gsize end, gpointer user_data)
{
  const LrnJob *job = user_data;
  const LrnState *s = job->s;
  gint64 below = (s->size - 1) / 2, above = s->size - 1 - below;
  double scale = s->alpha / (double)s->size;
  for (gsize p = begin; p < end; p++) {
    gsize n = p / job->channels;
    gint64 c = (gint64)(p % job->channels);
    gint64 c0 = MAX (0, c - below), c1 = MIN ((gint64)job->channels - 1, c + above);
    for (gsize i = 0; i < job->plane; i++) {
      double sum = 0.0;
      for (gint64 k = c0; k <= c1; k++) {
        double v = load (job->dtype, job->x, (n * job->channels + (gsize)k) * job->plane + i);
        sum += v * v;
      }
      gsize at = p * job->plane + i;
      norm_store (job->dtype, job->y, at,
                  load (job->dtype, job->x, at) / pow (s->bias + scale * sum, s->beta));
    }
  }
}

static gboolean
lrn_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !norm_check_input (ctx, x, 2, error))
    return FALSE;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  gsize plane = cpu_numel_range (x->dims, 2, x->rank);
  LrnJob job = { state, x->dtype, x->data, y->data, (gsize)x->dims[1], plane };
  glia_kernel_context_parallel_for (ctx, cpu_numel (2, x->dims), MAX (1, CPU_GRAIN / (4 * plane)),
                                    lrn_planes, &job);
  return TRUE;
}

typedef struct
{
  double epsilon;
} InstanceNormState;

static gpointer
instance_norm_create (const GliaGraph *graph, gint node, GError **error)
{
  InstanceNormState s;
  s.epsilon = glia_graph_node_get_attr_float (graph, node, "epsilon", 1e-5f);
  if (!(s.epsilon >= 0.0)) {
    cpu_node_error (error, graph, node, "attribute 'epsilon' must not be negative");
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

typedef struct
{
  GliaDataType dtype;
  gconstpointer x;
  gpointer y;
  const GliaTensorView *scale, *bias;
  gsize channels;
  gsize plane;
  double epsilon;
} InstanceNormJob;

/* Planes (n, c), each normalised over itself. */
static void
instance_norm_planes (gsize begin, gsize end, gpointer user_data)
{
  const InstanceNormJob *job = user_data;
  for (gsize p = begin; p < end; p++) {
    gsize c = p % job->channels, base = p * job->plane;
    double sum = 0.0, sq = 0.0;
    for (gsize i = 0; i < job->plane; i++)
      sum += load (job->dtype, job->x, base + i);
    double mean = sum / (double)job->plane;
    for (gsize i = 0; i < job->plane; i++) {
      double d = load (job->dtype, job->x, base + i) - mean;
      sq += d * d;
    }
    double a = load (job->scale->dtype, job->scale->data, c)
               / sqrt (sq / (double)job->plane + job->epsilon);
    double b = load (job->bias->dtype, job->bias->data, c) - mean * a;
    for (gsize i = 0; i < job->plane; i++)
      norm_store (job->dtype, job->y, base + i, load (job->dtype, job->x, base + i) * a + b);
  }
}

static gboolean
instance_norm_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const InstanceNormState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *scale = x ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *bias = scale ? cpu_require_input (ctx, 2, error) : NULL;
  if (bias == NULL || !norm_check_input (ctx, x, 2, error))
    return FALSE;
  const GliaTensorView *vec[2] = { scale, bias };
  for (guint i = 0; i < 2; i++)
    if (!is_float_or_double (vec[i]->dtype) || vec[i]->rank != 1 || vec[i]->dims[0] != x->dims[1]) {
      g_autofree char *d = cpu_dims_to_string (vec[i]->rank, vec[i]->dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "%s must be a float vector of %" G_GINT64_FORMAT " channels, got %s %s",
                        i ? "B" : "scale", x->dims[1], glia_data_type_get_name (vec[i]->dtype), d);
      return FALSE;
    }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  gsize plane = cpu_numel_range (x->dims, 2, x->rank);
  InstanceNormJob job
      = { x->dtype, x->data, y->data, scale, bias, (gsize)x->dims[1], plane, s->epsilon };
  glia_kernel_context_parallel_for (ctx, cpu_numel (2, x->dims), MAX (1, CPU_GRAIN / (4 * plane)),
                                    instance_norm_planes, &job);
  return TRUE;
}

typedef struct
{
  guint n_axes;
  gint64 axes[GLIA_MAX_RANK];
} MvnState;

static gpointer
mvn_create (const GliaGraph *graph, gint node, GError **error)
{
  static const gint64 default_axes[] = { 0, 2, 3 };
  MvnState s;
  guint n = 0;
  const gint64 *axes = glia_graph_node_get_attr_ints (graph, node, "axes", &n);
  if (axes == NULL) {
    axes = default_axes;
    n = G_N_ELEMENTS (default_axes);
  }
  if (n > GLIA_MAX_RANK) {
    cpu_node_error (error, graph, node, "attribute 'axes' has too many values");
    return NULL;
  }
  s.n_axes = n;
  memcpy (s.axes, axes, n * sizeof (gint64));
  return g_memdup2 (&s, sizeof s);
}

/* Y = (X - mean) / (std + 1e-9) with the statistics over the axes, as the
 * operator's function body defines it. Statistics go to one slot per
 * position of the kept dims; positions map to slots by strides that are 0
 * along the reduced axes. */
static gboolean
mvn_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const MvnState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !norm_check_input (ctx, x, 0, error))
    return FALSE;
  gboolean reduced[GLIA_MAX_RANK] = { FALSE };
  for (guint i = 0; i < s->n_axes; i++) {
    guint a;
    if (!cpu_normalize_axis (s->axes[i], x->rank, &a)) {
      g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "axis %" G_GINT64_FORMAT " is out of range for X %s", s->axes[i], dx);
      return FALSE;
    }
    reduced[a] = TRUE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;

  gsize slot_stride[GLIA_MAX_RANK], n_slots = 1;
  for (gint i = (gint)x->rank - 1; i >= 0; i--) {
    slot_stride[i] = reduced[i] ? 0 : n_slots;
    if (!reduced[i])
      n_slots *= (gsize)x->dims[i];
  }
  gsize count = x->n_elements / n_slots;
  double *stats = glia_kernel_context_get_scratch (ctx, 2 * n_slots * sizeof (double), error);
  if (stats == NULL)
    return FALSE;
  double *mean = stats, *sq = stats + n_slots;
  memset (stats, 0, 2 * n_slots * sizeof (double));

  /* three passes over X: sums, squared deviations, output */
  for (guint pass = 0; pass < 3; pass++) {
    gint64 idx[GLIA_MAX_RANK] = { 0 };
    gsize slot = 0;
    for (gsize i = 0; i < x->n_elements; i++) {
      double v = load (x->dtype, x->data, i);
      if (pass == 0)
        mean[slot] += v;
      else if (pass == 1)
        sq[slot] += (v - mean[slot]) * (v - mean[slot]);
      else
        norm_store (x->dtype, y->data, i, (v - mean[slot]) / (sqrt (sq[slot]) + 1e-9));
      for (gint d = (gint)x->rank - 1; d >= 0; d--) {
        slot += slot_stride[d];
        if (++idx[d] < x->dims[d])
          break;
        slot -= slot_stride[d] * (gsize)x->dims[d];
        idx[d] = 0;
      }
    }
    for (gsize k = 0; k < n_slots; k++)
      if (pass == 0)
        mean[k] /= (double)count;
      else if (pass == 1)
        sq[k] /= (double)count;
  }
  return TRUE;
}

static const GliaOpDef norm_ops[] = {
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "BatchNormalization",
      .since_version = 7,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_FLOAT,
      .infer_shapes = batch_norm_infer_shapes,
      .create = batch_norm_create,
      .compute = batch_norm_compute,
      .destroy = g_free,
  },
#define SOFTMAX_DEF(NAME, SINCE, UNTIL)                                                            \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = UNTIL, .dtypes = DTYPES_FLOAT, .infer_shapes = softmax_infer_shapes,          \
    .create = softmax_create, .compute = softmax_compute, .destroy = g_free,                       \
  }
  /* Before 13: coerce to 2-D at axis (default 1). Since 13: one axis
   * (default -1). */
  SOFTMAX_DEF ("Softmax", 1, 12),
  SOFTMAX_DEF ("Softmax", 13, G_MAXINT),
  SOFTMAX_DEF ("LogSoftmax", 1, 12),
  SOFTMAX_DEF ("LogSoftmax", 13, G_MAXINT),
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "LayerNormalization",
      .since_version = 17,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_FLOAT,
      .infer_shapes = layer_norm_infer_shapes,
      .create = layer_norm_create,
      .compute = layer_norm_compute,
      .destroy = g_free,
  },
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "LRN",
      .since_version = 1,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_FLOAT,
      .infer_shapes = cpu_infer_same_as_input,
      .create = lrn_create,
      .compute = lrn_compute,
      .destroy = g_free,
  },
  /* Opset 1's consumed_inputs attribute is a legacy of the old optimizer;
   * it changes nothing. */
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "InstanceNormalization",
      .since_version = 1,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_FLOAT,
      .infer_shapes = cpu_infer_same_as_input,
      .create = instance_norm_create,
      .compute = instance_norm_compute,
      .destroy = g_free,
  },
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "MeanVarianceNormalization",
      .since_version = 9,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_FLOAT,
      .infer_shapes = cpu_infer_same_as_input,
      .create = mvn_create,
      .compute = mvn_compute,
      .destroy = g_free,
  },
};

void
cpu_norm_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (norm_ops); i++)
    glia_op_table_add (table, &norm_ops[i]);
}
