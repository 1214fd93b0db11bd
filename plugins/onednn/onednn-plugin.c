/* onednn-plugin.c: the glia-onednn plugin. Registers the oneDNN execution
 * provider and remembers where its kernels module lies; nothing else. */
#define G_LOG_DOMAIN "Glia-oneDNN"

#include "onednn-private.h"

extern const GliaProviderInfo onednn_provider_info;
extern char *onednn_plugin_dir;

static gboolean
onednn_plugin_init (GliaPlugin *plugin, GError **error)
{
  const char *path = glia_plugin_get_path (plugin);
  if (onednn_plugin_dir == NULL && path != NULL)
    onednn_plugin_dir = g_path_get_dirname (path);
  return glia_plugin_register_provider (plugin, &onednn_provider_info, error);
}

GLIA_PLUGIN_DEFINE ("onednn", "oneDNN execution provider (Intel oneDNN primitives on the CPU)",
                    "0.1.0", "LGPL-2.1-or-later", "0.1.0", onednn_plugin_init)
