/* cpu-plugin.c: the glia-cpu plugin. Registers the CPU execution provider and
 * nothing else; its kernels are in the cpu-*.c family files. */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

static gboolean
cpu_plugin_init (GliaPlugin *plugin, GError **error)
{
  return glia_plugin_register_provider (plugin, &cpu_provider_info, error);
}

GLIA_PLUGIN_DEFINE ("cpu", "CPU execution provider (reference kernels, OpenBLAS GEMM)", "0.1.0",
                    "LGPL-2.1-or-later", "0.1.0", cpu_plugin_init)
