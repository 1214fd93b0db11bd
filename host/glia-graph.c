/* glia-graph.c: the graph IR (see plugin-api/glia-graph.h).
 *
 * Values and nodes live in pointer arrays indexed by id. A graph is
 * reference counted; the model's graph is never modified after loading, the
 * session modifies a glia_graph_copy(). Attribute lookups are linear: nodes
 * have a handful of attributes and lookups happen at compile time only.
 */
#include "glia-private.h"

#include <string.h>

typedef struct
{
  char *name;
  GliaAttrType type;
  gint64 i;
  float f;
  char *s;
  gsize s_len;
  gint64 *ints;
  float *floats;
  char **strings;
  guint n;
  GliaConstTensor tensor;
  GliaGraph *graph;
} GliaAttr;

typedef struct
{
  char *op_type;
  char *domain;
  char *name;
  GArray *inputs;
  GArray *outputs;
  GPtrArray *attrs;
} GliaNode;

typedef struct
{
  char *name;
  GliaDataType dtype;
  gint rank;
  gint64 *dims;
  char **dim_params; /* rank entries, NULL where not symbolic; NULL if none */
  GliaConstTensor *constant;
  gint producer;
  GliaValueKind kind;
} GliaValue;

struct _GliaGraph
{
  gint ref_count;
  GPtrArray *values;
  GPtrArray *nodes;
  GHashTable *value_ids; /* name -> id + 1 */
  GArray *inputs;
  GArray *outputs;
  GHashTable *opsets;   /* domain -> version */
  GHashTable *metadata; /* key -> value */
};

static void
const_tensor_clear (GliaConstTensor *t)
{
  g_free ((gpointer)t->dims);
  g_clear_pointer (&t->data, g_bytes_unref);
}

static void
const_tensor_init (GliaConstTensor *t, GliaDataType dtype, guint rank, const gint64 *dims,
                   GBytes *data)
{
  t->dtype = dtype;
  t->rank = rank;
  t->dims = rank ? g_memdup2 (dims, rank * sizeof (gint64)) : NULL;
  t->data = data ? g_bytes_ref (data) : g_bytes_new (NULL, 0);
}

static void
attr_free (gpointer p)
{
  GliaAttr *a = p;
  g_free (a->name);
  g_free (a->s);
  g_free (a->ints);
  g_free (a->floats);
  g_strfreev (a->strings);
  const_tensor_clear (&a->tensor);
  g_clear_pointer (&a->graph, glia_graph_unref);
  g_free (a);
}

static void
node_free (gpointer p)
{
  GliaNode *n = p;
  g_free (n->op_type);
  g_free (n->domain);
  g_free (n->name);
  g_array_unref (n->inputs);
  g_array_unref (n->outputs);
  g_ptr_array_unref (n->attrs);
  g_free (n);
}

static void
value_free (gpointer p)
{
  GliaValue *v = p;
  g_free (v->name);
  g_free (v->dims);
  if (v->dim_params) {
    for (gint i = 0; i < v->rank; i++)
      g_free (v->dim_params[i]);
    g_free (v->dim_params);
  }
  if (v->constant) {
    const_tensor_clear (v->constant);
    g_free (v->constant);
  }
  g_free (v);
}

GliaGraph *
glia_graph_new (void)
{
  GliaGraph *g = g_new0 (GliaGraph, 1);
  g->ref_count = 1;
  g->values = g_ptr_array_new_with_free_func (value_free);
  g->nodes = g_ptr_array_new_with_free_func (node_free);
  g->value_ids = g_hash_table_new (g_str_hash, g_str_equal);
  g->inputs = g_array_new (FALSE, FALSE, sizeof (gint));
  g->outputs = g_array_new (FALSE, FALSE, sizeof (gint));
  g->opsets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return g;
}

GliaGraph *
glia_graph_ref (GliaGraph *graph)
{
  g_return_val_if_fail (graph != NULL, NULL);
  g_atomic_int_inc (&graph->ref_count);
  return graph;
}

void
glia_graph_unref (GliaGraph *graph)
{
  if (graph == NULL || !g_atomic_int_dec_and_test (&graph->ref_count))
    return;
  g_hash_table_unref (graph->value_ids);
  g_ptr_array_unref (graph->nodes);
  g_ptr_array_unref (graph->values);
  g_array_unref (graph->inputs);
  g_array_unref (graph->outputs);
  g_hash_table_unref (graph->opsets);
  g_hash_table_unref (graph->metadata);
  g_free (graph);
}

static inline GliaValue *
get_value (const GliaGraph *g, gint id)
{
  if (id < 0 || (guint)id >= g->values->len)
    return NULL;
  return g_ptr_array_index (g->values, id);
}

static inline GliaNode *
get_node (const GliaGraph *g, gint id)
{
  if (id < 0 || (guint)id >= g->nodes->len)
    return NULL;
  return g_ptr_array_index (g->nodes, id);
}

static void
value_set_shape (GliaValue *v, gint rank, const gint64 *dims, const char *const *dim_params)
{
  /* build the new arrays first: @dims and @dim_params may point into v */
  gint new_rank = rank < 0 ? -1 : rank;
  gint64 *new_dims = NULL;
  char **new_params = NULL;
  if (new_rank > 0) {
    new_dims = g_new (gint64, new_rank);
    for (gint i = 0; i < new_rank; i++)
      new_dims[i] = dims ? dims[i] : -1;
    if (dim_params) {
      new_params = g_new0 (char *, new_rank);
      for (gint i = 0; i < new_rank; i++)
        new_params[i] = g_strdup (dim_params[i] && *dim_params[i] ? dim_params[i] : NULL);
    }
  }
  if (v->dim_params) {
    for (gint i = 0; i < v->rank; i++)
      g_free (v->dim_params[i]);
    g_free (v->dim_params);
  }
  g_free (v->dims);
  v->rank = new_rank;
  v->dims = new_dims;
  v->dim_params = new_params;
}

gint
glia_graph_add_value (GliaGraph *graph, const char *name, GliaDataType dtype, gint rank,
                      const gint64 *dims, const char *const *dim_params)
{
  g_return_val_if_fail (graph != NULL, -1);
  g_return_val_if_fail (name != NULL, -1);

  gpointer found = g_hash_table_lookup (graph->value_ids, name);
  if (found)
    return GPOINTER_TO_INT (found) - 1;

  GliaValue *v = g_new0 (GliaValue, 1);
  v->name = g_strdup (name);
  v->dtype = dtype;
  v->producer = -1;
  v->rank = -1;
  value_set_shape (v, rank, dims, dim_params);
  g_ptr_array_add (graph->values, v);
  gint id = graph->values->len - 1;
  g_hash_table_insert (graph->value_ids, v->name, GINT_TO_POINTER (id + 1));
  return id;
}

gint
glia_graph_lookup_value (const GliaGraph *graph, const char *name)
{
  g_return_val_if_fail (graph != NULL && name != NULL, -1);
  return GPOINTER_TO_INT (g_hash_table_lookup (graph->value_ids, name)) - 1;
}

void
glia_graph_value_set_type (GliaGraph *graph, gint value, GliaDataType dtype, gint rank,
                           const gint64 *dims, const char *const *dim_params)
{
  GliaValue *v = get_value (graph, value);
  g_return_if_fail (v != NULL);
  v->dtype = dtype;
  value_set_shape (v, rank, dims, dim_params);
}

void
glia_graph_value_set_kind (GliaGraph *graph, gint value, GliaValueKind kind)
{
  GliaValue *v = get_value (graph, value);
  g_return_if_fail (v != NULL);
  g_return_if_fail ((guint)kind <= GLIA_VALUE_KIND_OPTIONAL_SEQUENCE);
  v->kind = kind;
}

GliaValueKind
glia_graph_value_get_kind (const GliaGraph *graph, gint value)
{
  GliaValue *v = get_value (graph, value);
  return v ? v->kind : GLIA_VALUE_KIND_TENSOR;
}

gboolean
glia_graph_value_set_constant (GliaGraph *graph, gint value, GliaDataType dtype, guint rank,
                               const gint64 *dims, GBytes *data, GError **error)
{
  GliaValue *v = get_value (graph, value);
  g_return_val_if_fail (v != NULL, FALSE);

  /* a second definition would silently replace the first (an ONNX file
   * with two initializers of one name, say) */
  if (v->constant) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL, "constant '%s' is defined twice",
                 v->name);
    return FALSE;
  }
  gsize n = 1;
  for (guint i = 0; i < rank; i++) {
    if (dims[i] < 0 || !g_size_checked_mul (&n, n, (gsize)dims[i])) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                   "constant '%s' has an invalid dimension %" G_GINT64_FORMAT, v->name, dims[i]);
      return FALSE;
    }
  }
  gsize esize = glia_data_type_get_size (dtype);
  if (esize == 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                 "constant '%s' has an invalid data type %d", v->name, dtype);
    return FALSE;
  }
  gsize have = data ? g_bytes_get_size (data) : 0;
  if (dtype == GLIA_DATA_TYPE_STRING) {
    /* n NUL-terminated strings back to back */
    const char *p = data ? g_bytes_get_data (data, NULL) : NULL;
    gsize count = 0;
    for (gsize i = 0; i < have; i++)
      if (p[i] == '\0')
        count++;
    if (count != n || (have > 0 && p[have - 1] != '\0')) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                   "string constant '%s' holds %" G_GSIZE_FORMAT
                   " strings, its shape needs %" G_GSIZE_FORMAT,
                   v->name, count, n);
      return FALSE;
    }
  } else {
    gsize need;
    if (!g_size_checked_mul (&need, n, esize) || need != have) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                   "constant '%s' has %" G_GSIZE_FORMAT " bytes of data, its shape and type "
                   "need %" G_GSIZE_FORMAT,
                   v->name, have, n * esize);
      return FALSE;
    }
  }

  v->constant = g_new0 (GliaConstTensor, 1);
  const_tensor_init (v->constant, dtype, rank, dims, data);
  v->dtype = dtype;
  value_set_shape (v, rank, dims, NULL);
  return TRUE;
}

void
glia_graph_add_input (GliaGraph *graph, gint value)
{
  g_return_if_fail (get_value (graph, value) != NULL);
  g_array_append_val (graph->inputs, value);
}

void
glia_graph_add_output (GliaGraph *graph, gint value)
{
  g_return_if_fail (get_value (graph, value) != NULL);
  g_array_append_val (graph->outputs, value);
}

static const char *
normalize_domain (const char *domain)
{
  if (domain == NULL || g_str_equal (domain, "ai.onnx"))
    return "";
  return domain;
}

void
glia_graph_set_opset (GliaGraph *graph, const char *domain, gint version)
{
  g_return_if_fail (graph != NULL);
  g_hash_table_insert (graph->opsets, g_strdup (normalize_domain (domain)),
                       GINT_TO_POINTER (version));
}

void
glia_graph_set_metadata (GliaGraph *graph, const char *key, const char *value)
{
  g_return_if_fail (graph != NULL && key != NULL);
  g_hash_table_insert (graph->metadata, g_strdup (key), g_strdup (value ? value : ""));
}

gint
glia_graph_add_node (GliaGraph *graph, const char *op_type, const char *domain, const char *name,
                     guint n_inputs, const gint *inputs, guint n_outputs, const gint *outputs)
{
  g_return_val_if_fail (graph != NULL && op_type != NULL, -1);
  GliaNode *n = g_new0 (GliaNode, 1);
  n->op_type = g_strdup (op_type);
  n->domain = g_strdup (normalize_domain (domain));
  n->name = g_strdup (name ? name : "");
  n->inputs = g_array_sized_new (FALSE, FALSE, sizeof (gint), n_inputs);
  n->outputs = g_array_sized_new (FALSE, FALSE, sizeof (gint), n_outputs);
  n->attrs = g_ptr_array_new_with_free_func (attr_free);
  if (n_inputs)
    g_array_append_vals (n->inputs, inputs, n_inputs);
  if (n_outputs)
    g_array_append_vals (n->outputs, outputs, n_outputs);
  g_ptr_array_add (graph->nodes, n);
  gint id = graph->nodes->len - 1;
  for (guint i = 0; i < n_outputs; i++) {
    GliaValue *v = get_value (graph, outputs[i]);
    if (v && v->producer < 0)
      v->producer = id;
  }
  return id;
}

static GliaAttr *
node_attr_new (GliaGraph *graph, gint node, const char *name, GliaAttrType type)
{
  GliaNode *n = get_node (graph, node);
  g_return_val_if_fail (n != NULL && name != NULL, NULL);
  for (guint i = 0; i < n->attrs->len; i++) {
    GliaAttr *a = g_ptr_array_index (n->attrs, i);
    if (g_str_equal (a->name, name)) {
      g_ptr_array_remove_index (n->attrs, i);
      break;
    }
  }
  GliaAttr *a = g_new0 (GliaAttr, 1);
  a->name = g_strdup (name);
  a->type = type;
  g_ptr_array_add (n->attrs, a);
  return a;
}

void
glia_graph_node_set_attr_int (GliaGraph *graph, gint node, const char *name, gint64 v)
{
  GliaAttr *a = node_attr_new (graph, node, name, GLIA_ATTR_INT);
  if (a)
    a->i = v;
}

void
glia_graph_node_set_attr_float (GliaGraph *graph, gint node, const char *name, float v)
{
  GliaAttr *a = node_attr_new (graph, node, name, GLIA_ATTR_FLOAT);
  if (a)
    a->f = v;
}

void
glia_graph_node_set_attr_string (GliaGraph *graph, gint node, const char *name, const char *v,
                                 gsize len)
{
  GliaAttr *a = node_attr_new (graph, node, name, GLIA_ATTR_STRING);
  if (!a)
    return;
  a->s = g_malloc (len + 1);
  if (len)
    memcpy (a->s, v, len);
  a->s[len] = '\0';
  a->s_len = len;
}

void
glia_graph_node_set_attr_ints (GliaGraph *graph, gint node, const char *name, const gint64 *v,
                               guint n)
{
  GliaAttr *a = node_attr_new (graph, node, name, GLIA_ATTR_INTS);
  if (!a)
    return;
  a->ints = g_memdup2 (v, n * sizeof (gint64));
  a->n = n;
}

void
glia_graph_node_set_attr_floats (GliaGraph *graph, gint node, const char *name, const float *v,
                                 guint n)
{
  GliaAttr *a = node_attr_new (graph, node, name, GLIA_ATTR_FLOATS);
  if (!a)
    return;
  a->floats = g_memdup2 (v, n * sizeof (float));
  a->n = n;
}

void
glia_graph_node_set_attr_strings (GliaGraph *graph, gint node, const char *name,
                                  const char *const *v, guint n)
{
  GliaAttr *a = node_attr_new (graph, node, name, GLIA_ATTR_STRINGS);
  if (!a)
    return;
  a->strings = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    a->strings[i] = g_strdup (v[i]);
  a->n = n;
}

void
glia_graph_node_set_attr_tensor (GliaGraph *graph, gint node, const char *name, GliaDataType dtype,
                                 guint rank, const gint64 *dims, GBytes *data)
{
  GliaAttr *a = node_attr_new (graph, node, name, GLIA_ATTR_TENSOR);
  if (a)
    const_tensor_init (&a->tensor, dtype, rank, dims, data);
}

void
glia_graph_node_set_attr_value_type (GliaGraph *graph, gint node, const char *name,
                                     GliaValueKind kind, GliaDataType dtype)
{
  GliaAttr *a = node_attr_new (graph, node, name, GLIA_ATTR_TYPE);
  if (a) {
    a->i = kind;
    a->tensor.dtype = dtype;
  }
}

void
glia_graph_node_set_attr_graph (GliaGraph *graph, gint node, const char *name, GliaGraph *subgraph)
{
  GliaAttr *a = node_attr_new (graph, node, name, GLIA_ATTR_GRAPH);
  if (a)
    a->graph = glia_graph_ref (subgraph);
}

/* ---- copy --------------------------------------------------------------- */

static GliaAttr *
attr_copy (const GliaAttr *a)
{
  GliaAttr *c = g_new0 (GliaAttr, 1);
  c->name = g_strdup (a->name);
  c->type = a->type;
  c->i = a->i;
  c->f = a->f;
  c->s = a->s ? g_memdup2 (a->s, a->s_len + 1) : NULL;
  c->s_len = a->s_len;
  c->n = a->n;
  c->ints = a->ints ? g_memdup2 (a->ints, a->n * sizeof (gint64)) : NULL;
  c->floats = a->floats ? g_memdup2 (a->floats, a->n * sizeof (float)) : NULL;
  c->strings = g_strdupv (a->strings);
  if (a->type == GLIA_ATTR_TYPE)
    c->tensor.dtype = a->tensor.dtype;
  if (a->type == GLIA_ATTR_TENSOR)
    const_tensor_init (&c->tensor, a->tensor.dtype, a->tensor.rank, a->tensor.dims, a->tensor.data);
  c->graph = a->graph ? glia_graph_copy (a->graph) : NULL;
  return c;
}

GliaGraph *
glia_graph_copy (const GliaGraph *graph)
{
  g_return_val_if_fail (graph != NULL, NULL);
  GliaGraph *g = glia_graph_new ();
  for (guint i = 0; i < graph->values->len; i++) {
    const GliaValue *v = g_ptr_array_index (graph->values, i);
    gint id = glia_graph_add_value (g, v->name, v->dtype, v->rank, v->dims,
                                    (const char *const *)v->dim_params);
    GliaValue *nv = get_value (g, id);
    nv->kind = v->kind;
    if (v->constant) {
      nv->constant = g_new0 (GliaConstTensor, 1);
      const_tensor_init (nv->constant, v->constant->dtype, v->constant->rank, v->constant->dims,
                         v->constant->data);
    }
  }
  for (guint i = 0; i < graph->nodes->len; i++) {
    const GliaNode *n = g_ptr_array_index (graph->nodes, i);
    gint id = glia_graph_add_node (g, n->op_type, n->domain, n->name, n->inputs->len,
                                   (const gint *)n->inputs->data, n->outputs->len,
                                   (const gint *)n->outputs->data);
    GliaNode *nn = get_node (g, id);
    for (guint k = 0; k < n->attrs->len; k++)
      g_ptr_array_add (nn->attrs, attr_copy (g_ptr_array_index (n->attrs, k)));
  }
  g_array_append_vals (g->inputs, graph->inputs->data, graph->inputs->len);
  g_array_append_vals (g->outputs, graph->outputs->data, graph->outputs->len);
  GHashTableIter it;
  gpointer k, val;
  g_hash_table_iter_init (&it, graph->opsets);
  while (g_hash_table_iter_next (&it, &k, &val))
    g_hash_table_insert (g->opsets, g_strdup (k), val);
  g_hash_table_iter_init (&it, graph->metadata);
  while (g_hash_table_iter_next (&it, &k, &val))
    g_hash_table_insert (g->metadata, g_strdup (k), g_strdup (val));
  return g;
}

/* ---- validation ---------------------------------------------------------- */

static gboolean
value_is_available_initially (const GliaGraph *g, gint value)
{
  const GliaValue *v = get_value (g, value);
  if (v->constant)
    return TRUE;
  for (guint i = 0; i < g->inputs->len; i++)
    if (g_array_index (g->inputs, gint, i) == value)
      return TRUE;
  return FALSE;
}

/* Orders nodes so that every node comes after the producers of its inputs
 * (Kahn's algorithm, stable: keeps the file's order where it is valid).
 * Values with no producer that are neither inputs nor constants are outer-
 * scope references; they are allowed only when @allow_outer. */
static gboolean
graph_sort_and_check (GliaGraph *g, gboolean allow_outer, GError **error)
{
  guint n_nodes = g->nodes->len;
  g_autofree guint *pending = g_new0 (guint, n_nodes);
  g_autofree gint *producer = g_new (gint, g->values->len);
  for (guint v = 0; v < g->values->len; v++)
    producer[v] = -1;

  for (guint i = 0; i < n_nodes; i++) {
    GliaNode *n = g_ptr_array_index (g->nodes, i);
    for (guint k = 0; k < n->outputs->len; k++) {
      gint o = g_array_index (n->outputs, gint, k);
      if (o < 0)
        continue;
      if (get_value (g, o) == NULL) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                     "node '%s' (%s) has an invalid output id %d", n->name, n->op_type, o);
        return FALSE;
      }
      if (producer[o] >= 0) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                     "value '%s' is produced by two nodes", get_value (g, o)->name);
        return FALSE;
      }
      if (value_is_available_initially (g, o) && get_value (g, o)->constant == NULL) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                     "graph input '%s' is also produced by node '%s'", get_value (g, o)->name,
                     n->name);
        return FALSE;
      }
      producer[o] = i;
    }
  }

  for (guint i = 0; i < n_nodes; i++) {
    GliaNode *n = g_ptr_array_index (g->nodes, i);
    for (guint k = 0; k < n->inputs->len; k++) {
      gint in = g_array_index (n->inputs, gint, k);
      if (in < 0)
        continue;
      if (get_value (g, in) == NULL) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                     "node '%s' (%s) has an invalid input id %d", n->name, n->op_type, in);
        return FALSE;
      }
      if (producer[in] >= 0)
        pending[i]++;
      else if (!allow_outer && !value_is_available_initially (g, in)) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                     "input '%s' of node '%s' (%s) is neither a graph input, an "
                     "initializer nor the output of a node",
                     get_value (g, in)->name, n->name, n->op_type);
        return FALSE;
      }
    }
  }

  /* consumers of each node, for Kahn's algorithm */
  g_autoptr (GPtrArray) consumers = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  for (guint i = 0; i < n_nodes; i++)
    g_ptr_array_add (consumers, g_array_new (FALSE, FALSE, sizeof (guint)));
  for (guint i = 0; i < n_nodes; i++) {
    GliaNode *n = g_ptr_array_index (g->nodes, i);
    for (guint k = 0; k < n->inputs->len; k++) {
      gint in = g_array_index (n->inputs, gint, k);
      if (in >= 0 && producer[in] >= 0)
        g_array_append_val (g_ptr_array_index (consumers, producer[in]), i);
    }
  }

  g_autofree guint *order = g_new (guint, n_nodes);
  guint n_done = 0;
  /* a min-ordered ready list keeps the original order where possible */
  g_autoptr (GArray) ready = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < n_nodes; i++)
    if (pending[i] == 0)
      g_array_append_val (ready, i);
  while (ready->len > 0) {
    guint best = 0;
    for (guint r = 1; r < ready->len; r++)
      if (g_array_index (ready, guint, r) < g_array_index (ready, guint, best))
        best = r;
    guint i = g_array_index (ready, guint, best);
    g_array_remove_index_fast (ready, best);
    order[n_done++] = i;
    GArray *cs = g_ptr_array_index (consumers, i);
    for (guint c = 0; c < cs->len; c++) {
      guint ci = g_array_index (cs, guint, c);
      if (--pending[ci] == 0)
        g_array_append_val (ready, ci);
    }
  }
  if (n_done != n_nodes) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                 "the graph has a cycle (%u of %u nodes can be ordered)", n_done, n_nodes);
    return FALSE;
  }

  gboolean sorted = TRUE;
  for (guint i = 0; i < n_nodes; i++)
    sorted = sorted && order[i] == i;
  if (!sorted) {
    GPtrArray *nodes = g_ptr_array_new_full (n_nodes, node_free);
    for (guint i = 0; i < n_nodes; i++)
      g_ptr_array_add (nodes, g_ptr_array_index (g->nodes, order[i]));
    g_ptr_array_set_free_func (g->nodes, NULL);
    g_ptr_array_unref (g->nodes);
    g->nodes = nodes;
  }
  for (guint v = 0; v < g->values->len; v++)
    ((GliaValue *)g_ptr_array_index (g->values, v))->producer = -1;
  for (guint i = 0; i < n_nodes; i++) {
    GliaNode *n = g_ptr_array_index (g->nodes, i);
    for (guint k = 0; k < n->outputs->len; k++) {
      gint o = g_array_index (n->outputs, gint, k);
      if (o >= 0)
        get_value (g, o)->producer = i;
    }
  }

  for (guint i = 0; i < g->outputs->len; i++) {
    gint o = g_array_index (g->outputs, gint, i);
    if (get_value (g, o)->producer < 0 && !value_is_available_initially (g, o) && !allow_outer) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                   "graph output '%s' is not produced by any node", get_value (g, o)->name);
      return FALSE;
    }
  }

  /* subgraphs may refer to this graph's values */
  for (guint i = 0; i < n_nodes; i++) {
    GliaNode *n = g_ptr_array_index (g->nodes, i);
    for (guint k = 0; k < n->attrs->len; k++) {
      GliaAttr *a = g_ptr_array_index (n->attrs, k);
      if (a->graph && !graph_sort_and_check (a->graph, TRUE, error)) {
        g_prefix_error (error, "in subgraph '%s' of node '%s': ", a->name, n->name);
        return FALSE;
      }
    }
  }
  return TRUE;
}

gboolean
glia_graph_validate (GliaGraph *graph, GError **error)
{
  g_return_val_if_fail (graph != NULL, FALSE);
  return graph_sort_and_check (graph, FALSE, error);
}

/* ---- reading ----------------------------------------------------------- */

guint
glia_graph_get_n_values (const GliaGraph *graph)
{
  return graph->values->len;
}

guint
glia_graph_get_n_nodes (const GliaGraph *graph)
{
  return graph->nodes->len;
}

guint
glia_graph_get_n_inputs (const GliaGraph *graph)
{
  return graph->inputs->len;
}

guint
glia_graph_get_n_outputs (const GliaGraph *graph)
{
  return graph->outputs->len;
}

gint
glia_graph_get_input (const GliaGraph *graph, guint i)
{
  g_return_val_if_fail (i < graph->inputs->len, -1);
  return g_array_index (graph->inputs, gint, i);
}

gint
glia_graph_get_output (const GliaGraph *graph, guint i)
{
  g_return_val_if_fail (i < graph->outputs->len, -1);
  return g_array_index (graph->outputs, gint, i);
}

gint
glia_graph_get_opset (const GliaGraph *graph, const char *domain)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (graph->opsets, normalize_domain (domain)));
}

char **
glia_graph_get_opset_domains (const GliaGraph *graph)
{
  g_autofree const char **keys
      = (const char **)g_hash_table_get_keys_as_array (graph->opsets, NULL);
  return g_strdupv ((char **)keys);
}

const char *
glia_graph_get_metadata (const GliaGraph *graph, const char *key)
{
  return g_hash_table_lookup (graph->metadata, key);
}

char **
glia_graph_get_metadata_keys (const GliaGraph *graph)
{
  g_autofree const char **keys
      = (const char **)g_hash_table_get_keys_as_array (graph->metadata, NULL);
  return g_strdupv ((char **)keys);
}

const char *
glia_graph_value_get_name (const GliaGraph *graph, gint value)
{
  GliaValue *v = get_value (graph, value);
  return v ? v->name : NULL;
}

GliaDataType
glia_graph_value_get_dtype (const GliaGraph *graph, gint value)
{
  GliaValue *v = get_value (graph, value);
  return v ? v->dtype : GLIA_DATA_TYPE_UNDEFINED;
}

gint
glia_graph_value_get_rank (const GliaGraph *graph, gint value)
{
  GliaValue *v = get_value (graph, value);
  return v ? v->rank : -1;
}

const gint64 *
glia_graph_value_get_dims (const GliaGraph *graph, gint value)
{
  GliaValue *v = get_value (graph, value);
  if (v == NULL || v->rank < 0)
    return NULL;
  static const gint64 scalar_dims[1] = { 0 };
  return v->rank == 0 ? scalar_dims : v->dims;
}

const char *
glia_graph_value_get_dim_param (const GliaGraph *graph, gint value, guint axis)
{
  GliaValue *v = get_value (graph, value);
  if (v == NULL || v->dim_params == NULL || (gint)axis >= v->rank)
    return NULL;
  return v->dim_params[axis];
}

const GliaConstTensor *
glia_graph_value_get_constant (const GliaGraph *graph, gint value)
{
  GliaValue *v = get_value (graph, value);
  return v ? v->constant : NULL;
}

gint
glia_graph_value_get_producer (const GliaGraph *graph, gint value)
{
  GliaValue *v = get_value (graph, value);
  return v ? v->producer : -1;
}

const char *
glia_graph_node_get_op_type (const GliaGraph *graph, gint node)
{
  GliaNode *n = get_node (graph, node);
  return n ? n->op_type : NULL;
}

const char *
glia_graph_node_get_domain (const GliaGraph *graph, gint node)
{
  GliaNode *n = get_node (graph, node);
  return n ? n->domain : NULL;
}

const char *
glia_graph_node_get_name (const GliaGraph *graph, gint node)
{
  GliaNode *n = get_node (graph, node);
  return n ? n->name : NULL;
}

guint
glia_graph_node_get_n_inputs (const GliaGraph *graph, gint node)
{
  GliaNode *n = get_node (graph, node);
  return n ? n->inputs->len : 0;
}

guint
glia_graph_node_get_n_outputs (const GliaGraph *graph, gint node)
{
  GliaNode *n = get_node (graph, node);
  return n ? n->outputs->len : 0;
}

gint
glia_graph_node_get_input (const GliaGraph *graph, gint node, guint i)
{
  GliaNode *n = get_node (graph, node);
  if (n == NULL || i >= n->inputs->len)
    return -1;
  return g_array_index (n->inputs, gint, i);
}

gint
glia_graph_node_get_output (const GliaGraph *graph, gint node, guint i)
{
  GliaNode *n = get_node (graph, node);
  if (n == NULL || i >= n->outputs->len)
    return -1;
  return g_array_index (n->outputs, gint, i);
}

gint
glia_graph_node_get_opset (const GliaGraph *graph, gint node)
{
  GliaNode *n = get_node (graph, node);
  return n ? glia_graph_get_opset (graph, n->domain) : 0;
}

static GliaAttr *
find_attr (const GliaGraph *graph, gint node, const char *name)
{
  GliaNode *n = get_node (graph, node);
  if (n == NULL)
    return NULL;
  for (guint i = 0; i < n->attrs->len; i++) {
    GliaAttr *a = g_ptr_array_index (n->attrs, i);
    if (g_str_equal (a->name, name))
      return a;
  }
  return NULL;
}

guint
glia_graph_node_get_n_attrs (const GliaGraph *graph, gint node)
{
  GliaNode *n = get_node (graph, node);
  return n ? n->attrs->len : 0;
}

const char *
glia_graph_node_get_attr_name (const GliaGraph *graph, gint node, guint i)
{
  GliaNode *n = get_node (graph, node);
  if (n == NULL || i >= n->attrs->len)
    return NULL;
  return ((GliaAttr *)g_ptr_array_index (n->attrs, i))->name;
}

GliaAttrType
glia_graph_node_get_attr_type (const GliaGraph *graph, gint node, const char *name)
{
  GliaAttr *a = find_attr (graph, node, name);
  return a ? a->type : GLIA_ATTR_UNDEFINED;
}

gboolean
glia_graph_node_has_attr (const GliaGraph *graph, gint node, const char *name)
{
  return find_attr (graph, node, name) != NULL;
}

gint64
glia_graph_node_get_attr_int (const GliaGraph *graph, gint node, const char *name,
                              gint64 default_value)
{
  GliaAttr *a = find_attr (graph, node, name);
  return a && a->type == GLIA_ATTR_INT ? a->i : default_value;
}

float
glia_graph_node_get_attr_float (const GliaGraph *graph, gint node, const char *name,
                                float default_value)
{
  GliaAttr *a = find_attr (graph, node, name);
  if (a && a->type == GLIA_ATTR_FLOAT)
    return a->f;
  return default_value;
}

const char *
glia_graph_node_get_attr_string (const GliaGraph *graph, gint node, const char *name,
                                 const char *default_value, gsize *len)
{
  GliaAttr *a = find_attr (graph, node, name);
  if (a && a->type == GLIA_ATTR_STRING) {
    if (len)
      *len = a->s_len;
    return a->s;
  }
  if (len)
    *len = default_value ? strlen (default_value) : 0;
  return default_value;
}

const gint64 *
glia_graph_node_get_attr_ints (const GliaGraph *graph, gint node, const char *name, guint *n)
{
  GliaAttr *a = find_attr (graph, node, name);
  if (a && a->type == GLIA_ATTR_INTS) {
    *n = a->n;
    return a->ints;
  }
  *n = 0;
  return NULL;
}

const float *
glia_graph_node_get_attr_floats (const GliaGraph *graph, gint node, const char *name, guint *n)
{
  GliaAttr *a = find_attr (graph, node, name);
  if (a && a->type == GLIA_ATTR_FLOATS) {
    *n = a->n;
    return a->floats;
  }
  *n = 0;
  return NULL;
}

const char *const *
glia_graph_node_get_attr_strings (const GliaGraph *graph, gint node, const char *name, guint *n)
{
  GliaAttr *a = find_attr (graph, node, name);
  if (a && a->type == GLIA_ATTR_STRINGS) {
    *n = a->n;
    return (const char *const *)a->strings;
  }
  *n = 0;
  return NULL;
}

const GliaConstTensor *
glia_graph_node_get_attr_tensor (const GliaGraph *graph, gint node, const char *name)
{
  GliaAttr *a = find_attr (graph, node, name);
  return a && a->type == GLIA_ATTR_TENSOR ? &a->tensor : NULL;
}

gboolean
glia_graph_node_get_attr_value_type (const GliaGraph *graph, gint node, const char *name,
                                     GliaValueKind *kind, GliaDataType *dtype)
{
  GliaAttr *a = find_attr (graph, node, name);
  if (a == NULL || a->type != GLIA_ATTR_TYPE)
    return FALSE;
  *kind = (GliaValueKind)a->i;
  *dtype = a->tensor.dtype;
  return TRUE;
}

GliaGraph *
glia_graph_node_get_attr_graph (const GliaGraph *graph, gint node, const char *name)
{
  GliaAttr *a = find_attr (graph, node, name);
  return a && a->type == GLIA_ATTR_GRAPH ? a->graph : NULL;
}

/* ---- editing --------------------------------------------------------------- */

void
glia_graph_node_set_input (GliaGraph *graph, gint node, guint i, gint value)
{
  GliaNode *n = get_node (graph, node);
  g_return_if_fail (n != NULL && i <= n->inputs->len);
  g_return_if_fail (value < 0 || get_value (graph, value) != NULL);
  if (value < 0)
    value = -1;
  if (i == n->inputs->len)
    g_array_append_val (n->inputs, value);
  else
    g_array_index (n->inputs, gint, i) = value;
}

void
glia_graph_node_truncate_inputs (GliaGraph *graph, gint node, guint n_inputs)
{
  GliaNode *n = get_node (graph, node);
  g_return_if_fail (n != NULL);
  if (n_inputs < n->inputs->len)
    g_array_set_size (n->inputs, n_inputs);
}

void
glia_graph_node_set_output (GliaGraph *graph, gint node, guint i, gint value)
{
  GliaNode *n = get_node (graph, node);
  g_return_if_fail (n != NULL && i <= n->outputs->len);
  GliaValue *v = get_value (graph, value);
  g_return_if_fail (v != NULL);
  if (i < n->outputs->len) {
    GliaValue *old = get_value (graph, g_array_index (n->outputs, gint, i));
    if (old && old->producer == node)
      old->producer = -1;
    g_array_index (n->outputs, gint, i) = value;
  } else
    g_array_append_val (n->outputs, value);
  if (v->producer >= 0 && v->producer != node) {
    GliaNode *prev = get_node (graph, v->producer);
    for (guint k = 0; prev && k < prev->outputs->len; k++)
      if (g_array_index (prev->outputs, gint, k) == value)
        g_array_index (prev->outputs, gint, k) = -1;
  }
  v->producer = node;
}

void
glia_graph_node_set_op_type (GliaGraph *graph, gint node, const char *op_type, const char *domain)
{
  GliaNode *n = get_node (graph, node);
  g_return_if_fail (n != NULL && op_type != NULL);
  g_free (n->op_type);
  g_free (n->domain);
  n->op_type = g_strdup (op_type);
  n->domain = g_strdup (normalize_domain (domain));
}

gboolean
glia_graph_node_remove_attr (GliaGraph *graph, gint node, const char *name)
{
  GliaNode *n = get_node (graph, node);
  g_return_val_if_fail (n != NULL && name != NULL, FALSE);
  for (guint i = 0; i < n->attrs->len; i++)
    if (g_str_equal (((GliaAttr *)g_ptr_array_index (n->attrs, i))->name, name)) {
      g_ptr_array_remove_index (n->attrs, i);
      return TRUE;
    }
  return FALSE;
}

void
glia_graph_remove_nodes (GliaGraph *graph, const gint *nodes, guint n_nodes)
{
  g_return_if_fail (graph != NULL);
  guint total = graph->nodes->len;
  g_autofree guint8 *dead = g_new0 (guint8, MAX (total, 1));
  for (guint i = 0; i < n_nodes; i++)
    if (nodes[i] >= 0 && (guint)nodes[i] < total)
      dead[nodes[i]] = 1;
  GPtrArray *kept = g_ptr_array_new_full (total, node_free);
  for (guint i = 0; i < total; i++) {
    GliaNode *n = g_ptr_array_index (graph->nodes, i);
    if (dead[i])
      node_free (n);
    else
      g_ptr_array_add (kept, n);
  }
  g_ptr_array_set_free_func (graph->nodes, NULL);
  g_ptr_array_unref (graph->nodes);
  graph->nodes = kept;
  for (guint v = 0; v < graph->values->len; v++)
    ((GliaValue *)g_ptr_array_index (graph->values, v))->producer = -1;
  for (guint i = 0; i < kept->len; i++) {
    GliaNode *n = g_ptr_array_index (kept, i);
    for (guint k = 0; k < n->outputs->len; k++) {
      GliaValue *v = get_value (graph, g_array_index (n->outputs, gint, k));
      if (v && v->producer < 0)
        v->producer = i;
    }
  }
}

guint
glia_graph_replace_uses (GliaGraph *graph, gint old_value, gint new_value)
{
  g_return_val_if_fail (get_value (graph, old_value) != NULL, 0);
  g_return_val_if_fail (get_value (graph, new_value) != NULL, 0);
  guint count = 0;
  for (guint i = 0; i < graph->nodes->len; i++) {
    GliaNode *n = g_ptr_array_index (graph->nodes, i);
    for (guint k = 0; k < n->inputs->len; k++)
      if (g_array_index (n->inputs, gint, k) == old_value) {
        g_array_index (n->inputs, gint, k) = new_value;
        count++;
      }
  }
  return count;
}

static gboolean
graph_defines_name (const GliaGraph *g, const char *name)
{
  gint v = glia_graph_lookup_value (g, name);
  if (v < 0)
    return FALSE;
  const GliaValue *val = get_value (g, v);
  return val->constant || val->producer >= 0 || glia_graph_value_is_input (g, v);
}

/* Whether @sub (or a subgraph nested in it) reads @name from outside. */
static gboolean
subgraph_reads_name (const GliaGraph *sub, const char *name)
{
  if (graph_defines_name (sub, name))
    return FALSE;
  gint v = glia_graph_lookup_value (sub, name);
  if (v >= 0) {
    for (guint i = 0; i < sub->nodes->len; i++) {
      GliaNode *n = g_ptr_array_index (sub->nodes, i);
      for (guint k = 0; k < n->inputs->len; k++)
        if (g_array_index (n->inputs, gint, k) == v)
          return TRUE;
    }
    for (guint i = 0; i < sub->outputs->len; i++)
      if (g_array_index (sub->outputs, gint, i) == v)
        return TRUE;
  }
  for (guint i = 0; i < sub->nodes->len; i++) {
    GliaNode *n = g_ptr_array_index (sub->nodes, i);
    for (guint k = 0; k < n->attrs->len; k++) {
      GliaAttr *a = g_ptr_array_index (n->attrs, k);
      if (a->graph && subgraph_reads_name (a->graph, name))
        return TRUE;
    }
  }
  return FALSE;
}

gint *
glia_graph_value_get_consumers (const GliaGraph *graph, gint value, guint *n, gboolean *by_subgraph)
{
  g_return_val_if_fail (n != NULL, NULL);
  *n = 0;
  if (by_subgraph)
    *by_subgraph = FALSE;
  GliaValue *v = get_value (graph, value);
  g_return_val_if_fail (v != NULL, NULL);
  GArray *out = g_array_new (FALSE, FALSE, sizeof (gint));
  for (guint i = 0; i < graph->nodes->len; i++) {
    GliaNode *nd = g_ptr_array_index (graph->nodes, i);
    gboolean uses = FALSE;
    for (guint k = 0; k < nd->inputs->len && !uses; k++)
      uses = g_array_index (nd->inputs, gint, k) == value;
    for (guint k = 0; k < nd->attrs->len && !uses; k++) {
      GliaAttr *a = g_ptr_array_index (nd->attrs, k);
      if (a->graph && subgraph_reads_name (a->graph, v->name)) {
        uses = TRUE;
        if (by_subgraph)
          *by_subgraph = TRUE;
      }
    }
    if (uses) {
      gint id = i;
      g_array_append_val (out, id);
    }
  }
  *n = out->len;
  if (out->len == 0) {
    g_array_unref (out);
    return NULL;
  }
  return (gint *)g_array_free (out, FALSE);
}

gboolean
glia_graph_value_is_output (const GliaGraph *graph, gint value)
{
  for (guint i = 0; i < graph->outputs->len; i++)
    if (g_array_index (graph->outputs, gint, i) == value)
      return TRUE;
  return FALSE;
}

gboolean
glia_graph_value_is_input (const GliaGraph *graph, gint value)
{
  for (guint i = 0; i < graph->inputs->len; i++)
    if (g_array_index (graph->inputs, gint, i) == value)
      return TRUE;
  return FALSE;
}

void
glia_graph_value_clear_constant (GliaGraph *graph, gint value)
{
  GliaValue *v = get_value (graph, value);
  g_return_if_fail (v != NULL);
  if (v->constant) {
    const_tensor_clear (v->constant);
    g_clear_pointer (&v->constant, g_free);
  }
}

char *
glia_graph_make_unique_name (const GliaGraph *graph, const char *prefix)
{
  g_return_val_if_fail (graph != NULL && prefix != NULL, NULL);
  if (!g_hash_table_contains (graph->value_ids, prefix))
    return g_strdup (prefix);
  for (guint i = 1;; i++) {
    char *name = g_strdup_printf ("%s_%u", prefix, i);
    if (!g_hash_table_contains (graph->value_ids, name))
      return name;
    g_free (name);
  }
}
