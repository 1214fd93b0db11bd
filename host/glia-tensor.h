/* glia-tensor.h: a tensor the application hands to or gets from a session. */
#pragma once

#include <glia-types.h>

G_BEGIN_DECLS

#define GLIA_TYPE_TENSOR (glia_tensor_get_type ())
G_DECLARE_FINAL_TYPE (GliaTensor, glia_tensor, GLIA, TENSOR, GObject)

GliaTensor *glia_tensor_new (GliaDataType dtype, const gint64 *shape, guint rank, GBytes *data,
                             GError **error);
GliaTensor *glia_tensor_new_from_data (GliaDataType dtype, const gint64 *shape, guint rank,
                                       const guint8 *data, gsize size, GError **error);
GliaTensor *glia_tensor_new_zeros (GliaDataType dtype, const gint64 *shape, guint rank,
                                   GError **error);
GliaTensor *glia_tensor_new_from_strings (const gint64 *shape, guint rank,
                                          const char *const *strings, gsize n_strings,
                                          GError **error);
GliaTensor *glia_tensor_new_for_device (GliaDataType dtype, const gint64 *shape, guint rank,
                                        GliaDeviceType device, gint device_id, gpointer data,
                                        gsize size, GDestroyNotify free_func, gpointer free_data,
                                        GError **error);
GliaTensor *glia_tensor_new_from_npy (GBytes *npy, GError **error);
GliaTensor *glia_tensor_new_from_npy_file (const char *path, GError **error);

GliaDataType glia_tensor_get_dtype (GliaTensor *self);
guint glia_tensor_get_rank (GliaTensor *self);
const gint64 *glia_tensor_get_shape (GliaTensor *self, guint *rank);
gint64 glia_tensor_get_dim (GliaTensor *self, guint axis);
gsize glia_tensor_get_n_elements (GliaTensor *self);
GliaDeviceType glia_tensor_get_device (GliaTensor *self);
gint glia_tensor_get_device_id (GliaTensor *self);
GBytes *glia_tensor_get_data (GliaTensor *self);
gconstpointer glia_tensor_peek_data (GliaTensor *self, gsize *size);
char **glia_tensor_get_strings (GliaTensor *self);
GBytes *glia_tensor_to_npy (GliaTensor *self, GError **error);
gboolean glia_tensor_save_npy (GliaTensor *self, const char *path, GError **error);
char *glia_tensor_to_string (GliaTensor *self, guint max_elements);
gboolean glia_tensor_equal (GliaTensor *a, GliaTensor *b);

G_END_DECLS
