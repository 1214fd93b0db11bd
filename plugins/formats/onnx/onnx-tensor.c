/* onnx-tensor.c: TensorProto and SparseTensorProto decoding (see onnx-tensor.h).
 *
 * Every size in a tensor comes from the file, so element counts and byte sizes
 * are computed with overflow checks and compared with the data actually
 * present before anything is allocated from them.
 */
#include "onnx-tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "onnx-loader.h"

struct _OnnxTensorContext
{
  char *model_path;
  char *model_dir;
  GMappedFile *model_file;
  int model_fd; /* for reading unaligned raw_data; -1 until opened, -2 when that failed */
  GHashTable *external_files; /* full path -> GMappedFile */
};

OnnxTensorContext *
onnx_tensor_context_new (const char *model_path, GMappedFile *model_file)
{
  OnnxTensorContext *ctx = g_new0 (OnnxTensorContext, 1);

  ctx->model_path = g_strdup (model_path);
  ctx->model_dir = g_path_get_dirname (model_path);
  ctx->model_file = g_mapped_file_ref (model_file);
  ctx->model_fd = -1;
  ctx->external_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify)g_mapped_file_unref);
  return ctx;
}

void
onnx_tensor_context_free (OnnxTensorContext *ctx)
{
  if (ctx == NULL)
    return;
  g_hash_table_unref (ctx->external_files);
  g_mapped_file_unref (ctx->model_file);
  if (ctx->model_fd >= 0)
    close (ctx->model_fd);
  g_free (ctx->model_dir);
  g_free (ctx->model_path);
  g_free (ctx);
}

void
onnx_tensor_clear (OnnxTensor *tensor)
{
  g_clear_pointer (&tensor->dims, g_free);
  g_clear_pointer (&tensor->data, g_bytes_unref);
  tensor->rank = 0;
  tensor->dtype = GLIA_DATA_TYPE_UNDEFINED;
}

char *
onnx_tensor_describe (GliaDataType dtype, guint rank, const gint64 *dims)
{
  GString *s = g_string_new (glia_data_type_get_name (dtype));

  g_string_append_c (s, '[');
  for (guint i = 0; i < rank; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "", dims[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
is_complex (GliaDataType dtype)
{
  return dtype == GLIA_DATA_TYPE_COMPLEX64 || dtype == GLIA_DATA_TYPE_COMPLEX128;
}

/* The alignment a view of the data must have: the size of one scalar. */
static gsize
data_alignment (GliaDataType dtype)
{
  gsize size = glia_data_type_get_size (dtype);
  return is_complex (dtype) ? size / 2 : size;
}

static GBytes *
empty_bytes (void)
{
  return g_bytes_new (NULL, 0);
}

/* A GBytes viewing @length bytes of @file at @offset, keeping @file mapped. */
static GBytes *
mapped_view (GMappedFile *file, gsize offset, gsize length)
{
  const char *contents = g_mapped_file_get_contents (file);

  return g_bytes_new_with_free_func (contents + offset, length, (GDestroyNotify)g_mapped_file_unref,
                                     g_mapped_file_ref (file));
}

static gboolean
check_dims (OnnxTensorContext *ctx, const char *what, const int64_t *dims, gsize n_dims,
            guint64 *count, GError **error)
{
  guint64 c = 1;

  if (n_dims > ONNX_MAX_RANK) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s has rank %" G_GSIZE_FORMAT ", more than the %d Glia accepts", what, n_dims,
                    ONNX_MAX_RANK);
    return FALSE;
  }
  for (gsize i = 0; i < n_dims; i++) {
    if (dims[i] < 0) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                      "%s has negative dimension %" G_GINT64_FORMAT " at axis %" G_GSIZE_FORMAT,
                      what, (gint64)dims[i], i);
      return FALSE;
    }
    if (!g_uint64_checked_mul (&c, c, (guint64)dims[i])) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                      "%s has more elements than can be counted", what);
      return FALSE;
    }
  }
  *count = c;
  return TRUE;
}

/* Byte size of @count elements of @dtype, checked against overflow. */
static gboolean
check_byte_size (OnnxTensorContext *ctx, const char *what, GliaDataType dtype, guint64 count,
                 gsize *n_bytes, GError **error)
{
  guint64 bytes;

  if (!g_uint64_checked_mul (&bytes, count, glia_data_type_get_size (dtype)) || bytes > G_MAXSIZE) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s is too large to address (%" G_GUINT64_FORMAT " elements)", what, count);
    return FALSE;
  }
  *n_bytes = (gsize)bytes;
  return TRUE;
}

static gboolean
check_value_count (OnnxTensorContext *ctx, const char *what, GliaDataType dtype, const char *field,
                   gsize have, guint64 count, gboolean pairs, GError **error)
{
  guint64 need = count;

  if (pairs && !g_uint64_checked_mul (&need, count, 2))
    need = G_MAXUINT64;
  if (have != need) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s is a %s tensor of %" G_GUINT64_FORMAT
                    " elements, but its %s has %" G_GSIZE_FORMAT
                    " values (expected %" G_GUINT64_FORMAT ")",
                    what, glia_data_type_get_name (dtype), count, field, have, need);
    return FALSE;
  }
  return TRUE;
}

/* Values kept in int32_data for types narrower than 32 bits: ONNX writers
 * store 16-bit floats as their bit pattern and small integers as themselves,
 * so accept both the signed and the unsigned reading of the width. */
static gboolean
narrow_int32_value (OnnxTensorContext *ctx, const char *what, GliaDataType dtype, gsize index,
                    gint32 v, guint32 *out, GError **error)
{
  gint64 lo, hi;

  switch (glia_data_type_get_size (dtype)) {
  case 1:
    lo = G_MININT8;
    hi = G_MAXUINT8;
    break;
  case 2:
    lo = G_MININT16;
    hi = G_MAXUINT16;
    break;
  default:
    *out = (guint32)v;
    return TRUE;
  }
  if (dtype == GLIA_DATA_TYPE_BOOL) {
    *out = v != 0;
    return TRUE;
  }
  if (v < lo || v > hi) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: int32_data value %d at index %" G_GSIZE_FORMAT " does not fit %s", what, v,
                    index, glia_data_type_get_name (dtype));
    return FALSE;
  }
  *out = (guint32)v;
  return TRUE;
}

static GBytes *
decode_strings (OnnxTensorContext *ctx, Onnx__TensorProto *proto, const char *what, guint64 count,
                GError **error)
{
  gsize total = 0;

  if (!check_value_count (ctx, what, GLIA_DATA_TYPE_STRING, "string_data", proto->n_string_data,
                          count, FALSE, error))
    return NULL;
  for (gsize i = 0; i < proto->n_string_data; i++) {
    const ProtobufCBinaryData *s = &proto->string_data[i];
    if (s->len > 0 && memchr (s->data, '\0', s->len) != NULL) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                      "%s: string %" G_GSIZE_FORMAT " contains a NUL byte, which Glia's "
                      "string tensors cannot hold",
                      what, i);
      return NULL;
    }
    /* Each string is at most the file's size, and there are fewer strings
     * than bytes in the file, so this cannot overflow. */
    total += s->len + 1;
  }

  char *buf = g_malloc (total ? total : 1), *p = buf;
  for (gsize i = 0; i < proto->n_string_data; i++) {
    const ProtobufCBinaryData *s = &proto->string_data[i];
    if (s->len > 0)
      memcpy (p, s->data, s->len);
    p += s->len;
    *p++ = '\0';
  }
  return g_bytes_new_take (buf, total);
}

/* Converts the typed repeated field that @dtype uses into packed
 * little-endian elements. */
static GBytes *
decode_typed_fields (OnnxTensorContext *ctx, Onnx__TensorProto *proto, GliaDataType dtype,
                     const char *what, guint64 count, gsize n_bytes, GError **error)
{
  gsize esize = glia_data_type_get_size (dtype);
  gboolean pairs = is_complex (dtype);

  switch (dtype) {
  case GLIA_DATA_TYPE_FLOAT:
  case GLIA_DATA_TYPE_COMPLEX64: {
    if (!check_value_count (ctx, what, dtype, "float_data", proto->n_float_data, count, pairs,
                            error))
      return NULL;
    guint32 *out = g_malloc (n_bytes);
    for (gsize i = 0; i < proto->n_float_data; i++) {
      guint32 bits;
      memcpy (&bits, &proto->float_data[i], sizeof bits);
      out[i] = GUINT32_TO_LE (bits);
    }
    return g_bytes_new_take (out, n_bytes);
  }
  case GLIA_DATA_TYPE_DOUBLE:
  case GLIA_DATA_TYPE_COMPLEX128: {
    if (!check_value_count (ctx, what, dtype, "double_data", proto->n_double_data, count, pairs,
                            error))
      return NULL;
    guint64 *out = g_malloc (n_bytes);
    for (gsize i = 0; i < proto->n_double_data; i++) {
      guint64 bits;
      memcpy (&bits, &proto->double_data[i], sizeof bits);
      out[i] = GUINT64_TO_LE (bits);
    }
    return g_bytes_new_take (out, n_bytes);
  }
  case GLIA_DATA_TYPE_INT64: {
    if (!check_value_count (ctx, what, dtype, "int64_data", proto->n_int64_data, count, FALSE,
                            error))
      return NULL;
    gint64 *out = g_malloc (n_bytes);
    for (gsize i = 0; i < proto->n_int64_data; i++)
      out[i] = GINT64_TO_LE (proto->int64_data[i]);
    return g_bytes_new_take (out, n_bytes);
  }
  case GLIA_DATA_TYPE_UINT32:
  case GLIA_DATA_TYPE_UINT64: {
    if (!check_value_count (ctx, what, dtype, "uint64_data", proto->n_uint64_data, count, FALSE,
                            error))
      return NULL;
    guint8 *out = g_malloc (n_bytes);
    for (gsize i = 0; i < proto->n_uint64_data; i++) {
      guint64 v = proto->uint64_data[i];
      if (esize == 4) {
        if (v > G_MAXUINT32) {
          g_free (out);
          onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                          "%s: uint64_data value %" G_GUINT64_FORMAT " at index %" G_GSIZE_FORMAT
                          " does not fit uint32",
                          what, v, i);
          return NULL;
        }
        guint32 le = GUINT32_TO_LE ((guint32)v);
        memcpy (out + i * 4, &le, 4);
      } else {
        guint64 le = GUINT64_TO_LE (v);
        memcpy (out + i * 8, &le, 8);
      }
    }
    return g_bytes_new_take (out, n_bytes);
  }
  case GLIA_DATA_TYPE_INT32:
  case GLIA_DATA_TYPE_INT16:
  case GLIA_DATA_TYPE_UINT16:
  case GLIA_DATA_TYPE_FLOAT16:
  case GLIA_DATA_TYPE_BFLOAT16:
  case GLIA_DATA_TYPE_INT8:
  case GLIA_DATA_TYPE_UINT8:
  case GLIA_DATA_TYPE_BOOL: {
    if (!check_value_count (ctx, what, dtype, "int32_data", proto->n_int32_data, count, FALSE,
                            error))
      return NULL;
    guint8 *out = g_malloc (n_bytes);
    for (gsize i = 0; i < proto->n_int32_data; i++) {
      guint32 v;
      if (!narrow_int32_value (ctx, what, dtype, i, proto->int32_data[i], &v, error)) {
        g_free (out);
        return NULL;
      }
      if (esize == 1)
        out[i] = (guint8)v;
      else if (esize == 2) {
        guint16 le = GUINT16_TO_LE ((guint16)v);
        memcpy (out + i * 2, &le, 2);
      } else {
        guint32 le = GUINT32_TO_LE (v);
        memcpy (out + i * 4, &le, 4);
      }
    }
    return g_bytes_new_take (out, n_bytes);
  }
  case GLIA_DATA_TYPE_STRING:
    return decode_strings (ctx, proto, what, count, error);
  default:
    break;
  }

  onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                  "%s has element type %d, which Glia does not support", what, (int)dtype);
  return NULL;
}

/* External data must name a file in the model's directory or below it. */
static gboolean
external_location_is_safe (const char *location)
{
  if (g_path_is_absolute (location))
    return FALSE;

  g_auto (GStrv) parts = g_strsplit_set (location, "/\\", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (strcmp (parts[i], "..") == 0)
      return FALSE;
  return TRUE;
}

static gboolean
parse_size (OnnxTensorContext *ctx, const char *what, const char *key, const char *text,
            guint64 *out, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, out, &local)) {
    g_autofree char *shown = g_utf8_make_valid (text ? text : "", -1);
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: external data %s '%s' is not a byte count", what, key, shown);
    return FALSE;
  }
  return TRUE;
}

static GBytes *
decode_external (OnnxTensorContext *ctx, Onnx__TensorProto *proto, GliaDataType dtype,
                 const char *what, gsize n_bytes, GError **error)
{
  const char *location = NULL;
  guint64 offset = 0, length = 0;
  gboolean has_length = FALSE;

  if (dtype == GLIA_DATA_TYPE_STRING) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: string tensors cannot be stored as external data", what);
    return NULL;
  }

  for (gsize i = 0; i < proto->n_external_data; i++) {
    const Onnx__StringStringEntryProto *entry = proto->external_data[i];
    if (entry->key == NULL)
      continue;
    if (strcmp (entry->key, "location") == 0)
      location = entry->value;
    else if (strcmp (entry->key, "offset") == 0) {
      if (!parse_size (ctx, what, "offset", entry->value, &offset, error))
        return NULL;
    } else if (strcmp (entry->key, "length") == 0) {
      if (!parse_size (ctx, what, "length", entry->value, &length, error))
        return NULL;
      has_length = TRUE;
    }
  }

  if (location == NULL || location[0] == '\0') {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s is stored as external data but has no location", what);
    return NULL;
  }
  if (!g_utf8_validate (location, -1, NULL)) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: external data location is not valid UTF-8", what);
    return NULL;
  }
  if (!external_location_is_safe (location)) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: external data location '%s' is outside the model's directory "
                    "(absolute paths and '..' are not allowed)",
                    what, location);
    return NULL;
  }

  g_autofree char *full_path = g_build_filename (ctx->model_dir, location, NULL);
  GMappedFile *file = g_hash_table_lookup (ctx->external_files, full_path);
  if (file == NULL) {
    g_autoptr (GError) local = NULL;
    file = g_mapped_file_new (full_path, FALSE, &local);
    if (file == NULL) {
      onnx_set_error (error, GLIA_ERROR_IO, ctx->model_path,
                      "%s: cannot read external data file '%s': %s", what, location,
                      local->message);
      return NULL;
    }
    g_hash_table_insert (ctx->external_files, g_strdup (full_path), file);
  }

  gsize file_len = g_mapped_file_get_length (file);
  if (offset > file_len) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: external data offset %" G_GUINT64_FORMAT
                    " is past the end of '%s' (%" G_GSIZE_FORMAT " bytes)",
                    what, offset, location, file_len);
    return NULL;
  }
  if (!has_length)
    length = file_len - offset;
  else if (length > file_len - offset) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: external data (offset %" G_GUINT64_FORMAT ", length %" G_GUINT64_FORMAT
                    ") runs past the end of '%s' (%" G_GSIZE_FORMAT " bytes)",
                    what, offset, length, location, file_len);
    return NULL;
  }
  if (length != n_bytes) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: external data in '%s' has %" G_GUINT64_FORMAT
                    " bytes, expected %" G_GSIZE_FORMAT,
                    what, location, length, n_bytes);
    return NULL;
  }

  if (n_bytes == 0)
    return empty_bytes ();
  if (offset % data_alignment (dtype) == 0)
    return mapped_view (file, (gsize)offset, n_bytes);
  return g_bytes_new (g_mapped_file_get_contents (file) + offset, n_bytes);
}

/* raw_data that protobuf-c unpacked (tensors in attributes and subgraphs):
 * take over its buffer rather than copy it again. */
static GBytes *
decode_raw (OnnxTensorContext *ctx, Onnx__TensorProto *proto, GliaDataType dtype, const char *what,
            gsize n_bytes, GError **error)
{
  ProtobufCBinaryData *raw = &proto->raw_data;

  if (raw->len != n_bytes) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: raw_data has %" G_GSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT, what,
                    raw->len, n_bytes);
    return NULL;
  }
  if (n_bytes == 0)
    return empty_bytes ();

  GBytes *bytes = g_bytes_new_take (raw->data, raw->len);
  raw->data = NULL;
  raw->len = 0;
  return bytes;
}

/* @n_bytes at @offset of the model file in a heap buffer, read with pread
 * rather than copied from the mapping: copying would make the mapped pages
 * resident in this process too (ResNet-50 holds 73 MB of unaligned
 * weights, which would count twice in its RSS). NULL when the file cannot
 * be read that way (the caller copies from the mapping). */
static GBytes *
read_span (OnnxTensorContext *ctx, gsize offset, gsize n_bytes)
{
  if (ctx->model_fd == -1) {
    ctx->model_fd = open (ctx->model_path, O_RDONLY | O_CLOEXEC);
    if (ctx->model_fd < 0)
      ctx->model_fd = -2;
  }
  if (ctx->model_fd < 0)
    return NULL;
  guint8 *buf = g_malloc (n_bytes);
  gsize done = 0;
  while (done < n_bytes) {
    ssize_t r = pread (ctx->model_fd, buf + done, n_bytes - done, (off_t)(offset + done));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      g_free (buf);
      return NULL;
    }
    done += (gsize)r;
  }
  return g_bytes_new_take (buf, n_bytes);
}

/* raw_data left in the model file (initializers of the main graph): a view of
 * the mapped file, which stays in the page cache and is shared with other
 * processes, unless its alignment does not suit the element type. */
static GBytes *
decode_raw_in_file (OnnxTensorContext *ctx, const OnnxWireSpan *span, GliaDataType dtype,
                    const char *what, gsize n_bytes, GError **error)
{
  if (span->length != n_bytes) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: raw_data has %" G_GSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT, what,
                    span->length, n_bytes);
    return NULL;
  }
  if (n_bytes == 0)
    return empty_bytes ();
  if (span->offset % data_alignment (dtype) == 0)
    return mapped_view (ctx->model_file, span->offset, n_bytes);
  GBytes *copy = read_span (ctx, span->offset, n_bytes);
  if (copy)
    return copy;
  return g_bytes_new (g_mapped_file_get_contents (ctx->model_file) + span->offset, n_bytes);
}

static gboolean
check_dtype (OnnxTensorContext *ctx, const char *what, gboolean has_dtype, gint32 dtype,
             GError **error)
{
  if (!has_dtype || dtype <= GLIA_DATA_TYPE_UNDEFINED || dtype > GLIA_DATA_TYPE_LAST) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s has element type %d, which Glia does not support", what,
                    has_dtype ? dtype : 0);
    return FALSE;
  }
  return TRUE;
}

gboolean
onnx_tensor_decode (OnnxTensorContext *ctx, Onnx__TensorProto *proto, const OnnxWireSpan *raw_span,
                    const char *what, OnnxTensor *out, GError **error)
{
  guint64 count;
  gsize n_bytes = 0;
  GBytes *data;

  memset (out, 0, sizeof *out);
  if (!check_dtype (ctx, what, proto->has_data_type, proto->data_type, error))
    return FALSE;
  GliaDataType dtype = (GliaDataType)proto->data_type;

  if (proto->segment != NULL) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s is stored in segments, which Glia does not support", what);
    return FALSE;
  }
  if (!check_dims (ctx, what, proto->dims, proto->n_dims, &count, error))
    return FALSE;
  if (dtype != GLIA_DATA_TYPE_STRING && !check_byte_size (ctx, what, dtype, count, &n_bytes, error))
    return FALSE;

  gboolean has_raw_in_file = raw_span != NULL && raw_span->offset != ONNX_WIRE_SPAN_NONE;
  if ((has_raw_in_file || proto->has_raw_data) && dtype == GLIA_DATA_TYPE_STRING) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "%s: string tensors cannot use raw_data", what);
    return FALSE;
  }

  if (proto->has_data_location
      && proto->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    data = decode_external (ctx, proto, dtype, what, n_bytes, error);
  else if (has_raw_in_file)
    data = decode_raw_in_file (ctx, raw_span, dtype, what, n_bytes, error);
  else if (proto->has_raw_data)
    data = decode_raw (ctx, proto, dtype, what, n_bytes, error);
  else
    data = decode_typed_fields (ctx, proto, dtype, what, count, n_bytes, error);
  if (data == NULL)
    return FALSE;

  out->dtype = dtype;
  out->rank = (guint)proto->n_dims;
  out->dims = g_new (gint64, proto->n_dims + 1);
  for (gsize i = 0; i < proto->n_dims; i++)
    out->dims[i] = proto->dims[i];
  out->data = data;
  return TRUE;
}

static gint64
read_index (const guint8 *indices, guint64 i)
{
  gint64 v;

  memcpy (&v, indices + i * sizeof v, sizeof v);
  return GINT64_FROM_LE (v);
}

gboolean
onnx_sparse_tensor_decode (OnnxTensorContext *ctx, Onnx__SparseTensorProto *proto, const char *what,
                           OnnxTensor *out, GError **error)
{
  g_auto (OnnxTensor) values = { 0 };
  g_auto (OnnxTensor) indices = { 0 };
  guint64 count, nnz;
  gsize n_bytes;

  memset (out, 0, sizeof *out);
  if (proto->values == NULL) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path, "sparse %s has no values",
                    what);
    return FALSE;
  }
  if (!check_dims (ctx, what, proto->dims, proto->n_dims, &count, error))
    return FALSE;

  g_autofree char *values_what = g_strdup_printf ("values of sparse %s", what);
  if (!onnx_tensor_decode (ctx, proto->values, NULL, values_what, &values, error))
    return FALSE;
  if (values.dtype == GLIA_DATA_TYPE_STRING) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "sparse %s holds strings, which Glia does not support", what);
    return FALSE;
  }
  if (values.rank != 1) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                    "values of sparse %s have rank %u, expected 1", what, values.rank);
    return FALSE;
  }
  nnz = (guint64)values.dims[0];

  if (!check_byte_size (ctx, what, values.dtype, count, &n_bytes, error))
    return FALSE;
  if (n_bytes > ONNX_MAX_SPARSE_DENSE_BYTES) {
    onnx_set_error (error, GLIA_ERROR_RESOURCE_LIMIT, ctx->model_path,
                    "sparse %s would expand to %" G_GSIZE_FORMAT
                    " bytes, more than the %" G_GUINT64_FORMAT " Glia allows",
                    what, n_bytes, ONNX_MAX_SPARSE_DENSE_BYTES);
    return FALSE;
  }

  /* A linear index per value ([NNZ]) or a coordinate tuple per value
   * ([NNZ, rank]). */
  gboolean coordinates = FALSE;
  if (nnz > 0) {
    g_autofree char *indices_what = g_strdup_printf ("indices of sparse %s", what);
    if (proto->indices == NULL) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                      "sparse %s has values but no indices", what);
      return FALSE;
    }
    if (!onnx_tensor_decode (ctx, proto->indices, NULL, indices_what, &indices, error))
      return FALSE;
    if (indices.dtype != GLIA_DATA_TYPE_INT64) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                      "indices of sparse %s are %s, expected int64", what,
                      glia_data_type_get_name (indices.dtype));
      return FALSE;
    }
    if (indices.rank == 2 && (guint64)indices.dims[0] == nnz
        && (guint64)indices.dims[1] == proto->n_dims)
      coordinates = TRUE;
    else if (!(indices.rank == 1 && (guint64)indices.dims[0] == nnz)) {
      g_autofree char *shape = onnx_tensor_describe (indices.dtype, indices.rank, indices.dims);
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                      "indices of sparse %s are %s, expected [%" G_GUINT64_FORMAT
                      "] or [%" G_GUINT64_FORMAT ",%" G_GSIZE_FORMAT "]",
                      what, shape, nnz, nnz, proto->n_dims);
      return FALSE;
    }
  }

  guint8 *dense = g_try_malloc0 (n_bytes ? n_bytes : 1);
  if (dense == NULL) {
    onnx_set_error (error, GLIA_ERROR_RESOURCE_LIMIT, ctx->model_path,
                    "sparse %s: cannot allocate %" G_GSIZE_FORMAT " bytes for its dense form", what,
                    n_bytes);
    return FALSE;
  }

  gsize esize = glia_data_type_get_size (values.dtype);
  const guint8 *src = g_bytes_get_data (values.data, NULL);
  const guint8 *idx = indices.data ? g_bytes_get_data (indices.data, NULL) : NULL;
  for (guint64 k = 0; k < nnz; k++) {
    guint64 linear = 0;
    gboolean ok = TRUE;

    if (coordinates) {
      for (gsize j = 0; j < proto->n_dims && ok; j++) {
        gint64 c = read_index (idx, k * proto->n_dims + j);
        ok = c >= 0 && c < proto->dims[j];
        linear = linear * (guint64)proto->dims[j] + (guint64)c;
      }
    } else {
      gint64 c = read_index (idx, k);
      ok = c >= 0 && (guint64)c < count;
      linear = (guint64)c;
    }
    if (!ok) {
      g_free (dense);
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, ctx->model_path,
                      "sparse %s: index %" G_GUINT64_FORMAT " is out of bounds", what, k);
      return FALSE;
    }
    memcpy (dense + linear * esize, src + k * esize, esize);
  }

  out->dtype = values.dtype;
  out->rank = (guint)proto->n_dims;
  out->dims = g_new (gint64, proto->n_dims + 1);
  for (gsize i = 0; i < proto->n_dims; i++)
    out->dims[i] = proto->dims[i];
  out->data = g_bytes_new_take (dense, n_bytes);
  return TRUE;
}
