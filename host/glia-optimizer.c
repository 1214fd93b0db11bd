/* glia-optimizer.c: the graph optimizer and the host's optimization passes.
 *
 * Session creation calls _glia_optimize() on its own copy of the model's
 * graph, after a first type and shape inference (passes use the inferred
 * ranks and dtypes) and before negotiation. The passes of each level run in
 * order, all levels up to the session's, again and again until a whole round
 * changes nothing (at most MAX_ROUNDS). After a pass that changed something
 * the graph is validated, which also sorts it topologically again.
 *
 * Level 1 removes Identity and inference-mode Dropout, folds constants and
 * removes nodes whose outputs nobody reads. Level 2 folds BatchNormalization
 * into Conv weights, turns MatMul + Add into Gemm, and fuses Conv (+ Add
 * residual) and Gemm with a following activation into com.glia::FusedConv /
 * FusedGemm. Level 3 recognises the GELU (erf form), LayerNorm and
 * scaled-dot-product-attention subgraphs that exporters emit and replaces
 * them with com.glia::Gelu, LayerNormalization and Attention.
 *
 * Every rewrite keeps the values the rest of the graph sees: graph inputs
 * and outputs keep their ids and names, a value read by name from a subgraph
 * is never removed or renamed, and a value is only dropped when its single
 * reader is part of the rewritten pattern. A com.glia op is only emitted when
 * a provider of the session runs it.
 */
#include "glia-optimizer.h"

#include <math.h>
#include <string.h>

#define MAX_ROUNDS   8
#define MAX_MESSAGES 6
/* Folded constants may grow up to max(this, the bytes of their inputs). */
#define FOLD_MIN_LIMIT (1 << 20)

typedef struct
{
  const GliaPassInfo *info;
  guint n_runs;
  guint n_changes;
  gint nodes_removed;
  GPtrArray *messages;
} PassRecord;

struct _GliaPassContext
{
  guint level;
  GliaRegistry *registry;
  GliaOptimizerSupportsFunc supports;
  GliaOptimizerInferFunc infer;
  gpointer user_data;
  PassRecord *record;
};

gint
glia_pass_context_get_level (GliaPassContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, 0);
  return ctx->level;
}

void
glia_pass_context_report (GliaPassContext *ctx, const char *format, ...)
{
  g_return_if_fail (ctx != NULL && format != NULL);
  if (ctx->record == NULL)
    return;
  ctx->record->n_changes++;
  if (ctx->record->messages->len < MAX_MESSAGES) {
    va_list args;
    va_start (args, format);
    g_ptr_array_add (ctx->record->messages, g_strdup_vprintf (format, args));
    va_end (args);
  }
}

gboolean
glia_pass_context_has_op (GliaPassContext *ctx, const char *domain, const char *op_type, gint opset)
{
  g_return_val_if_fail (ctx != NULL && op_type != NULL, FALSE);
  if (ctx->supports == NULL)
    return FALSE;
  /* a probe graph: one node of the op on float inputs of unknown shape */
  g_autoptr (GliaGraph) probe = glia_graph_new ();
  glia_graph_set_opset (probe, domain, opset);
  if (domain && *domain && !g_str_equal (domain, "ai.onnx"))
    glia_graph_set_opset (probe, "", 17);
  gint x = glia_graph_add_value (probe, "x", GLIA_DATA_TYPE_FLOAT, -1, NULL, NULL);
  gint y = glia_graph_add_value (probe, "y", GLIA_DATA_TYPE_FLOAT, -1, NULL, NULL);
  glia_graph_add_input (probe, x);
  gint node = glia_graph_add_node (probe, op_type, domain, "probe", 1, &x, 1, &y);
  glia_graph_add_output (probe, y);
  return ctx->supports (ctx->user_data, probe, node);
}

/* ---- helpers ------------------------------------------------------------ */

/* Constant data of @v, NULL unless it is a constant that is not also a graph
 * input (an initializer a caller may override is not constant). */
static const GliaConstTensor *
get_const (const GliaGraph *g, gint v)
{
  if (v < 0 || glia_graph_value_is_input (g, v))
    return NULL;
  return glia_graph_value_get_constant (g, v);
}

static gsize
const_numel (const GliaConstTensor *c)
{
  gsize n = 1;
  for (guint i = 0; i < c->rank; i++)
    n *= (gsize)c->dims[i];
  return n;
}

/* A constant float tensor's data, NULL if @v is no such thing. */
static const float *
const_floats (const GliaGraph *g, gint v, gsize *n)
{
  const GliaConstTensor *c = get_const (g, v);
  if (c == NULL || c->dtype != GLIA_DATA_TYPE_FLOAT)
    return NULL;
  *n = const_numel (c);
  return g_bytes_get_data (c->data, NULL);
}

/* The value of a one-element numeric constant. */
static gboolean
const_scalar (const GliaGraph *g, gint v, double *out)
{
  const GliaConstTensor *c = get_const (g, v);
  if (c == NULL || const_numel (c) != 1)
    return FALSE;
  gconstpointer p = g_bytes_get_data (c->data, NULL);
  switch (c->dtype) {
  case GLIA_DATA_TYPE_FLOAT:
    *out = *(const float *)p;
    return TRUE;
  case GLIA_DATA_TYPE_DOUBLE:
    *out = *(const double *)p;
    return TRUE;
  case GLIA_DATA_TYPE_INT32:
    *out = *(const gint32 *)p;
    return TRUE;
  case GLIA_DATA_TYPE_INT64:
    *out = (double)*(const gint64 *)p;
    return TRUE;
  default:
    return FALSE;
  }
}

/* const_scalar() of @v as the other operand of a binary op on @x: also
 * FALSE if its rank could broadcast the result above @x's rank. */
static gboolean
const_scalar_on (const GliaGraph *g, gint v, gint x, double *out)
{
  const GliaConstTensor *c = get_const (g, v);
  gint r = x >= 0 ? glia_graph_value_get_rank (g, x) : -1;
  return c != NULL && (c->rank == 0 || (gint)c->rank <= r) && const_scalar (g, v, out);
}

static gboolean
near (double a, double b, double tol)
{
  return fabs (a - b) <= tol * MAX (1.0, fabs (b));
}

/* Whether @node is @op in the default domain. */
static gboolean
is_op (const GliaGraph *g, gint node, const char *op)
{
  return node >= 0 && g_str_equal (glia_graph_node_get_op_type (g, node), op)
         && *glia_graph_node_get_domain (g, node) == '\0';
}

/* The producer of @v if it is @op, else -1. */
static gint
producer_op (const GliaGraph *g, gint v, const char *op)
{
  gint p = v >= 0 ? glia_graph_value_get_producer (g, v) : -1;
  return is_op (g, p, op) ? p : -1;
}

/* The single node reading @v, or -1 if there are none or several, if a
 * subgraph reads it, or if it is a graph output: then @v could not vanish. */
static gint
sole_consumer (const GliaGraph *g, gint v)
{
  if (v < 0 || glia_graph_value_is_output (g, v))
    return -1;
  guint n;
  gboolean by_sub;
  g_autofree gint *cs = glia_graph_value_get_consumers (g, v, &n, &by_sub);
  return n == 1 && !by_sub ? cs[0] : -1;
}

/* The other input of a two-input node, given one of them. */
static gint
other_input (const GliaGraph *g, gint node, gint v)
{
  if (glia_graph_node_get_n_inputs (g, node) != 2)
    return -1;
  gint a = glia_graph_node_get_input (g, node, 0), b = glia_graph_node_get_input (g, node, 1);
  if (a == v && b != v)
    return b;
  if (b == v && a != v)
    return a;
  return -1;
}

static gboolean
is_float (const GliaGraph *g, gint v)
{
  return v >= 0 && glia_graph_value_get_dtype (g, v) == GLIA_DATA_TYPE_FLOAT
         && glia_graph_value_get_kind (g, v) == GLIA_VALUE_KIND_TENSOR;
}

/* Whether the node's outputs from @first on are absent or unread. */
static gboolean
outputs_unused_from (const GliaGraph *g, gint node, guint first)
{
  for (guint i = first; i < glia_graph_node_get_n_outputs (g, node); i++) {
    gint v = glia_graph_node_get_output (g, node, i);
    if (v < 0)
      continue;
    guint n;
    g_autofree gint *cs = glia_graph_value_get_consumers (g, v, &n, NULL);
    if (n > 0 || glia_graph_value_is_output (g, v))
      return FALSE;
  }
  return TRUE;
}

/* A new constant float value named after @base. */
static gint
add_float_constant (GliaGraph *g, const char *base, guint rank, const gint64 *dims, float *data,
                    gsize n)
{
  g_autofree char *name = glia_graph_make_unique_name (g, base);
  gint v = glia_graph_add_value (g, name, GLIA_DATA_TYPE_FLOAT, rank, dims, NULL);
  g_autoptr (GBytes) bytes = g_bytes_new_take (data, n * sizeof (float));
  if (!glia_graph_value_set_constant (g, v, GLIA_DATA_TYPE_FLOAT, rank, dims, bytes, NULL))
    return -1;
  return v;
}

static void
ensure_glia_opset (GliaGraph *g)
{
  if (glia_graph_get_opset (g, "com.glia") < 1)
    glia_graph_set_opset (g, "com.glia", 1);
}

static const char *
node_label (const GliaGraph *g, gint node)
{
  const char *name = glia_graph_node_get_name (g, node);
  return name && *name ? name : "(unnamed)";
}

/* ---- level 1: eliminations ---------------------------------------------- */

/* Y = Identity (X) or Dropout (X) at inference: readers of Y read X. When Y
 * is a graph output, X's producer produces Y instead (if X may be renamed). */
static gboolean
bypass_node (GliaGraph *g, gint node, GPtrArray *dead)
{
  gint x = glia_graph_node_get_input (g, node, 0);
  gint y = glia_graph_node_get_output (g, node, 0);
  if (x < 0 || y < 0 || glia_graph_value_get_kind (g, x) != GLIA_VALUE_KIND_TENSOR)
    return FALSE;
  guint n;
  gboolean y_by_sub;
  g_autofree gint *ycs = glia_graph_value_get_consumers (g, y, &n, &y_by_sub);
  if (y_by_sub)
    return FALSE;
  if (!glia_graph_value_is_output (g, y)) {
    glia_graph_replace_uses (g, y, x);
    g_ptr_array_add (dead, GINT_TO_POINTER (node));
    return TRUE;
  }
  gint p = glia_graph_value_get_producer (g, x);
  gboolean x_by_sub;
  guint nx;
  g_autofree gint *xcs = glia_graph_value_get_consumers (g, x, &nx, &x_by_sub);
  if (p < 0 || x_by_sub || glia_graph_value_is_output (g, x) || glia_graph_value_is_input (g, x))
    return FALSE;
  for (guint i = 0; i < glia_graph_node_get_n_outputs (g, p); i++)
    if (glia_graph_node_get_output (g, p, i) == x)
      glia_graph_node_set_output (g, p, i, y);
  glia_graph_replace_uses (g, x, y);
  glia_graph_node_set_input (g, node, 0, -1);
  g_ptr_array_add (dead, GINT_TO_POINTER (node));
  return TRUE;
}

static void
remove_dead (GliaGraph *g, GPtrArray *dead)
{
  if (dead->len)
    glia_graph_remove_nodes (g, (const gint *)dead->pdata, dead->len);
  g_ptr_array_set_size (dead, 0);
}

static gboolean
pass_eliminate_identity (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  g_autoptr (GPtrArray) dead = g_ptr_array_new ();
  gboolean changed = FALSE;
  /* one rewrite per node at a time: a later candidate may read a renamed value */
  for (guint node = 0; node < glia_graph_get_n_nodes (g); node++) {
    gboolean identity = is_op (g, node, "Identity");
    gboolean dropout = is_op (g, node, "Dropout");
    if (!identity && !dropout)
      continue;
    if (dropout) {
      /* inference mode only; the mask output must be unread */
      gint training = glia_graph_node_get_input (g, node, 2);
      double t = 0;
      if (training >= 0 && !(const_scalar (g, training, &t) && t == 0))
        continue;
      /* before opset 7 only is_test = 1 is inference */
      if (glia_graph_node_get_opset (g, node) < 7
          && glia_graph_node_get_attr_int (g, node, "is_test", 0) == 0)
        continue;
      if (!outputs_unused_from (g, node, 1))
        continue;
    }
    if (bypass_node (g, node, dead)) {
      glia_pass_context_report (ctx, "removed %s '%s'", identity ? "Identity" : "Dropout",
                                node_label (g, node));
      remove_dead (g, dead);
      node--;
      changed = TRUE;
    }
  }
  return changed;
}

static gboolean
pass_eliminate_dead (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  gboolean changed = FALSE;
  /* backwards: removing a reader may make its producers dead too */
  g_autoptr (GPtrArray) dead = g_ptr_array_new ();
  for (gint node = (gint)glia_graph_get_n_nodes (g) - 1; node >= 0; node--) {
    if (glia_graph_node_get_n_outputs (g, node) == 0)
      continue;
    if (!outputs_unused_from (g, node, 0))
      continue;
    glia_pass_context_report (ctx, "removed unused %s '%s'", glia_graph_node_get_op_type (g, node),
                              node_label (g, node));
    gint id = node;
    glia_graph_remove_nodes (g, &id, 1);
    changed = TRUE;
  }
  return changed;
}

/* ---- level 1: constant folding ------------------------------------------- */

static gboolean
op_is_foldable (const GliaGraph *g, gint node)
{
  static const char *const never[] = { "RandomNormal",      "RandomUniform", "RandomNormalLike",
                                       "RandomUniformLike", "Multinomial",   "Bernoulli",
                                       "Dropout",           "Identity",      NULL };
  if (*glia_graph_node_get_domain (g, node) != '\0')
    return FALSE;
  if (g_strv_contains (never, glia_graph_node_get_op_type (g, node)))
    return FALSE;
  for (guint a = 0; a < glia_graph_node_get_n_attrs (g, node); a++) {
    GliaAttrType t
        = glia_graph_node_get_attr_type (g, node, glia_graph_node_get_attr_name (g, node, a));
    if (t == GLIA_ATTR_GRAPH || t == GLIA_ATTR_GRAPHS || t == GLIA_ATTR_TENSORS)
      return FALSE;
  }
  guint n_out = glia_graph_node_get_n_outputs (g, node);
  gboolean any_out = FALSE;
  for (guint i = 0; i < n_out; i++) {
    gint v = glia_graph_node_get_output (g, node, i);
    if (v < 0)
      continue;
    any_out = TRUE;
    gboolean by_sub;
    guint n;
    g_autofree gint *cs = glia_graph_value_get_consumers (g, v, &n, &by_sub);
    if (by_sub || glia_graph_value_is_output (g, v)
        || glia_graph_value_get_kind (g, v) != GLIA_VALUE_KIND_TENSOR)
      return FALSE;
  }
  return any_out;
}

/* Whether every input is constant (and there is one, or it is a Constant). */
static gboolean
inputs_constant (const GliaGraph *g, gint node, gsize *in_bytes)
{
  guint n_in = glia_graph_node_get_n_inputs (g, node);
  *in_bytes = 0;
  gboolean any = FALSE;
  for (guint i = 0; i < n_in; i++) {
    gint v = glia_graph_node_get_input (g, node, i);
    if (v < 0)
      continue;
    const GliaConstTensor *c = get_const (g, v);
    if (c == NULL)
      return FALSE;
    *in_bytes += g_bytes_get_size (c->data);
    any = TRUE;
  }
  return any || is_op (g, node, "Constant");
}

/* Copies the attributes of node @node of @src to node @n of @dst (graph
 * attributes excepted). */
static void
copy_attrs (const GliaGraph *src, gint node, GliaGraph *dst, gint n)
{
  for (guint a = 0; a < glia_graph_node_get_n_attrs (src, node); a++) {
    const char *name = glia_graph_node_get_attr_name (src, node, a);
    guint len;
    gsize slen;
    switch (glia_graph_node_get_attr_type (src, node, name)) {
    case GLIA_ATTR_FLOAT:
      glia_graph_node_set_attr_float (dst, n, name,
                                      glia_graph_node_get_attr_float (src, node, name, 0));
      break;
    case GLIA_ATTR_INT:
      glia_graph_node_set_attr_int (dst, n, name,
                                    glia_graph_node_get_attr_int (src, node, name, 0));
      break;
    case GLIA_ATTR_STRING: {
      const char *s = glia_graph_node_get_attr_string (src, node, name, NULL, &slen);
      glia_graph_node_set_attr_string (dst, n, name, s, slen);
      break;
    }
    case GLIA_ATTR_FLOATS: {
      const float *f = glia_graph_node_get_attr_floats (src, node, name, &len);
      glia_graph_node_set_attr_floats (dst, n, name, f, len);
      break;
    }
    case GLIA_ATTR_INTS: {
      const gint64 *iv = glia_graph_node_get_attr_ints (src, node, name, &len);
      glia_graph_node_set_attr_ints (dst, n, name, iv, len);
      break;
    }
    case GLIA_ATTR_STRINGS: {
      const char *const *sv = glia_graph_node_get_attr_strings (src, node, name, &len);
      glia_graph_node_set_attr_strings (dst, n, name, sv, len);
      break;
    }
    case GLIA_ATTR_TENSOR: {
      const GliaConstTensor *t = glia_graph_node_get_attr_tensor (src, node, name);
      glia_graph_node_set_attr_tensor (dst, n, name, t->dtype, t->rank, t->dims, t->data);
      break;
    }
    case GLIA_ATTR_TYPE: {
      GliaValueKind kind;
      GliaDataType dtype;
      if (glia_graph_node_get_attr_value_type (src, node, name, &kind, &dtype))
        glia_graph_node_set_attr_value_type (dst, n, name, kind, dtype);
      break;
    }
    default:
      break;
    }
  }
}

/* Copies node @node of @src into @dst (attributes except graphs), its
 * inputs as constants and outputs as graph outputs. */
static void
copy_node_for_folding (GliaGraph *dst, const GliaGraph *src, gint node)
{
  guint n_in = glia_graph_node_get_n_inputs (src, node);
  guint n_out = glia_graph_node_get_n_outputs (src, node);
  g_autofree gint *ins = g_new (gint, MAX (n_in, 1));
  g_autofree gint *outs = g_new (gint, MAX (n_out, 1));
  for (guint i = 0; i < n_in; i++) {
    gint v = glia_graph_node_get_input (src, node, i);
    ins[i] = -1;
    if (v < 0)
      continue;
    const GliaConstTensor *c = get_const (src, v);
    ins[i] = glia_graph_add_value (dst, glia_graph_value_get_name (src, v), c->dtype, c->rank,
                                   c->dims, NULL);
    if (glia_graph_value_get_constant (dst, ins[i]) == NULL)
      glia_graph_value_set_constant (dst, ins[i], c->dtype, c->rank, c->dims, c->data, NULL);
  }
  for (guint i = 0; i < n_out; i++) {
    gint v = glia_graph_node_get_output (src, node, i);
    outs[i] = v < 0 ? -1
                    : glia_graph_add_value (dst, glia_graph_value_get_name (src, v),
                                            GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
    if (outs[i] >= 0)
      glia_graph_add_output (dst, outs[i]);
  }
  gint n = glia_graph_add_node (dst, glia_graph_node_get_op_type (src, node),
                                glia_graph_node_get_domain (src, node),
                                glia_graph_node_get_name (src, node), n_in, ins, n_out, outs);
  copy_attrs (src, node, dst, n);
}

/* Runs @nodes (all inputs constant) on the CPU provider and turns their
 * outputs into constants of @g. Returns the nodes folded (to remove). */
static gboolean
fold_nodes (GliaGraph *g, GliaRegistry *registry, const gint *nodes, guint n_nodes,
            const gsize *limits, GArray *folded)
{
  g_autoptr (GliaGraph) fg = glia_graph_new ();
  g_auto (GStrv) domains = glia_graph_get_opset_domains (g);
  for (guint i = 0; domains[i]; i++)
    glia_graph_set_opset (fg, domains[i], glia_graph_get_opset (g, domains[i]));
  for (guint i = 0; i < n_nodes; i++)
    copy_node_for_folding (fg, g, nodes[i]);

  g_autoptr (GliaModel) model = glia_model_new_from_graph (fg, NULL);
  if (model == NULL)
    return FALSE;
  g_autoptr (GliaSessionOptions) options = glia_session_options_new ();
  const char *const cpu[] = { "cpu", NULL };
  glia_session_options_set_providers (options, cpu);
  glia_session_options_set_optimization_level (options, 0);
  glia_session_options_set_threads (options, 1);
  g_autoptr (GliaSession) session = glia_session_new_full (model, options, registry, NULL);
  if (session == NULL)
    return FALSE;
  g_autoptr (GHashTable) inputs = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) outputs = glia_session_run (session, inputs, NULL);
  if (outputs == NULL)
    return FALSE;

  for (guint i = 0; i < n_nodes; i++) {
    gint node = nodes[i];
    guint n_out = glia_graph_node_get_n_outputs (g, node);
    gboolean ok = TRUE;
    for (guint o = 0; o < n_out && ok; o++) {
      gint v = glia_graph_node_get_output (g, node, o);
      if (v < 0)
        continue;
      GObject *obj = g_hash_table_lookup (outputs, glia_graph_value_get_name (g, v));
      if (obj == NULL || !GLIA_IS_TENSOR (obj)) {
        ok = FALSE;
        break;
      }
      GliaTensor *t = GLIA_TENSOR (obj);
      gsize size = 0;
      glia_tensor_peek_data (t, &size);
      ok = glia_tensor_get_dtype (t) != GLIA_DATA_TYPE_STRING && size <= limits[i];
    }
    if (!ok)
      continue;
    for (guint o = 0; o < n_out; o++) {
      gint v = glia_graph_node_get_output (g, node, o);
      if (v < 0)
        continue;
      GliaTensor *t = GLIA_TENSOR (g_hash_table_lookup (outputs, glia_graph_value_get_name (g, v)));
      guint rank;
      const gint64 *dims = glia_tensor_get_shape (t, &rank);
      g_autoptr (GBytes) data = glia_tensor_get_data (t);
      glia_graph_value_set_constant (g, v, glia_tensor_get_dtype (t), rank, dims, data, NULL);
    }
    g_array_append_val (folded, node);
  }
  return TRUE;
}

/* fold_nodes() on @nodes (gint) with @limits (gsize) in one session; when
 * one node fails the batch (a kernel rejecting its input, say), each alone,
 * so that the others still fold and the failing one stays for run time. */
static void
fold_batch (GliaGraph *g, GliaRegistry *registry, GArray *nodes, GArray *limits, GArray *folded)
{
  if (fold_nodes (g, registry, (const gint *)nodes->data, nodes->len, (const gsize *)limits->data,
                  folded))
    return;
  for (guint i = 0; i < nodes->len; i++)
    fold_nodes (g, registry, &g_array_index (nodes, gint, i), 1, &g_array_index (limits, gsize, i),
                folded);
}

/* Shape and Size of a value whose dims are all known. */
static gboolean
fold_shape (GliaGraph *g, gint node)
{
  gboolean size_op = is_op (g, node, "Size");
  if (!is_op (g, node, "Shape") && !size_op)
    return FALSE;
  gint x = glia_graph_node_get_input (g, node, 0);
  gint y = glia_graph_node_get_output (g, node, 0);
  gint rank = x >= 0 ? glia_graph_value_get_rank (g, x) : -1;
  if (rank < 0 || y < 0 || glia_graph_value_get_kind (g, x) != GLIA_VALUE_KIND_TENSOR)
    return FALSE;
  const gint64 *dims = glia_graph_value_get_dims (g, x);
  for (gint i = 0; i < rank; i++)
    if (dims[i] < 0 || glia_graph_value_get_dim_param (g, x, i) != NULL)
      return FALSE;
  gint64 values[GLIA_MAX_RANK + 1];
  gint64 out_dims[1];
  guint n = 0;
  if (size_op) {
    values[0] = 1;
    for (gint i = 0; i < rank; i++)
      values[0] *= dims[i];
    n = 1;
  } else {
    gint64 start = glia_graph_node_get_attr_int (g, node, "start", 0);
    gint64 end = glia_graph_node_get_attr_int (g, node, "end", rank);
    if (start < 0)
      start += rank;
    if (end < 0)
      end += rank;
    start = CLAMP (start, 0, rank);
    end = CLAMP (end, 0, rank);
    for (gint64 i = start; i < end; i++)
      values[n++] = dims[i];
  }
  out_dims[0] = n;
  g_autoptr (GBytes) bytes = g_bytes_new (values, n * sizeof (gint64));
  return glia_graph_value_set_constant (g, y, GLIA_DATA_TYPE_INT64, size_op ? 0 : 1, out_dims,
                                        bytes, NULL);
}

/* Gather (Shape (x), indices) where the dims gathered are known, though
 * others (a dynamic batch) are not. */
static gboolean
fold_shape_gather (GliaGraph *g, gint node)
{
  if (!is_op (g, node, "Gather") || glia_graph_node_get_attr_int (g, node, "axis", 0) != 0)
    return FALSE;
  gint shape = producer_op (g, glia_graph_node_get_input (g, node, 0), "Shape");
  gint y = glia_graph_node_get_output (g, node, 0);
  const GliaConstTensor *idx = get_const (g, glia_graph_node_get_input (g, node, 1));
  if (shape < 0 || y < 0 || idx == NULL || idx->rank > 1
      || (idx->dtype != GLIA_DATA_TYPE_INT64 && idx->dtype != GLIA_DATA_TYPE_INT32))
    return FALSE;
  gint x = glia_graph_node_get_input (g, shape, 0);
  gint rank = glia_graph_value_get_rank (g, x);
  if (rank < 0 || glia_graph_value_get_kind (g, x) != GLIA_VALUE_KIND_TENSOR)
    return FALSE;
  gint64 start = glia_graph_node_get_attr_int (g, shape, "start", 0);
  gint64 end = glia_graph_node_get_attr_int (g, shape, "end", rank);
  start = CLAMP (start < 0 ? start + rank : start, 0, rank);
  end = CLAMP (end < 0 ? end + rank : end, 0, rank);
  gint64 len = MAX (end - start, 0);
  gsize n = const_numel (idx);
  if (n > GLIA_MAX_RANK)
    return FALSE;
  const gint64 *dims = glia_graph_value_get_dims (g, x);
  gint64 values[GLIA_MAX_RANK];
  gconstpointer raw = g_bytes_get_data (idx->data, NULL);
  for (gsize i = 0; i < n; i++) {
    gint64 k
        = idx->dtype == GLIA_DATA_TYPE_INT64 ? ((const gint64 *)raw)[i] : ((const gint32 *)raw)[i];
    if (k < 0)
      k += len;
    if (k < 0 || k >= len)
      return FALSE;
    gint axis = (gint)(start + k);
    if (dims[axis] < 0 || glia_graph_value_get_dim_param (g, x, axis) != NULL)
      return FALSE;
    values[i] = dims[axis];
  }
  g_autoptr (GBytes) bytes = g_bytes_new (values, n * sizeof (gint64));
  return glia_graph_value_set_constant (g, y, GLIA_DATA_TYPE_INT64, idx->rank, idx->dims, bytes,
                                        NULL);
}

/* One sweep: folds the nodes whose inputs are constant now. */
static gboolean
fold_constants_once (GliaGraph *g, GliaPassContext *ctx)
{
  g_autoptr (GArray) folded = g_array_new (FALSE, FALSE, sizeof (gint));
  g_autoptr (GArray) batch = g_array_new (FALSE, FALSE, sizeof (gint));
  g_autoptr (GArray) limits = g_array_new (FALSE, FALSE, sizeof (gsize));
  guint n_nodes = glia_graph_get_n_nodes (g);
  for (guint node = 0; node < n_nodes; node++) {
    if (!op_is_foldable (g, node))
      continue;
    gsize in_bytes;
    if (inputs_constant (g, node, &in_bytes)) {
      gint id = node;
      /* a Constant's output is its attribute: always worth storing */
      gsize limit = is_op (g, node, "Constant") ? G_MAXSIZE : MAX (in_bytes, (gsize)FOLD_MIN_LIMIT);
      g_array_append_val (batch, id);
      g_array_append_val (limits, limit);
    } else if (fold_shape (g, node) || fold_shape_gather (g, node)) {
      gint id = node;
      g_array_append_val (folded, id);
    }
  }
  gboolean have_cpu = batch->len > 0 && ctx->registry != NULL
                      && glia_registry_get_provider_rank (ctx->registry, "cpu") >= 0;
  if (have_cpu)
    fold_batch (g, ctx->registry, batch, limits, folded);
  if (folded->len == 0)
    return FALSE;
  for (guint i = 0; i < folded->len; i++) {
    gint node = g_array_index (folded, gint, i);
    glia_pass_context_report (ctx, "folded %s '%s'", glia_graph_node_get_op_type (g, node),
                              node_label (g, node));
  }
  glia_graph_remove_nodes (g, (const gint *)folded->data, folded->len);
  return TRUE;
}

static gboolean
pass_fold_constants (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  /* sweeps until a chain of constant nodes is gone (bounded) */
  gboolean changed = FALSE;
  for (guint sweep = 0; sweep < 32 && fold_constants_once (g, ctx); sweep++)
    changed = TRUE;
  return changed;
}

/* ---- level 2: Conv + BatchNormalization ----------------------------------- */

static gboolean
pass_fuse_conv_bn (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  gboolean changed = FALSE;
  for (guint bn = 0; bn < glia_graph_get_n_nodes (g); bn++) {
    if (!is_op (g, bn, "BatchNormalization"))
      continue;
    gint y = glia_graph_node_get_input (g, bn, 0);
    gint conv = producer_op (g, y, "Conv");
    if (conv < 0 || sole_consumer (g, y) != (gint)bn || !outputs_unused_from (g, bn, 1))
      continue;
    if (glia_graph_node_get_attr_int (g, bn, "training_mode", 0) != 0
        || glia_graph_node_get_attr_int (g, bn, "spatial", 1) != 1
        || glia_graph_node_get_n_inputs (g, bn) != 5)
      continue;
    gint w = glia_graph_node_get_input (g, conv, 1);
    gint b = glia_graph_node_get_input (g, conv, 2);
    const GliaConstTensor *wc = get_const (g, w);
    if (wc == NULL || wc->dtype != GLIA_DATA_TYPE_FLOAT || wc->rank < 3 || !is_float (g, y))
      continue;
    gsize n_w, n_s, n_bb, n_m, n_v, n_b = 0;
    const float *wd = const_floats (g, w, &n_w);
    const float *scale = const_floats (g, glia_graph_node_get_input (g, bn, 1), &n_s);
    const float *beta = const_floats (g, glia_graph_node_get_input (g, bn, 2), &n_bb);
    const float *mean = const_floats (g, glia_graph_node_get_input (g, bn, 3), &n_m);
    const float *var = const_floats (g, glia_graph_node_get_input (g, bn, 4), &n_v);
    const float *bd = b >= 0 ? const_floats (g, b, &n_b) : NULL;
    gsize c_out = (gsize)wc->dims[0];
    if (!wd || !scale || !beta || !mean || !var || (b >= 0 && !bd) || c_out == 0 || n_s != c_out
        || n_bb != c_out || n_m != c_out || n_v != c_out || (b >= 0 && n_b != c_out))
      continue;
    double eps = glia_graph_node_get_attr_float (g, bn, "epsilon", 1e-5f);
    gsize per = n_w / c_out;
    float *nw = g_new (float, n_w);
    float *nb = g_new (float, c_out);
    for (gsize o = 0; o < c_out; o++) {
      double s = scale[o] / sqrt ((double)var[o] + eps);
      for (gsize k = 0; k < per; k++)
        nw[o * per + k] = (float)(wd[o * per + k] * s);
      nb[o] = (float)(((bd ? bd[o] : 0.0) - mean[o]) * s + beta[o]);
    }
    g_autofree char *wname = g_strconcat (glia_graph_value_get_name (g, w), "_bn", NULL);
    gint nwv = add_float_constant (g, wname, wc->rank, wc->dims, nw, n_w);
    gint64 bdims[1] = { (gint64)c_out };
    g_autofree char *bname = g_strconcat (wname, "_bias", NULL);
    gint nbv = add_float_constant (g, bname, 1, bdims, nb, c_out);
    if (nwv < 0 || nbv < 0)
      continue;
    glia_graph_node_set_input (g, conv, 1, nwv);
    glia_graph_node_set_input (g, conv, 2, nbv);
    glia_graph_node_set_output (g, conv, 0, glia_graph_node_get_output (g, bn, 0));
    glia_pass_context_report (ctx, "folded BatchNormalization '%s' into Conv '%s'",
                              node_label (g, bn), node_label (g, conv));
    gint id = bn;
    glia_graph_remove_nodes (g, &id, 1);
    bn--;
    changed = TRUE;
  }
  return changed;
}

/* ---- level 2: MatMul + Add -> Gemm ---------------------------------------- */

static gboolean
pass_fuse_matmul_add (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  gboolean changed = FALSE;
  if (glia_graph_get_opset (g, "") < 7)
    return FALSE;
  for (guint mm = 0; mm < glia_graph_get_n_nodes (g); mm++) {
    if (!is_op (g, mm, "MatMul"))
      continue;
    gint a = glia_graph_node_get_input (g, mm, 0), b = glia_graph_node_get_input (g, mm, 1);
    gint y = glia_graph_node_get_output (g, mm, 0);
    if (!is_float (g, a) || !is_float (g, b) || glia_graph_value_get_rank (g, a) != 2
        || glia_graph_value_get_rank (g, b) != 2)
      continue;
    gint add = sole_consumer (g, y);
    if (!is_op (g, add, "Add"))
      continue;
    gint c = other_input (g, add, y);
    const GliaConstTensor *cc = get_const (g, c);
    if (cc == NULL || cc->dtype != GLIA_DATA_TYPE_FLOAT || cc->rank > 2)
      continue;
    gint64 m = glia_graph_value_get_dims (g, a)[0];
    gint64 n = glia_graph_value_get_dims (g, b)[1];
    /* C must broadcast one way to [M, N]: the output shape stays Y's */
    gboolean fits = TRUE;
    for (guint i = 0; i < cc->rank; i++) {
      gint64 want = cc->rank == 2 && i == 0 ? m : n;
      if (cc->dims[i] != 1 && cc->dims[i] != want)
        fits = FALSE;
    }
    if (!fits || (n < 0 && cc->rank > 0 && cc->dims[cc->rank - 1] != 1))
      continue;
    glia_graph_node_set_op_type (g, mm, "Gemm", "");
    glia_graph_node_set_input (g, mm, 2, c);
    glia_graph_node_set_output (g, mm, 0, glia_graph_node_get_output (g, add, 0));
    glia_pass_context_report (ctx, "MatMul '%s' + Add '%s' -> Gemm", node_label (g, mm),
                              node_label (g, add));
    gint id = add;
    glia_graph_remove_nodes (g, &id, 1);
    if ((guint)add < mm)
      mm--;
    changed = TRUE;
  }
  return changed;
}

/* ---- level 2: activations ------------------------------------------------- */

/* Reads activation node @act into a name and parameters; FALSE if it cannot
 * be fused (an unsupported op, a Clip bound that is not constant). */
static gboolean
read_activation (const GliaGraph *g, gint act, const char **name, float *params, guint *n_params)
{
  static const char *const simple[] = { "Relu", "HardSwish", "Sigmoid", "Tanh", NULL };
  const char *op = glia_graph_node_get_op_type (g, act);
  if (*glia_graph_node_get_domain (g, act) != '\0')
    return FALSE;
  *n_params = 0;
  *name = op;
  if (g_strv_contains (simple, op))
    return TRUE;
  if (g_str_equal (op, "LeakyRelu")) {
    params[0] = glia_graph_node_get_attr_float (g, act, "alpha", 0.01f);
    *n_params = 1;
    return TRUE;
  }
  if (g_str_equal (op, "HardSigmoid")) {
    params[0] = glia_graph_node_get_attr_float (g, act, "alpha", 0.2f);
    params[1] = glia_graph_node_get_attr_float (g, act, "beta", 0.5f);
    *n_params = 2;
    return TRUE;
  }
  if (g_str_equal (op, "Clip")) {
    params[0] = -INFINITY;
    params[1] = INFINITY;
    if (glia_graph_node_get_opset (g, act) < 11) {
      params[0] = glia_graph_node_get_attr_float (g, act, "min", -INFINITY);
      params[1] = glia_graph_node_get_attr_float (g, act, "max", INFINITY);
    } else {
      for (guint i = 1; i < 3; i++) {
        gint v = glia_graph_node_get_input (g, act, i);
        double d;
        if (v < 0)
          continue;
        if (!const_scalar (g, v, &d))
          return FALSE;
        params[i - 1] = (float)d;
      }
    }
    *n_params = 2;
    return TRUE;
  }
  return FALSE;
}

/* If the single reader of @node's output is a fusable activation, makes
 * @node apply it and removes it. */
static gboolean
absorb_activation (GliaGraph *g, GliaPassContext *ctx, gint node)
{
  if (glia_graph_node_has_attr (g, node, "activation"))
    return FALSE;
  gint y = glia_graph_node_get_output (g, node, 0);
  gint act = sole_consumer (g, y);
  if (act < 0 || glia_graph_node_get_input (g, act, 0) != y)
    return FALSE;
  const char *name;
  float params[2];
  guint n_params;
  if (!read_activation (g, act, &name, params, &n_params))
    return FALSE;
  glia_graph_node_set_attr_string (g, node, "activation", name, strlen (name));
  if (n_params)
    glia_graph_node_set_attr_floats (g, node, "activation_params", params, n_params);
  glia_graph_node_set_output (g, node, 0, glia_graph_node_get_output (g, act, 0));
  glia_pass_context_report (ctx, "%s '%s' + %s '%s'", glia_graph_node_get_op_type (g, node),
                            node_label (g, node), name, node_label (g, act));
  gint id = act;
  glia_graph_remove_nodes (g, &id, 1);
  return TRUE;
}

/* ---- level 2: MatMul / Gemm with constant weights -> FusedMatMul ----------- */

/* Whether constant @c can serve as FusedMatMul's bias for an output of rank
 * @rank and last dim @n: @n elements, every axis but the last 1, rank no
 * higher than the output's (so adding it does not change Y's shape). */
static gboolean
is_row_bias (const GliaConstTensor *c, guint rank, gint64 n)
{
  if (c == NULL || c->dtype != GLIA_DATA_TYPE_FLOAT || c->rank < 1 || c->rank > rank
      || c->dims[c->rank - 1] != n)
    return FALSE;
  for (guint i = 0; i + 1 < c->rank; i++)
    if (c->dims[i] != 1)
      return FALSE;
  return TRUE;
}

/* Turns Gemm @node (alpha = beta = 1, no transA, constant B, C absent or a
 * constant row) into FusedMatMul's inputs; FALSE if it does not fit. */
static gboolean
gemm_to_fused_matmul (GliaGraph *g, gint node)
{
  if (glia_graph_node_has_attr (g, node, "broadcast")
      || glia_graph_node_get_attr_float (g, node, "alpha", 1.0f) != 1.0f
      || glia_graph_node_get_attr_int (g, node, "transA", 0) != 0)
    return FALSE;
  gint b = glia_graph_node_get_input (g, node, 1);
  const GliaConstTensor *bc = get_const (g, b);
  if (bc == NULL || bc->dtype != GLIA_DATA_TYPE_FLOAT || bc->rank != 2)
    return FALSE;
  gboolean trans_b = glia_graph_node_get_attr_int (g, node, "transB", 0) != 0;
  gint64 n = bc->dims[trans_b ? 0 : 1], k = bc->dims[trans_b ? 1 : 0];
  gint c = glia_graph_node_get_n_inputs (g, node) > 2 ? glia_graph_node_get_input (g, node, 2) : -1;
  if (c >= 0
      && (glia_graph_node_get_attr_float (g, node, "beta", 1.0f) != 1.0f
          || !is_row_bias (get_const (g, c), 2, n)))
    return FALSE;
  if (trans_b) {
    const float *src = g_bytes_get_data (bc->data, NULL);
    float *t = g_new (float, (gsize)(n * k));
    for (gint64 i = 0; i < k; i++)
      for (gint64 j = 0; j < n; j++)
        t[i * n + j] = src[j * k + i];
    gint64 dims[2] = { k, n };
    gint tb = add_float_constant (g, glia_graph_value_get_name (g, b), 2, dims, t, (gsize)(n * k));
    if (tb < 0)
      return FALSE;
    glia_graph_node_set_input (g, node, 1, tb);
  }
  static const char *const attrs[] = { "alpha", "beta", "transA", "transB" };
  for (guint i = 0; i < G_N_ELEMENTS (attrs); i++)
    glia_graph_node_remove_attr (g, node, attrs[i]);
  return TRUE;
}

static gboolean
pass_fuse_matmul_bias (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  if (!glia_pass_context_has_op (ctx, "com.glia", "FusedMatMul", 1))
    return FALSE;
  gboolean changed = FALSE;
  for (guint node = 0; node < glia_graph_get_n_nodes (g); node++) {
    gboolean mm = is_op (g, node, "MatMul"), gemm = is_op (g, node, "Gemm");
    if (!mm && !gemm)
      continue;
    gint a = glia_graph_node_get_input (g, node, 0), b = glia_graph_node_get_input (g, node, 1);
    gint y = glia_graph_node_get_output (g, node, 0);
    gint rank = glia_graph_value_get_rank (g, a);
    const GliaConstTensor *bc = get_const (g, b);
    if (!is_float (g, a) || !is_float (g, y) || rank < 2 || bc == NULL
        || bc->dtype != GLIA_DATA_TYPE_FLOAT || bc->rank != 2
        || glia_graph_value_get_rank (g, y) != rank)
      continue;
    if (gemm && !gemm_to_fused_matmul (g, node))
      continue;
    ensure_glia_opset (g);
    glia_graph_node_set_op_type (g, node, "FusedMatMul", "com.glia");
    glia_pass_context_report (ctx, "%s '%s' -> FusedMatMul", mm ? "MatMul" : "Gemm",
                              node_label (g, node));
    changed = TRUE;
    if (mm) {
      gint64 n = glia_graph_value_get_dims (g, b)[1];
      gint add = sole_consumer (g, y);
      gint c = add >= 0 && is_op (g, add, "Add") ? other_input (g, add, y) : -1;
      if (c >= 0 && is_row_bias (get_const (g, c), (guint)rank, n)) {
        glia_graph_node_set_input (g, node, 2, c);
        glia_graph_node_set_output (g, node, 0, glia_graph_node_get_output (g, add, 0));
        glia_pass_context_report (ctx, "  + bias Add '%s'", node_label (g, add));
        gint id = add;
        glia_graph_remove_nodes (g, &id, 1);
        if ((guint)add < node)
          node--;
      }
    }
    gint act = sole_consumer (g, glia_graph_node_get_output (g, node, 0));
    if (absorb_activation (g, ctx, node) && (guint)act < node)
      node--;
  }
  (void)error;
  return changed;
}

static gboolean
is_fused (const GliaGraph *g, gint node, const char *op)
{
  return g_str_equal (glia_graph_node_get_op_type (g, node), op)
         && g_str_equal (glia_graph_node_get_domain (g, node), "com.glia");
}

/* The range [*start, *end) of the last axis (of size @n) that Slice @node
 * takes from its data input of rank @rank, when it is one constant
 * non-empty range of that axis with step 1. */
static gboolean
last_axis_slice (const GliaGraph *g, gint node, gint rank, gint64 n, gint64 *start, gint64 *end)
{
  guint n_in = glia_graph_node_get_n_inputs (g, node);
  double st, en, ax = 0, step = 1;
  if (!is_op (g, node, "Slice") || n_in < 3 || rank < 1
      || glia_graph_node_get_n_outputs (g, node) != 1
      || !const_scalar (g, glia_graph_node_get_input (g, node, 1), &st)
      || !const_scalar (g, glia_graph_node_get_input (g, node, 2), &en))
    return FALSE;
  gint axes = n_in > 3 ? glia_graph_node_get_input (g, node, 3) : -1;
  gint steps = n_in > 4 ? glia_graph_node_get_input (g, node, 4) : -1;
  if ((axes >= 0 && !const_scalar (g, axes, &ax)) || (steps >= 0 && !const_scalar (g, steps, &step))
      || step != 1 || (ax != rank - 1 && ax != -1))
    return FALSE;
  /* ONNX: negative indices count from the end; both clamp to [0, n] */
  gint64 a = st < 0 ? (gint64)st + n : (gint64)MIN (st, (double)n);
  gint64 b = en < 0 ? (gint64)en + n : (gint64)MIN (en, (double)n);
  *start = CLAMP (a, 0, n);
  *end = CLAMP (b, 0, n);
  return *start < *end;
}

/* A FusedMatMul (constant B [K, N], optional constant bias [N]) whose output
 * only Slices of the last axis read becomes one FusedMatMul per Slice, over
 * those columns of B and the bias: a transformer's packed Q/K/V projection
 * is then three products writing Q, K and V where they are read, instead
 * of one product and three copies. Each Slice node becomes its product. */
static gboolean
pass_split_matmul_slices (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  gboolean changed = FALSE;
  for (guint node = 0; node < glia_graph_get_n_nodes (g); node++) {
    guint n_in = glia_graph_node_get_n_inputs (g, node);
    if (!is_fused (g, node, "FusedMatMul") || n_in < 2 || n_in > 3
        || glia_graph_node_get_n_outputs (g, node) != 1)
      continue;
    gint a = glia_graph_node_get_input (g, node, 0), b = glia_graph_node_get_input (g, node, 1);
    gint bias = n_in > 2 ? glia_graph_node_get_input (g, node, 2) : -1;
    gint y = glia_graph_node_get_output (g, node, 0);
    const GliaConstTensor *bc = get_const (g, b);
    gint rank = glia_graph_value_get_rank (g, y);
    if (bc == NULL || bc->dtype != GLIA_DATA_TYPE_FLOAT || bc->rank != 2 || !is_float (g, y)
        || rank < 2 || glia_graph_value_is_output (g, y))
      continue;
    gint64 k = bc->dims[0], n = bc->dims[1];
    gsize nb = 0;
    const float *bd = bias >= 0 ? const_floats (g, bias, &nb) : NULL;
    if (bias >= 0 && (bd == NULL || nb != (gsize)n))
      continue;
    guint n_cons;
    gboolean by_sub;
    g_autofree gint *cons = glia_graph_value_get_consumers (g, y, &n_cons, &by_sub);
    gboolean ok = n_cons > 0 && !by_sub;
    g_autofree gint64 *range = g_new (gint64, 2 * MAX (n_cons, 1));
    for (guint c = 0; c < n_cons && ok; c++)
      ok = glia_graph_node_get_input (g, cons[c], 0) == y
           && last_axis_slice (g, cons[c], rank, n, &range[2 * c], &range[2 * c + 1]);
    if (!ok)
      continue;
    const float *w = g_bytes_get_data (bc->data, NULL);
    for (guint c = 0; c < n_cons; c++) {
      gint s = cons[c];
      gint64 c0 = range[2 * c], width = range[2 * c + 1] - c0;
      float *ws = g_new (float, k *width);
      for (gint64 r = 0; r < k; r++)
        memcpy (ws + r * width, w + r * n + c0, width * sizeof (float));
      gint64 wdims[2] = { k, width };
      gint wv = add_float_constant (g, glia_graph_value_get_name (g, b), 2, wdims, ws, k * width);
      gint bv = -1;
      if (bd)
        bv = add_float_constant (g, glia_graph_value_get_name (g, bias), 1, &width,
                                 g_memdup2 (bd + c0, width * sizeof (float)), width);
      if (wv < 0 || (bd && bv < 0))
        return changed; /* cannot happen: the data fits its shape */
      glia_graph_node_set_op_type (g, s, "FusedMatMul", "com.glia");
      glia_graph_node_truncate_inputs (g, s, bd ? 3 : 2);
      glia_graph_node_set_input (g, s, 0, a);
      glia_graph_node_set_input (g, s, 1, wv);
      if (bd)
        glia_graph_node_set_input (g, s, 2, bv);
      copy_attrs (g, node, g, s);
      glia_pass_context_report (ctx,
                                "FusedMatMul '%s' + Slice '%s' -> FusedMatMul over columns "
                                "%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
                                node_label (g, node), node_label (g, s), c0, c0 + width);
    }
    gint id = node;
    glia_graph_remove_nodes (g, &id, 1);
    node--;
    changed = TRUE;
  }
  (void)error;
  return changed;
}

/* A Transpose's perm when it keeps the last axis in place (the Attention
 * kernel reads and writes rows through strides), else NULL. */
static const gint64 *
row_keeping_perm (const GliaGraph *g, gint tr, guint *n)
{
  *n = 0;
  const gint64 *perm = glia_graph_node_has_attr (g, tr, "perm")
                           ? glia_graph_node_get_attr_ints (g, tr, "perm", n)
                           : NULL;
  gint rank = glia_graph_value_get_rank (g, glia_graph_node_get_input (g, tr, 0));
  if (perm == NULL || *n < 2 || *n > GLIA_MAX_RANK || rank != (gint)*n
      || perm[*n - 1] != (gint64)*n - 1)
    return NULL;
  return perm;
}

/* ---- level 2: an embedding table times constant weights --------------------
 *
 * FusedMatMul (Gather (E, ids) [-> Transposes keeping the last axis], W, b)
 * with E [V, K], W [K, N] and b constant: each output row is row ids[i] of
 * E W + b (with the node's activation), so that table is computed once and
 * the product becomes a Gather of it. A transformer whose first layer reads
 * its token embeddings (no norm or positional term between) saves its
 * first Q/K/V products: 128 rows x 256 x 768, about 0.24 of 4.8 ms at one
 * thread. Only while the table stays small (EMBED_TABLE_LIMIT) and no
 * larger than four times E. */

#define EMBED_TABLE_LIMIT ((gsize)64 << 20)

/* A new float value of unknown shape, named after @base. */
static gint
new_float_value (GliaGraph *g, const char *base)
{
  g_autofree char *name = glia_graph_make_unique_name (g, base);
  return glia_graph_add_value (g, name, GLIA_DATA_TYPE_FLOAT, -1, NULL, NULL);
}

typedef struct
{
  gint node, gather, ids, table_value, fold;
  gint chain[GLIA_MAX_RANK]; /* Transposes from A up to the Gather */
  gint n_chain;
  gint64 rows, n;
} EmbedFold;

/* Whether FusedMatMul @node reads a Gather of a constant table as the
 * pattern above says: fills @f (node, gather, ids, chain, rows, n). */
static gboolean
embedding_matmul (const GliaGraph *g, gint node, EmbedFold *f)
{
  guint n_in = glia_graph_node_get_n_inputs (g, node);
  if (!is_fused (g, node, "FusedMatMul") || n_in < 2 || n_in > 3
      || glia_graph_node_get_n_outputs (g, node) != 1)
    return FALSE;
  gint bias = n_in > 2 ? glia_graph_node_get_input (g, node, 2) : -1;
  const GliaConstTensor *bc = get_const (g, glia_graph_node_get_input (g, node, 1));
  if (bc == NULL || bc->dtype != GLIA_DATA_TYPE_FLOAT || bc->rank != 2
      || !is_float (g, glia_graph_node_get_output (g, node, 0))
      || (bias >= 0 && get_const (g, bias) == NULL))
    return FALSE;
  /* up from A through Transposes that keep the last axis to a Gather */
  f->node = node;
  f->n_chain = 0;
  gint v = glia_graph_node_get_input (g, node, 0);
  f->gather = -1;
  while (v >= 0 && f->n_chain < GLIA_MAX_RANK) {
    gint tr = producer_op (g, v, "Transpose");
    guint n_perm;
    if (tr < 0 || row_keeping_perm (g, tr, &n_perm) == NULL) {
      f->gather = producer_op (g, v, "Gather");
      break;
    }
    f->chain[f->n_chain++] = tr;
    v = glia_graph_node_get_input (g, tr, 0);
  }
  if (f->gather < 0 || glia_graph_node_get_attr_int (g, f->gather, "axis", 0) != 0)
    return FALSE;
  const GliaConstTensor *ec = get_const (g, glia_graph_node_get_input (g, f->gather, 0));
  f->ids = glia_graph_node_get_input (g, f->gather, 1);
  if (ec == NULL || ec->dtype != GLIA_DATA_TYPE_FLOAT || ec->rank != 2 || ec->dims[1] != bc->dims[0]
      || get_const (g, f->ids) != NULL)
    return FALSE;
  f->rows = ec->dims[0];
  f->n = bc->dims[1];
  gsize bytes = (gsize)f->rows * (gsize)f->n * sizeof (float);
  return bytes <= EMBED_TABLE_LIMIT && f->n <= 4 * ec->dims[1];
}

static gboolean
pass_fold_embedding_matmul (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  if (ctx->registry == NULL || glia_registry_get_provider_rank (ctx->registry, "cpu") < 0)
    return FALSE;
  /* each table: the node's op on E, as a node of its own, all computed in
   * one folding session */
  g_autoptr (GArray) cands = g_array_new (FALSE, FALSE, sizeof (EmbedFold));
  g_autoptr (GArray) folds = g_array_new (FALSE, FALSE, sizeof (gint));
  g_autoptr (GArray) limits = g_array_new (FALSE, FALSE, sizeof (gsize));
  guint n_nodes = glia_graph_get_n_nodes (g);
  for (guint node = 0; node < n_nodes; node++) {
    EmbedFold f;
    if (!embedding_matmul (g, node, &f))
      continue;
    guint n_in = glia_graph_node_get_n_inputs (g, node);
    gint ins[3]
        = { glia_graph_node_get_input (g, f.gather, 0), glia_graph_node_get_input (g, node, 1),
            n_in > 2 ? glia_graph_node_get_input (g, node, 2) : -1 };
    f.table_value = new_float_value (g, "embedding_product");
    f.fold = glia_graph_add_node (g, "FusedMatMul", "com.glia",
                                  glia_graph_value_get_name (g, f.table_value), n_in, ins, 1,
                                  &f.table_value);
    copy_attrs (g, node, g, f.fold);
    gsize limit = (gsize)f.rows * (gsize)f.n * sizeof (float);
    g_array_append_val (cands, f);
    g_array_append_val (folds, f.fold);
    g_array_append_val (limits, limit);
  }
  if (cands->len == 0)
    return FALSE;
  g_autoptr (GArray) folded = g_array_new (FALSE, FALSE, sizeof (gint));
  fold_batch (g, ctx->registry, folds, limits, folded);
  /* a Gather of each table, then the same Transposes, into the product's
   * output; the folding nodes and the products go */
  g_autoptr (GArray) gone = g_array_new (FALSE, FALSE, sizeof (gint));
  g_array_append_vals (gone, folds->data, folds->len);
  for (guint c = 0; c < cands->len; c++) {
    const EmbedFold *f = &g_array_index (cands, EmbedFold, c);
    gboolean done = FALSE;
    for (guint i = 0; i < folded->len && !done; i++)
      done = g_array_index (folded, gint, i) == f->fold;
    if (!done)
      continue;
    gint y = glia_graph_node_get_output (g, f->node, 0);
    const char *base = glia_graph_value_get_name (g, f->table_value);
    gint last = f->n_chain == 0 ? y : new_float_value (g, base);
    gint gins[2] = { f->table_value, f->ids };
    gint ng = glia_graph_add_node (g, "Gather", "", base, 2, gins, 1, &last);
    copy_attrs (g, f->gather, g, ng);
    for (gint i = f->n_chain - 1; i >= 0; i--) {
      gint out = i == 0 ? y : new_float_value (g, base);
      gint t = glia_graph_add_node (g, "Transpose", "", base, 1, &last, 1, &out);
      copy_attrs (g, f->chain[i], g, t);
      last = out;
    }
    glia_pass_context_report (ctx,
                              "Gather '%s' + FusedMatMul '%s' -> Gather of a [%" G_GINT64_FORMAT
                              ", %" G_GINT64_FORMAT "] table",
                              node_label (g, f->gather), node_label (g, f->node), f->rows, f->n);
    g_array_append_val (gone, f->node);
  }
  glia_graph_remove_nodes (g, (const gint *)gone->data, gone->len);
  (void)error;
  return gone->len > folds->len;
}

static gboolean
pass_fuse_activation (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  gboolean has_conv = glia_pass_context_has_op (ctx, "com.glia", "FusedConv", 1);
  gboolean has_gemm = glia_pass_context_has_op (ctx, "com.glia", "FusedGemm", 1);
  gboolean changed = FALSE;
  for (guint node = 0; node < glia_graph_get_n_nodes (g); node++) {
    gboolean conv = is_op (g, node, "Conv") || is_fused (g, node, "FusedConv");
    gboolean gemm = is_op (g, node, "Gemm") || is_fused (g, node, "FusedGemm");
    if (!(conv && has_conv) && !(gemm && has_gemm))
      continue;
    if (!is_float (g, glia_graph_node_get_output (g, node, 0)) || !outputs_unused_from (g, node, 1))
      continue;
    if (gemm && glia_graph_node_has_attr (g, node, "broadcast"))
      continue;
    gint y = glia_graph_node_get_output (g, node, 0);
    gint act = sole_consumer (g, y);
    const char *name;
    float params[2];
    guint n_params;
    if (act < 0 || !read_activation (g, act, &name, params, &n_params))
      continue;
    if (*glia_graph_node_get_domain (g, node) == '\0') {
      ensure_glia_opset (g);
      glia_graph_node_set_op_type (g, node, conv ? "FusedConv" : "FusedGemm", "com.glia");
    }
    if (absorb_activation (g, ctx, node)) {
      changed = TRUE;
      if ((guint)act < node)
        node--;
    }
  }
  return changed;
}

/* Whether @z provably has Y's shape: every dim known and equal, or the same
 * symbolic dim (two unknown dims may differ: one of them may broadcast). */
static gboolean
same_shape (const GliaGraph *g, gint y, gint z)
{
  gint r = glia_graph_value_get_rank (g, y);
  if (r < 1 || r != glia_graph_value_get_rank (g, z))
    return FALSE;
  const gint64 *dy = glia_graph_value_get_dims (g, y), *dz = glia_graph_value_get_dims (g, z);
  for (gint i = 0; i < r; i++) {
    if (dy[i] >= 0 && dy[i] == dz[i])
      continue;
    const char *py = glia_graph_value_get_dim_param (g, y, i);
    const char *pz = glia_graph_value_get_dim_param (g, z, i);
    if (py && pz && g_str_equal (py, pz))
      continue;
    return FALSE;
  }
  return TRUE;
}

/* Conv -> Add (residual of Conv's shape) [-> activation] => FusedConv with Z. */
static gboolean
pass_fuse_conv_add (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  if (!glia_pass_context_has_op (ctx, "com.glia", "FusedConv", 1))
    return FALSE;
  gboolean changed = FALSE;
  for (guint conv = 0; conv < glia_graph_get_n_nodes (g); conv++) {
    if (!is_op (g, conv, "Conv") || glia_graph_node_get_n_inputs (g, conv) > 3)
      continue;
    gint y = glia_graph_node_get_output (g, conv, 0);
    gint add = sole_consumer (g, y);
    if (!is_float (g, y) || !is_op (g, add, "Add"))
      continue;
    gint z = other_input (g, add, y);
    gint out = glia_graph_node_get_output (g, add, 0);
    if (!is_float (g, z) || !same_shape (g, y, z) || !same_shape (g, y, out))
      continue;
    ensure_glia_opset (g);
    glia_graph_node_set_op_type (g, conv, "FusedConv", "com.glia");
    if (glia_graph_node_get_n_inputs (g, conv) < 3)
      glia_graph_node_set_input (g, conv, 2, -1);
    glia_graph_node_set_input (g, conv, 3, z);
    glia_graph_node_set_output (g, conv, 0, out);
    glia_pass_context_report (ctx, "Conv '%s' + Add '%s' (residual)", node_label (g, conv),
                              node_label (g, add));
    gint id = add;
    glia_graph_remove_nodes (g, &id, 1);
    if ((guint)add < conv)
      conv--;
    absorb_activation (g, ctx, conv);
    changed = TRUE;
  }
  return changed;
}

/* ---- level 3: GELU --------------------------------------------------------- */

/* x / sqrt(2) or x * (1 / sqrt(2)): returns x, or -1. */
static gint
match_div_sqrt2 (const GliaGraph *g, gint node)
{
  double c;
  gint a = glia_graph_node_get_input (g, node, 0), b = glia_graph_node_get_input (g, node, 1);
  if (is_op (g, node, "Div") && const_scalar_on (g, b, a, &c) && near (c, G_SQRT2, 1e-3))
    return a;
  if (is_op (g, node, "Mul")) {
    if (const_scalar_on (g, b, a, &c) && near (c, 1 / G_SQRT2, 1e-3))
      return a;
    if (const_scalar_on (g, a, b, &c) && near (c, 1 / G_SQRT2, 1e-3))
      return b;
  }
  return -1;
}

/* Whether @node multiplies @v by the constant @k (or divides by 1/@k). */
static gboolean
is_scale_of (const GliaGraph *g, gint node, gint v, double k)
{
  double c;
  if (is_op (g, node, "Mul")) {
    gint o = other_input (g, node, v);
    return o >= 0 && const_scalar_on (g, o, v, &c) && near (c, k, 1e-4);
  }
  if (is_op (g, node, "Div") && glia_graph_node_get_input (g, node, 0) == v)
    return const_scalar_on (g, glia_graph_node_get_input (g, node, 1), v, &c)
           && near (c, 1 / k, 1e-4);
  return FALSE;
}

static gboolean
pass_fuse_gelu (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  if (!glia_pass_context_has_op (ctx, "com.glia", "Gelu", 1))
    return FALSE;
  gboolean changed = FALSE;
  for (guint erf = 0; erf < glia_graph_get_n_nodes (g); erf++) {
    if (!is_op (g, erf, "Erf"))
      continue;
    gint e_in = glia_graph_node_get_input (g, erf, 0);
    gint div = glia_graph_value_get_producer (g, e_in);
    gint x = div >= 0 ? match_div_sqrt2 (g, div) : -1;
    if (x < 0 || !is_float (g, x) || sole_consumer (g, e_in) != (gint)erf)
      continue;
    gint e_out = glia_graph_node_get_output (g, erf, 0);
    gint add = sole_consumer (g, e_out);
    double one;
    if (!is_op (g, add, "Add") || !const_scalar_on (g, other_input (g, add, e_out), e_out, &one)
        || one != 1.0)
      continue;
    gint a_out = glia_graph_node_get_output (g, add, 0);
    gint m1 = sole_consumer (g, a_out);
    if (!is_op (g, m1, "Mul"))
      continue;
    gint m1_other = other_input (g, m1, a_out);
    gint m1_out = glia_graph_node_get_output (g, m1, 0);
    gint half = -1, last = -1;
    if (m1_other == x) {
      /* (x * (1 + erf)) * 0.5 */
      last = sole_consumer (g, m1_out);
      if (last < 0 || !is_scale_of (g, last, m1_out, 0.5))
        continue;
    } else if (m1_other >= 0 && glia_graph_value_get_producer (g, m1_other) >= 0
               && sole_consumer (g, m1_other) == m1
               && is_scale_of (g, glia_graph_value_get_producer (g, m1_other), x, 0.5)) {
      /* (x * 0.5) * (1 + erf) */
      half = glia_graph_value_get_producer (g, m1_other);
      last = m1;
    } else if (is_scale_of (g, m1, a_out, 0.5)) {
      /* ((1 + erf) * 0.5) * x */
      last = sole_consumer (g, m1_out);
      if (!is_op (g, last, "Mul") || other_input (g, last, m1_out) != x)
        continue;
    } else
      continue;
    gint out = glia_graph_node_get_output (g, last, 0);
    /* the last node becomes the Gelu; the others go */
    gint gone[5] = { div, erf, add, last != m1 ? m1 : -1, half };
    ensure_glia_opset (g);
    glia_graph_node_set_op_type (g, last, "Gelu", "com.glia");
    glia_graph_node_set_input (g, last, 0, x);
    glia_graph_node_truncate_inputs (g, last, 1);
    glia_graph_node_set_output (g, last, 0, out);
    glia_graph_node_set_attr_string (g, last, "approximate", "none", 4);
    glia_pass_context_report (ctx, "GELU at Erf '%s'", node_label (g, erf));
    g_autoptr (GArray) list = g_array_new (FALSE, FALSE, sizeof (gint));
    for (guint i = 0; i < G_N_ELEMENTS (gone); i++)
      if (gone[i] >= 0)
        g_array_append_val (list, gone[i]);
    glia_graph_remove_nodes (g, (const gint *)list->data, list->len);
    erf = G_MAXUINT; /* start again: ids moved */
    changed = TRUE;
  }
  return changed;
}

/* ---- level 3: LayerNorm ---------------------------------------------------- */

/* Whether ReduceMean @node averages over the last axis only, keeping it. */
static gboolean
reduces_last_axis (const GliaGraph *g, gint node, gint x)
{
  if (!is_op (g, node, "ReduceMean") || glia_graph_node_get_attr_int (g, node, "keepdims", 1) != 1)
    return FALSE;
  guint n = 0;
  const gint64 *axes = glia_graph_node_get_attr_ints (g, node, "axes", &n);
  gint64 axis;
  if (axes) {
    if (n != 1)
      return FALSE;
    axis = axes[0];
  } else {
    gint av = glia_graph_node_get_input (g, node, 1);
    const GliaConstTensor *c = get_const (g, av);
    if (c == NULL || c->dtype != GLIA_DATA_TYPE_INT64 || const_numel (c) != 1)
      return FALSE;
    axis = *(const gint64 *)g_bytes_get_data (c->data, NULL);
  }
  gint rank = glia_graph_value_get_rank (g, x);
  return axis == -1 || (rank > 0 && axis == rank - 1);
}

static gboolean
pass_fuse_layer_norm (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  if (!glia_pass_context_has_op (ctx, "com.glia", "LayerNormalization", 1))
    return FALSE;
  gboolean changed = FALSE;
  for (guint mean = 0; mean < glia_graph_get_n_nodes (g); mean++) {
    gint x = glia_graph_node_get_input (g, mean, 0);
    if (!is_float (g, x) || !reduces_last_axis (g, mean, x))
      continue;
    gint mu = glia_graph_node_get_output (g, mean, 0);
    gint sub = sole_consumer (g, mu);
    if (!is_op (g, sub, "Sub") || glia_graph_node_get_input (g, sub, 0) != x
        || glia_graph_node_get_input (g, sub, 1) != mu)
      continue;
    /* d = x - mean feeds the square and the final division */
    gint d = glia_graph_node_get_output (g, sub, 0);
    guint n_d;
    gboolean d_sub;
    g_autofree gint *dcs = glia_graph_value_get_consumers (g, d, &n_d, &d_sub);
    if (n_d != 2 || d_sub || glia_graph_value_is_output (g, d))
      continue;
    gint sq = -1, div = -1;
    for (guint i = 0; i < 2; i++) {
      double e;
      if (is_op (g, dcs[i], "Pow") && glia_graph_node_get_input (g, dcs[i], 0) == d
          && const_scalar_on (g, glia_graph_node_get_input (g, dcs[i], 1), d, &e) && e == 2.0)
        sq = dcs[i];
      else if (is_op (g, dcs[i], "Mul") && glia_graph_node_get_input (g, dcs[i], 0) == d
               && glia_graph_node_get_input (g, dcs[i], 1) == d)
        sq = dcs[i];
      else if (is_op (g, dcs[i], "Div") && glia_graph_node_get_input (g, dcs[i], 0) == d)
        div = dcs[i];
    }
    if (sq < 0 || div < 0)
      continue;
    gint sq_out = glia_graph_node_get_output (g, sq, 0);
    gint var = sole_consumer (g, sq_out);
    if (var < 0 || !reduces_last_axis (g, var, sq_out))
      continue;
    gint var_out = glia_graph_node_get_output (g, var, 0);
    gint add_eps = sole_consumer (g, var_out);
    double eps;
    if (!is_op (g, add_eps, "Add")
        || !const_scalar_on (g, other_input (g, add_eps, var_out), var_out, &eps) || !(eps >= 0))
      continue;
    gint ae_out = glia_graph_node_get_output (g, add_eps, 0);
    gint sqrt_n = sole_consumer (g, ae_out);
    if (!is_op (g, sqrt_n, "Sqrt"))
      continue;
    gint std = glia_graph_node_get_output (g, sqrt_n, 0);
    if (sole_consumer (g, std) != div || glia_graph_node_get_input (g, div, 1) != std)
      continue;
    gint last = div, out = glia_graph_node_get_output (g, div, 0);
    gint mul = -1, add_b = -1, scale = -1, bias = -1;
    /* optional affine part: * scale (constant, last axis) then + bias */
    gint cand = sole_consumer (g, out);
    if (is_op (g, cand, "Mul")) {
      gint s = other_input (g, cand, out);
      const GliaConstTensor *sc = get_const (g, s);
      gint xr = glia_graph_value_get_rank (g, x);
      gint64 c = xr > 0 ? glia_graph_value_get_dims (g, x)[xr - 1] : -1;
      if (sc && sc->dtype == GLIA_DATA_TYPE_FLOAT && sc->rank == 1 && sc->dims[0] == c) {
        mul = cand;
        scale = s;
        last = mul;
        out = glia_graph_node_get_output (g, mul, 0);
        cand = sole_consumer (g, out);
        if (is_op (g, cand, "Add")) {
          gint bv = other_input (g, cand, out);
          const GliaConstTensor *bc = get_const (g, bv);
          if (bc && bc->dtype == GLIA_DATA_TYPE_FLOAT && bc->rank == 1
              && bc->dims[0] == sc->dims[0]) {
            add_b = cand;
            bias = bv;
            last = add_b;
            out = glia_graph_node_get_output (g, add_b, 0);
          }
        }
      }
    }
    if (scale < 0) {
      /* the op needs a scale: ones over the last axis, which must be known */
      gint rank = glia_graph_value_get_rank (g, x);
      gint64 c = rank > 0 ? glia_graph_value_get_dims (g, x)[rank - 1] : -1;
      if (c <= 0)
        continue;
      float *ones = g_new (float, c);
      for (gint64 i = 0; i < c; i++)
        ones[i] = 1.0f;
      scale = add_float_constant (g, "layer_norm_ones", 1, &c, ones, (gsize)c);
    }
    ensure_glia_opset (g);
    glia_graph_node_set_op_type (g, last, "LayerNormalization", "com.glia");
    glia_graph_node_set_input (g, last, 0, x);
    glia_graph_node_set_input (g, last, 1, scale);
    if (bias >= 0)
      glia_graph_node_set_input (g, last, 2, bias);
    glia_graph_node_truncate_inputs (g, last, bias >= 0 ? 3 : 2);
    glia_graph_node_set_attr_int (g, last, "axis", -1);
    glia_graph_node_set_attr_float (g, last, "epsilon", (float)eps);
    glia_pass_context_report (ctx, "LayerNorm at ReduceMean '%s'", node_label (g, mean));
    gint all[8] = { mean, sub, sq, var, add_eps, sqrt_n, div, mul };
    g_autoptr (GArray) gone = g_array_new (FALSE, FALSE, sizeof (gint));
    for (guint i = 0; i < G_N_ELEMENTS (all); i++)
      if (all[i] >= 0 && all[i] != last)
        g_array_append_val (gone, all[i]);
    if (add_b >= 0 && add_b != last)
      g_array_append_val (gone, add_b);
    glia_graph_remove_nodes (g, (const gint *)gone->data, gone->len);
    mean = G_MAXUINT;
    changed = TRUE;
  }
  return changed;
}

/* ---- level 3: attention ---------------------------------------------------- */

/* @v scaled by a scalar constant (Mul or Div): returns the unscaled value
 * and multiplies *@scale; else returns @v. */
static gint
strip_scale (const GliaGraph *g, gint v, double *scale, gint *node_out)
{
  gint p = glia_graph_value_get_producer (g, v);
  *node_out = -1;
  if (p < 0 || sole_consumer (g, v) < 0)
    return v;
  double c;
  gint a = glia_graph_node_get_input (g, p, 0), b = glia_graph_node_get_input (g, p, 1);
  if (is_op (g, p, "Div") && const_scalar_on (g, b, a, &c) && c != 0) {
    *scale /= c;
    *node_out = p;
    return a;
  }
  if (is_op (g, p, "Mul")) {
    if (const_scalar_on (g, b, a, &c)) {
      *scale *= c;
      *node_out = p;
      return a;
    }
    if (const_scalar_on (g, a, b, &c)) {
      *scale *= c;
      *node_out = p;
      return b;
    }
  }
  return v;
}

/* Whether adding @mask to @s provably keeps @s's shape: every axis of @mask
 * is 1 or matches @s's (known, or the same symbolic dim, or @s's is known
 * and above 1, where any other size fails unfused too). */
static gboolean
broadcasts_into (const GliaGraph *g, gint mask, gint s)
{
  gint rm = glia_graph_value_get_rank (g, mask), rs = glia_graph_value_get_rank (g, s);
  if (rm < 0 || rs < 0 || rm > rs)
    return FALSE;
  const gint64 *dm = glia_graph_value_get_dims (g, mask), *ds = glia_graph_value_get_dims (g, s);
  for (gint i = 0; i < rm; i++) {
    gint64 m = dm[i], t = ds[rs - rm + i];
    if (m == 1 || (m >= 0 && m == t) || t > 1)
      continue;
    const char *pm = glia_graph_value_get_dim_param (g, mask, i);
    const char *pt = glia_graph_value_get_dim_param (g, s, rs - rm + i);
    if (pm && pt && g_str_equal (pm, pt))
      continue;
    return FALSE;
  }
  return TRUE;
}

static gboolean
pass_fuse_attention (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  if (!glia_pass_context_has_op (ctx, "com.glia", "Attention", 1))
    return FALSE;
  gboolean changed = FALSE;
  for (guint sm = 0; sm < glia_graph_get_n_nodes (g); sm++) {
    if (!is_op (g, sm, "Softmax"))
      continue;
    gint s_in = glia_graph_node_get_input (g, sm, 0);
    gint s_rank = glia_graph_value_get_rank (g, s_in);
    gint64 axis = glia_graph_node_get_attr_int (g, sm, "axis",
                                                glia_graph_node_get_opset (g, sm) < 13 ? 1 : -1);
    if (!(axis == -1 || (s_rank >= 2 && axis == s_rank - 1)) || !is_float (g, s_in))
      continue;
    gint p = glia_graph_node_get_output (g, sm, 0);
    gint mm2 = sole_consumer (g, p);
    if (!is_op (g, mm2, "MatMul") || glia_graph_node_get_input (g, mm2, 0) != p)
      continue;
    gint v = glia_graph_node_get_input (g, mm2, 1);
    /* scores = [mask +] [scale *] MatMul (Q [* scale], Kt) */
    gint mask = -1, add = -1, scores = s_in;
    if (sole_consumer (g, s_in) != (gint)sm)
      continue;
    gint ap = glia_graph_value_get_producer (g, scores);
    if (is_op (g, ap, "Add")) {
      gint a0 = glia_graph_node_get_input (g, ap, 0), a1 = glia_graph_node_get_input (g, ap, 1);
      gint pa0 = glia_graph_value_get_producer (g, a0);
      gboolean a0_scores
          = pa0 >= 0
            && (is_op (g, pa0, "MatMul") || is_op (g, pa0, "Mul") || is_op (g, pa0, "Div"));
      add = ap;
      scores = a0_scores ? a0 : a1;
      mask = a0_scores ? a1 : a0;
      /* the kernel broadcasts the mask to the scores, never the reverse */
      if (sole_consumer (g, scores) != add || !broadcasts_into (g, mask, scores))
        continue;
    }
    double scale = 1.0;
    gint post_scale_node;
    gint raw = strip_scale (g, scores, &scale, &post_scale_node);
    gint mm1 = producer_op (g, raw, "MatMul");
    if (mm1 < 0 || sole_consumer (g, raw) < 0)
      continue;
    gint q_scaled = glia_graph_node_get_input (g, mm1, 0);
    gint kt = glia_graph_node_get_input (g, mm1, 1);
    gint pre_scale_node;
    gint q = strip_scale (g, q_scaled, &scale, &pre_scale_node);
    /* K from Kt: undo the transpose of the last two axes */
    gint tr = producer_op (g, kt, "Transpose");
    guint n_perm = 0;
    const gint64 *perm = tr >= 0 ? glia_graph_node_get_attr_ints (g, tr, "perm", &n_perm) : NULL;
    gint k = -1;
    gint64 new_perm[GLIA_MAX_RANK];
    gboolean identity = TRUE;
    if (perm && n_perm >= 2 && n_perm <= GLIA_MAX_RANK && sole_consumer (g, kt) == mm1) {
      memcpy (new_perm, perm, n_perm * sizeof (gint64));
      new_perm[n_perm - 2] = perm[n_perm - 1];
      new_perm[n_perm - 1] = perm[n_perm - 2];
      for (guint i = 0; i < n_perm; i++)
        identity = identity && new_perm[i] == (gint64)i;
      k = glia_graph_node_get_input (g, tr, 0);
    } else {
      gint r = glia_graph_value_get_rank (g, kt);
      if (r < 2 || r > GLIA_MAX_RANK)
        continue;
      tr = -1;
      n_perm = r;
      for (gint i = 0; i < r; i++)
        new_perm[i] = i;
      new_perm[r - 2] = r - 1;
      new_perm[r - 1] = r - 2;
      identity = FALSE;
      k = kt;
    }
    if (!is_float (g, q) || !is_float (g, k) || !is_float (g, v) || !isfinite (scale)
        || glia_graph_value_get_rank (g, q) < 2 || glia_graph_value_get_rank (g, v) < 2)
      continue;
    if (!identity) {
      /* a Transpose producing K (reusing the one that made Kt, if any) */
      g_autofree char *name = glia_graph_make_unique_name (g, "attention_k");
      gint kv = glia_graph_add_value (g, name, GLIA_DATA_TYPE_FLOAT, -1, NULL, NULL);
      if (tr >= 0) {
        glia_graph_node_set_output (g, tr, 0, kv);
        glia_graph_node_set_attr_ints (g, tr, "perm", new_perm, n_perm);
      } else {
        gint tn = glia_graph_add_node (g, "Transpose", "", name, 1, &k, 1, &kv);
        glia_graph_node_set_attr_ints (g, tn, "perm", new_perm, n_perm);
      }
      k = kv;
      tr = -1; /* kept */
    }
    ensure_glia_opset (g);
    glia_graph_node_set_op_type (g, mm2, "Attention", "com.glia");
    glia_graph_node_set_input (g, mm2, 0, q);
    glia_graph_node_set_input (g, mm2, 1, k);
    glia_graph_node_set_input (g, mm2, 2, v);
    if (mask >= 0)
      glia_graph_node_set_input (g, mm2, 3, mask);
    glia_graph_node_set_attr_float (g, mm2, "scale", (float)scale);
    glia_pass_context_report (ctx, "attention at Softmax '%s'", node_label (g, sm));
    gint all[6] = { sm, add, post_scale_node, mm1, pre_scale_node, tr };
    g_autoptr (GArray) gone = g_array_new (FALSE, FALSE, sizeof (gint));
    for (guint i = 0; i < G_N_ELEMENTS (all); i++)
      if (all[i] >= 0)
        g_array_append_val (gone, all[i]);
    glia_graph_remove_nodes (g, (const gint *)gone->data, gone->len);
    sm = G_MAXUINT;
    changed = TRUE;
  }
  return changed;
}

/* Whether @v is read more than once by @node's inputs. */
static gboolean
read_twice (const GliaGraph *g, gint node, gint v)
{
  guint uses = 0;
  for (guint i = 0; i < glia_graph_node_get_n_inputs (g, node); i++)
    uses += glia_graph_node_get_input (g, node, i) == v;
  return uses > 1;
}

static gboolean
pass_attention_layout (GliaGraph *g, GliaPassContext *ctx, GError **error)
{
  static const char *const names[4] = { "q_perm", "k_perm", "v_perm", "out_perm" };
  gboolean changed = FALSE;
  for (guint a = 0; a < glia_graph_get_n_nodes (g); a++) {
    if (!g_str_equal (glia_graph_node_get_op_type (g, a), "Attention")
        || !g_str_equal (glia_graph_node_get_domain (g, a), "com.glia"))
      continue;
    gint gone[4];
    guint n_gone = 0;
    for (guint i = 0; i < 3; i++) {
      gint in = glia_graph_node_get_input (g, a, i);
      gint tr = producer_op (g, in, "Transpose");
      guint n;
      const gint64 *perm = tr >= 0 ? row_keeping_perm (g, tr, &n) : NULL;
      if (perm == NULL || sole_consumer (g, in) != (gint)a || read_twice (g, a, in)
          || glia_graph_node_has_attr (g, a, names[i]))
        continue;
      glia_graph_node_set_attr_ints (g, a, names[i], perm, n);
      glia_graph_node_set_input (g, a, i, glia_graph_node_get_input (g, tr, 0));
      gone[n_gone++] = tr;
    }
    gint y = glia_graph_node_get_output (g, a, 0);
    gint tr = sole_consumer (g, y);
    guint n;
    const gint64 *perm = is_op (g, tr, "Transpose") ? row_keeping_perm (g, tr, &n) : NULL;
    if (perm && !glia_graph_node_has_attr (g, a, names[3])) {
      glia_graph_node_set_attr_ints (g, a, names[3], perm, n);
      glia_graph_node_set_output (g, a, 0, glia_graph_node_get_output (g, tr, 0));
      gone[n_gone++] = tr;
    }
    if (n_gone == 0)
      continue;
    glia_pass_context_report (ctx, "%u Transposes into Attention '%s'", n_gone, node_label (g, a));
    glia_graph_remove_nodes (g, gone, n_gone);
    a = G_MAXUINT; /* indices moved: from the start */
    changed = TRUE;
  }
  return changed;
}

/* ---- the pass list ----------------------------------------------------------- */

#define HOST_PASS(NAME, DESC, LEVEL, FUNC)                                                         \
  {                                                                                                \
    .struct_size = sizeof (GliaPassInfo), .name = NAME, .description = DESC, .level = LEVEL,       \
    .apply = FUNC,                                                                                 \
  }

static const GliaPassInfo host_passes[] = {
  HOST_PASS ("eliminate-identity", "removes Identity and inference-mode Dropout", 1,
             pass_eliminate_identity),
  HOST_PASS ("fold-constants",
             "computes nodes whose inputs are all constant (and Shape of "
             "known shapes) once, at session creation",
             1, pass_fold_constants),
  HOST_PASS ("eliminate-dead-nodes", "removes nodes whose outputs nothing reads", 1,
             pass_eliminate_dead),
  HOST_PASS ("fuse-conv-batchnorm", "folds BatchNormalization into the preceding Conv's weights", 2,
             pass_fuse_conv_bn),
  HOST_PASS ("fuse-matmul-add", "MatMul of matrices + constant bias -> Gemm", 2,
             pass_fuse_matmul_add),
  HOST_PASS ("fuse-matmul-bias",
             "MatMul / Gemm with constant weights [+ bias Add] [+ activation] -> "
             "com.glia::FusedMatMul",
             2, pass_fuse_matmul_bias),
  HOST_PASS ("split-matmul-slices",
             "FusedMatMul read only by Slices of its last axis -> one FusedMatMul per Slice", 2,
             pass_split_matmul_slices),
  HOST_PASS ("fold-embedding-matmul",
             "FusedMatMul of a Gather from a constant table -> Gather from the table times "
             "the weights, computed once",
             2, pass_fold_embedding_matmul),
  HOST_PASS ("fuse-conv-add", "Conv + residual Add [+ activation] -> com.glia::FusedConv", 2,
             pass_fuse_conv_add),
  HOST_PASS ("fuse-activation", "Conv / Gemm + activation -> com.glia::FusedConv / FusedGemm", 2,
             pass_fuse_activation),
  HOST_PASS ("fuse-gelu", "erf GELU subgraph -> com.glia::Gelu", 3, pass_fuse_gelu),
  HOST_PASS ("fuse-layer-norm",
             "ReduceMean/Sub/Pow/Sqrt/Div LayerNorm subgraph -> "
             "com.glia::LayerNormalization",
             3, pass_fuse_layer_norm),
  HOST_PASS ("fuse-attention", "softmax(Q Kt * scale + mask) V -> com.glia::Attention", 3,
             pass_fuse_attention),
  HOST_PASS ("attention-layout",
             "Transposes that keep the last axis, into and out of com.glia::Attention, "
             "become its strides",
             3, pass_attention_layout),
};

static gint
compare_records (gconstpointer a, gconstpointer b)
{
  const PassRecord *x = *(PassRecord *const *)a, *y = *(PassRecord *const *)b;
  return x->info->level - y->info->level;
}

static void
record_free (gpointer p)
{
  PassRecord *r = p;
  g_ptr_array_unref (r->messages);
  g_free (r);
}

gboolean
_glia_optimize (GliaGraph *graph, guint level, GliaRegistry *registry,
                GliaOptimizerSupportsFunc supports, GliaOptimizerInferFunc infer,
                gpointer user_data, char **report, GError **error)
{
  guint n_before = glia_graph_get_n_nodes (graph);
  if (level == 0) {
    if (report)
      *report = g_strdup_printf ("optimization level 0: no passes (%u nodes)\n", n_before);
    return TRUE;
  }
  g_autoptr (GPtrArray) records = g_ptr_array_new_with_free_func (record_free);
  for (guint i = 0; i < G_N_ELEMENTS (host_passes); i++) {
    PassRecord *r = g_new0 (PassRecord, 1);
    r->info = &host_passes[i];
    r->messages = g_ptr_array_new_with_free_func (g_free);
    g_ptr_array_add (records, r);
  }
  if (registry) {
    g_autoptr (GPtrArray) plugin_passes = glia_registry_get_passes (registry);
    for (guint i = 0; i < plugin_passes->len; i++) {
      PassRecord *r = g_new0 (PassRecord, 1);
      r->info = g_ptr_array_index (plugin_passes, i);
      r->messages = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (records, r);
    }
  }
  /* stable: by level, then host passes, then plugin passes */
  g_ptr_array_sort (records, compare_records);

  GliaPassContext ctx = { level, registry, supports, infer, user_data, NULL };
  guint round;
  gboolean changed = TRUE;
  for (round = 0; round < MAX_ROUNDS && changed; round++) {
    changed = FALSE;
    for (guint i = 0; i < records->len; i++) {
      PassRecord *r = g_ptr_array_index (records, i);
      if ((guint)r->info->level > level)
        continue;
      ctx.record = r;
      guint before = glia_graph_get_n_nodes (graph);
      guint changes_before = r->n_changes;
      GError *local = NULL;
      r->n_runs++;
      gboolean did = r->info->apply (graph, &ctx, &local);
      if (local) {
        g_propagate_prefixed_error (error, local, "optimization pass '%s': ", r->info->name);
        return FALSE;
      }
      did = did || r->n_changes > changes_before;
      if (!did)
        continue;
      if (!glia_graph_validate (graph, &local)) {
        g_propagate_prefixed_error (
            error, local, "optimization pass '%s' left an invalid graph: ", r->info->name);
        return FALSE;
      }
      /* later passes match on ranks and types that folding made known */
      if (infer && !infer (user_data, graph, &local)) {
        g_propagate_prefixed_error (error, local, "after optimization pass '%s': ", r->info->name);
        return FALSE;
      }
      r->nodes_removed += (gint)before - (gint)glia_graph_get_n_nodes (graph);
      changed = TRUE;
    }
  }
  ctx.record = NULL;

  if (report) {
    GString *s = g_string_new (NULL);
    g_string_append_printf (s, "optimization level %u: %u nodes -> %u nodes (%u rounds)\n", level,
                            n_before, glia_graph_get_n_nodes (graph), round);
    for (guint i = 0; i < records->len; i++) {
      PassRecord *r = g_ptr_array_index (records, i);
      if ((guint)r->info->level > level)
        continue;
      g_string_append_printf (s, "  %-22s level %d  %4u changes  %+5d nodes  %s\n", r->info->name,
                              r->info->level, r->n_changes, -r->nodes_removed,
                              r->info->description ? r->info->description : "");
      for (guint m = 0; m < r->messages->len; m++)
        g_string_append_printf (s, "      %s\n", (char *)g_ptr_array_index (r->messages, m));
      if (r->n_changes > r->messages->len)
        g_string_append_printf (s, "      ... and %u more\n", r->n_changes - r->messages->len);
    }
    *report = g_string_free (s, FALSE);
  }
  return TRUE;
}
