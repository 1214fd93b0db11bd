/* test-registry.c: plugin discovery, ABI checks and the metadata cache. */
#include <glia.h>
#include <glia-plugin.h>
#include <glib/gstdio.h>
#include <string.h>

static const char *plugin_dir;

static GliaPluginInfo *
find_by_path_suffix (GList *plugins, const char *suffix)
{
  for (GList *l = plugins; l; l = l->next)
    if (g_str_has_suffix (glia_plugin_info_get_path (l->data), suffix))
      return l->data;
  return NULL;
}

static GliaRegistry *
registry_for_tests (const char *cache)
{
  GliaRegistry *r = glia_registry_new ();
  glia_registry_add_search_path (r, plugin_dir);
  glia_registry_set_cache_file (r, cache);
  g_autoptr (GError) error = NULL;
  g_assert_true (glia_registry_scan (r, &error));
  g_assert_no_error (error);
  return r;
}

static void
assert_rejected (GList *plugins, const char *file, GliaError code_hint, const char *fragment1,
                 const char *fragment2)
{
  GliaPluginInfo *pi = find_by_path_suffix (plugins, file);
  g_assert_nonnull (pi);
  g_assert_cmpint (glia_plugin_info_get_status (pi), ==, GLIA_PLUGIN_STATUS_REJECTED);
  const char *err = glia_plugin_info_get_error (pi);
  g_assert_nonnull (err);
  /* the reason names the file and what is wrong */
  g_assert_nonnull (strstr (err, file));
  g_assert_nonnull (strstr (err, fragment1));
  if (fragment2)
    g_assert_nonnull (strstr (err, fragment2));
  (void)code_hint;
}

static GliaModel *
add_model (void)
{
  GliaGraph *g = glia_graph_new ();
  glia_graph_set_opset (g, "", 17);
  gint64 dims[] = { 4 };
  gint x = glia_graph_add_value (g, "x", GLIA_DATA_TYPE_FLOAT, 1, dims, NULL);
  gint y = glia_graph_add_value (g, "y", GLIA_DATA_TYPE_FLOAT, 1, dims, NULL);
  gint z = glia_graph_add_value (g, "z", GLIA_DATA_TYPE_FLOAT, 1, dims, NULL);
  glia_graph_add_input (g, x);
  glia_graph_add_input (g, y);
  glia_graph_add_output (g, z);
  gint in[] = { x, y };
  glia_graph_add_node (g, "Add", "", "add", 2, in, 1, &z);
  g_autoptr (GError) error = NULL;
  GliaModel *m = glia_model_new_from_graph (g, &error);
  g_assert_no_error (error);
  glia_graph_unref (g);
  return m;
}

static GliaTensor *
vec4 (float a, float b, float c, float d)
{
  float v[] = { a, b, c, d };
  gint64 dims[] = { 4 };
  g_autoptr (GError) error = NULL;
  GliaTensor *t
      = glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, dims, 1, (guint8 *)v, sizeof v, &error);
  g_assert_no_error (error);
  return t;
}

/* The host keeps working with the good plugins while rejecting the bad ones. */
static void
test_rejections_and_working_host (void)
{
  g_autoptr (GliaRegistry) r = registry_for_tests (NULL);
  GList *plugins = glia_registry_get_plugins (r);

  GliaPluginInfo *good = find_by_path_suffix (plugins, "libtest-providers.so");
  g_assert_nonnull (good);
  g_assert_cmpint (glia_plugin_info_get_status (good), ==, GLIA_PLUGIN_STATUS_LOADED);
  g_assert_cmpstr (glia_plugin_info_get_name (good), ==, "test-providers");
  g_assert_cmpuint (glia_plugin_info_get_abi_major (good), ==, GLIA_PLUGIN_ABI_MAJOR);
  g_assert_null (glia_plugin_info_get_error (good));
  const char *const *features = glia_plugin_info_get_features (good);
  g_assert_true (g_strv_contains (features, "provider:testa"));
  g_assert_true (g_strv_contains (features, "provider:testb"));

  g_autofree char *host_abi
      = g_strdup_printf ("%d.%d", GLIA_PLUGIN_ABI_MAJOR, GLIA_PLUGIN_ABI_MINOR);
  g_autofree char *major_abi = g_strdup_printf ("%d.0", GLIA_PLUGIN_ABI_MAJOR + 1);
  assert_rejected (plugins, "libtest-bad-abi-major.so", GLIA_ERROR_PLUGIN_ABI, major_abi, host_abi);
  g_autofree char *minor_abi
      = g_strdup_printf ("%d.%d", GLIA_PLUGIN_ABI_MAJOR, GLIA_PLUGIN_ABI_MINOR + 7);
  assert_rejected (plugins, "libtest-bad-abi-minor.so", GLIA_ERROR_PLUGIN_ABI, minor_abi, "newer");
  assert_rejected (plugins, "libtest-bad-min-host.so", GLIA_ERROR_PLUGIN_ABI, "99.0.0",
                   GLIA_VERSION_STRING);
  assert_rejected (plugins, "libtest-bad-init-fail.so", GLIA_ERROR_PLUGIN,
                   "deliberate failure: no such hardware", "failed to initialise");
  assert_rejected (plugins, "libtest-bad-no-desc.so", GLIA_ERROR_PLUGIN, "glia_plugin_get_desc",
                   "not a Glia plugin");

  /* rejected plugins register nothing */
  g_auto (GStrv) providers = glia_registry_get_provider_names (r);
  g_assert_cmpuint (g_strv_length (providers), ==, 2);

  /* and the host still runs a model on the good plugin */
  g_autoptr (GliaModel) model = add_model ();
  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, (const char *[]){ "testb", NULL });
  glia_session_options_set_allow_fallback (opts, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s = glia_session_new_full (model, opts, r, &error);
  g_assert_no_error (error);
  g_autoptr (GHashTable) in = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  g_hash_table_insert (in, "x", vec4 (1, 2, 3, 4));
  g_hash_table_insert (in, "y", vec4 (10, 20, 30, 40));
  g_autoptr (GHashTable) out = glia_session_run (s, in, &error);
  g_assert_no_error (error);
  GliaTensor *z = g_hash_table_lookup (out, "z");
  g_autoptr (GliaTensor) want = vec4 (11, 22, 33, 44);
  g_assert_true (glia_tensor_equal (z, want));
  g_list_free_full (plugins, g_object_unref);
}

/* A second registry reading the cache knows every plugin without loading
 * any, and a session loads only the plugin it uses. Runs in a subprocess so
 * that no module is mapped from earlier tests. */
static void
test_cache_lazy_loading (void)
{
  if (g_test_subprocess ()) {
    const char *cache = g_getenv ("TEST_CACHE_FILE");
    g_autoptr (GliaRegistry) r = registry_for_tests (cache);
    GList *plugins = glia_registry_get_plugins (r);
    for (GList *l = plugins; l; l = l->next)
      g_assert_cmpint (glia_plugin_info_get_status (l->data), !=, GLIA_PLUGIN_STATUS_LOADED);
    /* rejections are remembered with their reasons */
    GliaPluginInfo *bad = find_by_path_suffix (plugins, "libtest-bad-init-fail.so");
    g_assert_cmpint (glia_plugin_info_get_status (bad), ==, GLIA_PLUGIN_STATUS_REJECTED);
    g_assert_nonnull (strstr (glia_plugin_info_get_error (bad), "deliberate failure"));
    /* options are checked against cached metadata */
    g_assert_true (glia_registry_has_provider_option (r, "testa", "fail"));
    g_assert_false (glia_registry_has_provider_option (r, "testb", "fail"));

    g_autoptr (GliaModel) model = add_model ();
    g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
    glia_session_options_set_providers (opts, (const char *[]){ "testb", NULL });
    glia_session_options_set_allow_fallback (opts, FALSE);
    g_autoptr (GError) error = NULL;
    g_autoptr (GliaSession) s = glia_session_new_full (model, opts, r, &error);
    g_assert_no_error (error);
    g_assert_cmpint (
        glia_plugin_info_get_status (find_by_path_suffix (plugins, "libtest-providers.so")), ==,
        GLIA_PLUGIN_STATUS_LOADED);
    g_assert_cmpint (
        glia_plugin_info_get_status (find_by_path_suffix (plugins, "libtest-custom-ops.so")), ==,
        GLIA_PLUGIN_STATUS_KNOWN);
    /* the process never mapped the unused plugin */
    g_autofree char *maps = NULL;
    g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
    g_assert_nonnull (strstr (maps, "libtest-providers.so"));
    g_assert_null (strstr (maps, "libtest-custom-ops.so"));
    g_assert_null (strstr (maps, "libtest-bad-init-fail.so"));
    g_list_free_full (plugins, g_object_unref);
    return;
  }
  g_autofree char *dir = g_dir_make_tmp ("glia-cache-XXXXXX", NULL);
  g_autofree char *cache = g_build_filename (dir, "registry.json", NULL);
  {
    /* first scan writes the cache */
    g_autoptr (GliaRegistry) r = registry_for_tests (cache);
    g_assert_true (g_file_test (cache, G_FILE_TEST_EXISTS));
  }
  g_setenv ("TEST_CACHE_FILE", cache, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  g_unlink (cache);
  g_rmdir (dir);
}

/* A stale cache record (file changed) is ignored. */
static void
test_cache_stale (void)
{
  g_autofree char *dir = g_dir_make_tmp ("glia-cache-XXXXXX", NULL);
  g_autofree char *cache = g_build_filename (dir, "registry.json", NULL);
  g_autofree char *text = NULL;
  {
    g_autoptr (GliaRegistry) r = registry_for_tests (cache);
  }
  g_assert_true (g_file_get_contents (cache, &text, NULL, NULL));
  /* corrupt the record of the good plugin: wrong size */
  GString *s = g_string_new (text);
  g_assert_cmpint (g_string_replace (s, "\"size\" : ", "\"size\" : 1", 0), >, 0);
  g_assert_true (g_file_set_contents (cache, s->str, -1, NULL));
  g_string_free (s, TRUE);
  g_autoptr (GliaRegistry) r = registry_for_tests (cache);
  GList *plugins = glia_registry_get_plugins (r);
  /* mismatching records are rescanned from the files: the good one loads */
  g_assert_cmpint (
      glia_plugin_info_get_status (find_by_path_suffix (plugins, "libtest-providers.so")), ==,
      GLIA_PLUGIN_STATUS_LOADED);
  g_list_free_full (plugins, g_object_unref);

  /* garbage cache: everything is scanned again, nothing breaks */
  g_assert_true (g_file_set_contents (cache, "{ not json", -1, NULL));
  g_autoptr (GliaRegistry) r2 = registry_for_tests (cache);
  g_auto (GStrv) providers = glia_registry_get_provider_names (r2);
  g_assert_cmpuint (g_strv_length (providers), ==, 2);
  g_unlink (cache);
  g_rmdir (dir);
}

/* GLIA_FEATURE_RANK overrides ranks, which order the default provider list. */
static void
test_rank_override (void)
{
  if (g_test_subprocess ()) {
    /* the malformed entry warns; keep that warning non-fatal here */
    g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    g_autoptr (GliaRegistry) r = registry_for_tests (NULL);
    g_assert_cmpint (glia_registry_get_provider_rank (r, "testb"), ==, 500);
    g_assert_cmpint (glia_registry_get_provider_rank (r, "testa"), ==, 0);
    g_auto (GStrv) names = glia_registry_get_provider_names (r);
    g_assert_cmpstr (names[0], ==, "testb");
    /* a session naming no provider uses the ranked ones */
    g_autoptr (GliaModel) model = add_model ();
    g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
    glia_session_options_set_allow_fallback (opts, FALSE);
    g_autoptr (GError) error = NULL;
    g_autoptr (GliaSession) s = glia_session_new_full (model, opts, r, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (glia_session_get_node_provider (s, 0), ==, "testb");
    return;
  }
  g_setenv ("GLIA_FEATURE_RANK", "testb:500,bogus", TRUE);
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*ignoring 'bogus'*");
  g_unsetenv ("GLIA_FEATURE_RANK");
}

static void
test_unknown_provider (void)
{
  g_autoptr (GliaRegistry) r = registry_for_tests (NULL);
  g_autoptr (GliaModel) model = add_model ();
  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, (const char *[]){ "warp-drive", NULL });
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s = glia_session_new_full (model, opts, r, &error);
  g_assert_null (s);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "warp-drive"));
  g_assert_nonnull (strstr (error->message, "testa"));
}

/* Bindings see the domain by its quark name. */
static void
test_error_domain_name (void)
{
  g_assert_cmpstr (g_quark_to_string (GLIA_ERROR), ==, "glia-error-quark");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  plugin_dir = g_getenv ("GLIA_TEST_PLUGIN_DIR");
  g_assert_nonnull (plugin_dir);
  g_test_add_func ("/registry/error-domain-name", test_error_domain_name);
  g_test_add_func ("/registry/rejections-and-working-host", test_rejections_and_working_host);
  g_test_add_func ("/registry/cache-lazy-loading", test_cache_lazy_loading);
  g_test_add_func ("/registry/cache-stale", test_cache_stale);
  g_test_add_func ("/registry/rank-override", test_rank_override);
  g_test_add_func ("/registry/unknown-provider", test_unknown_provider);
  return g_test_run ();
}
