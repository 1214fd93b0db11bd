/* test-npy.c: reading and writing tensors as NumPy .npy data.
 *
 * Round trips every data type through glia_tensor_to_npy() and
 * glia_tensor_new_from_npy(), reads files NumPy wrote (made at build time by
 * make-npy-fixtures.py, described by its manifest.txt), has NumPy read files
 * Glia wrote (check-glia-npy.py), and feeds malformed data to the reader.
 */
#include <glia.h>

#include <glib/gstdio.h>
#include <string.h>

/* Every data type, the descr Glia writes for it and the dtype.str NumPy
 * reports when it loads that file. */
static const struct
{
  GliaDataType dtype;
  const char *descr;     /* what Glia writes */
  const char *numpy_str; /* dtype.str of what NumPy loads */
} dtypes[] = {
  { GLIA_DATA_TYPE_FLOAT, "<f4", "<f4" },        { GLIA_DATA_TYPE_UINT8, "|u1", "|u1" },
  { GLIA_DATA_TYPE_INT8, "|i1", "|i1" },         { GLIA_DATA_TYPE_UINT16, "<u2", "<u2" },
  { GLIA_DATA_TYPE_INT16, "<i2", "<i2" },        { GLIA_DATA_TYPE_INT32, "<i4", "<i4" },
  { GLIA_DATA_TYPE_INT64, "<i8", "<i8" },        { GLIA_DATA_TYPE_STRING, "<U", "<U" },
  { GLIA_DATA_TYPE_BOOL, "|b1", "|b1" },         { GLIA_DATA_TYPE_FLOAT16, "<f2", "<f2" },
  { GLIA_DATA_TYPE_DOUBLE, "<f8", "<f8" },       { GLIA_DATA_TYPE_UINT32, "<u4", "<u4" },
  { GLIA_DATA_TYPE_UINT64, "<u8", "<u8" },       { GLIA_DATA_TYPE_COMPLEX64, "<c8", "<c8" },
  { GLIA_DATA_TYPE_COMPLEX128, "<c16", "<c16" }, { GLIA_DATA_TYPE_BFLOAT16, "<V2", "|V2" },
};

static const char *const sample_strings[] = {
  "",          "a", "h\xc3\xa9llo",  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xf0\x9f\x98\x80",
  "tab\there", "x", "longer string", "z",
};

static gsize
n_elements_of (const gint64 *shape, guint rank)
{
  gsize n = 1;
  for (guint i = 0; i < rank; i++)
    n *= (gsize)shape[i];
  return n;
}

/* A tensor of @dtype with deterministic contents: random bytes (so every bit
 * of every element travels), 0/1 for booleans, sample strings for strings. */
static GliaTensor *
make_tensor (GliaDataType dtype, const gint64 *shape, guint rank, guint32 seed)
{
  g_autoptr (GError) error = NULL;
  gsize n = n_elements_of (shape, rank);
  GliaTensor *tensor;

  if (dtype == GLIA_DATA_TYPE_STRING) {
    g_autofree const char **strings = g_new0 (const char *, n + 1);
    for (gsize i = 0; i < n; i++)
      strings[i] = sample_strings[(i + seed) % G_N_ELEMENTS (sample_strings)];
    tensor = glia_tensor_new_from_strings (shape, rank, strings, n, &error);
  } else {
    gsize size = n * glia_data_type_get_size (dtype);
    guint8 *data = g_malloc (MAX (size, 1));
    g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
    for (gsize i = 0; i < size; i++)
      data[i] = dtype == GLIA_DATA_TYPE_BOOL ? g_rand_int_range (rand, 0, 2)
                                             : g_rand_int_range (rand, 0, 256);
    g_autoptr (GBytes) bytes = g_bytes_new_take (data, size);
    tensor = glia_tensor_new (dtype, shape, rank, bytes, &error);
  }
  g_assert_no_error (error);
  g_assert_nonnull (tensor);
  return tensor;
}

static void
assert_same_tensor (GliaTensor *expected, GliaTensor *actual)
{
  g_assert_nonnull (actual);
  g_assert_cmpint (glia_tensor_get_dtype (actual), ==, glia_tensor_get_dtype (expected));
  guint rank_e = 0, rank_a = 0;
  const gint64 *shape_e = glia_tensor_get_shape (expected, &rank_e);
  const gint64 *shape_a = glia_tensor_get_shape (actual, &rank_a);
  g_assert_cmpuint (rank_a, ==, rank_e);
  for (guint i = 0; i < rank_e; i++)
    g_assert_cmpint (shape_a[i], ==, shape_e[i]);

  if (glia_tensor_get_dtype (expected) == GLIA_DATA_TYPE_STRING) {
    g_auto (GStrv) se = glia_tensor_get_strings (expected);
    g_auto (GStrv) sa = glia_tensor_get_strings (actual);
    gsize n = n_elements_of (shape_e, rank_e);
    for (gsize i = 0; i < n; i++)
      g_assert_cmpstr (sa[i], ==, se[i]);
  } else {
    gsize size_e = 0, size_a = 0;
    const guint8 *de = glia_tensor_peek_data (expected, &size_e);
    const guint8 *da = glia_tensor_peek_data (actual, &size_a);
    g_assert_cmpmem (da, size_a, de, size_e);
  }
}

/* .npy data from a header dict and raw data, with a correct length field. */
static GBytes *
make_npy (guint major, const char *header, const void *data, gsize data_size)
{
  g_autoptr (GByteArray) npy = g_byte_array_new ();
  guint8 prefix[12] = { 0x93, 'N', 'U', 'M', 'P', 'Y', major, 0 };
  gsize len = strlen (header);
  guint prefix_len = major == 1 ? 10 : 12;
  for (guint i = 8; i < prefix_len; i++)
    prefix[i] = (len >> (8 * (i - 8))) & 0xff;
  g_byte_array_append (npy, prefix, prefix_len);
  g_byte_array_append (npy, (const guint8 *)header, len);
  if (data_size > 0)
    g_byte_array_append (npy, data, data_size);
  return g_byte_array_free_to_bytes (g_steal_pointer (&npy));
}

static GliaTensor *
read_npy (guint major, const char *header, const void *data, gsize data_size, GError **error)
{
  g_autoptr (GBytes) npy = make_npy (major, header, data, data_size);
  return glia_tensor_new_from_npy (npy, error);
}

static void
test_roundtrip_all_dtypes (void)
{
  static const struct
  {
    guint rank;
    gint64 shape[3];
  } shapes[]
      = { { 3, { 2, 3, 4 } }, { 0, { 0 } }, { 1, { 7 } }, { 2, { 0, 3 } }, { 3, { 2, 1, 0 } } };

  for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++)
    for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
      g_autoptr (GError) error = NULL;
      g_test_message ("%s, rank %u", glia_data_type_get_name (dtypes[d].dtype), shapes[s].rank);
      g_autoptr (GliaTensor) tensor
          = make_tensor (dtypes[d].dtype, shapes[s].shape, shapes[s].rank, d * 31 + s);
      g_autoptr (GBytes) npy = glia_tensor_to_npy (tensor, &error);
      g_assert_no_error (error);
      g_autoptr (GliaTensor) back = glia_tensor_new_from_npy (npy, &error);
      g_assert_no_error (error);
      assert_same_tensor (tensor, back);
    }
}

/* Every data type Glia has is covered by the table above. */
static void
test_all_dtypes_covered (void)
{
  for (guint t = GLIA_DATA_TYPE_UNDEFINED + 1; t <= GLIA_DATA_TYPE_LAST; t++) {
    gboolean found = FALSE;
    for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++)
      found |= dtypes[d].dtype == t;
    g_assert_true (found);
  }
}

static void
test_roundtrip_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("glia-npy-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (dir, "t.npy", NULL);
  const gint64 shape[] = { 4, 5 };

  g_autoptr (GliaTensor) tensor = make_tensor (GLIA_DATA_TYPE_DOUBLE, shape, 2, 7);
  g_assert_true (glia_tensor_save_npy (tensor, path, &error));
  g_assert_no_error (error);
  g_autoptr (GliaTensor) back = glia_tensor_new_from_npy_file (path, &error);
  g_assert_no_error (error);
  assert_same_tensor (tensor, back);

  g_autoptr (GliaTensor) strings = make_tensor (GLIA_DATA_TYPE_STRING, shape, 2, 3);
  g_assert_true (glia_tensor_save_npy (strings, path, &error));
  g_assert_no_error (error);
  g_autoptr (GliaTensor) strings_back = glia_tensor_new_from_npy_file (path, &error);
  g_assert_no_error (error);
  assert_same_tensor (strings, strings_back);

  g_remove (path);
  g_rmdir (dir);
}

/* The exact bytes NumPy's own writer would produce for a float32 [2, 3]. */
static void
test_write_layout (void)
{
  g_autoptr (GError) error = NULL;
  const gint64 shape[] = { 2, 3 };
  g_autoptr (GliaTensor) tensor = make_tensor (GLIA_DATA_TYPE_FLOAT, shape, 2, 1);
  g_autoptr (GBytes) npy = glia_tensor_to_npy (tensor, &error);
  g_assert_no_error (error);

  gsize size;
  const guint8 *bytes = g_bytes_get_data (npy, &size);
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  g_assert_cmpuint (size, ==, 128 + 24);
  g_assert_cmpmem (bytes, 8, "\x93NUMPY\x01\x00", 8);
  g_assert_cmpuint (bytes[8] | bytes[9] << 8, ==, 118);
  g_assert_cmpmem (bytes + 10, strlen (dict), dict, strlen (dict));
  for (gsize i = 10 + strlen (dict); i < 127; i++)
    g_assert_cmpint (bytes[i], ==, ' ');
  g_assert_cmpint (bytes[127], ==, '\n');

  gsize data_size;
  const guint8 *data = glia_tensor_peek_data (tensor, &data_size);
  g_assert_cmpmem (bytes + 128, size - 128, data, data_size);
}

static char *
header_of (GBytes *npy)
{
  gsize size;
  const guint8 *bytes = g_bytes_get_data (npy, &size);
  g_assert_cmpuint (size, >=, 10);
  gsize len = bytes[8] | bytes[9] << 8;
  g_assert_cmpuint (size, >=, 10 + len);
  g_assert_cmpuint ((10 + len) % 64, ==, 0);
  return g_strndup ((const char *)bytes + 10, len);
}

static void
test_write_descr (void)
{
  const gint64 scalar_shape[1] = { 0 };
  const gint64 shape[] = { 3 };
  for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GliaTensor) tensor = make_tensor (dtypes[d].dtype, shape, 1, 0);
    g_autoptr (GBytes) npy = glia_tensor_to_npy (tensor, &error);
    g_assert_no_error (error);
    g_autofree char *header = header_of (npy);
    g_autofree char *expected
        = g_strdup_printf ("{'descr': '%s%s', 'fortran_order': False, 'shape': (3,), }",
                           dtypes[d].descr, dtypes[d].dtype == GLIA_DATA_TYPE_STRING ? "5" : "");
    g_assert_true (g_str_has_prefix (header, expected));

    g_autoptr (GliaTensor) scalar = make_tensor (dtypes[d].dtype, scalar_shape, 0, 0);
    g_autoptr (GBytes) scalar_npy = glia_tensor_to_npy (scalar, &error);
    g_assert_no_error (error);
    g_autofree char *scalar_header = header_of (scalar_npy);
    g_assert_nonnull (strstr (scalar_header, "'shape': (), }"));
  }
}

/* Strings are measured in code points ("héllo" is 5 of them in 6 bytes),
 * stored as little-endian UCS-4, and an all-empty tensor is '<U1'. */
static void
test_write_strings (void)
{
  g_autoptr (GError) error = NULL;
  const char *strings[] = { "h\xc3\xa9llo", "" };
  const gint64 shape[] = { 2 };
  g_autoptr (GliaTensor) tensor = glia_tensor_new_from_strings (shape, 1, strings, 2, &error);
  g_assert_no_error (error);
  g_autoptr (GBytes) npy = glia_tensor_to_npy (tensor, &error);
  g_assert_no_error (error);
  gsize size;
  const guint8 *bytes = g_bytes_get_data (npy, &size);
  g_assert_cmpuint (size, ==, 128 + 2 * 5 * 4);
  static const guint8 expected[40]
      = { 'h', 0, 0, 0, 0xe9, 0, 0, 0, 'l', 0, 0, 0, 'l', 0, 0, 0, 'o', 0, 0, 0 };
  g_assert_cmpmem (bytes + 128, 40, expected, 40);

  const char *empty[] = { "", "" };
  g_autoptr (GliaTensor) empty_tensor = glia_tensor_new_from_strings (shape, 1, empty, 2, &error);
  g_assert_no_error (error);
  g_autoptr (GBytes) empty_npy = glia_tensor_to_npy (empty_tensor, &error);
  g_assert_no_error (error);
  g_autofree char *header = header_of (empty_npy);
  g_assert_true (g_str_has_prefix (header, "{'descr': '<U1',"));

  const char *invalid[] = { "ok", "\xff" };
  g_autoptr (GliaTensor) invalid_tensor
      = glia_tensor_new_from_strings (shape, 1, invalid, 2, &error);
  g_assert_no_error (error);
  g_autoptr (GBytes) invalid_npy = glia_tensor_to_npy (invalid_tensor, &error);
  g_assert_null (invalid_npy);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "element 1 is not valid UTF-8"));
}

static void
test_bool_normalized (void)
{
  g_autoptr (GError) error = NULL;
  const gint64 shape[] = { 4 };
  const guint8 raw[] = { 0, 1, 2, 255 };
  const guint8 normalized[] = { 0, 1, 1, 1 };

  g_autoptr (GBytes) bytes = g_bytes_new (raw, sizeof raw);
  g_autoptr (GliaTensor) tensor = glia_tensor_new (GLIA_DATA_TYPE_BOOL, shape, 1, bytes, &error);
  g_assert_no_error (error);
  g_autoptr (GBytes) npy = glia_tensor_to_npy (tensor, &error);
  g_assert_no_error (error);
  gsize size;
  const guint8 *npy_bytes = g_bytes_get_data (npy, &size);
  g_assert_cmpmem (npy_bytes + 128, size - 128, normalized, sizeof normalized);

  g_autoptr (GliaTensor) back
      = read_npy (1, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,)}", raw, 4, &error);
  g_assert_no_error (error);
  gsize back_size;
  const guint8 *back_data = glia_tensor_peek_data (back, &back_size);
  g_assert_cmpmem (back_data, back_size, normalized, sizeof normalized);
}

/* A header too long for version 1.0's 16-bit length is written as 2.0; that
 * takes thousands of dimensions, so it only runs if tensors allow them. */
static void
test_write_version_2 (void)
{
  g_autoptr (GError) error = NULL;
  guint rank = 7000;
  g_autofree gint64 *shape = g_new (gint64, rank);
  for (guint i = 0; i < rank; i++)
    shape[i] = 1;
  guint8 one = 3;
  g_autoptr (GBytes) bytes = g_bytes_new (&one, 1);
  g_autoptr (GliaTensor) tensor
      = glia_tensor_new (GLIA_DATA_TYPE_UINT8, shape, rank, bytes, &error);
  if (tensor == NULL) {
    g_test_skip ("tensors cannot have enough dimensions for a version 2.0 header");
    return;
  }
  g_autoptr (GBytes) npy = glia_tensor_to_npy (tensor, &error);
  g_assert_no_error (error);
  gsize size;
  const guint8 *data = g_bytes_get_data (npy, &size);
  g_assert_cmpint (data[6], ==, 2);
  gsize len = data[8] | data[9] << 8 | data[10] << 16 | (gsize)data[11] << 24;
  g_assert_cmpuint (len, >, G_MAXUINT16);
  g_assert_cmpuint ((12 + len) % 64, ==, 0);
  g_autoptr (GliaTensor) back = glia_tensor_new_from_npy (npy, &error);
  g_assert_no_error (error);
  assert_same_tensor (tensor, back);
}

static void
assert_int32_values (GliaTensor *tensor, const gint32 *expected, gsize n)
{
  g_assert_nonnull (tensor);
  g_assert_cmpint (glia_tensor_get_dtype (tensor), ==, GLIA_DATA_TYPE_INT32);
  gsize size;
  const guint8 *data = glia_tensor_peek_data (tensor, &size);
  g_assert_cmpmem (data, size, expected, n * sizeof (gint32));
}

/* Conversions checked without NumPy: Fortran order, big-endian, and the header
 * spellings a strict parser must still accept. */
static void
test_read_conversions (void)
{
  g_autoptr (GError) error = NULL;
  const gint32 c_order[] = { 0, 1, 2, 3, 4, 5 };
  const gint32 f_order[] = { 0, 3, 1, 4, 2, 5 };
  const gint32 expected_3d[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
  /* shape (2, 3, 2) in Fortran order: element [i][j][k] at i + 2j + 6k. */
  gint32 f_3d[12];
  for (gint i = 0; i < 2; i++)
    for (gint j = 0; j < 3; j++)
      for (gint k = 0; k < 2; k++)
        f_3d[i + 2 * j + 6 * k] = i * 6 + j * 2 + k;

  g_autoptr (GliaTensor) t1 = read_npy (
      1, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", f_order, 24, &error);
  g_assert_no_error (error);
  assert_int32_values (t1, c_order, 6);

  g_autoptr (GliaTensor) t2 = read_npy (
      1, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 2), }", f_3d, 48, &error);
  g_assert_no_error (error);
  assert_int32_values (t2, expected_3d, 12);

  gint32 big[6];
  for (guint i = 0; i < 6; i++)
    big[i] = GINT32_TO_BE (c_order[i]);
  g_autoptr (GliaTensor) t3 = read_npy (
      1, "{'descr': '>i4', 'fortran_order': False, 'shape': (2, 3), }", big, 24, &error);
  g_assert_no_error (error);
  assert_int32_values (t3, c_order, 6);

  static const char *const spellings[] = {
    "{'descr': '<i4', 'fortran_order': False, 'shape': (6,), }",
    "{'descr':'<i4','fortran_order':False,'shape':(6,)}",
    "{\"shape\": (6,), \"descr\": \"<i4\", \"fortran_order\": False}\n",
    "  { 'fortran_order' : False , 'shape' : ( 6L , ) , 'descr' : '<i4' , }  \n",
    "{'descr': 'i4', 'fortran_order': False, 'shape': (6,), }",
    "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 6,), }",
  };
  for (guint major = 1; major <= 3; major++)
    for (guint i = 0; i < G_N_ELEMENTS (spellings); i++) {
      g_test_message ("version %u: %s", major, spellings[i]);
      g_autoptr (GliaTensor) t = read_npy (major, spellings[i], c_order, 24, &error);
      g_assert_no_error (error);
      assert_int32_values (t, c_order, 6);
    }

  /* Big-endian unicode, complex and bfloat16 ('>V2') swap per unit. */
  const guint8 be_string[] = { 0, 0, 0, 'h', 0, 0, 0, 0xe9, 0, 1, 0xf6, 0, 0, 0, 0, 0 };
  g_autoptr (GliaTensor) t4 = read_npy (
      1, "{'descr': '>U2', 'fortran_order': False, 'shape': (2,), }", be_string, 16, &error);
  g_assert_no_error (error);
  g_auto (GStrv) strings = glia_tensor_get_strings (t4);
  g_assert_cmpstr (strings[0], ==, "h\xc3\xa9");
  g_assert_cmpstr (strings[1], ==, "\xf0\x9f\x98\x80");

  const guint8 be_c8[] = { 0x3f, 0x80, 0, 0, 0x40, 0, 0, 0 };
  const gfloat c8[] = { 1.0f, 2.0f };
  g_autoptr (GliaTensor) t5
      = read_npy (1, "{'descr': '>c8', 'fortran_order': False, 'shape': ()}", be_c8, 8, &error);
  g_assert_no_error (error);
  g_assert_cmpint (glia_tensor_get_dtype (t5), ==, GLIA_DATA_TYPE_COMPLEX64);
  g_assert_cmpuint (glia_tensor_get_rank (t5), ==, 0);
  gsize size;
  const guint8 *data = glia_tensor_peek_data (t5, &size);
  g_assert_cmpmem (data, size, c8, sizeof c8);

  const guint8 be_bf16[] = { 0x3f, 0x80 };
  const guint16 bf16 = 0x3f80;
  g_autoptr (GliaTensor) t6 = read_npy (
      1, "{'descr': '>V2', 'fortran_order': False, 'shape': (1,), }", be_bf16, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (glia_tensor_get_dtype (t6), ==, GLIA_DATA_TYPE_BFLOAT16);
  data = glia_tensor_peek_data (t6, &size);
  g_assert_cmpmem (data, size, &bf16, 2);
}

/* Aligned data is used in place; data that is not 16-byte aligned is copied
 * so the tensor's elements are aligned. */
static void
test_read_alignment (void)
{
  g_autoptr (GError) error = NULL;
  const gdouble values[] = { 1.5, -2.25, 1e300 };
  g_autoptr (GBytes) npy
      = make_npy (1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", values, 24);
  gsize size;
  const guint8 *bytes = g_bytes_get_data (npy, &size);
  g_autofree guint8 *buffer = g_malloc (size + 256);
  guint8 *aligned = buffer + (64 - (guintptr)buffer % 64) % 64;
  gsize header_size = size - sizeof values;

  for (guint shift = 0; shift < 16; shift++) {
    /* Places the data at an address that is @shift bytes past a 64-byte boundary. */
    guint8 *start = aligned + 64 - header_size % 64 + shift;
    memcpy (start, bytes, size);
    g_autoptr (GBytes) shifted_npy = g_bytes_new_static (start, size);
    g_autoptr (GliaTensor) tensor = glia_tensor_new_from_npy (shifted_npy, &error);
    g_assert_no_error (error);
    gsize data_size;
    const guint8 *data = glia_tensor_peek_data (tensor, &data_size);
    g_assert_cmpmem (data, data_size, values, sizeof values);
    g_assert_cmpuint ((guintptr)data % 16, ==, 0);
    if (shift == 0)
      g_assert_true (data == start + header_size);
  }
}

static void
assert_invalid (GBytes *npy, const char *message_part)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaTensor) tensor = glia_tensor_new_from_npy (npy, &error);
  g_assert_null (tensor);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s", error->message);
  if (strstr (error->message, message_part) == NULL)
    g_error ("expected \"%s\" in \"%s\"", message_part, error->message);
}

static void
test_read_malformed (void)
{
  static const guint8 zeros[64] = { 0 };
  static const struct
  {
    const char *header;
    gsize data_size;
    const char *message_part;
  } cases[] = {
    { "", 0, "expected '{'" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 4, "needs 8" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12, "needs 8" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 0, "negative" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0,
      "dimension too large" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551618,), }", 8,
      "dimension too large" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808,), }", 8,
      "dimension too large" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0,
      "overflows" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (3074457345618258603,), }", 0,
      "overflows" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", 8, "tuple" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8, "tuple" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,), }", 8, "dimension" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", 8, "expected ','" },
    { "{'descr': '<f3', 'fortran_order': False, 'shape': (2,), }", 6, "'<f3'" },
    { "{'descr': '<x4', 'fortran_order': False, 'shape': (2,), }", 8, "'<x4'" },
    { "{'descr': '<f4x', 'fortran_order': False, 'shape': (2,), }", 8, "'<f4x'" },
    { "{'descr': '<f', 'fortran_order': False, 'shape': (2,), }", 8, "'<f'" },
    { "{'descr': '', 'fortran_order': False, 'shape': (2,), }", 8, "descr ''" },
    { "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, "object" },
    { "{'descr': '|S4', 'fortran_order': False, 'shape': (2,), }", 8, "'|S4'" },
    { "{'descr': '<U0', 'fortran_order': False, 'shape': (2,), }", 0, "'<U0'" },
    { "{'descr': '|V4', 'fortran_order': False, 'shape': (2,), }", 8, "'|V4'" },
    { "{'descr': '<M8[s]', 'fortran_order': False, 'shape': (2,), }", 16, "'<M8[s]'" },
    { "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, "structured" },
    { "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 8, "True or False" },
    { "{'descr': '<f4', 'shape': (2,), }", 8, "'fortran_order' is missing" },
    { "{'descr': '<f4', 'fortran_order': False}", 8, "'shape' is missing" },
    { "{'fortran_order': False, 'shape': (2,)}", 8, "'descr' is missing" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, "unexpected key 'x'" },
    { "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, "twice" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8, "after '}'" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (2,) 'a'}", 8, "expected ','" },
    { "{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", 8, "not a supported" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", 8, "expected ',' or '}'" },
    { "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}", 8, "character" },
    { "{'descr': '<f4', 'fortran_order': False, 'sha\xc3\xa9': (2,)}", 8, "character" },
    { "{'descr': '<f4', 'fortran_order': Fals, 'shape': (2,)}", 8, "True or False" },
    { "{descr: '<f4', 'fortran_order': False, 'shape': (2,)}", 8, "quoted string" },
    /* More dimensions than a tensor can have: the tensor's own error, prefixed. */
    { "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
      "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)}",
      1, "npy data: " },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_test_message ("case %u: %s", i, cases[i].header);
    g_autoptr (GBytes) npy = make_npy (1, cases[i].header, zeros, cases[i].data_size);
    assert_invalid (npy, cases[i].message_part);
  }

  /* Header with a NUL byte. */
  const char nul_header[] = "{'descr': '<f4',\0 'fortran_order': False, 'shape': (2,)}";
  g_autoptr (GByteArray) with_nul = g_byte_array_new ();
  g_byte_array_append (with_nul, (const guint8 *)"\x93NUMPY\x01\x00", 8);
  guint8 len[2] = { sizeof nul_header - 1, 0 };
  g_byte_array_append (with_nul, len, 2);
  g_byte_array_append (with_nul, (const guint8 *)nul_header, sizeof nul_header - 1);
  g_byte_array_append (with_nul, zeros, 8);
  g_autoptr (GBytes) nul_npy = g_byte_array_free_to_bytes (g_steal_pointer (&with_nul));
  assert_invalid (nul_npy, "malformed npy header");

  /* Unicode data that is not valid. */
  const guint32 surrogate[] = { 'a', 0xd800 };
  g_autoptr (GBytes) bad_unicode
      = make_npy (1, "{'descr': '<U2', 'fortran_order': False, 'shape': (1,), }", surrogate, 8);
  assert_invalid (bad_unicode, "invalid code point (U+D800)");
  const guint32 too_big[] = { 0x110000 };
  g_autoptr (GBytes) bad_unicode2
      = make_npy (1, "{'descr': '<U1', 'fortran_order': False, 'shape': (1,), }", too_big, 4);
  assert_invalid (bad_unicode2, "invalid code point");
  const guint32 inner_nul[] = { 'a', 0, 'b', 0 };
  g_autoptr (GBytes) bad_unicode3
      = make_npy (1, "{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", inner_nul, 16);
  assert_invalid (bad_unicode3, "NUL");

  /* The fixed prefix. */
  static const struct
  {
    const char *bytes;
    gsize size;
    const char *message_part;
  } raw[] = {
    { "", 0, "bad magic" },
    { "\x93NUMP", 5, "truncated" },
    { "\x93NUMPX\x01\x00\x00\x00", 10, "bad magic" },
    { "PK\x03\x04\x14\x00\x00\x00\x00\x00", 10, "bad magic" },
    { "\x93NUMPY", 6, "truncated" },
    { "\x93NUMPY\x01\x00", 8, "truncated" },
    { "\x93NUMPY\x01\x00\x10", 9, "truncated" },
    { "\x93NUMPY\x02\x00\x10\x00\x00", 11, "truncated" },
    { "\x93NUMPY\x01\x00\x10\x00{}", 12, "runs past the end" },
    { "\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14, "runs past the end" },
    { "\x93NUMPY\x04\x00\x02\x00{}", 12, "version 4.0" },
    { "\x93NUMPY\x01\x01\x02\x00{}", 12, "version 1.1" },
    { "\x93NUMPY\x00\x00\x02\x00{}", 12, "version 0.0" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (raw); i++) {
    g_test_message ("raw case %u", i);
    g_autoptr (GBytes) npy = g_bytes_new_static (raw[i].bytes, raw[i].size);
    assert_invalid (npy, raw[i].message_part);
  }
}

/* Every truncation of a valid file is an error, and corrupting any header
 * byte gives an error or a valid tensor, never a crash. */
static void
test_read_damaged (void)
{
  const gint64 shape[] = { 3, 2 };
  for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GliaTensor) tensor = make_tensor (dtypes[d].dtype, shape, 2, d);
    g_autoptr (GBytes) npy = glia_tensor_to_npy (tensor, &error);
    g_assert_no_error (error);
    gsize size;
    const guint8 *bytes = g_bytes_get_data (npy, &size);

    for (gsize cut = 0; cut < size; cut++) {
      g_autoptr (GBytes) part = g_bytes_new (bytes, cut);
      g_autoptr (GError) cut_error = NULL;
      g_autoptr (GliaTensor) t = glia_tensor_new_from_npy (part, &cut_error);
      g_assert_null (t);
      g_assert_error (cut_error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
    }

    g_autofree guint8 *copy = g_memdup2 (bytes, size);
    static const guint8 values[] = { 0, ' ', '\'', '(', ')', ',', '1', '9', '-', 'L', 0xff };
    for (gsize pos = 0; pos < 128; pos++)
      for (guint v = 0; v < G_N_ELEMENTS (values); v++) {
        guint8 saved = copy[pos];
        copy[pos] = values[v];
        g_autoptr (GBytes) damaged = g_bytes_new_static (copy, size);
        g_autoptr (GError) damaged_error = NULL;
        g_autoptr (GliaTensor) t = glia_tensor_new_from_npy (damaged, &damaged_error);
        if (t == NULL)
          g_assert_error (damaged_error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
        copy[pos] = saved;
      }
  }
}

static void
test_file_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("glia-npy-XXXXXX", &error);
  g_assert_no_error (error);

  g_autofree char *missing = g_build_filename (dir, "missing.npy", NULL);
  g_autoptr (GliaTensor) t1 = glia_tensor_new_from_npy_file (missing, &error);
  g_assert_null (t1);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_IO);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  g_autofree char *bad = g_build_filename (dir, "bad.npy", NULL);
  const char *bad_contents = "\x93NUMPY\x01\x00\x05\x00{'a'}";
  g_assert_true (g_file_set_contents (bad, bad_contents, 15, NULL));
  g_autoptr (GliaTensor) t2 = glia_tensor_new_from_npy_file (bad, &error);
  g_assert_null (t2);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, bad));
  g_clear_error (&error);

  g_autoptr (GliaTensor) t3 = glia_tensor_new_from_npy_file (dir, &error);
  g_assert_null (t3);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_IO);
  g_clear_error (&error);

  const gint64 shape[] = { 2 };
  g_autoptr (GliaTensor) tensor = make_tensor (GLIA_DATA_TYPE_FLOAT, shape, 1, 0);
  g_autofree char *unwritable = g_build_filename (dir, "no-such-dir", "out.npy", NULL);
  g_assert_false (glia_tensor_save_npy (tensor, unwritable, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_IO);
  g_assert_nonnull (strstr (error->message, unwritable));
  g_clear_error (&error);

  g_remove (bad);
  g_rmdir (dir);
}

#ifdef GLIA_TEST_PYTHON

/* Reads the fixtures NumPy wrote. manifest.txt has one line per fixture:
 * "<stem> <glia dtype name> <dims separated by commas, or - for a scalar>";
 * <stem>.bin holds the expected data in C order, little-endian (for strings:
 * the UTF-8 strings, each followed by a NUL). */
static void
test_read_numpy_fixtures (void)
{
  g_autoptr (GError) error = NULL;
  const char *manifest_path = g_test_get_filename (G_TEST_BUILT, "npy", "manifest.txt", NULL);
  g_autofree char *manifest = NULL;
  g_assert_true (g_file_get_contents (manifest_path, &manifest, NULL, &error));
  g_assert_no_error (error);

  g_auto (GStrv) lines = g_strsplit (manifest, "\n", -1);
  guint n_checked = 0;
  for (guint l = 0; lines[l] != NULL; l++) {
    if (lines[l][0] == '\0')
      continue;
    g_auto (GStrv) fields = g_strsplit (lines[l], " ", -1);
    g_assert_cmpuint (g_strv_length (fields), ==, 3);
    g_test_message ("fixture %s", fields[0]);

    g_autofree char *npy_name = g_strconcat (fields[0], ".npy", NULL);
    g_autofree char *bin_name = g_strconcat (fields[0], ".bin", NULL);
    const char *npy_path = g_test_get_filename (G_TEST_BUILT, "npy", npy_name, NULL);
    g_autoptr (GliaTensor) tensor = glia_tensor_new_from_npy_file (npy_path, &error);
    g_assert_no_error (error);

    GliaDataType dtype = glia_data_type_from_name (fields[1]);
    g_assert_cmpint (dtype, !=, GLIA_DATA_TYPE_UNDEFINED);
    g_assert_cmpint (glia_tensor_get_dtype (tensor), ==, dtype);

    guint rank;
    const gint64 *shape = glia_tensor_get_shape (tensor, &rank);
    g_auto (GStrv) dims
        = g_str_equal (fields[2], "-") ? g_new0 (char *, 1) : g_strsplit (fields[2], ",", -1);
    g_assert_cmpuint (rank, ==, g_strv_length (dims));
    for (guint i = 0; i < rank; i++)
      g_assert_cmpint (shape[i], ==, g_ascii_strtoll (dims[i], NULL, 10));

    g_autofree char *expected = NULL;
    gsize expected_size;
    g_assert_true (g_file_get_contents (g_test_get_filename (G_TEST_BUILT, "npy", bin_name, NULL),
                                        &expected, &expected_size, &error));
    g_assert_no_error (error);

    if (dtype == GLIA_DATA_TYPE_STRING) {
      g_auto (GStrv) strings = glia_tensor_get_strings (tensor);
      gsize offset = 0;
      for (gsize i = 0; i < glia_tensor_get_n_elements (tensor); i++) {
        g_assert_cmpuint (offset, <, expected_size);
        g_assert_cmpstr (strings[i], ==, expected + offset);
        offset += strlen (expected + offset) + 1;
      }
      g_assert_cmpuint (offset, ==, expected_size);
    } else {
      gsize size;
      const guint8 *data = glia_tensor_peek_data (tensor, &size);
      g_assert_cmpmem (data, size, expected, expected_size);
    }
    n_checked++;
  }
  g_assert_cmpuint (n_checked, >=, 30);
}

/* Writes one tensor per case and a manifest, then lets NumPy check them. */
static void
test_numpy_reads_glia (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("glia-npy-XXXXXX", &error);
  g_assert_no_error (error);
  g_autoptr (GString) manifest = g_string_new (NULL);
  g_autoptr (GPtrArray) written = g_ptr_array_new_with_free_func (g_free);

  static const struct
  {
    guint rank;
    gint64 shape[3];
  } shapes[] = { { 2, { 3, 4 } }, { 0, { 0 } }, { 2, { 0, 5 } }, { 3, { 2, 1, 3 } } };
  for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++)
    for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
      GliaDataType dtype = dtypes[d].dtype;
      g_autoptr (GliaTensor) tensor
          = make_tensor (dtype, shapes[s].shape, shapes[s].rank, d * 7 + s);
      g_autofree char *stem = g_strdup_printf ("%s-%u", glia_data_type_get_name (dtype), s);
      char *npy_path = g_strdup_printf ("%s/%s.npy", dir, stem);
      char *bin_path = g_strdup_printf ("%s/%s.bin", dir, stem);
      g_ptr_array_add (written, npy_path);
      g_ptr_array_add (written, bin_path);
      g_assert_true (glia_tensor_save_npy (tensor, npy_path, &error));
      g_assert_no_error (error);

      g_autoptr (GByteArray) expected = g_byte_array_new ();
      gsize n = n_elements_of (shapes[s].shape, shapes[s].rank);
      g_autofree char *numpy_str = NULL;
      if (dtype == GLIA_DATA_TYPE_STRING) {
        g_auto (GStrv) strings = glia_tensor_get_strings (tensor);
        glong longest = 1;
        for (gsize i = 0; i < n; i++) {
          g_byte_array_append (expected, (const guint8 *)strings[i], strlen (strings[i]) + 1);
          longest = MAX (longest, g_utf8_strlen (strings[i], -1));
        }
        numpy_str = g_strdup_printf ("<U%ld", longest);
      } else {
        gsize size;
        const guint8 *data = glia_tensor_peek_data (tensor, &size);
        g_byte_array_append (expected, data, size);
        numpy_str = g_strdup (dtypes[d].numpy_str);
      }
      g_assert_true (
          g_file_set_contents (bin_path, (const char *)expected->data, expected->len, &error));
      g_assert_no_error (error);

      g_string_append_printf (manifest, "%s %s ", stem, numpy_str);
      for (guint i = 0; i < shapes[s].rank; i++)
        g_string_append_printf (manifest, "%s%" G_GINT64_FORMAT, i ? "," : "", shapes[s].shape[i]);
      g_string_append (manifest, shapes[s].rank == 0 ? "-\n" : "\n");
    }
  char *manifest_path = g_build_filename (dir, "manifest.txt", NULL);
  g_ptr_array_add (written, manifest_path);
  g_assert_true (g_file_set_contents (manifest_path, manifest->str, -1, &error));
  g_assert_no_error (error);

  const char *script = g_test_get_filename (G_TEST_DIST, "npy", "check-glia-npy.py", NULL);
  const char *argv[] = { GLIA_TEST_PYTHON, script, dir, NULL };
  g_autofree char *out = NULL, *err = NULL;
  gint status;
  g_assert_true (g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, &error));
  g_assert_no_error (error);
  g_test_message ("%s%s", out, err);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("check-glia-npy.py failed: %s\n%s%s", error->message, out, err);
  g_assert_nonnull (strstr (out, "all files match"));

  for (guint i = 0; i < written->len; i++)
    g_remove (written->pdata[i]);
  g_rmdir (dir);
}

#endif

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/npy/dtypes-covered", test_all_dtypes_covered);
  g_test_add_func ("/npy/roundtrip/all-dtypes", test_roundtrip_all_dtypes);
  g_test_add_func ("/npy/roundtrip/file", test_roundtrip_file);
  g_test_add_func ("/npy/write/layout", test_write_layout);
  g_test_add_func ("/npy/write/descr", test_write_descr);
  g_test_add_func ("/npy/write/strings", test_write_strings);
  g_test_add_func ("/npy/write/version-2", test_write_version_2);
  g_test_add_func ("/npy/bool-normalized", test_bool_normalized);
  g_test_add_func ("/npy/read/conversions", test_read_conversions);
  g_test_add_func ("/npy/read/alignment", test_read_alignment);
  g_test_add_func ("/npy/read/malformed", test_read_malformed);
  g_test_add_func ("/npy/read/damaged", test_read_damaged);
  g_test_add_func ("/npy/file-errors", test_file_errors);
#ifdef GLIA_TEST_PYTHON
  g_test_add_func ("/npy/read/numpy-fixtures", test_read_numpy_fixtures);
  g_test_add_func ("/npy/numpy-reads-glia", test_numpy_reads_glia);
#endif

  return g_test_run ();
}
