/* glia-tensor.c: GliaTensor, the application-facing tensor.
 *
 * A tensor is immutable once made: dtype, shape and host data in a GBytes
 * (zero-copy from whatever the caller had). String tensors keep their
 * elements as NUL-terminated UTF-8 strings back to back in the GBytes, as
 * graph constants do; kernels see them as an array of `char *`.
 */
#include "glia-private.h"

#include <math.h>
#include <string.h>

struct _GliaTensor
{
  GObject parent_instance;
  GliaDataType dtype;
  guint rank;
  gint64 shape[GLIA_MAX_RANK];
  gsize n_elements;
  GBytes *data;   /* host tensors */
  char **strings; /* string tensors: pointers into data, NULL-terminated */
  /* device tensors: memory owned through free_func */
  GliaDeviceType device;
  gint device_id;
  gpointer device_data;
  gsize device_size;
  GDestroyNotify device_free;
  gpointer device_free_data;
};

/**
 * GliaTensor:
 *
 * An n-dimensional array of one element type (#GliaDataType), in host
 * memory or, when made with glia_tensor_new_for_device(), in a device's
 * memory. Tensors are what a #GliaSession takes as inputs and returns as
 * outputs. A tensor never changes once made, so one may be shared between
 * threads and runs.
 *
 * Make one from bytes (glia_tensor_new(), glia_tensor_new_from_data()), from
 * strings, as zeros, or from NumPy's .npy format
 * (glia_tensor_new_from_npy_file()); read it back with glia_tensor_get_data(),
 * glia_tensor_get_strings() or glia_tensor_save_npy().
 */
G_DEFINE_FINAL_TYPE (GliaTensor, glia_tensor, G_TYPE_OBJECT)

static void
glia_tensor_finalize (GObject *object)
{
  GliaTensor *self = GLIA_TENSOR (object);
  g_clear_pointer (&self->data, g_bytes_unref);
  g_free (self->strings);
  if (self->device_free)
    self->device_free (self->device_free_data);
  G_OBJECT_CLASS (glia_tensor_parent_class)->finalize (object);
}

static void
glia_tensor_class_init (GliaTensorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = glia_tensor_finalize;
}

static void
glia_tensor_init (GliaTensor *self)
{
}

static gboolean
check_shape (GliaDataType dtype, const gint64 *shape, guint rank, gsize *n_elements, gsize *n_bytes,
             GError **error)
{
  if (glia_data_type_get_size (dtype) == 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "invalid tensor data type %d",
                 dtype);
    return FALSE;
  }
  if (rank > GLIA_MAX_RANK) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "tensor rank %u exceeds the maximum of %d", rank, GLIA_MAX_RANK);
    return FALSE;
  }
  gsize n = 1;
  for (guint i = 0; i < rank; i++) {
    if (shape[i] < 0 || !g_size_checked_mul (&n, n, (gsize)shape[i])) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "tensor dimension %u is invalid (%" G_GINT64_FORMAT ")", i, shape[i]);
      return FALSE;
    }
  }
  *n_elements = n;
  if (dtype != GLIA_DATA_TYPE_STRING
      && !g_size_checked_mul (n_bytes, n, glia_data_type_get_size (dtype))) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "tensor size overflows");
    return FALSE;
  }
  return TRUE;
}

static GliaTensor *
tensor_alloc (GliaDataType dtype, const gint64 *shape, guint rank, gsize n)
{
  GliaTensor *self = g_object_new (GLIA_TYPE_TENSOR, NULL);
  self->dtype = dtype;
  self->rank = rank;
  if (rank)
    memcpy (self->shape, shape, rank * sizeof (gint64));
  self->n_elements = n;
  return self;
}

/* Indexes the strings of a string tensor; FALSE if the data does not hold
 * exactly n_elements NUL-terminated strings. */
static gboolean
index_strings (GliaTensor *self, GError **error)
{
  gsize size;
  const char *p = g_bytes_get_data (self->data, &size);
  self->strings = g_new0 (char *, self->n_elements + 1);
  gsize k = 0, start = 0;
  for (gsize i = 0; i < size; i++)
    if (p[i] == '\0') {
      if (k == self->n_elements)
        break;
      self->strings[k++] = (char *)p + start;
      start = i + 1;
    }
  if (k != self->n_elements || start != size) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "string tensor data holds %" G_GSIZE_FORMAT
                 " complete strings, its shape needs %" G_GSIZE_FORMAT,
                 k, self->n_elements);
    return FALSE;
  }
  return TRUE;
}

/**
 * glia_tensor_new:
 * @dtype: element type
 * @shape: (array length=rank): dimensions
 * @rank: number of dimensions (0 for a scalar)
 * @data: the elements, row-major, little-endian; for %GLIA_DATA_TYPE_STRING,
 *   NUL-terminated UTF-8 strings back to back
 * @error: return location for a #GError
 *
 * Makes a tensor over @data without copying it.
 *
 * Returns: (transfer full): a new tensor, or %NULL if @data does not match
 *   @dtype and @shape
 */
GliaTensor *
glia_tensor_new (GliaDataType dtype, const gint64 *shape, guint rank, GBytes *data, GError **error)
{
  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (rank == 0 || shape != NULL, NULL);
  gsize n, nbytes = 0;
  if (!check_shape (dtype, shape, rank, &n, &nbytes, error))
    return NULL;
  if (dtype != GLIA_DATA_TYPE_STRING && g_bytes_get_size (data) != nbytes) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "tensor data has %" G_GSIZE_FORMAT " bytes; %" G_GSIZE_FORMAT
                 " %s elements need %" G_GSIZE_FORMAT,
                 g_bytes_get_size (data), n, glia_data_type_get_name (dtype), nbytes);
    return NULL;
  }
  GliaTensor *self = tensor_alloc (dtype, shape, rank, n);
  self->data = g_bytes_ref (data);
  if (dtype == GLIA_DATA_TYPE_STRING && !index_strings (self, error)) {
    g_object_unref (self);
    return NULL;
  }
  return self;
}

/**
 * glia_tensor_new_from_data:
 * @dtype: element type
 * @shape: (array length=rank): dimensions
 * @rank: number of dimensions
 * @data: (array length=size): the elements (copied)
 * @size: bytes in @data
 * @error: return location for a #GError
 *
 * Makes a tensor from a copy of @size bytes at @data, laid out as for glia_tensor_new(). Bindings
 * use it to pass a buffer (a Python bytes object, a GJS Uint8Array) as a tensor.
 *
 * Returns: (transfer full): a new tensor holding a copy of @data, or %NULL on error
 */
GliaTensor *
glia_tensor_new_from_data (GliaDataType dtype, const gint64 *shape, guint rank, const guint8 *data,
                           gsize size, GError **error)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  return glia_tensor_new (dtype, shape, rank, bytes, error);
}

/**
 * glia_tensor_new_zeros:
 * @dtype: element type (not string)
 * @shape: (array length=rank): dimensions
 * @rank: number of dimensions
 * @error: return location for a #GError
 *
 * Makes a host tensor of the given type and shape with every element zero, for example to feed a
 * state input on the first step of a recurrent model.
 *
 * Returns: (transfer full): a new tensor filled with zeros, or %NULL on error
 */
GliaTensor *
glia_tensor_new_zeros (GliaDataType dtype, const gint64 *shape, guint rank, GError **error)
{
  gsize n, nbytes = 0;
  if (dtype == GLIA_DATA_TYPE_STRING) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "string tensors have no zeros; use glia_tensor_new_from_strings()");
    return NULL;
  }
  if (!check_shape (dtype, shape, rank, &n, &nbytes, error))
    return NULL;
  return glia_tensor_new_take (dtype, shape, rank, g_malloc0 (MAX (nbytes, 1)), nbytes);
}

/**
 * glia_tensor_new_from_strings:
 * @shape: (array length=rank): dimensions
 * @rank: number of dimensions
 * @strings: (array length=n_strings): UTF-8 strings, row-major
 * @n_strings: number of strings; must equal the product of @shape
 * @error: return location for a #GError
 *
 * Makes a tensor of %GLIA_DATA_TYPE_STRING from @strings, which are copied.
 *
 * Returns: (transfer full): a new string tensor, or %NULL on error
 */
GliaTensor *
glia_tensor_new_from_strings (const gint64 *shape, guint rank, const char *const *strings,
                              gsize n_strings, GError **error)
{
  gsize n, nbytes;
  if (!check_shape (GLIA_DATA_TYPE_STRING, shape, rank, &n, &nbytes, error))
    return NULL;
  if (n != n_strings) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%" G_GSIZE_FORMAT " strings given, the shape needs %" G_GSIZE_FORMAT, n_strings,
                 n);
    return NULL;
  }
  GString *buf = g_string_new (NULL);
  for (gsize i = 0; i < n; i++)
    g_string_append_len (buf, strings[i], strlen (strings[i]) + 1);
  g_autoptr (GBytes) bytes = g_string_free_to_bytes (buf);
  return glia_tensor_new (GLIA_DATA_TYPE_STRING, shape, rank, bytes, error);
}

/**
 * glia_tensor_new_for_device: (skip)
 * @dtype: element type (not string)
 * @shape: (array length=rank): dimensions
 * @rank: number of dimensions
 * @device: where @data lives (not %GLIA_DEVICE_TYPE_CPU)
 * @device_id: device ordinal
 * @data: device memory holding the elements, row-major
 * @size: bytes at @data
 * @free_func: (nullable): called with @free_data when the tensor is finalized
 * @free_data: data for @free_func
 * @error: return location for a #GError
 *
 * Wraps device memory, for feeding a session input that already lives on a
 * device. The host reads it through the data-transfer hook of a session
 * provider on that device.
 *
 * Returns: (transfer full): a new tensor, or %NULL if the arguments disagree
 */
GliaTensor *
glia_tensor_new_for_device (GliaDataType dtype, const gint64 *shape, guint rank,
                            GliaDeviceType device, gint device_id, gpointer data, gsize size,
                            GDestroyNotify free_func, gpointer free_data, GError **error)
{
  gsize n, nbytes = 0;
  if (dtype == GLIA_DATA_TYPE_STRING || device == GLIA_DEVICE_TYPE_CPU
      || (guint)device > GLIA_DEVICE_TYPE_OTHER) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "device tensors hold numbers on a device other than the CPU");
    return NULL;
  }
  if (!check_shape (dtype, shape, rank, &n, &nbytes, error))
    return NULL;
  if (size != nbytes) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "device buffer has %" G_GSIZE_FORMAT " bytes; the tensor needs %" G_GSIZE_FORMAT,
                 size, nbytes);
    return NULL;
  }
  GliaTensor *self = tensor_alloc (dtype, shape, rank, n);
  self->device = device;
  self->device_id = device_id;
  self->device_data = data;
  self->device_size = size;
  self->device_free = free_func;
  self->device_free_data = free_data;
  return self;
}

/**
 * glia_tensor_get_device:
 * @self: a #GliaTensor
 *
 * Gets the kind of device whose memory holds the elements of @self. Session outputs are always in
 * host memory; device tensors come only from glia_tensor_new_for_device().
 *
 * Returns: where the tensor's elements live
 */
GliaDeviceType
glia_tensor_get_device (GliaTensor *self)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), GLIA_DEVICE_TYPE_CPU);
  return self->device;
}

/**
 * glia_tensor_get_device_id:
 * @self: a #GliaTensor
 *
 * Gets which device of its kind holds the elements of @self.
 *
 * Returns: the device ordinal (0 for host tensors)
 */
gint
glia_tensor_get_device_id (GliaTensor *self)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), 0);
  return self->device_id;
}

GliaTensor *
glia_tensor_new_take (GliaDataType dtype, const gint64 *shape, guint rank, gpointer data,
                      gsize size)
{
  gsize n = 1;
  for (guint i = 0; i < rank; i++)
    n *= (gsize)shape[i];
  GliaTensor *self = tensor_alloc (dtype, shape, rank, n);
  self->data = g_bytes_new_take (data, size);
  return self;
}

GliaTensor *
glia_tensor_new_from_view (const GliaTensorView *view)
{
  if (view->dtype == GLIA_DATA_TYPE_STRING) {
    g_autoptr (GError) error = NULL;
    char **s = view->data;
    GliaTensor *t = glia_tensor_new_from_strings (view->dims, view->rank, (const char *const *)s,
                                                  view->n_elements, &error);
    g_assert_no_error (error);
    return t;
  }
  return glia_tensor_new_take (view->dtype, view->dims, view->rank,
                               g_memdup2 (view->data, view->n_bytes), view->n_bytes);
}

void
glia_tensor_fill_view (GliaTensor *self, GliaTensorView *view)
{
  memset (view, 0, sizeof *view);
  view->dtype = self->dtype;
  view->rank = self->rank;
  memcpy (view->dims, self->shape, sizeof self->shape);
  view->n_elements = self->n_elements;
  view->device = self->device;
  if (self->device != GLIA_DEVICE_TYPE_CPU) {
    view->data = self->device_data;
    view->n_bytes = self->device_size;
  } else if (self->dtype == GLIA_DATA_TYPE_STRING) {
    view->data = self->strings;
    view->n_bytes = self->n_elements * sizeof (char *);
  } else
    view->data = (gpointer)g_bytes_get_data (self->data, &view->n_bytes);
}

/**
 * glia_tensor_get_dtype:
 * @self: a #GliaTensor
 *
 * Gets the element type of @self.
 *
 * Returns: the element type
 */
GliaDataType
glia_tensor_get_dtype (GliaTensor *self)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), GLIA_DATA_TYPE_UNDEFINED);
  return self->dtype;
}

/**
 * glia_tensor_get_rank:
 * @self: a #GliaTensor
 *
 * Gets the number of dimensions of @self; a scalar has rank 0.
 *
 * Returns: the number of dimensions
 */
guint
glia_tensor_get_rank (GliaTensor *self)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), 0);
  return self->rank;
}

/**
 * glia_tensor_get_shape:
 * @self: a #GliaTensor
 * @rank: (out): number of dimensions
 *
 * Gets the dimensions of @self, outermost first.
 *
 * Returns: (transfer none) (array length=rank): the dimensions
 */
const gint64 *
glia_tensor_get_shape (GliaTensor *self, guint *rank)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), NULL);
  if (rank)
    *rank = self->rank;
  return self->shape;
}

/**
 * glia_tensor_get_dim:
 * @self: a #GliaTensor
 * @axis: a dimension index
 *
 * Gets the size of one dimension of @self.
 *
 * Returns: dimension @axis, or -1 if @axis is out of range
 */
gint64
glia_tensor_get_dim (GliaTensor *self, guint axis)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), -1);
  return axis < self->rank ? self->shape[axis] : -1;
}

/**
 * glia_tensor_get_n_elements:
 * @self: a #GliaTensor
 *
 * Gets the number of elements of @self: the product of its dimensions, 1 for a scalar.
 *
 * Returns: the number of elements
 */
gsize
glia_tensor_get_n_elements (GliaTensor *self)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), 0);
  return self->n_elements;
}

/**
 * glia_tensor_get_data:
 * @self: a #GliaTensor
 *
 * Gets the elements of @self as bytes, without copying them. For a string tensor these are the
 * NUL-terminated strings back to back; use glia_tensor_get_strings() instead.
 *
 * Returns: (transfer full) (nullable): the elements (row-major,
 *   little-endian), or %NULL for a tensor in device memory
 */
GBytes *
glia_tensor_get_data (GliaTensor *self)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), NULL);
  return self->data ? g_bytes_ref (self->data) : NULL;
}

/**
 * glia_tensor_peek_data: (skip)
 * @self: a #GliaTensor
 * @size: (out) (optional): bytes of data
 *
 * Gets a pointer to the elements of @self in host memory, without copying or taking a reference:
 * the fast path for C callers.
 *
 * Returns: (nullable): the elements, valid as long as @self; %NULL for a
 *   tensor in device memory
 */
gconstpointer
glia_tensor_peek_data (GliaTensor *self, gsize *size)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), NULL);
  if (self->data == NULL) {
    if (size)
      *size = 0;
    return NULL;
  }
  return g_bytes_get_data (self->data, size);
}

/**
 * glia_tensor_get_strings:
 * @self: a #GliaTensor of type %GLIA_DATA_TYPE_STRING
 *
 * Gets a copy of the elements of a string tensor, row-major.
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the strings,
 *   or %NULL if @self is not a string tensor
 */
char **
glia_tensor_get_strings (GliaTensor *self)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), NULL);
  if (self->dtype != GLIA_DATA_TYPE_STRING)
    return NULL;
  return g_strdupv (self->strings);
}

static double
element_as_double (GliaDataType dtype, const guint8 *p, gsize i)
{
  switch (dtype) {
  case GLIA_DATA_TYPE_FLOAT:
    return ((const float *)p)[i];
  case GLIA_DATA_TYPE_DOUBLE:
    return ((const double *)p)[i];
  case GLIA_DATA_TYPE_UINT8:
  case GLIA_DATA_TYPE_BOOL:
    return p[i];
  case GLIA_DATA_TYPE_INT8:
    return ((const gint8 *)p)[i];
  case GLIA_DATA_TYPE_UINT16:
    return ((const guint16 *)p)[i];
  case GLIA_DATA_TYPE_INT16:
    return ((const gint16 *)p)[i];
  case GLIA_DATA_TYPE_INT32:
    return ((const gint32 *)p)[i];
  case GLIA_DATA_TYPE_INT64:
    return (double)((const gint64 *)p)[i];
  case GLIA_DATA_TYPE_UINT32:
    return ((const guint32 *)p)[i];
  case GLIA_DATA_TYPE_UINT64:
    return (double)((const guint64 *)p)[i];
  case GLIA_DATA_TYPE_BFLOAT16: {
    guint32 bits = (guint32)((const guint16 *)p)[i] << 16;
    float f;
    memcpy (&f, &bits, 4);
    return f;
  }
  case GLIA_DATA_TYPE_FLOAT16: {
    guint16 h = ((const guint16 *)p)[i];
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp (m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp (m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
  }
  default:
    return NAN;
  }
}

/**
 * glia_tensor_to_string:
 * @self: a #GliaTensor
 * @max_elements: how many elements to show at most
 *
 * Formats @self for people, as `glia run` prints outputs: `float32[2,3] {0.5, 1, 1.5, ...}`; a
 * tensor in device memory shows where it lives instead of its elements (`float32[4] on cuda:0`).
 *
 * Returns: (transfer full): a one-line summary: dtype, shape and the first elements
 */
char *
glia_tensor_to_string (GliaTensor *self, guint max_elements)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), NULL);
  GString *s = g_string_new (glia_data_type_get_name (self->dtype));
  g_string_append_c (s, '[');
  for (guint i = 0; i < self->rank; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "", self->shape[i]);
  g_string_append (s, "]");
  if (self->data == NULL) {
    g_string_append_printf (s, " on %s:%d", glia_device_type_get_name (self->device),
                            self->device_id);
    return g_string_free (s, FALSE);
  }
  g_string_append (s, " {");
  const guint8 *p = g_bytes_get_data (self->data, NULL);
  gsize n = MIN (self->n_elements, max_elements);
  for (gsize i = 0; i < n; i++) {
    if (i)
      g_string_append (s, ", ");
    if (self->dtype == GLIA_DATA_TYPE_STRING)
      g_string_append_printf (s, "\"%s\"", self->strings[i]);
    else if (self->dtype == GLIA_DATA_TYPE_COMPLEX64 || self->dtype == GLIA_DATA_TYPE_COMPLEX128) {
      GliaDataType part
          = self->dtype == GLIA_DATA_TYPE_COMPLEX64 ? GLIA_DATA_TYPE_FLOAT : GLIA_DATA_TYPE_DOUBLE;
      g_string_append_printf (s, "%g%+gj", element_as_double (part, p, 2 * i),
                              element_as_double (part, p, 2 * i + 1));
    } else if (self->dtype == GLIA_DATA_TYPE_BOOL)
      g_string_append (s, p[i] ? "true" : "false");
    else
      g_string_append_printf (s, "%.6g", element_as_double (self->dtype, p, i));
  }
  if (self->n_elements > n)
    g_string_append (s, ", ...");
  g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}

/**
 * glia_tensor_equal:
 * @a: a #GliaTensor
 * @b: another #GliaTensor
 *
 * Compares two tensors exactly, byte for byte: use it for integer and string tensors, or to check
 * that a result did not change; compare floats with a tolerance instead. Tensors in device memory
 * are equal only when they wrap the same memory.
 *
 * Returns: whether @a and @b have the same dtype, shape and bytes
 */
gboolean
glia_tensor_equal (GliaTensor *a, GliaTensor *b)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (a) && GLIA_IS_TENSOR (b), FALSE);
  if (a->dtype != b->dtype || a->rank != b->rank
      || memcmp (a->shape, b->shape, a->rank * sizeof (gint64)) != 0)
    return FALSE;
  if (a->data == NULL || b->data == NULL)
    return a->device_data == b->device_data && a->device == b->device;
  return g_bytes_equal (a->data, b->data);
}
