/* onnx-wire.h: a bounds-checked walk over the protobuf wire format of an ONNX
 * file, done before protobuf-c sees it.
 *
 * It serves three purposes: scoring a file's first bytes for probe(); refusing
 * input that would make protobuf-c's unpacker recurse without limit (it has no
 * depth limit of its own); and taking the raw_data of the top-level
 * initializers out of what protobuf-c unpacks, so that the loader can hand out
 * views of the mapped file instead of copies of the weights.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Deepest nesting of messages accepted. A subgraph costs three levels
 * (GraphProto > NodeProto > AttributeProto > GraphProto), so this allows
 * about twenty levels of nested control flow. */
#define ONNX_WIRE_MAX_DEPTH 64

/* Where a bytes field's payload lies in the file. */
typedef struct
{
  gsize offset;
  gsize length;
} OnnxWireSpan;

#define ONNX_WIRE_SPAN_NONE G_MAXSIZE

guint onnx_wire_probe (const guint8 *head, gsize head_len);

/* Checks the ModelProto in @data and returns a copy of it without the
 * raw_data of the main graph's initializers, for protobuf-c to unpack.
 * @initializer_raw_data receives an OnnxWireSpan per initializer of the main
 * graph, in file order (offset ONNX_WIRE_SPAN_NONE where it has no raw_data). */
GBytes *onnx_wire_strip_model (const guint8 *data, gsize len, GArray *initializer_raw_data,
                               GError **error);

G_END_DECLS
