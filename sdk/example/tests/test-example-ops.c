/* test-example-ops.c: the example plugin's operators through a Glia session,
 * against references computed here in double precision: both element types,
 * one and several threads, shape inference, and the errors a bad model gets.
 *
 * The plugin is found through GLIA_PLUGIN_PATH (meson test sets it to the
 * build directory); the rest of Glia is the installed one.
 */
#include <glia.h>
#include <glia-plugin.h>
#include <math.h>
#include <string.h>

#define DOMAIN "org.example.glia"

/* One node of the example domain over input "x" (and "scale" when
 * @scale_rank >= 0) producing "y", whose type the model leaves unknown: the
 * session learns it from the op's shape inference. */
typedef struct
{
  const char *op;
  GliaDataType dtype;
  guint rank;
  gint64 dims[4];
  gint scale_rank; /* -1: no Scale input */
  gint64 scale_dims[4];
  GliaDataType scale_dtype;
  const char *float_attr; /* NULL or the name of a float attribute ... */
  float float_value;      /* ... and its value */
  gboolean has_axis;
  gint64 axis;
} NodeSpec;

static GliaModel *
make_model (const NodeSpec *spec)
{
  GliaGraph *g = glia_graph_new ();
  glia_graph_set_opset (g, "", 17);
  glia_graph_set_opset (g, DOMAIN, 1);
  gint inputs[2] = { glia_graph_add_value (g, "x", spec->dtype, spec->rank, spec->dims, NULL), -1 };
  glia_graph_add_input (g, inputs[0]);
  guint n_inputs = 1;
  if (spec->scale_rank >= 0) {
    GliaDataType sdt = spec->scale_dtype ? spec->scale_dtype : spec->dtype;
    inputs[1] = glia_graph_add_value (g, "scale", sdt, spec->scale_rank, spec->scale_dims, NULL);
    glia_graph_add_input (g, inputs[1]);
    n_inputs = 2;
  }
  gint y = glia_graph_add_value (g, "y", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  glia_graph_add_output (g, y);
  gint node = glia_graph_add_node (g, spec->op, DOMAIN, "node", n_inputs, inputs, 1, &y);
  if (spec->float_attr)
    glia_graph_node_set_attr_float (g, node, spec->float_attr, spec->float_value);
  if (spec->has_axis)
    glia_graph_node_set_attr_int (g, node, "axis", spec->axis);
  GError *error = NULL;
  GliaModel *model = glia_model_new_from_graph (g, &error);
  g_assert_no_error (error);
  glia_graph_unref (g);
  return model;
}

static GliaSession *
make_session (GliaModel *model, guint threads, GError **error)
{
  g_autoptr (GliaSessionOptions) options = glia_session_options_new ();
  glia_session_options_set_threads (options, threads);
  return glia_session_new (model, options, error);
}

static gsize
n_elements (guint rank, const gint64 *dims)
{
  gsize n = 1;
  for (guint k = 0; k < rank; k++)
    n *= dims[k];
  return n;
}

/* Deterministic values in [-4, 4), as doubles. */
static double *
make_values (gsize n, guint seed)
{
  double *v = g_new (double, n);
  guint32 s = seed * 2654435761u + 1;
  for (gsize i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    v[i] = (s >> 8) / (double)(1u << 24) * 8.0 - 4.0;
  }
  return v;
}

/* @v as a tensor of @dtype (float32 values are rounded, and written back to
 * @v so references see what the kernel saw). */
static GliaTensor *
make_tensor (GliaDataType dtype, guint rank, const gint64 *dims, double *v)
{
  gsize n = n_elements (rank, dims);
  if (dtype == GLIA_DATA_TYPE_DOUBLE)
    return glia_tensor_new_from_data (dtype, dims, rank, (const guint8 *)v, n * sizeof (double),
                                      NULL);
  g_autofree float *f = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    v[i] = f[i] = (float)v[i];
  return glia_tensor_new_from_data (dtype, dims, rank, (const guint8 *)f, n * sizeof (float), NULL);
}

static double
tensor_value (GliaTensor *t, gsize i)
{
  const void *data = glia_tensor_peek_data (t, NULL);
  return glia_tensor_get_dtype (t) == GLIA_DATA_TYPE_DOUBLE ? ((const double *)data)[i]
                                                            : ((const float *)data)[i];
}

/* Runs @model on x (and scale) and returns output y. */
static GliaTensor *
run (GliaSession *session, GliaTensor *x, GliaTensor *scale)
{
  g_autoptr (GHashTable) in = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  g_hash_table_insert (in, "x", g_object_ref (x));
  if (scale)
    g_hash_table_insert (in, "scale", g_object_ref (scale));
  GError *error = NULL;
  g_autoptr (GHashTable) out = glia_session_run (session, in, &error);
  g_assert_no_error (error);
  GliaTensor *y = g_hash_table_lookup (out, "y");
  g_assert_nonnull (y);
  return g_object_ref (y);
}

static void
assert_close (GliaTensor *y, const double *ref, gsize n, double tolerance)
{
  g_assert_cmpuint (glia_tensor_get_n_elements (y), ==, n);
  double worst = 0;
  for (gsize i = 0; i < n; i++)
    worst = MAX (worst, fabs (tensor_value (y, i) - ref[i]) / MAX (1.0, fabs (ref[i])));
  if (worst > tolerance)
    g_error ("max relative error %g > %g", worst, tolerance);
}

/* ---- plugin ------------------------------------------------------------- */

static void
test_plugin_found (void)
{
  GliaPluginInfo *info = glia_registry_find_plugin (glia_registry_get_default (), "example-ops");
  g_assert_nonnull (info);
  g_assert_cmpstr (glia_plugin_info_get_version (info), ==, "1.0.0");
  g_assert_cmpint (glia_plugin_info_get_status (info), !=, GLIA_PLUGIN_STATUS_REJECTED);
  const char *const *features = glia_plugin_info_get_features (info);
  g_assert_true (g_strv_contains (features, "op-set:" DOMAIN));
}

/* ---- Swish -------------------------------------------------------------- */

static void
check_swish (GliaDataType dtype, gboolean with_beta, float beta)
{
  NodeSpec spec = { "Swish", dtype, 2, { 5, 9001 }, -1 };
  if (with_beta) {
    spec.float_attr = "beta";
    spec.float_value = beta;
  } else
    beta = 1.0f; /* the default: SiLU */
  gsize n = n_elements (spec.rank, spec.dims);
  g_autofree double *v = make_values (n, 1);
  g_autoptr (GliaTensor) x = make_tensor (dtype, spec.rank, spec.dims, v);
  g_autofree double *ref = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    ref[i] = v[i] / (1.0 + exp (-(double)beta * v[i]));

  g_autoptr (GliaModel) model = make_model (&spec);
  double tolerance = dtype == GLIA_DATA_TYPE_FLOAT ? 1e-6 : 1e-14;
  /* 45005 elements: split in chunks over 3 threads, or run whole on one */
  for (guint threads = 1; threads <= 3; threads += 2) {
    GError *error = NULL;
    g_autoptr (GliaSession) session = make_session (model, threads, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (glia_session_get_node_provider (session, 0), ==, "custom");
    g_autoptr (GliaTensor) y = run (session, x, NULL);
    g_assert_cmpint (glia_tensor_get_dtype (y), ==, dtype);
    g_assert_cmpuint (glia_tensor_get_rank (y), ==, 2);
    g_assert_cmpint (glia_tensor_get_dim (y, 1), ==, 9001);
    assert_close (y, ref, n, tolerance);
  }
}

static void
test_swish_float32 (void)
{
  check_swish (GLIA_DATA_TYPE_FLOAT, TRUE, 1.7f);
}

static void
test_swish_float64 (void)
{
  check_swish (GLIA_DATA_TYPE_DOUBLE, TRUE, 0.5f);
}

static void
test_swish_default_beta (void)
{
  check_swish (GLIA_DATA_TYPE_FLOAT, FALSE, 0);
}

/* ---- RMSNorm ------------------------------------------------------------ */

static void
check_rms_norm (NodeSpec *spec, float epsilon)
{
  spec->op = "RMSNorm";
  spec->float_attr = "epsilon";
  spec->float_value = epsilon;
  gsize n = n_elements (spec->rank, spec->dims);
  gint64 axis = spec->has_axis ? spec->axis : -1;
  guint a = axis < 0 ? (guint)(axis + spec->rank) : (guint)axis;
  gsize row = n_elements (spec->rank - a, spec->dims + a);
  g_autofree double *v = make_values (n, 2);
  g_autofree double *s = make_values (row, 3);
  g_autoptr (GliaTensor) x = make_tensor (spec->dtype, spec->rank, spec->dims, v);
  g_autoptr (GliaTensor) scale
      = spec->scale_rank >= 0 ? make_tensor (spec->dtype, spec->scale_rank, spec->scale_dims, s)
                              : NULL;
  g_autofree double *ref = g_new (double, n);
  for (gsize r = 0; r < n / row; r++) {
    double sum = 0;
    for (gsize i = 0; i < row; i++)
      sum += v[r * row + i] * v[r * row + i];
    double inv = 1.0 / sqrt (sum / row + (double)epsilon);
    for (gsize i = 0; i < row; i++)
      ref[r * row + i] = v[r * row + i] * inv * (scale ? s[i] : 1.0);
  }

  g_autoptr (GliaModel) model = make_model (spec);
  double tolerance = spec->dtype == GLIA_DATA_TYPE_FLOAT ? 1e-5 : 1e-13;
  for (guint threads = 1; threads <= 3; threads += 2) {
    GError *error = NULL;
    g_autoptr (GliaSession) session = make_session (model, threads, &error);
    g_assert_no_error (error);
    g_autoptr (GliaTensor) y = run (session, x, scale);
    g_assert_cmpint (glia_tensor_get_dtype (y), ==, spec->dtype);
    g_assert_cmpuint (glia_tensor_get_rank (y), ==, spec->rank);
    assert_close (y, ref, n, tolerance);
  }
}

static void
test_rms_norm_float32 (void)
{
  /* 96 rows of 512: several chunks per thread */
  NodeSpec spec = { NULL, GLIA_DATA_TYPE_FLOAT, 2, { 96, 512 }, 1, { 512 } };
  check_rms_norm (&spec, 1e-5f);
}

static void
test_rms_norm_float64 (void)
{
  NodeSpec spec = { NULL, GLIA_DATA_TYPE_DOUBLE, 2, { 96, 512 }, 1, { 512 } };
  check_rms_norm (&spec, 1e-6f);
}

static void
test_rms_norm_axis (void)
{
  /* normalize over the last two axes, with a [3,700] scale */
  NodeSpec spec = { NULL,       GLIA_DATA_TYPE_FLOAT, 3,        { 4, 3, 700 }, 2,
                    { 3, 700 }, .has_axis = TRUE,     .axis = 1 };
  check_rms_norm (&spec, 1e-5f);
  NodeSpec neg = { NULL,       GLIA_DATA_TYPE_DOUBLE, 3,         { 4, 3, 700 }, 2,
                   { 3, 700 }, .has_axis = TRUE,      .axis = -2 };
  check_rms_norm (&neg, 1e-5f);
}

static void
test_rms_norm_no_scale (void)
{
  NodeSpec spec = { NULL, GLIA_DATA_TYPE_DOUBLE, 2, { 7, 33 }, -1 };
  check_rms_norm (&spec, 0.25f);
}

/* ---- shape inference and errors ---------------------------------------- */

/* RMSNorm -> t -> Swish -> u -> Relu -> y, with the types of t, u and y
 * left undeclared in the model, and an ONNX operator on the CPU provider
 * reading a custom op's output: the chain must run and give float64. This
 * does not prove the ops' inference ran (the host sizes buffers from the
 * first run, and no public API shows inferred types); inference is checked
 * by test_errors, where it must reject bad models. */
static void
test_untyped_chain (void)
{
  GliaGraph *g = glia_graph_new ();
  glia_graph_set_opset (g, "", 17);
  glia_graph_set_opset (g, DOMAIN, 1);
  gint64 dims[] = { 8, 16 }, scale_dims[] = { 16 };
  gint in[2] = { glia_graph_add_value (g, "x", GLIA_DATA_TYPE_DOUBLE, 2, dims, NULL),
                 glia_graph_add_value (g, "scale", GLIA_DATA_TYPE_DOUBLE, 1, scale_dims, NULL) };
  gint t = glia_graph_add_value (g, "t", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  gint u = glia_graph_add_value (g, "u", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  gint y = glia_graph_add_value (g, "y", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  glia_graph_add_input (g, in[0]);
  glia_graph_add_input (g, in[1]);
  glia_graph_add_output (g, y);
  glia_graph_add_node (g, "RMSNorm", DOMAIN, "norm", 2, in, 1, &t);
  glia_graph_add_node (g, "Swish", DOMAIN, "swish", 1, &t, 1, &u);
  glia_graph_add_node (g, "Relu", "", "relu", 1, &u, 1, &y);
  GError *error = NULL;
  g_autoptr (GliaModel) model = glia_model_new_from_graph (g, &error);
  g_assert_no_error (error);
  glia_graph_unref (g);

  g_autoptr (GliaSession) session = make_session (model, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (glia_session_get_node_provider (session, 0), ==, "custom");
  g_assert_cmpstr (glia_session_get_node_provider (session, 1), ==, "custom");
  g_assert_cmpstr (glia_session_get_node_provider (session, 2), ==, "cpu");
  g_autofree double *v = make_values (8 * 16, 4);
  g_autofree double *s = make_values (16, 5);
  g_autoptr (GliaTensor) x = make_tensor (GLIA_DATA_TYPE_DOUBLE, 2, dims, v);
  g_autoptr (GliaTensor) scale = make_tensor (GLIA_DATA_TYPE_DOUBLE, 1, scale_dims, s);
  g_autoptr (GliaTensor) out = run (session, x, scale);
  g_assert_cmpint (glia_tensor_get_dtype (out), ==, GLIA_DATA_TYPE_DOUBLE);
  double ref[8 * 16];
  for (guint r = 0; r < 8; r++) {
    double sum = 0;
    for (guint i = 0; i < 16; i++)
      sum += v[r * 16 + i] * v[r * 16 + i];
    for (guint i = 0; i < 16; i++) {
      double n = v[r * 16 + i] / sqrt (sum / 16 + (double)1e-5f) * s[i];
      ref[r * 16 + i] = MAX (n / (1 + exp (-n)), 0);
    }
  }
  assert_close (out, ref, 8 * 16, 1e-13);
}

static void
assert_session_fails (const NodeSpec *spec, gint code, const char *message)
{
  g_autoptr (GliaModel) model = make_model (spec);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) session = make_session (model, 1, &error);
  g_assert_null (session);
  g_assert_error (error, GLIA_ERROR, code);
  if (strstr (error->message, message) == NULL)
    g_error ("'%s' does not say '%s'", error->message, message);
}

static void
test_errors (void)
{
  NodeSpec bad_axis
      = { "RMSNorm", GLIA_DATA_TYPE_FLOAT, 2, { 2, 3 }, -1, .has_axis = TRUE, .axis = 2 };
  assert_session_fails (&bad_axis, GLIA_ERROR_INVALID_MODEL,
                        "axis 2 is out of range for an input of rank 2");
  NodeSpec bad_scale = { "RMSNorm", GLIA_DATA_TYPE_FLOAT, 2, { 2, 3 }, 1, { 2 } };
  assert_session_fails (&bad_scale, GLIA_ERROR_INVALID_MODEL, "Scale must have shape [3]");
  NodeSpec mixed
      = { "RMSNorm", GLIA_DATA_TYPE_FLOAT, 2, { 2, 3 }, 1, { 3 }, GLIA_DATA_TYPE_DOUBLE };
  assert_session_fails (&mixed, GLIA_ERROR_INVALID_MODEL, "Scale is float64 but X is float32");
  NodeSpec ints = { "Swish", GLIA_DATA_TYPE_INT64, 1, { 4 }, -1 };
  assert_session_fails (&ints, GLIA_ERROR_INVALID_MODEL,
                        "Swish: element type int64 is not supported");
  NodeSpec bad_eps = {
    "RMSNorm", GLIA_DATA_TYPE_FLOAT, 1, { 4 }, -1, .float_attr = "epsilon", .float_value = -1
  };
  assert_session_fails (&bad_eps, GLIA_ERROR_INVALID_MODEL, "epsilon must be a finite number");
  NodeSpec inf_beta = {
    "Swish", GLIA_DATA_TYPE_FLOAT, 1, { 4 }, -1, .float_attr = "beta", .float_value = INFINITY
  };
  assert_session_fails (&inf_beta, GLIA_ERROR_INVALID_MODEL, "beta must be finite");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/example/plugin-found", test_plugin_found);
  g_test_add_func ("/example/swish/float32", test_swish_float32);
  g_test_add_func ("/example/swish/float64", test_swish_float64);
  g_test_add_func ("/example/swish/default-beta", test_swish_default_beta);
  g_test_add_func ("/example/rms-norm/float32", test_rms_norm_float32);
  g_test_add_func ("/example/rms-norm/float64", test_rms_norm_float64);
  g_test_add_func ("/example/rms-norm/axis", test_rms_norm_axis);
  g_test_add_func ("/example/rms-norm/no-scale", test_rms_norm_no_scale);
  g_test_add_func ("/example/untyped-chain", test_untyped_chain);
  g_test_add_func ("/example/errors", test_errors);
  return g_test_run ();
}
