/* cpu-shape.c: operators that only move bytes or describe shapes: Reshape,
 * Flatten, Transpose, Squeeze, Unsqueeze, Concat, Shape, Gather, Slice, Expand
 * and Constant.
 *
 * They work for any element type except strings, by element size. Their
 * shape arguments (Reshape's shape, axes inputs, Slice's starts/ends, ...)
 * are read from graph constants during shape inference when they are
 * constant, and from the inputs at run time. Transpose, Slice and Expand are
 * strided gathers through CpuBroadcast, whose merging of dims turns the
 * common cases into long contiguous runs. A Transpose of 4-byte elements
 * that swaps the two innermost (merged) dims, such as K^T in attention, is
 * a batch of 2-D transposes done in 8 x 8 tiles instead.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <string.h>

/* Copies are memory bound: a parallel_for dispatch (tens of microseconds
 * with the wake-up) costs more than copying a few hundred KiB, so copy
 * loops split only in chunks of at least this many elements. */
#define COPY_GRAIN (CPU_GRAIN * 8)

#define DTYPES_BYTES (GLIA_DTYPES_ALL & ~GLIA_DTYPE_BIT (GLIA_DATA_TYPE_STRING))
#define DTYPES_INDEX (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64))

static gboolean
check_bytes_dtype (GliaKernelContext *ctx, const GliaTensorView *v, GError **error)
{
  if (v->dtype > 0 && v->dtype <= GLIA_DATA_TYPE_LAST && (DTYPES_BYTES & GLIA_DTYPE_BIT (v->dtype)))
    return TRUE;
  cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "element type %s is not supported",
                    glia_data_type_get_name (v->dtype));
  return FALSE;
}

/* A gather of output elements from one input along CpuBroadcast strides
 * (input 0), starting at @base elements into the source. */
typedef struct
{
  CpuBroadcast bc;
  const guint8 *src;
  gint64 base;
  guint8 *dst;
  gsize size;
} GatherJob;

static void
gather_chunk (gsize begin, gsize end, gpointer user_data)
{
  const GatherJob *job = user_data;
  const CpuBroadcast *bc = &job->bc;
  gint64 inner = bc->strides[0][bc->rank - 1];
  gsize row = begin / bc->row_len, col = begin % bc->row_len;
  CpuBroadcastPos pos;

  cpu_broadcast_seek (bc, row, &pos);
  while (begin < end) {
    gsize n = MIN (bc->row_len - col, end - begin);
    gint64 off = job->base + (gint64)pos.offset[0] + (gint64)col * inner;
    if (inner == 0) {
      const guint8 *s = job->src + off * (gint64)job->size;
      for (gsize i = 0; i < n; i++)
        memcpy (job->dst + (begin + i) * job->size, s, job->size);
    } else
      cpu_copy_strided (job->dst + begin * job->size, job->src + off * (gint64)job->size, inner, n,
                        job->size);
    begin += n;
    col = 0;
    cpu_broadcast_next_row (bc, &pos);
  }
}

static void
run_gather (GliaKernelContext *ctx, GatherJob *job, gsize n_elements)
{
  if (n_elements)
    glia_kernel_context_parallel_for (ctx, n_elements, COPY_GRAIN, gather_chunk, job);
}

/* ======================================================================== */
/* Reshape                                                                   */
/* ======================================================================== */

typedef struct
{
  gboolean allow_zero;
} ReshapeState;

static gpointer
reshape_create (const GliaGraph *graph, gint node, GError **error)
{
  ReshapeState s;
  if (!cpu_parse_flag (graph, node, "allowzero", 0, &s.allow_zero, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

/* Resolves a Reshape target. @in may hold -1 (unknown), and then so may the
 * result. */
static gboolean
reshape_dims (gboolean allow_zero, guint in_rank, const gint64 *in, gsize n, const gint64 *shape,
              gint64 *out, char **why)
{
  gint infer = -1;
  gboolean in_known = TRUE, out_known = TRUE, has_zero = FALSE;
  gsize in_total = 1, out_total = 1;

  for (guint i = 0; i < in_rank; i++) {
    if (in[i] < 0)
      in_known = FALSE;
    else
      in_total *= (gsize)in[i];
  }
  for (gsize i = 0; i < n; i++) {
    gint64 d = shape[i];
    if (d == 0 && !allow_zero) {
      if (i >= in_rank) {
        *why = g_strdup_printf ("shape[%" G_GSIZE_FORMAT "] = 0 copies a dim the input "
                                "(rank %u) does not have",
                                i, in_rank);
        return FALSE;
      }
      d = in[i];
    } else if (d == 0)
      has_zero = TRUE;
    else if (d == -1) {
      if (infer >= 0) {
        *why = g_strdup ("shape has more than one -1");
        return FALSE;
      }
      infer = (gint)i;
      out[i] = -1;
      continue;
    } else if (d < -1) {
      *why = g_strdup_printf ("shape[%" G_GSIZE_FORMAT "] = %" G_GINT64_FORMAT " is invalid", i, d);
      return FALSE;
    }
    out[i] = d;
    if (d < 0)
      out_known = FALSE;
    else if (!g_size_checked_mul (&out_total, out_total, (gsize)d)) {
      *why = g_strdup ("shape is too large");
      return FALSE;
    }
  }
  if (infer >= 0 && has_zero) {
    *why = g_strdup ("shape has both -1 and 0 with allowzero = 1");
    return FALSE;
  }
  if (!in_known || !out_known)
    return TRUE;
  if (infer >= 0) {
    if (out_total == 0 || in_total % out_total != 0) {
      g_autofree char *di = cpu_dims_to_string (in_rank, in);
      g_autofree char *ds = cpu_dims_to_string ((guint)n, shape);
      *why = g_strdup_printf ("cannot reshape %s to %s", di, ds);
      return FALSE;
    }
    out[infer] = (gint64)(in_total / out_total);
  } else if (in_total != out_total) {
    g_autofree char *di = cpu_dims_to_string (in_rank, in);
    g_autofree char *ds = cpu_dims_to_string ((guint)n, shape);
    *why = g_strdup_printf ("cannot reshape %s (%" G_GSIZE_FORMAT
                            " elements) to %s (%" G_GSIZE_FORMAT " elements)",
                            di, in_total, ds, out_total);
    return FALSE;
  }
  return TRUE;
}

static gboolean
reshape_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint64 shape[GLIA_MAX_RANK], out[GLIA_MAX_RANK];
  gsize n;

  if (!cpu_shape_context_get_ints (ctx, 1, shape, GLIA_MAX_RANK, &n)) {
    /* Unknown values: the rank is the shape input's length, if known. */
    const gint64 *sd = glia_shape_context_get_input_dims (ctx, 1);
    gint64 unknown[GLIA_MAX_RANK];
    if (glia_shape_context_get_input_rank (ctx, 1) == 1 && sd[0] >= 0 && sd[0] <= GLIA_MAX_RANK) {
      for (gint64 i = 0; i < sd[0]; i++)
        unknown[i] = -1;
      glia_shape_context_set_output (ctx, 0, dtype, (gint)sd[0], unknown);
    } else
      glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gboolean allow_zero = glia_graph_node_get_attr_int (graph, node, "allowzero", 0) == 1;
  gint64 in_unknown[GLIA_MAX_RANK];
  const gint64 *in = rank >= 0 ? glia_shape_context_get_input_dims (ctx, 0) : in_unknown;
  if (rank < 0) {
    rank = GLIA_MAX_RANK;
    for (guint i = 0; i < GLIA_MAX_RANK; i++)
      in_unknown[i] = -1;
  }
  g_autofree char *why = NULL;
  if (!reshape_dims (allow_zero, (guint)rank, in, n, shape, out, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, (gint)n, out);
  return TRUE;
}

static gboolean
reshape_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ReshapeState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *shape_in = x ? cpu_require_input (ctx, 1, error) : NULL;
  gint64 shape[GLIA_MAX_RANK], out[GLIA_MAX_RANK];
  gsize n;
  if (shape_in == NULL || !check_bytes_dtype (ctx, x, error)
      || !cpu_read_ints_input (ctx, shape_in, "shape", shape, GLIA_MAX_RANK, &n, error))
    return FALSE;
  g_autofree char *why = NULL;
  if (!reshape_dims (s->allow_zero, x->rank, x->dims, n, shape, out, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  return glia_kernel_context_set_output_view (ctx, 0, 0, (guint)n, out, error) != NULL;
}

/* ======================================================================== */
/* Flatten                                                                   */
/* ======================================================================== */

typedef struct
{
  gint64 axis;
} AxisState;

static gpointer
flatten_create (const GliaGraph *graph, gint node, GError **error)
{
  AxisState s = { glia_graph_node_get_attr_int (graph, node, "axis", 1) };
  return g_memdup2 (&s, sizeof s);
}

static gboolean
flatten_dims (gint64 axis, guint rank, const gint64 *in, gint64 *out)
{
  if (axis < -(gint64)rank || axis > (gint64)rank)
    return FALSE;
  guint a = (guint)(axis < 0 ? axis + rank : axis);
  out[0] = out[1] = 1;
  for (guint i = 0; i < rank; i++) {
    gint64 *o = &out[i < a ? 0 : 1];
    *o = (*o < 0 || in[i] < 0) ? -1 : *o * in[i];
  }
  return TRUE;
}

static gboolean
flatten_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 axis = glia_graph_node_get_attr_int (graph, node, "axis", 1);
  gint64 out[2] = { -1, -1 };
  if (rank >= 0
      && !flatten_dims (axis, (guint)rank, glia_shape_context_get_input_dims (ctx, 0), out)) {
    cpu_shape_error (error, ctx,
                     "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d", axis,
                     rank);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, 2, out);
  return TRUE;
}

static gboolean
flatten_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const AxisState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  gint64 out[2];
  if (x == NULL || !check_bytes_dtype (ctx, x, error))
    return FALSE;
  if (!flatten_dims (s->axis, x->rank, x->dims, out)) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for input %s", s->axis, d);
    return FALSE;
  }
  return glia_kernel_context_set_output_view (ctx, 0, 0, 2, out, error) != NULL;
}

/* ======================================================================== */
/* Transpose                                                                 */
/* ======================================================================== */

typedef struct
{
  guint n_perm; /* 0: reverse the dims */
  guint perm[GLIA_MAX_RANK];
} TransposeState;

static gpointer
transpose_create (const GliaGraph *graph, gint node, GError **error)
{
  TransposeState s = { 0 };
  guint n = 0;
  const gint64 *perm = glia_graph_node_get_attr_ints (graph, node, "perm", &n);
  gboolean seen[GLIA_MAX_RANK] = { FALSE };
  if (n > GLIA_MAX_RANK) {
    cpu_node_error (error, graph, node, "attribute 'perm' has %u values, at most %d are supported",
                    n, GLIA_MAX_RANK);
    return NULL;
  }
  for (guint i = 0; i < n; i++) {
    if (perm[i] < 0 || perm[i] >= n || seen[perm[i]]) {
      cpu_node_error (error, graph, node, "attribute 'perm' is not a permutation of 0..%u", n - 1);
      return NULL;
    }
    seen[perm[i]] = TRUE;
    s.perm[i] = (guint)perm[i];
  }
  s.n_perm = n;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
transpose_perm (const TransposeState *s, guint rank, guint *perm)
{
  if (s->n_perm == 0) {
    for (guint i = 0; i < rank; i++)
      perm[i] = rank - 1 - i;
    return TRUE;
  }
  if (s->n_perm != rank)
    return FALSE;
  memcpy (perm, s->perm, rank * sizeof (guint));
  return TRUE;
}

static gboolean
transpose_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  g_autoptr (GError) local = NULL;
  g_autofree TransposeState *s
      = transpose_create (graph, glia_shape_context_get_node (ctx), &local);
  guint perm[GLIA_MAX_RANK];
  if (s == NULL) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  if (!transpose_perm (s, (guint)rank, perm)) {
    cpu_shape_error (error, ctx, "attribute 'perm' has %u values for an input of rank %d",
                     s->n_perm, rank);
    return FALSE;
  }
  const gint64 *in = glia_shape_context_get_input_dims (ctx, 0);
  gint64 out[GLIA_MAX_RANK];
  for (gint i = 0; i < rank; i++)
    out[i] = in[perm[i]];
  glia_shape_context_set_output (ctx, 0, dtype, rank, out);
  return TRUE;
}

/* Output rows [.., R, C] where input element (r, c) of a batch is at
 * r + c * stride: tiled, so both sides touch whole cache lines. */
#define TRANSPOSE_TILE 8

static gboolean
transpose_is_2d (const CpuBroadcast *bc, gsize size)
{
  return size == 4 && bc->rank >= 2 && bc->strides[0][bc->rank - 2] == 1
         && bc->strides[0][bc->rank - 1] > 1 && bc->dims[bc->rank - 1] >= TRANSPOSE_TILE
         && bc->dims[bc->rank - 2] >= TRANSPOSE_TILE;
}

static void
transpose_2d_chunk (gsize begin, gsize end, gpointer user_data)
{
  const GatherJob *job = user_data;
  const CpuBroadcast *bc = &job->bc;
  gsize rows = (gsize)bc->dims[bc->rank - 2], cols = (gsize)bc->dims[bc->rank - 1];
  gsize stride = (gsize)bc->strides[0][bc->rank - 1];
  for (gsize o = begin; o < end; o++) {
    CpuBroadcastPos pos;
    cpu_broadcast_seek (bc, o * rows, &pos);
    const guint32 *src = (const guint32 *)job->src + pos.offset[0];
    guint32 *dst = (guint32 *)job->dst + o * rows * cols;
    for (gsize r0 = 0; r0 < rows; r0 += TRANSPOSE_TILE)
      for (gsize c0 = 0; c0 < cols; c0 += TRANSPOSE_TILE) {
        gsize r1 = MIN (r0 + TRANSPOSE_TILE, rows), c1 = MIN (c0 + TRANSPOSE_TILE, cols);
        for (gsize r = r0; r < r1; r++)
          for (gsize c = c0; c < c1; c++)
            dst[r * cols + c] = src[r + c * stride];
      }
  }
}

static gboolean
transpose_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const TransposeState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  guint perm[GLIA_MAX_RANK];
  if (x == NULL || !check_bytes_dtype (ctx, x, error))
    return FALSE;
  if (!transpose_perm (s, x->rank, perm)) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "'perm' has %u values for input %s",
                      s->n_perm, d);
    return FALSE;
  }
  gint64 in_strides[GLIA_MAX_RANK], out[GLIA_MAX_RANK];
  gint64 strides[CPU_BROADCAST_MAX_INPUTS][GLIA_MAX_RANK];
  cpu_contiguous_strides (x->rank, x->dims, in_strides);
  for (guint i = 0; i < x->rank; i++) {
    out[i] = x->dims[perm[i]];
    strides[0][i] = in_strides[perm[i]];
  }
  /* moving only axes of size 1 (a batch of one going from first to second
   * place) keeps the element order: the output is the input reshaped */
  gboolean same_order = TRUE;
  for (guint i = 0, last = 0; i < x->rank && same_order; i++)
    if (x->dims[perm[i]] != 1) {
      same_order = perm[i] >= last;
      last = perm[i];
    }
  if (same_order)
    return glia_kernel_context_set_output_view (ctx, 0, 0, x->rank, out, error) != NULL;
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, out, error);
  if (y == NULL)
    return FALSE;
  GatherJob job
      = { .src = x->data, .base = 0, .dst = y->data, .size = glia_data_type_get_size (x->dtype) };
  cpu_broadcast_init_strided (&job.bc, x->rank, out, 1, strides);
  if (y->n_elements && transpose_is_2d (&job.bc, job.size)) {
    gsize plane = (gsize)(job.bc.dims[job.bc.rank - 2] * job.bc.dims[job.bc.rank - 1]);
    glia_kernel_context_parallel_for (ctx, y->n_elements / plane, MAX (1, COPY_GRAIN / plane),
                                      transpose_2d_chunk, &job);
    return TRUE;
  }
  run_gather (ctx, &job, y->n_elements);
  return TRUE;
}

/* ======================================================================== */
/* Squeeze / Unsqueeze                                                       */
/* ======================================================================== */

/* Axes from the attribute (before opset 13) or input 1 (since). */
typedef struct
{
  gboolean from_input;
  gsize n_axes;
  gint64 axes[GLIA_MAX_RANK];
} AxesState;

static gpointer
axes_create (const GliaGraph *graph, gint node, GError **error)
{
  AxesState s = { 0 };
  s.from_input = glia_graph_node_get_opset (graph, node) >= 13;
  if (!s.from_input) {
    guint n = 0;
    const gint64 *axes = glia_graph_node_get_attr_ints (graph, node, "axes", &n);
    if (n > GLIA_MAX_RANK) {
      cpu_node_error (error, graph, node, "attribute 'axes' has too many values (%u)", n);
      return NULL;
    }
    if (n)
      memcpy (s.axes, axes, n * sizeof (gint64));
    s.n_axes = n;
    if (axes == NULL && g_str_equal (glia_graph_node_get_op_type (graph, node), "Unsqueeze")) {
      cpu_node_error (error, graph, node, "attribute 'axes' is required");
      return NULL;
    }
  }
  return g_memdup2 (&s, sizeof s);
}

/* Marks the normalised @axes (against @rank) in @mask; FALSE on a bad or
 * repeated axis. */
static gboolean
axes_mask (const gint64 *axes, gsize n, guint rank, gboolean *mask, char **why)
{
  memset (mask, 0, GLIA_MAX_RANK * sizeof (gboolean));
  for (gsize i = 0; i < n; i++) {
    guint a;
    if (!cpu_normalize_axis (axes[i], rank, &a)) {
      *why = g_strdup_printf ("axis %" G_GINT64_FORMAT " is out of range for rank %u", axes[i],
                              rank);
      return FALSE;
    }
    if (mask[a]) {
      *why = g_strdup_printf ("axis %" G_GINT64_FORMAT " is repeated", axes[i]);
      return FALSE;
    }
    mask[a] = TRUE;
  }
  return TRUE;
}

/* Squeeze: drop the masked dims (or every 1 when no axes are given). */
static gboolean
squeeze_dims (gboolean have_axes, const gint64 *axes, gsize n, guint rank, const gint64 *in,
              guint *out_rank, gint64 *out, char **why)
{
  gboolean mask[GLIA_MAX_RANK];
  if (have_axes && !axes_mask (axes, n, rank, mask, why))
    return FALSE;
  *out_rank = 0;
  for (guint i = 0; i < rank; i++) {
    gboolean drop = have_axes ? mask[i] : in[i] == 1;
    if (drop && have_axes && in[i] != 1 && in[i] >= 0) {
      g_autofree char *d = cpu_dims_to_string (rank, in);
      *why = g_strdup_printf ("cannot squeeze axis %u of %s: its size is not 1", i, d);
      return FALSE;
    }
    if (!drop)
      out[(*out_rank)++] = in[i];
  }
  return TRUE;
}

static gboolean
unsqueeze_dims (const gint64 *axes, gsize n, guint rank, const gint64 *in, guint *out_rank,
                gint64 *out, char **why)
{
  gboolean mask[GLIA_MAX_RANK];
  guint r = rank + (guint)n;
  if (r > GLIA_MAX_RANK) {
    *why = g_strdup_printf ("the result would have rank %u, more than %d", r, GLIA_MAX_RANK);
    return FALSE;
  }
  if (!axes_mask (axes, n, r, mask, why))
    return FALSE;
  for (guint i = 0, j = 0; i < r; i++)
    out[i] = mask[i] ? 1 : in[j++];
  *out_rank = r;
  return TRUE;
}

static gboolean
squeeze_infer_common (GliaShapeContext *ctx, gboolean squeeze, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 axes[GLIA_MAX_RANK];
  gsize n = 0;
  gboolean have_axes;

  if (glia_graph_node_get_opset (graph, node) >= 13) {
    gboolean has_input
        = glia_shape_context_get_n_inputs (ctx) > 1 && glia_shape_context_has_input (ctx, 1);
    have_axes = has_input;
    if (has_input && !cpu_shape_context_get_ints (ctx, 1, axes, GLIA_MAX_RANK, &n)) {
      glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
      return TRUE;
    }
  } else {
    guint na = 0;
    const gint64 *a = glia_graph_node_get_attr_ints (graph, node, "axes", &na);
    have_axes = a != NULL;
    n = MIN (na, GLIA_MAX_RANK);
    if (n)
      memcpy (axes, a, n * sizeof (gint64));
  }
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  const gint64 *in = glia_shape_context_get_input_dims (ctx, 0);
  gint64 out[GLIA_MAX_RANK];
  guint out_rank;
  g_autofree char *why = NULL;
  gboolean ok;
  if (squeeze) {
    if (!have_axes)
      for (gint i = 0; i < rank; i++)
        if (in[i] < 0) {
          /* Which dims are 1 is unknown. */
          glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
          return TRUE;
        }
    ok = squeeze_dims (have_axes, axes, n, (guint)rank, in, &out_rank, out, &why);
  } else
    ok = unsqueeze_dims (axes, n, (guint)rank, in, &out_rank, out, &why);
  if (!ok) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, (gint)out_rank, out);
  return TRUE;
}

static gboolean
squeeze_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  return squeeze_infer_common (ctx, TRUE, error);
}

static gboolean
unsqueeze_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  return squeeze_infer_common (ctx, FALSE, error);
}

static gboolean
squeeze_compute_common (const AxesState *s, GliaKernelContext *ctx, gboolean squeeze,
                        GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  gint64 axes[GLIA_MAX_RANK], out[GLIA_MAX_RANK];
  gsize n = s->n_axes;
  gboolean have_axes = !s->from_input && s->n_axes > 0;
  guint out_rank;
  if (x == NULL || !check_bytes_dtype (ctx, x, error))
    return FALSE;
  if (s->from_input) {
    const GliaTensorView *a = glia_kernel_context_get_n_inputs (ctx) > 1
                                  ? glia_kernel_context_get_input (ctx, 1)
                                  : NULL;
    if (a == NULL && !squeeze) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "input 1 (axes) is required");
      return FALSE;
    }
    n = 0;
    if (a && !cpu_read_ints_input (ctx, a, "axes", axes, GLIA_MAX_RANK, &n, error))
      return FALSE;
    have_axes = a != NULL;
  } else
    memcpy (axes, s->axes, n * sizeof (gint64));

  g_autofree char *why = NULL;
  gboolean ok = squeeze ? squeeze_dims (have_axes, axes, n, x->rank, x->dims, &out_rank, out, &why)
                        : unsqueeze_dims (axes, n, x->rank, x->dims, &out_rank, out, &why);
  if (!ok) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  return glia_kernel_context_set_output_view (ctx, 0, 0, out_rank, out, error) != NULL;
}

static gboolean
squeeze_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  return squeeze_compute_common (state, ctx, TRUE, error);
}

static gboolean
unsqueeze_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  return squeeze_compute_common (state, ctx, FALSE, error);
}

/* ======================================================================== */
/* Concat                                                                    */
/* ======================================================================== */

static gpointer
concat_create (const GliaGraph *graph, gint node, GError **error)
{
  if (glia_graph_node_get_attr_type (graph, node, "axis") != GLIA_ATTR_INT) {
    cpu_node_error (error, graph, node, "attribute 'axis' is required");
    return NULL;
  }
  AxisState s = { glia_graph_node_get_attr_int (graph, node, "axis", 0) };
  return g_memdup2 (&s, sizeof s);
}

static gboolean
concat_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint64 axis_attr = glia_graph_node_get_attr_int (graph, node, "axis", 0);
  guint n = glia_shape_context_get_n_inputs (ctx);
  gint rank = -1;
  gint64 out[GLIA_MAX_RANK];
  guint axis = 0;

  for (guint i = 0; i < n; i++) {
    gint r = glia_shape_context_get_input_rank (ctx, i);
    if (r < 0)
      continue;
    const gint64 *d = glia_shape_context_get_input_dims (ctx, i);
    if (rank < 0) {
      rank = r;
      if (!cpu_normalize_axis (axis_attr, (guint)rank, &axis)) {
        cpu_shape_error (error, ctx,
                         "attribute 'axis' = %" G_GINT64_FORMAT " is out of range for rank %d",
                         axis_attr, rank);
        return FALSE;
      }
      memcpy (out, d, (gsize)r * sizeof (gint64));
      out[axis] = 0;
    } else if (r != rank) {
      cpu_shape_error (error, ctx, "inputs have different ranks (%d and %d)", rank, r);
      return FALSE;
    }
    for (guint j = 0; j < (guint)r; j++) {
      if (j == axis)
        continue;
      if (out[j] < 0)
        out[j] = d[j];
      else if (d[j] >= 0 && d[j] != out[j]) {
        cpu_shape_error (error, ctx,
                         "inputs differ in dim %u (%" G_GINT64_FORMAT " and %" G_GINT64_FORMAT ")",
                         j, out[j], d[j]);
        return FALSE;
      }
    }
  }
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  for (guint i = 0; i < n; i++) {
    gint r = glia_shape_context_get_input_rank (ctx, i);
    const gint64 *d = r >= 0 ? glia_shape_context_get_input_dims (ctx, i) : NULL;
    if (d == NULL || d[axis] < 0 || out[axis] < 0)
      out[axis] = -1;
    else
      out[axis] += d[axis];
  }
  glia_shape_context_set_output (ctx, 0, dtype, rank, out);
  return TRUE;
}

typedef struct
{
  guint n_inputs;
  const GliaTensorView **in;
  gsize *block; /* bytes per outer index of each input */
  gsize out_block;
  guint8 *out;
} ConcatJob;

static void
concat_chunk (gsize begin, gsize end, gpointer user_data)
{
  const ConcatJob *job = user_data;
  for (gsize o = begin; o < end; o++) {
    guint8 *dst = job->out + o * job->out_block;
    for (guint i = 0; i < job->n_inputs; i++) {
      memcpy (dst, (const guint8 *)job->in[i]->data + o * job->block[i], job->block[i]);
      dst += job->block[i];
    }
  }
}

static gboolean
concat_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const AxisState *s = state;
  guint n = glia_kernel_context_get_n_inputs (ctx);
  const GliaTensorView **in = g_newa (const GliaTensorView *, MAX (n, 1));
  gsize *block = g_newa (gsize, MAX (n, 1));
  guint axis;

  if (n == 0) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "needs at least one input");
    return FALSE;
  }
  for (guint i = 0; i < n; i++)
    if ((in[i] = cpu_require_input (ctx, i, error)) == NULL
        || !check_bytes_dtype (ctx, in[i], error))
      return FALSE;
  const GliaTensorView *x = in[0];
  if (!cpu_normalize_axis (s->axis, x->rank, &axis)) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for input %s", s->axis, d);
    return FALSE;
  }
  gint64 out[GLIA_MAX_RANK];
  memcpy (out, x->dims, x->rank * sizeof (gint64));
  out[axis] = 0;
  gsize esize = glia_data_type_get_size (x->dtype);
  gsize inner = cpu_numel_range (x->dims, axis + 1, x->rank);
  for (guint i = 0; i < n; i++) {
    gboolean ok = in[i]->rank == x->rank && in[i]->dtype == x->dtype;
    for (guint j = 0; ok && j < x->rank; j++)
      ok = j == axis || in[i]->dims[j] == x->dims[j];
    if (!ok) {
      g_autofree char *d0 = cpu_dims_to_string (x->rank, x->dims);
      g_autofree char *di = cpu_dims_to_string (in[i]->rank, in[i]->dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "input %u (%s %s) does not match input 0 (%s %s) outside axis %u", i,
                        glia_data_type_get_name (in[i]->dtype), di,
                        glia_data_type_get_name (x->dtype), d0, axis);
      return FALSE;
    }
    out[axis] += in[i]->dims[axis];
    block[i] = (gsize)in[i]->dims[axis] * inner * esize;
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, out, error);
  if (y == NULL)
    return FALSE;
  gsize outer = cpu_numel_range (x->dims, 0, axis);
  gsize out_block = (gsize)out[axis] * inner * esize;
  if (y->n_elements == 0)
    return TRUE;
  ConcatJob job = { n, in, block, out_block, y->data };
  glia_kernel_context_parallel_for (ctx, outer, MAX (1, COPY_GRAIN * 4 / MAX (out_block, 1)),
                                    concat_chunk, &job);
  return TRUE;
}

/* ======================================================================== */
/* Shape                                                                     */
/* ======================================================================== */

typedef struct
{
  gint64 start;
  gint64 end;
  gboolean has_end;
} ShapeState;

static gpointer
shape_create (const GliaGraph *graph, gint node, GError **error)
{
  ShapeState s;
  s.start = glia_graph_node_get_attr_int (graph, node, "start", 0);
  s.has_end = glia_graph_node_has_attr (graph, node, "end");
  s.end = glia_graph_node_get_attr_int (graph, node, "end", 0);
  return g_memdup2 (&s, sizeof s);
}

static void
shape_range (const ShapeState *s, guint rank, guint *begin, guint *end)
{
  gint64 b = s->start < 0 ? s->start + rank : s->start;
  gint64 e = s->has_end ? (s->end < 0 ? s->end + rank : s->end) : rank;
  b = CLAMP (b, 0, (gint64)rank);
  e = CLAMP (e, 0, (gint64)rank);
  *begin = (guint)b;
  *end = (guint)MAX (b, e);
}

static gboolean
shape_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 len = -1;
  if (rank >= 0) {
    g_autofree ShapeState *s = shape_create (graph, glia_shape_context_get_node (ctx), NULL);
    guint b, e;
    shape_range (s, (guint)rank, &b, &e);
    len = e - b;
  }
  glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_INT64, 1, &len);
  return TRUE;
}

static gboolean
shape_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL)
    return FALSE;
  guint b, e;
  shape_range (state, x->rank, &b, &e);
  gint64 len = e - b;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_INT64, 1, &len, error);
  if (y == NULL)
    return FALSE;
  if (len)
    memcpy (y->data, x->dims + b, (gsize)len * sizeof (gint64));
  return TRUE;
}

/* ======================================================================== */
/* Gather                                                                    */
/* ======================================================================== */

static gpointer
gather_create (const GliaGraph *graph, gint node, GError **error)
{
  AxisState s = { glia_graph_node_get_attr_int (graph, node, "axis", 0) };
  return g_memdup2 (&s, sizeof s);
}

static gboolean
gather_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint r = glia_shape_context_get_input_rank (ctx, 0);
  gint q = glia_shape_context_get_input_rank (ctx, 1);
  gint64 axis_attr
      = glia_graph_node_get_attr_int (graph, glia_shape_context_get_node (ctx), "axis", 0);
  guint axis;
  if (r < 0 || q < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  if (!cpu_normalize_axis (axis_attr, (guint)r, &axis) || r + q - 1 > GLIA_MAX_RANK) {
    cpu_shape_error (error, ctx,
                     "attribute 'axis' = %" G_GINT64_FORMAT
                     " is out of range for rank %d (or the result is too large)",
                     axis_attr, r);
    return FALSE;
  }
  const gint64 *d = glia_shape_context_get_input_dims (ctx, 0);
  const gint64 *id = glia_shape_context_get_input_dims (ctx, 1);
  gint64 out[GLIA_MAX_RANK];
  guint k = 0;
  for (guint i = 0; i < axis; i++)
    out[k++] = d[i];
  for (gint i = 0; i < q; i++)
    out[k++] = id[i];
  for (guint i = axis + 1; i < (guint)r; i++)
    out[k++] = d[i];
  glia_shape_context_set_output (ctx, 0, dtype, (gint)k, out);
  return TRUE;
}

typedef struct
{
  const guint8 *src;
  guint8 *dst;
  const GliaTensorView *indices;
  gsize n_indices;
  gint64 axis_dim;
  gsize block; /* bytes copied per index */
} GatherIndexJob;

/* Where gathered block @k starts in the source. */
static inline const guint8 *
gather_block_src (const GatherIndexJob *job, gsize k)
{
  gsize o = k / job->n_indices, j = k % job->n_indices;
  gint64 idx = cpu_index_at (job->indices, j);
  if (idx < 0)
    idx += job->axis_dim;
  return job->src + (o * (gsize)job->axis_dim + (gsize)idx) * job->block;
}

/* Rows of a table in memory (an embedding lookup) are each a cache miss
 * the hardware cannot foresee: the first lines of the row GATHER_AHEAD
 * blocks on are fetched while this one is copied. */
#define GATHER_AHEAD      4
#define GATHER_AHEAD_MAX  1024 /* bytes of it */
#define GATHER_AHEAD_FROM 256  /* blocks smaller than this are not worth it */

static void
gather_index_chunk (gsize begin, gsize end, gpointer user_data)
{
  const GatherIndexJob *job = user_data;
  gboolean ahead = job->block >= GATHER_AHEAD_FROM;
  for (gsize k = begin; k < end; k++) {
    if (ahead && k + GATHER_AHEAD < end) {
      const guint8 *next = gather_block_src (job, k + GATHER_AHEAD);
      for (gsize off = 0; off < MIN (job->block, (gsize)GATHER_AHEAD_MAX); off += 64)
        __builtin_prefetch (next + off);
    }
    memcpy (job->dst + k * job->block, gather_block_src (job, k), job->block);
  }
}

static gboolean
gather_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const AxisState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *ind = x ? cpu_require_input (ctx, 1, error) : NULL;
  guint axis;
  if (ind == NULL || !check_bytes_dtype (ctx, x, error))
    return FALSE;
  if (ind->dtype != GLIA_DATA_TYPE_INT32 && ind->dtype != GLIA_DATA_TYPE_INT64) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "indices must be int32 or int64, got %s",
                      glia_data_type_get_name (ind->dtype));
    return FALSE;
  }
  if (!cpu_normalize_axis (s->axis, x->rank, &axis) || x->rank + ind->rank - 1 > GLIA_MAX_RANK) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "axis %" G_GINT64_FORMAT " is out of range for data %s", s->axis, d);
    return FALSE;
  }
  gint64 axis_dim = x->dims[axis];
  for (gsize i = 0; i < ind->n_elements; i++) {
    gint64 idx = cpu_index_at (ind, i);
    if (idx < -axis_dim || idx >= axis_dim) {
      g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "index %" G_GINT64_FORMAT " is out of range for axis %u of data %s", idx,
                        axis, d);
      return FALSE;
    }
  }

  gint64 out[GLIA_MAX_RANK];
  guint k = 0;
  for (guint i = 0; i < axis; i++)
    out[k++] = x->dims[i];
  for (guint i = 0; i < ind->rank; i++)
    out[k++] = ind->dims[i];
  for (guint i = axis + 1; i < x->rank; i++)
    out[k++] = x->dims[i];
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, k, out, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  GatherIndexJob job = {
    x->data,  y->data,
    ind,      ind->n_elements,
    axis_dim, cpu_numel_range (x->dims, axis + 1, x->rank) * glia_data_type_get_size (x->dtype)
  };
  gsize outer = cpu_numel_range (x->dims, 0, axis);
  glia_kernel_context_parallel_for (ctx, outer * ind->n_elements,
                                    MAX (1, COPY_GRAIN * 4 / MAX (job.block, 1)),
                                    gather_index_chunk, &job);
  return TRUE;
}

/* ======================================================================== */
/* Slice                                                                     */
/* ======================================================================== */

typedef struct
{
  gboolean from_inputs; /* opset 10+ */
  gsize n;
  gint64 starts[GLIA_MAX_RANK], ends[GLIA_MAX_RANK], axes[GLIA_MAX_RANK];
  gboolean has_axes;
} SliceState;

static gpointer
slice_create (const GliaGraph *graph, gint node, GError **error)
{
  SliceState s = { 0 };
  s.from_inputs = glia_graph_node_get_opset (graph, node) >= 10;
  if (!s.from_inputs) {
    guint ns = 0, ne = 0, na = 0;
    const gint64 *st = glia_graph_node_get_attr_ints (graph, node, "starts", &ns);
    const gint64 *en = glia_graph_node_get_attr_ints (graph, node, "ends", &ne);
    const gint64 *ax = glia_graph_node_get_attr_ints (graph, node, "axes", &na);
    if (st == NULL || en == NULL || ns != ne || (ax && na != ns) || ns > GLIA_MAX_RANK) {
      cpu_node_error (error, graph, node,
                      "attributes 'starts' and 'ends' (and 'axes') are required and must have "
                      "the same length (at most %d)",
                      GLIA_MAX_RANK);
      return NULL;
    }
    s.n = ns;
    memcpy (s.starts, st, ns * sizeof (gint64));
    memcpy (s.ends, en, ns * sizeof (gint64));
    if (ax)
      memcpy (s.axes, ax, ns * sizeof (gint64));
    s.has_axes = ax != NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

typedef struct
{
  gsize n;
  gint64 starts[GLIA_MAX_RANK], ends[GLIA_MAX_RANK], axes[GLIA_MAX_RANK], steps[GLIA_MAX_RANK];
  gboolean has_axes, has_steps;
} SliceArgs;

/* Per input dim: first index, step and output length. */
static gboolean
slice_resolve (const SliceArgs *a, guint rank, const gint64 *in, gint64 *first, gint64 *step,
               gint64 *out, char **why)
{
  gboolean seen[GLIA_MAX_RANK] = { FALSE };
  for (guint i = 0; i < rank; i++) {
    first[i] = 0;
    step[i] = 1;
    out[i] = in[i];
  }
  for (gsize k = 0; k < a->n; k++) {
    guint axis;
    gint64 ax = a->has_axes ? a->axes[k] : (gint64)k;
    if (!cpu_normalize_axis (ax, rank, &axis) || seen[axis]) {
      *why = g_strdup_printf ("axis %" G_GINT64_FORMAT " is out of range for rank %u or repeated",
                              ax, rank);
      return FALSE;
    }
    seen[axis] = TRUE;
    gint64 st = a->has_steps ? a->steps[k] : 1;
    if (st == 0) {
      *why = g_strdup ("steps must not be 0");
      return FALSE;
    }
    step[axis] = st;
    gint64 d = in[axis];
    if (d < 0) {
      out[axis] = -1;
      continue;
    }
    gint64 s = a->starts[k], e = a->ends[k];
    /* Clamp as the spec says; INT64 extremes stand for "to the end". */
    if (s < 0)
      s = s < -d ? -d - 1 : s + d;
    if (e < 0)
      e = e < -d ? -d - 1 : e + d;
    if (st > 0) {
      s = CLAMP (s, 0, d);
      e = CLAMP (e, 0, d);
      out[axis] = e > s ? (e - s + st - 1) / st : 0;
    } else {
      s = CLAMP (s, -1, d - 1);
      e = CLAMP (e, -1, d - 1);
      out[axis] = s > e ? (s - e + (-st) - 1) / (-st) : 0;
    }
    first[axis] = s;
  }
  return TRUE;
}

static gboolean
slice_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  SliceArgs a = { 0 };
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  gint64 unknown[GLIA_MAX_RANK];
  for (gint i = 0; i < rank; i++)
    unknown[i] = -1;

  if (glia_graph_node_get_opset (graph, node) >= 10) {
    guint n_in = glia_shape_context_get_n_inputs (ctx);
    gsize ns = 0, ne = 0, na = 0, nst = 0;
    if (!cpu_shape_context_get_ints (ctx, 1, a.starts, GLIA_MAX_RANK, &ns)
        || !cpu_shape_context_get_ints (ctx, 2, a.ends, GLIA_MAX_RANK, &ne)) {
      glia_shape_context_set_output (ctx, 0, dtype, rank, unknown);
      return TRUE;
    }
    a.has_axes = n_in > 3 && glia_shape_context_has_input (ctx, 3);
    a.has_steps = n_in > 4 && glia_shape_context_has_input (ctx, 4);
    if ((a.has_axes && !cpu_shape_context_get_ints (ctx, 3, a.axes, GLIA_MAX_RANK, &na))
        || (a.has_steps && !cpu_shape_context_get_ints (ctx, 4, a.steps, GLIA_MAX_RANK, &nst))) {
      glia_shape_context_set_output (ctx, 0, dtype, rank, unknown);
      return TRUE;
    }
    if (ns != ne || (a.has_axes && na != ns) || (a.has_steps && nst != ns)) {
      cpu_shape_error (error, ctx, "starts, ends, axes and steps differ in length");
      return FALSE;
    }
    a.n = ns;
  } else {
    g_autoptr (GError) local = NULL;
    g_autofree SliceState *s = slice_create (graph, node, &local);
    if (s == NULL) {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
    a.n = s->n;
    memcpy (a.starts, s->starts, sizeof a.starts);
    memcpy (a.ends, s->ends, sizeof a.ends);
    memcpy (a.axes, s->axes, sizeof a.axes);
    a.has_axes = s->has_axes;
  }
  gint64 first[GLIA_MAX_RANK], step[GLIA_MAX_RANK], out[GLIA_MAX_RANK];
  g_autofree char *why = NULL;
  if (!slice_resolve (&a, (guint)rank, glia_shape_context_get_input_dims (ctx, 0), first, step, out,
                      &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, rank, out);
  return TRUE;
}

static gboolean
slice_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const SliceState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  SliceArgs a = { 0 };
  if (x == NULL || !check_bytes_dtype (ctx, x, error))
    return FALSE;

  if (s->from_inputs) {
    static const char *const names[] = { "starts", "ends", "axes", "steps" };
    gint64 *dst[] = { a.starts, a.ends, a.axes, a.steps };
    gsize counts[4] = { 0 };
    guint n_in = glia_kernel_context_get_n_inputs (ctx);
    for (guint i = 0; i < 4; i++) {
      const GliaTensorView *v = i + 1 < n_in ? glia_kernel_context_get_input (ctx, i + 1) : NULL;
      if (v == NULL && i < 2)
        return cpu_require_input (ctx, i + 1, error) != NULL;
      if (v && !cpu_read_ints_input (ctx, v, names[i], dst[i], GLIA_MAX_RANK, &counts[i], error))
        return FALSE;
      if (i == 2)
        a.has_axes = v != NULL;
      if (i == 3)
        a.has_steps = v != NULL;
    }
    if (counts[0] != counts[1] || (a.has_axes && counts[2] != counts[0])
        || (a.has_steps && counts[3] != counts[0])) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "starts, ends, axes and steps differ in length (%" G_GSIZE_FORMAT
                        ", %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ")",
                        counts[0], counts[1], counts[2], counts[3]);
      return FALSE;
    }
    a.n = counts[0];
  } else {
    a.n = s->n;
    memcpy (a.starts, s->starts, sizeof a.starts);
    memcpy (a.ends, s->ends, sizeof a.ends);
    memcpy (a.axes, s->axes, sizeof a.axes);
    a.has_axes = s->has_axes;
  }

  gint64 first[GLIA_MAX_RANK], step[GLIA_MAX_RANK], out[GLIA_MAX_RANK];
  g_autofree char *why = NULL;
  if (!slice_resolve (&a, x->rank, x->dims, first, step, out, &why)) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s (data %s)", why, d);
    return FALSE;
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, out, error);
  if (y == NULL)
    return FALSE;

  gint64 in_strides[GLIA_MAX_RANK];
  gint64 strides[CPU_BROADCAST_MAX_INPUTS][GLIA_MAX_RANK];
  cpu_contiguous_strides (x->rank, x->dims, in_strides);
  GatherJob job
      = { .src = x->data, .base = 0, .dst = y->data, .size = glia_data_type_get_size (x->dtype) };
  for (guint i = 0; i < x->rank; i++) {
    job.base += first[i] * in_strides[i];
    strides[0][i] = step[i] * in_strides[i];
  }
  if (y->n_elements == 0)
    return TRUE;
  cpu_broadcast_init_strided (&job.bc, x->rank, out, 1, strides);
  run_gather (ctx, &job, y->n_elements);
  return TRUE;
}

/* ======================================================================== */
/* Expand                                                                    */
/* ======================================================================== */

static gboolean
expand_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 shape[GLIA_MAX_RANK], out[GLIA_MAX_RANK];
  gsize n;
  guint out_rank;
  if (rank < 0 || !cpu_shape_context_get_ints (ctx, 1, shape, GLIA_MAX_RANK, &n)) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  const gint64 *in = glia_shape_context_get_input_dims (ctx, 0);
  if (!cpu_broadcast_dims ((guint)rank, in, (guint)n, shape, &out_rank, out)) {
    g_autofree char *di = cpu_dims_to_string ((guint)rank, in);
    g_autofree char *ds = cpu_dims_to_string ((guint)n, shape);
    cpu_shape_error (error, ctx, "input %s cannot be expanded to %s", di, ds);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, (gint)out_rank, out);
  return TRUE;
}

static gboolean
expand_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *sv = x ? cpu_require_input (ctx, 1, error) : NULL;
  gint64 shape[GLIA_MAX_RANK], out[GLIA_MAX_RANK];
  gsize n;
  guint out_rank;
  if (sv == NULL || !check_bytes_dtype (ctx, x, error)
      || !cpu_read_ints_input (ctx, sv, "shape", shape, GLIA_MAX_RANK, &n, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (shape[i] < 0) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "shape[%" G_GSIZE_FORMAT "] = %" G_GINT64_FORMAT " is negative", i,
                        shape[i]);
      return FALSE;
    }
  if (!cpu_broadcast_dims (x->rank, x->dims, (guint)n, shape, &out_rank, out)) {
    g_autofree char *di = cpu_dims_to_string (x->rank, x->dims);
    g_autofree char *ds = cpu_dims_to_string ((guint)n, shape);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "input %s cannot be expanded to %s",
                      di, ds);
    return FALSE;
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, out_rank, out, error);
  if (y == NULL)
    return FALSE;
  GatherJob job
      = { .src = x->data, .base = 0, .dst = y->data, .size = glia_data_type_get_size (x->dtype) };
  const guint ranks[1] = { x->rank };
  const gint64 *dims[1] = { x->dims };
  cpu_broadcast_init (&job.bc, out_rank, out, 1, ranks, dims);
  run_gather (ctx, &job, y->n_elements);
  return TRUE;
}

/* ======================================================================== */
/* Constant                                                                  */
/* ======================================================================== */

typedef struct
{
  GliaDataType dtype;
  guint rank;
  gint64 dims[GLIA_MAX_RANK];
  GBytes *data;
} ConstantState;

static void
constant_free (gpointer p)
{
  ConstantState *s = p;
  if (s == NULL)
    return;
  g_clear_pointer (&s->data, g_bytes_unref);
  g_free (s);
}

static gpointer
constant_create (const GliaGraph *graph, gint node, GError **error)
{
  ConstantState *s = g_new0 (ConstantState, 1);
  guint n = 0;
  const GliaConstTensor *t;

  if ((t = glia_graph_node_get_attr_tensor (graph, node, "value")) != NULL) {
    if (t->rank > GLIA_MAX_RANK || t->dtype == GLIA_DATA_TYPE_STRING
        || glia_data_type_get_size (t->dtype) == 0) {
      cpu_node_error (error, graph, node, "attribute 'value' has an unsupported type %s or rank %u",
                      glia_data_type_get_name (t->dtype), t->rank);
      constant_free (s);
      return NULL;
    }
    s->dtype = t->dtype;
    s->rank = t->rank;
    if (t->rank)
      memcpy (s->dims, t->dims, t->rank * sizeof (gint64));
    s->data = t->data ? g_bytes_ref (t->data) : g_bytes_new (NULL, 0);
    gsize need = cpu_numel (s->rank, s->dims) * glia_data_type_get_size (s->dtype);
    if (g_bytes_get_size (s->data) != need) {
      cpu_node_error (error, graph, node,
                      "attribute 'value' holds %" G_GSIZE_FORMAT " bytes, its shape needs "
                      "%" G_GSIZE_FORMAT,
                      g_bytes_get_size (s->data), need);
      constant_free (s);
      return NULL;
    }
  } else if (glia_graph_node_get_attr_type (graph, node, "value_float") == GLIA_ATTR_FLOAT) {
    float v = glia_graph_node_get_attr_float (graph, node, "value_float", 0);
    s->dtype = GLIA_DATA_TYPE_FLOAT;
    s->data = g_bytes_new (&v, sizeof v);
  } else if (glia_graph_node_get_attr_type (graph, node, "value_int") == GLIA_ATTR_INT) {
    gint64 v = glia_graph_node_get_attr_int (graph, node, "value_int", 0);
    s->dtype = GLIA_DATA_TYPE_INT64;
    s->data = g_bytes_new (&v, sizeof v);
  } else if (glia_graph_node_get_attr_type (graph, node, "value_floats") == GLIA_ATTR_FLOATS) {
    const float *v = glia_graph_node_get_attr_floats (graph, node, "value_floats", &n);
    s->dtype = GLIA_DATA_TYPE_FLOAT;
    s->rank = 1;
    s->dims[0] = n;
    s->data = g_bytes_new (v, n * sizeof (float));
  } else if (glia_graph_node_get_attr_type (graph, node, "value_ints") == GLIA_ATTR_INTS) {
    const gint64 *v = glia_graph_node_get_attr_ints (graph, node, "value_ints", &n);
    s->dtype = GLIA_DATA_TYPE_INT64;
    s->rank = 1;
    s->dims[0] = n;
    s->data = g_bytes_new (v, n * sizeof (gint64));
  } else {
    cpu_node_error (error, graph, node,
                    "needs one of the attributes 'value', 'value_float', 'value_floats', "
                    "'value_int' or 'value_ints' (others are not supported)");
    constant_free (s);
    return NULL;
  }
  return s;
}

static gboolean
constant_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  ConstantState *s = constant_create (glia_shape_context_get_graph (ctx),
                                      glia_shape_context_get_node (ctx), error);
  if (s == NULL)
    return FALSE;
  glia_shape_context_set_output (ctx, 0, s->dtype, (gint)s->rank, s->dims);
  constant_free (s);
  return TRUE;
}

static gboolean
constant_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ConstantState *s = state;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, s->dtype, s->rank, s->dims, error);
  if (y == NULL)
    return FALSE;
  gsize size = 0;
  gconstpointer data = g_bytes_get_data (s->data, &size);
  if (size)
    memcpy (y->data, data, MIN (size, y->n_bytes));
  return TRUE;
}

/* ======================================================================== */
/* Op defs                                                                   */
/* ======================================================================== */

#define SHAPE_DEF(NAME, SINCE, UNTIL, DTYPES, INFER, CREATE, COMPUTE, DESTROY)                     \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = UNTIL, .dtypes = DTYPES, .infer_shapes = INFER, .create = CREATE,             \
    .compute = COMPUTE, .destroy = DESTROY,                                                        \
  }

static const GliaOpDef shape_ops[] = {
  /* Opset 5 made the shape an input; 14 added allowzero. */
  SHAPE_DEF ("Reshape", 5, G_MAXINT, DTYPES_BYTES, reshape_infer_shapes, reshape_create,
             reshape_compute, g_free),
  SHAPE_DEF ("Flatten", 1, G_MAXINT, DTYPES_BYTES, flatten_infer_shapes, flatten_create,
             flatten_compute, g_free),
  SHAPE_DEF ("Transpose", 1, G_MAXINT, DTYPES_BYTES, transpose_infer_shapes, transpose_create,
             transpose_compute, g_free),
  /* axes: an attribute before opset 13, an input since. */
  SHAPE_DEF ("Squeeze", 1, 12, DTYPES_BYTES, squeeze_infer_shapes, axes_create, squeeze_compute,
             g_free),
  SHAPE_DEF ("Squeeze", 13, G_MAXINT, DTYPES_BYTES, squeeze_infer_shapes, axes_create,
             squeeze_compute, g_free),
  SHAPE_DEF ("Unsqueeze", 1, 12, DTYPES_BYTES, unsqueeze_infer_shapes, axes_create,
             unsqueeze_compute, g_free),
  SHAPE_DEF ("Unsqueeze", 13, G_MAXINT, DTYPES_BYTES, unsqueeze_infer_shapes, axes_create,
             unsqueeze_compute, g_free),
  SHAPE_DEF ("Concat", 4, G_MAXINT, DTYPES_BYTES, concat_infer_shapes, concat_create,
             concat_compute, g_free),
  /* Opset 15 added start/end. */
  SHAPE_DEF ("Shape", 1, G_MAXINT, GLIA_DTYPES_ALL, shape_infer_shapes, shape_create, shape_compute,
             g_free),
  SHAPE_DEF ("Gather", 1, G_MAXINT, DTYPES_BYTES, gather_infer_shapes, gather_create,
             gather_compute, g_free),
  /* starts/ends/axes attributes before opset 10; inputs (with steps) since. */
  SHAPE_DEF ("Slice", 1, 9, DTYPES_BYTES, slice_infer_shapes, slice_create, slice_compute, g_free),
  SHAPE_DEF ("Slice", 10, G_MAXINT, DTYPES_BYTES, slice_infer_shapes, slice_create, slice_compute,
             g_free),
  SHAPE_DEF ("Expand", 8, G_MAXINT, DTYPES_BYTES, expand_infer_shapes, NULL, expand_compute, NULL),
  SHAPE_DEF ("Constant", 1, G_MAXINT, 0, constant_infer_shapes, constant_create, constant_compute,
             constant_free),
};

void
cpu_shape_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (shape_ops); i++)
    glia_op_table_add (table, &shape_ops[i]);
}
