/* test-onnx-loader.c: the ONNX loader plugin, driven through the public host
 * API (registry -> model -> graph) on files written by make-test-models.py.
 */
#include <glia.h>
#include <glia-graph.h>

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

static GliaRegistry *registry;

static char *
model_path (const char *name)
{
  return g_test_build_filename (G_TEST_BUILT, "onnx", "models", name, NULL);
}

static GliaModel *
load_model (const char *name, GError **error)
{
  g_autofree char *path = model_path (name);
  return glia_model_new_from_file_full (path, registry, error);
}

static GliaModel *
load_model_ok (const char *name)
{
  g_autoptr (GError) error = NULL;
  GliaModel *model = load_model (name, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  g_assert_cmpstr (glia_model_get_loader_name (model), ==, "onnx");
  return model;
}

/* Loading @name fails with @code, and the message names the file and
 * contains @needle. */
static void
assert_load_fails (const char *name, GliaError code, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaModel) model = load_model (name, &error);
  g_assert_null (model);
  g_assert_error (error, GLIA_ERROR, (gint)code);
  g_test_message ("%s: %s", name, error->message);
  g_autofree char *base = g_path_get_basename (name);
  g_assert_nonnull (strstr (error->message, base));
  g_assert_nonnull (strstr (error->message, needle));
}

static gint
value_id (const GliaGraph *graph, const char *name)
{
  gint id = glia_graph_lookup_value (graph, name);
  if (id < 0)
    g_error ("no value '%s' in the graph", name);
  return id;
}

static void
assert_shape (const GliaGraph *graph, const char *name, GliaDataType dtype, gint rank,
              const gint64 *dims)
{
  gint v = value_id (graph, name);
  g_assert_cmpint (glia_graph_value_get_dtype (graph, v), ==, dtype);
  g_assert_cmpint (glia_graph_value_get_rank (graph, v), ==, rank);
  if (rank > 0) {
    const gint64 *have = glia_graph_value_get_dims (graph, v);
    g_assert_nonnull (have);
    for (gint i = 0; i < rank; i++)
      g_assert_cmpint (have[i], ==, dims[i]);
  }
}

static const GliaConstTensor *
constant_of (const GliaGraph *graph, const char *name)
{
  const GliaConstTensor *c = glia_graph_value_get_constant (graph, value_id (graph, name));
  if (c == NULL)
    g_error ("value '%s' is not constant", name);
  return c;
}

static void
assert_constant (const GliaGraph *graph, const char *name, GliaDataType dtype, guint rank,
                 const gint64 *dims, gconstpointer bytes, gsize n_bytes)
{
  const GliaConstTensor *c = constant_of (graph, name);
  g_assert_cmpint (c->dtype, ==, dtype);
  g_assert_cmpuint (c->rank, ==, rank);
  for (guint i = 0; i < rank; i++)
    g_assert_cmpint (c->dims[i], ==, dims[i]);
  gsize size;
  gconstpointer data = g_bytes_get_data (c->data, &size);
  g_assert_cmpmem (data, size, bytes, n_bytes);
}

/* Whether @p lies in a mapping of a file whose name ends in @suffix: a
 * constant there was not copied out of the file. */
static gboolean
in_file_mapping (gconstpointer p, const char *suffix, gboolean *known)
{
  g_autofree char *maps = NULL;

  *known = g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL);
  if (!*known)
    return FALSE;
  g_auto (GStrv) lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    guint64 start, end;
    const char *file = strchr (lines[i], '/');
    if (file == NULL || !g_str_has_suffix (file, suffix)
        || sscanf (lines[i], "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x", &start, &end) != 2)
      continue;
    if ((guintptr)p >= start && (guintptr)p < end)
      return TRUE;
  }
  return FALSE;
}

static void
test_small_model (void)
{
  g_autoptr (GliaModel) model = load_model_ok ("small.onnx");
  const GliaGraph *g = glia_model_get_graph (model);

  g_assert_cmpuint (glia_graph_get_n_inputs (g), ==, 1);
  g_assert_cmpuint (glia_graph_get_n_outputs (g), ==, 1);
  gint x = glia_graph_get_input (g, 0);
  g_assert_cmpstr (glia_graph_value_get_name (g, x), ==, "X");
  g_assert_cmpstr (glia_graph_value_get_name (g, glia_graph_get_output (g, 0)), ==, "Y");

  assert_shape (g, "X", GLIA_DATA_TYPE_FLOAT, 2, (gint64[]){ -1, 3 });
  g_assert_cmpstr (glia_graph_value_get_dim_param (g, x, 0), ==, "batch");
  g_assert_null (glia_graph_value_get_dim_param (g, x, 1));
  assert_shape (g, "Y", GLIA_DATA_TYPE_FLOAT, 2, (gint64[]){ -1, 2 });
  /* from value_info */
  assert_shape (g, "XW", GLIA_DATA_TYPE_FLOAT, 2, (gint64[]){ -1, 2 });
  g_assert_cmpstr (glia_graph_value_get_dim_param (g, value_id (g, "XW"), 0), ==, "batch");

  const float w[] = { 0, 0.5f, 1, 1.5f, 2, 2.5f };
  const float b[] = { 1, -1 };
  assert_constant (g, "W", GLIA_DATA_TYPE_FLOAT, 2, (gint64[]){ 3, 2 }, w, sizeof w);
  assert_constant (g, "B", GLIA_DATA_TYPE_FLOAT, 1, (gint64[]){ 2 }, b, sizeof b);
  g_assert_cmpint (glia_graph_value_get_producer (g, value_id (g, "W")), ==, -1);

  g_assert_cmpuint (glia_graph_get_n_nodes (g), ==, 2);
  g_assert_cmpstr (glia_graph_node_get_op_type (g, 0), ==, "MatMul");
  g_assert_cmpstr (glia_graph_node_get_name (g, 0), ==, "matmul");
  g_assert_cmpstr (glia_graph_node_get_domain (g, 0), ==, "");
  g_assert_cmpuint (glia_graph_node_get_n_inputs (g, 0), ==, 2);
  g_assert_cmpint (glia_graph_node_get_input (g, 0, 0), ==, x);
  g_assert_cmpint (glia_graph_node_get_input (g, 0, 1), ==, value_id (g, "W"));
  g_assert_cmpint (glia_graph_node_get_output (g, 0, 0), ==, value_id (g, "XW"));
  g_assert_cmpint (glia_graph_value_get_producer (g, value_id (g, "XW")), ==, 0);
  g_assert_cmpint (glia_graph_value_get_producer (g, value_id (g, "Y")), ==, 1);
  g_assert_cmpint (glia_graph_node_get_opset (g, 1), ==, 13);

  g_assert_cmpint (glia_graph_get_opset (g, ""), ==, 13);
  g_assert_cmpint (glia_graph_get_opset (g, "ai.onnx.ml"), ==, 3);
  g_auto (GStrv) domains = glia_graph_get_opset_domains (g);
  g_assert_cmpuint (g_strv_length (domains), ==, 2);

  g_assert_cmpstr (glia_graph_get_metadata (g, "producer_name"), ==, "glia-tests");
  g_assert_cmpstr (glia_graph_get_metadata (g, "producer_version"), ==, "1.2.3");
  g_assert_cmpstr (glia_graph_get_metadata (g, "doc_string"), ==, "small test model");
  g_assert_cmpstr (glia_graph_get_metadata (g, "ir_version"), ==, "8");
  g_assert_cmpstr (glia_graph_get_metadata (g, "model_version"), ==, "7");
  g_assert_cmpstr (glia_graph_get_metadata (g, "author"), ==, "glia");
  g_assert_cmpstr (glia_graph_get_metadata (g, "license"), ==, "MIT");
  g_assert_cmpstr (glia_model_get_metadata (model, "producer_name"), ==, "glia-tests");
}

static void
test_raw_data_not_copied (void)
{
  g_autoptr (GliaModel) model = load_model_ok ("small.onnx");
  const GliaConstTensor *w = constant_of (glia_model_get_graph (model), "W");
  gboolean known;

  gboolean mapped = in_file_mapping (g_bytes_get_data (w->data, NULL), "/small.onnx", &known);
  if (!known) {
    g_test_skip ("no /proc/self/maps");
    return;
  }
  g_assert_true (mapped);
}

static void
test_probe_by_content (void)
{
  /* small.model has no .onnx extension. */
  g_autoptr (GliaModel) model = load_model_ok ("small.model");
  g_assert_cmpuint (glia_graph_get_n_nodes (glia_model_get_graph (model)), ==, 2);
}

static void
test_typed_fields (void)
{
  g_autoptr (GliaModel) model = load_model_ok ("typed.onnx");
  const GliaGraph *g = glia_model_get_graph (model);

  const gint64 i64[] = { -1, 2, G_GINT64_CONSTANT (1) << 40 };
  assert_constant (g, "i64", GLIA_DATA_TYPE_INT64, 1, (gint64[]){ 3 }, i64, sizeof i64);
  const float f32[] = { 1.5f, -2.0f, 0.25f, 8.0f };
  assert_constant (g, "f32", GLIA_DATA_TYPE_FLOAT, 2, (gint64[]){ 2, 2 }, f32, sizeof f32);
  const guint16 f16[] = { 0x3c00, 0xc000, 0x3800 }; /* 1.0, -2.0, 0.5 */
  assert_constant (g, "f16", GLIA_DATA_TYPE_FLOAT16, 1, (gint64[]){ 3 }, f16, sizeof f16);
  const guint16 bf16[] = { 0x3f80, 0xc000 };
  assert_constant (g, "bf16", GLIA_DATA_TYPE_BFLOAT16, 1, (gint64[]){ 2 }, bf16, sizeof bf16);
  assert_constant (g, "str", GLIA_DATA_TYPE_STRING, 1, (gint64[]){ 3 }, "ab\0\0xyz",
                   sizeof "ab\0\0xyz");
  const guint8 u8[] = { 0, 128, 255 };
  assert_constant (g, "u8", GLIA_DATA_TYPE_UINT8, 1, (gint64[]){ 3 }, u8, sizeof u8);
  const gint8 i8[] = { -128, 127 };
  assert_constant (g, "i8", GLIA_DATA_TYPE_INT8, 1, (gint64[]){ 2 }, i8, sizeof i8);
  const gint16 i16[] = { -300, 300 };
  assert_constant (g, "i16", GLIA_DATA_TYPE_INT16, 1, (gint64[]){ 2 }, i16, sizeof i16);
  const guint8 bools[] = { 1, 0, 1 };
  assert_constant (g, "bool", GLIA_DATA_TYPE_BOOL, 1, (gint64[]){ 3 }, bools, sizeof bools);
  const double f64[] = { 3.25, -1e300 };
  assert_constant (g, "f64", GLIA_DATA_TYPE_DOUBLE, 1, (gint64[]){ 2 }, f64, sizeof f64);
  const guint64 u64[] = { 1, G_MAXUINT64 };
  assert_constant (g, "u64", GLIA_DATA_TYPE_UINT64, 1, (gint64[]){ 2 }, u64, sizeof u64);
  const guint32 u32[] = { 7, G_MAXUINT32 };
  assert_constant (g, "u32", GLIA_DATA_TYPE_UINT32, 1, (gint64[]){ 2 }, u32, sizeof u32);
  const gint32 scalar = 42;
  assert_constant (g, "scalar", GLIA_DATA_TYPE_INT32, 0, NULL, &scalar, sizeof scalar);
  assert_constant (g, "empty", GLIA_DATA_TYPE_FLOAT, 2, (gint64[]){ 0, 3 }, NULL, 0);

  /* IR 8: initializers are not graph inputs */
  g_assert_cmpuint (glia_graph_get_n_inputs (g), ==, 0);
  g_assert_cmpuint (glia_graph_get_n_outputs (g), ==, 14);
}

static void
test_attributes (void)
{
  g_autoptr (GliaModel) model = load_model_ok ("attrs.onnx");
  const GliaGraph *g = glia_model_get_graph (model);
  guint n;

  /* "ai.onnx" is the default domain */
  g_assert_cmpint (glia_graph_get_opset (g, ""), ==, 17);
  g_assert_cmpint (glia_graph_get_opset (g, "com.example"), ==, 1);
  g_auto (GStrv) domains = glia_graph_get_opset_domains (g);
  g_assert_cmpuint (g_strv_length (domains), ==, 2);
  g_assert_true (g_strv_contains ((const char *const *)domains, ""));
  g_assert_false (g_strv_contains ((const char *const *)domains, "ai.onnx"));

  g_assert_cmpuint (glia_graph_get_n_nodes (g), ==, 3);
  gint custom = glia_graph_value_get_producer (g, value_id (g, "Z"));
  gint cnst = glia_graph_value_get_producer (g, value_id (g, "C"));
  gint sparse = glia_graph_value_get_producer (g, value_id (g, "SC"));
  g_assert_cmpstr (glia_graph_node_get_domain (g, custom), ==, "com.example");
  g_assert_cmpint (glia_graph_node_get_opset (g, custom), ==, 1);
  g_assert_cmpstr (glia_graph_node_get_domain (g, cnst), ==, "");
  g_assert_cmpint (glia_graph_node_get_opset (g, cnst), ==, 17);

  g_assert_cmpuint (glia_graph_node_get_n_attrs (g, custom), ==, 7);
  g_assert_cmpint (glia_graph_node_get_attr_type (g, custom, "f"), ==, GLIA_ATTR_FLOAT);
  g_assert_cmpfloat (glia_graph_node_get_attr_float (g, custom, "f", 0), ==, 0.5f);
  g_assert_cmpint (glia_graph_node_get_attr_type (g, custom, "i"), ==, GLIA_ATTR_INT);
  g_assert_cmpint (glia_graph_node_get_attr_int (g, custom, "i", 0), ==, -7);
  gsize len;
  g_assert_cmpstr (glia_graph_node_get_attr_string (g, custom, "s", NULL, &len), ==, "hello");
  g_assert_cmpuint (len, ==, 5);

  const float *floats = glia_graph_node_get_attr_floats (g, custom, "floats", &n);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpfloat (floats[0], ==, 1.0f);
  g_assert_cmpfloat (floats[1], ==, 2.5f);
  const gint64 *ints = glia_graph_node_get_attr_ints (g, custom, "ints", &n);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpint (ints[0], ==, 1);
  g_assert_cmpint (ints[1], ==, -2);
  g_assert_cmpint (ints[2], ==, 3);
  const char *const *strings = glia_graph_node_get_attr_strings (g, custom, "strings", &n);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpstr (strings[0], ==, "a");
  g_assert_cmpstr (strings[1], ==, "bc");

  const GliaConstTensor *t = glia_graph_node_get_attr_tensor (g, custom, "t");
  g_assert_nonnull (t);
  const gint64 t_data[] = { 5, 6 };
  g_assert_cmpint (t->dtype, ==, GLIA_DATA_TYPE_INT64);
  g_assert_cmpuint (t->rank, ==, 1);
  g_assert_cmpint (t->dims[0], ==, 2);
  g_assert_cmpmem (g_bytes_get_data (t->data, NULL), g_bytes_get_size (t->data), t_data,
                   sizeof t_data);

  t = glia_graph_node_get_attr_tensor (g, cnst, "value");
  g_assert_nonnull (t);
  const gint32 c_data[] = { 1, 2, 3, 4 };
  g_assert_cmpint (t->dtype, ==, GLIA_DATA_TYPE_INT32);
  g_assert_cmpuint (t->rank, ==, 2);
  g_assert_cmpmem (g_bytes_get_data (t->data, NULL), g_bytes_get_size (t->data), c_data,
                   sizeof c_data);

  /* a sparse tensor attribute becomes dense */
  t = glia_graph_node_get_attr_tensor (g, sparse, "sparse_value");
  g_assert_nonnull (t);
  const float sc_data[] = { 0, 5, 0, 0, 0, 7 };
  g_assert_cmpint (t->dtype, ==, GLIA_DATA_TYPE_FLOAT);
  g_assert_cmpuint (t->rank, ==, 2);
  g_assert_cmpint (t->dims[0], ==, 2);
  g_assert_cmpint (t->dims[1], ==, 3);
  g_assert_cmpmem (g_bytes_get_data (t->data, NULL), g_bytes_get_size (t->data), sc_data,
                   sizeof sc_data);
}

static void
test_sparse_initializers (void)
{
  g_autoptr (GliaModel) model = load_model_ok ("sparse.onnx");
  const GliaGraph *g = glia_model_get_graph (model);

  const float lin[] = { 0, 5, 0, 0, 0, 7 };
  assert_constant (g, "S_lin", GLIA_DATA_TYPE_FLOAT, 2, (gint64[]){ 2, 3 }, lin, sizeof lin);
  const gint32 coo[] = { 0, 9, 0, 0, 0, -9 };
  assert_constant (g, "S_coo", GLIA_DATA_TYPE_INT32, 2, (gint64[]){ 2, 3 }, coo, sizeof coo);
}

static void
test_external_data (void)
{
  g_autoptr (GliaModel) model = load_model_ok ("ext/external.onnx");
  const GliaGraph *g = glia_model_get_graph (model);

  const float ew[] = { 0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f };
  assert_constant (g, "EW", GLIA_DATA_TYPE_FLOAT, 2, (gint64[]){ 2, 3 }, ew, sizeof ew);
  const gint64 ei[] = { 5, -6 };
  assert_constant (g, "EI", GLIA_DATA_TYPE_INT64, 1, (gint64[]){ 2 }, ei, sizeof ei);
  const float ed[] = { -1.5f, 2.5f };
  assert_constant (g, "ED", GLIA_DATA_TYPE_FLOAT, 1, (gint64[]){ 2 }, ed, sizeof ed);

  gboolean known;
  gboolean mapped = in_file_mapping (g_bytes_get_data (constant_of (g, "EW")->data, NULL),
                                     "/weights.bin", &known);
  if (known)
    g_assert_true (mapped);
}

static void
test_external_data_rejected (void)
{
  assert_load_fails ("ext/escape.onnx", GLIA_ERROR_INVALID_MODEL, "'../outside.bin' is outside");
  assert_load_fails ("ext/escape-middle.onnx", GLIA_ERROR_INVALID_MODEL, "is outside");
  assert_load_fails ("ext/absolute.onnx", GLIA_ERROR_INVALID_MODEL, "is outside");
  assert_load_fails ("ext/missing.onnx", GLIA_ERROR_IO, "nope.bin");
  assert_load_fails ("ext/past-end.onnx", GLIA_ERROR_INVALID_MODEL, "runs past the end");
}

static void
test_subgraphs (void)
{
  g_autoptr (GliaModel) model = load_model_ok ("if.onnx");
  const GliaGraph *g = glia_model_get_graph (model);

  g_assert_cmpuint (glia_graph_get_n_nodes (g), ==, 1);
  g_assert_cmpstr (glia_graph_node_get_op_type (g, 0), ==, "If");
  g_assert_cmpint (glia_graph_node_get_attr_type (g, 0, "then_branch"), ==, GLIA_ATTR_GRAPH);

  GliaGraph *then_g = glia_graph_node_get_attr_graph (g, 0, "then_branch");
  g_assert_nonnull (then_g);
  g_assert_cmpuint (glia_graph_get_n_nodes (then_g), ==, 1);
  g_assert_cmpstr (glia_graph_node_get_op_type (then_g, 0), ==, "Add");
  g_assert_cmpint (glia_graph_node_get_opset (then_g, 0), ==, 13);
  g_assert_cmpuint (glia_graph_get_n_inputs (then_g), ==, 0);
  g_assert_cmpuint (glia_graph_get_n_outputs (then_g), ==, 1);
  const float c1[] = { 1, 1 };
  assert_constant (then_g, "C1", GLIA_DATA_TYPE_FLOAT, 1, (gint64[]){ 2 }, c1, sizeof c1);
  /* X comes from the main graph: a value without producer, typed as there */
  gint x = value_id (then_g, "X");
  g_assert_cmpint (glia_graph_value_get_producer (then_g, x), ==, -1);
  g_assert_null (glia_graph_value_get_constant (then_g, x));
  assert_shape (then_g, "X", GLIA_DATA_TYPE_FLOAT, 1, (gint64[]){ 2 });
  g_assert_cmpint (glia_graph_node_get_input (then_g, 0, 0), ==, x);

  /* The else branch holds an If whose branches use X and K of the main
   * graph: the else branch records them too. */
  GliaGraph *else_g = glia_graph_node_get_attr_graph (g, 0, "else_branch");
  g_assert_nonnull (else_g);
  g_assert_cmpint (glia_graph_value_get_producer (else_g, value_id (else_g, "cond")), ==, -1);
  assert_shape (else_g, "X", GLIA_DATA_TYPE_FLOAT, 1, (gint64[]){ 2 });
  assert_shape (else_g, "K", GLIA_DATA_TYPE_FLOAT, 1, (gint64[]){ 2 });
  GliaGraph *inner = glia_graph_node_get_attr_graph (else_g, 0, "else_branch");
  g_assert_nonnull (inner);
  g_assert_cmpstr (glia_graph_node_get_op_type (inner, 0), ==, "Mul");
  assert_shape (inner, "K", GLIA_DATA_TYPE_FLOAT, 1, (gint64[]){ 2 });
  g_assert_cmpint (glia_graph_value_get_producer (inner, value_id (inner, "K")), ==, -1);
}

static void
test_initializers_listed_as_inputs (void)
{
  /* IR 3 lists every initializer as an input: they are weights. */
  g_autoptr (GliaModel) ir3 = load_model_ok ("initializer-inputs-ir3.onnx");
  const GliaGraph *g = glia_model_get_graph (ir3);
  g_assert_cmpuint (glia_graph_get_n_inputs (g), ==, 1);
  g_assert_cmpstr (glia_graph_value_get_name (g, glia_graph_get_input (g, 0)), ==, "X");
  g_assert_nonnull (constant_of (g, "W"));

  /* From IR 4 on they are inputs whose initializer is a default. */
  g_autoptr (GliaModel) ir4 = load_model_ok ("initializer-inputs-ir4.onnx");
  g = glia_model_get_graph (ir4);
  g_assert_cmpuint (glia_graph_get_n_inputs (g), ==, 3);
  g_assert_cmpint (glia_graph_get_input (g, 1), ==, value_id (g, "W"));
  g_assert_nonnull (constant_of (g, "W"));
}

static void
test_sequence_type (void)
{
  g_autoptr (GliaModel) model = load_model_ok ("sequence.onnx");
  const GliaGraph *g = glia_model_get_graph (model);

  /* a sequence of float tensors: kind sequence, dtype the element type */
  gint s = value_id (g, "S");
  g_assert_cmpint (glia_graph_value_get_kind (g, s), ==, GLIA_VALUE_KIND_SEQUENCE);
  g_assert_cmpint (glia_graph_value_get_dtype (g, s), ==, GLIA_DATA_TYPE_FLOAT);
  g_assert_cmpint (glia_graph_value_get_rank (g, s), ==, -1);
  g_assert_cmpint (glia_graph_value_get_kind (g, value_id (g, "L")), ==, GLIA_VALUE_KIND_TENSOR);
  assert_shape (g, "L", GLIA_DATA_TYPE_INT64, 0, NULL);
}

static void
test_ir_version (void)
{
  assert_load_fails ("ir99.onnx", GLIA_ERROR_INVALID_MODEL, "IR version 99");
  assert_load_fails ("ir2.onnx", GLIA_ERROR_INVALID_MODEL, "IR version 2 ");
}

static void
test_graph_errors (void)
{
  assert_load_fails ("undefined-input.onnx", GLIA_ERROR_INVALID_MODEL, "'nope'");
  assert_load_fails ("tensors-attribute.onnx", GLIA_ERROR_UNSUPPORTED_OP, "TENSORS");
  assert_load_fails ("duplicate-initializer.onnx", GLIA_ERROR_INVALID_MODEL,
                     "'W' is defined twice");
}

/* Loads @data as a file named @name in a temporary directory; returns the
 * error (NULL if it loaded). */
static GError *
load_bytes (const char *dir, const char *name, const guint8 *data, gsize len)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  GError *error = NULL;

  /* no fsync: this runs a thousand times */
  g_assert_true (g_file_set_contents_full (path, (const char *)data, (gssize)len,
                                           G_FILE_SET_CONTENTS_NONE, 0644, NULL));
  g_autoptr (GliaModel) model = glia_model_new_from_file_full (path, registry, &error);
  g_assert_true ((model == NULL) != (error == NULL));
  return error;
}

static void
test_corrupt_files (void)
{
  g_autofree char *small_path = model_path ("small.onnx");
  g_autofree char *small = NULL;
  gsize small_len;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("glia-onnx-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (small_path, &small, &small_len, NULL));

  error = load_bytes (dir, "empty.onnx", NULL, 0);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL);
  g_clear_error (&error);

  /* cut in the middle of the graph: still probes as ONNX, so the loader
   * must say what is wrong */
  error = load_bytes (dir, "truncated.onnx", (const guint8 *)small, small_len / 2);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL);
  g_test_message ("truncated: %s", error->message);
  g_assert_nonnull (strstr (error->message, "truncated.onnx"));
  g_clear_error (&error);

  g_autoptr (GRand) rand = g_rand_new_with_seed (1234);
  guint8 noise[4096];
  for (gsize i = 0; i < sizeof noise; i++)
    noise[i] = (guint8)g_rand_int (rand);
  error = load_bytes (dir, "random.onnx", noise, sizeof noise);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL);
  g_clear_error (&error);

  /* every prefix, and every byte flipped: an error or a model, never a crash */
  guint n_loaded = 0;
  for (gsize len = 1; len < small_len; len++) {
    GError *e = load_bytes (dir, "prefix.onnx", (const guint8 *)small, len);
    n_loaded += e == NULL;
    if (e)
      g_assert_true (e->domain == GLIA_ERROR);
    g_clear_error (&e);
  }
  g_assert_cmpuint (n_loaded, <, small_len / 4);
  g_autofree guint8 *flipped = g_memdup2 (small, small_len);
  for (gsize i = 0; i < small_len; i++) {
    for (guint k = 0; k < 3; k++) {
      static const guint8 masks[] = { 0xff, 0x80, 0x01 };
      flipped[i] ^= masks[k];
      GError *e = load_bytes (dir, "flipped.onnx", flipped, small_len);
      if (e)
        g_assert_true (e->domain == GLIA_ERROR);
      g_clear_error (&e);
      flipped[i] ^= masks[k];
    }
  }

  const char *names[]
      = { "empty.onnx", "truncated.onnx", "random.onnx", "prefix.onnx", "flipped.onnx" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *path = g_build_filename (dir, names[i], NULL);
    g_remove (path);
  }
  g_rmdir (dir);
}

static void
put_varint (GByteArray *out, guint64 v)
{
  do {
    guint8 b = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
    g_byte_array_append (out, &b, 1);
    v >>= 7;
  } while (v != 0);
}

static guint
varint_len (guint64 v)
{
  guint n = 1;
  while (v > 0x7f) {
    v >>= 7;
    n++;
  }
  return n;
}

static void
put (GByteArray *out, const char *bytes, guint n)
{
  g_byte_array_append (out, (const guint8 *)bytes, n);
}

/* A ModelProto whose graph holds an If-like node whose attribute holds a graph
 * that holds such a node, @depth times: three messages per level. Written
 * outside-in, with the sizes worked out inside-out first. */
static GByteArray *
nested_model (guint depth)
{
  g_autofree gsize *graph_len = g_new0 (gsize, depth + 1);
  g_autofree gsize *node_len = g_new0 (gsize, depth + 1);
  g_autofree gsize *attr_len = g_new0 (gsize, depth + 1);
  GByteArray *out = g_byte_array_new ();

  for (guint k = 1; k <= depth; k++) {
    attr_len[k] = 3 + 3 + 1 + varint_len (graph_len[k - 1]) + graph_len[k - 1];
    node_len[k] = 4 + 1 + varint_len (attr_len[k]) + attr_len[k];
    graph_len[k] = 1 + varint_len (node_len[k]) + node_len[k];
  }
  put (out, "\x08\x08", 2);                 /* ir_version 8 */
  put (out, "\x42\x04\x0a\x00\x10\x0d", 6); /* opset_import { "" 13 } */
  put (out, "\x3a", 1);                     /* graph */
  put_varint (out, graph_len[depth]);
  for (guint k = depth; k >= 1; k--) {
    put (out, "\x0a", 1); /* GraphProto.node */
    put_varint (out, node_len[k]);
    put (out, "\x22\x02If\x2a", 5); /* op_type "If", attribute */
    put_varint (out, attr_len[k]);
    put (out, "\x0a\x01g\xa0\x01\x05\x32", 7); /* name "g", type GRAPH, g */
    put_varint (out, graph_len[k - 1]);
  }
  return out;
}

static void
test_deep_nesting (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("glia-onnx-XXXXXX", &error);
  g_assert_no_error (error);

  /* Twenty levels of subgraphs are fine. */
  g_autoptr (GByteArray) shallow = nested_model (20);
  error = load_bytes (dir, "nested-20.onnx", shallow->data, shallow->len);
  g_assert_no_error (error);

  /* protobuf-c unpacks nested messages recursively: without a depth limit
   * this overflows the stack. */
  g_autoptr (GByteArray) deep = nested_model (100000);
  error = load_bytes (dir, "nested-100000.onnx", deep->data, deep->len);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL);
  g_assert_nonnull (strstr (error->message, "nested more than"));

  const char *names[] = { "nested-20.onnx", "nested-100000.onnx" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *path = g_build_filename (dir, names[i], NULL);
    g_remove (path);
  }
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);

  registry = glia_registry_new ();
  g_autofree char *plugins = g_build_filename (
      g_getenv ("GLIA_BUILD_ROOT") ? g_getenv ("GLIA_BUILD_ROOT") : ".", "plugins", NULL);
  glia_registry_add_search_path (registry, plugins);
  if (!glia_registry_scan (registry, &error))
    g_error ("registry scan failed: %s", error->message);
  g_auto (GStrv) loaders = glia_registry_get_loader_names (registry);
  if (!g_strv_contains ((const char *const *)loaders, "onnx"))
    g_error ("the onnx loader is not registered (plugins searched in %s)", plugins);

  g_test_add_func ("/onnx/small-model", test_small_model);
  g_test_add_func ("/onnx/raw-data-not-copied", test_raw_data_not_copied);
  g_test_add_func ("/onnx/probe-by-content", test_probe_by_content);
  g_test_add_func ("/onnx/typed-fields", test_typed_fields);
  g_test_add_func ("/onnx/attributes", test_attributes);
  g_test_add_func ("/onnx/sparse-initializers", test_sparse_initializers);
  g_test_add_func ("/onnx/external-data", test_external_data);
  g_test_add_func ("/onnx/external-data-rejected", test_external_data_rejected);
  g_test_add_func ("/onnx/subgraphs", test_subgraphs);
  g_test_add_func ("/onnx/initializers-listed-as-inputs", test_initializers_listed_as_inputs);
  g_test_add_func ("/onnx/sequence-type", test_sequence_type);
  g_test_add_func ("/onnx/ir-version", test_ir_version);
  g_test_add_func ("/onnx/graph-errors", test_graph_errors);
  g_test_add_func ("/onnx/corrupt-files", test_corrupt_files);
  g_test_add_func ("/onnx/deep-nesting", test_deep_nesting);

  int ret = g_test_run ();
  g_object_unref (registry);
  return ret;
}
