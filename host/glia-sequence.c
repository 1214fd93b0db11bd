/* glia-sequence.c: GliaSequence, an immutable list of tensors of one element
 * type (shapes may differ), as ONNX sequence values are. */
#include "glia-private.h"

struct _GliaSequence
{
  GObject parent_instance;
  GliaDataType dtype;
  GPtrArray *items;
};

/**
 * GliaSequence:
 *
 * An immutable list of tensors of one element type, whose shapes may differ:
 * the value of an ONNX sequence input or output. Pass one to
 * glia_session_run() where the model takes a sequence; runs return one for a
 * sequence output.
 */
G_DEFINE_FINAL_TYPE (GliaSequence, glia_sequence, G_TYPE_OBJECT)

static void
glia_sequence_finalize (GObject *object)
{
  GliaSequence *self = GLIA_SEQUENCE (object);
  g_ptr_array_unref (self->items);
  G_OBJECT_CLASS (glia_sequence_parent_class)->finalize (object);
}

static void
glia_sequence_class_init (GliaSequenceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = glia_sequence_finalize;
}

static void
glia_sequence_init (GliaSequence *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * glia_sequence_new:
 * @dtype: the element type every tensor has
 * @tensors: (array length=n_tensors) (nullable): the items, in order
 * @n_tensors: number of items (0 for an empty sequence)
 * @error: return location for a #GError
 *
 * Makes a sequence (an ONNX sequence value) of tensors that all have the element type @dtype;
 * their shapes may differ.
 *
 * Returns: (transfer full): a new sequence holding references to @tensors, or
 *   %NULL if a tensor's element type is not @dtype
 */
GliaSequence *
glia_sequence_new (GliaDataType dtype, GliaTensor **tensors, guint n_tensors, GError **error)
{
  if (glia_data_type_get_size (dtype) == 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "invalid sequence element type %d",
                 dtype);
    return NULL;
  }
  for (guint i = 0; i < n_tensors; i++)
    if (!GLIA_IS_TENSOR (tensors[i]) || glia_tensor_get_dtype (tensors[i]) != dtype) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "sequence item %u is not a %s tensor", i, glia_data_type_get_name (dtype));
      return NULL;
    }
  GliaSequence *self = g_object_new (GLIA_TYPE_SEQUENCE, NULL);
  self->dtype = dtype;
  for (guint i = 0; i < n_tensors; i++)
    g_ptr_array_add (self->items, g_object_ref (tensors[i]));
  return self;
}

/**
 * glia_sequence_get_dtype:
 * @self: a #GliaSequence
 *
 * Gets the element type shared by the tensors of @self.
 *
 * Returns: the element type of the items
 */
GliaDataType
glia_sequence_get_dtype (GliaSequence *self)
{
  g_return_val_if_fail (GLIA_IS_SEQUENCE (self), GLIA_DATA_TYPE_UNDEFINED);
  return self->dtype;
}

/**
 * glia_sequence_get_length:
 * @self: a #GliaSequence
 *
 * Gets the number of tensors in @self.
 *
 * Returns: the number of items
 */
guint
glia_sequence_get_length (GliaSequence *self)
{
  g_return_val_if_fail (GLIA_IS_SEQUENCE (self), 0);
  return self->items->len;
}

/**
 * glia_sequence_get_item:
 * @self: a #GliaSequence
 * @index: an item index
 *
 * Gets one tensor of @self.
 *
 * Returns: (transfer none) (nullable): item @index, %NULL if out of range
 */
GliaTensor *
glia_sequence_get_item (GliaSequence *self, guint index)
{
  g_return_val_if_fail (GLIA_IS_SEQUENCE (self), NULL);
  return index < self->items->len ? g_ptr_array_index (self->items, index) : NULL;
}
