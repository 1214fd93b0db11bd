/* onnx-loader.h: the ONNX loader's entry points and what its parts share.
 *
 * onnx-loader.c reads the file and the ModelProto-level fields; onnx-graph.c
 * turns GraphProtos into GliaGraphs; onnx-tensor.c decodes tensors;
 * onnx-wire.c checks the wire format before protobuf-c parses it.
 */
#pragma once

#include <glia-loader.h>

#include "onnx-tensor.h"

G_BEGIN_DECLS

/* IR versions read: 3 (ONNX 1.0) to 9 (ONNX 1.14). */
#define ONNX_MIN_IR_VERSION 3
#define ONNX_MAX_IR_VERSION 9

guint onnx_loader_probe (const char *path, const guint8 *head, gsize head_len);
GliaGraph *onnx_loader_load (const char *path, GError **error);

/* State of one load, shared by the graph builder. */
typedef struct
{
  const char *path;
  gint64 ir_version;
  /* Imported operator sets: domain ("" for ai.onnx) -> GINT_TO_POINTER (version). */
  GHashTable *opsets;
  OnnxTensorContext *tensors;
  /* OnnxWireSpan of each top-level initializer's raw_data, in file order. */
  GArray *initializer_raw_data;
} OnnxLoad;

/* Sets a GLIA_ERROR whose message starts with "@path: ". */
void onnx_set_error (GError **error, GliaError code, const char *path, const char *format, ...)
    G_GNUC_PRINTF (4, 5);

/* "" for the default domain, which files may also spell "ai.onnx". */
const char *onnx_normalize_domain (const char *domain);

G_END_DECLS
