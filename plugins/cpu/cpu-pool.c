/* cpu-pool.c: MaxPool (with optional Indices), AveragePool, GlobalMaxPool
 * and GlobalAveragePool on [N, C, spatial...] tensors: float, double,
 * float16 and bfloat16 for all of them, and int8 / uint8 for MaxPool.
 *
 * Windowed pooling lifts 1-D and 2-D windows to 3-D (CpuWindow) and walks each
 * output position's window directly, splitting the N*C planes across
 * threads. One loop per element type compares in the type itself (in float
 * for float16 and bfloat16) and averages in double. AveragePool's divisor is
 * the number of window positions inside the input, or with count_include_pad
 * inside the explicitly padded input (the extra cells ceil_mode adds past the
 * padding never count).
 *
 * Float32 MaxPool over 1-D/2-D windows without dilation or Indices, where
 * every window holds an input cell, goes through the vectorized plane
 * kernel of cpu-conv-kernels.h instead.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include "cpu-conv-kernels.h"

#include <math.h>
#include <string.h>

#define DTYPES_FLOAT GLIA_DTYPES_FLOATS
/* opset 12 added int8 and uint8 to MaxPool */
#define DTYPES_MAX_POOL                                                                            \
  (GLIA_DTYPES_FLOATS | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT8)                                       \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT8))

typedef enum
{
  POOL_MAX,
  POOL_AVERAGE,
} PoolKind;

typedef struct
{
  PoolKind kind;
  gboolean global;
  CpuWindowAttrs window;
  gboolean count_include_pad;
  gboolean column_major_indices;
} PoolState;

static gpointer
pool_create (const GliaGraph *graph, gint node, GError **error)
{
  const char *op = glia_graph_node_get_op_type (graph, node);
  PoolState s = { 0 };
  s.kind = g_str_has_suffix (op, "MaxPool") ? POOL_MAX : POOL_AVERAGE;
  s.global = g_str_has_prefix (op, "Global");
  if (!s.global) {
    if (!cpu_window_attrs_parse (&s.window, graph, node, TRUE, error)
        || !cpu_parse_flag (graph, node, "count_include_pad", 0, &s.count_include_pad, error)
        || !cpu_parse_flag (graph, node, "storage_order", 0, &s.column_major_indices, error))
      return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
pool_geometry (const PoolState *s, guint rank, const gint64 *x, CpuWindow *w, char **why)
{
  if (rank < 3) {
    g_autofree char *dx = cpu_dims_to_string (rank, x);
    *why = g_strdup_printf ("X %s must be [N,C,spatial...]", dx);
    return FALSE;
  }
  if (s->global)
    return TRUE; /* no window: any number of spatial dims */
  if (!cpu_window_resolve (&s->window, rank - 2, x + 2, s->window.kernel, w, why))
    return FALSE;
  for (guint i = 0; i < CPU_WINDOW_MAX_SPATIAL; i++) {
    gint64 extent = (w->kernel[i] - 1) * w->dilation[i] + 1;
    if (w->pad_begin[i] >= extent || w->pad_end[i] >= extent) {
      *why
          = g_strdup_printf ("pads must be smaller than the window (%" G_GINT64_FORMAT ")", extent);
      return FALSE;
    }
  }
  return TRUE;
}

static void
pool_out_dims (const PoolState *s, guint rank, const gint64 *x, const CpuWindow *w, gint64 *dims)
{
  dims[0] = x[0];
  dims[1] = x[1];
  for (guint i = 2; i < rank; i++)
    dims[i] = s->global ? 1 : w->out[CPU_WINDOW_MAX_SPATIAL - (rank - 2) + (i - 2)];
}

static gboolean
pool_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  guint n_out = glia_shape_context_get_n_outputs (ctx);
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    if (n_out > 1)
      glia_shape_context_set_output (ctx, 1, GLIA_DATA_TYPE_INT64, -1, NULL);
    return TRUE;
  }

  g_autoptr (GError) local = NULL;
  g_autofree PoolState *s = pool_create (graph, node, &local);
  if (s == NULL) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  const gint64 *x = glia_shape_context_get_input_dims (ctx, 0);
  CpuWindow w;
  g_autofree char *why = NULL;
  if (!pool_geometry (s, (guint)rank, x, &w, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  gint64 dims[GLIA_MAX_RANK];
  pool_out_dims (s, (guint)rank, x, &w, dims);
  glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
  if (n_out > 1)
    glia_shape_context_set_output (ctx, 1, GLIA_DATA_TYPE_INT64, rank, dims);
  return TRUE;
}

typedef struct
{
  const PoolState *s;
  const CpuWindow *w;
  gconstpointer x;
  gpointer y;
  gint64 *indices;
  gsize in_size;
  gsize out_size;
} PoolJob;

/* The kernel taps [*lo, *hi) of a window starting at @start that fall inside
 * [0, @in), and the number of taps inside the padded input [-pad, in + @pad_end). */
static void
window_taps (gint64 start, gint64 kernel, gint64 dilation, gint64 in, gint64 pad_end, gint64 *lo,
             gint64 *hi, gint64 *padded)
{
  *lo = start < 0 ? (-start + dilation - 1) / dilation : 0;
  *hi = in - start > 0 ? (in - start + dilation - 1) / dilation : 0;
  *hi = CLAMP (*hi, *lo, kernel);
  *lo = MIN (*lo, *hi);
  gint64 p = in + pad_end - start > 0 ? (in + pad_end - start + dilation - 1) / dilation : 0;
  *padded = MIN (p, kernel);
}

/* Pooling over planes [begin, end) of elements T, compared as V (LOAD reads
 * one, STORE writes one back); LOWEST is the max of nothing. */
#define DEFINE_POOL(SUF, T, V, LOAD, STORE, LOWEST)                                                \
  static void pool_planes_##SUF (const PoolJob *job, gsize begin, gsize end)                       \
  {                                                                                                \
    const CpuWindow *w = job->w;                                                                   \
    const gint64 id_n = w->in[0], ih_n = w->in[1], iw_n = w->in[2];                                \
    const gboolean is_max = job->s->kind == POOL_MAX;                                              \
                                                                                                   \
    for (gsize p = begin; p < end; p++) {                                                          \
      const T *x = (const T *)job->x + p * job->in_size;                                           \
      T *y = (T *)job->y + p * job->out_size;                                                      \
      gint64 *ind = job->indices ? job->indices + p * job->out_size : NULL;                        \
      gsize o = 0;                                                                                 \
                                                                                                   \
      for (gint64 od = 0; od < w->out[0]; od++) {                                                  \
        gint64 d0 = od * w->stride[0] - w->pad_begin[0], d_lo, d_hi, d_pad;                        \
        window_taps (d0, w->kernel[0], w->dilation[0], id_n, w->pad_end[0], &d_lo, &d_hi, &d_pad); \
        for (gint64 oh = 0; oh < w->out[1]; oh++) {                                                \
          gint64 h0 = oh * w->stride[1] - w->pad_begin[1], h_lo, h_hi, h_pad;                      \
          window_taps (h0, w->kernel[1], w->dilation[1], ih_n, w->pad_end[1], &h_lo, &h_hi,        \
                       &h_pad);                                                                    \
          for (gint64 ow = 0; ow < w->out[2]; ow++, o++) {                                         \
            gint64 w0 = ow * w->stride[2] - w->pad_begin[2], w_lo, w_hi, w_pad;                    \
            window_taps (w0, w->kernel[2], w->dilation[2], iw_n, w->pad_end[2], &w_lo, &w_hi,      \
                         &w_pad);                                                                  \
            V best = 0;                                                                            \
            gint64 best_at = -1;                                                                   \
            double sum = 0.0;                                                                      \
                                                                                                   \
            for (gint64 kd = d_lo; kd < d_hi; kd++) {                                              \
              gint64 id = d0 + kd * w->dilation[0];                                                \
              for (gint64 kh = h_lo; kh < h_hi; kh++) {                                            \
                gint64 ih = h0 + kh * w->dilation[1];                                              \
                const T *row = x + (id * ih_n + ih) * iw_n;                                        \
                if (is_max) {                                                                      \
                  for (gint64 kw = w_lo; kw < w_hi; kw++) {                                        \
                    gint64 iw = w0 + kw * w->dilation[2];                                          \
                    V v = LOAD (row[iw]);                                                          \
                    if (v > best || best_at < 0) {                                                 \
                      best = v;                                                                    \
                      best_at = (id * ih_n + ih) * iw_n + iw;                                      \
                    }                                                                              \
                  }                                                                                \
                } else {                                                                           \
                  for (gint64 kw = w_lo; kw < w_hi; kw++)                                          \
                    sum += (double)LOAD (row[w0 + kw * w->dilation[2]]);                           \
                }                                                                                  \
              }                                                                                    \
            }                                                                                      \
                                                                                                   \
            if (is_max) {                                                                          \
              y[o] = STORE (best);                                                                 \
              if (ind) {                                                                           \
                gint64 at = MAX (best_at, 0);                                                      \
                if (job->s->column_major_indices) {                                                \
                  gint64 iw = at % iw_n, ih = (at / iw_n) % ih_n, id = at / (iw_n * ih_n);         \
                  at = id + ih * id_n + iw * id_n * ih_n;                                          \
                }                                                                                  \
                ind[o] = (gint64)(p * job->in_size) + at;                                          \
              }                                                                                    \
            } else {                                                                               \
              gint64 div = job->s->count_include_pad                                               \
                               ? d_pad * h_pad * w_pad                                             \
                               : (d_hi - d_lo) * (h_hi - h_lo) * (w_hi - w_lo);                    \
              y[o] = STORE (div > 0 ? sum / (double)div : 0.0);                                    \
            }                                                                                      \
          }                                                                                        \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  static void global_planes_##SUF (const PoolJob *job, gsize begin, gsize end)                     \
  {                                                                                                \
    gsize plane = job->in_size;                                                                    \
    for (gsize p = begin; p < end; p++) {                                                          \
      const T *x = (const T *)job->x + p * plane;                                                  \
      T *y = (T *)job->y + p;                                                                      \
      if (job->s->kind == POOL_MAX) {                                                              \
        V best = plane ? LOAD (x[0]) : (LOWEST);                                                   \
        for (gsize i = 1; i < plane; i++) {                                                        \
          V v = LOAD (x[i]);                                                                       \
          if (v > best)                                                                            \
            best = v;                                                                              \
        }                                                                                          \
        *y = STORE (best);                                                                         \
      } else {                                                                                     \
        double sum = 0.0;                                                                          \
        for (gsize i = 0; i < plane; i++)                                                          \
          sum += (double)LOAD (x[i]);                                                              \
        *y = STORE (plane ? sum / (double)plane : NAN);                                            \
      }                                                                                            \
    }                                                                                              \
  }

#define POOL_FLOAT(v) ((float)(v))
#define POOL_F16(v)   cpu_float_to_half ((float)(v))
#define POOL_BF16(v)  cpu_float_to_bfloat16 ((float)(v))
/* Integer averages never happen (AveragePool is float-only); the saturating
 * round trip keeps the conversion defined anyway. */
#define POOL_I8(v) ((gint8)CLAMP ((v), G_MININT8, G_MAXINT8))
#define POOL_U8(v) ((guint8)CLAMP ((v), 0, G_MAXUINT8))

DEFINE_POOL (f32, float, float, (float), POOL_FLOAT, -INFINITY)
DEFINE_POOL (f64, double, double, (double), (double), -INFINITY)
DEFINE_POOL (f16, guint16, float, cpu_half_to_float, POOL_F16, -INFINITY)
DEFINE_POOL (bf16, guint16, float, cpu_bfloat16_to_float, POOL_BF16, -INFINITY)
DEFINE_POOL (i8, gint8, gint32, (gint32), POOL_I8, G_MININT8)
DEFINE_POOL (u8, guint8, gint32, (gint32), POOL_U8, 0)

typedef struct
{
  const PoolJob *job;
  GliaDataType dtype;
  gboolean global;
} PoolTask;

#define POOL_CASE(ENUM, SUF)                                                                       \
  case ENUM:                                                                                       \
    (t->global ? global_planes_##SUF : pool_planes_##SUF) (t->job, begin, end);                    \
    break

static void
pool_chunk (gsize begin, gsize end, gpointer user_data)
{
  const PoolTask *t = user_data;
  switch (t->dtype) {
    POOL_CASE (GLIA_DATA_TYPE_FLOAT, f32);
    POOL_CASE (GLIA_DATA_TYPE_DOUBLE, f64);
    POOL_CASE (GLIA_DATA_TYPE_FLOAT16, f16);
    POOL_CASE (GLIA_DATA_TYPE_BFLOAT16, bf16);
    POOL_CASE (GLIA_DATA_TYPE_INT8, i8);
    POOL_CASE (GLIA_DATA_TYPE_UINT8, u8);
  default:
    g_assert_not_reached ();
  }
}

typedef struct
{
  const CpuConvKernels *k;
  CpuDwGeometry g;
  const float *x;
  float *y;
} FastPoolJob;

static void
max_pool_planes (gsize begin, gsize end, gpointer user_data)
{
  const FastPoolJob *job = user_data;
  g_autofree float *scratch = g_new (float, cpu_dw_scratch_floats (&job->g));
  gsize in_size = (gsize)(job->g.ih * job->g.iw), out_size = (gsize)(job->g.oh * job->g.ow);
  for (gsize p = begin; p < end; p++)
    job->k->max_pool2d_plane (&job->g, job->x + p * in_size, job->y + p * out_size, scratch);
}

/* Whether the plane kernel computes this MaxPool exactly as pool_planes_f32
 * would: every window starts before the input's end and past -kernel, so
 * it holds an input cell (the reference's max of no cells is 0). */
static gboolean
max_pool_fast_path (const PoolState *s, const GliaTensorView *x, const GliaTensorView *ind,
                    const CpuWindow *w)
{
  if (s->kind != POOL_MAX || s->global || ind != NULL || x->dtype != GLIA_DATA_TYPE_FLOAT
      || w->in[0] != 1 || w->kernel[0] != 1 || w->out[0] != 1
      || w->kernel[1] * w->kernel[2] > CPU_DW_MAX_TAPS)
    return FALSE;
  for (guint i = 1; i < CPU_WINDOW_MAX_SPATIAL; i++)
    if (w->dilation[i] != 1 || w->pad_begin[i] >= w->kernel[i]
        || (w->out[i] - 1) * w->stride[i] - w->pad_begin[i] >= w->in[i])
      return FALSE;
  return TRUE;
}

static gboolean
pool_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const PoolState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL)
    return FALSE;
  guint64 dtypes = s->kind == POOL_MAX && !s->global ? DTYPES_MAX_POOL : DTYPES_FLOAT;
  if (x->dtype <= 0 || x->dtype > GLIA_DATA_TYPE_LAST || !(dtypes & GLIA_DTYPE_BIT (x->dtype))) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "element type %s is not supported",
                      glia_data_type_get_name (x->dtype));
    return FALSE;
  }
  CpuWindow w;
  g_autofree char *why = NULL;
  if (!pool_geometry (s, x->rank, x->dims, &w, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  gint64 dims[GLIA_MAX_RANK];
  pool_out_dims (s, x->rank, x->dims, &w, dims);
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, dims, error);
  if (y == NULL)
    return FALSE;
  GliaTensorView *ind = NULL;
  if (s->kind == POOL_MAX && !s->global && cpu_kernel_has_output (ctx, 1)) {
    ind = glia_kernel_context_allocate_output (ctx, 1, GLIA_DATA_TYPE_INT64, x->rank, dims, error);
    if (ind == NULL)
      return FALSE;
  }

  gsize planes = cpu_numel (2, x->dims);
  gsize in_size = cpu_numel_range (x->dims, 2, x->rank);
  if (planes == 0 || y->n_elements == 0)
    return TRUE;

  if (max_pool_fast_path (s, x, ind, &w)) {
    FastPoolJob fast = {
      cpu_conv_kernels_get (),
      { w.in[1], w.in[2], w.out[1], w.out[2], w.kernel[1], w.kernel[2], w.stride[1], w.stride[2], 1,
        1, w.pad_begin[1], w.pad_begin[2] },
      x->data,
      y->data,
    };
    glia_kernel_context_parallel_for (ctx, planes, 1, max_pool_planes, &fast);
    return TRUE;
  }

  gsize out_size = s->global ? 1 : cpu_numel (CPU_WINDOW_MAX_SPATIAL, w.out);
  gsize work = s->global ? in_size : out_size * cpu_numel (CPU_WINDOW_MAX_SPATIAL, w.kernel);
  PoolJob job = { s, &w, x->data, y->data, ind ? ind->data : NULL, in_size, out_size };
  PoolTask task = { &job, x->dtype, s->global };
  glia_kernel_context_parallel_for (ctx, planes, MAX (1, CPU_GRAIN / MAX (work, 1)), pool_chunk,
                                    &task);
  return TRUE;
}

#define POOL_DEF(NAME, SINCE, DTYPES)                                                              \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = G_MAXINT, .dtypes = DTYPES, .infer_shapes = pool_infer_shapes,                \
    .create = pool_create, .compute = pool_compute, .destroy = g_free,                             \
  }

/* The window attributes each version adds (storage_order 8, ceil_mode and
 * dilations 10, ...) are absent from older nodes, so one def serves all. */
static const GliaOpDef pool_ops[] = {
  POOL_DEF ("MaxPool", 1, DTYPES_MAX_POOL),
  POOL_DEF ("AveragePool", 1, DTYPES_FLOAT),
  POOL_DEF ("GlobalMaxPool", 1, DTYPES_FLOAT),
  POOL_DEF ("GlobalAveragePool", 1, DTYPES_FLOAT),
};

void
cpu_pool_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (pool_ops); i++)
    glia_op_table_add (table, &pool_ops[i]);
}
