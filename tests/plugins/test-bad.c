/* test-bad.c: plugins the registry must reject, one per build of this file:
 * TEST_BAD_ABI_MAJOR (built for ABI 2.x), TEST_BAD_ABI_MINOR (a newer
 * minor), TEST_BAD_MIN_HOST (needs a newer host), TEST_BAD_INIT (init
 * fails), TEST_BAD_NO_DESC (no descriptor symbol). */
#include <glia-plugin.h>

#ifdef TEST_BAD_NO_DESC
G_MODULE_EXPORT int glia_test_not_a_plugin (void);
G_MODULE_EXPORT int
glia_test_not_a_plugin (void)
{
  return 42;
}
#else

static gboolean
plugin_init (GliaPlugin *plugin, GError **error)
{
#ifdef TEST_BAD_INIT
  g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE, "deliberate failure: no such hardware");
  return FALSE;
#else
  return TRUE;
#endif
}

#if defined(TEST_BAD_ABI_MAJOR) || defined(TEST_BAD_ABI_MINOR)
G_MODULE_EXPORT const GliaPluginDesc *glia_plugin_get_desc (void);
G_MODULE_EXPORT const GliaPluginDesc *
glia_plugin_get_desc (void)
{
  static const GliaPluginDesc desc = {
#ifdef TEST_BAD_ABI_MAJOR
    GLIA_PLUGIN_ABI_MAJOR + 1,
    0,
#else
    GLIA_PLUGIN_ABI_MAJOR,
    GLIA_PLUGIN_ABI_MINOR + 7,
#endif
    "0.1.0",
    TEST_BAD_NAME,
    "a plugin the host must reject",
    "1.0",
    "LGPL-2.1-or-later",
    plugin_init,
    { NULL }
  };
  return &desc;
}
#elif defined(TEST_BAD_MIN_HOST)
GLIA_PLUGIN_DEFINE (TEST_BAD_NAME, "needs a future host", "1.0", "LGPL-2.1-or-later", "99.0.0",
                    plugin_init)
#else
GLIA_PLUGIN_DEFINE (TEST_BAD_NAME, "init fails", "1.0", "LGPL-2.1-or-later", "0.1.0", plugin_init)
#endif
#endif
