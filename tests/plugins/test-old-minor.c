/* test-old-minor.c: a plugin built against an older plugin ABI minor loads
 * in this host and its features work; a plugin claiming a newer minor than
 * the host's is refused.
 *
 * libtest-old-minor-plugin.so is compiled against the frozen ABI 1.0 headers
 * (tests/plugins/abi-1.0/); this program against the current ones. While the
 * host is still at ABI 1.0 the "old" plugin is simply current; the test is
 * still right, and becomes the real cross-minor check once the minor grows. */
#include <glia.h>
#include <glia-plugin.h>
#include <string.h>

static GliaRegistry *registry;

static GliaPluginInfo *
find_plugin (const char *file)
{
  GliaPluginInfo *found = NULL;
  GList *plugins = glia_registry_get_plugins (registry);
  for (GList *l = plugins; l; l = l->next)
    if (g_str_has_suffix (glia_plugin_info_get_path (l->data), file))
      found = l->data;
  g_list_free_full (plugins, g_object_unref);
  return found; /* the registry keeps its own reference */
}

static void
test_old_minor_loads (void)
{
  GliaPluginInfo *pi = find_plugin ("libtest-old-minor-plugin.so");
  g_assert_nonnull (pi);
  g_assert_null (glia_plugin_info_get_error (pi));
  g_assert_cmpint (glia_plugin_info_get_status (pi), ==, GLIA_PLUGIN_STATUS_LOADED);
  g_assert_cmpstr (glia_plugin_info_get_name (pi), ==, "test-old-minor");
  g_assert_cmpuint (glia_plugin_info_get_abi_major (pi), ==, 1);
  g_assert_cmpuint (glia_plugin_info_get_abi_minor (pi), ==, 0);
  g_assert_cmpuint (glia_plugin_info_get_abi_minor (pi), <=, GLIA_PLUGIN_ABI_MINOR);
  const char *const *features = glia_plugin_info_get_features (pi);
  g_assert_true (g_strv_contains (features, "provider:oldminor"));
  g_assert_true (g_strv_contains (features, "op-set:com.glia.test.old"));
  g_assert_cmpint (glia_registry_get_provider_rank (registry, "oldminor"), ==, 0);
  if (GLIA_PLUGIN_ABI_MINOR == 0)
    g_test_message ("the host is still at plugin ABI 1.0: the old-minor plugin is current");
}

/* y = Neg (Affine (x; alpha = 3, beta = -1)): the custom op runs on the op
 * set's CPU kernels, Neg on the old plugin's provider, fallback disabled. */
static void
test_old_minor_runs (void)
{
  GliaGraph *g = glia_graph_new ();
  glia_graph_set_opset (g, "", 17);
  glia_graph_set_opset (g, "com.glia.test.old", 1);
  gint64 dims[] = { 2, 3 };
  gint x = glia_graph_add_value (g, "x", GLIA_DATA_TYPE_FLOAT, 2, dims, NULL);
  gint t = glia_graph_add_value (g, "t", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  gint y = glia_graph_add_value (g, "y", GLIA_DATA_TYPE_FLOAT, 2, dims, NULL);
  glia_graph_add_input (g, x);
  glia_graph_add_output (g, y);
  gint affine = glia_graph_add_node (g, "Affine", "com.glia.test.old", "affine", 1, &x, 1, &t);
  glia_graph_node_set_attr_float (g, affine, "alpha", 3);
  glia_graph_node_set_attr_float (g, affine, "beta", -1);
  glia_graph_add_node (g, "Neg", "", "neg", 1, &t, 1, &y);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaModel) model = glia_model_new_from_graph (g, &error);
  g_assert_no_error (error);
  glia_graph_unref (g);

  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, (const char *[]){ "oldminor", NULL });
  glia_session_options_set_allow_fallback (opts, FALSE);
  glia_session_options_set_threads (opts, 1);
  g_autoptr (GliaSession) s = glia_session_new_full (model, opts, registry, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (glia_session_get_node_provider (s, 0), ==, "custom");
  g_assert_cmpstr (glia_session_get_node_provider (s, 1), ==, "oldminor");

  float v[] = { 0, 1, -2, 0.5f, 10, -7 };
  g_autoptr (GHashTable) in = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  g_hash_table_insert (
      in, "x",
      glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, dims, 2, (guint8 *)v, sizeof v, &error));
  g_assert_no_error (error);
  for (int run = 0; run < 2; run++) {
    g_autoptr (GHashTable) out = glia_session_run (s, in, &error);
    g_assert_no_error (error);
    GliaTensor *yt = g_hash_table_lookup (out, "y");
    g_assert_nonnull (yt);
    g_assert_cmpuint (glia_tensor_get_n_elements (yt), ==, G_N_ELEMENTS (v));
    const float *yv = glia_tensor_peek_data (yt, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS (v); i++)
      g_assert_cmpfloat (yv[i], ==, -(3 * v[i] - 1));
  }
}

/* One minor past the host's is refused with both versions named, and
 * registers nothing. */
static void
test_newer_minor_refused (void)
{
  GliaPluginInfo *pi = find_plugin ("libtest-old-minor-newer.so");
  g_assert_nonnull (pi);
  g_assert_cmpint (glia_plugin_info_get_status (pi), ==, GLIA_PLUGIN_STATUS_REJECTED);
  const char *err = glia_plugin_info_get_error (pi);
  g_assert_nonnull (err);
  g_autofree char *claimed
      = g_strdup_printf ("ABI %d.%d,", GLIA_PLUGIN_ABI_MAJOR, GLIA_PLUGIN_ABI_MINOR + 1);
  g_autofree char *host
      = g_strdup_printf ("ABI %d.%d", GLIA_PLUGIN_ABI_MAJOR, GLIA_PLUGIN_ABI_MINOR);
  g_assert_nonnull (strstr (err, "libtest-old-minor-newer.so"));
  g_assert_nonnull (strstr (err, claimed));
  g_assert_nonnull (strstr (err, host));
  g_assert_nonnull (strstr (err, "newer"));
  g_auto (GStrv) providers = glia_registry_get_provider_names (registry);
  g_assert_cmpuint (g_strv_length (providers), ==, 1);
  g_assert_cmpstr (providers[0], ==, "oldminor");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  registry = glia_registry_new ();
  glia_registry_add_search_path (registry, g_getenv ("GLIA_TEST_OLD_MINOR_DIR"));
  g_autoptr (GError) error = NULL;
  g_assert_true (glia_registry_scan (registry, &error));
  g_assert_no_error (error);

  g_test_add_func ("/plugin-abi/old-minor/loads", test_old_minor_loads);
  g_test_add_func ("/plugin-abi/old-minor/runs", test_old_minor_runs);
  g_test_add_func ("/plugin-abi/newer-minor/refused", test_newer_minor_refused);
  int ret = g_test_run ();
  g_object_unref (registry);
  return ret;
}
