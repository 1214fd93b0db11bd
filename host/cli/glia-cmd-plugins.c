/* glia-cmd-plugins.c: `glia plugins`, the plugins the default registry found,
 * what each provides and whether it can be used (and if not, why).
 */
#include "glia-cli.h"

#include <json-glib/json-glib.h>
#include <stdio.h>

static const char *
status_name (GliaPluginStatus status)
{
  switch (status) {
  case GLIA_PLUGIN_STATUS_LOADED:
    return "loaded";
  case GLIA_PLUGIN_STATUS_KNOWN:
    return "known (from cache)";
  case GLIA_PLUGIN_STATUS_REJECTED:
    return "rejected";
  }
  return "unknown";
}

/* A rejected plugin may not have told its name; its file then stands in. */
static char *
plugin_display_name (GliaPluginInfo *info)
{
  const char *name = glia_plugin_info_get_name (info);
  if (name != NULL && *name != '\0')
    return g_strdup (name);
  const char *path = glia_plugin_info_get_path (info);
  return path ? g_path_get_basename (path) : g_strdup ("(unnamed)");
}

/* A file rejected before its descriptor was read has no ABI version: the
 * registry reports 0.0, which no plugin is built for. */
static gboolean
has_abi (GliaPluginInfo *info)
{
  return glia_plugin_info_get_abi_major (info) != 0 || glia_plugin_info_get_abi_minor (info) != 0;
}

static void
print_field (const char *label, const char *value)
{
  if (value != NULL && *value != '\0')
    printf ("  %-12s %s\n", label, value);
}

static void
print_text (GList *plugins)
{
  if (plugins == NULL) {
    printf ("No plugins found. Plugins are searched in GLIA_PLUGIN_PATH, then in the "
            "installed plugin directory.\n");
    return;
  }
  for (GList *l = plugins; l != NULL; l = l->next) {
    GliaPluginInfo *info = l->data;
    g_autofree char *name = plugin_display_name (info);
    GliaPluginStatus status = glia_plugin_info_get_status (info);
    const char *version = glia_plugin_info_get_version (info);
    g_autofree char *abi = has_abi (info)
                               ? g_strdup_printf ("%u.%u", glia_plugin_info_get_abi_major (info),
                                                  glia_plugin_info_get_abi_minor (info))
                               : g_strdup ("unknown");
    g_autofree char *features = g_strjoinv (", ", (char **)glia_plugin_info_get_features (info));

    if (l != plugins)
      printf ("\n");
    printf ("%s%s%s\n", name, version ? " " : "", version ? version : "");
    print_field ("status:", status_name (status));
    if (status == GLIA_PLUGIN_STATUS_REJECTED)
      print_field ("reason:", glia_plugin_info_get_error (info));
    print_field ("plugin ABI:", abi);
    print_field ("features:", *features ? features : "none");
    print_field ("path:", glia_plugin_info_get_path (info));
    print_field ("description:", glia_plugin_info_get_description (info));
    print_field ("license:", glia_plugin_info_get_license (info));
  }
}

static void
add_string_member (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static JsonNode *
build_json (GList *plugins)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (GList *l = plugins; l != NULL; l = l->next) {
    GliaPluginInfo *info = l->data;
    GliaPluginStatus status = glia_plugin_info_get_status (info);
    json_builder_begin_object (b);
    add_string_member (b, "name", glia_plugin_info_get_name (info));
    add_string_member (b, "version", glia_plugin_info_get_version (info));
    json_builder_set_member_name (b, "abi_major");
    if (has_abi (info))
      json_builder_add_int_value (b, glia_plugin_info_get_abi_major (info));
    else
      json_builder_add_null_value (b);
    json_builder_set_member_name (b, "abi_minor");
    if (has_abi (info))
      json_builder_add_int_value (b, glia_plugin_info_get_abi_minor (info));
    else
      json_builder_add_null_value (b);
    json_builder_set_member_name (b, "features");
    json_builder_begin_array (b);
    for (const char *const *f = glia_plugin_info_get_features (info); *f != NULL; f++)
      json_builder_add_string_value (b, *f);
    json_builder_end_array (b);
    add_string_member (b, "path", glia_plugin_info_get_path (info));
    add_string_member (b, "status",
                       status == GLIA_PLUGIN_STATUS_LOADED  ? "loaded"
                       : status == GLIA_PLUGIN_STATUS_KNOWN ? "known"
                                                            : "rejected");
    add_string_member (b, "error",
                       status == GLIA_PLUGIN_STATUS_REJECTED ? glia_plugin_info_get_error (info)
                                                             : NULL);
    add_string_member (b, "description", glia_plugin_info_get_description (info));
    add_string_member (b, "license", glia_plugin_info_get_license (info));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

int
glia_cli_cmd_plugins (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array, one object per plugin", NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = glia_cli_option_context_new (
      "plugins", NULL,
      "Lists every plugin found on the search path (GLIA_PLUGIN_PATH, then the installed\n"
      "plugin directory): name, version, the plugin ABI it was built for, its features\n"
      "(kind:name, e.g. provider:cpu, loader:onnx), its file, and its status: loaded,\n"
      "known (described by the registry cache, not loaded), or rejected with the reason.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!glia_cli_option_context_parse (context, "plugins", &argc, &argv))
    return GLIA_CLI_EXIT_USAGE;
  if (argc > 1)
    return glia_cli_usage_error ("plugins", "unexpected argument '%s'", argv[1]);

  GList *plugins = glia_registry_get_plugins (glia_registry_get_default ());
  if (json) {
    g_autoptr (JsonNode) root = build_json (plugins);
    glia_cli_print_json (root);
  } else
    print_text (plugins);
  g_list_free_full (plugins, g_object_unref);
  return GLIA_CLI_EXIT_OK;
}
