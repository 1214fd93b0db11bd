/* onnx-tensor.h: decoding ONNX TensorProto and SparseTensorProto messages into
 * the packed little-endian GBytes that Glia's constant tensors hold.
 *
 * Data may sit in raw_data, in one of the typed repeated fields, or in an
 * external file next to the model; sparse tensors are expanded to dense ones.
 * Raw data of top-level initializers and external data are views of mapped
 * files where their alignment allows it.
 */
#pragma once

#include <glia-graph.h>

#include "onnx-wire.h"
#include "onnx.pb-c.h"

G_BEGIN_DECLS

/* Largest rank accepted for a tensor or a value's shape. ONNX sets no limit;
 * anything near this one is a corrupt file. */
#define ONNX_MAX_RANK 64

/* Largest dense tensor a sparse one may expand to. */
#define ONNX_MAX_SPARSE_DENSE_BYTES (G_GUINT64_CONSTANT (1) << 32)

typedef struct _OnnxTensorContext OnnxTensorContext;

typedef struct
{
  GliaDataType dtype;
  guint rank;
  gint64 *dims;
  GBytes *data;
} OnnxTensor;

OnnxTensorContext *onnx_tensor_context_new (const char *model_path, GMappedFile *model_file);
void onnx_tensor_context_free (OnnxTensorContext *ctx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (OnnxTensorContext, onnx_tensor_context_free)

/* Decodes @proto into @out. @what names the tensor in error messages
 * ("initializer 'w'"). @raw_span, if not NULL and not ONNX_WIRE_SPAN_NONE,
 * says where @proto's raw_data lies in the model file (onnx_wire_strip_model()
 * took it out of @proto). May take over @proto's raw_data buffer, so @proto
 * must have been unpacked with the GLib allocator of onnx-loader.c. */
gboolean onnx_tensor_decode (OnnxTensorContext *ctx, Onnx__TensorProto *proto,
                             const OnnxWireSpan *raw_span, const char *what, OnnxTensor *out,
                             GError **error);
gboolean onnx_sparse_tensor_decode (OnnxTensorContext *ctx, Onnx__SparseTensorProto *proto,
                                    const char *what, OnnxTensor *out, GError **error);
void onnx_tensor_clear (OnnxTensor *tensor);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (OnnxTensor, onnx_tensor_clear)

/* "float32[2,3]", for messages. */
char *onnx_tensor_describe (GliaDataType dtype, guint rank, const gint64 *dims);

G_END_DECLS
