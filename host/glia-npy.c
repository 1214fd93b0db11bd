/* glia-npy.c: reading and writing tensors in NumPy's .npy format.
 *
 * An .npy file is a magic string, a version, a little-endian header length, a
 * header that is a Python dict literal ({'descr': '<f4', 'fortran_order':
 * False, 'shape': (3, 4), }) and the raw array data. The header is parsed here
 * by a small strict parser that accepts exactly those three keys and the
 * literal forms NumPy writes; nothing is ever evaluated.
 *
 * Everything goes through the public GliaTensor API, so this file knows
 * nothing of the tensor's internals.
 *
 * Choices worth knowing:
 * - Versions 1.0, 2.0 and 3.0 are read; 1.0 is written, 2.0 only when the
 *   header would not fit 1.0's 16-bit length. Headers are padded so the data
 *   starts on a 64-byte boundary, as NumPy does.
 * - Big-endian data ('>f4', ...) is byte-swapped on read; Glia writes
 *   little-endian descriptors ('<f4') whatever the host.
 * - fortran_order True data is transposed to C order on read; Glia always
 *   writes C order.
 * - Unicode arrays ('<U<n>', UCS-4) become string tensors (UTF-8) with
 *   trailing NULs stripped, as NumPy strips them; a NUL inside a string or a
 *   code unit that is not a Unicode scalar value is an error. String tensors
 *   are written as '<U<longest string in code points>' (at least '<U1').
 * - Booleans ('|b1') are read and written as bytes 0 and 1; any non-zero byte
 *   counts as 1.
 * - bfloat16 has no NumPy dtype. Glia writes it as the 2-byte opaque type
 *   '<V2', which is what NumPy itself records for an ml_dtypes.bfloat16 array,
 *   so NumPy loads it as V2 and `a.view(ml_dtypes.bfloat16)` recovers the
 *   values. On read, any 2-byte void descr ('<V2', '|V2', '>V2') is taken as
 *   bfloat16, so bfloat16 round-trips losslessly; other void widths are
 *   rejected.
 * - Object arrays ('|O', which need pickle), structured arrays, byte strings
 *   ('|S<n>') and datetimes are rejected with an error.
 */
#include "glia-tensor.h"

#include <string.h>

#define NPY_MAGIC     "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN     64

typedef struct
{
  GliaDataType dtype;
  gsize itemsize;  /* bytes per element in the file */
  gsize swap_unit; /* bytes per byte-swapped unit, 0 or 1 for none */
  gboolean swap;   /* file byte order differs from the host's */
} NpyDescr;

typedef struct
{
  const char *p;
  const char *end;
  const char *source;
} HeaderParser;

static gboolean
header_fail (HeaderParser *hp, GError **error, const char *what)
{
  g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "%s: malformed npy header: %s",
               hp->source, what);
  return FALSE;
}

static void
header_skip_space (HeaderParser *hp)
{
  while (hp->p < hp->end && (*hp->p == ' ' || *hp->p == '\t' || *hp->p == '\n' || *hp->p == '\r'))
    hp->p++;
}

/* Skips white space, then consumes @c if it comes next. */
static gboolean
header_accept (HeaderParser *hp, char c)
{
  header_skip_space (hp);
  if (hp->p < hp->end && *hp->p == c) {
    hp->p++;
    return TRUE;
  }
  return FALSE;
}

/* A quoted string without escapes: the only strings a valid header holds are
 * its keys and a simple descr. */
static char *
header_parse_string (HeaderParser *hp, GError **error)
{
  header_skip_space (hp);
  if (hp->p >= hp->end || (*hp->p != '\'' && *hp->p != '"')) {
    header_fail (hp, error, "expected a quoted string");
    return NULL;
  }
  char quote = *hp->p++;
  const char *start = hp->p;
  while (hp->p < hp->end && *hp->p != quote) {
    if (*hp->p == '\\' || (guchar)*hp->p < 0x20 || (guchar)*hp->p > 0x7e) {
      header_fail (hp, error, "unsupported character in a string");
      return NULL;
    }
    hp->p++;
  }
  if (hp->p >= hp->end) {
    header_fail (hp, error, "unterminated string");
    return NULL;
  }
  char *s = g_strndup (start, hp->p - start);
  hp->p++;
  return s;
}

static gboolean
header_parse_bool (HeaderParser *hp, gboolean *value, GError **error)
{
  header_skip_space (hp);
  gsize left = hp->end - hp->p;
  if (left >= 4 && memcmp (hp->p, "True", 4) == 0) {
    *value = TRUE;
    hp->p += 4;
  } else if (left >= 5 && memcmp (hp->p, "False", 5) == 0) {
    *value = FALSE;
    hp->p += 5;
  } else
    return header_fail (hp, error, "'fortran_order' must be True or False");
  return TRUE;
}

/* A non-negative decimal integer that fits gint64, with the 'L' suffix that
 * files written by Python 2 carry. */
static gboolean
header_parse_dim (HeaderParser *hp, gint64 *value, GError **error)
{
  header_skip_space (hp);
  if (hp->p < hp->end && *hp->p == '-') {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%s: npy shape has a negative dimension", hp->source);
    return FALSE;
  }
  if (hp->p >= hp->end || !g_ascii_isdigit (*hp->p))
    return header_fail (hp, error, "expected a dimension in 'shape'");
  guint64 v = 0;
  while (hp->p < hp->end && g_ascii_isdigit (*hp->p)) {
    guint digit = *hp->p - '0';
    if (v > ((guint64)G_MAXINT64 - digit) / 10) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "%s: npy shape has a dimension too large", hp->source);
      return FALSE;
    }
    v = v * 10 + digit;
    hp->p++;
  }
  if (hp->p < hp->end && (*hp->p == 'L' || *hp->p == 'l'))
    hp->p++;
  *value = (gint64)v;
  return TRUE;
}

/* A tuple of dimensions: (), (n,), (n, m), (n, m,) ... */
static gboolean
header_parse_shape (HeaderParser *hp, GArray *shape, GError **error)
{
  if (!header_accept (hp, '('))
    return header_fail (hp, error, "'shape' must be a tuple");
  if (header_accept (hp, ')'))
    return TRUE;
  for (;;) {
    gint64 dim;
    if (!header_parse_dim (hp, &dim, error))
      return FALSE;
    g_array_append_val (shape, dim);
    gboolean comma = header_accept (hp, ',');
    if (header_accept (hp, ')')) {
      /* (n) is an integer in Python, not a tuple. */
      if (shape->len == 1 && !comma)
        return header_fail (hp, error, "'shape' must be a tuple");
      return TRUE;
    }
    if (!comma)
      return header_fail (hp, error, "expected ',' or ')' in 'shape'");
  }
}

/* Maps a descr such as '<f4' to a Glia data type. */
static gboolean
parse_descr (const char *descr, const char *source, NpyDescr *out, GError **error)
{
  const char *p = descr;
  char order = '=';
  if (*p == '<' || *p == '>' || *p == '|' || *p == '=')
    order = *p++;
  char kind = *p ? *p++ : '\0';
  guint64 size = 0;
  gboolean have_size = g_ascii_isdigit (*p);
  while (g_ascii_isdigit (*p) && size <= G_MAXUINT32)
    size = size * 10 + (*p++ - '0');

  if (kind == 'O') {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%s: npy object arrays ('%s') are not supported: they need pickle", source, descr);
    return FALSE;
  }
  if (*p != '\0' || !have_size)
    goto unknown;

  GliaDataType dtype = GLIA_DATA_TYPE_UNDEFINED;
  gsize swap_unit = size;
  switch (kind) {
  case 'b':
    if (size == 1)
      dtype = GLIA_DATA_TYPE_BOOL;
    break;
  case 'i':
    dtype = size == 1   ? GLIA_DATA_TYPE_INT8
            : size == 2 ? GLIA_DATA_TYPE_INT16
            : size == 4 ? GLIA_DATA_TYPE_INT32
            : size == 8 ? GLIA_DATA_TYPE_INT64
                        : GLIA_DATA_TYPE_UNDEFINED;
    break;
  case 'u':
    dtype = size == 1   ? GLIA_DATA_TYPE_UINT8
            : size == 2 ? GLIA_DATA_TYPE_UINT16
            : size == 4 ? GLIA_DATA_TYPE_UINT32
            : size == 8 ? GLIA_DATA_TYPE_UINT64
                        : GLIA_DATA_TYPE_UNDEFINED;
    break;
  case 'f':
    dtype = size == 2   ? GLIA_DATA_TYPE_FLOAT16
            : size == 4 ? GLIA_DATA_TYPE_FLOAT
            : size == 8 ? GLIA_DATA_TYPE_DOUBLE
                        : GLIA_DATA_TYPE_UNDEFINED;
    break;
  case 'c':
    dtype = size == 8    ? GLIA_DATA_TYPE_COMPLEX64
            : size == 16 ? GLIA_DATA_TYPE_COMPLEX128
                         : GLIA_DATA_TYPE_UNDEFINED;
    swap_unit = size / 2;
    break;
  case 'V':
    if (size == 2)
      dtype = GLIA_DATA_TYPE_BFLOAT16;
    break;
  case 'U':
    /* The size counts UCS-4 code units. NumPy never writes '<U0', and
     * allowing it would let a tiny file claim any number of strings. */
    if (size > 0 && size <= G_MAXUINT32 / 4) {
      dtype = GLIA_DATA_TYPE_STRING;
      swap_unit = 4;
      size *= 4;
    }
    break;
  default:
    break;
  }
  if (dtype == GLIA_DATA_TYPE_UNDEFINED)
    goto unknown;

  char host = G_BYTE_ORDER == G_LITTLE_ENDIAN ? '<' : '>';
  out->dtype = dtype;
  out->itemsize = size;
  out->swap_unit = swap_unit;
  out->swap = swap_unit > 1 && (order == '<' || order == '>') && order != host;
  return TRUE;

unknown:
  g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
               "%s: npy descr '%s' is not a supported data type", source, descr);
  return FALSE;
}

/* Parses the header dict. Each of 'descr', 'fortran_order' and 'shape' must
 * appear exactly once, and nothing else. */
static gboolean
parse_header (HeaderParser *hp, NpyDescr *descr, gboolean *fortran_order, GArray *shape,
              GError **error)
{
  gboolean have_descr = FALSE, have_order = FALSE, have_shape = FALSE;

  if (!header_accept (hp, '{'))
    return header_fail (hp, error, "expected '{'");
  while (!header_accept (hp, '}')) {
    g_autofree char *key = header_parse_string (hp, error);
    if (key == NULL)
      return FALSE;
    if (!header_accept (hp, ':'))
      return header_fail (hp, error, "expected ':' after a key");

    gboolean *seen;
    if (g_str_equal (key, "descr"))
      seen = &have_descr;
    else if (g_str_equal (key, "fortran_order"))
      seen = &have_order;
    else if (g_str_equal (key, "shape"))
      seen = &have_shape;
    else {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "%s: malformed npy header: unexpected key '%s'", hp->source, key);
      return FALSE;
    }
    if (*seen) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "%s: malformed npy header: key '%s' appears twice", hp->source, key);
      return FALSE;
    }
    *seen = TRUE;

    if (seen == &have_descr) {
      header_skip_space (hp);
      if (hp->p < hp->end && *hp->p == '[') {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                     "%s: npy structured arrays are not supported", hp->source);
        return FALSE;
      }
      g_autofree char *value = header_parse_string (hp, error);
      if (value == NULL || !parse_descr (value, hp->source, descr, error))
        return FALSE;
    } else if (seen == &have_order) {
      if (!header_parse_bool (hp, fortran_order, error))
        return FALSE;
    } else if (!header_parse_shape (hp, shape, error))
      return FALSE;

    if (!header_accept (hp, ',')) {
      if (header_accept (hp, '}'))
        break;
      return header_fail (hp, error, "expected ',' or '}'");
    }
  }
  header_skip_space (hp);
  if (hp->p != hp->end)
    return header_fail (hp, error, "unexpected text after '}'");
  if (!have_descr || !have_order || !have_shape) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%s: malformed npy header: key '%s' is missing", hp->source,
                 !have_descr   ? "descr"
                 : !have_order ? "fortran_order"
                               : "shape");
    return FALSE;
  }
  return TRUE;
}

/* Number of elements of @shape, or FALSE if it overflows gsize. A zero
 * dimension makes the count zero whatever the others are. */
static gboolean
count_elements (const gint64 *shape, guint rank, gsize *n_elements)
{
  *n_elements = 1;
  for (guint i = 0; i < rank; i++)
    if (shape[i] == 0) {
      *n_elements = 0;
      return TRUE;
    }
  for (guint i = 0; i < rank; i++)
    if (shape[i] < 0 || !g_size_checked_mul (n_elements, *n_elements, (gsize)shape[i]))
      return FALSE;
  return TRUE;
}

static void
byteswap (guint8 *data, gsize size, gsize unit)
{
  for (gsize off = 0; off + unit <= size; off += unit)
    for (gsize i = 0, j = unit - 1; i < j; i++, j--) {
      guint8 t = data[off + i];
      data[off + i] = data[off + j];
      data[off + j] = t;
    }
}

/* Copies @n_elements elements stored in Fortran (column-major) order into C
 * (row-major) order. The source is walked sequentially with the first axis
 * varying fastest while the destination offset follows the C strides. */
static void
fortran_to_c (const guint8 *src, guint8 *dst, const gint64 *shape, guint rank, gsize itemsize,
              gsize n_elements)
{
  g_autofree gsize *stride = g_new (gsize, MAX (rank, 1));
  g_autofree gsize *index = g_new0 (gsize, MAX (rank, 1));
  gsize s = 1;
  for (guint axis = rank; axis-- > 0;) {
    stride[axis] = s;
    s *= (gsize)shape[axis];
  }
  gsize c = 0;
  for (gsize f = 0; f < n_elements; f++) {
    memcpy (dst + c * itemsize, src + f * itemsize, itemsize);
    for (guint axis = 0; axis < rank; axis++) {
      c += stride[axis];
      if (++index[axis] < (gsize)shape[axis])
        break;
      c -= stride[axis] * (gsize)shape[axis];
      index[axis] = 0;
    }
  }
}

/* Converts @n_elements UCS-4 strings of @n_units code units each, already in
 * host order, to NUL-terminated UTF-8 strings back to back: the data of a
 * string tensor. A code point takes at most 4 bytes in UTF-8, as many as in
 * UCS-4, so the input size plus one NUL per string bounds the output. */
static GBytes *
ucs4_to_utf8 (const guint8 *data, gsize n_elements, gsize n_units, const char *source,
              GError **error)
{
  g_autofree char *out = g_malloc (n_elements * n_units * 4 + n_elements + 1);
  gsize o = 0;
  for (gsize e = 0; e < n_elements; e++) {
    const guint8 *elem = data + e * n_units * 4;
    gsize len = n_units;
    guint32 u;
    while (len > 0 && (memcpy (&u, elem + (len - 1) * 4, 4), u == 0))
      len--;
    for (gsize i = 0; i < len; i++) {
      memcpy (&u, elem + i * 4, 4);
      if (u == 0 || !g_unichar_validate (u)) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                     "%s: npy string element %" G_GSIZE_FORMAT " holds %s (U+%04" G_GINT32_MODIFIER
                     "X)",
                     source, e, u == 0 ? "a NUL character" : "an invalid code point", u);
        return NULL;
      }
      o += g_unichar_to_utf8 (u, out + o);
    }
    out[o++] = '\0';
  }
  return g_bytes_new_take (g_realloc (g_steal_pointer (&out), MAX (o, 1)), o);
}

static GliaTensor *
tensor_from_npy (GBytes *npy, const char *source, GError **error)
{
  gsize size;
  const guint8 *bytes = g_bytes_get_data (npy, &size);

  if (size == 0 || memcmp (bytes, NPY_MAGIC, MIN (size, NPY_MAGIC_LEN)) != 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%s: not an npy file (bad magic string)", source);
    return NULL;
  }
  if (size < NPY_MAGIC_LEN + 2) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%s: npy file is truncated before its header", source);
    return NULL;
  }
  guint major = bytes[6], minor = bytes[7];
  gsize len_size;
  if (major == 1 && minor == 0)
    len_size = 2;
  else if ((major == 2 || major == 3) && minor == 0)
    len_size = 4;
  else {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%s: npy format version %u.%u is not supported (1.0, 2.0 and 3.0 are)", source,
                 major, minor);
    return NULL;
  }
  gsize prefix = NPY_MAGIC_LEN + 2 + len_size;
  if (size < prefix) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%s: npy file is truncated before its header", source);
    return NULL;
  }
  gsize header_len = bytes[8] | (gsize)bytes[9] << 8;
  if (len_size == 4)
    header_len |= (gsize)bytes[10] << 16 | (gsize)bytes[11] << 24;
  if (header_len > size - prefix) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%s: npy header length %" G_GSIZE_FORMAT
                 " runs past the end of the data (%" G_GSIZE_FORMAT " bytes)",
                 source, header_len, size);
    return NULL;
  }

  /* Versions 1.0 and 2.0 headers are latin-1, 3.0 UTF-8; every valid header
   * is ASCII outside its strings, and the parser rejects anything else. */
  HeaderParser hp
      = { (const char *)bytes + prefix, (const char *)bytes + prefix + header_len, source };
  NpyDescr descr = { 0 };
  gboolean fortran_order = FALSE;
  g_autoptr (GArray) shape_array = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (!parse_header (&hp, &descr, &fortran_order, shape_array, error))
    return NULL;

  guint rank = shape_array->len;
  static const gint64 no_dims[1] = { 0 };
  const gint64 *shape = rank > 0 ? (const gint64 *)shape_array->data : no_dims;

  gsize n_elements, data_size;
  if (!count_elements (shape, rank, &n_elements)
      || !g_size_checked_mul (&data_size, n_elements, descr.itemsize)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%s: npy shape is too large (its size overflows)", source);
    return NULL;
  }

  gsize data_offset = prefix + header_len;
  if (size - data_offset != data_size) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "%s: array data is %" G_GSIZE_FORMAT " bytes but its header (%s, %" G_GSIZE_FORMAT
                 " elements) needs %" G_GSIZE_FORMAT,
                 source, size - data_offset, glia_data_type_get_name (descr.dtype), n_elements,
                 data_size);
    return NULL;
  }
  const guint8 *data = bytes + data_offset;

  gboolean transpose = fortran_order && rank > 1 && n_elements > 1;
  gboolean fix_bools = FALSE;
  if (descr.dtype == GLIA_DATA_TYPE_BOOL)
    for (gsize i = 0; i < data_size && !fix_bools; i++)
      fix_bools = data[i] > 1;

  /* The file's bytes are used as they are when nothing needs changing and
   * they are aligned for any element type; otherwise they are copied. */
  g_autofree guint8 *work = NULL;
  if (descr.swap || transpose || fix_bools || descr.dtype == GLIA_DATA_TYPE_STRING
      || (guintptr)data % 16 != 0) {
    work = g_malloc (MAX (data_size, 1));
    if (transpose)
      fortran_to_c (data, work, shape, rank, descr.itemsize, n_elements);
    else if (data_size > 0)
      memcpy (work, data, data_size);
    if (descr.swap)
      byteswap (work, data_size, descr.swap_unit);
    if (fix_bools)
      for (gsize i = 0; i < data_size; i++)
        work[i] = work[i] != 0;
  }

  g_autoptr (GBytes) tensor_data = NULL;
  if (descr.dtype == GLIA_DATA_TYPE_STRING) {
    tensor_data = ucs4_to_utf8 (work, n_elements, descr.itemsize / 4, source, error);
    if (tensor_data == NULL)
      return NULL;
  } else if (work != NULL)
    tensor_data = g_bytes_new_take (g_steal_pointer (&work), data_size);
  else
    tensor_data = g_bytes_new_from_bytes (npy, data_offset, data_size);

  g_autoptr (GError) local_error = NULL;
  GliaTensor *tensor = glia_tensor_new (descr.dtype, shape, rank, tensor_data, &local_error);
  if (tensor == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", source);
  return tensor;
}

/**
 * glia_tensor_new_from_npy:
 * @npy: the contents of an .npy file
 * @error: return location for a #GError
 *
 * Makes a tensor from NumPy .npy data (format versions 1.0, 2.0 and 3.0).
 * Big-endian and Fortran-order arrays are converted; unicode arrays become
 * string tensors and 2-byte void arrays ('<V2') bfloat16 tensors. The tensor
 * may share @npy's memory.
 *
 * Returns: (transfer full): a new tensor, or %NULL with @error set
 *   (%GLIA_ERROR_INVALID_ARGUMENT) if @npy is malformed or holds a data type
 *   Glia lacks.
 */
GliaTensor *
glia_tensor_new_from_npy (GBytes *npy, GError **error)
{
  g_return_val_if_fail (npy != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return tensor_from_npy (npy, "npy data", error);
}

/**
 * glia_tensor_new_from_npy_file:
 * @path: (type filename): path of an .npy file
 * @error: return location for a #GError
 *
 * Reads a tensor from an .npy file, as glia_tensor_new_from_npy() does.
 *
 * Returns: (transfer full): a new tensor, or %NULL with @error set:
 *   %GLIA_ERROR_IO if the file cannot be read, %GLIA_ERROR_INVALID_ARGUMENT if
 *   its contents are not valid; the message names the file.
 */
GliaTensor *
glia_tensor_new_from_npy_file (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (GError) local_error = NULL;
  char *contents = NULL;
  gsize length = 0;
  if (!g_file_get_contents (path, &contents, &length, &local_error)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_IO, "%s", local_error->message);
    return NULL;
  }
  g_autoptr (GBytes) npy = g_bytes_new_take (contents, length);
  g_autofree char *display = g_filename_display_name (path);
  return tensor_from_npy (npy, display, error);
}

static const char *
npy_descr_for (GliaDataType dtype)
{
  switch (dtype) {
  case GLIA_DATA_TYPE_FLOAT:
    return "<f4";
  case GLIA_DATA_TYPE_DOUBLE:
    return "<f8";
  case GLIA_DATA_TYPE_FLOAT16:
    return "<f2";
  case GLIA_DATA_TYPE_BFLOAT16:
    return "<V2";
  case GLIA_DATA_TYPE_UINT8:
    return "|u1";
  case GLIA_DATA_TYPE_INT8:
    return "|i1";
  case GLIA_DATA_TYPE_UINT16:
    return "<u2";
  case GLIA_DATA_TYPE_INT16:
    return "<i2";
  case GLIA_DATA_TYPE_UINT32:
    return "<u4";
  case GLIA_DATA_TYPE_INT32:
    return "<i4";
  case GLIA_DATA_TYPE_UINT64:
    return "<u8";
  case GLIA_DATA_TYPE_INT64:
    return "<i8";
  case GLIA_DATA_TYPE_BOOL:
    return "|b1";
  case GLIA_DATA_TYPE_COMPLEX64:
    return "<c8";
  case GLIA_DATA_TYPE_COMPLEX128:
    return "<c16";
  case GLIA_DATA_TYPE_STRING:
  case GLIA_DATA_TYPE_UNDEFINED:
    break;
  }
  return NULL;
}

/* Returns a buffer holding the header for @descr and @shape followed by
 * @data_size bytes of room for the data, which start at *data_offset. */
static guint8 *
npy_new_buffer (const char *descr, const gint64 *shape, guint rank, gsize data_size,
                gsize *data_offset, gsize *total_size, GError **error)
{
  g_autoptr (GString) header = g_string_new (NULL);
  g_string_append_printf (header, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (guint i = 0; i < rank; i++)
    g_string_append_printf (header, "%s%" G_GINT64_FORMAT, i > 0 ? ", " : "", shape[i]);
  g_string_append (header, rank == 1 ? ",), }" : "), }");

  /* Pad with spaces and end with a newline so the data is aligned. */
  gsize prefix = NPY_MAGIC_LEN + 2 + 2;
  gsize header_len = header->len + 1;
  header_len += (NPY_ALIGN - (prefix + header_len) % NPY_ALIGN) % NPY_ALIGN;
  guint major = 1;
  if (header_len > G_MAXUINT16) {
    major = 2;
    prefix += 2;
    header_len = header->len + 1;
    header_len += (NPY_ALIGN - (prefix + header_len) % NPY_ALIGN) % NPY_ALIGN;
    if (header_len > G_MAXUINT32) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "tensor shape is too long for an npy header");
      return NULL;
    }
  }
  if (!g_size_checked_add (total_size, prefix + header_len, data_size)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "tensor is too large for npy");
    return NULL;
  }

  guint8 *buffer = g_malloc (*total_size);
  memcpy (buffer, NPY_MAGIC, NPY_MAGIC_LEN);
  buffer[6] = major;
  buffer[7] = 0;
  for (gsize i = 0; i < prefix - 8; i++)
    buffer[8 + i] = (header_len >> (8 * i)) & 0xff;
  memcpy (buffer + prefix, header->str, header->len);
  memset (buffer + prefix + header->len, ' ', header_len - header->len - 1);
  buffer[prefix + header_len - 1] = '\n';
  *data_offset = prefix + header_len;
  return buffer;
}

static GBytes *
strings_to_npy (GliaTensor *self, const gint64 *shape, guint rank, gsize n_elements, GError **error)
{
  g_auto (GStrv) strings = glia_tensor_get_strings (self);
  g_return_val_if_fail (strings != NULL, NULL);

  gsize n_units = 1;
  for (gsize e = 0; e < n_elements; e++) {
    if (!g_utf8_validate (strings[e], -1, NULL)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "string element %" G_GSIZE_FORMAT " is not valid UTF-8", e);
      return NULL;
    }
    n_units = MAX (n_units, (gsize)g_utf8_strlen (strings[e], -1));
  }
  gsize data_size;
  if (n_units > G_MAXUINT32 / 4 || !g_size_checked_mul (&data_size, n_elements, n_units * 4)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "string tensor is too large for npy");
    return NULL;
  }

  char descr[32];
  g_snprintf (descr, sizeof descr, "<U%" G_GSIZE_FORMAT, n_units);
  gsize data_offset, total_size;
  guint8 *buffer = npy_new_buffer (descr, shape, rank, data_size, &data_offset, &total_size, error);
  if (buffer == NULL)
    return NULL;
  guint8 *out = buffer + data_offset;
  memset (out, 0, data_size);
  for (gsize e = 0; e < n_elements; e++) {
    guint8 *unit = out + e * n_units * 4;
    for (const char *p = strings[e]; *p != '\0'; p = g_utf8_next_char (p), unit += 4) {
      guint32 u = GUINT32_TO_LE (g_utf8_get_char (p));
      memcpy (unit, &u, 4);
    }
  }
  return g_bytes_new_take (buffer, total_size);
}

/**
 * glia_tensor_to_npy:
 * @self: a #GliaTensor in host memory
 * @error: return location for a #GError
 *
 * Serializes @self in NumPy's .npy format (version 1.0, or 2.0 for a header
 * longer than 64 KiB), little-endian and in C order. String tensors become
 * unicode arrays ('<U<n>'); bfloat16 tensors become 2-byte void arrays
 * ('<V2'), which NumPy reads as raw bytes to view as ml_dtypes.bfloat16.
 *
 * Returns: (transfer full): the .npy data, or %NULL with @error set
 *   (%GLIA_ERROR_INVALID_ARGUMENT) if the tensor cannot be serialized.
 */
GBytes *
glia_tensor_to_npy (GliaTensor *self, GError **error)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (glia_tensor_get_device (self) != GLIA_DEVICE_TYPE_CPU) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "tensor is in %s memory; copy it to the host before saving it as npy",
                 glia_device_type_get_name (glia_tensor_get_device (self)));
    return NULL;
  }
  GliaDataType dtype = glia_tensor_get_dtype (self);
  guint rank = 0;
  const gint64 *shape = glia_tensor_get_shape (self, &rank);

  gsize n_elements;
  if (!count_elements (shape, rank, &n_elements)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "tensor shape is invalid for npy");
    return NULL;
  }

  if (dtype == GLIA_DATA_TYPE_STRING)
    return strings_to_npy (self, shape, rank, n_elements, error);

  const char *descr = npy_descr_for (dtype);
  if (descr == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "tensor data type %s has no npy equivalent", glia_data_type_get_name (dtype));
    return NULL;
  }

  gsize data_size = 0;
  const guint8 *data = glia_tensor_peek_data (self, &data_size);
  gsize expected;
  if (!g_size_checked_mul (&expected, n_elements, glia_data_type_get_size (dtype))
      || data_size != expected || (data == NULL && data_size > 0)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "tensor data is not readable in host memory");
    return NULL;
  }

  gsize data_offset, total_size;
  guint8 *buffer = npy_new_buffer (descr, shape, rank, data_size, &data_offset, &total_size, error);
  if (buffer == NULL)
    return NULL;
  guint8 *out = buffer + data_offset;
  if (data_size > 0)
    memcpy (out, data, data_size);
  if (dtype == GLIA_DATA_TYPE_BOOL)
    for (gsize i = 0; i < data_size; i++)
      out[i] = out[i] != 0;
  if (G_BYTE_ORDER == G_BIG_ENDIAN) {
    gsize unit = glia_data_type_get_size (dtype);
    if (dtype == GLIA_DATA_TYPE_COMPLEX64 || dtype == GLIA_DATA_TYPE_COMPLEX128)
      unit /= 2;
    byteswap (out, data_size, unit);
  }
  return g_bytes_new_take (buffer, total_size);
}

/**
 * glia_tensor_save_npy:
 * @self: a #GliaTensor in host memory
 * @path: (type filename): where to write
 * @error: return location for a #GError
 *
 * Writes @self to @path as glia_tensor_to_npy() serializes it. The file is
 * replaced atomically: on failure an existing file at @path is left as it was.
 *
 * Returns: %TRUE on success; %FALSE with @error set (%GLIA_ERROR_IO naming the
 *   file if it cannot be written).
 */
gboolean
glia_tensor_save_npy (GliaTensor *self, const char *path, GError **error)
{
  g_return_val_if_fail (GLIA_IS_TENSOR (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autofree char *display = g_filename_display_name (path);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GBytes) npy = glia_tensor_to_npy (self, &local_error);
  if (npy == NULL) {
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "cannot save %s: ", display);
    return FALSE;
  }
  gsize size;
  const char *data = g_bytes_get_data (npy, &size);
  if (!g_file_set_contents (path, data, size, &local_error)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_IO, "cannot save %s: %s", display,
                 local_error->message);
    return FALSE;
  }
  return TRUE;
}
