/* test-old-minor-newer.c: the other side of the old-minor test: a plugin
 * that claims the minor just after the host's (GLIA_PLUGIN_ABI_MINOR + 1,
 * compiled against plugin-api/). The host must refuse it; test-bad-abi-minor
 * covers a minor far ahead, this one the boundary. */
#include <glia-plugin.h>

static gboolean
plugin_init (GliaPlugin *plugin, GError **error)
{
  return TRUE;
}

G_MODULE_EXPORT const GliaPluginDesc *glia_plugin_get_desc (void);
G_MODULE_EXPORT const GliaPluginDesc *
glia_plugin_get_desc (void)
{
  static const GliaPluginDesc desc = {
    GLIA_PLUGIN_ABI_MAJOR,
    GLIA_PLUGIN_ABI_MINOR + 1,
    "0.1.0",
    "test-old-minor-newer",
    "claims the minor after the host's",
    "1.0",
    "LGPL-2.1-or-later",
    plugin_init,
    { NULL },
  };
  return &desc;
}
