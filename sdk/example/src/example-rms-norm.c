/* example-rms-norm.c: org.example.glia::RMSNorm, root-mean-square layer
 * normalization as used by LLaMA-style transformers:
 *
 *   Y = X / sqrt(mean(X^2 over axes [axis, rank)) + epsilon) * Scale
 *
 * Inputs X and Scale (optional; its shape is X's shape from @axis on).
 * Attributes axis (int, default -1; negative counts from the end) and
 * epsilon (float, default 1e-5). float32 and float64; sums are kept in
 * double for both. Rows (the leading dims) are independent, so the kernel
 * splits them over the session's threads.
 */
#include "example-ops.h"

#include <math.h>

typedef struct
{
  gint64 axis;
  double epsilon;
} RmsNorm;

/* Elements per parallel chunk, at least one row. */
#define RMS_NORM_GRAIN 8192

/* Resolves @axis against @rank, or sets @error. */
static gboolean
normalize_axis (gint64 axis, gint rank, guint *out, GError **error)
{
  if (rank < 1 || axis < -rank || axis >= rank) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                 "RMSNorm: axis %" G_GINT64_FORMAT " is out of range for an input of rank %d", axis,
                 rank);
    return FALSE;
  }
  *out = axis < 0 ? (guint)(axis + rank) : (guint)axis;
  return TRUE;
}

/* Scale must have X's trailing dims from @axis on (unknown dims, -1, pass). */
static gboolean
check_scale (const gint64 *x_dims, guint rank, guint axis, const gint64 *s_dims, gint s_rank,
             GError **error)
{
  gboolean ok = s_rank == (gint)(rank - axis);
  for (gint k = 0; ok && k < s_rank; k++)
    ok = x_dims[axis + k] < 0 || s_dims[k] < 0 || x_dims[axis + k] == s_dims[k];
  if (!ok) {
    GString *want = g_string_new ("[");
    for (guint k = axis; k < rank; k++)
      g_string_append_printf (want, "%s%" G_GINT64_FORMAT, k > axis ? "," : "", x_dims[k]);
    g_string_append_c (want, ']');
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "RMSNorm: Scale must have shape %s (X's dims from axis %u on)", want->str, axis);
    g_string_free (want, TRUE);
  }
  return ok;
}

static gboolean
rms_norm_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  guint n_inputs = glia_shape_context_get_n_inputs (ctx);
  if (n_inputs < 1 || n_inputs > 2 || !glia_shape_context_has_input (ctx, 0)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                 "RMSNorm takes an input X and an optional Scale");
    return FALSE;
  }
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  if (dtype != GLIA_DATA_TYPE_UNDEFINED && !example_check_dtype ("RMSNorm", dtype, error))
    return FALSE;
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  const gint64 *dims = glia_shape_context_get_input_dims (ctx, 0);
  if (rank >= 0) {
    const GliaGraph *graph = glia_shape_context_get_graph (ctx);
    gint node = glia_shape_context_get_node (ctx);
    guint axis;
    if (!normalize_axis (glia_graph_node_get_attr_int (graph, node, "axis", -1), rank, &axis,
                         error))
      return FALSE;
    if (n_inputs == 2 && glia_shape_context_has_input (ctx, 1)) {
      GliaDataType s_dtype = glia_shape_context_get_input_dtype (ctx, 1);
      if (dtype != GLIA_DATA_TYPE_UNDEFINED && s_dtype != GLIA_DATA_TYPE_UNDEFINED
          && s_dtype != dtype) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                     "RMSNorm: Scale is %s but X is %s", glia_data_type_get_name (s_dtype),
                     glia_data_type_get_name (dtype));
        return FALSE;
      }
      gint s_rank = glia_shape_context_get_input_rank (ctx, 1);
      if (s_rank >= 0
          && !check_scale (dims, rank, axis, glia_shape_context_get_input_dims (ctx, 1), s_rank,
                           error))
        return FALSE;
    }
  }
  glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
  return TRUE;
}

static gpointer
rms_norm_create (const GliaGraph *graph, gint node, GError **error)
{
  float epsilon = glia_graph_node_get_attr_float (graph, node, "epsilon", 1e-5f);
  if (!(epsilon >= 0) || !isfinite (epsilon)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                 "RMSNorm: attribute epsilon must be a finite number >= 0");
    return NULL;
  }
  RmsNorm *norm = g_new (RmsNorm, 1);
  norm->axis = glia_graph_node_get_attr_int (graph, node, "axis", -1);
  norm->epsilon = epsilon;
  return norm;
}

typedef struct
{
  const RmsNorm *norm;
  const GliaTensorView *x, *scale;
  GliaTensorView *y;
  gsize row_size;
} RmsNormRun;

/* One function per element type, so the inner loops stay simple and the
 * compiler vectorizes them. */
#define RMS_NORM_ROWS(T)                                                                           \
  static void rms_norm_rows_##T (gsize begin, gsize end, gpointer user_data)                       \
  {                                                                                                \
    const RmsNormRun *run = user_data;                                                             \
    gsize n = run->row_size;                                                                       \
    const T *scale = run->scale ? run->scale->data : NULL;                                         \
    for (gsize r = begin; r < end; r++) {                                                          \
      const T *x = (const T *)run->x->data + r * n;                                                \
      T *y = (T *)run->y->data + r * n;                                                            \
      double sum = 0;                                                                              \
      for (gsize i = 0; i < n; i++)                                                                \
        sum += (double)x[i] * x[i];                                                                \
      T inv = (T)(1.0 / sqrt (sum / n + run->norm->epsilon));                                      \
      if (scale)                                                                                   \
        for (gsize i = 0; i < n; i++)                                                              \
          y[i] = x[i] * inv * scale[i];                                                            \
      else                                                                                         \
        for (gsize i = 0; i < n; i++)                                                              \
          y[i] = x[i] * inv;                                                                       \
    }                                                                                              \
  }
RMS_NORM_ROWS (float)
RMS_NORM_ROWS (double)

static gboolean
rms_norm_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const RmsNorm *norm = state;
  const GliaTensorView *x = glia_kernel_context_get_input (ctx, 0);
  const GliaTensorView *scale
      = glia_kernel_context_get_n_inputs (ctx) > 1 ? glia_kernel_context_get_input (ctx, 1) : NULL;
  if (x == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "RMSNorm: input X is missing");
    return FALSE;
  }
  if (!example_check_dtype ("RMSNorm", x->dtype, error))
    return FALSE;
  guint axis;
  if (!normalize_axis (norm->axis, x->rank, &axis, error))
    return FALSE;
  if (scale) {
    if (scale->dtype != x->dtype) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "RMSNorm: Scale is %s but X is %s", glia_data_type_get_name (scale->dtype),
                   glia_data_type_get_name (x->dtype));
      return FALSE;
    }
    if (!check_scale (x->dims, x->rank, axis, scale->dims, scale->rank, error))
      return FALSE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  gsize row_size = 1;
  for (guint k = axis; k < x->rank; k++)
    row_size *= x->dims[k];
  if (row_size == 0)
    return TRUE;
  RmsNormRun run = { norm, x, scale, y, row_size };
  glia_kernel_context_parallel_for (
      ctx, x->n_elements / row_size, MAX (RMS_NORM_GRAIN / row_size, 1),
      x->dtype == GLIA_DATA_TYPE_FLOAT ? rms_norm_rows_float : rms_norm_rows_double, &run);
  return TRUE;
}

const GliaOpDef example_rms_norm_op = {
  .struct_size = sizeof (GliaOpDef),
  .domain = EXAMPLE_DOMAIN,
  .name = "RMSNorm",
  .since_version = 1,
  .until_version = G_MAXINT,
  .dtypes = EXAMPLE_DTYPES,
  .infer_shapes = rms_norm_infer_shapes,
  .create = rms_norm_create,
  .compute = rms_norm_compute,
  .destroy = g_free,
};
