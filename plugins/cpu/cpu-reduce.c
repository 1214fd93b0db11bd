/* cpu-reduce.c: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd
 * (axes as an attribute, or as an input from opset 13 for ReduceSum and 18
 * for the others, with noop_with_empty_axes) and ArgMax / ArgMin.
 *
 * A reduction first merges neighbouring dims that are both reduced or both
 * kept. If the innermost group is kept (say its size is `inner`), each output
 * row of `inner` values accumulates whole contiguous vectors, one per reduced
 * position, which vectorises; otherwise each output element walks its
 * reduced positions, whose innermost run is contiguous. Float sums accumulate
 * in double in the second case.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <string.h>

#define DTYPES_NUM                                                                                 \
  (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_DOUBLE)                  \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64))

static gboolean
check_num_dtype (GliaKernelContext *ctx, const GliaTensorView *x, GError **error)
{
  if (x->dtype > 0 && x->dtype <= GLIA_DATA_TYPE_LAST && (DTYPES_NUM & GLIA_DTYPE_BIT (x->dtype)))
    return TRUE;
  cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "element type %s is not supported",
                    glia_data_type_get_name (x->dtype));
  return FALSE;
}

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
} ReduceKind;

static const struct
{
  const char *name;
  ReduceKind kind;
  gint axes_input_since;
} reduce_kinds[] = {
  { "ReduceSum", RED_SUM, 13 }, { "ReduceMean", RED_MEAN, 18 }, { "ReduceMax", RED_MAX, 18 },
  { "ReduceMin", RED_MIN, 18 }, { "ReduceProd", RED_PROD, 18 },
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
  if (!parse_flag (graph, node, "keepdims", 1, &s.keepdims, error)
      || !parse_flag (graph, node, "noop_with_empty_axes", 0, &s.noop_with_empty_axes, error))
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

/* Identity of each reduction, and the combining step. */
#define RED_INIT(T, ACC, LOWEST, HIGHEST)                                                          \
  (job->kind == RED_MAX    ? (ACC)(LOWEST)                                                         \
   : job->kind == RED_MIN  ? (ACC)(HIGHEST)                                                        \
   : job->kind == RED_PROD ? (ACC)1                                                                \
                           : (ACC)0)

#define DEFINE_REDUCE(SUF, T, ACC, LOWEST, HIGHEST, EMPTY_MEAN)                                    \
  /* Innermost group reduced: one output element at a time. */                                     \
  static void reduce_elements_##SUF (const ReduceJob *job, gsize begin, gsize end)                 \
  {                                                                                                \
    const CpuBroadcast *rb = &job->red;                                                            \
    gint64 st = rb->strides[0][rb->rank - 1];                                                      \
    for (gsize o = begin; o < end; o++) {                                                          \
      const T *x = (const T *)job->x + kept_offset (job, o);                                       \
      ACC acc = RED_INIT (T, ACC, LOWEST, HIGHEST);                                                \
      CpuBroadcastPos pos;                                                                         \
      cpu_broadcast_seek (rb, 0, &pos);                                                            \
      for (gsize r = 0; r < rb->n_rows; r++, cpu_broadcast_next_row (rb, &pos)) {                  \
        const T *v = x + pos.offset[0];                                                            \
        gsize n = rb->row_len;                                                                     \
        switch (job->kind) {                                                                       \
        case RED_SUM:                                                                              \
        case RED_MEAN:                                                                             \
          for (gsize i = 0; i < n; i++)                                                            \
            acc += v[(gint64)i * st];                                                              \
          break;                                                                                   \
        case RED_PROD:                                                                             \
          for (gsize i = 0; i < n; i++)                                                            \
            acc *= v[(gint64)i * st];                                                              \
          break;                                                                                   \
        case RED_MAX:                                                                              \
          for (gsize i = 0; i < n; i++)                                                            \
            if (v[(gint64)i * st] > acc)                                                           \
              acc = v[(gint64)i * st];                                                             \
          break;                                                                                   \
        case RED_MIN:                                                                              \
          for (gsize i = 0; i < n; i++)                                                            \
            if (v[(gint64)i * st] < acc)                                                           \
              acc = v[(gint64)i * st];                                                             \
          break;                                                                                   \
        }                                                                                          \
      }                                                                                            \
      if (job->kind == RED_MEAN)                                                                   \
        acc = job->count ? (ACC)(acc / (ACC)job->count) : (ACC)(EMPTY_MEAN);                       \
      ((T *)job->y)[o] = (T)acc;                                                                   \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  /* Innermost group kept: accumulate whole vectors of job->inner values. */                       \
  static void reduce_vectors_##SUF (const ReduceJob *job, gsize begin, gsize end)                  \
  {                                                                                                \
    const CpuBroadcast *rb = &job->red;                                                            \
    gint64 st = rb->strides[0][rb->rank - 1];                                                      \
    gsize inner = job->inner;                                                                      \
    for (gsize o = begin; o < end; o++) {                                                          \
      const T *x = (const T *)job->x + kept_offset (job, o);                                       \
      T *y = (T *)job->y + o * inner;                                                              \
      T init = (T)RED_INIT (T, T, LOWEST, HIGHEST);                                                \
      for (gsize j = 0; j < inner; j++)                                                            \
        y[j] = init;                                                                               \
      CpuBroadcastPos pos;                                                                         \
      cpu_broadcast_seek (rb, 0, &pos);                                                            \
      for (gsize r = 0; r < rb->n_rows; r++, cpu_broadcast_next_row (rb, &pos))                    \
        for (gsize i = 0; i < rb->row_len; i++) {                                                  \
          const T *v = x + pos.offset[0] + (gint64)i * st;                                         \
          switch (job->kind) {                                                                     \
          case RED_SUM:                                                                            \
          case RED_MEAN:                                                                           \
            for (gsize j = 0; j < inner; j++)                                                      \
              y[j] += v[j];                                                                        \
            break;                                                                                 \
          case RED_PROD:                                                                           \
            for (gsize j = 0; j < inner; j++)                                                      \
              y[j] *= v[j];                                                                        \
            break;                                                                                 \
          case RED_MAX:                                                                            \
            for (gsize j = 0; j < inner; j++)                                                      \
              y[j] = v[j] > y[j] ? v[j] : y[j];                                                    \
            break;                                                                                 \
          case RED_MIN:                                                                            \
            for (gsize j = 0; j < inner; j++)                                                      \
              y[j] = v[j] < y[j] ? v[j] : y[j];                                                    \
            break;                                                                                 \
          }                                                                                        \
        }                                                                                          \
      if (job->kind == RED_MEAN)                                                                   \
        for (gsize j = 0; j < inner; j++)                                                          \
          y[j] = job->count ? (T)(y[j] / (T)job->count) : (T)(EMPTY_MEAN);                         \
    }                                                                                              \
  }

DEFINE_REDUCE (f32, float, double, -INFINITY, INFINITY, NAN)
DEFINE_REDUCE (f64, double, double, -INFINITY, INFINITY, NAN)
DEFINE_REDUCE (i32, gint32, gint64, G_MININT32, G_MAXINT32, 0)
DEFINE_REDUCE (i64, gint64, gint64, G_MININT64, G_MAXINT64, 0)

typedef struct
{
  const ReduceJob *job;
  GliaDataType dtype;
} ReduceTask;

static void
reduce_chunk (gsize begin, gsize end, gpointer user_data)
{
  const ReduceTask *t = user_data;
  gboolean vectors = t->job->inner > 1;
  switch (t->dtype) {
  case GLIA_DATA_TYPE_FLOAT:
    (vectors ? reduce_vectors_f32 : reduce_elements_f32) (t->job, begin, end);
    break;
  case GLIA_DATA_TYPE_DOUBLE:
    (vectors ? reduce_vectors_f64 : reduce_elements_f64) (t->job, begin, end);
    break;
  case GLIA_DATA_TYPE_INT32:
    (vectors ? reduce_vectors_i32 : reduce_elements_i32) (t->job, begin, end);
    break;
  case GLIA_DATA_TYPE_INT64:
    (vectors ? reduce_vectors_i64 : reduce_elements_i64) (t->job, begin, end);
    break;
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
  ReduceTask task = { &job, x->dtype };
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
  if (!parse_flag (graph, node, "keepdims", 1, &s.keepdims, error)
      || !parse_flag (graph, node, "select_last_index", 0, &s.select_last, error))
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

#define ARG_LANES(T)                                                                               \
  for (gsize lane = begin; lane < end; lane++) {                                                   \
    gsize o = lane / job->inner, in = lane % job->inner;                                           \
    const T *x = (const T *)job->x + o * job->n * job->inner + in;                                 \
    T best = x[0];                                                                                 \
    gsize at = 0;                                                                                  \
    for (gsize i = 1; i < job->n; i++) {                                                           \
      T v = x[i * job->inner];                                                                     \
      gboolean better                                                                              \
          = job->s->is_max ? (last ? v >= best : v > best) : (last ? v <= best : v < best);        \
      if (better) {                                                                                \
        best = v;                                                                                  \
        at = i;                                                                                    \
      }                                                                                            \
    }                                                                                              \
    job->y[lane] = (gint64)at;                                                                     \
  }

static void
arg_lanes (gsize begin, gsize end, gpointer user_data)
{
  const ArgJob *job = user_data;
  gboolean last = job->s->select_last;
  switch (job->dtype) {
  case GLIA_DATA_TYPE_FLOAT:
    ARG_LANES (float);
    break;
  case GLIA_DATA_TYPE_DOUBLE:
    ARG_LANES (double);
    break;
  case GLIA_DATA_TYPE_INT32:
    ARG_LANES (gint32);
    break;
  case GLIA_DATA_TYPE_INT64:
    ARG_LANES (gint64);
    break;
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
