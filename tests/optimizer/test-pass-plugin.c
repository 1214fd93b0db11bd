/* test-pass-plugin.c: a plugin registering an optimization pass, for
 * tests/optimizer/test-optimizer.c.
 *
 * "test-neg-neg" (level 1) removes pairs Neg (Neg (x)) whose inner result
 * nothing else reads, and reports, once per graph, whether a provider of the
 * session runs com.glia::FusedConv (glia_pass_context_has_op()).
 */
#include <glia-plugin.h>

static gboolean
neg_neg_apply (GliaGraph *graph, GliaPassContext *ctx, GError **error)
{
  if (glia_graph_get_metadata (graph, "test-neg-neg") == NULL) {
    glia_graph_set_metadata (graph, "test-neg-neg", "seen");
    glia_pass_context_report (
        ctx, "FusedConv %s",
        glia_pass_context_has_op (ctx, "com.glia", "FusedConv", 1) ? "available" : "missing");
  }
  for (guint outer = 0; outer < glia_graph_get_n_nodes (graph); outer++) {
    if (!g_str_equal (glia_graph_node_get_op_type (graph, outer), "Neg"))
      continue;
    gint mid = glia_graph_node_get_input (graph, outer, 0);
    gint inner = glia_graph_value_get_producer (graph, mid);
    if (inner < 0 || !g_str_equal (glia_graph_node_get_op_type (graph, inner), "Neg"))
      continue;
    guint n;
    gboolean by_sub;
    g_autofree gint *readers = glia_graph_value_get_consumers (graph, mid, &n, &by_sub);
    gint y = glia_graph_node_get_output (graph, outer, 0);
    if (n != 1 || by_sub || glia_graph_value_is_output (graph, mid)
        || glia_graph_value_is_output (graph, y))
      continue;
    glia_graph_replace_uses (graph, y, glia_graph_node_get_input (graph, inner, 0));
    gint dead[2] = { inner, outer };
    glia_graph_remove_nodes (graph, dead, 2);
    glia_pass_context_report (ctx, "removed a Neg pair");
    return TRUE;
  }
  return FALSE;
}

static const GliaPassInfo neg_neg_pass = {
  .struct_size = sizeof (GliaPassInfo),
  .name = "test-neg-neg",
  .description = "removes Neg (Neg (x))",
  .level = 1,
  .apply = neg_neg_apply,
};

static gboolean
plugin_init (GliaPlugin *plugin, GError **error)
{
  return glia_plugin_register_pass (plugin, &neg_neg_pass, error);
}

GLIA_PLUGIN_DEFINE ("test-pass", "An optimization pass for the optimizer tests", "1.0",
                    "LGPL-2.1-or-later", "0.1.0", plugin_init)
