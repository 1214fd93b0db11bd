/* cpu-sequence.c: sequence and optional operators.
 *
 * Sequences live in the host's frame; kernels read them with
 * glia_kernel_context_get_input_sequence() and produce them with
 * glia_kernel_context_set_output_sequence(), which copies the items. An
 * optional without a value is an input that reads as NULL, and an output
 * marked with glia_kernel_context_set_output_none().
 *
 * These defs are registered before the other families so that Identity on
 * a sequence or optional lands here (supports() accepts only those).
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static gboolean
read_position (GliaKernelContext *ctx, guint i, gint64 length, gboolean insert, gint64 *pos,
               GError **error)
{
  const GliaTensorView *p = glia_kernel_context_get_input (ctx, i);
  gint64 v;
  gsize n;
  if (p == NULL) {
    *pos = insert ? length : length - 1;
    return TRUE;
  }
  if (!cpu_view_get_ints (p, &v, 1, &n) || n != 1) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "position must be one integer");
    return FALSE;
  }
  gint64 limit = insert ? length : length - 1;
  if (v < -length || v > limit) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "position %" G_GINT64_FORMAT " is outside a sequence of %" G_GINT64_FORMAT, v,
                      length);
    return FALSE;
  }
  *pos = v < 0 ? v + length : v;
  return TRUE;
}

static gboolean
emit_tensor (GliaKernelContext *ctx, guint o, const GliaTensorView *v, GError **error)
{
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, o, v->dtype, v->rank, v->dims, error);
  if (y == NULL)
    return FALSE;
  if (v->dtype == GLIA_DATA_TYPE_STRING) {
    char **d = y->data;
    char *const *s = v->data;
    for (gsize i = 0; i < v->n_elements; i++)
      d[i] = g_strdup (s[i] ? s[i] : "");
  } else
    memcpy (y->data, v->data, v->n_bytes);
  return TRUE;
}

static gboolean
infer_sequence_of_input (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0), -1, NULL);
  glia_shape_context_set_output_kind (ctx, 0, GLIA_VALUE_KIND_SEQUENCE);
  return TRUE;
}

/* ---- SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceErase ---- */

static gboolean
empty_infer (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *g = glia_shape_context_get_graph (ctx);
  gint64 dt = glia_graph_node_get_attr_int (g, glia_shape_context_get_node (ctx), "dtype",
                                            GLIA_DATA_TYPE_FLOAT);
  glia_shape_context_set_output (ctx, 0, (GliaDataType)dt, -1, NULL);
  glia_shape_context_set_output_kind (ctx, 0, GLIA_VALUE_KIND_SEQUENCE);
  return TRUE;
}

static gpointer
empty_create (const GliaGraph *graph, gint node, GError **error)
{
  gint64 dt = glia_graph_node_get_attr_int (graph, node, "dtype", GLIA_DATA_TYPE_FLOAT);
  if (glia_data_type_get_size ((GliaDataType)dt) == 0 || dt > GLIA_DATA_TYPE_LAST)
    cpu_node_error (error, graph, node, "attribute dtype %" G_GINT64_FORMAT " is not a type", dt);
  return GINT_TO_POINTER ((gint)dt);
}

static gboolean
empty_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  return glia_kernel_context_set_output_sequence (ctx, 0, GPOINTER_TO_INT (state), 0, NULL, error);
}

static gboolean
construct_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  guint n = glia_kernel_context_get_n_inputs (ctx);
  g_autofree GliaTensorView *items = g_new0 (GliaTensorView, MAX (n, 1));
  for (guint i = 0; i < n; i++) {
    const GliaTensorView *v = cpu_require_input (ctx, i, error);
    if (v == NULL)
      return FALSE;
    if (v->dtype != items[0].dtype && i > 0) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "items differ in element type");
      return FALSE;
    }
    items[i] = *v;
  }
  return glia_kernel_context_set_output_sequence (ctx, 0, items[0].dtype, n, items, error);
}

static gboolean
seq_input (GliaKernelContext *ctx, guint i, const GliaTensorView **items, guint *length,
           GError **error)
{
  if (!glia_kernel_context_input_is_sequence (ctx, i)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "input %u must be a sequence", i);
    return FALSE;
  }
  *items = glia_kernel_context_get_input_sequence (ctx, i, length);
  return TRUE;
}

static gboolean
insert_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *items;
  guint len;
  if (!seq_input (ctx, 0, &items, &len, error))
    return FALSE;
  const GliaTensorView *t = cpu_require_input (ctx, 1, error);
  if (t == NULL)
    return FALSE;
  GliaDataType dtype = glia_kernel_context_get_input_sequence_dtype (ctx, 0);
  if (t->dtype != dtype) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "cannot insert a %s tensor into a sequence of %s",
                      glia_data_type_get_name (t->dtype), glia_data_type_get_name (dtype));
    return FALSE;
  }
  gint64 pos;
  if (!read_position (ctx, 2, len, TRUE, &pos, error))
    return FALSE;
  g_autofree GliaTensorView *out = g_new0 (GliaTensorView, len + 1);
  for (guint k = 0, j = 0; k <= len; k++)
    out[k] = (gint64)k == pos ? *t : items[j++];
  return glia_kernel_context_set_output_sequence (ctx, 0, dtype, len + 1, out, error);
}

static gboolean
erase_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *items;
  guint len;
  if (!seq_input (ctx, 0, &items, &len, error))
    return FALSE;
  if (len == 0) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "cannot erase from an empty sequence");
    return FALSE;
  }
  gint64 pos;
  if (!read_position (ctx, 1, len, FALSE, &pos, error))
    return FALSE;
  g_autofree GliaTensorView *out = g_new0 (GliaTensorView, len);
  for (guint k = 0, j = 0; k < len; k++)
    if ((gint64)k != pos)
      out[j++] = items[k];
  return glia_kernel_context_set_output_sequence (
      ctx, 0, glia_kernel_context_get_input_sequence_dtype (ctx, 0), len - 1, out, error);
}

/* ---- SequenceAt, SequenceLength ---------------------------------------- */

static gboolean
at_infer (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0), -1, NULL);
  return TRUE;
}

static gboolean
at_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *items;
  guint len;
  if (!seq_input (ctx, 0, &items, &len, error))
    return FALSE;
  gint64 pos;
  if (glia_kernel_context_get_input (ctx, 1) == NULL) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "position is required");
    return FALSE;
  }
  if (len == 0 || !read_position (ctx, 1, len, FALSE, &pos, error)) {
    if (len == 0)
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "the sequence is empty");
    return FALSE;
  }
  return emit_tensor (ctx, 0, &items[pos], error);
}

static gboolean
length_infer (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_INT64, 0, NULL);
  return TRUE;
}

static gboolean
length_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *items;
  guint len;
  if (!seq_input (ctx, 0, &items, &len, error))
    return FALSE;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_INT64, 0, NULL, error);
  if (y == NULL)
    return FALSE;
  *(gint64 *)y->data = len;
  return TRUE;
}

/* ---- SplitToSequence, ConcatFromSequence -------------------------------- */

typedef struct
{
  gint64 axis;
  gboolean keepdims;
  gboolean new_axis;
} AxisState;

static gpointer
axis_create (const GliaGraph *graph, gint node, GError **error)
{
  AxisState *s = g_new0 (AxisState, 1);
  s->axis = glia_graph_node_get_attr_int (graph, node, "axis", 0);
  s->keepdims = glia_graph_node_get_attr_int (graph, node, "keepdims", 1) != 0;
  s->new_axis = glia_graph_node_get_attr_int (graph, node, "new_axis", 0) != 0;
  if (g_str_equal (glia_graph_node_get_op_type (graph, node), "ConcatFromSequence")
      && !glia_graph_node_has_attr (graph, node, "axis")) {
    cpu_node_error (error, graph, node, "attribute axis is required");
    g_free (s);
    return NULL;
  }
  return s;
}

static gboolean
split_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  AxisState *st = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL)
    return FALSE;
  if (x->dtype == GLIA_DATA_TYPE_STRING) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "string tensors cannot be split yet");
    return FALSE;
  }
  guint axis;
  if (!cpu_normalize_axis (st->axis, x->rank, &axis)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "axis out of range");
    return FALSE;
  }
  gint64 dim = x->dims[axis];
  const GliaTensorView *split = glia_kernel_context_get_input (ctx, 1);
  g_autofree gint64 *sizes = NULL;
  gsize n_parts = 0;
  gboolean squeeze = FALSE;
  if (split == NULL) {
    n_parts = dim;
    sizes = g_new (gint64, MAX (n_parts, 1));
    for (gsize i = 0; i < n_parts; i++)
      sizes[i] = 1;
    squeeze = !st->keepdims;
  } else if (split->rank == 0) {
    gint64 chunk;
    gsize n;
    if (!cpu_view_get_ints (split, &chunk, 1, &n) || chunk <= 0) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "split must be positive");
      return FALSE;
    }
    n_parts = (dim + chunk - 1) / chunk;
    sizes = g_new (gint64, MAX (n_parts, 1));
    for (gsize i = 0; i < n_parts; i++)
      sizes[i] = MIN (chunk, dim - (gint64)i * chunk);
  } else {
    sizes = g_new (gint64, MAX (split->n_elements, 1));
    gint64 total = 0;
    if (!cpu_view_get_ints (split, sizes, split->n_elements, &n_parts)) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "split must be integers");
      return FALSE;
    }
    for (gsize i = 0; i < n_parts; i++)
      total += sizes[i];
    if (total != dim) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "split sums to %" G_GINT64_FORMAT ", the axis has %" G_GINT64_FORMAT, total,
                        dim);
      return FALSE;
    }
  }
  gsize esize = glia_data_type_get_size (x->dtype);
  gsize outer = cpu_numel_range (x->dims, 0, axis);
  gsize inner = cpu_numel_range (x->dims, axis + 1, x->rank);
  g_autofree GliaTensorView *items = g_new0 (GliaTensorView, MAX (n_parts, 1));
  g_autoptr (GPtrArray) bufs = g_ptr_array_new_with_free_func (g_free);
  gint64 offset = 0;
  for (gsize p = 0; p < n_parts; p++) {
    GliaTensorView *it = &items[p];
    it->dtype = x->dtype;
    it->device = GLIA_DEVICE_TYPE_CPU;
    it->rank = 0;
    for (guint d = 0; d < x->rank; d++) {
      if (d == axis && squeeze)
        continue;
      it->dims[it->rank++] = d == axis ? sizes[p] : x->dims[d];
    }
    it->n_elements = outer * sizes[p] * inner;
    it->n_bytes = it->n_elements * esize;
    guint8 *buf = g_malloc (MAX (it->n_bytes, 1));
    g_ptr_array_add (bufs, buf);
    for (gsize o = 0; o < outer; o++)
      memcpy (buf + o * sizes[p] * inner * esize,
              (const guint8 *)x->data + (o * dim + offset) * inner * esize,
              sizes[p] * inner * esize);
    it->data = buf;
    offset += sizes[p];
  }
  return glia_kernel_context_set_output_sequence (ctx, 0, x->dtype, n_parts, items, error);
}

static gboolean
concat_infer (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0), -1, NULL);
  return TRUE;
}

static gboolean
concat_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  AxisState *st = state;
  const GliaTensorView *items;
  guint len;
  if (!seq_input (ctx, 0, &items, &len, error))
    return FALSE;
  if (len == 0) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "cannot concatenate an empty sequence");
    return FALSE;
  }
  const GliaTensorView *first = &items[0];
  guint out_rank = first->rank + (st->new_axis ? 1 : 0);
  guint axis;
  if (!cpu_normalize_axis (st->axis, out_rank, &axis)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "axis out of range");
    return FALSE;
  }
  gint64 dims[GLIA_MAX_RANK];
  /* each item viewed with the new axis inserted (size 1) when new_axis */
  gint64 total = 0;
  for (guint k = 0; k < len; k++) {
    const GliaTensorView *it = &items[k];
    gint64 idims[GLIA_MAX_RANK];
    for (guint d = 0, j = 0; d < out_rank; d++)
      idims[d] = st->new_axis && d == axis ? 1 : it->dims[j++];
    if (it->rank != first->rank || it->dtype != first->dtype) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "items differ in rank or type");
      return FALSE;
    }
    for (guint d = 0; d < out_rank; d++)
      if (d != axis && k > 0 && idims[d] != dims[d]) {
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "items differ off the axis");
        return FALSE;
      }
    if (k == 0)
      memcpy (dims, idims, sizeof dims);
    total += idims[axis];
  }
  dims[axis] = total;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, first->dtype, out_rank, dims, error);
  if (y == NULL)
    return FALSE;
  gsize esize = glia_data_type_get_size (first->dtype);
  gsize outer = cpu_numel_range (dims, 0, axis);
  gsize inner = cpu_numel_range (dims, axis + 1, out_rank);
  gint64 at = 0;
  for (guint k = 0; k < len; k++) {
    const GliaTensorView *it = &items[k];
    gint64 d = st->new_axis ? 1 : it->dims[axis];
    for (gsize o = 0; o < outer; o++) {
      gpointer dst = (guint8 *)y->data + (o * total + at) * inner * esize;
      gconstpointer src = (const guint8 *)it->data + o * d * inner * esize;
      if (first->dtype == GLIA_DATA_TYPE_STRING) {
        char **dd = dst;
        char *const *ss = src;
        for (gsize e = 0; e < d * inner; e++)
          dd[e] = g_strdup (ss[e]);
      } else
        memcpy (dst, src, d * inner * esize);
    }
    at += d;
  }
  return TRUE;
}

/* ---- SequenceMap -------------------------------------------------------- */

static gboolean
map_infer (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *g = glia_shape_context_get_graph (ctx);
  GliaGraph *body = glia_graph_node_get_attr_graph (g, glia_shape_context_get_node (ctx), "body");
  for (guint i = 0; i < glia_shape_context_get_n_outputs (ctx); i++) {
    GliaDataType dt = GLIA_DATA_TYPE_UNDEFINED;
    if (body && i < glia_graph_get_n_outputs (body))
      dt = glia_graph_value_get_dtype (body, glia_graph_get_output (body, i));
    glia_shape_context_set_output (ctx, i, dt, -1, NULL);
    glia_shape_context_set_output_kind (ctx, i, GLIA_VALUE_KIND_SEQUENCE);
  }
  return TRUE;
}

typedef struct
{
  GliaTensorView view;
  gpointer data;
} Kept;

static gboolean
map_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  guint n_in = glia_kernel_context_get_n_inputs (ctx);
  const GliaGraph *graph = glia_kernel_context_get_graph (ctx);
  gint node = glia_kernel_context_get_node (ctx);
  guint n_declared = glia_graph_node_get_n_inputs (graph, node);
  guint n_out = glia_kernel_context_get_n_outputs (ctx);
  (void)n_in;
  const GliaTensorView *items;
  guint len;
  if (!seq_input (ctx, 0, &items, &len, error))
    return FALSE;
  for (guint i = 1; i < n_declared; i++)
    if (glia_kernel_context_input_is_sequence (ctx, i)) {
      guint l2;
      glia_kernel_context_get_input_sequence (ctx, i, &l2);
      if (l2 != len) {
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "sequences differ in length");
        return FALSE;
      }
    }
  g_autofree const GliaTensorView **ins = g_new0 (const GliaTensorView *, n_declared);
  g_autofree GliaTensorView *outs = g_new0 (GliaTensorView, MAX (n_out, 1));
  g_autofree Kept *kept = g_new0 (Kept, (gsize)MAX (n_out, 1) * MAX (len, 1));
  gboolean ok = TRUE;
  for (guint k = 0; k < len && ok; k++) {
    for (guint i = 0; i < n_declared; i++) {
      if (glia_kernel_context_input_is_sequence (ctx, i)) {
        guint l2;
        ins[i] = &glia_kernel_context_get_input_sequence (ctx, i, &l2)[k];
      } else
        ins[i] = glia_kernel_context_get_input (ctx, i);
    }
    guint produced = 0;
    ok = glia_kernel_context_run_subgraph (ctx, "body", n_declared, ins, n_out, outs, &produced,
                                           error);
    if (ok && produced != n_out) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_MODEL, "the body gives %u outputs, need %u",
                        produced, n_out);
      ok = FALSE;
    }
    for (guint o = 0; o < n_out && ok; o++) {
      Kept *kp = &kept[(gsize)o * len + k];
      kp->view = outs[o];
      kp->data = g_memdup2 (outs[o].data, MAX (outs[o].n_bytes, 1));
      kp->view.data = kp->data;
      if (outs[o].dtype == GLIA_DATA_TYPE_STRING) {
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                          "string outputs are not mapped yet");
        ok = FALSE;
      }
    }
  }
  for (guint o = 0; o < n_out && ok; o++) {
    g_autofree GliaTensorView *seq = g_new0 (GliaTensorView, MAX (len, 1));
    GliaDataType dt = GLIA_DATA_TYPE_FLOAT;
    GliaGraph *body = glia_graph_node_get_attr_graph (graph, node, "body");
    if (body && o < glia_graph_get_n_outputs (body)
        && glia_graph_value_get_dtype (body, glia_graph_get_output (body, o)))
      dt = glia_graph_value_get_dtype (body, glia_graph_get_output (body, o));
    for (guint k = 0; k < len; k++) {
      seq[k] = kept[(gsize)o * len + k].view;
      dt = seq[k].dtype;
    }
    ok = glia_kernel_context_set_output_sequence (ctx, o, dt, len, seq, error);
  }
  for (gsize i = 0; i < (gsize)MAX (n_out, 1) * MAX (len, 1); i++)
    g_free (kept[i].data);
  return ok;
}

/* ---- Optional, OptionalHasElement, OptionalGetElement, Identity --------- */

static gboolean
pass_through (GliaKernelContext *ctx, GError **error)
{
  if (glia_kernel_context_input_is_sequence (ctx, 0)) {
    guint len;
    const GliaTensorView *items = glia_kernel_context_get_input_sequence (ctx, 0, &len);
    return glia_kernel_context_set_output_sequence (
        ctx, 0, glia_kernel_context_get_input_sequence_dtype (ctx, 0), len, items, error);
  }
  const GliaTensorView *x = glia_kernel_context_get_input (ctx, 0);
  if (x == NULL) {
    glia_kernel_context_set_output_none (ctx, 0);
    return TRUE;
  }
  return emit_tensor (ctx, 0, x, error);
}

static gboolean
pass_infer (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0), -1, NULL);
  glia_shape_context_set_output_kind (ctx, 0, glia_shape_context_get_input_kind (ctx, 0));
  return TRUE;
}

static gboolean
identity_supports (const GliaGraph *graph, gint node)
{
  gint v = glia_graph_node_get_input (graph, node, 0);
  return v >= 0 && glia_graph_value_get_kind (graph, v) != GLIA_VALUE_KIND_TENSOR;
}

static gboolean
identity_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  return pass_through (ctx, error);
}

static gboolean
optional_infer (GliaShapeContext *ctx, GError **error)
{
  GliaValueKind k = glia_shape_context_get_input_kind (ctx, 0);
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0), -1, NULL);
  glia_shape_context_set_output_kind (ctx, 0,
                                      k == GLIA_VALUE_KIND_SEQUENCE
                                          ? GLIA_VALUE_KIND_OPTIONAL_SEQUENCE
                                          : GLIA_VALUE_KIND_OPTIONAL_TENSOR);
  return TRUE;
}

static gboolean
has_element_infer (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_BOOL, 0, NULL);
  return TRUE;
}

static gboolean
has_element_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  gboolean has = glia_kernel_context_input_is_sequence (ctx, 0)
                 || glia_kernel_context_get_input (ctx, 0) != NULL;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_BOOL, 0, NULL, error);
  if (y == NULL)
    return FALSE;
  *(guint8 *)y->data = has;
  return TRUE;
}

static gboolean
get_element_infer (GliaShapeContext *ctx, GError **error)
{
  GliaValueKind k = glia_shape_context_get_input_kind (ctx, 0);
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0), -1, NULL);
  if (k == GLIA_VALUE_KIND_OPTIONAL_SEQUENCE || k == GLIA_VALUE_KIND_SEQUENCE)
    glia_shape_context_set_output_kind (ctx, 0, GLIA_VALUE_KIND_SEQUENCE);
  return TRUE;
}

static gboolean
get_element_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  if (!glia_kernel_context_input_is_sequence (ctx, 0)
      && glia_kernel_context_get_input (ctx, 0) == NULL) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "the optional input is empty");
    return FALSE;
  }
  return pass_through (ctx, error);
}

#define SEQ_DEF(var, op, since, infer, create_fn, compute_fn, destroy_fn, supports_fn)             \
  static const GliaOpDef var = {                                                                   \
    .struct_size = sizeof (GliaOpDef),                                                             \
    .domain = "",                                                                                  \
    .name = op,                                                                                    \
    .since_version = since,                                                                        \
    .until_version = G_MAXINT,                                                                     \
    .supports = supports_fn,                                                                       \
    .infer_shapes = infer,                                                                         \
    .create = create_fn,                                                                           \
    .compute = compute_fn,                                                                         \
    .destroy = destroy_fn,                                                                         \
  };

SEQ_DEF (identity_def, "Identity", 1, pass_infer, NULL, identity_compute, NULL, identity_supports)
SEQ_DEF (empty_def, "SequenceEmpty", 11, empty_infer, empty_create, empty_compute, NULL, NULL)
SEQ_DEF (construct_def, "SequenceConstruct", 11, infer_sequence_of_input, NULL, construct_compute,
         NULL, NULL)
SEQ_DEF (insert_def, "SequenceInsert", 11, infer_sequence_of_input, NULL, insert_compute, NULL,
         NULL)
SEQ_DEF (erase_def, "SequenceErase", 11, infer_sequence_of_input, NULL, erase_compute, NULL, NULL)
SEQ_DEF (at_def, "SequenceAt", 11, at_infer, NULL, at_compute, NULL, NULL)
SEQ_DEF (length_def, "SequenceLength", 11, length_infer, NULL, length_compute, NULL, NULL)
SEQ_DEF (split_def, "SplitToSequence", 11, infer_sequence_of_input, axis_create, split_compute,
         g_free, NULL)
SEQ_DEF (concat_def, "ConcatFromSequence", 11, concat_infer, axis_create, concat_compute, g_free,
         NULL)
SEQ_DEF (map_def, "SequenceMap", 17, map_infer, NULL, map_compute, NULL, NULL)
SEQ_DEF (optional_def, "Optional", 15, optional_infer, NULL, identity_compute, NULL, NULL)
SEQ_DEF (has_def, "OptionalHasElement", 15, has_element_infer, NULL, has_element_compute, NULL,
         NULL)
SEQ_DEF (get_def, "OptionalGetElement", 15, get_element_infer, NULL, get_element_compute, NULL,
         NULL)

void
cpu_sequence_register (GliaOpTable *table)
{
  const GliaOpDef *defs[] = { &identity_def, &empty_def,  &construct_def, &insert_def, &erase_def,
                              &at_def,       &length_def, &split_def,     &concat_def, &map_def,
                              &optional_def, &has_def,    &get_def };
  for (guint i = 0; i < G_N_ELEMENTS (defs); i++)
    glia_op_table_add (table, defs[i]);
}
