/* example-plugin.c: the example custom-operator plugin. Its init registers
 * the op set of domain "org.example.glia" and does nothing else; each
 * operator is in its own file. */
#include "example-ops.h"

gboolean
example_check_dtype (const char *op, GliaDataType dtype, GError **error)
{
  if (dtype == GLIA_DATA_TYPE_FLOAT || dtype == GLIA_DATA_TYPE_DOUBLE)
    return TRUE;
  g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
               "%s: element type %s is not supported (float32 and float64 are)", op,
               glia_data_type_get_name (dtype));
  return FALSE;
}

static const GliaOpDef *const example_ops[] = {
  &example_swish_op,
  &example_rms_norm_op,
};

static gboolean
example_plugin_init (GliaPlugin *plugin, GError **error)
{
  return glia_plugin_register_op_set (plugin, EXAMPLE_DOMAIN, example_ops,
                                      G_N_ELEMENTS (example_ops), error);
}

GLIA_PLUGIN_DEFINE ("example-ops", "Example custom operators: org.example.glia Swish and RMSNorm",
                    "1.0.0", "LGPL-2.1-or-later", "0.1.0", example_plugin_init)
