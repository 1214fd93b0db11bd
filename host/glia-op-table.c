/* glia-op-table.c: tables of operator definitions and the provider helpers
 * built on them (plugin-api/glia-kernel.h, glia-provider.h). */
#include "glia-private.h"

struct _GliaOpTable
{
  GPtrArray *defs;
  GHashTable *by_key; /* "domain\x1fname" -> GPtrArray of defs */
};

GliaOpTable *
glia_op_table_new (void)
{
  GliaOpTable *t = g_new0 (GliaOpTable, 1);
  t->defs = g_ptr_array_new ();
  t->by_key
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  return t;
}

void
glia_op_table_free (GliaOpTable *table)
{
  if (table == NULL)
    return;
  g_ptr_array_unref (table->defs);
  g_hash_table_unref (table->by_key);
  g_free (table);
}

static char *
op_key (const char *domain, const char *name)
{
  if (domain == NULL || g_str_equal (domain, "ai.onnx"))
    domain = "";
  return g_strconcat (domain, "\x1f", name, NULL);
}

void
glia_op_table_add (GliaOpTable *table, const GliaOpDef *def)
{
  g_return_if_fail (table != NULL && def != NULL && def->name != NULL);
  g_return_if_fail (def->struct_size >= G_STRUCT_OFFSET (GliaOpDef, destroy));
  char *key = op_key (def->domain, def->name);
  GPtrArray *list = g_hash_table_lookup (table->by_key, key);
  if (list == NULL) {
    list = g_ptr_array_new ();
    g_hash_table_insert (table->by_key, key, list);
  } else
    g_free (key);
  g_ptr_array_add (list, (gpointer)def);
  g_ptr_array_add (table->defs, (gpointer)def);
}

static gboolean
def_serves (const GliaOpDef *def, gint opset)
{
  gint until = def->until_version > 0 ? def->until_version : G_MAXINT;
  return opset >= def->since_version && opset <= until;
}

const GliaOpDef *
glia_op_table_lookup (const GliaOpTable *table, const char *domain, const char *name, gint opset)
{
  g_autofree char *key = op_key (domain, name);
  GPtrArray *list = g_hash_table_lookup (table->by_key, key);
  if (list == NULL)
    return NULL;
  for (guint i = 0; i < list->len; i++) {
    const GliaOpDef *def = g_ptr_array_index (list, i);
    if (def_serves (def, opset))
      return def;
  }
  return NULL;
}

const GliaOpDef *
glia_op_table_find (const GliaOpTable *table, const GliaGraph *graph, gint node)
{
  g_autofree char *key = op_key (glia_graph_node_get_domain (graph, node),
                                 glia_graph_node_get_op_type (graph, node));
  GPtrArray *list = g_hash_table_lookup (table->by_key, key);
  if (list == NULL)
    return NULL;
  gint opset = glia_graph_node_get_opset (graph, node);
  GliaDataType t0 = GLIA_DATA_TYPE_UNDEFINED;
  if (glia_graph_node_get_n_inputs (graph, node) > 0)
    t0 = glia_graph_value_get_dtype (graph, glia_graph_node_get_input (graph, node, 0));
  for (guint i = 0; i < list->len; i++) {
    const GliaOpDef *def = g_ptr_array_index (list, i);
    if (!def_serves (def, opset))
      continue;
    if (def->dtypes && t0 != GLIA_DATA_TYPE_UNDEFINED && !(def->dtypes & GLIA_DTYPE_BIT (t0)))
      continue;
    if (def->supports && !def->supports (graph, node))
      continue;
    return def;
  }
  return NULL;
}

guint
glia_op_table_get_size (const GliaOpTable *table)
{
  return table->defs->len;
}

const GliaOpDef *
glia_op_table_get (const GliaOpTable *table, guint i)
{
  g_return_val_if_fail (i < table->defs->len, NULL);
  return g_ptr_array_index (table->defs, i);
}

gboolean
glia_op_table_get_capability (const GliaOpTable *table, const GliaGraph *graph, GliaCapability *cap)
{
  guint n = glia_graph_get_n_nodes (graph);
  for (guint i = 0; i < n; i++)
    if (glia_op_table_find (table, graph, i) != NULL)
      glia_capability_add_node (cap, i);
  return TRUE;
}

gboolean
glia_op_table_compile (const GliaOpTable *table, const GliaGraph *graph, gint node,
                       GliaKernel *kernel, GError **error)
{
  const GliaOpDef *def = glia_op_table_find (table, graph, node);
  if (def == NULL) {
    g_set_error (
        error, GLIA_ERROR, GLIA_ERROR_UNSUPPORTED_OP, "no kernel for node '%s' (%s%s%s, opset %d)",
        glia_graph_node_get_name (graph, node), glia_graph_node_get_domain (graph, node),
        *glia_graph_node_get_domain (graph, node) ? ":" : "",
        glia_graph_node_get_op_type (graph, node), glia_graph_node_get_opset (graph, node));
    return FALSE;
  }
  gpointer state = NULL;
  if (def->create) {
    GError *local = NULL;
    state = def->create (graph, node, &local);
    if (local) {
      g_propagate_error (error, local);
      return FALSE;
    }
  }
  kernel->compute = def->compute;
  kernel->destroy = def->destroy;
  kernel->state = state;
  return TRUE;
}
