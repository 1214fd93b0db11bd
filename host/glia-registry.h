/* glia-registry.h: plugin discovery and the features plugins register. */
#pragma once

#include <glia-types.h>

G_BEGIN_DECLS

#define GLIA_TYPE_PLUGIN_INFO (glia_plugin_info_get_type ())
G_DECLARE_FINAL_TYPE (GliaPluginInfo, glia_plugin_info, GLIA, PLUGIN_INFO, GObject)

/**
 * GliaPluginStatus:
 * @GLIA_PLUGIN_STATUS_KNOWN: described by the cache, not loaded in this process
 * @GLIA_PLUGIN_STATUS_LOADED: loaded and initialised
 * @GLIA_PLUGIN_STATUS_REJECTED: refused (see glia_plugin_info_get_error())
 *
 * The state of a plugin file found by a #GliaRegistry.
 */
typedef enum
{
  GLIA_PLUGIN_STATUS_KNOWN,
  GLIA_PLUGIN_STATUS_LOADED,
  GLIA_PLUGIN_STATUS_REJECTED,
} GliaPluginStatus;

const char *glia_plugin_info_get_name (GliaPluginInfo *self);
const char *glia_plugin_info_get_path (GliaPluginInfo *self);
const char *glia_plugin_info_get_version (GliaPluginInfo *self);
const char *glia_plugin_info_get_description (GliaPluginInfo *self);
const char *glia_plugin_info_get_license (GliaPluginInfo *self);
guint glia_plugin_info_get_abi_major (GliaPluginInfo *self);
guint glia_plugin_info_get_abi_minor (GliaPluginInfo *self);
GliaPluginStatus glia_plugin_info_get_status (GliaPluginInfo *self);
const char *glia_plugin_info_get_error (GliaPluginInfo *self);
const char *const *glia_plugin_info_get_features (GliaPluginInfo *self);

#define GLIA_TYPE_REGISTRY (glia_registry_get_type ())
G_DECLARE_FINAL_TYPE (GliaRegistry, glia_registry, GLIA, REGISTRY, GObject)

GliaRegistry *glia_registry_get_default (void);
GliaRegistry *glia_registry_new (void);
void glia_registry_add_search_path (GliaRegistry *self, const char *dir);
void glia_registry_set_cache_file (GliaRegistry *self, const char *path);
gboolean glia_registry_scan (GliaRegistry *self, GError **error);
GList *glia_registry_get_plugins (GliaRegistry *self);
GliaPluginInfo *glia_registry_find_plugin (GliaRegistry *self, const char *name);
char **glia_registry_get_provider_names (GliaRegistry *self);
char **glia_registry_get_loader_names (GliaRegistry *self);
gint glia_registry_get_provider_rank (GliaRegistry *self, const char *name);
gboolean glia_registry_has_provider_option (GliaRegistry *self, const char *provider,
                                            const char *key);

G_END_DECLS
