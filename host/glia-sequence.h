/* glia-sequence.h: a sequence of tensors, for models with sequence inputs or
 * outputs (ONNX sequence types). */
#pragma once

#include "glia-tensor.h"

G_BEGIN_DECLS

#define GLIA_TYPE_SEQUENCE (glia_sequence_get_type ())
G_DECLARE_FINAL_TYPE (GliaSequence, glia_sequence, GLIA, SEQUENCE, GObject)

GliaSequence *glia_sequence_new (GliaDataType dtype, GliaTensor **tensors, guint n_tensors,
                                 GError **error);
GliaDataType glia_sequence_get_dtype (GliaSequence *self);
guint glia_sequence_get_length (GliaSequence *self);
GliaTensor *glia_sequence_get_item (GliaSequence *self, guint index);

G_END_DECLS
