/* glia-cmd-inspect.c: `glia inspect MODEL`, what a model is and how a
 * session built with the given options would run it: loader, metadata,
 * opsets, inputs and outputs, an operator histogram, and the node → provider
 * assignment with per-provider counts and the number of device copies.
 *
 * The model part is printed even when no session can be made (an operator no
 * provider supports, say): it is what one needs to see to understand why.
 */
#include "glia-cli.h"

#include <glia-graph.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMN_WIDTH 48

typedef struct
{
  const char *op; /* borrowed from the histogram's keys */
  guint count;
} OpCount;

static gint
compare_op_counts (gconstpointer a, gconstpointer b)
{
  const OpCount *x = a, *y = b;
  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  return g_strcmp0 (x->op, y->op);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *)a, *(const char *const *)b);
}

/* Operator "domain:Op" (just "Op" in the default domain) → count, as a sorted
 * array: most frequent first, ties by name. @names keeps the keys alive. */
static GArray *
op_histogram (const GliaGraph *graph, GPtrArray *names)
{
  g_autoptr (GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint n = 0; n < glia_graph_get_n_nodes (graph); n++) {
    const char *domain = glia_graph_node_get_domain (graph, n);
    const char *op = glia_graph_node_get_op_type (graph, n);
    char *key = domain && *domain && !g_str_equal (domain, "ai.onnx")
                    ? g_strdup_printf ("%s:%s", domain, op)
                    : g_strdup (op ? op : "?");
    gpointer old_key, old_count;
    if (g_hash_table_lookup_extended (counts, key, &old_key, &old_count)) {
      g_hash_table_insert (counts, old_key, GUINT_TO_POINTER (GPOINTER_TO_UINT (old_count) + 1));
      g_free (key);
    } else {
      g_ptr_array_add (names, key);
      g_hash_table_insert (counts, key, GUINT_TO_POINTER (1));
    }
  }
  GArray *sorted = g_array_new (FALSE, FALSE, sizeof (OpCount));
  GHashTableIter it;
  gpointer key, count;
  g_hash_table_iter_init (&it, counts);
  while (g_hash_table_iter_next (&it, &key, &count)) {
    OpCount c = { key, GPOINTER_TO_UINT (count) };
    g_array_append_val (sorted, c);
  }
  g_array_sort (sorted, compare_op_counts);
  return sorted;
}

/* The opset domains, sorted, with "" shown as "ai.onnx". */
static char **
sorted_opset_domains (const GliaGraph *graph)
{
  char **domains = glia_graph_get_opset_domains (graph);
  qsort (domains, g_strv_length (domains), sizeof (char *), compare_strings);
  return domains;
}

static const char *
domain_display (const char *domain)
{
  return *domain ? domain : "ai.onnx";
}

static char **
sorted_metadata_keys (const GliaGraph *graph)
{
  char **keys = glia_graph_get_metadata_keys (graph);
  qsort (keys, g_strv_length (keys), sizeof (char *), compare_strings);
  return keys;
}

/* Nodes per provider, in the session's preference order, then any other
 * (such as "custom") in order of first appearance. */
static GPtrArray *
providers_in_use (GliaSession *session, GHashTable *counts)
{
  GPtrArray *order = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) preferred = glia_session_get_providers (session);
  for (guint i = 0; preferred[i] != NULL; i++)
    g_ptr_array_add (order, g_strdup (preferred[i]));
  for (guint n = 0; n < glia_session_get_n_nodes (session); n++) {
    const char *provider = glia_session_get_node_provider (session, n);
    if (provider == NULL)
      provider = "?";
    if (!g_ptr_array_find_with_equal_func (order, provider, g_str_equal, NULL))
      g_ptr_array_add (order, g_strdup (provider));
    gpointer count = g_hash_table_lookup (counts, provider);
    g_hash_table_insert (counts, (gpointer)provider,
                         GUINT_TO_POINTER (GPOINTER_TO_UINT (count) + 1));
  }
  return order;
}

static const char *
or_dash (const char *s)
{
  return s != NULL && *s != '\0' ? s : "-";
}

/* ---- text --------------------------------------------------------------- */

static void
print_values (GliaModel *model, char **names)
{
  gsize width = 0;
  for (guint i = 0; names[i] != NULL; i++)
    width = MAX (width, strlen (names[i]));
  for (guint i = 0; names[i] != NULL; i++) {
    g_autofree char *description = glia_model_describe_value (model, names[i]);
    printf ("  %-*s  %s\n", (int)width, names[i], description ? description : "?");
  }
  if (names[0] == NULL)
    printf ("  (none)\n");
}

static void
print_model (GliaModel *model)
{
  const GliaGraph *graph = glia_model_get_graph (model);
  printf ("Model:   %s\n", or_dash (glia_model_get_path (model)));
  printf ("Loader:  %s\n", or_dash (glia_model_get_loader_name (model)));

  g_auto (GStrv) domains = sorted_opset_domains (graph);
  printf ("Opsets: ");
  for (guint i = 0; domains[i] != NULL; i++)
    printf ("%s %s %d", i ? "," : "", domain_display (domains[i]),
            glia_graph_get_opset (graph, domains[i]));
  printf ("%s\n", domains[0] ? "" : " (none)");

  g_auto (GStrv) keys = sorted_metadata_keys (graph);
  if (keys[0] != NULL) {
    printf ("Metadata:\n");
    for (guint i = 0; keys[i] != NULL; i++) {
      /* Multi-line values (doc strings) are indented under their key. */
      g_auto (GStrv) lines = g_strsplit (glia_model_get_metadata (model, keys[i]), "\n", -1);
      printf ("  %s: %s\n", keys[i], lines[0] ? lines[0] : "");
      for (guint l = 1; lines[0] && lines[l] != NULL; l++)
        printf ("    %s\n", lines[l]);
    }
  }

  g_auto (GStrv) inputs = glia_model_get_input_names (model);
  g_auto (GStrv) outputs = glia_model_get_output_names (model);
  printf ("Inputs:\n");
  print_values (model, inputs);
  printf ("Outputs:\n");
  print_values (model, outputs);

  g_autoptr (GPtrArray) op_names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) histogram = op_histogram (graph, op_names);
  printf ("Operators (%u nodes, %u types):\n", glia_graph_get_n_nodes (graph), histogram->len);
  for (guint i = 0; i < histogram->len; i++) {
    OpCount *c = &g_array_index (histogram, OpCount, i);
    printf ("  %6u  %s\n", c->count, c->op);
  }
}

static void
print_session (GliaSession *session)
{
  guint n_nodes = glia_session_get_n_nodes (session);
  g_autoptr (GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) order = providers_in_use (session, counts);
  g_auto (GStrv) providers = glia_session_get_providers (session);
  g_autofree char *provider_list = g_strjoinv (", ", providers);

  printf ("Session:\n");
  printf ("  providers: %s\n", provider_list);
  printf ("  copies:    %u\n", glia_session_get_n_copies (session));
  printf ("Nodes per provider:\n");
  for (guint i = 0; i < order->len; i++) {
    const char *name = g_ptr_array_index (order, i);
    printf ("  %-10s %u\n", name, GPOINTER_TO_UINT (g_hash_table_lookup (counts, name)));
  }

  /* Columns fit the longest name up to a point: one very long name should
   * not push every other line across the screen. printf pads bytes, so
   * widths are counted in bytes. */
  gsize name_width = 4, op_width = 2;
  for (guint n = 0; n < n_nodes; n++) {
    name_width = MAX (name_width, strlen (or_dash (glia_session_get_node_name (session, n))));
    op_width = MAX (op_width, strlen (or_dash (glia_session_get_node_op_type (session, n))));
  }
  name_width = MIN (name_width, MAX_COLUMN_WIDTH);
  op_width = MIN (op_width, MAX_COLUMN_WIDTH);
  printf ("Assignment (%u nodes):\n", n_nodes);
  printf ("  %6s  %-*s  %-*s  %s\n", "#", (int)name_width, "node", (int)op_width, "op", "provider");
  for (guint n = 0; n < n_nodes; n++)
    printf ("  %6u  %-*s  %-*s  %s\n", n, (int)name_width,
            or_dash (glia_session_get_node_name (session, n)), (int)op_width,
            or_dash (glia_session_get_node_op_type (session, n)),
            or_dash (glia_session_get_node_provider (session, n)));
}

/* ---- JSON --------------------------------------------------------------- */

static void
add_value_json (JsonBuilder *b, GliaModel *model, const char *name)
{
  const GliaGraph *graph = glia_model_get_graph (model);
  gint value = glia_graph_lookup_value (graph, name);
  g_autofree char *description = glia_model_describe_value (model, name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "dtype");
  json_builder_add_string_value (
      b, glia_data_type_get_name (glia_model_get_value_dtype (model, name)));
  /* Known dimensions as numbers, symbolic ones by name, unknown ones null;
   * an unknown rank is a null shape. */
  json_builder_set_member_name (b, "shape");
  gint rank = -1;
  g_autofree gint64 *dims = glia_model_get_value_shape (model, name, &rank);
  if (rank < 0)
    json_builder_add_null_value (b);
  else {
    json_builder_begin_array (b);
    for (gint axis = 0; axis < rank; axis++) {
      const char *param = glia_graph_value_get_dim_param (graph, value, axis);
      if (param != NULL)
        json_builder_add_string_value (b, param);
      else if (dims[axis] < 0)
        json_builder_add_null_value (b);
      else
        json_builder_add_int_value (b, dims[axis]);
    }
    json_builder_end_array (b);
  }
  json_builder_set_member_name (b, "description");
  json_builder_add_string_value (b, description ? description : "?");
  json_builder_end_object (b);
}

static void
add_model_json (JsonBuilder *b, GliaModel *model)
{
  const GliaGraph *graph = glia_model_get_graph (model);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, glia_model_get_path (model));
  json_builder_set_member_name (b, "loader");
  json_builder_add_string_value (b, glia_model_get_loader_name (model));

  json_builder_set_member_name (b, "opsets");
  json_builder_begin_object (b);
  g_auto (GStrv) domains = sorted_opset_domains (graph);
  for (guint i = 0; domains[i] != NULL; i++) {
    json_builder_set_member_name (b, domain_display (domains[i]));
    json_builder_add_int_value (b, glia_graph_get_opset (graph, domains[i]));
  }
  json_builder_end_object (b);

  json_builder_set_member_name (b, "metadata");
  json_builder_begin_object (b);
  g_auto (GStrv) keys = sorted_metadata_keys (graph);
  for (guint i = 0; keys[i] != NULL; i++) {
    json_builder_set_member_name (b, keys[i]);
    json_builder_add_string_value (b, glia_model_get_metadata (model, keys[i]));
  }
  json_builder_end_object (b);

  g_auto (GStrv) inputs = glia_model_get_input_names (model);
  g_auto (GStrv) outputs = glia_model_get_output_names (model);
  json_builder_set_member_name (b, "inputs");
  json_builder_begin_array (b);
  for (guint i = 0; inputs[i] != NULL; i++)
    add_value_json (b, model, inputs[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "outputs");
  json_builder_begin_array (b);
  for (guint i = 0; outputs[i] != NULL; i++)
    add_value_json (b, model, outputs[i]);
  json_builder_end_array (b);

  json_builder_set_member_name (b, "n_nodes");
  json_builder_add_int_value (b, glia_graph_get_n_nodes (graph));
  g_autoptr (GPtrArray) op_names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) histogram = op_histogram (graph, op_names);
  json_builder_set_member_name (b, "operators");
  json_builder_begin_array (b);
  for (guint i = 0; i < histogram->len; i++) {
    OpCount *c = &g_array_index (histogram, OpCount, i);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "op");
    json_builder_add_string_value (b, c->op);
    json_builder_set_member_name (b, "count");
    json_builder_add_int_value (b, c->count);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
add_session_json (JsonBuilder *b, GliaSession *session)
{
  g_autoptr (GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) order = providers_in_use (session, counts);
  g_auto (GStrv) providers = glia_session_get_providers (session);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "providers");
  json_builder_begin_array (b);
  for (guint i = 0; providers[i] != NULL; i++)
    json_builder_add_string_value (b, providers[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "n_copies");
  json_builder_add_int_value (b, glia_session_get_n_copies (session));
  json_builder_set_member_name (b, "optimization_report");
  json_builder_add_string_value (b, glia_session_get_optimization_report (session));
  json_builder_set_member_name (b, "nodes_per_provider");
  json_builder_begin_object (b);
  for (guint i = 0; i < order->len; i++) {
    const char *name = g_ptr_array_index (order, i);
    json_builder_set_member_name (b, name);
    json_builder_add_int_value (b, GPOINTER_TO_UINT (g_hash_table_lookup (counts, name)));
  }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "nodes");
  json_builder_begin_array (b);
  for (guint n = 0; n < glia_session_get_n_nodes (session); n++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "index");
    json_builder_add_int_value (b, n);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, glia_session_get_node_name (session, n));
    json_builder_set_member_name (b, "op");
    json_builder_add_string_value (b, glia_session_get_node_op_type (session, n));
    json_builder_set_member_name (b, "provider");
    json_builder_add_string_value (b, glia_session_get_node_provider (session, n));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
print_json (GliaModel *model, GliaSession *session, const GError *session_error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_model_json (b, model);
  json_builder_set_member_name (b, "session");
  if (session != NULL)
    add_session_json (b, session);
  else
    json_builder_add_null_value (b);
  if (session_error != NULL) {
    json_builder_set_member_name (b, "session_error");
    json_builder_add_string_value (b, session_error->message);
  }
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  glia_cli_print_json (root);
}

/* --passes: what the optimizer did, and the operators it left. */
static void
print_passes (GliaSession *session)
{
  printf ("%s", glia_session_get_optimization_report (session));
  g_autoptr (GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint n = 0; n < glia_session_get_n_nodes (session); n++) {
    const char *domain = glia_session_get_node_domain (session, n);
    char *key = domain && *domain
                    ? g_strdup_printf ("%s:%s", domain, glia_session_get_node_op_type (session, n))
                    : g_strdup (glia_session_get_node_op_type (session, n));
    guint count = GPOINTER_TO_UINT (g_hash_table_lookup (counts, key));
    g_hash_table_replace (counts, key, GUINT_TO_POINTER (count + 1));
  }
  g_autoptr (GArray) sorted = g_array_new (FALSE, FALSE, sizeof (OpCount));
  GHashTableIter it;
  gpointer key, count;
  g_hash_table_iter_init (&it, counts);
  while (g_hash_table_iter_next (&it, &key, &count)) {
    OpCount c = { key, GPOINTER_TO_UINT (count) };
    g_array_append_val (sorted, c);
  }
  g_array_sort (sorted, compare_op_counts);
  printf ("Operators after optimization (%u nodes, %u types):\n",
          glia_session_get_n_nodes (session), sorted->len);
  for (guint i = 0; i < sorted->len; i++)
    printf ("  %6u  %s\n", g_array_index (sorted, OpCount, i).count,
            g_array_index (sorted, OpCount, i).op);
}

static int
inspect (const char *path, GliaCliSessionArgs *session_args, gboolean json, gboolean passes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSessionOptions) options = glia_cli_session_args_build (session_args, &error);
  if (options == NULL)
    return glia_cli_usage_error ("inspect", "%s", error->message);

  g_autoptr (GliaModel) model = glia_cli_load_model (path, !json, &error);
  if (model == NULL)
    return glia_cli_fail (error);
  if (!json && !passes)
    print_model (model);
  g_autoptr (GliaSession) session = glia_session_new (model, options, &error);
  if (json)
    print_json (model, session, error);
  else if (session != NULL && passes)
    print_passes (session);
  else if (session != NULL)
    print_session (session);
  fflush (stdout);
  if (session == NULL)
    return glia_cli_fail (error);
  return GLIA_CLI_EXIT_OK;
}

int
glia_cli_cmd_inspect (int argc, char **argv)
{
  GliaCliSessionArgs session_args = { 0 };
  gboolean json = FALSE, passes = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { "passes", 0, 0, G_OPTION_ARG_NONE, &passes,
      "Print what each graph optimization pass changed (see --level) and the operators left",
      NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = glia_cli_option_context_new (
      "inspect", "MODEL",
      "Describes MODEL: the loader that read it, its metadata and opsets, its inputs and\n"
      "outputs with type and shape, and how many nodes of each operator it has. Then makes\n"
      "a session with the given options and lists which provider runs each node, the\n"
      "number of nodes per provider, and the number of copies between devices.");
  g_option_context_add_main_entries (context, entries, NULL);
  glia_cli_session_args_add_entries (&session_args, context);

  int status;
  if (!glia_cli_option_context_parse (context, "inspect", &argc, &argv))
    status = GLIA_CLI_EXIT_USAGE;
  else if (argc < 2)
    status = glia_cli_usage_error ("inspect", "no MODEL given");
  else if (argc > 2)
    status = glia_cli_usage_error ("inspect", "unexpected argument '%s'", argv[2]);
  else
    status = inspect (argv[1], &session_args, json, passes);
  glia_cli_session_args_clear (&session_args);
  return status;
}
