/* onnx-graph.h: building a GliaGraph from an ONNX GraphProto, subgraphs
 * included. */
#pragma once

#include "onnx-loader.h"

G_BEGIN_DECLS

GliaGraph *onnx_graph_build (OnnxLoad *load, Onnx__GraphProto *proto, GError **error);

G_END_DECLS
