/* cpu-index.c: operators that select, place or generate elements by index:
 * ConstantOfShape, Size, GatherElements, GatherND, Scatter, ScatterElements,
 * ScatterND, Compress, NonZero, Unique, OneHot, Trilu, EyeLike, Range, Tile,
 * Pad, Split, ReverseSequence, SpaceToDepth, DepthToSpace and CastLike.
 *
 * Most of them only move elements, so they work on every element type by
 * element size; string tensors (arrays of `char *` owned by the tensor) go
 * through copy_elems() and fill_elems(), which duplicate the strings. Index
 * values are checked against the data's dims before anything is written, so
 * a bad index is an error, never a stray write. The scatters run serially:
 * with repeated indices the last update (or the reduction order) must be
 * the one the spec gives.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <string.h>

#define DTYPE_STRING GLIA_DTYPE_BIT (GLIA_DATA_TYPE_STRING)
#define DTYPE_BOOL   GLIA_DTYPE_BIT (GLIA_DATA_TYPE_BOOL)
#define DTYPES_INDEX (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64))

/* ======================================================================== */
/* Helpers                                                                   */
/* ======================================================================== */

/* Reads a one-element numeric input as a double. */
static gboolean
read_scalar (GliaKernelContext *ctx, const GliaTensorView *v, const char *what, double *out,
             GError **error)
{
  if (v->n_elements != 1 || !cpu_dtype_in (v->dtype, CPU_DTYPES_NUMERIC)) {
    g_autofree char *d = cpu_dims_to_string (v->rank, v->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "%s must be a numeric scalar, got %s %s", what,
                      glia_data_type_get_name (v->dtype), d);
    return FALSE;
  }
  cpu_load_doubles (v->dtype, v->data, out, 1);
  return TRUE;
}

/* The value of a one-element numeric constant input during shape inference. */
static gboolean
shape_context_get_scalar (GliaShapeContext *ctx, guint i, double *out)
{
  if (i >= glia_shape_context_get_n_inputs (ctx) || !glia_shape_context_has_input (ctx, i))
    return FALSE;
  const GliaConstTensor *c = glia_shape_context_get_input_constant (ctx, i);
  if (c == NULL || !cpu_dtype_in (c->dtype, CPU_DTYPES_NUMERIC) || cpu_numel (c->rank, c->dims) != 1
      || c->data == NULL || g_bytes_get_size (c->data) < glia_data_type_get_size (c->dtype))
    return FALSE;
  cpu_load_doubles (c->dtype, g_bytes_get_data (c->data, NULL), out, 1);
  return TRUE;
}

/* Copies @n elements of @size bytes; strings are duplicated (replacing what
 * @dst held). */
static void
copy_elems (guint8 *dst, const guint8 *src, gsize n, gsize size, gboolean strings)
{
  if (strings) {
    char **d = (char **)dst;
    char *const *s = (char *const *)src;
    for (gsize i = 0; i < n; i++) {
      char *v = g_strdup (s[i] ? s[i] : "");
      g_free (d[i]);
      d[i] = v;
    }
  } else if (n)
    memcpy (dst, src, n * size);
}

/* Sets @n elements to the one at @value (NULL: zeros, or "" for strings). */
static void
fill_elems (guint8 *dst, const guint8 *value, gsize n, gsize size, gboolean strings)
{
  if (strings) {
    const char *v = value ? *(char *const *)value : NULL;
    char **d = (char **)dst;
    for (gsize i = 0; i < n; i++) {
      g_free (d[i]);
      d[i] = g_strdup (v ? v : "");
    }
    return;
  }
  if (value == NULL) {
    memset (dst, 0, n * size);
    return;
  }
  switch (size) {
#define FILL(T)                                                                                    \
  {                                                                                                \
    T v;                                                                                           \
    memcpy (&v, value, sizeof v);                                                                  \
    for (gsize i = 0; i < n; i++)                                                                  \
      ((T *)dst)[i] = v;                                                                           \
  }                                                                                                \
  break
  case 1:
    memset (dst, *value, n);
    break;
  case 2:
    FILL (guint16);
  case 4:
    FILL (guint32);
  case 8:
    FILL (guint64);
#undef FILL
  default:
    for (gsize i = 0; i < n; i++)
      memcpy (dst + i * size, value, size);
  }
}

/* Copies @n elements from @src, every @stride elements, to contiguous @dst. */
static void
copy_strided (guint8 *dst, const guint8 *src, gint64 stride, gsize n, gsize size, gboolean strings)
{
  if (!strings)
    cpu_copy_strided (dst, src, stride, n, size);
  else if (stride == 1)
    copy_elems (dst, src, n, size, TRUE);
  else
    for (gsize i = 0; i < n; i++)
      copy_elems (dst + i * size, src + (gint64)i * stride * (gint64)size, 1, size, TRUE);
}

/* Multi-index of the row-major position @flat in @dims. */
static void
unravel (gsize flat, guint rank, const gint64 *dims, gint64 *idx)
{
  for (gint i = (gint)rank - 1; i >= 0; i--) {
    idx[i] = dims[i] > 0 ? (gint64)(flat % (gsize)dims[i]) : 0;
    flat = dims[i] > 0 ? flat / (gsize)dims[i] : 0;
  }
}

/* Advances a multi-index in row-major order. */
static void
next_index (guint rank, const gint64 *dims, gint64 *idx)
{
  for (gint i = (gint)rank - 1; i >= 0; i--) {
    if (++idx[i] < dims[i])
      return;
    idx[i] = 0;
  }
}

/* A gather of every output element from one source along arbitrary element
 * strides (transposes such as DepthToSpace). */
typedef struct
{
  CpuBroadcast bc;
  const guint8 *src;
  guint8 *dst;
  gsize size;
  gboolean strings;
} StridedJob;

static void
strided_chunk (gsize begin, gsize end, gpointer user_data)
{
  const StridedJob *job = user_data;
  const CpuBroadcast *bc = &job->bc;
  gint64 inner = bc->strides[0][bc->rank - 1];
  gsize row = begin / bc->row_len, col = begin % bc->row_len;
  CpuBroadcastPos pos;

  cpu_broadcast_seek (bc, row, &pos);
  while (begin < end) {
    gsize n = MIN (bc->row_len - col, end - begin);
    gint64 off = (gint64)pos.offset[0] + (gint64)col * inner;
    copy_strided (job->dst + begin * job->size, job->src + off * (gint64)job->size, inner, n,
                  job->size, job->strings);
    begin += n;
    col = 0;
    cpu_broadcast_next_row (bc, &pos);
  }
}

static void
strided_gather (GliaKernelContext *ctx, const GliaTensorView *x, GliaTensorView *y, guint rank,
                const gint64 *dims, const gint64 *src_strides)
{
  gint64 strides[CPU_BROADCAST_MAX_INPUTS][GLIA_MAX_RANK];
  StridedJob job = { .src = x->data,
                     .dst = y->data,
                     .size = glia_data_type_get_size (x->dtype),
                     .strings = x->dtype == GLIA_DATA_TYPE_STRING };
  if (y->n_elements == 0)
    return;
  memcpy (strides[0], src_strides, rank * sizeof (gint64));
  cpu_broadcast_init_strided (&job.bc, rank, dims, 1, strides);
  glia_kernel_context_parallel_for (ctx, y->n_elements, CPU_GRAIN, strided_chunk, &job);
}

static void
set_unknown_dims (gint64 *dims, guint rank)
{
  for (guint i = 0; i < rank; i++)
    dims[i] = -1;
}

typedef struct
{
  gint64 axis;
} AxisState;

/* ======================================================================== */
/* ConstantOfShape                                                           */
/* ======================================================================== */

typedef struct
{
  GliaDataType dtype;
  guint8 value[16];
} ConstantOfShapeState;

static gpointer
constant_of_shape_create (const GliaGraph *graph, gint node, GError **error)
{
  ConstantOfShapeState s = { GLIA_DATA_TYPE_FLOAT, { 0 } };
  const GliaConstTensor *t = glia_graph_node_get_attr_tensor (graph, node, "value");
  if (t) {
    gsize size = glia_data_type_get_size (t->dtype);
    if (t->dtype == GLIA_DATA_TYPE_STRING || size == 0 || size > sizeof s.value) {
      cpu_node_error (error, graph, node, "attribute 'value' has an unsupported element type %s",
                      glia_data_type_get_name (t->dtype));
      return NULL;
    }
    if (t->rank > 1 || cpu_numel (t->rank, t->dims) != 1 || t->data == NULL
        || g_bytes_get_size (t->data) != size) {
      cpu_node_error (error, graph, node, "attribute 'value' must hold exactly one element");
      return NULL;
    }
    s.dtype = t->dtype;
    memcpy (s.value, g_bytes_get_data (t->data, NULL), size);
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
constant_of_shape_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  g_autofree ConstantOfShapeState *s = constant_of_shape_create (
      glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), error);
  gint64 dims[GLIA_MAX_RANK];
  gsize n;
  if (s == NULL)
    return FALSE;
  if (cpu_shape_context_get_ints (ctx, 0, dims, GLIA_MAX_RANK, &n)) {
    for (gsize i = 0; i < n; i++)
      if (dims[i] < 0) {
        cpu_shape_error (error, ctx,
                         "shape[%" G_GSIZE_FORMAT "] = %" G_GINT64_FORMAT " is negative", i,
                         dims[i]);
        return FALSE;
      }
    glia_shape_context_set_output (ctx, 0, s->dtype, (gint)n, dims);
    return TRUE;
  }
  const gint64 *sd = glia_shape_context_get_input_dims (ctx, 0);
  if (glia_shape_context_get_input_rank (ctx, 0) == 1 && sd[0] >= 0 && sd[0] <= GLIA_MAX_RANK) {
    set_unknown_dims (dims, (guint)sd[0]);
    glia_shape_context_set_output (ctx, 0, s->dtype, (gint)sd[0], dims);
  } else
    glia_shape_context_set_output (ctx, 0, s->dtype, -1, NULL);
  return TRUE;
}

static gboolean
constant_of_shape_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ConstantOfShapeState *s = state;
  const GliaTensorView *shape = cpu_require_input (ctx, 0, error);
  gint64 dims[GLIA_MAX_RANK];
  gsize n;
  if (shape == NULL || !cpu_read_ints_input (ctx, shape, "shape", dims, GLIA_MAX_RANK, &n, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (dims[i] < 0) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "shape[%" G_GSIZE_FORMAT "] = %" G_GINT64_FORMAT " is negative", i,
                        dims[i]);
      return FALSE;
    }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, s->dtype, (guint)n, dims, error);
  if (y == NULL)
    return FALSE;
  fill_elems (y->data, s->value, y->n_elements, glia_data_type_get_size (s->dtype), FALSE);
  return TRUE;
}

/* ======================================================================== */
/* Size                                                                      */
/* ======================================================================== */

static gboolean
size_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_INT64, 0, NULL);
  return TRUE;
}

static gboolean
size_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL)
    return FALSE;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_INT64, 0, NULL, error);
  if (y == NULL)
    return FALSE;
  *(gint64 *)y->data = (gint64)cpu_numel (x->rank, x->dims);
  return TRUE;
}

/* ======================================================================== */
/* GatherElements                                                            */
/* ======================================================================== */

static gpointer
axis_create (const GliaGraph *graph, gint node, GError **error)
{
  AxisState s = { glia_graph_node_get_attr_int (graph, node, "axis", 0) };
  return g_memdup2 (&s, sizeof s);
}

/* Output 0 has input 0's dtype and input @like's shape. */
static gboolean
infer_dtype_of_0_shape_of (GliaShapeContext *ctx, guint like)
{
  cpu_infer_like_input (ctx, 0, like, glia_shape_context_get_input_dtype (ctx, 0));
  return TRUE;
}

static gboolean
gather_elements_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  return infer_dtype_of_0_shape_of (ctx, 1);
}

/* Checks indices for GatherElements / ScatterElements: same rank as the
 * data, no dim beyond the data's except along @axis, values in range. */
static gboolean
check_element_indices (GliaKernelContext *ctx, const GliaTensorView *x, const GliaTensorView *ind,
                       guint axis, GError **error)
{
  gboolean ok = ind->rank == x->rank;
  for (guint d = 0; ok && d < x->rank; d++)
    ok = d == axis || ind->dims[d] <= x->dims[d];
  if (!ok) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    g_autofree char *di = cpu_dims_to_string (ind->rank, ind->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "indices %s do not fit data %s (same rank, no larger dim off axis %u)", di,
                      dx, axis);
    return FALSE;
  }
  gint64 dim = x->dims[axis];
  for (gsize i = 0; i < ind->n_elements; i++) {
    gint64 v = cpu_index_at (ind, i);
    if (v < -dim || v >= dim) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "index %" G_GINT64_FORMAT
                        " is out of range for axis %u of size %" G_GINT64_FORMAT,
                        v, axis, dim);
      return FALSE;
    }
  }
  return TRUE;
}

/* Data offset of the element at @idx (an indices position) with the
 * index value along @axis replaced by @v. */
static gsize
element_offset (guint rank, const gint64 *idx, const gint64 *strides, guint axis, gint64 v,
                gint64 dim)
{
  gsize off = 0;
  for (guint d = 0; d < rank; d++)
    off += (gsize)((d == axis ? (v < 0 ? v + dim : v) : idx[d]) * strides[d]);
  return off;
}

typedef struct
{
  const GliaTensorView *x, *ind;
  guint axis;
  gint64 strides[GLIA_MAX_RANK];
  guint8 *dst;
  gsize size;
  gboolean strings;
} GatherElementsJob;

static void
gather_elements_chunk (gsize begin, gsize end, gpointer user_data)
{
  const GatherElementsJob *job = user_data;
  const GliaTensorView *ind = job->ind;
  gint64 idx[GLIA_MAX_RANK];
  unravel (begin, ind->rank, ind->dims, idx);
  for (gsize k = begin; k < end; k++) {
    gsize off = element_offset (ind->rank, idx, job->strides, job->axis, cpu_index_at (ind, k),
                                job->x->dims[job->axis]);
    copy_elems (job->dst + k * job->size, (const guint8 *)job->x->data + off * job->size, 1,
                job->size, job->strings);
    next_index (ind->rank, ind->dims, idx);
  }
}

static gboolean
gather_elements_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const AxisState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *ind = x ? cpu_require_input (ctx, 1, error) : NULL;
  guint axis;
  if (ind == NULL || !cpu_check_dtype (ctx, ind, DTYPES_INDEX, "indices", error))
    return FALSE;
  if (x->rank == 0 || !cpu_normalize_axis (s->axis, x->rank, &axis)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for rank %u", s->axis, x->rank);
    return FALSE;
  }
  if (!check_element_indices (ctx, x, ind, axis, error))
    return FALSE;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, ind->rank, ind->dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  GatherElementsJob job = { x,
                            ind,
                            axis,
                            { 0 },
                            y->data,
                            glia_data_type_get_size (x->dtype),
                            x->dtype == GLIA_DATA_TYPE_STRING };
  cpu_contiguous_strides (x->rank, x->dims, job.strides);
  glia_kernel_context_parallel_for (ctx, y->n_elements, CPU_GRAIN / 4, gather_elements_chunk, &job);
  return TRUE;
}

/* ======================================================================== */
/* GatherND                                                                  */
/* ======================================================================== */

typedef struct
{
  gint64 batch_dims;
} GatherNDState;

static gpointer
gather_nd_create (const GliaGraph *graph, gint node, GError **error)
{
  GatherNDState s = { glia_graph_node_get_attr_int (graph, node, "batch_dims", 0) };
  if (s.batch_dims < 0) {
    cpu_node_error (error, graph, node,
                    "attribute 'batch_dims' = %" G_GINT64_FORMAT " must not be negative",
                    s.batch_dims);
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

/* Output dims of GatherND; FALSE with @why when the shapes do not fit. */
static gboolean
gather_nd_dims (gint64 b, guint r, const gint64 *xd, guint q, const gint64 *id, guint *out_rank,
                gint64 *out, char **why)
{
  if (r < 1 || q < 1 || b >= (gint64)MIN (r, q)) {
    *why = g_strdup_printf ("data rank %u, indices rank %u and batch_dims %" G_GINT64_FORMAT
                            " do not fit (both ranks must exceed batch_dims)",
                            r, q, b);
    return FALSE;
  }
  gint64 k = id[q - 1];
  if (k >= 0 && (k < 1 || k > (gint64)r - b)) {
    *why = g_strdup_printf ("the last indices dim (%" G_GINT64_FORMAT
                            ") must be in [1, %" G_GINT64_FORMAT "]",
                            k, (gint64)r - b);
    return FALSE;
  }
  for (gint64 i = 0; i < b; i++)
    if (xd[i] >= 0 && id[i] >= 0 && xd[i] != id[i]) {
      *why = g_strdup_printf ("batch dim %" G_GINT64_FORMAT
                              " differs between data (%" G_GINT64_FORMAT
                              ") and indices (%" G_GINT64_FORMAT ")",
                              i, xd[i], id[i]);
      return FALSE;
    }
  if (k < 0) {
    *out_rank = G_MAXUINT; /* unknown */
    return TRUE;
  }
  guint n = 0;
  for (guint i = 0; i + 1 < q; i++)
    out[n++] = id[i];
  for (guint i = (guint)(b + k); i < r; i++)
    out[n++] = xd[i];
  if (n > GLIA_MAX_RANK) {
    *why = g_strdup ("the result's rank is too large");
    return FALSE;
  }
  *out_rank = n;
  return TRUE;
}

static gboolean
gather_nd_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint r = glia_shape_context_get_input_rank (ctx, 0);
  gint q = glia_shape_context_get_input_rank (ctx, 1);
  gint64 b
      = glia_graph_node_get_attr_int (graph, glia_shape_context_get_node (ctx), "batch_dims", 0);
  gint64 out[2 * GLIA_MAX_RANK];
  guint out_rank;
  g_autofree char *why = NULL;
  if (r < 0 || q < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  if (!gather_nd_dims (b, (guint)r, glia_shape_context_get_input_dims (ctx, 0), (guint)q,
                       glia_shape_context_get_input_dims (ctx, 1), &out_rank, out, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  if (out_rank == G_MAXUINT)
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
  else
    glia_shape_context_set_output (ctx, 0, dtype, (gint)out_rank, out);
  return TRUE;
}

typedef struct
{
  const GliaTensorView *x, *ind;
  gint64 b, k;
  gsize per_batch, batch_stride, slice;
  gint64 strides[GLIA_MAX_RANK];
  guint8 *dst;
  gsize size;
  gboolean strings;
} GatherNDJob;

static void
gather_nd_chunk (gsize begin, gsize end, gpointer user_data)
{
  const GatherNDJob *job = user_data;
  const guint8 *src = job->x->data;
  for (gsize t = begin; t < end; t++) {
    gsize off = (t / job->per_batch) * job->batch_stride;
    for (gint64 c = 0; c < job->k; c++) {
      gint64 v = cpu_index_at (job->ind, t * (gsize)job->k + (gsize)c);
      gint64 dim = job->x->dims[job->b + c];
      off += (gsize)((v < 0 ? v + dim : v) * job->strides[job->b + c]);
    }
    copy_elems (job->dst + t * job->slice * job->size, src + off * job->size, job->slice, job->size,
                job->strings);
  }
}

static gboolean
gather_nd_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GatherNDState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *ind = x ? cpu_require_input (ctx, 1, error) : NULL;
  gint64 out[2 * GLIA_MAX_RANK];
  guint out_rank;
  g_autofree char *why = NULL;
  if (ind == NULL || !cpu_check_dtype (ctx, ind, DTYPES_INDEX, "indices", error))
    return FALSE;
  if (!gather_nd_dims (s->batch_dims, x->rank, x->dims, ind->rank, ind->dims, &out_rank, out,
                       &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  gint64 b = s->batch_dims, k = ind->dims[ind->rank - 1];
  for (gsize i = 0; i < ind->n_elements; i++) {
    gint64 v = cpu_index_at (ind, i), dim = x->dims[b + (gint64)(i % (gsize)k)];
    if (v < -dim || v >= dim) {
      cpu_kernel_error (
          error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
          "index %" G_GINT64_FORMAT " is out of range for a dim of size %" G_GINT64_FORMAT, v, dim);
      return FALSE;
    }
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, out_rank, out, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  GatherNDJob job = { x,
                      ind,
                      b,
                      k,
                      cpu_numel_range (ind->dims, (guint)b, ind->rank - 1),
                      cpu_numel_range (x->dims, (guint)b, x->rank),
                      cpu_numel_range (x->dims, (guint)(b + k), x->rank),
                      { 0 },
                      y->data,
                      glia_data_type_get_size (x->dtype),
                      x->dtype == GLIA_DATA_TYPE_STRING };
  cpu_contiguous_strides (x->rank, x->dims, job.strides);
  gsize n_tuples = cpu_numel_range (ind->dims, 0, ind->rank - 1);
  glia_kernel_context_parallel_for (ctx, n_tuples, MAX (1, CPU_GRAIN / MAX (job.slice, 1)),
                                    gather_nd_chunk, &job);
  return TRUE;
}

/* ======================================================================== */
/* Scatter, ScatterElements, ScatterND                                       */
/* ======================================================================== */

typedef enum
{
  REDUCE_NONE,
  REDUCE_ADD,
  REDUCE_MUL,
  REDUCE_MAX,
  REDUCE_MIN,
} Reduction;

typedef struct
{
  gint64 axis;
  Reduction reduction;
} ScatterState;

static gpointer
scatter_create (const GliaGraph *graph, gint node, GError **error)
{
  ScatterState s = { glia_graph_node_get_attr_int (graph, node, "axis", 0), REDUCE_NONE };
  gint opset = glia_graph_node_get_opset (graph, node);
  const char *r = glia_graph_node_get_attr_string (graph, node, "reduction", "none", NULL);
  if (opset < 16 && glia_graph_node_has_attr (graph, node, "reduction")) {
    cpu_node_error (error, graph, node, "attribute 'reduction' needs opset 16, the model has %d",
                    opset);
    return NULL;
  }
  if (g_str_equal (r, "none"))
    s.reduction = REDUCE_NONE;
  else if (g_str_equal (r, "add"))
    s.reduction = REDUCE_ADD;
  else if (g_str_equal (r, "mul"))
    s.reduction = REDUCE_MUL;
  else if (g_str_equal (r, "max") && opset >= 18)
    s.reduction = REDUCE_MAX;
  else if (g_str_equal (r, "min") && opset >= 18)
    s.reduction = REDUCE_MIN;
  else {
    cpu_node_error (error, graph, node, "attribute 'reduction' has an unknown value '%s'", r);
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
scatter_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  return cpu_infer_same_as_input (ctx, error);
}

#define REDUCE_FLOAT(T, LOAD, STORE)                                                               \
  {                                                                                                \
    float a = LOAD (*(T *)dst), b = LOAD (*(const T *)src);                                        \
    float v = red == REDUCE_ADD   ? a + b                                                          \
              : red == REDUCE_MUL ? a * b                                                          \
              : red == REDUCE_MAX ? MAX (a, b)                                                     \
                                  : MIN (a, b);                                                    \
    *(T *)dst = STORE (v);                                                                         \
  }                                                                                                \
  break

/* Integer add and mul wrap around (through the unsigned type). */
#define REDUCE_NUM(T, U)                                                                           \
  {                                                                                                \
    T a = *(T *)dst, b = *(const T *)src;                                                          \
    *(T *)dst = red == REDUCE_ADD   ? (T)((U)a + (U)b)                                             \
                : red == REDUCE_MUL ? (T)((U)a * (U)b)                                             \
                : red == REDUCE_MAX ? MAX (a, b)                                                   \
                                    : MIN (a, b);                                                  \
  }                                                                                                \
  break

#define REDUCE_REAL(T)                                                                             \
  {                                                                                                \
    T a = *(T *)dst, b = *(const T *)src;                                                          \
    *(T *)dst = red == REDUCE_ADD   ? a + b                                                        \
                : red == REDUCE_MUL ? a * b                                                        \
                : red == REDUCE_MAX ? MAX (a, b)                                                   \
                                    : MIN (a, b);                                                  \
  }                                                                                                \
  break

/* dst = dst (op) src for @n elements of a numeric @dtype. */
static void
reduce_elems (GliaDataType dtype, Reduction red, guint8 *dst, const guint8 *src, gsize n)
{
  gsize size = glia_data_type_get_size (dtype);
  for (gsize i = 0; i < n; i++, dst += size, src += size) {
    switch (dtype) {
    case GLIA_DATA_TYPE_FLOAT:
      REDUCE_REAL (float);
    case GLIA_DATA_TYPE_DOUBLE:
      REDUCE_REAL (double);
    case GLIA_DATA_TYPE_FLOAT16:
      REDUCE_FLOAT (guint16, cpu_half_to_float, cpu_float_to_half);
    case GLIA_DATA_TYPE_BFLOAT16:
      REDUCE_FLOAT (guint16, cpu_bfloat16_to_float, cpu_float_to_bfloat16);
    case GLIA_DATA_TYPE_INT8:
      REDUCE_NUM (gint8, guint8);
    case GLIA_DATA_TYPE_INT16:
      REDUCE_NUM (gint16, guint16);
    case GLIA_DATA_TYPE_INT32:
      REDUCE_NUM (gint32, guint32);
    case GLIA_DATA_TYPE_INT64:
      REDUCE_NUM (gint64, guint64);
    case GLIA_DATA_TYPE_UINT8:
      REDUCE_NUM (guint8, guint8);
    case GLIA_DATA_TYPE_UINT16:
      REDUCE_NUM (guint16, guint16);
    case GLIA_DATA_TYPE_UINT32:
      REDUCE_NUM (guint32, guint32);
    case GLIA_DATA_TYPE_UINT64:
      REDUCE_NUM (guint64, guint64);
    case GLIA_DATA_TYPE_BOOL: {
      gboolean a = *dst != 0, b = *src != 0;
      *dst = (red == REDUCE_ADD || red == REDUCE_MAX) ? (a || b) : (a && b);
      break;
    }
    default:
      g_assert_not_reached ();
    }
  }
}

#undef REDUCE_FLOAT
#undef REDUCE_NUM
#undef REDUCE_REAL

static void
apply_update (GliaDataType dtype, Reduction red, guint8 *dst, const guint8 *src, gsize n,
              gsize size)
{
  if (red == REDUCE_NONE)
    copy_elems (dst, src, n, size, dtype == GLIA_DATA_TYPE_STRING);
  else
    reduce_elems (dtype, red, dst, src, n);
}

/* The output of a scatter: a copy of the data, checked for the reduction. */
static GliaTensorView *
scatter_output (GliaKernelContext *ctx, const GliaTensorView *x, Reduction red, GError **error)
{
  if (red != REDUCE_NONE && !cpu_check_dtype (ctx, x, CPU_DTYPES_NUMERIC, "data", error))
    return NULL;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y)
    copy_elems (y->data, x->data, x->n_elements, glia_data_type_get_size (x->dtype),
                x->dtype == GLIA_DATA_TYPE_STRING);
  return y;
}

static gboolean
scatter_elements_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ScatterState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *ind = x ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *upd = ind ? cpu_require_input (ctx, 2, error) : NULL;
  guint axis;
  if (upd == NULL || !cpu_check_dtype (ctx, ind, DTYPES_INDEX, "indices", error))
    return FALSE;
  if (x->rank == 0 || !cpu_normalize_axis (s->axis, x->rank, &axis)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for rank %u", s->axis, x->rank);
    return FALSE;
  }
  gboolean same = upd->dtype == x->dtype && upd->rank == ind->rank;
  for (guint d = 0; same && d < ind->rank; d++)
    same = upd->dims[d] == ind->dims[d];
  if (!same) {
    g_autofree char *di = cpu_dims_to_string (ind->rank, ind->dims);
    g_autofree char *du = cpu_dims_to_string (upd->rank, upd->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "updates (%s %s) must have the data's type and the shape of indices %s",
                      glia_data_type_get_name (upd->dtype), du, di);
    return FALSE;
  }
  if (!check_element_indices (ctx, x, ind, axis, error))
    return FALSE;
  GliaTensorView *y = scatter_output (ctx, x, s->reduction, error);
  if (y == NULL)
    return FALSE;
  gsize size = glia_data_type_get_size (x->dtype);
  gint64 strides[GLIA_MAX_RANK], idx[GLIA_MAX_RANK] = { 0 };
  cpu_contiguous_strides (x->rank, x->dims, strides);
  for (gsize k = 0; k < ind->n_elements; k++) {
    gsize off
        = element_offset (ind->rank, idx, strides, axis, cpu_index_at (ind, k), x->dims[axis]);
    apply_update (x->dtype, s->reduction, (guint8 *)y->data + off * size,
                  (const guint8 *)upd->data + k * size, 1, size);
    next_index (ind->rank, ind->dims, idx);
  }
  return TRUE;
}

static gboolean
scatter_nd_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ScatterState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *ind = x ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *upd = ind ? cpu_require_input (ctx, 2, error) : NULL;
  if (upd == NULL || !cpu_check_dtype (ctx, ind, DTYPES_INDEX, "indices", error))
    return FALSE;
  gint64 k = ind->rank ? ind->dims[ind->rank - 1] : -1;
  gboolean ok = x->rank >= 1 && ind->rank >= 1 && k >= 1 && k <= (gint64)x->rank
                && upd->dtype == x->dtype && upd->rank == ind->rank - 1 + x->rank - (guint)k;
  for (guint d = 0; ok && d + 1 < ind->rank; d++)
    ok = upd->dims[d] == ind->dims[d];
  for (guint d = (guint)MAX (k, 0); ok && d < x->rank; d++)
    ok = upd->dims[ind->rank - 1 + d - (guint)k] == x->dims[d];
  if (!ok) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    g_autofree char *di = cpu_dims_to_string (ind->rank, ind->dims);
    g_autofree char *du = cpu_dims_to_string (upd->rank, upd->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "data %s, indices %s and updates %s (%s) do not fit: updates must be "
                      "indices.shape[:-1] + data.shape[indices.shape[-1]:] of the data's type",
                      dx, di, du, glia_data_type_get_name (upd->dtype));
    return FALSE;
  }
  for (gsize i = 0; i < ind->n_elements; i++) {
    gint64 v = cpu_index_at (ind, i), dim = x->dims[i % (gsize)k];
    if (v < -dim || v >= dim) {
      cpu_kernel_error (
          error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
          "index %" G_GINT64_FORMAT " is out of range for a dim of size %" G_GINT64_FORMAT, v, dim);
      return FALSE;
    }
  }
  GliaTensorView *y = scatter_output (ctx, x, s->reduction, error);
  if (y == NULL)
    return FALSE;
  gsize size = glia_data_type_get_size (x->dtype);
  gsize slice = cpu_numel_range (x->dims, (guint)k, x->rank);
  gsize n_tuples = cpu_numel_range (ind->dims, 0, ind->rank - 1);
  gint64 strides[GLIA_MAX_RANK];
  cpu_contiguous_strides (x->rank, x->dims, strides);
  for (gsize t = 0; t < n_tuples; t++) {
    gsize off = 0;
    for (gint64 c = 0; c < k; c++) {
      gint64 v = cpu_index_at (ind, t * (gsize)k + (gsize)c);
      off += (gsize)((v < 0 ? v + x->dims[c] : v) * strides[c]);
    }
    apply_update (x->dtype, s->reduction, (guint8 *)y->data + off * size,
                  (const guint8 *)upd->data + t * slice * size, slice, size);
  }
  return TRUE;
}

/* ======================================================================== */
/* Compress                                                                  */
/* ======================================================================== */

typedef struct
{
  gboolean has_axis;
  gint64 axis;
} CompressState;

static gpointer
compress_create (const GliaGraph *graph, gint node, GError **error)
{
  CompressState s = { glia_graph_node_has_attr (graph, node, "axis"),
                      glia_graph_node_get_attr_int (graph, node, "axis", 0) };
  return g_memdup2 (&s, sizeof s);
}

static gboolean
compress_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  g_autofree CompressState *s = compress_create (glia_shape_context_get_graph (ctx),
                                                 glia_shape_context_get_node (ctx), error);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 dims[GLIA_MAX_RANK] = { -1 };
  guint axis;
  if (!s->has_axis) {
    glia_shape_context_set_output (ctx, 0, dtype, 1, dims);
    return TRUE;
  }
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  if (!cpu_normalize_axis (s->axis, (guint)rank, &axis)) {
    cpu_shape_error (error, ctx,
                     "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d", s->axis,
                     rank);
    return FALSE;
  }
  memcpy (dims, glia_shape_context_get_input_dims (ctx, 0), (gsize)rank * sizeof (gint64));
  dims[axis] = -1;
  glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
  return TRUE;
}

static gboolean
compress_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const CompressState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *cond = x ? cpu_require_input (ctx, 1, error) : NULL;
  guint axis = 0;
  if (cond == NULL)
    return FALSE;
  if (cond->dtype != GLIA_DATA_TYPE_BOOL || cond->rank != 1) {
    g_autofree char *d = cpu_dims_to_string (cond->rank, cond->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "condition must be a 1-D bool tensor, got %s %s",
                      glia_data_type_get_name (cond->dtype), d);
    return FALSE;
  }
  if (s->has_axis && !cpu_normalize_axis (s->axis, x->rank, &axis)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for rank %u", s->axis, x->rank);
    return FALSE;
  }
  gint64 dim = s->has_axis ? x->dims[axis] : (gint64)x->n_elements;
  const guint8 *c = cond->data;
  gint64 count = 0;
  for (gsize i = 0; i < cond->n_elements; i++) {
    if (!c[i])
      continue;
    if ((gint64)i >= dim) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "condition selects index %" G_GSIZE_FORMAT " beyond the %" G_GINT64_FORMAT
                        " slices there are",
                        i, dim);
      return FALSE;
    }
    count++;
  }
  gint64 dims[GLIA_MAX_RANK];
  guint rank = 1;
  gsize outer = 1, inner = 1;
  if (s->has_axis) {
    rank = x->rank;
    memcpy (dims, x->dims, rank * sizeof (gint64));
    dims[axis] = count;
    outer = cpu_numel_range (x->dims, 0, axis);
    inner = cpu_numel_range (x->dims, axis + 1, x->rank);
  } else
    dims[0] = count;
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, rank, dims, error);
  if (y == NULL)
    return FALSE;
  gsize size = glia_data_type_get_size (x->dtype);
  gboolean strings = x->dtype == GLIA_DATA_TYPE_STRING;
  guint8 *dst = y->data;
  gsize n = MIN (cond->n_elements, (gsize)dim);
  for (gsize o = 0; o < outer; o++)
    for (gsize i = 0; i < n; i++)
      if (c[i]) {
        copy_elems (dst, (const guint8 *)x->data + (o * (gsize)dim + i) * inner * size, inner, size,
                    strings);
        dst += inner * size;
      }
  return TRUE;
}

/* ======================================================================== */
/* NonZero                                                                   */
/* ======================================================================== */

static gboolean
non_zero_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 dims[2] = { rank < 0 ? -1 : MAX (rank, 1), -1 };
  glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_INT64, 2, dims);
  return TRUE;
}

/* Sets @mask[i] to whether element i is not zero (-0.0 is zero, NaN is not). */
static void
non_zero_mask (const GliaTensorView *x, guint8 *mask)
{
  gsize n = x->n_elements;
  switch (x->dtype) {
#define MASK(T, TEST)                                                                              \
  for (gsize i = 0; i < n; i++) {                                                                  \
    T v = ((const T *)x->data)[i];                                                                 \
    mask[i] = TEST;                                                                                \
  }                                                                                                \
  break
  case GLIA_DATA_TYPE_FLOAT:
    MASK (float, v != 0.0f);
  case GLIA_DATA_TYPE_DOUBLE:
    MASK (double, v != 0.0);
  case GLIA_DATA_TYPE_FLOAT16:
  case GLIA_DATA_TYPE_BFLOAT16:
    MASK (guint16, (v & 0x7fff) != 0);
  case GLIA_DATA_TYPE_COMPLEX64:
    for (gsize i = 0; i < n; i++)
      mask[i] = ((const float *)x->data)[2 * i] != 0 || ((const float *)x->data)[2 * i + 1] != 0;
    break;
  case GLIA_DATA_TYPE_COMPLEX128:
    for (gsize i = 0; i < n; i++)
      mask[i] = ((const double *)x->data)[2 * i] != 0 || ((const double *)x->data)[2 * i + 1] != 0;
    break;
  case GLIA_DATA_TYPE_STRING:
    for (gsize i = 0; i < n; i++) {
      const char *v = ((char *const *)x->data)[i];
      mask[i] = v != NULL && *v != '\0';
    }
    break;
  case GLIA_DATA_TYPE_INT8:
  case GLIA_DATA_TYPE_UINT8:
  case GLIA_DATA_TYPE_BOOL:
    MASK (guint8, v != 0);
  case GLIA_DATA_TYPE_INT16:
  case GLIA_DATA_TYPE_UINT16:
    MASK (guint16, v != 0);
  case GLIA_DATA_TYPE_INT32:
  case GLIA_DATA_TYPE_UINT32:
    MASK (guint32, v != 0);
  default:
    MASK (guint64, v != 0);
#undef MASK
  }
}

static gboolean
non_zero_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !cpu_check_dtype (ctx, x, GLIA_DTYPES_ALL, "input", error))
    return FALSE;
  g_autofree guint8 *mask = g_malloc (MAX (x->n_elements, 1));
  non_zero_mask (x, mask);
  gsize count = 0;
  for (gsize i = 0; i < x->n_elements; i++)
    count += mask[i];
  /* A scalar reads as a 1-D tensor of one element, as numpy has it. */
  guint rank = MAX (x->rank, 1);
  gint64 one = 1;
  const gint64 *in_dims = x->rank ? x->dims : &one;
  gint64 dims[2] = { rank, (gint64)count };
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_INT64, 2, dims, error);
  if (y == NULL)
    return FALSE;
  gint64 *out = y->data, idx[GLIA_MAX_RANK] = { 0 };
  gsize k = 0;
  for (gsize i = 0; i < x->n_elements; i++) {
    if (mask[i]) {
      for (guint d = 0; d < rank; d++)
        out[d * count + k] = idx[d];
      k++;
    }
    next_index (rank, in_dims, idx);
  }
  return TRUE;
}

/* ======================================================================== */
/* Unique                                                                    */
/* ======================================================================== */

typedef struct
{
  gboolean sorted;
  gboolean has_axis;
  gint64 axis;
} UniqueState;

static gpointer
unique_create (const GliaGraph *graph, gint node, GError **error)
{
  UniqueState s = { glia_graph_node_get_attr_int (graph, node, "sorted", 1) != 0,
                    glia_graph_node_has_attr (graph, node, "axis"),
                    glia_graph_node_get_attr_int (graph, node, "axis", 0) };
  return g_memdup2 (&s, sizeof s);
}

static gboolean
unique_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  g_autofree UniqueState *s = unique_create (glia_shape_context_get_graph (ctx),
                                             glia_shape_context_get_node (ctx), error);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  const gint64 *in = rank >= 0 ? glia_shape_context_get_input_dims (ctx, 0) : NULL;
  gint64 dims[GLIA_MAX_RANK] = { -1 }, n_in = -1;
  guint axis = 0;
  if (s->has_axis && rank >= 0 && !cpu_normalize_axis (s->axis, (guint)rank, &axis)) {
    cpu_shape_error (error, ctx,
                     "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d", s->axis,
                     rank);
    return FALSE;
  }
  if (!s->has_axis) {
    glia_shape_context_set_output (ctx, 0, dtype, 1, dims);
    if (in) {
      gboolean known = TRUE;
      for (gint i = 0; i < rank; i++)
        known = known && in[i] >= 0;
      n_in = known ? (gint64)cpu_numel ((guint)rank, in) : -1;
    }
  } else if (rank < 0)
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
  else {
    memcpy (dims, in, (gsize)rank * sizeof (gint64));
    n_in = dims[axis];
    dims[axis] = -1;
    glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
  }
  gint64 unknown = -1;
  for (guint o = 1; o < glia_shape_context_get_n_outputs (ctx); o++)
    glia_shape_context_set_output (ctx, o, GLIA_DATA_TYPE_INT64, 1, o == 2 ? &n_in : &unknown);
  return TRUE;
}

/* Slices along the axis, compared element by element in row-major order of
 * the other dims. */
typedef struct
{
  GliaDataType dtype;
  const guint8 *data;
  gsize size, outer, n, inner;
} UniqueSlices;

static int
compare_doubles (double a, double b)
{
  /* NaNs are equal to each other and above everything else, as numpy sorts. */
  gboolean na = isnan (a), nb = isnan (b);
  if (na || nb)
    return na - nb;
  return a < b ? -1 : a > b;
}

static int
compare_elems (GliaDataType dtype, const guint8 *a, const guint8 *b)
{
  switch (dtype) {
#define CMP(T)                                                                                     \
  {                                                                                                \
    T x = *(const T *)a, y = *(const T *)b;                                                        \
    return x < y ? -1 : x > y;                                                                     \
  }
  case GLIA_DATA_TYPE_FLOAT:
    return compare_doubles (*(const float *)a, *(const float *)b);
  case GLIA_DATA_TYPE_DOUBLE:
    return compare_doubles (*(const double *)a, *(const double *)b);
  case GLIA_DATA_TYPE_FLOAT16:
    return compare_doubles (cpu_half_to_float (*(const guint16 *)a),
                            cpu_half_to_float (*(const guint16 *)b));
  case GLIA_DATA_TYPE_BFLOAT16:
    return compare_doubles (cpu_bfloat16_to_float (*(const guint16 *)a),
                            cpu_bfloat16_to_float (*(const guint16 *)b));
  case GLIA_DATA_TYPE_COMPLEX64:
    for (guint i = 0; i < 2; i++) {
      int c = compare_doubles (((const float *)a)[i], ((const float *)b)[i]);
      if (c)
        return c;
    }
    return 0;
  case GLIA_DATA_TYPE_COMPLEX128:
    for (guint i = 0; i < 2; i++) {
      int c = compare_doubles (((const double *)a)[i], ((const double *)b)[i]);
      if (c)
        return c;
    }
    return 0;
  case GLIA_DATA_TYPE_STRING: {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int c = strcmp (x ? x : "", y ? y : "");
    return (c > 0) - (c < 0);
  }
  case GLIA_DATA_TYPE_INT8:
    CMP (gint8);
  case GLIA_DATA_TYPE_INT16:
    CMP (gint16);
  case GLIA_DATA_TYPE_INT32:
    CMP (gint32);
  case GLIA_DATA_TYPE_INT64:
    CMP (gint64);
  case GLIA_DATA_TYPE_UINT8:
  case GLIA_DATA_TYPE_BOOL:
    CMP (guint8);
  case GLIA_DATA_TYPE_UINT16:
    CMP (guint16);
  case GLIA_DATA_TYPE_UINT32:
    CMP (guint32);
  default:
    CMP (guint64);
#undef CMP
  }
}

static int
compare_slices (const UniqueSlices *u, gsize a, gsize b)
{
  for (gsize o = 0; o < u->outer; o++) {
    const guint8 *pa = u->data + ((o * u->n + a) * u->inner) * u->size;
    const guint8 *pb = u->data + ((o * u->n + b) * u->inner) * u->size;
    for (gsize i = 0; i < u->inner; i++) {
      int c = compare_elems (u->dtype, pa + i * u->size, pb + i * u->size);
      if (c)
        return c;
    }
  }
  return 0;
}

/* Stable merge sort of slice numbers by value. */
static void
sort_slices (const UniqueSlices *u, gsize *v, gsize *tmp, gsize n)
{
  for (gsize width = 1; width < n; width *= 2) {
    for (gsize lo = 0; lo < n; lo += 2 * width) {
      gsize mid = MIN (lo + width, n), hi = MIN (lo + 2 * width, n);
      gsize i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        tmp[k++] = compare_slices (u, v[j], v[i]) < 0 ? v[j++] : v[i++];
      while (i < mid)
        tmp[k++] = v[i++];
      while (j < hi)
        tmp[k++] = v[j++];
    }
    memcpy (v, tmp, n * sizeof (gsize));
  }
}

static gboolean
unique_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const UniqueState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  guint axis = 0;
  if (x == NULL || !cpu_check_dtype (ctx, x, GLIA_DTYPES_ALL, "input", error))
    return FALSE;
  if (s->has_axis && !cpu_normalize_axis (s->axis, x->rank, &axis)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for rank %u", s->axis, x->rank);
    return FALSE;
  }
  UniqueSlices u = { x->dtype, x->data, glia_data_type_get_size (x->dtype), 1, x->n_elements, 1 };
  if (s->has_axis) {
    u.outer = cpu_numel_range (x->dims, 0, axis);
    u.n = (gsize)x->dims[axis];
    u.inner = cpu_numel_range (x->dims, axis + 1, x->rank);
    if (u.outer * u.inner == 0)
      u.outer = u.inner = 0; /* empty slices are all equal */
  }
  gsize n = u.n;
  g_autofree gsize *order = g_new (gsize, MAX (n, 1));
  g_autofree gsize *tmp = g_new (gsize, MAX (n, 1));
  g_autofree gsize *group_of = g_new (gsize, MAX (n, 1));
  g_autofree gsize *first = g_new (gsize, MAX (n, 1));
  g_autofree gint64 *count = g_new0 (gint64, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    order[i] = i;
  sort_slices (&u, order, tmp, n);

  /* Groups of equal slices in sorted order; a stable sort puts each
   * group's first occurrence first. */
  gsize n_unique = 0;
  for (gsize i = 0; i < n; i++) {
    if (i == 0 || compare_slices (&u, order[i - 1], order[i]) != 0)
      first[n_unique++] = order[i];
    group_of[order[i]] = n_unique - 1;
    count[n_unique - 1]++;
  }
  /* Output position of each group: sorted by value, or by first occurrence. */
  g_autofree gsize *pos = g_new (gsize, MAX (n_unique, 1));
  g_autofree gsize *group_at = g_new (gsize, MAX (n_unique, 1));
  if (s->sorted)
    for (gsize g = 0; g < n_unique; g++)
      pos[g] = g;
  else {
    gsize next = 0;
    for (gsize i = 0; i < n; i++)
      if (first[group_of[i]] == i)
        pos[group_of[i]] = next++;
  }
  for (gsize g = 0; g < n_unique; g++)
    group_at[pos[g]] = g;

  gint64 dims[GLIA_MAX_RANK];
  guint rank = 1;
  if (s->has_axis) {
    rank = x->rank;
    memcpy (dims, x->dims, rank * sizeof (gint64));
    dims[axis] = (gint64)n_unique;
  } else
    dims[0] = (gint64)n_unique;
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, rank, dims, error);
  if (y == NULL)
    return FALSE;
  gboolean strings = x->dtype == GLIA_DATA_TYPE_STRING;
  for (gsize o = 0; o < u.outer; o++)
    for (gsize p = 0; p < n_unique; p++)
      copy_elems ((guint8 *)y->data + ((o * n_unique + p) * u.inner) * u.size,
                  u.data + ((o * n + first[group_at[p]]) * u.inner) * u.size, u.inner, u.size,
                  strings);

  gint64 len[3] = { (gint64)n_unique, (gint64)n, (gint64)n_unique };
  GliaTensorView *out[3] = { NULL };
  for (guint o = 0; o < 3; o++)
    if (cpu_kernel_has_output (ctx, o + 1)
        && (out[o] = glia_kernel_context_allocate_output (ctx, o + 1, GLIA_DATA_TYPE_INT64, 1,
                                                          &len[o], error))
               == NULL)
      return FALSE;
  for (gsize p = 0; p < n_unique; p++) {
    if (out[0])
      ((gint64 *)out[0]->data)[p] = (gint64)first[group_at[p]];
    if (out[2])
      ((gint64 *)out[2]->data)[p] = count[group_at[p]];
  }
  if (out[1])
    for (gsize i = 0; i < n; i++)
      ((gint64 *)out[1]->data)[i] = (gint64)pos[group_of[i]];
  return TRUE;
}

/* ======================================================================== */
/* OneHot                                                                    */
/* ======================================================================== */

static gpointer
one_hot_create (const GliaGraph *graph, gint node, GError **error)
{
  AxisState s = { glia_graph_node_get_attr_int (graph, node, "axis", -1) };
  return g_memdup2 (&s, sizeof s);
}

static gboolean
one_hot_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint64 axis_attr
      = glia_graph_node_get_attr_int (graph, glia_shape_context_get_node (ctx), "axis", -1);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 2);
  gint q = glia_shape_context_get_input_rank (ctx, 0);
  guint axis;
  double depth;
  if (q < 0 || q + 1 > GLIA_MAX_RANK) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  if (!cpu_normalize_axis (axis_attr, (guint)q + 1, &axis)) {
    cpu_shape_error (error, ctx,
                     "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d",
                     axis_attr, q + 1);
    return FALSE;
  }
  const gint64 *in = glia_shape_context_get_input_dims (ctx, 0);
  gint64 dims[GLIA_MAX_RANK];
  for (guint i = 0, j = 0; i < (guint)q + 1; i++)
    dims[i] = i == axis ? -1 : in[j++];
  if (shape_context_get_scalar (ctx, 1, &depth) && depth >= 1)
    dims[axis] = (gint64)depth;
  glia_shape_context_set_output (ctx, 0, dtype, q + 1, dims);
  return TRUE;
}

static gboolean
one_hot_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const AxisState *s = state;
  const GliaTensorView *ind = cpu_require_input (ctx, 0, error);
  const GliaTensorView *dv = ind ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *values = dv ? cpu_require_input (ctx, 2, error) : NULL;
  double depth_value;
  guint axis;
  if (values == NULL || !cpu_check_dtype (ctx, ind, CPU_DTYPES_NUMERIC, "indices", error)
      || !read_scalar (ctx, dv, "depth", &depth_value, error))
    return FALSE;
  if (!(depth_value >= 1 && depth_value < (double)G_MAXINT32)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "depth %g is out of range",
                      depth_value);
    return FALSE;
  }
  if (values->n_elements != 2 || values->rank != 1) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "values must hold two elements (off, on)");
    return FALSE;
  }
  if (ind->rank + 1 > GLIA_MAX_RANK || !cpu_normalize_axis (s->axis, ind->rank + 1, &axis)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for rank %u", s->axis,
                      ind->rank + 1);
    return FALSE;
  }
  gint64 depth = (gint64)depth_value;
  gint64 dims[GLIA_MAX_RANK];
  for (guint i = 0, j = 0; i < ind->rank + 1; i++)
    dims[i] = i == axis ? depth : ind->dims[j++];
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, values->dtype, ind->rank + 1, dims, error);
  if (y == NULL)
    return FALSE;
  gsize size = glia_data_type_get_size (values->dtype);
  gboolean strings = values->dtype == GLIA_DATA_TYPE_STRING;
  const guint8 *off = values->data, *on = off + size;
  gsize inner = cpu_numel_range (ind->dims, axis, ind->rank);
  double v[256];
  fill_elems (y->data, off, y->n_elements, size, strings);
  for (gsize base = 0; base < ind->n_elements; base += G_N_ELEMENTS (v)) {
    gsize m = MIN (G_N_ELEMENTS (v), ind->n_elements - base);
    cpu_load_doubles (
        ind->dtype, (const guint8 *)ind->data + base * glia_data_type_get_size (ind->dtype), v, m);
    for (gsize i = 0; i < m; i++) {
      gint64 k = isfinite (v[i]) ? (gint64)v[i] : -depth - 1;
      if (k < 0)
        k += depth;
      if (k < 0 || k >= depth)
        continue;
      gsize o = (base + i) / inner, r = (base + i) % inner;
      copy_elems ((guint8 *)y->data + ((o * (gsize)depth + (gsize)k) * inner + r) * size, on, 1,
                  size, strings);
    }
  }
  return TRUE;
}

/* ======================================================================== */
/* Trilu                                                                     */
/* ======================================================================== */

typedef struct
{
  gboolean upper;
} TriluState;

static gpointer
trilu_create (const GliaGraph *graph, gint node, GError **error)
{
  TriluState s = { glia_graph_node_get_attr_int (graph, node, "upper", 1) != 0 };
  return g_memdup2 (&s, sizeof s);
}

typedef struct
{
  const guint8 *src;
  guint8 *dst;
  gint64 rows, cols, k;
  gboolean upper, strings;
  gsize size;
} TriluJob;

static void
trilu_chunk (gsize begin, gsize end, gpointer user_data)
{
  const TriluJob *job = user_data;
  gsize row_bytes = (gsize)job->cols * job->size;
  for (gsize r = begin; r < end; r++) {
    gint64 i = (gint64)(r % (gsize)job->rows);
    /* Keep columns j with j - i >= k (upper) or j - i <= k (lower). */
    gint64 split = job->upper ? i + job->k : i + job->k + 1;
    split = CLAMP (split, 0, job->cols);
    const guint8 *s = job->src + r * row_bytes;
    guint8 *d = job->dst + r * row_bytes;
    gsize at = (gsize)split * job->size, rest = (gsize)(job->cols - split);
    if (job->upper) {
      fill_elems (d, NULL, (gsize)split, job->size, job->strings);
      copy_elems (d + at, s + at, rest, job->size, job->strings);
    } else {
      copy_elems (d, s, (gsize)split, job->size, job->strings);
      fill_elems (d + at, NULL, rest, job->size, job->strings);
    }
  }
}

static gboolean
trilu_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const TriluState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *kv
      = glia_kernel_context_get_n_inputs (ctx) > 1 ? glia_kernel_context_get_input (ctx, 1) : NULL;
  gint64 k = 0;
  gsize n;
  if (x == NULL || (kv && !cpu_read_ints_input (ctx, kv, "k", &k, 1, &n, error)))
    return FALSE;
  if (x->rank < 2) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "input must have rank 2 or more");
    return FALSE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  TriluJob job = { x->data,
                   y->data,
                   x->dims[x->rank - 2],
                   x->dims[x->rank - 1],
                   CLAMP (k, -G_MAXINT32, G_MAXINT32),
                   s->upper,
                   x->dtype == GLIA_DATA_TYPE_STRING,
                   glia_data_type_get_size (x->dtype) };
  gsize rows = cpu_numel_range (x->dims, 0, x->rank - 1);
  if (rows && job.cols)
    glia_kernel_context_parallel_for (ctx, rows, MAX (1, CPU_GRAIN / (gsize)job.cols), trilu_chunk,
                                      &job);
  return TRUE;
}

/* ======================================================================== */
/* EyeLike                                                                   */
/* ======================================================================== */

typedef struct
{
  GliaDataType dtype; /* UNDEFINED: the input's */
  gint64 k;
} EyeLikeState;

static gpointer
eye_like_create (const GliaGraph *graph, gint node, GError **error)
{
  EyeLikeState s = { GLIA_DATA_TYPE_UNDEFINED, glia_graph_node_get_attr_int (graph, node, "k", 0) };
  if (glia_graph_node_has_attr (graph, node, "dtype")) {
    gint64 t = glia_graph_node_get_attr_int (graph, node, "dtype", 0);
    if (t <= 0 || t > GLIA_DATA_TYPE_LAST || !cpu_dtype_in ((GliaDataType)t, CPU_DTYPES_NUMERIC)) {
      cpu_node_error (error, graph, node,
                      "attribute 'dtype' = %" G_GINT64_FORMAT " is not a numeric element type", t);
      return NULL;
    }
    s.dtype = (GliaDataType)t;
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
eye_like_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  g_autofree EyeLikeState *s = eye_like_create (glia_shape_context_get_graph (ctx),
                                                glia_shape_context_get_node (ctx), error);
  if (s == NULL)
    return FALSE;
  cpu_infer_like_input (ctx, 0, 0,
                        s->dtype ? s->dtype : glia_shape_context_get_input_dtype (ctx, 0));
  return TRUE;
}

static gboolean
eye_like_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const EyeLikeState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL)
    return FALSE;
  GliaDataType dtype = s->dtype ? s->dtype : x->dtype;
  if (!cpu_dtype_in (dtype, CPU_DTYPES_NUMERIC) || x->rank != 2) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "needs a 2-D input and a numeric output type, got %s and %s", d,
                      glia_data_type_get_name (dtype));
    return FALSE;
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, dtype, 2, x->dims, error);
  if (y == NULL)
    return FALSE;
  gsize size = glia_data_type_get_size (dtype);
  guint8 one[8];
  const double one_value = 1.0;
  cpu_store_doubles (dtype, &one_value, one, 1);
  memset (y->data, 0, y->n_bytes);
  for (gint64 i = 0; i < x->dims[0]; i++) {
    gint64 j = i + s->k;
    if (j >= 0 && j < x->dims[1])
      memcpy ((guint8 *)y->data + (gsize)(i * x->dims[1] + j) * size, one, size);
  }
  return TRUE;
}

/* ======================================================================== */
/* Range                                                                     */
/* ======================================================================== */

#define DTYPES_RANGE                                                                               \
  (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_DOUBLE)                  \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT16) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32)                 \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64))

/* Number of elements, or -1 when delta is 0 or the count is absurd. */
static gint64
range_count (GliaDataType dtype, double start, double limit, double delta)
{
  if (delta == 0 || !isfinite (start) || !isfinite (limit) || !isfinite (delta))
    return -1;
  double n;
  if (cpu_dtype_in (dtype, GLIA_DTYPES_FLOATS))
    n = ceil ((limit - start) / delta);
  else {
    /* Exact for the integer types whose values a double holds. */
    double diff = limit - start;
    n = floor (diff / delta);
    if (n * delta != diff)
      n += 1;
  }
  if (n <= 0)
    return 0;
  return n > (double)G_MAXINT32 * 64 ? -1 : (gint64)n;
}

static gboolean
range_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  double v[3];
  gint64 n = -1;
  if (shape_context_get_scalar (ctx, 0, &v[0]) && shape_context_get_scalar (ctx, 1, &v[1])
      && shape_context_get_scalar (ctx, 2, &v[2]))
    n = range_count (dtype, v[0], v[1], v[2]);
  glia_shape_context_set_output (ctx, 0, dtype, 1, &n);
  return TRUE;
}

static gboolean
range_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *in[3];
  double v[3];
  static const char *const names[] = { "start", "limit", "delta" };
  for (guint i = 0; i < 3; i++) {
    if ((in[i] = cpu_require_input (ctx, i, error)) == NULL
        || !cpu_check_dtype (ctx, in[i], DTYPES_RANGE, names[i], error)
        || !read_scalar (ctx, in[i], names[i], &v[i], error))
      return FALSE;
    if (in[i]->dtype != in[0]->dtype) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "start, limit and delta must have one type");
      return FALSE;
    }
  }
  GliaDataType dtype = in[0]->dtype;
  gint64 n = range_count (dtype, v[0], v[1], v[2]);
  if (n < 0) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "cannot make a range from %g to %g by %g", v[0], v[1], v[2]);
    return FALSE;
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, dtype, 1, &n, error);
  if (y == NULL)
    return FALSE;
  switch (dtype) {
#define FILL_RANGE(ENUM, T)                                                                        \
  case ENUM: {                                                                                     \
    T start = *(const T *)in[0]->data, delta = *(const T *)in[2]->data;                            \
    for (gint64 i = 0; i < n; i++)                                                                 \
      ((T *)y->data)[i] = (T)(start + (T)i * delta);                                               \
    break;                                                                                         \
  }
    FILL_RANGE (GLIA_DATA_TYPE_FLOAT, float);
    FILL_RANGE (GLIA_DATA_TYPE_DOUBLE, double);
    FILL_RANGE (GLIA_DATA_TYPE_INT16, gint16);
    FILL_RANGE (GLIA_DATA_TYPE_INT32, gint32);
    FILL_RANGE (GLIA_DATA_TYPE_INT64, gint64);
#undef FILL_RANGE
  default:
    g_assert_not_reached ();
  }
  return TRUE;
}

/* ======================================================================== */
/* Tile                                                                      */
/* ======================================================================== */

static gboolean
tile_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 reps[GLIA_MAX_RANK], dims[GLIA_MAX_RANK];
  gsize n;
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  const gint64 *in = glia_shape_context_get_input_dims (ctx, 0);
  if (!cpu_shape_context_get_ints (ctx, 1, reps, GLIA_MAX_RANK, &n)) {
    set_unknown_dims (dims, (guint)rank);
    glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
    return TRUE;
  }
  if (n != (gsize)rank) {
    cpu_shape_error (error, ctx, "repeats has %" G_GSIZE_FORMAT " values for an input of rank %d",
                     n, rank);
    return FALSE;
  }
  for (gint i = 0; i < rank; i++) {
    if (reps[i] < 0) {
      cpu_shape_error (error, ctx, "repeats[%d] = %" G_GINT64_FORMAT " is negative", i, reps[i]);
      return FALSE;
    }
    dims[i] = in[i] < 0 ? -1 : in[i] * reps[i];
  }
  glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
  return TRUE;
}

typedef struct
{
  const GliaTensorView *x;
  guint8 *dst;
  guint rank;
  gint64 out[GLIA_MAX_RANK];
  gint64 in_strides[GLIA_MAX_RANK];
  gsize size;
  gboolean strings;
} TileJob;

static void
tile_chunk (gsize begin, gsize end, gpointer user_data)
{
  const TileJob *job = user_data;
  const GliaTensorView *x = job->x;
  guint last = job->rank - 1;
  gsize in_row = (gsize)x->dims[last], out_row = (gsize)job->out[last];
  gint64 idx[GLIA_MAX_RANK];
  unravel (begin, last, job->out, idx);
  for (gsize r = begin; r < end; r++) {
    gsize off = 0;
    for (guint d = 0; d < last; d++)
      off += (gsize)((idx[d] % x->dims[d]) * job->in_strides[d]);
    const guint8 *src = (const guint8 *)x->data + off * job->size;
    guint8 *dst = job->dst + r * out_row * job->size;
    for (gsize c = 0; c < out_row; c += in_row)
      copy_elems (dst + c * job->size, src, in_row, job->size, job->strings);
    next_index (last, job->out, idx);
  }
}

static gboolean
tile_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *rv = x ? cpu_require_input (ctx, 1, error) : NULL;
  TileJob job = { 0 };
  gint64 reps[GLIA_MAX_RANK];
  gsize n;
  if (rv == NULL || !cpu_read_ints_input (ctx, rv, "repeats", reps, GLIA_MAX_RANK, &n, error))
    return FALSE;
  if (n != x->rank) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "repeats has %" G_GSIZE_FORMAT " values for an input of rank %u", n, x->rank);
    return FALSE;
  }
  for (guint i = 0; i < x->rank; i++) {
    if (reps[i] < 0) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "repeats[%u] = %" G_GINT64_FORMAT " is negative", i, reps[i]);
      return FALSE;
    }
    job.out[i] = x->dims[i] * reps[i];
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, job.out, error);
  if (y == NULL)
    return FALSE;
  job.size = glia_data_type_get_size (x->dtype);
  job.strings = x->dtype == GLIA_DATA_TYPE_STRING;
  if (x->rank == 0) {
    copy_elems (y->data, x->data, 1, job.size, job.strings);
    return TRUE;
  }
  if (y->n_elements == 0)
    return TRUE;
  job.x = x;
  job.dst = y->data;
  job.rank = x->rank;
  cpu_contiguous_strides (x->rank, x->dims, job.in_strides);
  gsize rows = cpu_numel_range (job.out, 0, x->rank - 1);
  glia_kernel_context_parallel_for (ctx, rows, MAX (1, CPU_GRAIN / (gsize)job.out[x->rank - 1]),
                                    tile_chunk, &job);
  return TRUE;
}

/* ======================================================================== */
/* Pad                                                                       */
/* ======================================================================== */

typedef enum
{
  PAD_CONSTANT,
  PAD_REFLECT,
  PAD_EDGE,
  PAD_WRAP,
} PadMode;

typedef struct
{
  PadMode mode;
  gboolean from_inputs; /* opset 11+ */
  guint n_pads;         /* attribute form */
  gint64 pads[2 * GLIA_MAX_RANK];
  double value;
} PadState;

static gpointer
pad_create (const GliaGraph *graph, gint node, GError **error)
{
  PadState s = { 0 };
  gint opset = glia_graph_node_get_opset (graph, node);
  const char *mode = glia_graph_node_get_attr_string (graph, node, "mode", "constant", NULL);
  if (g_str_equal (mode, "constant"))
    s.mode = PAD_CONSTANT;
  else if (g_str_equal (mode, "reflect"))
    s.mode = PAD_REFLECT;
  else if (g_str_equal (mode, "edge"))
    s.mode = PAD_EDGE;
  else if (g_str_equal (mode, "wrap") && opset >= 19)
    s.mode = PAD_WRAP;
  else {
    cpu_node_error (error, graph, node, "attribute 'mode' has an unknown value '%s'", mode);
    return NULL;
  }
  s.from_inputs = opset >= 11;
  if (!s.from_inputs) {
    guint n = 0;
    const gint64 *pads = glia_graph_node_get_attr_ints (graph, node, "pads", &n);
    if (pads == NULL && opset < 2)
      pads = glia_graph_node_get_attr_ints (graph, node, "paddings", &n);
    if (pads == NULL || n % 2 != 0 || n > 2 * GLIA_MAX_RANK) {
      cpu_node_error (error, graph, node,
                      "attribute 'pads' is required and must hold 2 values per dim");
      return NULL;
    }
    s.n_pads = n;
    memcpy (s.pads, pads, n * sizeof (gint64));
    s.value = glia_graph_node_get_attr_float (graph, node, "value", 0.0f);
  }
  return g_memdup2 (&s, sizeof s);
}

/* Resolves begin/end pads per dim of a rank-@rank input from @pads (for
 * the dims in @axes, or all dims when @axes is NULL). */
static gboolean
pad_resolve (guint rank, const gint64 *pads, gsize n_pads, const gint64 *axes, gsize n_axes,
             gint64 *begin, gint64 *end, char **why)
{
  gsize n = axes ? n_axes : rank;
  if (n_pads != 2 * n) {
    *why = g_strdup_printf ("pads has %" G_GSIZE_FORMAT " values, %" G_GSIZE_FORMAT " are needed",
                            n_pads, 2 * n);
    return FALSE;
  }
  for (guint i = 0; i < rank; i++)
    begin[i] = end[i] = 0;
  for (gsize i = 0; i < n; i++) {
    guint a = (guint)i;
    if (axes && !cpu_normalize_axis (axes[i], rank, &a)) {
      *why = g_strdup_printf ("axis %" G_GINT64_FORMAT " is out of range for rank %u", axes[i],
                              rank);
      return FALSE;
    }
    begin[a] = pads[i];
    end[a] = pads[i + n];
  }
  return TRUE;
}

static gboolean
pad_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  g_autofree PadState *s = pad_create (graph, node, error);
  gint64 pads[2 * GLIA_MAX_RANK], axes[GLIA_MAX_RANK], begin[GLIA_MAX_RANK], end[GLIA_MAX_RANK];
  gint64 dims[GLIA_MAX_RANK];
  gsize n_pads, n_axes = 0;
  gboolean has_axes = FALSE;
  if (s == NULL)
    return FALSE;
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  const gint64 *in = glia_shape_context_get_input_dims (ctx, 0);
  if (s->from_inputs) {
    has_axes = glia_shape_context_get_n_inputs (ctx) > 3 && glia_shape_context_has_input (ctx, 3);
    if (!cpu_shape_context_get_ints (ctx, 1, pads, 2 * GLIA_MAX_RANK, &n_pads)
        || (has_axes && !cpu_shape_context_get_ints (ctx, 3, axes, GLIA_MAX_RANK, &n_axes))) {
      set_unknown_dims (dims, (guint)rank);
      glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
      return TRUE;
    }
  } else {
    n_pads = s->n_pads;
    memcpy (pads, s->pads, n_pads * sizeof (gint64));
  }
  g_autofree char *why = NULL;
  if (!pad_resolve ((guint)rank, pads, n_pads, has_axes ? axes : NULL, n_axes, begin, end, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  for (gint i = 0; i < rank; i++) {
    dims[i] = in[i] < 0 ? -1 : in[i] + begin[i] + end[i];
    if (in[i] >= 0 && dims[i] < 0) {
      cpu_shape_error (error, ctx, "pads make dim %d negative", i);
      return FALSE;
    }
  }
  glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
  return TRUE;
}

/* Input index for output index @o of a dim padded by @begin, or -1 for the
 * constant value. */
static gint64
pad_source (PadMode mode, gint64 o, gint64 begin, gint64 n)
{
  gint64 i = o - begin;
  if (i >= 0 && i < n)
    return i;
  switch (mode) {
  case PAD_CONSTANT:
    return -1;
  case PAD_EDGE:
    return i < 0 ? 0 : n - 1;
  case PAD_WRAP:
    return ((i % n) + n) % n;
  case PAD_REFLECT:
  default:
    if (n == 1)
      return 0;
    gint64 period = 2 * (n - 1);
    gint64 m = ((i % period) + period) % period;
    return m < n ? m : period - m;
  }
}

typedef struct
{
  const GliaTensorView *x;
  guint8 *dst;
  guint rank;
  gint64 out[GLIA_MAX_RANK];
  gint64 in_strides[GLIA_MAX_RANK];
  const gint64 *map[GLIA_MAX_RANK]; /* per dim: input index per output index, or -1 */
  const guint8 *value;
  gsize size;
  gboolean strings;
} PadJob;

static void
pad_chunk (gsize begin, gsize end, gpointer user_data)
{
  const PadJob *job = user_data;
  guint last = job->rank - 1;
  gsize row = (gsize)job->out[last];
  const gint64 *map = job->map[last];
  gint64 idx[GLIA_MAX_RANK];
  unravel (begin, last, job->out, idx);
  for (gsize r = begin; r < end; r++) {
    guint8 *dst = job->dst + r * row * job->size;
    gint64 off = 0;
    for (guint d = 0; d < last && off >= 0; d++) {
      gint64 i = job->map[d][idx[d]];
      off = i < 0 ? -1 : off + i * job->in_strides[d];
    }
    if (off < 0)
      fill_elems (dst, job->value, row, job->size, job->strings);
    else {
      const guint8 *src = (const guint8 *)job->x->data + off * (gint64)job->size;
      gsize c = 0;
      while (c < row) {
        /* Runs of consecutive source indices are copied at once. */
        gsize e = c + 1;
        if (map[c] < 0) {
          while (e < row && map[e] < 0)
            e++;
          fill_elems (dst + c * job->size, job->value, e - c, job->size, job->strings);
        } else {
          while (e < row && map[e] == map[e - 1] + 1)
            e++;
          copy_elems (dst + c * job->size, src + (gsize)map[c] * job->size, e - c, job->size,
                      job->strings);
        }
        c = e;
      }
    }
    next_index (last, job->out, idx);
  }
}

static gboolean
pad_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const PadState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  gint64 pads[2 * GLIA_MAX_RANK], axes[GLIA_MAX_RANK], begin[GLIA_MAX_RANK], end[GLIA_MAX_RANK];
  gsize n_pads, n_axes = 0;
  const GliaTensorView *av = NULL, *cv = NULL;
  guint8 value_buf[16] = { 0 };
  const guint8 *value = NULL;
  if (x == NULL || !cpu_check_dtype (ctx, x, GLIA_DTYPES_ALL, "data", error))
    return FALSE;
  gsize size = glia_data_type_get_size (x->dtype);
  guint n_in = glia_kernel_context_get_n_inputs (ctx);
  if (s->from_inputs) {
    const GliaTensorView *pv = cpu_require_input (ctx, 1, error);
    if (pv == NULL
        || !cpu_read_ints_input (ctx, pv, "pads", pads, 2 * GLIA_MAX_RANK, &n_pads, error))
      return FALSE;
    cv = n_in > 2 ? glia_kernel_context_get_input (ctx, 2) : NULL;
    av = n_in > 3 ? glia_kernel_context_get_input (ctx, 3) : NULL;
    if (av && !cpu_read_ints_input (ctx, av, "axes", axes, GLIA_MAX_RANK, &n_axes, error))
      return FALSE;
    if (cv && cv->n_elements > 0) {
      if (cv->dtype != x->dtype) {
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                          "constant_value (%s) must have the data's type (%s)",
                          glia_data_type_get_name (cv->dtype), glia_data_type_get_name (x->dtype));
        return FALSE;
      }
      value = cv->data;
    }
  } else {
    n_pads = s->n_pads;
    memcpy (pads, s->pads, n_pads * sizeof (gint64));
    if (s->value != 0 && cpu_dtype_in (x->dtype, CPU_DTYPES_NUMERIC)) {
      cpu_store_doubles (x->dtype, &s->value, value_buf, 1);
      value = value_buf;
    }
  }
  g_autofree char *why = NULL;
  if (!pad_resolve (x->rank, pads, n_pads, av ? axes : NULL, n_axes, begin, end, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  PadJob job = { x,     NULL,  x->rank,
                 { 0 }, { 0 }, { NULL },
                 value, size,  x->dtype == GLIA_DATA_TYPE_STRING };
  gsize total = 0;
  for (guint i = 0; i < x->rank; i++) {
    job.out[i] = x->dims[i] + begin[i] + end[i];
    if (job.out[i] < 0 || (s->mode != PAD_CONSTANT && x->dims[i] == 0 && job.out[i] > 0)) {
      g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "pads %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                        " do not fit dim %u of input %s in this mode",
                        begin[i], end[i], i, d);
      return FALSE;
    }
    total += (gsize)job.out[i];
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, job.out, error);
  if (y == NULL)
    return FALSE;
  if (x->rank == 0) {
    copy_elems (y->data, x->data, 1, size, job.strings);
    return TRUE;
  }
  if (y->n_elements == 0)
    return TRUE;
  g_autofree gint64 *maps = g_new (gint64, MAX (total, 1));
  gint64 *m = maps;
  for (guint i = 0; i < x->rank; i++) {
    for (gint64 o = 0; o < job.out[i]; o++)
      m[o] = pad_source (s->mode, o, begin[i], x->dims[i]);
    job.map[i] = m;
    m += job.out[i];
  }
  job.dst = y->data;
  cpu_contiguous_strides (x->rank, x->dims, job.in_strides);
  gsize rows = cpu_numel_range (job.out, 0, x->rank - 1);
  glia_kernel_context_parallel_for (ctx, rows, MAX (1, CPU_GRAIN / (gsize)job.out[x->rank - 1]),
                                    pad_chunk, &job);
  return TRUE;
}

/* ======================================================================== */
/* Split                                                                     */
/* ======================================================================== */

typedef struct
{
  gint64 axis;
  guint n_split; /* attribute form (before opset 13; opset 1 also took an input); 0: absent */
  gint64 *split;
  gint64 num_outputs; /* opset 18+; 0: absent */
} SplitState;

static void
split_free (gpointer p)
{
  SplitState *s = p;
  if (s == NULL)
    return;
  g_free (s->split);
  g_free (s);
}

static gpointer
split_create (const GliaGraph *graph, gint node, GError **error)
{
  SplitState *s = g_new0 (SplitState, 1);
  gint opset = glia_graph_node_get_opset (graph, node);
  s->axis = glia_graph_node_get_attr_int (graph, node, "axis", 0);
  if (opset < 13) {
    const gint64 *v = glia_graph_node_get_attr_ints (graph, node, "split", &s->n_split);
    s->split = s->n_split ? g_memdup2 (v, s->n_split * sizeof (gint64)) : NULL;
  }
  if (opset >= 18 && glia_graph_node_has_attr (graph, node, "num_outputs")) {
    s->num_outputs = glia_graph_node_get_attr_int (graph, node, "num_outputs", 0);
    if (s->num_outputs < 1) {
      cpu_node_error (error, graph, node,
                      "attribute 'num_outputs' = %" G_GINT64_FORMAT " must be positive",
                      s->num_outputs);
      split_free (s);
      return NULL;
    }
  }
  return s;
}

/* Part sizes of a dim of size @dim into @n outputs; @split (may be NULL)
 * holds @n_split given sizes. */
static gboolean
split_sizes (const SplitState *s, gint64 dim, guint n, const gint64 *split, gsize n_split,
             gint64 *out, char **why)
{
  if (split) {
    gint64 sum = 0;
    if (n_split != n) {
      *why = g_strdup_printf ("split has %" G_GSIZE_FORMAT " values for %u outputs", n_split, n);
      return FALSE;
    }
    for (guint i = 0; i < n; i++) {
      if (split[i] < 0) {
        *why = g_strdup_printf ("split[%u] = %" G_GINT64_FORMAT " is negative", i, split[i]);
        return FALSE;
      }
      out[i] = split[i];
      sum += split[i];
    }
    if (dim >= 0 && sum != dim) {
      *why = g_strdup_printf ("split sums to %" G_GINT64_FORMAT ", the dim is %" G_GINT64_FORMAT,
                              sum, dim);
      return FALSE;
    }
    return TRUE;
  }
  if (s->num_outputs && s->num_outputs != n) {
    *why = g_strdup_printf ("num_outputs is %" G_GINT64_FORMAT " but the node has %u outputs",
                            s->num_outputs, n);
    return FALSE;
  }
  if (n == 0) {
    *why = g_strdup ("the node has no outputs");
    return FALSE;
  }
  if (dim < 0) {
    for (guint i = 0; i < n; i++)
      out[i] = -1;
    return TRUE;
  }
  if (s->num_outputs) {
    /* opset 18: equal parts of ceil(dim / n), the last one smaller */
    gint64 part = (dim + n - 1) / n;
    for (guint i = 0; i < n; i++)
      out[i] = CLAMP (dim - part * (gint64)i, 0, part);
    return TRUE;
  }
  if (dim % n != 0) {
    *why = g_strdup_printf ("a dim of %" G_GINT64_FORMAT " cannot be split into %u equal parts",
                            dim, n);
    return FALSE;
  }
  for (guint i = 0; i < n; i++)
    out[i] = dim / n;
  return TRUE;
}

static gboolean
split_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  SplitState *s = split_create (graph, glia_shape_context_get_node (ctx), error);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  guint n = glia_shape_context_get_n_outputs (ctx);
  guint axis;
  gboolean ok = TRUE;
  if (s == NULL)
    return FALSE;
  if (rank < 0) {
    for (guint i = 0; i < n; i++)
      glia_shape_context_set_output (ctx, i, dtype, -1, NULL);
    split_free (s);
    return TRUE;
  }
  if (!cpu_normalize_axis (s->axis, (guint)rank, &axis)) {
    cpu_shape_error (error, ctx,
                     "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d", s->axis,
                     rank);
    split_free (s);
    return FALSE;
  }
  gint64 dims[GLIA_MAX_RANK];
  memcpy (dims, glia_shape_context_get_input_dims (ctx, 0), (gsize)rank * sizeof (gint64));
  g_autofree gint64 *sizes = g_new (gint64, MAX (n, 1));
  g_autofree gint64 *given = g_new (gint64, MAX (n, 1) + 1);
  gsize n_given = 0;
  const gint64 *split = s->split;
  gboolean known = TRUE;
  if (glia_shape_context_get_n_inputs (ctx) > 1 && glia_shape_context_has_input (ctx, 1)) {
    known = cpu_shape_context_get_ints (ctx, 1, given, n + 1, &n_given);
    split = given;
  } else if (split)
    n_given = s->n_split;
  g_autofree char *why = NULL;
  if (!known)
    for (guint i = 0; i < n; i++)
      sizes[i] = -1;
  else if (!split_sizes (s, dims[axis], n, split, n_given, sizes, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    ok = FALSE;
  }
  for (guint i = 0; ok && i < n; i++) {
    dims[axis] = sizes[i];
    glia_shape_context_set_output (ctx, i, dtype, rank, dims);
  }
  split_free (s);
  return ok;
}

static gboolean
split_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const SplitState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  guint n = glia_kernel_context_get_n_outputs (ctx);
  guint axis;
  if (x == NULL)
    return FALSE;
  if (!cpu_normalize_axis (s->axis, x->rank, &axis)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for rank %u", s->axis, x->rank);
    return FALSE;
  }
  g_autofree gint64 *sizes = g_new (gint64, MAX (n, 1));
  g_autofree gint64 *given = g_new (gint64, MAX (n, 1) + 1);
  const gint64 *split = s->split;
  gsize n_given = s->n_split;
  const GliaTensorView *sv
      = glia_kernel_context_get_n_inputs (ctx) > 1 ? glia_kernel_context_get_input (ctx, 1) : NULL;
  if (sv) {
    if (!cpu_read_ints_input (ctx, sv, "split", given, n + 1, &n_given, error))
      return FALSE;
    split = given;
  }
  g_autofree char *why = NULL;
  if (!split_sizes (s, x->dims[axis], n, split, n_given, sizes, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  gsize size = glia_data_type_get_size (x->dtype);
  gboolean strings = x->dtype == GLIA_DATA_TYPE_STRING;
  gsize outer = cpu_numel_range (x->dims, 0, axis);
  gsize inner = cpu_numel_range (x->dims, axis + 1, x->rank);
  gsize in_block = (gsize)x->dims[axis] * inner;
  gint64 dims[GLIA_MAX_RANK];
  memcpy (dims, x->dims, x->rank * sizeof (gint64));
  gsize start = 0;
  for (guint i = 0; i < n; i++) {
    gsize block = (gsize)sizes[i] * inner;
    if (cpu_kernel_has_output (ctx, i)) {
      dims[axis] = sizes[i];
      GliaTensorView *y
          = glia_kernel_context_allocate_output (ctx, i, x->dtype, x->rank, dims, error);
      if (y == NULL)
        return FALSE;
      for (gsize o = 0; o < outer && block; o++)
        copy_elems ((guint8 *)y->data + o * block * size,
                    (const guint8 *)x->data + (o * in_block + start) * size, block, size, strings);
    }
    start += block;
  }
  return TRUE;
}

/* ======================================================================== */
/* ReverseSequence                                                           */
/* ======================================================================== */

typedef struct
{
  gint64 batch_axis, time_axis;
} ReverseSequenceState;

static gpointer
reverse_sequence_create (const GliaGraph *graph, gint node, GError **error)
{
  ReverseSequenceState s = { glia_graph_node_get_attr_int (graph, node, "batch_axis", 1),
                             glia_graph_node_get_attr_int (graph, node, "time_axis", 0) };
  if (!((s.batch_axis == 0 && s.time_axis == 1) || (s.batch_axis == 1 && s.time_axis == 0))) {
    cpu_node_error (error, graph, node,
                    "attributes 'batch_axis' and 'time_axis' must be 0 and 1 (in either order)");
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
reverse_sequence_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ReverseSequenceState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *lens = x ? cpu_require_input (ctx, 1, error) : NULL;
  if (lens == NULL || !cpu_check_dtype (ctx, lens, DTYPES_INDEX, "sequence_lens", error))
    return FALSE;
  if (x->rank < 2 || lens->rank != 1 || lens->dims[0] != x->dims[s->batch_axis]) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    g_autofree char *dl = cpu_dims_to_string (lens->rank, lens->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "input %s and sequence_lens %s do not fit (rank >= 2, one length per batch)",
                      dx, dl);
    return FALSE;
  }
  gint64 steps = x->dims[s->time_axis], batch = x->dims[s->batch_axis];
  for (gint64 b = 0; b < batch; b++) {
    gint64 len = cpu_index_at (lens, (gsize)b);
    if (len < 0 || len > steps) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "sequence_lens[%" G_GINT64_FORMAT "] = %" G_GINT64_FORMAT
                        " is outside [0, %" G_GINT64_FORMAT "]",
                        b, len, steps);
      return FALSE;
    }
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  gsize size = glia_data_type_get_size (x->dtype);
  gsize inner = cpu_numel_range (x->dims, 2, x->rank);
  gboolean strings = x->dtype == GLIA_DATA_TYPE_STRING;
  for (gint64 b = 0; b < batch; b++) {
    gint64 len = cpu_index_at (lens, (gsize)b);
    for (gint64 t = 0; t < steps; t++) {
      gint64 from = t < len ? len - 1 - t : t;
      gsize dst = (gsize)(s->time_axis == 0 ? t * batch + b : b * steps + t);
      gsize src = (gsize)(s->time_axis == 0 ? from * batch + b : b * steps + from);
      copy_elems ((guint8 *)y->data + dst * inner * size,
                  (const guint8 *)x->data + src * inner * size, inner, size, strings);
    }
  }
  return TRUE;
}

/* ======================================================================== */
/* SpaceToDepth / DepthToSpace                                               */
/* ======================================================================== */

typedef struct
{
  gint64 blocksize;
  gboolean crd; /* DepthToSpace mode CRD (else DCR) */
} BlockState;

static gpointer
block_create (const GliaGraph *graph, gint node, GError **error)
{
  BlockState s = { glia_graph_node_get_attr_int (graph, node, "blocksize", 0), FALSE };
  if (s.blocksize < 1) {
    cpu_node_error (error, graph, node, "attribute 'blocksize' is required and must be positive");
    return NULL;
  }
  const char *mode = glia_graph_node_get_attr_string (graph, node, "mode", "DCR", NULL);
  if (g_str_equal (mode, "CRD"))
    s.crd = TRUE;
  else if (!g_str_equal (mode, "DCR")) {
    cpu_node_error (error, graph, node, "attribute 'mode' has an unknown value '%s'", mode);
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

/* Output dims of SpaceToDepth (@to_depth) or DepthToSpace; -1 stays unknown. */
static gboolean
block_dims (gboolean to_depth, gint64 b, const gint64 *in, gint64 *out, char **why)
{
  out[0] = in[0];
  if (to_depth) {
    if ((in[2] >= 0 && in[2] % b) || (in[3] >= 0 && in[3] % b)) {
      *why = g_strdup_printf ("height and width must be multiples of blocksize %" G_GINT64_FORMAT,
                              b);
      return FALSE;
    }
    out[1] = in[1] < 0 ? -1 : in[1] * b * b;
    out[2] = in[2] < 0 ? -1 : in[2] / b;
    out[3] = in[3] < 0 ? -1 : in[3] / b;
  } else {
    if (in[1] >= 0 && in[1] % (b * b)) {
      *why = g_strdup_printf ("channels must be a multiple of blocksize² = %" G_GINT64_FORMAT,
                              b * b);
      return FALSE;
    }
    out[1] = in[1] < 0 ? -1 : in[1] / (b * b);
    out[2] = in[2] < 0 ? -1 : in[2] * b;
    out[3] = in[3] < 0 ? -1 : in[3] * b;
  }
  return TRUE;
}

static gboolean
block_infer_common (GliaShapeContext *ctx, gboolean to_depth, GError **error)
{
  g_autofree BlockState *s
      = block_create (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), error);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 out[4] = { -1, -1, -1, -1 };
  g_autofree char *why = NULL;
  if (s == NULL)
    return FALSE;
  if (rank >= 0 && rank != 4) {
    cpu_shape_error (error, ctx, "input must have rank 4, not %d", rank);
    return FALSE;
  }
  if (rank == 4
      && !block_dims (to_depth, s->blocksize, glia_shape_context_get_input_dims (ctx, 0), out,
                      &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, 4, out);
  return TRUE;
}

static gboolean
space_to_depth_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  return block_infer_common (ctx, TRUE, error);
}

static gboolean
depth_to_space_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  return block_infer_common (ctx, FALSE, error);
}

static gboolean
block_compute_common (const BlockState *s, GliaKernelContext *ctx, gboolean to_depth,
                      GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  gint64 out[4];
  g_autofree char *why = NULL;
  if (x == NULL)
    return FALSE;
  if (x->rank != 4) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "input must have rank 4, not %u",
                      x->rank);
    return FALSE;
  }
  if (!block_dims (to_depth, s->blocksize, x->dims, out, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, 4, out, error);
  if (y == NULL)
    return FALSE;
  gint64 b = s->blocksize, C = x->dims[1], H = x->dims[2], W = x->dims[3];
  gint64 dims[6], strides[6];
  if (to_depth) {
    /* out[n, (by * b + bx) * C + c, h, w] = in[n, c, h * b + by, w * b + bx] */
    gint64 d[6] = { out[0], b, b, C, out[2], out[3] };
    gint64 st[6] = { C * H * W, W, 1, H * W, b * W, b };
    memcpy (dims, d, sizeof d);
    memcpy (strides, st, sizeof st);
  } else {
    /* out[n, c, h * b + i, w * b + j] = in[n, channel(c, i, j), h, w] */
    gint64 c = out[1];
    gint64 d[6] = { out[0], c, H, b, W, b };
    gint64 dcr[6] = { C * H * W, H * W, W, b * c * H * W, 1, c * H * W };
    gint64 crd[6] = { C * H * W, b * b * H * W, W, b * H * W, 1, H * W };
    memcpy (dims, d, sizeof d);
    memcpy (strides, s->crd ? crd : dcr, sizeof dcr);
  }
  strided_gather (ctx, x, y, 6, dims, strides);
  return TRUE;
}

static gboolean
space_to_depth_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  return block_compute_common (state, ctx, TRUE, error);
}

static gboolean
depth_to_space_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  return block_compute_common (state, ctx, FALSE, error);
}

/* ======================================================================== */
/* CastLike                                                                  */
/* ======================================================================== */

#define DTYPES_CAST (CPU_DTYPES_NUMERIC | DTYPE_STRING)

static gboolean
castlike_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  cpu_infer_like_input (ctx, 0, 0, glia_shape_context_get_input_dtype (ctx, 1));
  return TRUE;
}

/* Whether @text, parsed back, gives the same value of @dtype as @v. */
static gboolean
round_trips (GliaDataType dtype, const char *text, double v)
{
  double back = g_ascii_strtod (text, NULL);
  switch (dtype) {
  case GLIA_DATA_TYPE_FLOAT:
    return (float)back == (float)v;
  case GLIA_DATA_TYPE_FLOAT16:
    return cpu_float_to_half ((float)back) == cpu_float_to_half ((float)v);
  case GLIA_DATA_TYPE_BFLOAT16:
    return cpu_float_to_bfloat16 ((float)back) == cpu_float_to_bfloat16 ((float)v);
  default:
    return back == v;
  }
}

/* The shortest text that reads back as @v, laid out as numpy prints
 * floats: positional for 1e-4 <= |v| < 1e16 ("0.5", "100.0"), scientific
 * otherwise ("1e-05", "1.5e+16"). */
static char *
format_float (GliaDataType dtype, double v)
{
  if (isnan (v))
    return g_strdup ("nan");
  if (isinf (v))
    return g_strdup (v < 0 ? "-inf" : "inf");
  if (v == 0)
    return g_strdup (signbit (v) ? "-0.0" : "0.0");

  char buf[64], fmt[16];
  for (int p = 0; p < 17; p++) {
    g_snprintf (fmt, sizeof fmt, "%%.%de", p);
    g_ascii_formatd (buf, sizeof buf, fmt, v);
    if (round_trips (dtype, buf, v))
      break;
  }
  /* buf is "[-]d.ddde[+-]xx": collect the digits and the exponent. */
  const char *p = buf;
  gboolean negative = *p == '-';
  if (negative)
    p++;
  char digits[32];
  gsize nd = 0;
  for (; *p && *p != 'e'; p++)
    if (g_ascii_isdigit (*p) && nd < sizeof digits - 1)
      digits[nd++] = *p;
  int exp = *p == 'e' ? (int)g_ascii_strtoll (p + 1, NULL, 10) : 0;
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  digits[nd] = '\0';

  GString *s = g_string_new (negative ? "-" : "");
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      g_string_append (s, "0.");
      for (int i = 0; i < -exp - 1; i++)
        g_string_append_c (s, '0');
      g_string_append (s, digits);
    } else {
      for (int i = 0; i <= exp; i++)
        g_string_append_c (s, (gsize)i < nd ? digits[i] : '0');
      g_string_append_c (s, '.');
      if ((gsize)exp + 1 < nd)
        g_string_append (s, digits + exp + 1);
      else
        g_string_append_c (s, '0');
    }
  } else {
    g_string_append_c (s, digits[0]);
    if (nd > 1) {
      g_string_append_c (s, '.');
      g_string_append (s, digits + 1);
    }
    g_string_append_printf (s, "e%c%02d", exp < 0 ? '-' : '+', ABS (exp));
  }
  return g_string_free (s, FALSE);
}

static char *
format_element (GliaDataType dtype, const guint8 *p)
{
  switch (dtype) {
  case GLIA_DATA_TYPE_BOOL:
    return g_strdup (*p ? "True" : "False");
  case GLIA_DATA_TYPE_INT8:
    return g_strdup_printf ("%d", *(const gint8 *)p);
  case GLIA_DATA_TYPE_INT16:
    return g_strdup_printf ("%d", *(const gint16 *)p);
  case GLIA_DATA_TYPE_INT32:
    return g_strdup_printf ("%" G_GINT32_FORMAT, *(const gint32 *)p);
  case GLIA_DATA_TYPE_INT64:
    return g_strdup_printf ("%" G_GINT64_FORMAT, *(const gint64 *)p);
  case GLIA_DATA_TYPE_UINT8:
    return g_strdup_printf ("%u", *p);
  case GLIA_DATA_TYPE_UINT16:
    return g_strdup_printf ("%u", *(const guint16 *)p);
  case GLIA_DATA_TYPE_UINT32:
    return g_strdup_printf ("%" G_GUINT32_FORMAT, *(const guint32 *)p);
  case GLIA_DATA_TYPE_UINT64:
    return g_strdup_printf ("%" G_GUINT64_FORMAT, *(const guint64 *)p);
  default: {
    double v;
    cpu_load_doubles (dtype, p, &v, 1);
    return format_float (dtype, v);
  }
  }
}

/* Parses a string element for a numeric @dtype into @dst. */
static void
parse_element (GliaDataType dtype, const char *text, guint8 *dst)
{
  const char *t = text ? text : "";
  while (g_ascii_isspace (*t))
    t++;
  if (dtype == GLIA_DATA_TYPE_BOOL
      && (!g_ascii_strcasecmp (t, "true") || !g_ascii_strcasecmp (t, "false"))) {
    *dst = !g_ascii_strcasecmp (t, "true");
    return;
  }
  if (cpu_dtype_in (dtype, GLIA_DTYPES_INTS)) {
    /* Integers exactly when the text is one. */
    char *end = NULL;
    if (dtype == GLIA_DATA_TYPE_UINT64 && *t != '-') {
      guint64 u = g_ascii_strtoull (t, &end, 10);
      if (end != t && *end == '\0') {
        *(guint64 *)dst = u;
        return;
      }
    } else {
      gint64 i = g_ascii_strtoll (t, &end, 10);
      if (end != t && *end == '\0') {
        double d = (double)i;
        if (dtype == GLIA_DATA_TYPE_INT64)
          *(gint64 *)dst = i;
        else
          cpu_store_doubles (dtype, &d, dst, 1);
        return;
      }
    }
  }
  /* strtod reads "inf", "+INF", "-inf" and "NaN" in any case. */
  double v = g_ascii_strtod (t, NULL);
  cpu_store_doubles (dtype, &v, dst, 1);
}

static gint64
load_int (GliaDataType dtype, const guint8 *p)
{
  switch (dtype) {
  case GLIA_DATA_TYPE_INT8:
    return *(const gint8 *)p;
  case GLIA_DATA_TYPE_INT16:
    return *(const gint16 *)p;
  case GLIA_DATA_TYPE_INT32:
    return *(const gint32 *)p;
  case GLIA_DATA_TYPE_INT64:
    return *(const gint64 *)p;
  case GLIA_DATA_TYPE_UINT8:
    return *p;
  case GLIA_DATA_TYPE_UINT16:
    return *(const guint16 *)p;
  case GLIA_DATA_TYPE_UINT32:
    return *(const guint32 *)p;
  case GLIA_DATA_TYPE_UINT64:
    return (gint64) * (const guint64 *)p;
  default:
    return *p != 0;
  }
}

/* Integer to integer keeps the low bits, as C casts do. */
static void
store_int (GliaDataType dtype, gint64 v, guint8 *p)
{
  switch (dtype) {
  case GLIA_DATA_TYPE_INT8:
  case GLIA_DATA_TYPE_UINT8:
    *p = (guint8)v;
    break;
  case GLIA_DATA_TYPE_INT16:
  case GLIA_DATA_TYPE_UINT16:
    *(guint16 *)p = (guint16)v;
    break;
  case GLIA_DATA_TYPE_INT32:
  case GLIA_DATA_TYPE_UINT32:
    *(guint32 *)p = (guint32)v;
    break;
  case GLIA_DATA_TYPE_INT64:
  case GLIA_DATA_TYPE_UINT64:
    *(guint64 *)p = (guint64)v;
    break;
  default:
    *p = v != 0;
  }
}

typedef struct
{
  GliaDataType from, to;
  const guint8 *src;
  guint8 *dst;
  gsize src_size, dst_size;
} CastJob;

#define CAST_BLOCK 256

static void
cast_chunk (gsize begin, gsize end, gpointer user_data)
{
  const CastJob *job = user_data;
  const guint8 *src = job->src + begin * job->src_size;
  guint8 *dst = job->dst + begin * job->dst_size;
  gsize n = end - begin;
  guint64 int_types = GLIA_DTYPES_INTS | DTYPE_BOOL;

  if (job->to == GLIA_DATA_TYPE_STRING) {
    for (gsize i = 0; i < n; i++) {
      g_free (((char **)dst)[i]);
      ((char **)dst)[i] = format_element (job->from, src + i * job->src_size);
    }
  } else if (job->from == GLIA_DATA_TYPE_STRING) {
    for (gsize i = 0; i < n; i++)
      parse_element (job->to, ((char *const *)src)[i], dst + i * job->dst_size);
  } else if (cpu_dtype_in (job->from, int_types) && cpu_dtype_in (job->to, int_types)) {
    for (gsize i = 0; i < n; i++)
      store_int (job->to, load_int (job->from, src + i * job->src_size), dst + i * job->dst_size);
  } else {
    double buf[CAST_BLOCK];
    for (gsize i = 0; i < n; i += CAST_BLOCK) {
      gsize m = MIN (CAST_BLOCK, n - i);
      cpu_load_doubles (job->from, src + i * job->src_size, buf, m);
      cpu_store_doubles (job->to, buf, dst + i * job->dst_size, m);
    }
  }
}

static gboolean
castlike_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *like = x ? cpu_require_input (ctx, 1, error) : NULL;
  if (like == NULL || !cpu_check_dtype (ctx, x, DTYPES_CAST, "input", error)
      || !cpu_check_dtype (ctx, like, DTYPES_CAST, "target_type", error))
    return FALSE;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, like->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  if (x->dtype == like->dtype) {
    copy_elems (y->data, x->data, x->n_elements, glia_data_type_get_size (x->dtype),
                x->dtype == GLIA_DATA_TYPE_STRING);
    return TRUE;
  }
  CastJob job = { x->dtype,
                  like->dtype,
                  x->data,
                  y->data,
                  glia_data_type_get_size (x->dtype),
                  glia_data_type_get_size (like->dtype) };
  gboolean strings = x->dtype == GLIA_DATA_TYPE_STRING || like->dtype == GLIA_DATA_TYPE_STRING;
  if (x->n_elements)
    glia_kernel_context_parallel_for (ctx, x->n_elements, strings ? 256 : CPU_GRAIN, cast_chunk,
                                      &job);
  return TRUE;
}

/* ======================================================================== */
/* Op defs                                                                   */
/* ======================================================================== */

#define INDEX_DEF(NAME, SINCE, UNTIL, DTYPES, INFER, CREATE, COMPUTE, DESTROY)                     \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = UNTIL, .dtypes = DTYPES, .infer_shapes = INFER, .create = CREATE,             \
    .compute = COMPUTE, .destroy = DESTROY,                                                        \
  }

static const GliaOpDef index_ops[] = {
  INDEX_DEF ("ConstantOfShape", 9, G_MAXINT, DTYPES_INDEX, constant_of_shape_infer_shapes,
             constant_of_shape_create, constant_of_shape_compute, g_free),
  INDEX_DEF ("Size", 1, G_MAXINT, GLIA_DTYPES_ALL, size_infer_shapes, NULL, size_compute, NULL),
  INDEX_DEF ("GatherElements", 11, G_MAXINT, GLIA_DTYPES_ALL, gather_elements_infer_shapes,
             axis_create, gather_elements_compute, g_free),
  /* Opset 12 added batch_dims. */
  INDEX_DEF ("GatherND", 11, G_MAXINT, GLIA_DTYPES_ALL, gather_nd_infer_shapes, gather_nd_create,
             gather_nd_compute, g_free),
  /* Scatter is ScatterElements under its old name (deprecated in opset 11). */
  INDEX_DEF ("Scatter", 9, 10, GLIA_DTYPES_ALL, scatter_infer_shapes, scatter_create,
             scatter_elements_compute, g_free),
  /* Opset 16 added reduction (none/add/mul), 18 max/min. */
  INDEX_DEF ("ScatterElements", 11, G_MAXINT, GLIA_DTYPES_ALL, scatter_infer_shapes, scatter_create,
             scatter_elements_compute, g_free),
  INDEX_DEF ("ScatterND", 11, G_MAXINT, GLIA_DTYPES_ALL, scatter_infer_shapes, scatter_create,
             scatter_nd_compute, g_free),
  INDEX_DEF ("Compress", 9, G_MAXINT, GLIA_DTYPES_ALL, compress_infer_shapes, compress_create,
             compress_compute, g_free),
  INDEX_DEF ("NonZero", 9, G_MAXINT, GLIA_DTYPES_ALL, non_zero_infer_shapes, NULL, non_zero_compute,
             NULL),
  INDEX_DEF ("Unique", 11, G_MAXINT, GLIA_DTYPES_ALL, unique_infer_shapes, unique_create,
             unique_compute, g_free),
  /* Opset 11 allows negative indices and axis. */
  INDEX_DEF ("OneHot", 9, G_MAXINT, CPU_DTYPES_NUMERIC, one_hot_infer_shapes, one_hot_create,
             one_hot_compute, g_free),
  INDEX_DEF ("Trilu", 14, G_MAXINT, GLIA_DTYPES_ALL, cpu_infer_same_as_input, trilu_create,
             trilu_compute, g_free),
  INDEX_DEF ("EyeLike", 9, G_MAXINT, CPU_DTYPES_NUMERIC, eye_like_infer_shapes, eye_like_create,
             eye_like_compute, g_free),
  INDEX_DEF ("Range", 11, G_MAXINT, DTYPES_RANGE, range_infer_shapes, NULL, range_compute, NULL),
  /* Opset 6 made repeats an input. */
  INDEX_DEF ("Tile", 6, G_MAXINT, GLIA_DTYPES_ALL, tile_infer_shapes, NULL, tile_compute, NULL),
  /* pads and value are attributes before opset 11, inputs since; 18 added
   * axes, 19 the wrap mode. */
  INDEX_DEF ("Pad", 1, G_MAXINT, GLIA_DTYPES_ALL, pad_infer_shapes, pad_create, pad_compute,
             g_free),
  /* split is an attribute before opset 13, an input since; 18 added
   * num_outputs. */
  INDEX_DEF ("Split", 1, G_MAXINT, GLIA_DTYPES_ALL, split_infer_shapes, split_create, split_compute,
             split_free),
  INDEX_DEF ("ReverseSequence", 10, G_MAXINT, GLIA_DTYPES_ALL, cpu_infer_same_as_input,
             reverse_sequence_create, reverse_sequence_compute, g_free),
  INDEX_DEF ("SpaceToDepth", 1, G_MAXINT, GLIA_DTYPES_ALL, space_to_depth_infer_shapes,
             block_create, space_to_depth_compute, g_free),
  /* Opset 11 added mode. */
  INDEX_DEF ("DepthToSpace", 1, G_MAXINT, GLIA_DTYPES_ALL, depth_to_space_infer_shapes,
             block_create, depth_to_space_compute, g_free),
  INDEX_DEF ("CastLike", 15, G_MAXINT, DTYPES_CAST, castlike_infer_shapes, NULL, castlike_compute,
             NULL),
};

void
cpu_index_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (index_ops); i++)
    glia_op_table_add (table, &index_ops[i]);
}
