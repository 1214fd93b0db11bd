/* cpu-resize.c: resampling operators: Resize (opsets 10, 11 and 13),
 * Upsample (7 and 9), GridSample (16), RoiAlign (10 and 16) and MaxUnpool.
 *
 * Resize is separable. For each output dim it first computes, per output
 * index, the source coordinate (coordinate_transformation_mode) and from it
 * up to four taps (input index and weight: one for nearest, two for linear,
 * four for cubic), with indices clamped to the edge as the ONNX reference
 * pads, and zero-weight taps dropped, so that dims that are not resized
 * cost one tap. An output element is then the sum over the product of its
 * dims' taps: each output row (all dims but the last) gathers the outer
 * dims' tap products once and sweeps the last dim. Nearest resizing only
 * moves elements and works for every element type; linear and cubic compute
 * in double (float inputs in float storage, others through a double copy).
 *
 * GridSample follows PyTorch's grid_sample, which the ONNX test data comes
 * from; RoiAlign follows the Detectron RoIAlign that ONNX specifies
 * (including ONNX Runtime's "max" mode, a max over the weighted corners).
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <string.h>

#define DTYPES_BYTES (GLIA_DTYPES_ALL & ~GLIA_DTYPE_BIT (GLIA_DATA_TYPE_STRING))

/* Doubles needed to hold @v as doubles (none when it already is). */
static gsize
doubles_needed (const GliaTensorView *v)
{
  return v->dtype == GLIA_DATA_TYPE_DOUBLE ? 0 : v->n_elements;
}

/* @v as doubles: its own data, or a conversion into *@buf (which advances
 * past it). The host hands out one scratch buffer per compute call, so
 * callers take it once and carve it up with this. */
static double *
as_doubles (const GliaTensorView *v, double **buf)
{
  if (v->dtype == GLIA_DATA_TYPE_DOUBLE)
    return v->data;
  double *d = *buf;
  cpu_load_doubles (v->dtype, v->data, d, v->n_elements);
  *buf += v->n_elements;
  return d;
}

/* Where to compute output @v in doubles: its data, or *@buf (advanced). */
static double *
output_doubles (GliaTensorView *v, double **buf)
{
  if (v->dtype == GLIA_DATA_TYPE_DOUBLE)
    return v->data;
  double *d = *buf;
  *buf += v->n_elements;
  return d;
}

/* Copies one element of @size bytes. */
static inline void
copy_elem (guint8 *dst, const guint8 *src, gsize size)
{
  switch (size) {
  case 1:
    *dst = *src;
    break;
  case 2:
    memcpy (dst, src, 2);
    break;
  case 4:
    memcpy (dst, src, 4);
    break;
  case 8:
    memcpy (dst, src, 8);
    break;
  default:
    memcpy (dst, src, size);
  }
}

/* ======================================================================== */
/* Resize / Upsample                                                         */
/* ======================================================================== */

typedef enum
{
  INTERP_NEAREST,
  INTERP_LINEAR,
  INTERP_CUBIC,
} InterpMode;

typedef enum
{
  COORD_HALF_PIXEL,
  COORD_PYTORCH_HALF_PIXEL,
  COORD_ALIGN_CORNERS,
  COORD_ASYMMETRIC,
  COORD_TF_HALF_PIXEL_FOR_NN,
  COORD_TF_CROP_AND_RESIZE,
} CoordMode;

typedef enum
{
  NEAREST_ROUND_PREFER_FLOOR,
  NEAREST_ROUND_PREFER_CEIL,
  NEAREST_FLOOR,
  NEAREST_CEIL,
  /* Resize-10 and Upsample: floor when enlarging, ceil when shrinking */
  NEAREST_SIMPLE,
} NearestMode;

/* Where the scales and sizes come from. */
typedef enum
{
  RESIZE_SCALES_ATTR,  /* Upsample-7: attribute 'scales' */
  RESIZE_SCALES_INPUT, /* Resize-10, Upsample-9: input 1 */
  RESIZE_FULL,         /* Resize-11+: roi, scales, sizes at 1, 2, 3 */
} ResizeInputs;

typedef struct
{
  ResizeInputs inputs;
  InterpMode mode;
  CoordMode coord;
  NearestMode nearest;
  double cubic_a;
  gboolean exclude_outside;
  double extrapolation;
  guint n_scales; /* RESIZE_SCALES_ATTR */
  double scales[GLIA_MAX_RANK];
} ResizeState;

static gboolean
parse_enum (const GliaGraph *graph, gint node, const char *attr, const char *def,
            const char *const *names, guint n, guint *out, GError **error)
{
  const char *v = glia_graph_node_get_attr_string (graph, node, attr, def, NULL);
  for (guint i = 0; i < n; i++)
    if (names[i] && g_str_equal (v, names[i])) {
      *out = i;
      return TRUE;
    }
  cpu_node_error (error, graph, node, "attribute '%s' has an unknown value '%s'", attr, v);
  return FALSE;
}

static gpointer
resize_create (const GliaGraph *graph, gint node, GError **error)
{
  ResizeState s = { 0 };
  gint opset = glia_graph_node_get_opset (graph, node);
  gboolean upsample = g_str_equal (glia_graph_node_get_op_type (graph, node), "Upsample");
  static const char *const modes[] = { "nearest", "linear", "cubic" };
  static const char *const coords[]
      = { "half_pixel", "pytorch_half_pixel",   "align_corners",
          "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize" };
  static const char *const nearests[]
      = { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil" };
  guint v;

  const char *mode = glia_graph_node_get_attr_string (graph, node, "mode", "nearest", NULL);
  if (upsample && g_str_equal (mode, "bilinear"))
    s.mode = INTERP_LINEAR;
  else if (!parse_enum (graph, node, "mode", "nearest", modes, (upsample || opset < 11) ? 2 : 3, &v,
                        error))
    return NULL;
  else
    s.mode = (InterpMode)v;

  if (upsample || opset < 11) {
    s.inputs = upsample && opset < 9 ? RESIZE_SCALES_ATTR : RESIZE_SCALES_INPUT;
    s.coord = COORD_ASYMMETRIC;
    s.nearest = NEAREST_SIMPLE;
    s.cubic_a = -0.75;
  } else {
    s.inputs = RESIZE_FULL;
    if (!parse_enum (graph, node, "coordinate_transformation_mode", "half_pixel", coords, 6, &v,
                     error))
      return NULL;
    if (v == COORD_TF_HALF_PIXEL_FOR_NN && opset >= 13) {
      /* dropped in opset 13 */
      cpu_node_error (error, graph, node,
                      "attribute 'coordinate_transformation_mode' = 'tf_half_pixel_for_nn' "
                      "needs opset 11 or 12");
      return NULL;
    }
    s.coord = (CoordMode)v;
    if (!parse_enum (graph, node, "nearest_mode", "round_prefer_floor", nearests, 4, &v, error))
      return NULL;
    s.nearest = (NearestMode)v;
    s.cubic_a = glia_graph_node_get_attr_float (graph, node, "cubic_coeff_a", -0.75f);
    s.exclude_outside = glia_graph_node_get_attr_int (graph, node, "exclude_outside", 0) != 0;
    s.extrapolation = glia_graph_node_get_attr_float (graph, node, "extrapolation_value", 0.0f);
  }

  if (s.inputs == RESIZE_SCALES_ATTR) {
    const float *scales = glia_graph_node_get_attr_floats (graph, node, "scales", &s.n_scales);
    if (scales == NULL || s.n_scales > GLIA_MAX_RANK) {
      cpu_node_error (error, graph, node, "attribute 'scales' is required (one value per dim)");
      return NULL;
    }
    for (guint i = 0; i < s.n_scales; i++)
      s.scales[i] = scales[i];
  }
  return g_memdup2 (&s, sizeof s);
}

/* Scales (or sizes) as given to one run. */
typedef struct
{
  gboolean have_sizes;
  gsize n;
  double scales[GLIA_MAX_RANK];
  gint64 sizes[GLIA_MAX_RANK];
  gboolean have_roi;
  double roi[2 * GLIA_MAX_RANK];
} ResizeArgs;

/* Output dims and per-dim scales; FALSE with @why on a mismatch. */
static gboolean
resize_geometry (const ResizeArgs *a, guint rank, const gint64 *in, gint64 *out, double *scale,
                 char **why)
{
  if (a->n != rank) {
    *why = g_strdup_printf ("%s has %" G_GSIZE_FORMAT " values for an input of rank %u",
                            a->have_sizes ? "sizes" : "scales", a->n, rank);
    return FALSE;
  }
  for (guint i = 0; i < rank; i++) {
    if (a->have_sizes) {
      if (a->sizes[i] < 0) {
        *why = g_strdup_printf ("sizes[%u] = %" G_GINT64_FORMAT " is negative", i, a->sizes[i]);
        return FALSE;
      }
      out[i] = a->sizes[i];
      scale[i] = in[i] > 0 ? (double)a->sizes[i] / (double)in[i] : 1.0;
    } else {
      if (!(a->scales[i] > 0) || !isfinite (a->scales[i])) {
        *why = g_strdup_printf ("scales[%u] = %g is not positive", i, a->scales[i]);
        return FALSE;
      }
      scale[i] = a->scales[i];
      if (in[i] >= 0 && a->scales[i] * (double)in[i] >= 0x1p53) {
        *why = g_strdup_printf ("scales[%u] = %g makes the output too large", i, a->scales[i]);
        return FALSE;
      }
      out[i] = in[i] < 0 ? -1 : (gint64)floor (a->scales[i] * (double)in[i]);
    }
  }
  return TRUE;
}

/* Per output index of one dim: up to 4 taps, and whether it lies outside
 * the crop (tf_crop_and_resize extrapolates there). */
#define RESIZE_MAX_TAPS 4

typedef struct
{
  guint8 n;
  gboolean outside;
  gint64 index[RESIZE_MAX_TAPS];
  double weight[RESIZE_MAX_TAPS];
} Taps;

static void
cubic_coeffs (double r, double A, double *c)
{
  double s = 1 - r;
  c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
  c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
  c[2] = ((A + 2) * s - (A + 3)) * s * s + 1;
  c[3] = ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A;
}

static gint64
nearest_index (NearestMode mode, double x, double scale)
{
  double f = floor (x);
  if (x == f)
    return (gint64)f;
  double r = x - f;
  switch (mode) {
  case NEAREST_ROUND_PREFER_FLOOR:
    return (gint64)(r <= 0.5 ? f : f + 1);
  case NEAREST_ROUND_PREFER_CEIL:
    return (gint64)(r < 0.5 ? f : f + 1);
  case NEAREST_FLOOR:
    return (gint64)f;
  case NEAREST_CEIL:
    return (gint64)f + 1;
  case NEAREST_SIMPLE:
  default:
    return (gint64)(scale < 1 ? f + 1 : f);
  }
}

/* Taps of output index @x of a dim: input size @in, output size @out,
 * scale @scale, crop [@roi_start, @roi_end]. */
static void
resize_taps (const ResizeState *s, gint64 x, gint64 in, gint64 out, double scale,
             gboolean scaled_by_sizes, double roi_start, double roi_end, Taps *t)
{
  /* The ONNX reference takes the resized length as scale * input length
   * (not the rounded output size) in align_corners and tf_crop_and_resize. */
  double length = scaled_by_sizes ? (double)out : scale * (double)in;
  double xo;
  memset (t, 0, sizeof *t);
  switch (s->coord) {
  case COORD_HALF_PIXEL:
    xo = (x + 0.5) / scale - 0.5;
    break;
  case COORD_PYTORCH_HALF_PIXEL:
    xo = out > 1 ? (x + 0.5) / scale - 0.5 : 0;
    break;
  case COORD_ALIGN_CORNERS:
    xo = length == 1 ? 0 : x * (double)(in - 1) / (length - 1);
    break;
  case COORD_TF_HALF_PIXEL_FOR_NN:
    xo = (x + 0.5) / scale;
    break;
  case COORD_TF_CROP_AND_RESIZE:
    xo = length > 1 ? roi_start * (in - 1) + x * (roi_end - roi_start) * (in - 1) / (length - 1)
                    : 0.5 * (roi_start + roi_end) * (in - 1);
    if (!(xo >= 0 && xo <= in - 1)) {
      t->outside = TRUE;
      return;
    }
    break;
  case COORD_ASYMMETRIC:
  default:
    xo = x / scale;
    break;
  }

  if (s->mode == INTERP_NEAREST) {
    t->n = 1;
    t->index[0] = CLAMP (nearest_index (s->nearest, xo, scale), 0, in - 1);
    t->weight[0] = 1;
    return;
  }

  double f = floor (xo), r = xo - f;
  gint64 first;
  guint n;
  double w[RESIZE_MAX_TAPS];
  if (s->mode == INTERP_LINEAR) {
    n = 2;
    first = (gint64)f;
    w[0] = 1 - r;
    w[1] = r;
  } else {
    n = 4;
    first = (gint64)f - 1;
    cubic_coeffs (r, s->cubic_a, w);
  }
  if (s->exclude_outside) {
    double sum = 0;
    for (guint i = 0; i < n; i++) {
      if (first + i < 0 || first + i >= in)
        w[i] = 0;
      sum += w[i];
    }
    for (guint i = 0; i < n && sum != 0; i++)
      w[i] /= sum;
  }
  for (guint i = 0; i < n; i++) {
    if (w[i] == 0)
      continue;
    gint64 idx = CLAMP (first + (gint64)i, 0, in - 1);
    /* Taps that clamp to the same index merge. */
    if (t->n && t->index[t->n - 1] == idx)
      t->weight[t->n - 1] += w[i];
    else {
      t->index[t->n] = idx;
      t->weight[t->n] = w[i];
      t->n++;
    }
  }
  if (t->n == 0) {
    t->n = 1;
    t->index[0] = CLAMP (first + 1, 0, in - 1);
    t->weight[0] = 0;
  }
}

/* Reads scales/sizes/roi during shape inference; FALSE when not constant. */
static gboolean
resize_args_from_constants (const ResizeState *s, GliaShapeContext *ctx, ResizeArgs *a)
{
  memset (a, 0, sizeof *a);
  if (s->inputs == RESIZE_SCALES_ATTR) {
    a->n = s->n_scales;
    memcpy (a->scales, s->scales, sizeof a->scales);
    return TRUE;
  }
  guint n_in = glia_shape_context_get_n_inputs (ctx);
  guint si = s->inputs == RESIZE_FULL ? 2 : 1;
  if (s->inputs == RESIZE_FULL && n_in > 3 && glia_shape_context_has_input (ctx, 3)) {
    if (!cpu_shape_context_get_ints (ctx, 3, a->sizes, GLIA_MAX_RANK, &a->n))
      return FALSE;
    if (a->n > 0) {
      a->have_sizes = TRUE;
      return TRUE;
    }
  }
  if (si >= n_in || !glia_shape_context_has_input (ctx, si))
    return FALSE;
  const GliaConstTensor *c = glia_shape_context_get_input_constant (ctx, si);
  if (c == NULL || !cpu_dtype_in (c->dtype, GLIA_DTYPES_FLOATS) || c->data == NULL)
    return FALSE;
  gsize n = cpu_numel (c->rank, c->dims);
  if (n > GLIA_MAX_RANK || g_bytes_get_size (c->data) < n * glia_data_type_get_size (c->dtype))
    return FALSE;
  cpu_load_doubles (c->dtype, g_bytes_get_data (c->data, NULL), a->scales, n);
  a->n = n;
  return TRUE;
}

static gboolean
resize_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  g_autofree ResizeState *s = resize_create (glia_shape_context_get_graph (ctx),
                                             glia_shape_context_get_node (ctx), error);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 out[GLIA_MAX_RANK];
  double scale[GLIA_MAX_RANK];
  ResizeArgs a;
  if (s == NULL)
    return FALSE;
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  if (!resize_args_from_constants (s, ctx, &a)) {
    for (gint i = 0; i < rank; i++)
      out[i] = -1;
    glia_shape_context_set_output (ctx, 0, dtype, rank, out);
    return TRUE;
  }
  g_autofree char *why = NULL;
  if (!resize_geometry (&a, (guint)rank, glia_shape_context_get_input_dims (ctx, 0), out, scale,
                        &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, rank, out);
  return TRUE;
}

/* Reads scales/sizes/roi from the inputs of a run. */
static gboolean
resize_args_from_inputs (const ResizeState *s, GliaKernelContext *ctx, ResizeArgs *a,
                         GError **error)
{
  memset (a, 0, sizeof *a);
  if (s->inputs == RESIZE_SCALES_ATTR) {
    a->n = s->n_scales;
    memcpy (a->scales, s->scales, sizeof a->scales);
    return TRUE;
  }
  guint n_in = glia_kernel_context_get_n_inputs (ctx);
  const GliaTensorView *roi = NULL, *scales, *sizes = NULL;
  if (s->inputs == RESIZE_FULL) {
    roi = n_in > 1 ? glia_kernel_context_get_input (ctx, 1) : NULL;
    scales = n_in > 2 ? glia_kernel_context_get_input (ctx, 2) : NULL;
    sizes = n_in > 3 ? glia_kernel_context_get_input (ctx, 3) : NULL;
  } else
    scales = n_in > 1 ? glia_kernel_context_get_input (ctx, 1) : NULL;

  if (sizes && sizes->n_elements > 0) {
    if (sizes->rank != 1 || !cpu_view_get_ints (sizes, a->sizes, GLIA_MAX_RANK, &a->n)) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "sizes must be a 1-D int64 tensor of one value per dim");
      return FALSE;
    }
    a->have_sizes = TRUE;
    if (scales && scales->n_elements > 0) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "only one of scales and sizes may be given");
      return FALSE;
    }
  } else {
    if (scales == NULL || scales->n_elements == 0) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "needs scales or sizes");
      return FALSE;
    }
    if (!cpu_dtype_in (scales->dtype, GLIA_DTYPES_FLOATS) || scales->rank != 1
        || scales->n_elements > GLIA_MAX_RANK) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "scales must be a 1-D float tensor of one value per dim");
      return FALSE;
    }
    cpu_load_doubles (scales->dtype, scales->data, a->scales, scales->n_elements);
    a->n = scales->n_elements;
  }
  if (s->coord == COORD_TF_CROP_AND_RESIZE) {
    if (roi == NULL || !cpu_dtype_in (roi->dtype, GLIA_DTYPES_FLOATS)
        || roi->n_elements != 2 * a->n) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "tf_crop_and_resize needs a float roi of 2 values per dim");
      return FALSE;
    }
    cpu_load_doubles (roi->dtype, roi->data, a->roi, roi->n_elements);
    a->have_roi = TRUE;
  }
  return TRUE;
}

typedef struct
{
  double weight;
  gint64 offset;
} Combo;

typedef struct
{
  const ResizeState *s;
  guint rank;
  gint64 out[GLIA_MAX_RANK];
  gint64 in_strides[GLIA_MAX_RANK];
  const Taps *taps[GLIA_MAX_RANK];
  gsize max_combos;
  const guint8 *src; /* input elements (doubles when computing through a copy) */
  guint8 *dst;
  GliaDataType dtype; /* of src and dst */
  gsize size;
  const guint8 *extrapolation; /* one element of dtype */
  gboolean nearest;
} ResizeJob;

/* Tap products of the outer dims at @idx; 0 when the row is outside the crop. */
static gsize
row_combos (const ResizeJob *job, const gint64 *idx, Combo *combos)
{
  gsize n = 1;
  combos[0].weight = 1;
  combos[0].offset = 0;
  for (guint d = 0; d + 1 < job->rank; d++) {
    const Taps *t = &job->taps[d][idx[d]];
    if (t->outside)
      return 0;
    if (t->n == 1) {
      for (gsize c = 0; c < n; c++) {
        combos[c].weight *= t->weight[0];
        combos[c].offset += t->index[0] * job->in_strides[d];
      }
      continue;
    }
    for (gsize c = n; c-- > 0;)
      for (guint k = t->n; k-- > 0;) {
        Combo *o = &combos[c * t->n + k];
        o->weight = combos[c].weight * t->weight[k];
        o->offset = combos[c].offset + t->index[k] * job->in_strides[d];
      }
    n *= t->n;
  }
  return n;
}

#define RESIZE_ROW(NAME, T)                                                                        \
  static void NAME (const ResizeJob *job, const Combo *combos, gsize n_combos, T *dst)             \
  {                                                                                                \
    const T *src = (const T *)job->src;                                                            \
    const Taps *taps = job->taps[job->rank - 1];                                                   \
    T extrapolation = *(const T *)job->extrapolation;                                              \
    for (gint64 x = 0; x < job->out[job->rank - 1]; x++) {                                         \
      const Taps *t = &taps[x];                                                                    \
      if (t->outside) {                                                                            \
        dst[x] = extrapolation;                                                                    \
        continue;                                                                                  \
      }                                                                                            \
      double acc = 0;                                                                              \
      for (gsize c = 0; c < n_combos; c++) {                                                       \
        const T *p = src + combos[c].offset;                                                       \
        double a = 0;                                                                              \
        for (guint k = 0; k < t->n; k++)                                                           \
          a += t->weight[k] * (double)p[t->index[k]];                                              \
        acc += combos[c].weight * a;                                                               \
      }                                                                                            \
      dst[x] = (T)acc;                                                                             \
    }                                                                                              \
  }

RESIZE_ROW (resize_row_float, float)
RESIZE_ROW (resize_row_double, double)

static void
resize_chunk (gsize begin, gsize end, gpointer user_data)
{
  const ResizeJob *job = user_data;
  guint last = job->rank - 1;
  gsize row_len = (gsize)job->out[last];
  gint64 idx[GLIA_MAX_RANK];
  Combo *combos = g_new (Combo, job->max_combos);

  gsize flat = begin;
  for (gint i = (gint)last - 1; i >= 0; i--) {
    idx[i] = (gint64)(flat % (gsize)job->out[i]);
    flat /= (gsize)job->out[i];
  }
  for (gsize row = begin; row < end; row++) {
    gsize n = row_combos (job, idx, combos);
    guint8 *dst = job->dst + row * row_len * job->size;
    if (n == 0) {
      for (gsize x = 0; x < row_len; x++)
        copy_elem (dst + x * job->size, job->extrapolation, job->size);
    } else if (job->nearest) {
      const Taps *taps = job->taps[last];
      const guint8 *src = job->src + combos[0].offset * (gint64)job->size;
      for (gsize x = 0; x < row_len; x++)
        copy_elem (dst + x * job->size,
                   taps[x].outside ? job->extrapolation
                                   : src + taps[x].index[0] * (gint64)job->size,
                   job->size);
    } else if (job->dtype == GLIA_DATA_TYPE_FLOAT)
      resize_row_float (job, combos, n, (float *)dst);
    else
      resize_row_double (job, combos, n, (double *)dst);
    for (gint i = (gint)last - 1; i >= 0; i--) {
      if (++idx[i] < job->out[i])
        break;
      idx[i] = 0;
    }
  }
  g_free (combos);
}

static gboolean
resize_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ResizeState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  ResizeArgs a;
  ResizeJob job = { 0 };
  double scale[GLIA_MAX_RANK];
  if (x == NULL || !cpu_check_dtype (ctx, x, DTYPES_BYTES, "input", error)
      || !resize_args_from_inputs (s, ctx, &a, error))
    return FALSE;
  gboolean nearest = s->mode == INTERP_NEAREST;
  if (!nearest && !cpu_check_dtype (ctx, x, CPU_DTYPES_NUMERIC, "input", error))
    return FALSE;
  g_autofree char *why = NULL;
  if (!resize_geometry (&a, x->rank, x->dims, job.out, scale, &why)) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s (input %s)", why, d);
    return FALSE;
  }
  for (guint i = 0; i < x->rank; i++)
    if (x->dims[i] == 0 && job.out[i] > 0) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "cannot resize an empty dim %u to %" G_GINT64_FORMAT, i, job.out[i]);
      return FALSE;
    }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, job.out, error);
  if (y == NULL)
    return FALSE;
  gsize size = glia_data_type_get_size (x->dtype);
  if (x->rank == 0) {
    memcpy (y->data, x->data, size);
    return TRUE;
  }
  if (y->n_elements == 0)
    return TRUE;

  /* Taps of every dim, and the largest tap product of the outer dims. */
  gsize total = 0;
  for (guint i = 0; i < x->rank; i++)
    total += (gsize)job.out[i];
  g_autofree Taps *taps = g_new (Taps, total);
  Taps *t = taps;
  job.max_combos = 1;
  for (guint i = 0; i < x->rank; i++) {
    guint most = 1;
    double rs = a.have_roi ? a.roi[i] : 0, re = a.have_roi ? a.roi[i + x->rank] : 1;
    for (gint64 o = 0; o < job.out[i]; o++) {
      resize_taps (s, o, x->dims[i], job.out[i], scale[i], a.have_sizes, rs, re, &t[o]);
      most = MAX (most, t[o].n);
    }
    job.taps[i] = t;
    t += job.out[i];
    if (i + 1 < x->rank)
      job.max_combos *= most;
  }
  if (job.max_combos > 65536) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "interpolating %" G_GSIZE_FORMAT " taps per output element is not supported",
                      job.max_combos * RESIZE_MAX_TAPS);
    return FALSE;
  }

  job.s = s;
  job.rank = x->rank;
  job.nearest = nearest;
  gint64 stride = 1;
  for (gint i = (gint)x->rank - 1; i >= 0; i--) {
    job.in_strides[i] = stride;
    stride *= x->dims[i];
  }
  /* Element types other than float and double interpolate through doubles. */
  guint8 extrapolation[16] = { 0 };
  gboolean via_doubles
      = !nearest && x->dtype != GLIA_DATA_TYPE_FLOAT && x->dtype != GLIA_DATA_TYPE_DOUBLE;
  job.dtype = via_doubles ? GLIA_DATA_TYPE_DOUBLE : x->dtype;
  job.size = glia_data_type_get_size (job.dtype);
  if (cpu_dtype_in (job.dtype, CPU_DTYPES_NUMERIC))
    cpu_store_doubles (job.dtype, &s->extrapolation, extrapolation, 1);
  job.extrapolation = extrapolation;
  double *out_doubles = NULL;
  if (via_doubles) {
    double *buf = glia_kernel_context_get_scratch (
        ctx, (x->n_elements + y->n_elements) * sizeof (double), error);
    if (buf == NULL)
      return FALSE;
    job.src = (const guint8 *)as_doubles (x, &buf);
    out_doubles = buf;
    job.dst = (guint8 *)out_doubles;
  } else {
    job.src = x->data;
    job.dst = y->data;
  }
  gsize rows = cpu_numel_range (job.out, 0, x->rank - 1);
  gsize work = (gsize)job.out[x->rank - 1] * job.max_combos * (nearest ? 1 : 4);
  glia_kernel_context_parallel_for (ctx, rows, MAX (1, CPU_GRAIN / MAX (work, 1)), resize_chunk,
                                    &job);
  if (via_doubles) {
    /* Integers round to nearest before saturating. */
    if (cpu_dtype_in (x->dtype, GLIA_DTYPES_INTS))
      for (gsize i = 0; i < y->n_elements; i++)
        out_doubles[i] = nearbyint (out_doubles[i]);
    cpu_store_doubles (x->dtype, out_doubles, y->data, y->n_elements);
  }
  return TRUE;
}

/* ======================================================================== */
/* GridSample                                                                */
/* ======================================================================== */

typedef enum
{
  GRID_BILINEAR,
  GRID_NEAREST,
  GRID_BICUBIC,
} GridMode;

typedef enum
{
  GRID_PAD_ZEROS,
  GRID_PAD_BORDER,
  GRID_PAD_REFLECTION,
} GridPadding;

typedef struct
{
  GridMode mode;
  GridPadding padding;
  gboolean align_corners;
} GridSampleState;

static gpointer
grid_sample_create (const GliaGraph *graph, gint node, GError **error)
{
  static const char *const modes[] = { "bilinear", "nearest", "bicubic" };
  static const char *const paddings[] = { "zeros", "border", "reflection" };
  GridSampleState s = { 0 };
  guint v;
  if (!parse_enum (graph, node, "mode", "bilinear", modes, 3, &v, error))
    return NULL;
  s.mode = (GridMode)v;
  if (!parse_enum (graph, node, "padding_mode", "zeros", paddings, 3, &v, error))
    return NULL;
  s.padding = (GridPadding)v;
  s.align_corners = glia_graph_node_get_attr_int (graph, node, "align_corners", 0) != 0;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
grid_sample_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint64 out[4] = { -1, -1, -1, -1 };
  if (glia_shape_context_get_input_rank (ctx, 0) == 4) {
    const gint64 *x = glia_shape_context_get_input_dims (ctx, 0);
    out[0] = x[0];
    out[1] = x[1];
  }
  if (glia_shape_context_get_input_rank (ctx, 1) == 4) {
    const gint64 *g = glia_shape_context_get_input_dims (ctx, 1);
    out[0] = out[0] < 0 ? g[0] : out[0];
    out[2] = g[1];
    out[3] = g[2];
  }
  glia_shape_context_set_output (ctx, 0, dtype, 4, out);
  return TRUE;
}

/* Grid coordinate in [-1, 1] to pixel coordinate. Far-away and NaN
 * coordinates are pinned to a far-away pixel so that the integer
 * conversions below stay defined. */
static double
grid_unnormalize (double v, gint64 size, gboolean align_corners)
{
  v = align_corners ? (v + 1) / 2 * (double)(size - 1) : ((v + 1) * (double)size - 1) / 2;
  return v >= -1e9 ? MIN (v, 1e9) : -1e9;
}

/* Reflects @v into [low, high] given as twice their values. */
static double
grid_reflect (double v, double twice_low, double twice_high)
{
  if (twice_low == twice_high)
    return 0;
  double low = twice_low / 2, span = (twice_high - twice_low) / 2;
  v = fabs (v - low);
  double extra = fmod (v, span);
  gint64 flips = (gint64)floor (v / span);
  return flips % 2 == 0 ? extra + low : span - extra + low;
}

/* Applies border or reflection padding to a pixel coordinate. */
static double
grid_pad_coordinate (const GridSampleState *s, double v, gint64 size)
{
  if (s->padding == GRID_PAD_BORDER)
    return CLAMP (v, 0, (double)(size - 1));
  if (s->padding == GRID_PAD_REFLECTION) {
    v = s->align_corners ? grid_reflect (v, 0, 2.0 * (double)(size - 1))
                         : grid_reflect (v, -1, 2.0 * (double)size - 1);
    return CLAMP (v, 0, (double)(size - 1));
  }
  return v;
}

static double
grid_pixel (const double *img, gint64 h, gint64 w, gint64 y, gint64 x)
{
  return (y >= 0 && y < h && x >= 0 && x < w) ? img[y * w + x] : 0;
}

/* Bicubic taps look their coordinates up through the padding. */
static double
grid_pixel_padded (const GridSampleState *s, const double *img, gint64 h, gint64 w, gint64 y,
                   gint64 x)
{
  double py = grid_pad_coordinate (s, (double)y, h), px = grid_pad_coordinate (s, (double)x, w);
  return grid_pixel (img, h, w, (gint64)py, (gint64)px);
}

static void
grid_cubic_coeffs (double t, double *c)
{
  const double A = -0.75;
  double u = t + 1, v = 1 - t, z = 2 - t;
  c[0] = ((A * u - 5 * A) * u + 8 * A) * u - 4 * A;
  c[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
  c[2] = ((A + 2) * v - (A + 3)) * v * v + 1;
  c[3] = ((A * z - 5 * A) * z + 8 * A) * z - 4 * A;
}

typedef struct
{
  const GridSampleState *s;
  const double *x, *grid;
  double *y;
  gint64 C, H, W, Ho, Wo;
} GridSampleJob;

static void
grid_sample_chunk (gsize begin, gsize end, gpointer user_data)
{
  const GridSampleJob *job = user_data;
  const GridSampleState *s = job->s;
  gint64 C = job->C, H = job->H, W = job->W, Ho = job->Ho, Wo = job->Wo;
  for (gsize r = begin; r < end; r++) {
    gint64 n = (gint64)r / Ho, ho = (gint64)r % Ho;
    for (gint64 wo = 0; wo < Wo; wo++) {
      const double *g = job->grid + ((n * Ho + ho) * Wo + wo) * 2;
      double gx = grid_unnormalize (g[0], W, s->align_corners);
      double gy = grid_unnormalize (g[1], H, s->align_corners);
      for (gint64 c = 0; c < C; c++) {
        const double *img = job->x + (n * C + c) * H * W;
        double v;
        if (s->mode == GRID_BICUBIC) {
          double fx = floor (gx), fy = floor (gy), cx[4], cy[4];
          grid_cubic_coeffs (gx - fx, cx);
          grid_cubic_coeffs (gy - fy, cy);
          v = 0;
          for (gint i = 0; i < 4; i++) {
            double row = 0;
            for (gint j = 0; j < 4; j++)
              row += cx[j]
                     * grid_pixel_padded (s, img, H, W, (gint64)fy - 1 + i, (gint64)fx - 1 + j);
            v += cy[i] * row;
          }
        } else {
          double px = grid_pad_coordinate (s, gx, W), py = grid_pad_coordinate (s, gy, H);
          if (s->mode == GRID_NEAREST)
            v = grid_pixel (img, H, W, (gint64)nearbyint (py), (gint64)nearbyint (px));
          else {
            double fx = floor (px), fy = floor (py), tx = px - fx, ty = py - fy;
            gint64 x0 = (gint64)fx, y0 = (gint64)fy;
            v = grid_pixel (img, H, W, y0, x0) * (1 - tx) * (1 - ty)
                + grid_pixel (img, H, W, y0, x0 + 1) * tx * (1 - ty)
                + grid_pixel (img, H, W, y0 + 1, x0) * (1 - tx) * ty
                + grid_pixel (img, H, W, y0 + 1, x0 + 1) * tx * ty;
          }
        }
        job->y[((n * C + c) * Ho + ho) * Wo + wo] = v;
      }
    }
  }
}

static gboolean
grid_sample_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GridSampleState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *grid = x ? cpu_require_input (ctx, 1, error) : NULL;
  if (grid == NULL || !cpu_check_dtype (ctx, x, CPU_DTYPES_NUMERIC, "X", error)
      || !cpu_check_dtype (ctx, grid, GLIA_DTYPES_FLOATS, "grid", error))
    return FALSE;
  if (x->rank != 4 || grid->rank != 4 || grid->dims[0] != x->dims[0] || grid->dims[3] != 2) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    g_autofree char *dg = cpu_dims_to_string (grid->rank, grid->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "X %s and grid %s must be [N, C, H, W] and [N, H_out, W_out, 2]", dx, dg);
    return FALSE;
  }
  gint64 out[4] = { x->dims[0], x->dims[1], grid->dims[1], grid->dims[2] };
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, 4, out, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  if (x->n_elements == 0) {
    memset (y->data, 0, y->n_bytes);
    return TRUE;
  }
  double *buf = glia_kernel_context_get_scratch (
      ctx,
      MAX (doubles_needed (x) + doubles_needed (grid) + doubles_needed (y), 1) * sizeof (double),
      error);
  if (buf == NULL)
    return FALSE;
  GridSampleJob job = { s,
                        as_doubles (x, &buf),
                        as_doubles (grid, &buf),
                        output_doubles (y, &buf),
                        x->dims[1],
                        x->dims[2],
                        x->dims[3],
                        out[2],
                        out[3] };
  glia_kernel_context_parallel_for (ctx, (gsize)(out[0] * out[2]),
                                    MAX (1, CPU_GRAIN / 16 / (gsize)MAX (out[1] * out[3], 1)),
                                    grid_sample_chunk, &job);
  if (y->dtype != GLIA_DATA_TYPE_DOUBLE)
    cpu_store_doubles (y->dtype, job.y, y->data, y->n_elements);
  return TRUE;
}

/* ======================================================================== */
/* RoiAlign                                                                  */
/* ======================================================================== */

typedef struct
{
  gboolean max_mode;
  gint64 out_h, out_w, sampling_ratio;
  double spatial_scale;
  gboolean half_pixel;
} RoiAlignState;

static gpointer
roi_align_create (const GliaGraph *graph, gint node, GError **error)
{
  static const char *const modes[] = { "avg", "max" };
  static const char *const coords[] = { "output_half_pixel", "half_pixel" };
  RoiAlignState s = { 0 };
  guint v;
  if (!parse_enum (graph, node, "mode", "avg", modes, 2, &v, error))
    return NULL;
  s.max_mode = v == 1;
  /* Opset 10 behaves as output_half_pixel; opset 16 defaults to half_pixel. */
  if (glia_graph_node_get_opset (graph, node) >= 16) {
    if (!parse_enum (graph, node, "coordinate_transformation_mode", "half_pixel", coords, 2, &v,
                     error))
      return NULL;
    s.half_pixel = v == 1;
  }
  s.out_h = glia_graph_node_get_attr_int (graph, node, "output_height", 1);
  s.out_w = glia_graph_node_get_attr_int (graph, node, "output_width", 1);
  s.sampling_ratio = glia_graph_node_get_attr_int (graph, node, "sampling_ratio", 0);
  s.spatial_scale = glia_graph_node_get_attr_float (graph, node, "spatial_scale", 1.0f);
  if (s.out_h < 1 || s.out_w < 1 || s.sampling_ratio < 0) {
    cpu_node_error (error, graph, node,
                    "attributes 'output_height' and 'output_width' must be positive and "
                    "'sampling_ratio' not negative");
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
roi_align_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  g_autofree RoiAlignState *s = roi_align_create (glia_shape_context_get_graph (ctx),
                                                  glia_shape_context_get_node (ctx), error);
  gint64 out[4] = { -1, -1, s ? s->out_h : -1, s ? s->out_w : -1 };
  if (s == NULL)
    return FALSE;
  if (glia_shape_context_get_input_rank (ctx, 1) == 2)
    out[0] = glia_shape_context_get_input_dims (ctx, 1)[0];
  if (glia_shape_context_get_input_rank (ctx, 0) == 4)
    out[1] = glia_shape_context_get_input_dims (ctx, 0)[1];
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0), 4, out);
  return TRUE;
}

typedef struct
{
  const RoiAlignState *s;
  const double *x, *rois;
  const GliaTensorView *batch;
  double *y;
  gint64 C, H, W;
} RoiAlignJob;

static void
roi_align_chunk (gsize begin, gsize end, gpointer user_data)
{
  const RoiAlignJob *job = user_data;
  const RoiAlignState *s = job->s;
  gint64 C = job->C, H = job->H, W = job->W;
  double offset = s->half_pixel ? 0.5 : 0;
  for (gsize k = begin; k < end; k++) {
    gint64 r = (gint64)k / C, c = (gint64)k % C;
    const double *roi = job->rois + r * 4;
    gint64 b = ((const gint64 *)job->batch->data)[r];
    const double *img = job->x + (b * C + c) * H * W;
    double x0 = roi[0] * s->spatial_scale - offset, y0 = roi[1] * s->spatial_scale - offset;
    double rw = roi[2] * s->spatial_scale - offset - x0;
    double rh = roi[3] * s->spatial_scale - offset - y0;
    if (!s->half_pixel) {
      rw = MAX (rw, 1.0);
      rh = MAX (rh, 1.0);
    }
    double bin_h = rh / (double)s->out_h, bin_w = rw / (double)s->out_w;
    gint64 grid_h
        = s->sampling_ratio > 0 ? s->sampling_ratio : (gint64)ceil (rh / (double)s->out_h);
    gint64 grid_w
        = s->sampling_ratio > 0 ? s->sampling_ratio : (gint64)ceil (rw / (double)s->out_w);
    double count = (double)MAX (grid_h * grid_w, 1);
    double *out = job->y + k * (gsize)(s->out_h * s->out_w);
    for (gint64 ph = 0; ph < s->out_h; ph++)
      for (gint64 pw = 0; pw < s->out_w; pw++) {
        double acc = 0;
        gboolean any = FALSE;
        for (gint64 iy = 0; iy < grid_h; iy++) {
          double yy = y0 + ph * bin_h + (iy + 0.5) * bin_h / (double)grid_h;
          for (gint64 ix = 0; ix < grid_w; ix++) {
            double xx = x0 + pw * bin_w + (ix + 0.5) * bin_w / (double)grid_w;
            double v[4] = { 0 }, w[4] = { 0 };
            if (!(yy < -1.0 || yy > H || xx < -1.0 || xx > W)) {
              double py = MAX (yy, 0), px = MAX (xx, 0);
              gint64 yl = (gint64)py, xl = (gint64)px, yh, xh;
              if (yl >= H - 1) {
                yh = yl = H - 1;
                py = (double)yl;
              } else
                yh = yl + 1;
              if (xl >= W - 1) {
                xh = xl = W - 1;
                px = (double)xl;
              } else
                xh = xl + 1;
              double ly = py - yl, lx = px - xl, hy = 1 - ly, hx = 1 - lx;
              w[0] = hy * hx;
              w[1] = hy * lx;
              w[2] = ly * hx;
              w[3] = ly * lx;
              v[0] = img[yl * W + xl];
              v[1] = img[yl * W + xh];
              v[2] = img[yh * W + xl];
              v[3] = img[yh * W + xh];
            }
            if (s->max_mode) {
              double m = MAX (MAX (w[0] * v[0], w[1] * v[1]), MAX (w[2] * v[2], w[3] * v[3]));
              acc = any ? MAX (acc, m) : m;
              any = TRUE;
            } else
              acc += w[0] * v[0] + w[1] * v[1] + w[2] * v[2] + w[3] * v[3];
          }
        }
        out[ph * s->out_w + pw] = s->max_mode ? acc : acc / count;
      }
  }
}

static gboolean
roi_align_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const RoiAlignState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *rois = x ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *batch = rois ? cpu_require_input (ctx, 2, error) : NULL;
  if (batch == NULL || !cpu_check_dtype (ctx, x, GLIA_DTYPES_FLOATS, "X", error)
      || !cpu_check_dtype (ctx, rois, GLIA_DTYPES_FLOATS, "rois", error))
    return FALSE;
  if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 4 || batch->rank != 1
      || batch->dtype != GLIA_DATA_TYPE_INT64 || batch->dims[0] != rois->dims[0]) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    g_autofree char *dr = cpu_dims_to_string (rois->rank, rois->dims);
    g_autofree char *db = cpu_dims_to_string (batch->rank, batch->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "X %s, rois %s and batch_indices %s (%s) must be [N, C, H, W], "
                      "[num_rois, 4] and int64 [num_rois]",
                      dx, dr, db, glia_data_type_get_name (batch->dtype));
    return FALSE;
  }
  for (gint64 r = 0; r < batch->dims[0]; r++) {
    gint64 b = ((const gint64 *)batch->data)[r];
    if (b < 0 || b >= x->dims[0]) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "batch_indices[%" G_GINT64_FORMAT "] = %" G_GINT64_FORMAT
                        " is out of range for %" G_GINT64_FORMAT " images",
                        r, b, x->dims[0]);
      return FALSE;
    }
  }
  for (gsize i = 0; i < rois->n_elements; i++) {
    double v;
    cpu_load_doubles (
        rois->dtype, (const guint8 *)rois->data + i * glia_data_type_get_size (rois->dtype), &v, 1);
    if (!(fabs (v * s->spatial_scale) < 1e7)) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "roi coordinate %g is not finite or far out of range", v);
      return FALSE;
    }
  }
  gint64 out[4] = { rois->dims[0], x->dims[1], s->out_h, s->out_w };
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, 4, out, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  if (x->dims[2] == 0 || x->dims[3] == 0) {
    memset (y->data, 0, y->n_bytes);
    return TRUE;
  }
  double *buf = glia_kernel_context_get_scratch (
      ctx,
      MAX (doubles_needed (x) + doubles_needed (rois) + doubles_needed (y), 1) * sizeof (double),
      error);
  if (buf == NULL)
    return FALSE;
  RoiAlignJob job = { s,
                      as_doubles (x, &buf),
                      as_doubles (rois, &buf),
                      batch,
                      output_doubles (y, &buf),
                      x->dims[1],
                      x->dims[2],
                      x->dims[3] };
  glia_kernel_context_parallel_for (ctx, (gsize)(out[0] * out[1]), 1, roi_align_chunk, &job);
  if (y->dtype != GLIA_DATA_TYPE_DOUBLE)
    cpu_store_doubles (y->dtype, job.y, y->data, y->n_elements);
  return TRUE;
}

/* ======================================================================== */
/* MaxUnpool                                                                 */
/* ======================================================================== */

static gpointer
max_unpool_create (const GliaGraph *graph, gint node, GError **error)
{
  CpuWindowAttrs a;
  if (!cpu_window_attrs_parse (&a, graph, node, TRUE, error))
    return NULL;
  return g_memdup2 (&a, sizeof a);
}

/* Default output dims: (in - 1) * stride + kernel - pads (pads ignored
 * when @with_pads is FALSE). */
static gboolean
max_unpool_dims (const CpuWindowAttrs *a, guint rank, const gint64 *in, gboolean with_pads,
                 gint64 *out, char **why)
{
  guint n = rank >= 2 ? rank - 2 : 0;
  if (n != a->n_kernel) {
    *why = g_strdup_printf ("'kernel_shape' has %u values for an input of rank %u", a->n_kernel,
                            rank);
    return FALSE;
  }
  out[0] = in[0];
  out[1] = in[1];
  for (guint i = 0; i < n; i++) {
    gint64 s = a->n_strides ? a->strides[i] : 1;
    gint64 pads = a->n_pads && with_pads ? a->pads[i] + a->pads[i + n] : 0;
    out[i + 2] = in[i + 2] < 0 ? -1 : (in[i + 2] - 1) * s + a->kernel[i] - pads;
    if (in[i + 2] >= 0 && out[i + 2] < 0) {
      *why = g_strdup_printf ("the output dim %u would be negative", i + 2);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
max_unpool_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  g_autofree CpuWindowAttrs *a = max_unpool_create (glia_shape_context_get_graph (ctx),
                                                    glia_shape_context_get_node (ctx), error);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 out[GLIA_MAX_RANK];
  gsize n;
  if (a == NULL)
    return FALSE;
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  if (glia_shape_context_get_n_inputs (ctx) > 2 && glia_shape_context_has_input (ctx, 2)) {
    if (cpu_shape_context_get_ints (ctx, 2, out, GLIA_MAX_RANK, &n) && n == (gsize)rank)
      glia_shape_context_set_output (ctx, 0, dtype, rank, out);
    else {
      for (gint i = 0; i < rank; i++)
        out[i] = -1;
      glia_shape_context_set_output (ctx, 0, dtype, rank, out);
    }
    return TRUE;
  }
  g_autofree char *why = NULL;
  if (!max_unpool_dims (a, (guint)rank, glia_shape_context_get_input_dims (ctx, 0), TRUE, out,
                        &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, rank, out);
  return TRUE;
}

static gboolean
max_unpool_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const CpuWindowAttrs *a = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *ind = x ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *shape
      = glia_kernel_context_get_n_inputs (ctx) > 2 ? glia_kernel_context_get_input (ctx, 2) : NULL;
  gint64 out[GLIA_MAX_RANK];
  gsize n;
  if (ind == NULL || !cpu_check_dtype (ctx, x, DTYPES_BYTES, "X", error))
    return FALSE;
  gboolean same = ind->dtype == GLIA_DATA_TYPE_INT64 && ind->rank == x->rank;
  for (guint i = 0; same && i < x->rank; i++)
    same = ind->dims[i] == x->dims[i];
  if (!same) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "I must be an int64 tensor of the shape of X");
    return FALSE;
  }
  /* With output_shape, indices address the unpadded default output, which
   * sits at the start of each dim of the given shape (the ONNX reference's
   * reading of "pads are generated"). */
  gint64 grid[GLIA_MAX_RANK];
  g_autofree char *why = NULL;
  if (!max_unpool_dims (a, x->rank, x->dims, shape == NULL, grid, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  memcpy (out, grid, x->rank * sizeof (gint64));
  if (shape) {
    if (shape->rank != 1 || !cpu_view_get_ints (shape, out, GLIA_MAX_RANK, &n) || n != x->rank) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "output_shape must be a 1-D int64 tensor of %u values", x->rank);
      return FALSE;
    }
    for (guint i = 0; i < x->rank; i++)
      if (out[i] < 0 || (i < 2 && out[i] != x->dims[i])) {
        g_autofree char *d = cpu_dims_to_string (x->rank, out);
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                          "output_shape %s must keep the batch and channel dims and not be "
                          "negative",
                          d);
        return FALSE;
      }
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, out, error);
  if (y == NULL)
    return FALSE;
  gsize size = glia_data_type_get_size (x->dtype);
  gsize n_grid = cpu_numel (x->rank, grid);
  const gint64 *idx = ind->data;
  g_autofree gsize *dst = g_new (gsize, MAX (ind->n_elements, 1));
  for (gsize i = 0; i < ind->n_elements; i++) {
    gboolean ok = idx[i] >= 0 && (gsize)idx[i] < n_grid;
    gsize flat = ok ? (gsize)idx[i] : 0, off = 0, stride = 1;
    for (gint d = (gint)x->rank - 1; ok && d >= 0; d--) {
      gsize c = flat % (gsize)grid[d];
      flat /= (gsize)grid[d];
      ok = c < (gsize)out[d];
      off += c * stride;
      stride *= (gsize)out[d];
    }
    if (!ok) {
      g_autofree char *d = cpu_dims_to_string (x->rank, out);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "index %" G_GINT64_FORMAT " is out of range for the output %s", idx[i], d);
      return FALSE;
    }
    dst[i] = off;
  }
  memset (y->data, 0, y->n_bytes);
  for (gsize i = 0; i < ind->n_elements; i++)
    copy_elem ((guint8 *)y->data + dst[i] * size, (const guint8 *)x->data + i * size, size);
  return TRUE;
}

/* ======================================================================== */
/* Op defs                                                                   */
/* ======================================================================== */

#define RESIZE_DEF(NAME, SINCE, UNTIL, DTYPES, INFER, CREATE, COMPUTE)                             \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = UNTIL, .dtypes = DTYPES, .infer_shapes = INFER, .create = CREATE,             \
    .compute = COMPUTE, .destroy = g_free,                                                         \
  }

static const GliaOpDef resize_ops[] = {
  /* Opset 11 added roi, sizes and the coordinate modes; 13 made roi and
   * scales optional; 18 (antialias, axes, keep_aspect_ratio) is not here. */
  RESIZE_DEF ("Resize", 10, 17, DTYPES_BYTES, resize_infer_shapes, resize_create, resize_compute),
  /* scales: an attribute in opset 7, an input in 9 (deprecated in 10). */
  RESIZE_DEF ("Upsample", 7, 10, DTYPES_BYTES, resize_infer_shapes, resize_create, resize_compute),
  /* Opset 20 made it N-D with renamed modes. */
  RESIZE_DEF ("GridSample", 16, 19, CPU_DTYPES_NUMERIC, grid_sample_infer_shapes,
              grid_sample_create, grid_sample_compute),
  /* Opset 16 added coordinate_transformation_mode. */
  RESIZE_DEF ("RoiAlign", 10, G_MAXINT, GLIA_DTYPES_FLOATS, roi_align_infer_shapes,
              roi_align_create, roi_align_compute),
  RESIZE_DEF ("MaxUnpool", 9, G_MAXINT, DTYPES_BYTES, max_unpool_infer_shapes, max_unpool_create,
              max_unpool_compute),
};

void
cpu_resize_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (resize_ops); i++)
    glia_op_table_add (table, &resize_ops[i]);
}
