/* onnx-plugin.c: the ONNX plugin registers its model loader, nothing else. */
#include <glia-plugin.h>

#include "onnx-loader.h"

static const char *const onnx_extensions[] = { "onnx", NULL };

static const GliaLoaderInfo onnx_loader_info = {
  .struct_size = sizeof (GliaLoaderInfo),
  .name = "onnx",
  .description = "ONNX models (protobuf ModelProto, IR versions 3 to 9)",
  .extensions = onnx_extensions,
  .probe = onnx_loader_probe,
  .load = onnx_loader_load,
};

static gboolean
onnx_plugin_init (GliaPlugin *plugin, GError **error)
{
  return glia_plugin_register_loader (plugin, &onnx_loader_info, error);
}

GLIA_PLUGIN_DEFINE ("onnx", "ONNX model loader", "0.1.0", "LGPL-2.1-or-later", "0.1.0",
                    onnx_plugin_init)
