/* cpu-select.c: ops that pick or scan elements along an axis. Hardmax (both
 * semantics: before opset 13 the input is coerced to 2-D at `axis`, since 13
 * one axis), CumSum, TopK (k an attribute in opset 1, an input since 10) and
 * NonMaxSuppression.
 *
 * Kernels work on "lanes": an input seen as [outer, n, inner] has outer *
 * inner independent lanes of n elements along the op's axis, split across
 * threads. Float types (float16 and bfloat16 included) are read and written
 * through double; integers through 64-bit values that wrap like the element
 * type does.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DTYPES_FLOAT GLIA_DTYPES_FLOATS
#define DTYPES_NUM   (GLIA_DTYPES_FLOATS | GLIA_DTYPES_INTS)
#define DTYPES_CUMSUM                                                                              \
  (GLIA_DTYPES_FLOATS | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32)                                      \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT32)                \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT64))

/* ---- attributes and scalar inputs ----------------------------------------- */

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

/* The one value of input @i (a scalar or a 1-element vector), or @def when
 * the input is omitted. */
static gboolean
input_scalar_int (GliaKernelContext *ctx, guint i, const char *what, gint64 def, gint64 *out,
                  GError **error)
{
  const GliaTensorView *v = cpu_optional_input (ctx, i);
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
  const GliaTensorView *v = cpu_optional_input (ctx, i);
  *present = v != NULL;
  if (v == NULL)
    return TRUE;
  if (v->rank > 1 || v->n_elements != 1 || !cpu_dtype_in (v->dtype, DTYPES_FLOAT)) {
    g_autofree char *d = cpu_dims_to_string (v->rank, v->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "%s must be a single float value, got %s %s", what,
                      glia_data_type_get_name (v->dtype), d);
    return FALSE;
  }
  *out = cpu_load_float_at (v->dtype, v->data, 0);
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
    double best = cpu_load_float_at (job->dtype, job->x, base);
    for (gsize i = 1; i < job->n; i++) {
      double v = cpu_load_float_at (job->dtype, job->x, base + i * job->inner);
      if (v > best) {
        best = v;
        at = i;
      }
    }
    cpu_store_float_at (job->dtype, job->y, base + at * job->inner, 1.0);
  }
}

static gboolean
hardmax_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const HardmaxState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !cpu_check_dtype (ctx, x, DTYPES_FLOAT, "input", error))
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
  if (!cpu_parse_flag (graph, node, "exclusive", 0, &s.exclusive, error)
      || !cpu_parse_flag (graph, node, "reverse", 0, &s.reverse, error))
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
  if (x == NULL || !cpu_check_dtype (ctx, x, DTYPES_CUMSUM, "x", error))
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
      || !cpu_parse_flag (graph, node, "largest", 1, &s->largest, error)
      || !cpu_parse_flag (graph, node, "sorted", 1, &sorted, error))
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
    double v = cpu_load_float_at (t, p, i);
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
    return cpu_load_wrapping_at (t, p, i);
  default:
    return cpu_load_wrapping_at (t, p, i) ^ sign;
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
  if (x == NULL || !cpu_check_dtype (ctx, x, DTYPES_NUM, "X", error))
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
  if (!cpu_parse_flag (graph, node, "center_point_box", 0, &s.center_point_box, error))
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
      || !cpu_check_dtype (ctx, boxes, GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT), "boxes", error)
      || !cpu_check_dtype (ctx, scores, GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT), "scores", error))
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

static const GliaOpDef select_ops[] = {
  /* Before 13: coerce to 2-D at axis (default 1). Since 13: one axis
   * (default -1). */
  CPU_OP_DEF ("Hardmax", 1, 12, DTYPES_FLOAT, hardmax_infer_shapes, hardmax_create,
              hardmax_compute),
  CPU_OP_DEF ("Hardmax", 13, G_MAXINT, DTYPES_FLOAT, hardmax_infer_shapes, hardmax_create,
              hardmax_compute),
  CPU_OP_DEF ("CumSum", 11, G_MAXINT, DTYPES_CUMSUM, cpu_infer_same_as_input, cumsum_create,
              cumsum_compute),
  /* k: an attribute in opset 1, input 1 since 10; largest and sorted since 11 */
  CPU_OP_DEF ("TopK", 1, 9, DTYPES_NUM, topk_infer_shapes, topk_create, topk_compute),
  CPU_OP_DEF ("TopK", 10, G_MAXINT, DTYPES_NUM, topk_infer_shapes, topk_create, topk_compute),
  CPU_OP_DEF ("NonMaxSuppression", 10, G_MAXINT, GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT),
              nms_infer_shapes, nms_create, nms_compute),
};

void
cpu_select_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (select_ops); i++)
    glia_op_table_add (table, &select_ops[i]);
}
