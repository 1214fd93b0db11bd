/* cpu-control.c: control flow: If, Loop, Scan.
 *
 * The bodies are graph attributes that the host compiles into sessions of
 * their own and runs through glia_kernel_context_run_subgraph(); values the
 * bodies read from enclosing graphs are supplied by the host. A body's
 * outputs are only valid until the next body run, so loop-carried values
 * and scan slices are copied into buffers the kernel owns (OwnedTensor).
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <string.h>

/* A tensor the kernel owns during one compute call. */
typedef struct
{
  GliaDataType dtype;
  guint rank;
  gint64 dims[GLIA_MAX_RANK];
  gsize n_elements;
  gsize n_bytes;
  gpointer data; /* strings: array of g_strdup'ed char * */
} OwnedTensor;

static void
owned_clear (OwnedTensor *t)
{
  if (t->dtype == GLIA_DATA_TYPE_STRING && t->data) {
    char **s = t->data;
    for (gsize i = 0; i < t->n_elements; i++)
      g_free (s[i]);
  }
  g_clear_pointer (&t->data, g_free);
  t->n_bytes = t->n_elements = 0;
}

static void
owned_set (OwnedTensor *t, const GliaTensorView *v)
{
  owned_clear (t);
  t->dtype = v->dtype;
  t->rank = v->rank;
  memcpy (t->dims, v->dims, sizeof t->dims);
  t->n_elements = v->n_elements;
  t->n_bytes = v->n_bytes;
  if (v->dtype == GLIA_DATA_TYPE_STRING) {
    char **dst = g_new0 (char *, MAX (v->n_elements, 1));
    char *const *src = v->data;
    for (gsize i = 0; i < v->n_elements; i++)
      dst[i] = g_strdup (src[i] ? src[i] : "");
    t->data = dst;
  } else
    t->data = g_memdup2 (v->data, MAX (v->n_bytes, 1));
}

static void
owned_view (const OwnedTensor *t, GliaTensorView *v)
{
  memset (v, 0, sizeof *v);
  v->dtype = t->dtype;
  v->rank = t->rank;
  memcpy (v->dims, t->dims, sizeof v->dims);
  v->n_elements = t->n_elements;
  v->n_bytes = t->n_bytes;
  v->data = t->data;
  v->device = GLIA_DEVICE_TYPE_CPU;
}

/* A loop-carried value the kernel owns: tensor, sequence, or none. */
typedef struct
{
  gboolean none;
  GliaValueKind kind;
  OwnedTensor tensor;
  GliaDataType seq_dtype;
  GArray *items;         /* OwnedTensor */
  GliaTensorView *views; /* item views handed to the body */
} OwnedValue;

static void
owned_value_clear (OwnedValue *v)
{
  owned_clear (&v->tensor);
  if (v->items) {
    for (guint k = 0; k < v->items->len; k++)
      owned_clear (&g_array_index (v->items, OwnedTensor, k));
    g_clear_pointer (&v->items, g_array_unref);
  }
  g_clear_pointer (&v->views, g_free);
  v->none = FALSE;
  v->kind = GLIA_VALUE_KIND_TENSOR;
}

static void
owned_value_set (OwnedValue *v, const GliaValueView *src)
{
  /* @src may point into @v's own memory only through the body's outputs,
   * which are separate: clearing first is safe */
  owned_value_clear (v);
  v->none = src->none;
  v->kind = src->kind;
  if (src->none)
    return;
  if (src->kind == GLIA_VALUE_KIND_SEQUENCE) {
    v->seq_dtype = src->seq_dtype;
    v->items = g_array_sized_new (FALSE, TRUE, sizeof (OwnedTensor), src->seq_length);
    g_array_set_size (v->items, src->seq_length);
    for (guint k = 0; k < src->seq_length; k++)
      owned_set (&g_array_index (v->items, OwnedTensor, k), &src->seq_items[k]);
  } else
    owned_set (&v->tensor, &src->tensor);
}

static void
owned_value_view (OwnedValue *v, GliaValueView *out)
{
  memset (out, 0, sizeof *out);
  out->none = v->none;
  out->kind = v->kind;
  if (v->none)
    return;
  if (v->kind == GLIA_VALUE_KIND_SEQUENCE) {
    g_free (v->views);
    v->views = g_new0 (GliaTensorView, MAX (v->items->len, 1));
    for (guint k = 0; k < v->items->len; k++)
      owned_view (&g_array_index (v->items, OwnedTensor, k), &v->views[k]);
    out->seq_dtype = v->seq_dtype;
    out->seq_length = v->items->len;
    out->seq_items = v->views;
  } else
    owned_view (&v->tensor, &out->tensor);
}

/* Copies @n elements of a view's data (strings duplicated) to @dst. */
static void
copy_elements (GliaDataType dtype, gpointer dst, gconstpointer src, gsize n)
{
  if (dtype == GLIA_DATA_TYPE_STRING) {
    char **d = dst;
    char *const *s = src;
    for (gsize i = 0; i < n; i++)
      d[i] = g_strdup (s[i] ? s[i] : "");
  } else
    memcpy (dst, src, n * glia_data_type_get_size (dtype));
}

/* Allocates output @i like @v and copies @v into it. */
static gboolean
emit_copy (GliaKernelContext *ctx, guint i, const GliaTensorView *v, GError **error)
{
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, i, v->dtype, v->rank, v->dims, error);
  if (y == NULL)
    return FALSE;
  copy_elements (v->dtype, y->data, v->data, v->n_elements);
  return TRUE;
}

static gboolean
read_scalar_bool (const GliaTensorView *v, gboolean *out)
{
  if (v == NULL || v->n_elements != 1)
    return FALSE;
  if (v->dtype == GLIA_DATA_TYPE_BOOL || v->dtype == GLIA_DATA_TYPE_UINT8)
    *out = *(const guint8 *)v->data != 0;
  else
    return FALSE;
  return TRUE;
}

/* Shape inference: dtypes from the body's declared outputs, shapes unknown. */
static void
infer_from_body (GliaShapeContext *ctx, const char *attr, guint body_first, guint n)
{
  const GliaGraph *g = glia_shape_context_get_graph (ctx);
  GliaGraph *body = glia_graph_node_get_attr_graph (g, glia_shape_context_get_node (ctx), attr);
  if (body == NULL)
    return;
  for (guint i = 0; i < n && i < glia_shape_context_get_n_outputs (ctx); i++) {
    if (body_first + i >= glia_graph_get_n_outputs (body))
      break;
    gint v = glia_graph_get_output (body, body_first + i);
    glia_shape_context_set_output (ctx, i, glia_graph_value_get_dtype (body, v), -1, NULL);
  }
}

/* ---- If --------------------------------------------------------------------- */

static gboolean
if_infer (GliaShapeContext *ctx, GError **error)
{
  infer_from_body (ctx, "then_branch", 0, glia_shape_context_get_n_outputs (ctx));
  return TRUE;
}

static gpointer
if_create (const GliaGraph *graph, gint node, GError **error)
{
  if (!glia_graph_node_get_attr_graph (graph, node, "then_branch")
      || !glia_graph_node_get_attr_graph (graph, node, "else_branch"))
    cpu_node_error (error, graph, node, "needs then_branch and else_branch graphs");
  return NULL;
}

static gboolean
if_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  gboolean cond;
  if (!read_scalar_bool (glia_kernel_context_get_input (ctx, 0), &cond)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the condition must be a single bool");
    return FALSE;
  }
  guint n_out = glia_kernel_context_get_n_outputs (ctx);
  g_autofree GliaValueView *outs = g_new0 (GliaValueView, MAX (n_out, 1));
  guint produced = 0;
  if (!glia_kernel_context_run_subgraph_values (ctx, cond ? "then_branch" : "else_branch", 0, NULL,
                                                n_out, outs, &produced, error))
    return FALSE;
  if (produced != n_out) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_MODEL,
                      "the %s branch has %u outputs, the node %u", cond ? "then" : "else", produced,
                      n_out);
    return FALSE;
  }
  for (guint i = 0; i < n_out; i++)
    if (!glia_kernel_context_set_output_value (ctx, i, &outs[i], error))
      return FALSE;
  return TRUE;
}

/* ---- Loop ------------------------------------------------------------------- */

static gboolean
loop_infer (GliaShapeContext *ctx, GError **error)
{
  /* node outputs: carried values then scan outputs = body outputs 1.. */
  infer_from_body (ctx, "body", 1, glia_shape_context_get_n_outputs (ctx));
  return TRUE;
}

static gpointer
loop_create (const GliaGraph *graph, gint node, GError **error)
{
  GliaGraph *body = glia_graph_node_get_attr_graph (graph, node, "body");
  if (body == NULL) {
    cpu_node_error (error, graph, node, "needs a body graph");
    return NULL;
  }
  guint n_carried = glia_graph_node_get_n_inputs (graph, node) - 2;
  if (glia_graph_node_get_n_inputs (graph, node) < 2
      || glia_graph_get_n_inputs (body) != n_carried + 2
      || glia_graph_get_n_outputs (body) < n_carried + 1)
    cpu_node_error (error, graph, node,
                    "the body must take 2 + %u inputs and give 1 + %u + scan outputs", n_carried,
                    n_carried);
  return NULL;
}

/* Stacks equal-shaped slices along a new first axis. */
typedef struct
{
  GliaDataType dtype;
  guint rank;
  gint64 dims[GLIA_MAX_RANK];
  gsize slice_elements;
  GByteArray *bytes;
  gsize count;
} Stack;

static gboolean
stack_push (Stack *s, const GliaTensorView *v, GliaKernelContext *ctx, GError **error)
{
  if (s->count == 0) {
    s->dtype = v->dtype;
    s->rank = v->rank;
    memcpy (s->dims, v->dims, sizeof s->dims);
    s->slice_elements = v->n_elements;
  } else if (v->dtype != s->dtype || v->rank != s->rank
             || memcmp (v->dims, s->dims, v->rank * sizeof (gint64)) != 0) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "scan output slices change shape between iterations");
    return FALSE;
  }
  gsize esize = glia_data_type_get_size (v->dtype);
  gsize at = s->bytes->len;
  g_byte_array_set_size (s->bytes, at + v->n_elements * esize);
  copy_elements (v->dtype, s->bytes->data + at, v->data, v->n_elements);
  s->count++;
  return TRUE;
}

static void
stack_free_strings (Stack *s)
{
  if (s->dtype == GLIA_DATA_TYPE_STRING) {
    char **p = (char **)s->bytes->data;
    for (gsize i = 0; i < s->bytes->len / sizeof (char *); i++)
      g_free (p[i]);
  }
  g_byte_array_unref (s->bytes);
}

static gboolean
loop_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  guint n_in = glia_kernel_context_get_n_inputs (ctx);
  const GliaGraph *graph = glia_kernel_context_get_graph (ctx);
  gint node = glia_kernel_context_get_node (ctx);
  guint n_carried = glia_graph_node_get_n_inputs (graph, node) - 2;
  guint n_out = glia_kernel_context_get_n_outputs (ctx);
  guint n_scan = n_out > n_carried ? n_out - n_carried : 0;
  (void)n_in;

  const GliaTensorView *m = glia_kernel_context_get_input (ctx, 0);
  const GliaTensorView *c = glia_kernel_context_get_input (ctx, 1);
  gint64 max_trip = G_MAXINT64;
  if (m) {
    gint64 v;
    gsize n;
    if (!cpu_view_get_ints (m, &v, 1, &n) || n != 1) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "M must be one int64");
      return FALSE;
    }
    max_trip = v;
  }
  gboolean cond = TRUE;
  if (c && !read_scalar_bool (c, &cond)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "cond must be a single bool");
    return FALSE;
  }

  g_autofree OwnedValue *carried = g_new0 (OwnedValue, MAX (n_carried, 1));
  for (guint i = 0; i < n_carried; i++) {
    GliaValueView v;
    glia_kernel_context_get_input_value (ctx, 2 + i, &v);
    owned_value_set (&carried[i], &v);
  }
  g_autofree Stack *stacks = g_new0 (Stack, MAX (n_scan, 1));
  for (guint k = 0; k < n_scan; k++)
    stacks[k].bytes = g_byte_array_new ();

  guint n_body_in = 2 + n_carried, n_body_out = 1 + n_carried + n_scan;
  g_autofree GliaValueView *in_views = g_new0 (GliaValueView, n_body_in);
  g_autofree GliaValueView *outs = g_new0 (GliaValueView, n_body_out);
  gboolean ok = TRUE;
  gint64 iter = 0;
  guint8 cond_byte;
  while (ok && iter < max_trip && cond) {
    memset (in_views, 0, 2 * sizeof *in_views);
    in_views[0].tensor = (GliaTensorView){
      .dtype = GLIA_DATA_TYPE_INT64, .rank = 0, .data = &iter, .n_elements = 1, .n_bytes = 8
    };
    cond_byte = 1;
    in_views[1].tensor = (GliaTensorView){
      .dtype = GLIA_DATA_TYPE_BOOL, .rank = 0, .data = &cond_byte, .n_elements = 1, .n_bytes = 1
    };
    for (guint i = 0; i < n_carried; i++)
      owned_value_view (&carried[i], &in_views[2 + i]);
    guint produced = 0;
    ok = glia_kernel_context_run_subgraph_values (ctx, "body", n_body_in, in_views, n_body_out,
                                                  outs, &produced, error);
    if (ok && produced != n_body_out) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_MODEL,
                        "the body gives %u outputs; the node needs %u", produced, n_body_out);
      ok = FALSE;
    }
    if (!ok)
      break;
    ok = outs[0].kind == GLIA_VALUE_KIND_TENSOR && !outs[0].none
         && read_scalar_bool (&outs[0].tensor, &cond);
    if (!ok) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "the body's condition output must be a single bool");
      break;
    }
    for (guint i = 0; i < n_carried; i++)
      owned_value_set (&carried[i], &outs[1 + i]);
    for (guint k = 0; k < n_scan && ok; k++) {
      if (outs[1 + n_carried + k].kind != GLIA_VALUE_KIND_TENSOR || outs[1 + n_carried + k].none) {
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_MODEL, "scan outputs must be tensors");
        ok = FALSE;
        break;
      }
      ok = stack_push (&stacks[k], &outs[1 + n_carried + k].tensor, ctx, error);
    }
    iter++;
  }

  for (guint i = 0; i < n_carried && ok; i++) {
    GliaValueView v;
    owned_value_view (&carried[i], &v);
    ok = glia_kernel_context_set_output_value (ctx, i, &v, error);
  }
  for (guint k = 0; k < n_scan && ok; k++) {
    Stack *s = &stacks[k];
    gint64 dims[GLIA_MAX_RANK];
    guint rank = s->count ? s->rank + 1 : 1;
    if (rank > GLIA_MAX_RANK) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "scan output rank too large");
      ok = FALSE;
      break;
    }
    dims[0] = s->count;
    for (guint d = 1; d < rank; d++)
      dims[d] = s->dims[d - 1];
    GliaDataType dtype = s->count ? s->dtype : GLIA_DATA_TYPE_FLOAT;
    if (s->count == 0) {
      /* no iteration: the declared type of the body output */
      GliaGraph *body = glia_graph_node_get_attr_graph (graph, node, "body");
      GliaDataType declared
          = glia_graph_value_get_dtype (body, glia_graph_get_output (body, 1 + n_carried + k));
      if (declared != GLIA_DATA_TYPE_UNDEFINED)
        dtype = declared;
    }
    GliaTensorView *y
        = glia_kernel_context_allocate_output (ctx, n_carried + k, dtype, rank, dims, error);
    if (y == NULL) {
      ok = FALSE;
      break;
    }
    if (s->count) {
      memcpy (y->data, s->bytes->data, s->bytes->len);
      /* strings moved into the output: the stack must not free them */
      if (s->dtype == GLIA_DATA_TYPE_STRING)
        g_byte_array_set_size (s->bytes, 0);
    }
  }
  for (guint i = 0; i < n_carried; i++)
    owned_value_clear (&carried[i]);
  for (guint k = 0; k < n_scan; k++)
    stack_free_strings (&stacks[k]);
  return ok;
}

/* ---- Scan ------------------------------------------------------------------- */

typedef struct
{
  gint opset;
  guint n_scan_inputs;
  gint64 in_axes[64];
  gint64 in_dirs[64];
  gint64 out_axes[64];
  gint64 out_dirs[64];
} ScanState;

static gboolean
scan_infer (GliaShapeContext *ctx, GError **error)
{
  infer_from_body (ctx, "body", 0, glia_shape_context_get_n_outputs (ctx));
  return TRUE;
}

static gboolean
read_int_list (const GliaGraph *g, gint node, const char *name, gint64 *out, guint max, guint want,
               GError **error)
{
  guint n = 0;
  const gint64 *v = glia_graph_node_get_attr_ints (g, node, name, &n);
  for (guint i = 0; i < max; i++)
    out[i] = 0;
  if (v == NULL)
    return TRUE;
  if (n != want || n > max) {
    cpu_node_error (error, g, node, "attribute %s has %u values, expected %u", name, n, want);
    return FALSE;
  }
  memcpy (out, v, n * sizeof (gint64));
  return TRUE;
}

static gpointer
scan_create (const GliaGraph *graph, gint node, GError **error)
{
  GliaGraph *body = glia_graph_node_get_attr_graph (graph, node, "body");
  gint64 m = glia_graph_node_get_attr_int (graph, node, "num_scan_inputs", -1);
  if (body == NULL || m <= 0 || m > 64) {
    cpu_node_error (error, graph, node, "needs a body graph and 1..64 num_scan_inputs");
    return NULL;
  }
  ScanState *s = g_new0 (ScanState, 1);
  s->opset = glia_graph_node_get_opset (graph, node);
  s->n_scan_inputs = m;
  guint n_in = glia_graph_node_get_n_inputs (graph, node) - (s->opset < 9 ? 1 : 0);
  guint n_state = n_in - m;
  guint n_scan_out = glia_graph_node_get_n_outputs (graph, node) - n_state;
  if (n_in < m || n_scan_out > 64) {
    cpu_node_error (error, graph, node, "inconsistent input and output counts");
    g_free (s);
    return NULL;
  }
  if (!read_int_list (graph, node, "scan_input_axes", s->in_axes, 64, m, error)
      || !read_int_list (graph, node, "scan_input_directions", s->in_dirs, 64, m, error)
      || !read_int_list (graph, node, "scan_output_axes", s->out_axes, 64, n_scan_out, error)
      || !read_int_list (graph, node, "scan_output_directions", s->out_dirs, 64, n_scan_out,
                         error)) {
    g_free (s);
    return NULL;
  }
  if (s->opset < 9 && glia_graph_node_has_attr (graph, node, "directions")
      && !read_int_list (graph, node, "directions", s->in_dirs, 64, m, error)) {
    g_free (s);
    return NULL;
  }
  return s;
}

/* Copies slice @t along @axis of @v (which has @v->rank dims) into @dst. */
static void
take_slice (const GliaTensorView *v, guint axis, gint64 t, gpointer dst)
{
  gsize esize = glia_data_type_get_size (v->dtype);
  gsize outer = cpu_numel_range (v->dims, 0, axis);
  gsize inner = cpu_numel_range (v->dims, axis + 1, v->rank);
  const guint8 *src = v->data;
  guint8 *d = dst;
  for (gsize o = 0; o < outer; o++) {
    const guint8 *from = src + ((o * v->dims[axis] + t) * inner) * esize;
    copy_elements (v->dtype, d + o * inner * esize, from, inner);
  }
}

/* Places slice @t of a scan output (shape @slice) along @axis of @y. */
static void
put_slice (GliaTensorView *y, guint axis, gint64 t, const GliaTensorView *slice)
{
  gsize esize = glia_data_type_get_size (y->dtype);
  gsize outer = cpu_numel_range (y->dims, 0, axis);
  gsize inner = cpu_numel_range (y->dims, axis + 1, y->rank);
  guint8 *dst = y->data;
  const guint8 *src = slice->data;
  for (gsize o = 0; o < outer; o++)
    copy_elements (y->dtype, dst + ((o * y->dims[axis] + t) * inner) * esize,
                   src + o * inner * esize, inner);
}

/* One scan over sequences @scan_in (no batch axis) with initial @states.
 * Writes the final states to @final and the stacked scan outputs to
 * @scan_out. */
typedef struct
{
  GliaKernelContext *ctx;
  ScanState *st;
  guint n_state;
  guint n_scan_out;
} ScanRun;

static gboolean
scan_once (ScanRun *r, const GliaTensorView *const *states, const GliaTensorView *const *scan_in,
           gint64 seq_len, OwnedTensor *final, OwnedTensor *scan_out, GError **error)
{
  ScanState *st = r->st;
  guint m = st->n_scan_inputs, n_state = r->n_state, n_scan_out = r->n_scan_out;
  guint n_body_in = n_state + m, n_body_out = n_state + n_scan_out;
  g_autofree GliaTensorView *in_views = g_new0 (GliaTensorView, n_body_in);
  g_autofree const GliaTensorView **in_ptrs = g_new0 (const GliaTensorView *, n_body_in);
  g_autofree GliaTensorView *outs = g_new0 (GliaTensorView, n_body_out);
  g_autofree OwnedTensor *slices = g_new0 (OwnedTensor, m);
  for (guint i = 0; i < n_state; i++)
    owned_set (&final[i], states[i]);
  gboolean ok = TRUE;
  for (gint64 t = 0; t < seq_len && ok; t++) {
    for (guint j = 0; j < m; j++) {
      const GliaTensorView *v = scan_in[j];
      guint axis = st->in_axes[j];
      gint64 pos = st->in_dirs[j] ? seq_len - 1 - t : t;
      OwnedTensor *sl = &slices[j];
      owned_clear (sl);
      sl->dtype = v->dtype;
      sl->rank = v->rank - 1;
      for (guint d = 0, k = 0; d < v->rank; d++)
        if (d != axis)
          sl->dims[k++] = v->dims[d];
      sl->n_elements = cpu_numel (sl->rank, sl->dims);
      sl->n_bytes = sl->n_elements * glia_data_type_get_size (v->dtype);
      sl->data = g_malloc0 (MAX (sl->n_bytes, 1));
      take_slice (v, axis, pos, sl->data);
      owned_view (sl, &in_views[n_state + j]);
    }
    for (guint i = 0; i < n_state; i++)
      owned_view (&final[i], &in_views[i]);
    for (guint i = 0; i < n_body_in; i++)
      in_ptrs[i] = &in_views[i];
    guint produced = 0;
    ok = glia_kernel_context_run_subgraph (r->ctx, "body", n_body_in, in_ptrs, n_body_out, outs,
                                           &produced, error);
    if (ok && produced != n_body_out) {
      cpu_kernel_error (error, r->ctx, GLIA_ERROR_INVALID_MODEL,
                        "the body gives %u outputs, need %u", produced, n_body_out);
      ok = FALSE;
    }
    if (!ok)
      break;
    for (guint i = 0; i < n_state; i++)
      owned_set (&final[i], &outs[i]);
    for (guint k = 0; k < n_scan_out; k++) {
      const GliaTensorView *sv = &outs[n_state + k];
      OwnedTensor *so = &scan_out[k];
      guint axis = st->out_axes[k];
      if (t == 0) {
        owned_clear (so);
        so->dtype = sv->dtype;
        so->rank = sv->rank + 1;
        if (axis > sv->rank) {
          cpu_kernel_error (error, r->ctx, GLIA_ERROR_INVALID_MODEL,
                            "scan_output_axes out of range");
          ok = FALSE;
          break;
        }
        for (guint d = 0, s = 0; d < so->rank; d++)
          so->dims[d] = d == axis ? seq_len : sv->dims[s++];
        so->n_elements = cpu_numel (so->rank, so->dims);
        so->n_bytes = so->n_elements * glia_data_type_get_size (sv->dtype);
        so->data = g_malloc0 (MAX (so->n_bytes, 1));
      }
      GliaTensorView y;
      owned_view (so, &y);
      gint64 pos = st->out_dirs[k] ? seq_len - 1 - t : t;
      put_slice (&y, axis, pos, sv);
    }
  }
  for (guint j = 0; j < m; j++)
    owned_clear (&slices[j]);
  return ok;
}

static gboolean
scan_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  ScanState *st = state;
  const GliaGraph *graph = glia_kernel_context_get_graph (ctx);
  gint node = glia_kernel_context_get_node (ctx);
  gboolean batched = st->opset < 9;
  guint first = batched ? 1 : 0;
  guint n_node_in = glia_graph_node_get_n_inputs (graph, node);
  guint m = st->n_scan_inputs;
  guint n_state = n_node_in - first - m;
  guint n_out = glia_kernel_context_get_n_outputs (ctx);
  guint n_scan_out = n_out - n_state;
  ScanRun r = { ctx, st, n_state, n_scan_out };

  g_autofree const GliaTensorView **states = g_new0 (const GliaTensorView *, MAX (n_state, 1));
  g_autofree const GliaTensorView **scans = g_new0 (const GliaTensorView *, m);
  for (guint i = 0; i < n_state + m; i++) {
    const GliaTensorView *v = cpu_require_input (ctx, first + i, error);
    if (v == NULL)
      return FALSE;
    if (i < n_state)
      states[i] = v;
    else
      scans[i - n_state] = v;
  }
  for (guint j = 0; j < m; j++) {
    gint64 ax = st->in_axes[j];
    guint rank = scans[j]->rank - (batched ? 1 : 0);
    if (ax < 0)
      ax += rank;
    if (ax < 0 || ax >= (gint64)rank) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "scan_input_axes out of range");
      return FALSE;
    }
  }

  g_autofree OwnedTensor *final = g_new0 (OwnedTensor, MAX (n_state, 1));
  g_autofree OwnedTensor *scan_out = g_new0 (OwnedTensor, MAX (n_scan_out, 1));
  gboolean ok = TRUE;

  /* normalised copy of the state for negative axes */
  ScanState local = *st;
  for (guint j = 0; j < m; j++)
    if (local.in_axes[j] < 0)
      local.in_axes[j] += scans[j]->rank - (batched ? 1 : 0);
  r.st = &local;

  if (!batched) {
    gint64 seq_len = scans[0]->dims[local.in_axes[0]];
    for (guint j = 1; j < m; j++)
      if (scans[j]->dims[local.in_axes[j]] != seq_len) {
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                          "scan inputs have different sequence lengths");
        return FALSE;
      }
    for (guint k = 0; k < n_scan_out; k++)
      if (local.out_axes[k] < 0) {
        GliaGraph *body = glia_graph_node_get_attr_graph (graph, node, "body");
        gint r_out = glia_graph_value_get_rank (body, glia_graph_get_output (body, n_state + k));
        local.out_axes[k] += r_out + 1;
      }
    ok = scan_once (&r, states, scans, seq_len, final, scan_out, error);
    for (guint i = 0; i < n_state && ok; i++) {
      GliaTensorView v;
      owned_view (&final[i], &v);
      ok = emit_copy (ctx, i, &v, error);
    }
    for (guint k = 0; k < n_scan_out && ok; k++) {
      GliaTensorView v;
      owned_view (&scan_out[k], &v);
      ok = emit_copy (ctx, n_state + k, &v, error);
    }
  } else {
    /* opset 8: axis 0 is the batch; scan inputs scan along axis 1 */
    const GliaTensorView *lens = glia_kernel_context_get_input (ctx, 0);
    gint64 batch = scans[0]->dims[0];
    gint64 max_len = scans[0]->dims[1];
    /* sequence_lens, read once: one length per batch entry, within the scan axis */
    g_autofree gint64 *seq_lens = g_new (gint64, MAX (batch, 1));
    for (gint64 b = 0; b < batch; b++)
      seq_lens[b] = max_len;
    if (lens) {
      gsize n;
      if (!cpu_view_get_ints (lens, seq_lens, batch, &n) || (gint64)n != batch) {
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                          "sequence_lens must hold %" G_GINT64_FORMAT " integers", batch);
        return FALSE;
      }
      for (gint64 b = 0; b < batch; b++)
        if (seq_lens[b] < 0 || seq_lens[b] > max_len) {
          cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                            "sequence_lens[%" G_GINT64_FORMAT "] = %" G_GINT64_FORMAT
                            " is outside [0, %" G_GINT64_FORMAT "]",
                            b, seq_lens[b], max_len);
          return FALSE;
        }
    }
    GliaTensorView **outs_y = g_new0 (GliaTensorView *, n_out);
    for (gint64 b = 0; b < batch && ok; b++) {
      gint64 seq_len = seq_lens[b];
      /* per-batch views without the batch axis */
      g_autofree GliaTensorView *sv = g_new0 (GliaTensorView, n_state + m);
      g_autofree const GliaTensorView **sp = g_new0 (const GliaTensorView *, n_state + m);
      for (guint i = 0; i < n_state + m; i++) {
        const GliaTensorView *v = i < n_state ? states[i] : scans[i - n_state];
        GliaTensorView *w = &sv[i];
        *w = *v;
        w->rank = v->rank - 1;
        memmove (w->dims, v->dims + 1, w->rank * sizeof (gint64));
        w->n_elements = cpu_numel (w->rank, w->dims);
        w->n_bytes = w->n_elements * glia_data_type_get_size (v->dtype);
        w->data = (guint8 *)v->data + b * w->n_bytes;
        sp[i] = w;
      }
      ScanState per = local;
      for (guint j = 0; j < m; j++)
        per.in_axes[j] = 0;
      r.st = &per;
      ok = scan_once (&r, sp, sp + n_state, seq_len, final, scan_out, error);
      for (guint o = 0; o < n_out && ok; o++) {
        OwnedTensor *src = o < n_state ? &final[o] : &scan_out[o - n_state];
        if (outs_y[o] == NULL) {
          gint64 dims[GLIA_MAX_RANK];
          dims[0] = batch;
          memcpy (dims + 1, src->dims, src->rank * sizeof (gint64));
          outs_y[o] = glia_kernel_context_allocate_output (ctx, o, src->dtype, src->rank + 1, dims,
                                                           error);
          if (outs_y[o] == NULL) {
            ok = FALSE;
            break;
          }
        }
        gsize esize = glia_data_type_get_size (src->dtype);
        copy_elements (src->dtype, (guint8 *)outs_y[o]->data + b * src->n_elements * esize,
                       src->data, src->n_elements);
      }
    }
    g_free (outs_y);
  }
  for (guint i = 0; i < n_state; i++)
    owned_clear (&final[i]);
  for (guint k = 0; k < n_scan_out; k++)
    owned_clear (&scan_out[k]);
  return ok;
}

static const GliaOpDef if_def = {
  .struct_size = sizeof (GliaOpDef),
  .domain = "",
  .name = "If",
  .since_version = 1,
  .until_version = G_MAXINT,
  .infer_shapes = if_infer,
  .create = if_create,
  .compute = if_compute,
};

static const GliaOpDef loop_def = {
  .struct_size = sizeof (GliaOpDef),
  .domain = "",
  .name = "Loop",
  .since_version = 1,
  .until_version = G_MAXINT,
  .infer_shapes = loop_infer,
  .create = loop_create,
  .compute = loop_compute,
};

static const GliaOpDef scan_def = {
  .struct_size = sizeof (GliaOpDef),
  .domain = "",
  .name = "Scan",
  .since_version = 8,
  .until_version = G_MAXINT,
  .infer_shapes = scan_infer,
  .create = scan_create,
  .compute = scan_compute,
  .destroy = g_free,
};

void
cpu_control_register (GliaOpTable *table)
{
  glia_op_table_add (table, &if_def);
  glia_op_table_add (table, &loop_def);
  glia_op_table_add (table, &scan_def);
}
