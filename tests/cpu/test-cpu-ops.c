/* test-cpu-ops.c: the CPU provider's kernels, op family by op family.
 *
 * Each case builds a small graph with the glia-graph.h builder, runs it in a
 * session restricted to the "cpu" provider (4 threads, so the parallel loops
 * split) and compares the outputs with values worked out by hand or with a
 * plain reference loop written here. Error cases check the error domain,
 * code and that the message names what is wrong.
 */
#include <glia.h>
#include <glia-plugin.h>
#include <math.h>
#include <string.h>

static GliaRegistry *registry;

#define DIMS(...) ((const gint64[]){ __VA_ARGS__ })
#define F32(...)  ((const float[]){ __VA_ARGS__ })
#define F64(...)  ((const double[]){ __VA_ARGS__ })
#define I32(...)  ((const gint32[]){ __VA_ARGS__ })
#define I64(...)  ((const gint64[]){ __VA_ARGS__ })
#define U8(...)   ((const guint8[]){ __VA_ARGS__ })
#define INS(...)  ((const gint[]){ __VA_ARGS__ })

/* ---- tensors --------------------------------------------------------------- */

static gsize
numel (guint rank, const gint64 *dims)
{
  gsize n = 1;
  for (guint i = 0; i < rank; i++)
    n *= (gsize)dims[i];
  return n;
}

static GliaTensor *
tensor (GliaDataType dtype, guint rank, const gint64 *dims, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gsize size = numel (rank, dims) * glia_data_type_get_size (dtype);
  GliaTensor *t = glia_tensor_new_from_data (dtype, dims, rank, data, size, &error);
  g_assert_no_error (error);
  return t;
}

static GliaTensor *
tf32 (guint rank, const gint64 *dims, const float *data)
{
  return tensor (GLIA_DATA_TYPE_FLOAT, rank, dims, data);
}

static GliaTensor *
ti64 (guint rank, const gint64 *dims, const gint64 *data)
{
  return tensor (GLIA_DATA_TYPE_INT64, rank, dims, data);
}

/* Deterministic values in [-2, 2). */
static float *
random_floats (gsize n, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  float *v = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    v[i] = (float)g_rand_double_range (rand, -2.0, 2.0);
  return v;
}

static GliaTensor *
trandom (guint rank, const gint64 *dims, guint32 seed)
{
  g_autofree float *v = random_floats (numel (rank, dims), seed);
  return tf32 (rank, dims, v);
}

static void
check_shape (GliaTensor *t, GliaDataType dtype, guint rank, const gint64 *dims)
{
  g_assert_nonnull (t);
  g_assert_cmpstr (glia_data_type_get_name (glia_tensor_get_dtype (t)), ==,
                   glia_data_type_get_name (dtype));
  guint r = 0;
  const gint64 *d = glia_tensor_get_shape (t, &r);
  g_assert_cmpuint (r, ==, rank);
  for (guint i = 0; i < rank; i++)
    g_assert_cmpint (d[i], ==, dims[i]);
}

static void
check_f32 (GliaTensor *t, guint rank, const gint64 *dims, const float *expected)
{
  check_shape (t, GLIA_DATA_TYPE_FLOAT, rank, dims);
  const float *v = glia_tensor_peek_data (t, NULL);
  for (gsize i = 0; i < numel (rank, dims); i++) {
    double tol = 1e-5 * MAX (1.0, fabs (expected[i]));
    if (isnan (expected[i]))
      g_assert_true (isnan (v[i]));
    else if (v[i] != expected[i] && !(fabs (v[i] - expected[i]) <= tol))
      g_error ("element %" G_GSIZE_FORMAT ": got %.7g, expected %.7g", i, v[i], expected[i]);
  }
}

static void
check_f64 (GliaTensor *t, guint rank, const gint64 *dims, const double *expected)
{
  check_shape (t, GLIA_DATA_TYPE_DOUBLE, rank, dims);
  const double *v = glia_tensor_peek_data (t, NULL);
  for (gsize i = 0; i < numel (rank, dims); i++)
    g_assert_cmpfloat_with_epsilon (v[i], expected[i], 1e-9 * MAX (1.0, fabs (expected[i])));
}

static void
check_bytes (GliaTensor *t, GliaDataType dtype, guint rank, const gint64 *dims,
             gconstpointer expected)
{
  check_shape (t, dtype, rank, dims);
  gsize size = 0;
  gconstpointer v = glia_tensor_peek_data (t, &size);
  g_assert_cmpuint (size, ==, numel (rank, dims) * glia_data_type_get_size (dtype));
  g_assert_cmpmem (v, size, expected, size);
}

#define check_i64(t, rank, dims, expected)                                                         \
  check_bytes (t, GLIA_DATA_TYPE_INT64, rank, dims, expected)
#define check_i32(t, rank, dims, expected)                                                         \
  check_bytes (t, GLIA_DATA_TYPE_INT32, rank, dims, expected)
#define check_bool(t, rank, dims, expected)                                                        \
  check_bytes (t, GLIA_DATA_TYPE_BOOL, rank, dims, expected)

/* ---- graphs ---------------------------------------------------------------- */

/* A graph under construction with the tensors to feed its inputs. */
typedef struct
{
  GliaGraph *graph;
  GHashTable *feeds;
  guint n_values;
} Case;

static Case *
case_new (gint opset)
{
  Case *c = g_new0 (Case, 1);
  c->graph = glia_graph_new ();
  glia_graph_set_opset (c->graph, "", opset);
  c->feeds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  return c;
}

static void
case_free (Case *c)
{
  glia_graph_unref (c->graph);
  g_hash_table_unref (c->feeds);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Case, case_free)

/* A graph input fed with @t (taken); @symbolic declares every dim unknown. */
static gint
case_input_full (Case *c, const char *name, GliaTensor *t, gboolean symbolic)
{
  guint rank = 0;
  const gint64 *d = glia_tensor_get_shape (t, &rank);
  gint64 dims[GLIA_MAX_RANK];
  const char *params[GLIA_MAX_RANK];
  char names[GLIA_MAX_RANK][32];
  for (guint i = 0; i < rank; i++) {
    g_snprintf (names[i], sizeof names[i], "%s_d%u", name, i);
    dims[i] = symbolic ? -1 : d[i];
    params[i] = symbolic ? names[i] : NULL;
  }
  gint v
      = glia_graph_add_value (c->graph, name, glia_tensor_get_dtype (t), (gint)rank, dims, params);
  glia_graph_add_input (c->graph, v);
  g_hash_table_insert (c->feeds, g_strdup (name), t);
  return v;
}

static gint
case_input (Case *c, const char *name, GliaTensor *t)
{
  return case_input_full (c, name, t, FALSE);
}

/* A constant (initializer) with the value of @t (taken). */
static gint
case_const (Case *c, const char *name, GliaTensor *t)
{
  g_autoptr (GError) error = NULL;
  guint rank = 0;
  const gint64 *d = glia_tensor_get_shape (t, &rank);
  g_autoptr (GBytes) data = glia_tensor_get_data (t);
  gint v = glia_graph_add_value (c->graph, name, glia_tensor_get_dtype (t), (gint)rank, d, NULL);
  g_assert_true (glia_graph_value_set_constant (c->graph, v, glia_tensor_get_dtype (t), rank, d,
                                                data, &error));
  g_assert_no_error (error);
  g_object_unref (t);
  return v;
}

/* An intermediate value or graph output whose type inference fills. */
static gint
case_value (Case *c, const char *name)
{
  return glia_graph_add_value (c->graph, name, GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
}

static gint
case_output (Case *c, const char *name)
{
  gint v = case_value (c, name);
  glia_graph_add_output (c->graph, v);
  return v;
}

static gint
case_node (Case *c, const char *op, guint n_in, const gint *in, guint n_out, const gint *out)
{
  g_autofree char *name = g_strdup_printf ("%s_%u", op, glia_graph_get_n_nodes (c->graph));
  return glia_graph_add_node (c->graph, op, "", name, n_in, in, n_out, out);
}

/* One node with one output "y"; returns the node. */
static gint
case_op (Case *c, const char *op, guint n_in, const gint *in)
{
  gint y = case_output (c, "y");
  return case_node (c, op, n_in, in, 1, &y);
}

static GliaSession *
case_session (Case *c, GError **error)
{
  g_autoptr (GliaModel) model = glia_model_new_from_graph (c->graph, error);
  if (model == NULL)
    return NULL;
  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, (const char *[]){ "cpu", NULL });
  glia_session_options_set_threads (opts, 4);
  return glia_session_new_full (model, opts, registry, error);
}

/* Runs @c's graph on its feeds; NULL with @error set on failure. */
static GHashTable *
case_run (Case *c, GError **error)
{
  g_autoptr (GliaSession) s = case_session (c, error);
  if (s == NULL)
    return NULL;
  return glia_session_run (s, c->feeds, error);
}

/* Runs and returns output @name (the table is kept alive by @out). */
static GliaTensor *
case_run_ok (Case *c, GHashTable **out, const char *name)
{
  g_autoptr (GError) error = NULL;
  *out = case_run (c, &error);
  g_assert_no_error (error);
  g_assert_nonnull (*out);
  GliaTensor *t = g_hash_table_lookup (*out, name);
  g_assert_nonnull (t);
  return t;
}

/* Expects the run (or session creation) to fail with @code and a message
 * containing each of the NULL-terminated strings. */
static void
case_run_fails (Case *c, gint code, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) out = case_run (c, &error);
  g_assert_null (out);
  g_assert_error (error, GLIA_ERROR, code);
  va_list args;
  va_start (args, code);
  for (const char *s = va_arg (args, const char *); s; s = va_arg (args, const char *))
    if (strstr (error->message, s) == NULL)
      g_error ("error message '%s' does not contain '%s'", error->message, s);
  va_end (args);
}

/* ======================================================================== */
/* Elementwise                                                               */
/* ======================================================================== */

static double
ref_unary (const char *op, double x)
{
  if (g_str_equal (op, "Relu"))
    return x > 0 ? x : 0;
  if (g_str_equal (op, "Sigmoid"))
    return 1 / (1 + exp (-x));
  if (g_str_equal (op, "Tanh"))
    return tanh (x);
  if (g_str_equal (op, "Exp"))
    return exp (x);
  if (g_str_equal (op, "Log"))
    return log (x);
  if (g_str_equal (op, "Sqrt"))
    return sqrt (x);
  if (g_str_equal (op, "Neg"))
    return -x;
  if (g_str_equal (op, "Abs"))
    return fabs (x);
  if (g_str_equal (op, "Reciprocal"))
    return 1 / x;
  if (g_str_equal (op, "Floor"))
    return floor (x);
  if (g_str_equal (op, "Ceil"))
    return ceil (x);
  if (g_str_equal (op, "Erf"))
    return erf (x);
  if (g_str_equal (op, "LeakyRelu"))
    return x >= 0 ? x : 0.1 * x;
  if (g_str_equal (op, "Elu"))
    return x >= 0 ? x : 0.5 * (exp (x) - 1);
  if (g_str_equal (op, "Identity"))
    return x;
  g_assert_not_reached ();
}

static void
test_unary (void)
{
  static const char *const ops[]
      = { "Relu",       "Sigmoid", "Tanh", "Exp", "Log",       "Sqrt", "Neg",     "Abs",
          "Reciprocal", "Floor",   "Ceil", "Erf", "LeakyRelu", "Elu",  "Identity" };
  const gint64 *dims = DIMS (3, 5000); /* several parallel chunks */
  g_autofree float *x = random_floats (15000, 1);
  g_autofree float *expected = g_new (float, 15000);

  for (guint k = 0; k < G_N_ELEMENTS (ops); k++) {
    gboolean positive = g_str_equal (ops[k], "Log") || g_str_equal (ops[k], "Sqrt");
    g_autofree float *in = g_memdup2 (x, 15000 * sizeof (float));
    for (gsize i = 0; i < 15000; i++) {
      if (positive)
        in[i] = fabsf (in[i]) + 0.01f;
      expected[i] = (float)ref_unary (ops[k], in[i]);
    }
    g_autoptr (Case) c = case_new (17);
    gint xv = case_input (c, "x", tf32 (2, dims, in));
    gint node = case_op (c, ops[k], 1, &xv);
    if (g_str_equal (ops[k], "LeakyRelu"))
      glia_graph_node_set_attr_float (c->graph, node, "alpha", 0.1f);
    if (g_str_equal (ops[k], "Elu"))
      glia_graph_node_set_attr_float (c->graph, node, "alpha", 0.5f);
    g_autoptr (GHashTable) out = NULL;
    g_test_message ("%s", ops[k]);
    check_f32 (case_run_ok (c, &out, "y"), 2, dims, expected);
  }

  /* integer and double variants */
  {
    g_autoptr (Case) c = case_new (17);
    gint xv = case_input (c, "x",
                          tensor (GLIA_DATA_TYPE_INT32, 1, DIMS (4), I32 (-3, 0, 7, G_MININT32)));
    case_op (c, "Abs", 1, &xv);
    g_autoptr (GHashTable) out = NULL;
    /* |INT_MIN| wraps to INT_MIN, as two's complement does */
    check_i32 (case_run_ok (c, &out, "y"), 1, DIMS (4), I32 (3, 0, 7, G_MININT32));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint xv = case_input (c, "x", tensor (GLIA_DATA_TYPE_INT64, 1, DIMS (3), I64 (-3, 0, 7)));
    case_op (c, "Relu", 1, &xv);
    g_autoptr (GHashTable) out = NULL;
    check_i64 (case_run_ok (c, &out, "y"), 1, DIMS (3), I64 (0, 0, 7));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint xv = case_input (c, "x", tensor (GLIA_DATA_TYPE_DOUBLE, 1, DIMS (3), F64 (-1, 0, 2)));
    case_op (c, "Exp", 1, &xv);
    g_autoptr (GHashTable) out = NULL;
    check_f64 (case_run_ok (c, &out, "y"), 1, DIMS (3), F64 (exp (-1.0), 1, exp (2.0)));
  }
}

static void
test_clip (void)
{
  const float *x = F32 (-3, -1, 0, 0.5f, 2, 9);
  /* opset 11+: optional scalar inputs; min only */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[3] = { case_input (c, "x", tf32 (1, DIMS (6), x)),
                   case_const (c, "lo", tf32 (0, NULL, F32 (-1))), -1 };
    case_op (c, "Clip", 3, in);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 1, DIMS (6), F32 (-1, -1, 0, 0.5f, 2, 9));
  }
  /* both bounds, as runtime inputs */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[3] = { case_input (c, "x", tf32 (1, DIMS (6), x)),
                   case_input (c, "lo", tf32 (0, NULL, F32 (0))),
                   case_input (c, "hi", tf32 (0, NULL, F32 (1))) };
    case_op (c, "Clip", 3, in);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 1, DIMS (6), F32 (0, 0, 0, 0.5f, 1, 1));
  }
  /* opset 6: attributes */
  {
    g_autoptr (Case) c = case_new (6);
    gint xv = case_input (c, "x", tf32 (1, DIMS (6), x));
    gint node = case_op (c, "Clip", 1, &xv);
    glia_graph_node_set_attr_float (c->graph, node, "min", -2);
    glia_graph_node_set_attr_float (c->graph, node, "max", 1);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 1, DIMS (6), F32 (-2, -1, 0, 0.5f, 1, 1));
  }
  /* int32 */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[3]
        = { case_input (c, "x", tensor (GLIA_DATA_TYPE_INT32, 1, DIMS (4), I32 (-5, 0, 5, 50))),
            case_const (c, "lo", tensor (GLIA_DATA_TYPE_INT32, 0, NULL, I32 (-2))),
            case_const (c, "hi", tensor (GLIA_DATA_TYPE_INT32, 0, NULL, I32 (10))) };
    case_op (c, "Clip", 3, in);
    g_autoptr (GHashTable) out = NULL;
    check_i32 (case_run_ok (c, &out, "y"), 1, DIMS (4), I32 (-2, 0, 5, 10));
  }
  /* a bound that is not a scalar is an error at run time */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", tf32 (1, DIMS (6), x)),
                   case_input_full (c, "lo", tf32 (1, DIMS (2), F32 (0, 1)), TRUE) };
    case_op (c, "Clip", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Clip", "scalar", NULL);
  }
}

static GliaTensor *
run_cast (GliaTensor *x, GliaDataType to, GHashTable **out)
{
  g_autoptr (Case) c = case_new (17);
  gint xv = case_input (c, "x", x);
  gint node = case_op (c, "Cast", 1, &xv);
  glia_graph_node_set_attr_int (c->graph, node, "to", to);
  return case_run_ok (c, out, "y");
}

static void
test_cast (void)
{
  const gint64 *d4 = DIMS (4);
  {
    g_autoptr (GHashTable) out = NULL;
    GliaTensor *y
        = run_cast (tf32 (1, d4, F32 (-2.7f, -0.5f, 0.5f, 3.9f)), GLIA_DATA_TYPE_INT32, &out);
    check_i32 (y, 1, d4, I32 (-2, 0, 0, 3)); /* truncation toward zero */
  }
  {
    g_autoptr (GHashTable) out = NULL;
    GliaTensor *y = run_cast (ti64 (1, DIMS (3), I64 (1, -2, G_GINT64_CONSTANT (1) << 40)),
                              GLIA_DATA_TYPE_FLOAT, &out);
    check_f32 (y, 1, DIMS (3), F32 (1, -2, 1099511627776.0f));
  }
  {
    g_autoptr (GHashTable) out = NULL;
    GliaTensor *y = run_cast (tf32 (1, d4, F32 (0, -0.0f, 2, NAN)), GLIA_DATA_TYPE_BOOL, &out);
    check_bool (y, 1, d4, U8 (0, 0, 1, 1));
  }
  {
    g_autoptr (GHashTable) out = NULL;
    GliaTensor *y = run_cast (tensor (GLIA_DATA_TYPE_BOOL, 1, DIMS (2), U8 (1, 0)),
                              GLIA_DATA_TYPE_FLOAT, &out);
    check_f32 (y, 1, DIMS (2), F32 (1, 0));
  }
  {
    /* integer to integer wraps */
    g_autoptr (GHashTable) out = NULL;
    GliaTensor *y = run_cast (tensor (GLIA_DATA_TYPE_INT32, 1, DIMS (3), I32 (300, -1, 7)),
                              GLIA_DATA_TYPE_UINT8, &out);
    check_bytes (y, GLIA_DATA_TYPE_UINT8, 1, DIMS (3), U8 (44, 255, 7));
  }
  {
    /* float to integer saturates */
    g_autoptr (GHashTable) out = NULL;
    GliaTensor *y = run_cast (tf32 (1, DIMS (3), F32 (300, -300, NAN)), GLIA_DATA_TYPE_INT8, &out);
    check_bytes (y, GLIA_DATA_TYPE_INT8, 1, DIMS (3), ((const gint8[]){ 127, -128, 0 }));
  }
  {
    /* float16: normal, largest, rounded, subnormal, overflow */
    g_autoptr (GHashTable) out = NULL;
    GliaTensor *y = run_cast (tf32 (1, DIMS (5), F32 (1, 65504, 0.1f, 1e-7f, 1e6f)),
                              GLIA_DATA_TYPE_FLOAT16, &out);
    check_bytes (y, GLIA_DATA_TYPE_FLOAT16, 1, DIMS (5),
                 ((const guint16[]){ 0x3c00, 0x7bff, 0x2e66, 0x0002, 0x7c00 }));
    g_autoptr (GHashTable) out2 = NULL;
    GliaTensor *back = run_cast (g_object_ref (y), GLIA_DATA_TYPE_FLOAT, &out2);
    check_f32 (back, 1, DIMS (5),
               F32 (1, 65504, 0.0999755859375f, 1.1920928955078125e-07f, INFINITY));
  }
  {
    g_autoptr (GHashTable) out = NULL;
    GliaTensor *y = run_cast (tensor (GLIA_DATA_TYPE_DOUBLE, 1, DIMS (2), F64 (1.5, -1e300)),
                              GLIA_DATA_TYPE_FLOAT, &out);
    check_f32 (y, 1, DIMS (2), F32 (1.5f, -INFINITY));
  }
  /* an unknown target type is a model error naming the node and attribute */
  {
    g_autoptr (Case) c = case_new (17);
    gint xv = case_input (c, "x", tf32 (1, d4, F32 (1, 2, 3, 4)));
    gint node = case_op (c, "Cast", 1, &xv);
    glia_graph_node_set_attr_int (c->graph, node, "to", 99);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "Cast_0", "'to'", NULL);
  }
}

/* Flat index into an input of shape @in (right-aligned, numpy broadcasting)
 * of output element @o of shape @out. */
static gsize
bcast_index (gsize o, guint out_rank, const gint64 *out, guint in_rank, const gint64 *in)
{
  gsize idx = 0, stride = 1;
  for (gint i = (gint)out_rank - 1; i >= 0; i--) {
    gsize coord = o % (gsize)out[i];
    o /= (gsize)out[i];
    gint j = i - (gint)(out_rank - in_rank);
    if (j >= 0) {
      if (in[j] != 1)
        idx += coord * stride;
      stride *= (gsize)in[j];
    }
  }
  return idx;
}

/* Runs a float binary op on random inputs of two shapes and checks it
 * against @ref elementwise with broadcasting. */
static void
check_binary_f32 (const char *op, guint ra, const gint64 *da, guint rb, const gint64 *db, guint ro,
                  const gint64 *dout, double (*ref) (double, double))
{
  g_autofree float *a = random_floats (numel (ra, da), 7);
  g_autofree float *b = random_floats (numel (rb, db), 8);
  gsize n = numel (ro, dout);
  g_autofree float *expected = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    expected[i]
        = (float)ref (a[bcast_index (i, ro, dout, ra, da)], b[bcast_index (i, ro, dout, rb, db)]);
  g_autoptr (Case) c = case_new (17);
  gint in[2] = { case_input (c, "a", tf32 (ra, da, a)), case_input (c, "b", tf32 (rb, db, b)) };
  case_op (c, op, 2, in);
  g_autoptr (GHashTable) out = NULL;
  g_test_message ("%s", op);
  check_f32 (case_run_ok (c, &out, "y"), ro, dout, expected);
}

static double
ref_add (double a, double b)
{
  return a + b;
}

static double
ref_sub (double a, double b)
{
  return a - b;
}

static double
ref_mul (double a, double b)
{
  return a * b;
}

static double
ref_div (double a, double b)
{
  return a / b;
}

static double
ref_max (double a, double b)
{
  return MAX (a, b);
}

static void
test_broadcast (void)
{
  check_binary_f32 ("Add", 3, DIMS (2, 3, 4), 2, DIMS (3, 1), 3, DIMS (2, 3, 4), ref_add);
  check_binary_f32 ("Sub", 0, NULL, 2, DIMS (2, 5), 2, DIMS (2, 5), ref_sub);
  check_binary_f32 ("Mul", 2, DIMS (4, 1), 2, DIMS (1, 5), 2, DIMS (4, 5), ref_mul);
  check_binary_f32 ("Div", 2, DIMS (3, 4), 2, DIMS (3, 4), 2, DIMS (3, 4), ref_div);
  /* large enough that parallel chunks start in the middle of rows */
  check_binary_f32 ("Add", 2, DIMS (300, 257), 1, DIMS (257), 2, DIMS (300, 257), ref_add);
  check_binary_f32 ("Mul", 2, DIMS (300, 1), 3, DIMS (2, 1, 257), 3, DIMS (2, 300, 257), ref_mul);
  check_binary_f32 ("Sub", 4, DIMS (2, 1, 3, 1), 3, DIMS (5, 1, 7), 4, DIMS (2, 5, 3, 7), ref_sub);
  check_binary_f32 ("Max", 3, DIMS (2, 1, 64), 3, DIMS (1, 300, 64), 3, DIMS (2, 300, 64), ref_max);

  /* integers: wrap-free values, truncating division */
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2]
        = { case_input (c, "a", tensor (GLIA_DATA_TYPE_INT32, 2, DIMS (2, 2), I32 (-7, 7, 9, -9))),
            case_const (c, "b", tensor (GLIA_DATA_TYPE_INT32, 1, DIMS (2), I32 (2, -1))) };
    case_op (c, "Div", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_i32 (case_run_ok (c, &out, "y"), 2, DIMS (2, 2), I32 (-3, -7, 4, 9));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", ti64 (2, DIMS (2, 1), I64 (3, -4))),
                   case_input (c, "b", ti64 (1, DIMS (3), I64 (1, 10, 100))) };
    case_op (c, "Mul", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_i64 (case_run_ok (c, &out, "y"), 2, DIMS (2, 3), I64 (3, 30, 300, -4, -40, -400));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", tensor (GLIA_DATA_TYPE_DOUBLE, 1, DIMS (2), F64 (1.5, 2))),
                   case_input (c, "b", tensor (GLIA_DATA_TYPE_DOUBLE, 0, NULL, F64 (0.25))) };
    case_op (c, "Add", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_f64 (case_run_ok (c, &out, "y"), 1, DIMS (2), F64 (1.75, 2.25));
  }
  /* the narrow and unsigned integer types wrap like C's unsigned arithmetic */
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", tensor (GLIA_DATA_TYPE_UINT8, 1, DIMS (3), U8 (250, 7, 3))),
                   case_const (c, "b", tensor (GLIA_DATA_TYPE_UINT8, 0, NULL, U8 (10))) };
    case_op (c, "Add", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_bytes (case_run_ok (c, &out, "y"), GLIA_DATA_TYPE_UINT8, 1, DIMS (3), U8 (4, 17, 13));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = {
      case_input (c, "a",
                  tensor (GLIA_DATA_TYPE_INT8, 1, DIMS (3), ((const gint8[]){ -128, 100, -7 }))),
      case_const (c, "b", tensor (GLIA_DATA_TYPE_INT8, 1, DIMS (3), ((const gint8[]){ -1, 3, 2 })))
    };
    case_op (c, "Div", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_bytes (case_run_ok (c, &out, "y"), GLIA_DATA_TYPE_INT8, 1, DIMS (3),
                 ((const gint8[]){ -128, 33, -3 }));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2]
        = { case_input (
                c, "a",
                tensor (GLIA_DATA_TYPE_UINT64, 1, DIMS (2), ((const guint64[]){ G_MAXUINT64, 5 }))),
            case_input (c, "b",
                        tensor (GLIA_DATA_TYPE_UINT64, 1, DIMS (2), ((const guint64[]){ 3, 9 }))) };
    case_op (c, "Max", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_bytes (case_run_ok (c, &out, "y"), GLIA_DATA_TYPE_UINT64, 1, DIMS (2),
                 ((const guint64[]){ G_MAXUINT64, 9 }));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[3]
        = { case_input (
                c, "x",
                tensor (GLIA_DATA_TYPE_UINT16, 1, DIMS (3), ((const guint16[]){ 1, 500, 65535 }))),
            case_const (c, "lo", tensor (GLIA_DATA_TYPE_UINT16, 0, NULL, ((const guint16[]){ 2 }))),
            -1 };
    case_op (c, "Clip", 3, in);
    g_autoptr (GHashTable) out = NULL;
    check_bytes (case_run_ok (c, &out, "y"), GLIA_DATA_TYPE_UINT16, 1, DIMS (3),
                 ((const guint16[]){ 2, 500, 65535 }));
  }
  /* Pow: float base, float or int64 exponent; integer Pow is exact */
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", tf32 (1, DIMS (3), F32 (2, 9, -2))),
                   case_const (c, "b", ti64 (1, DIMS (3), I64 (3, 0, 2))) };
    case_op (c, "Pow", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 1, DIMS (3), F32 (8, 1, 4));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = {
      case_input (c, "a", tf32 (1, DIMS (2), F32 (3, 2))),
      case_const (c, "b", tensor (GLIA_DATA_TYPE_UINT32, 1, DIMS (2), ((const guint32[]){ 2, 10 })))
    };
    case_op (c, "Pow", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 1, DIMS (2), F32 (9, 1024));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", tf32 (1, DIMS (2), F32 (4, 2))),
                   case_const (c, "b", tf32 (0, NULL, F32 (0.5f))) };
    case_op (c, "Pow", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 1, DIMS (2), F32 (2, (float)G_SQRT2));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", ti64 (1, DIMS (3), I64 (3, -2, 10))),
                   case_const (c, "b", ti64 (1, DIMS (3), I64 (4, 3, 15))) };
    case_op (c, "Pow", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_i64 (case_run_ok (c, &out, "y"), 1, DIMS (3), I64 (81, -8, 1000000000000000));
  }

  /* integer division by zero is an error, not a crash */
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", ti64 (1, DIMS (2), I64 (1, 2))),
                   case_input (c, "b", ti64 (1, DIMS (2), I64 (1, 0))) };
    case_op (c, "Div", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Div", "division by zero", NULL);
  }
  /* shapes that do not broadcast: at run time (symbolic dims) ... */
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input_full (c, "a", tf32 (2, DIMS (2, 3), F32 (1, 2, 3, 4, 5, 6)), TRUE),
                   case_input_full (c, "b", tf32 (1, DIMS (4), F32 (1, 2, 3, 4)), TRUE) };
    case_op (c, "Add", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Add", "[2,3]", "[4]", NULL);
  }
  /* ... and during shape inference when they are known */
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", tf32 (2, DIMS (2, 3), F32 (1, 2, 3, 4, 5, 6))),
                   case_input (c, "b", tf32 (1, DIMS (4), F32 (1, 2, 3, 4))) };
    case_op (c, "Mul", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "Mul", "[2,3]", "[4]", NULL);
  }
  /* mismatched element types */
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", tf32 (1, DIMS (2), F32 (1, 2))),
                   case_input (c, "b", ti64 (1, DIMS (2), I64 (1, 2))) };
    case_op (c, "Add", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Add", "float32", "int64", NULL);
  }
}

static void
test_compare_where (void)
{
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", ti64 (2, DIMS (2, 3), I64 (1, 2, 3, 4, 5, 6))),
                   case_const (c, "b", ti64 (2, DIMS (2, 1), I64 (2, 6))) };
    case_op (c, "Equal", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_bool (case_run_ok (c, &out, "y"), 2, DIMS (2, 3), U8 (0, 1, 0, 0, 0, 1));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", tf32 (1, DIMS (4), F32 (1, 2, 3, NAN))),
                   case_const (c, "b", tf32 (0, NULL, F32 (2))) };
    case_op (c, "Less", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_bool (case_run_ok (c, &out, "y"), 1, DIMS (4), U8 (1, 0, 0, 0));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_const (c, "a", tensor (GLIA_DATA_TYPE_INT32, 1, DIMS (3), I32 (1, 2, 3))),
                   case_input (c, "b", tensor (GLIA_DATA_TYPE_INT32, 2, DIMS (2, 1), I32 (2, 0))) };
    case_op (c, "Greater", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_bool (case_run_ok (c, &out, "y"), 2, DIMS (2, 3), U8 (0, 0, 1, 1, 1, 1));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "a", tf32 (1, DIMS (3), F32 (1, 2, 3))),
                   case_const (c, "b", tf32 (0, NULL, F32 (2))) };
    case_op (c, "GreaterOrEqual", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_bool (case_run_ok (c, &out, "y"), 1, DIMS (3), U8 (0, 1, 1));
  }
  /* Where with three-way broadcasting */
  {
    g_autoptr (Case) c = case_new (17);
    gint in[3] = { case_input (c, "c", tensor (GLIA_DATA_TYPE_BOOL, 2, DIMS (2, 1), U8 (1, 0))),
                   case_input (c, "x", tf32 (1, DIMS (3), F32 (1, 2, 3))),
                   case_const (c, "z", tf32 (0, NULL, F32 (-1))) };
    case_op (c, "Where", 3, in);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 2, DIMS (2, 3), F32 (1, 2, 3, -1, -1, -1));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[3] = { case_input (c, "c", tensor (GLIA_DATA_TYPE_BOOL, 1, DIMS (3), U8 (0, 1, 0))),
                   case_input (c, "x", ti64 (2, DIMS (2, 1), I64 (10, 20))),
                   case_input (c, "z", ti64 (1, DIMS (3), I64 (1, 2, 3))) };
    case_op (c, "Where", 3, in);
    g_autoptr (GHashTable) out = NULL;
    check_i64 (case_run_ok (c, &out, "y"), 2, DIMS (2, 3), I64 (1, 10, 3, 1, 20, 3));
  }
  /* variadic Max / Min with broadcasting */
  {
    g_autoptr (Case) c = case_new (17);
    gint in[3] = { case_input (c, "a", tf32 (2, DIMS (2, 3), F32 (1, 5, -2, 0, 7, 3))),
                   case_input (c, "b", tf32 (1, DIMS (3), F32 (2, 2, 2))),
                   case_const (c, "d", tf32 (0, NULL, F32 (4))) };
    case_op (c, "Max", 3, in);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 2, DIMS (2, 3), F32 (4, 5, 4, 4, 7, 4));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint in[3] = { case_input (c, "a", tensor (GLIA_DATA_TYPE_INT32, 1, DIMS (3), I32 (5, -1, 2))),
                   case_input (c, "b", tensor (GLIA_DATA_TYPE_INT32, 2, DIMS (2, 1), I32 (0, 3))),
                   case_input (c, "d", tensor (GLIA_DATA_TYPE_INT32, 1, DIMS (1), I32 (4))) };
    case_op (c, "Min", 3, in);
    g_autoptr (GHashTable) out = NULL;
    check_i32 (case_run_ok (c, &out, "y"), 2, DIMS (2, 3), I32 (0, -1, 0, 3, -1, 2));
  }
  {
    g_autoptr (Case) c = case_new (17);
    gint a = case_input (c, "a", tf32 (1, DIMS (2), F32 (1, -1)));
    case_op (c, "Min", 1, &a);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 1, DIMS (2), F32 (1, -1));
  }
}

/* ======================================================================== */
/* MatMul, Gemm                                                              */
/* ======================================================================== */

/* numpy matmul, written out. */
static void
ref_matmul (guint ra, const gint64 *da, const float *a, guint rb, const gint64 *db, const float *b,
            guint ro, const gint64 *dout, float *y)
{
  gint64 m = ra > 1 ? da[ra - 2] : 1, k = da[ra - 1], n = rb > 1 ? db[rb - 1] : 1;
  guint nbo = ro - (ra > 1) - (rb > 1);
  guint nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
  gsize batches = numel (nbo, dout);
  for (gsize bi = 0; bi < batches; bi++) {
    const float *am = a + bcast_index (bi, nbo, dout, nba, da) * m * k;
    const float *bm = b + bcast_index (bi, nbo, dout, nbb, db) * k * n;
    for (gint64 i = 0; i < m; i++)
      for (gint64 j = 0; j < n; j++) {
        double acc = 0;
        for (gint64 p = 0; p < k; p++)
          acc += (double)am[i * k + p] * bm[p * n + j];
        y[bi * m * n + i * n + j] = (float)acc;
      }
  }
}

static void
check_matmul (guint ra, const gint64 *da, guint rb, const gint64 *db, guint ro, const gint64 *dout)
{
  g_autofree float *a = random_floats (numel (ra, da), 11);
  g_autofree float *b = random_floats (numel (rb, db), 12);
  g_autofree float *expected = g_new (float, numel (ro, dout));
  ref_matmul (ra, da, a, rb, db, b, ro, dout, expected);
  g_autoptr (Case) c = case_new (13);
  gint in[2] = { case_input (c, "a", tf32 (ra, da, a)), case_input (c, "b", tf32 (rb, db, b)) };
  case_op (c, "MatMul", 2, in);
  g_autoptr (GHashTable) out = NULL;
  check_f32 (case_run_ok (c, &out, "y"), ro, dout, expected);
}

static void
test_matmul (void)
{
  check_matmul (2, DIMS (3, 4), 2, DIMS (4, 5), 2, DIMS (3, 5));
  check_matmul (4, DIMS (2, 1, 3, 4), 3, DIMS (3, 4, 5), 4, DIMS (2, 3, 3, 5));
  check_matmul (3, DIMS (2, 3, 4), 2, DIMS (4, 5), 3, DIMS (2, 3, 5));
  check_matmul (2, DIMS (3, 4), 3, DIMS (2, 4, 5), 3, DIMS (2, 3, 5));
  check_matmul (3, DIMS (2, 3, 4), 3, DIMS (1, 4, 5), 3, DIMS (2, 3, 5));
  check_matmul (1, DIMS (4), 2, DIMS (4, 5), 1, DIMS (5));
  check_matmul (3, DIMS (2, 3, 4), 1, DIMS (4), 2, DIMS (2, 3));
  check_matmul (1, DIMS (4), 1, DIMS (4), 0, NULL);
  check_matmul (1, DIMS (4), 3, DIMS (2, 4, 3), 2, DIMS (2, 3));
  check_matmul (2, DIMS (64, 100), 2, DIMS (100, 70), 2, DIMS (64, 70));
  /* many small matrices, broadcast both ways: split over threads */
  check_matmul (4, DIMS (3, 1, 2, 4), 4, DIMS (1, 5, 4, 3), 4, DIMS (3, 5, 2, 3));

  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = {
      case_input (c, "a", tensor (GLIA_DATA_TYPE_INT32, 2, DIMS (2, 3), I32 (1, 2, 3, 4, 5, 6))),
      case_const (c, "b", tensor (GLIA_DATA_TYPE_INT32, 2, DIMS (3, 2), I32 (1, 0, 0, 1, 2, -1)))
    };
    case_op (c, "MatMul", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_i32 (case_run_ok (c, &out, "y"), 2, DIMS (2, 2), I32 (7, -1, 16, -1));
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2]
        = { case_input (c, "a", tensor (GLIA_DATA_TYPE_DOUBLE, 2, DIMS (1, 2), F64 (1, 2))),
            case_const (c, "b",
                        tensor (GLIA_DATA_TYPE_DOUBLE, 2, DIMS (2, 2), F64 (1, 0.5, 0.25, 2))) };
    case_op (c, "MatMul", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_f64 (case_run_ok (c, &out, "y"), 2, DIMS (1, 2), F64 (1.5, 4.5));
  }
  /* inner dims that differ at run time */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input_full (c, "a", trandom (2, DIMS (3, 4), 1), TRUE),
                   case_input_full (c, "b", trandom (2, DIMS (5, 2), 2), TRUE) };
    case_op (c, "MatMul", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "MatMul", "[3,4]", "[5,2]", NULL);
  }
}

/* RNN, GRU (with and without linear_before_reset) and LSTM, forward and
 * bidirectional, with W a constant (X W^T for all steps on the AVX-512
 * tiles where the CPU has them, W packed at session creation) and with W
 * an input (OpenBLAS): the same outputs. 9 hidden units: gate rows that do
 * not fill whole panels. */
static void
test_rnn_constant_w (void)
{
  const char *ops[] = { "RNN", "GRU", "GRU", "LSTM" };
  const gint64 n_gates[] = { 1, 3, 3, 4 };
  for (guint o = 0; o < G_N_ELEMENTS (ops); o++)
    for (gint64 dirs = 1; dirs <= 2; dirs++) {
      const gint64 seq = 5, batch = 2, input = 7, hidden = 9, gh = n_gates[o] * hidden;
      GliaTensor *y[2];
      GHashTable *tables[2];
      for (guint constant = 0; constant < 2; constant++) {
        g_autoptr (Case) c = case_new (14);
        GliaTensor *w = trandom (3, DIMS (dirs, gh, input), 2);
        gint in[4] = { case_input (c, "x", trandom (3, DIMS (seq, batch, input), 1)),
                       constant ? case_const (c, "w", w) : case_input (c, "w", w),
                       case_const (c, "r", trandom (3, DIMS (dirs, gh, hidden), 3)),
                       case_const (c, "b", trandom (2, DIMS (dirs, 2 * gh), 4)) };
        gint node = case_op (c, ops[o], 4, in);
        glia_graph_node_set_attr_int (c->graph, node, "hidden_size", hidden);
        if (dirs == 2)
          glia_graph_node_set_attr_string (c->graph, node, "direction", "bidirectional", 13);
        if (o == 2)
          glia_graph_node_set_attr_int (c->graph, node, "linear_before_reset", 1);
        y[constant] = case_run_ok (c, &tables[constant], "y");
      }
      g_test_message ("%s, %" G_GINT64_FORMAT " direction(s)", ops[o], dirs);
      check_f32 (y[1], 4, DIMS (seq, dirs, batch, hidden), glia_tensor_peek_data (y[0], NULL));
      g_hash_table_unref (tables[0]);
      g_hash_table_unref (tables[1]);
    }
}

static void
check_gemm (gboolean ta, gboolean tb, guint rc, const gint64 *dc)
{
  const gint64 m = 3, k = 4, n = 5;
  const float alpha = 0.5f, beta = 2.0f;
  gint64 da[2] = { ta ? k : m, ta ? m : k };
  gint64 db[2] = { tb ? n : k, tb ? k : n };
  g_autofree float *a = random_floats (m * k, 21);
  g_autofree float *b = random_floats (k * n, 22);
  g_autofree float *cv = dc || rc == 0 ? random_floats (numel (rc, dc), 23) : NULL;
  float expected[15];
  for (gint64 i = 0; i < m; i++)
    for (gint64 j = 0; j < n; j++) {
      double acc = 0;
      for (gint64 p = 0; p < k; p++)
        acc += (double)a[ta ? p * m + i : i * k + p] * b[tb ? j * k + p : p * n + j];
      double cij = 0;
      if (cv)
        cij = cv[bcast_index (i * n + j, 2, DIMS (m, n), rc, dc)];
      expected[i * n + j] = (float)(alpha * acc + beta * cij);
    }

  g_autoptr (Case) c = case_new (13);
  gint in[3] = { case_input (c, "a", tf32 (2, da, a)), case_const (c, "b", tf32 (2, db, b)), -1 };
  if (cv)
    in[2] = case_const (c, "c", tf32 (rc, dc, cv));
  gint node = case_op (c, "Gemm", cv ? 3 : 2, in);
  glia_graph_node_set_attr_float (c->graph, node, "alpha", alpha);
  glia_graph_node_set_attr_float (c->graph, node, "beta", beta);
  glia_graph_node_set_attr_int (c->graph, node, "transA", ta);
  glia_graph_node_set_attr_int (c->graph, node, "transB", tb);
  g_autoptr (GHashTable) out = NULL;
  g_test_message ("Gemm transA=%d transB=%d C rank %u", ta, tb, cv ? rc : 99);
  check_f32 (case_run_ok (c, &out, "y"), 2, DIMS (m, n), expected);
}

static void
test_gemm (void)
{
  for (guint t = 0; t < 4; t++) {
    check_gemm (t & 1, t >> 1, 1, DIMS (5));
    check_gemm (t & 1, t >> 1, 2, DIMS (3, 5));
  }
  check_gemm (FALSE, TRUE, 2, DIMS (3, 1));
  check_gemm (TRUE, FALSE, 0, NULL);
  check_gemm (TRUE, TRUE, 1, NULL); /* no C */

  /* transA = 2 is a model error naming the node and the attribute */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "a", trandom (2, DIMS (2, 2), 1)),
                   case_input (c, "b", trandom (2, DIMS (2, 2), 2)) };
    gint node = case_op (c, "Gemm", 2, in);
    glia_graph_node_set_attr_int (c->graph, node, "transA", 2);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "Gemm_0", "transA", NULL);
  }
  /* K mismatch at run time */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input_full (c, "a", trandom (2, DIMS (2, 3), 1), TRUE),
                   case_input_full (c, "b", trandom (2, DIMS (4, 2), 2), TRUE) };
    case_op (c, "Gemm", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Gemm", "[2,3]", "[4,2]", NULL);
  }
  /* C that does not broadcast to [M, N] */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[3] = { case_input_full (c, "a", trandom (2, DIMS (2, 3), 1), TRUE),
                   case_input_full (c, "b", trandom (2, DIMS (3, 2), 2), TRUE),
                   case_input_full (c, "c", trandom (1, DIMS (3), 3), TRUE) };
    case_op (c, "Gemm", 3, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Gemm", "[3]", "[2,2]", NULL);
  }
}

/* ======================================================================== */
/* Conv                                                                      */
/* ======================================================================== */

typedef struct
{
  gint64 n, c, h, w; /* input */
  gint64 m, kh, kw;  /* weights */
  gint64 sh, sw, dh, dw;
  gint64 pt, pl, pb, pr; /* pads: top, left, bottom, right */
  gint64 group;
} ConvSpec;

static void
conv_out (const ConvSpec *s, gint64 *oh, gint64 *ow)
{
  *oh = (s->h + s->pt + s->pb - ((s->kh - 1) * s->dh + 1)) / s->sh + 1;
  *ow = (s->w + s->pl + s->pr - ((s->kw - 1) * s->dw + 1)) / s->sw + 1;
}

/* Direct convolution, one output at a time. */
static void
ref_conv2d (const ConvSpec *s, const float *x, const float *w, const float *b, float *y)
{
  gint64 oh, ow;
  conv_out (s, &oh, &ow);
  gint64 cg = s->c / s->group, mg = s->m / s->group;
  for (gint64 n = 0; n < s->n; n++)
    for (gint64 m = 0; m < s->m; m++)
      for (gint64 i = 0; i < oh; i++)
        for (gint64 j = 0; j < ow; j++) {
          double acc = b ? b[m] : 0;
          gint64 g = m / mg;
          for (gint64 cc = 0; cc < cg; cc++)
            for (gint64 u = 0; u < s->kh; u++)
              for (gint64 v = 0; v < s->kw; v++) {
                gint64 hi = i * s->sh - s->pt + u * s->dh;
                gint64 wi = j * s->sw - s->pl + v * s->dw;
                if (hi < 0 || hi >= s->h || wi < 0 || wi >= s->w)
                  continue;
                acc += (double)x[((n * s->c + g * cg + cc) * s->h + hi) * s->w + wi]
                       * w[((m * cg + cc) * s->kh + u) * s->kw + v];
              }
          y[((n * s->m + m) * oh + i) * ow + j] = (float)acc;
        }
}

/* Runs Conv as @s describes (2-D, or 1-D when @one_d and h == kh == 1),
 * optionally with @auto_pad instead of explicit pads. */
static void
check_conv (const ConvSpec *s, gboolean bias, gboolean one_d, const char *auto_pad)
{
  gint64 oh, ow;
  conv_out (s, &oh, &ow);
  gint64 dx[4] = { s->n, s->c, s->h, s->w }, dw[4] = { s->m, s->c / s->group, s->kh, s->kw };
  gint64 dy[4] = { s->n, s->m, oh, ow };
  g_autofree float *x = random_floats (numel (4, dx), 31);
  g_autofree float *w = random_floats (numel (4, dw), 32);
  g_autofree float *b = random_floats (s->m, 33);
  g_autofree float *expected = g_new (float, numel (4, dy));
  ref_conv2d (s, x, w, bias ? b : NULL, expected);

  guint rank = one_d ? 3 : 4;
  if (one_d) {
    dx[2] = dx[3];
    dw[2] = dw[3];
    dy[2] = dy[3];
  }
  g_autoptr (Case) c = case_new (13);
  gint in[3] = { case_input (c, "x", tf32 (rank, dx, x)), case_const (c, "w", tf32 (rank, dw, w)),
                 bias ? case_const (c, "b", tf32 (1, DIMS (s->m), b)) : -1 };
  gint node = case_op (c, "Conv", bias ? 3 : 2, in);
  if (one_d) {
    glia_graph_node_set_attr_ints (c->graph, node, "strides", DIMS (s->sw), 1);
    glia_graph_node_set_attr_ints (c->graph, node, "dilations", DIMS (s->dw), 1);
    glia_graph_node_set_attr_ints (c->graph, node, "pads", DIMS (s->pl, s->pr), 2);
    glia_graph_node_set_attr_ints (c->graph, node, "kernel_shape", DIMS (s->kw), 1);
  } else {
    glia_graph_node_set_attr_ints (c->graph, node, "strides", DIMS (s->sh, s->sw), 2);
    glia_graph_node_set_attr_ints (c->graph, node, "dilations", DIMS (s->dh, s->dw), 2);
    if (auto_pad)
      glia_graph_node_set_attr_string (c->graph, node, "auto_pad", auto_pad, strlen (auto_pad));
    else
      glia_graph_node_set_attr_ints (c->graph, node, "pads", DIMS (s->pt, s->pl, s->pb, s->pr), 4);
  }
  glia_graph_node_set_attr_int (c->graph, node, "group", s->group);
  g_autoptr (GHashTable) out = NULL;
  check_f32 (case_run_ok (c, &out, "y"), rank, dy, expected);
}

static void
test_conv (void)
{
  /* padding and stride, with bias */
  check_conv (&(ConvSpec){ 2, 3, 7, 6, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1 }, TRUE, FALSE, NULL);
  /* dilation, asymmetric pads, mixed strides, no bias */
  check_conv (&(ConvSpec){ 1, 2, 9, 8, 3, 3, 2, 1, 2, 2, 2, 0, 1, 2, 1, 1 }, FALSE, FALSE, NULL);
  /* two groups */
  check_conv (&(ConvSpec){ 2, 4, 6, 6, 6, 3, 2, 1, 1, 1, 1, 1, 0, 1, 0, 2 }, TRUE, FALSE, NULL);
  /* depthwise */
  check_conv (&(ConvSpec){ 1, 3, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3 }, TRUE, FALSE, NULL);
  /* pointwise (the input is its own column matrix) */
  check_conv (&(ConvSpec){ 2, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 }, TRUE, FALSE, NULL);
  /* a larger one, so im2col and the bias fill run in parallel chunks */
  check_conv (&(ConvSpec){ 2, 8, 40, 40, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, TRUE, FALSE, NULL);
  /* 1-D */
  check_conv (&(ConvSpec){ 2, 2, 1, 10, 3, 1, 3, 1, 2, 1, 1, 0, 1, 0, 1, 1 }, TRUE, TRUE, NULL);
  /* auto_pad: SAME_UPPER puts the odd pad at the end, SAME_LOWER at the start */
  check_conv (&(ConvSpec){ 1, 2, 5, 5, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1 }, TRUE, FALSE,
              "SAME_UPPER");
  check_conv (&(ConvSpec){ 1, 2, 5, 5, 2, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1 }, FALSE, FALSE,
              "SAME_UPPER");
  check_conv (&(ConvSpec){ 1, 2, 5, 5, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 1 }, FALSE, FALSE,
              "SAME_LOWER");
  check_conv (&(ConvSpec){ 1, 2, 6, 5, 2, 3, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1 }, FALSE, FALSE, "VALID");

  /* channels that do not match the weights at run time */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input_full (c, "x", trandom (4, DIMS (1, 3, 5, 5), 1), TRUE),
                   case_const (c, "w", trandom (4, DIMS (2, 2, 3, 3), 2)) };
    case_op (c, "Conv", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Conv", "[1,3,5,5]", "channels", NULL);
  }
  /* group 0 */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", trandom (4, DIMS (1, 2, 5, 5), 1)),
                   case_const (c, "w", trandom (4, DIMS (2, 2, 3, 3), 2)) };
    gint node = case_op (c, "Conv", 2, in);
    glia_graph_node_set_attr_int (c->graph, node, "group", 0);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "Conv_0", "'group'", NULL);
  }
  /* a window larger than the padded input */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input_full (c, "x", trandom (4, DIMS (1, 2, 2, 2), 1), TRUE),
                   case_const (c, "w", trandom (4, DIMS (2, 2, 3, 3), 2)) };
    case_op (c, "Conv", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Conv", "larger", NULL);
  }
}

/* ======================================================================== */
/* Pooling                                                                   */
/* ======================================================================== */

typedef struct
{
  gint64 n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  gboolean ceil_mode;
} PoolSpec;

static void
pool_out (const PoolSpec *s, gint64 *oh, gint64 *ow)
{
  gint64 eh = (s->kh - 1) * s->dh + 1, ew = (s->kw - 1) * s->dw + 1;
  gint64 ah = s->h + s->pt + s->pb - eh, aw = s->w + s->pl + s->pr - ew;
  if (s->ceil_mode) {
    *oh = (ah + s->sh - 1) / s->sh + 1;
    *ow = (aw + s->sw - 1) / s->sw + 1;
    if ((*oh - 1) * s->sh >= s->h + s->pt)
      (*oh)--;
    if ((*ow - 1) * s->sw >= s->w + s->pl)
      (*ow)--;
  } else {
    *oh = ah / s->sh + 1;
    *ow = aw / s->sw + 1;
  }
}

/* mode: 0 max, 1 average excluding pads, 2 average including pads */
static void
ref_pool2d (const PoolSpec *s, int mode, const float *x, float *y, gint64 *ind)
{
  gint64 oh, ow;
  pool_out (s, &oh, &ow);
  for (gint64 p = 0; p < s->n * s->c; p++)
    for (gint64 i = 0; i < oh; i++)
      for (gint64 j = 0; j < ow; j++) {
        double best = -INFINITY, sum = 0;
        gint64 at = -1, count = 0, padded = 0;
        for (gint64 u = 0; u < s->kh; u++)
          for (gint64 v = 0; v < s->kw; v++) {
            gint64 hi = i * s->sh - s->pt + u * s->dh, wi = j * s->sw - s->pl + v * s->dw;
            if (hi < s->h + s->pb && wi < s->w + s->pr)
              padded++;
            if (hi < 0 || hi >= s->h || wi < 0 || wi >= s->w)
              continue;
            float val = x[(p * s->h + hi) * s->w + wi];
            count++;
            sum += val;
            if (val > best) {
              best = val;
              at = (p * s->h + hi) * s->w + wi;
            }
          }
        gsize o = (p * oh + i) * ow + j;
        y[o] = mode == 0 ? (float)best : (float)(sum / (mode == 2 ? padded : count));
        if (ind)
          ind[o] = at;
      }
}

static void
check_pool (const PoolSpec *s, int mode, gboolean with_indices, const char *auto_pad)
{
  gint64 oh, ow;
  pool_out (s, &oh, &ow);
  const gint64 *dx = DIMS (s->n, s->c, s->h, s->w);
  gint64 dy[4] = { s->n, s->c, oh, ow };
  g_autofree float *x = random_floats (numel (4, dx), 41);
  g_autofree float *expected = g_new (float, numel (4, dy));
  g_autofree gint64 *exp_ind = g_new (gint64, numel (4, dy));
  ref_pool2d (s, mode, x, expected, exp_ind);

  g_autoptr (Case) c = case_new (17);
  gint xv = case_input (c, "x", tf32 (4, dx, x));
  gint outs[2] = { case_output (c, "y"), with_indices ? case_output (c, "i") : -1 };
  gint node
      = case_node (c, mode == 0 ? "MaxPool" : "AveragePool", 1, &xv, with_indices ? 2 : 1, outs);
  glia_graph_node_set_attr_ints (c->graph, node, "kernel_shape", DIMS (s->kh, s->kw), 2);
  glia_graph_node_set_attr_ints (c->graph, node, "strides", DIMS (s->sh, s->sw), 2);
  if (s->dh != 1 || s->dw != 1)
    glia_graph_node_set_attr_ints (c->graph, node, "dilations", DIMS (s->dh, s->dw), 2);
  if (auto_pad)
    glia_graph_node_set_attr_string (c->graph, node, "auto_pad", auto_pad, strlen (auto_pad));
  else
    glia_graph_node_set_attr_ints (c->graph, node, "pads", DIMS (s->pt, s->pl, s->pb, s->pr), 4);
  glia_graph_node_set_attr_int (c->graph, node, "ceil_mode", s->ceil_mode);
  if (mode == 2)
    glia_graph_node_set_attr_int (c->graph, node, "count_include_pad", 1);
  g_autoptr (GHashTable) out = NULL;
  check_f32 (case_run_ok (c, &out, "y"), 4, dy, expected);
  if (with_indices)
    check_i64 (g_hash_table_lookup (out, "i"), 4, dy, exp_ind);
}

static void
test_pool (void)
{
  PoolSpec s = { 2, 3, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, FALSE };
  check_pool (&s, 0, TRUE, NULL);
  check_pool (&s, 1, FALSE, NULL);
  check_pool (&s, 2, FALSE, NULL);
  /* asymmetric pads and windows */
  PoolSpec a = { 1, 2, 6, 5, 2, 3, 1, 2, 1, 1, 0, 1, 1, 2, FALSE };
  check_pool (&a, 0, TRUE, NULL);
  check_pool (&a, 1, FALSE, NULL);
  check_pool (&a, 2, FALSE, NULL);
  /* dilation */
  PoolSpec d = { 1, 2, 8, 8, 2, 2, 1, 2, 2, 3, 0, 0, 0, 0, FALSE };
  check_pool (&d, 0, TRUE, NULL);
  /* ceil_mode: the partial last window counts */
  PoolSpec cm = { 1, 1, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, TRUE };
  check_pool (&cm, 0, FALSE, NULL);
  check_pool (&cm, 1, FALSE, NULL);
  PoolSpec cm2 = { 1, 2, 7, 6, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, TRUE };
  check_pool (&cm2, 1, FALSE, NULL);
  /* SAME_UPPER on 5x5 with stride 2 and window 2: pads 0 before, 1 after */
  PoolSpec same = { 1, 2, 5, 5, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1, FALSE };
  check_pool (&same, 0, FALSE, "SAME_UPPER");
  check_pool (&same, 1, FALSE, "SAME_UPPER");

  /* Indices in column-major order (storage_order = 1): h + w * H */
  {
    g_autoptr (Case) c = case_new (17);
    gint xv = case_input (c, "x", tf32 (4, DIMS (1, 1, 2, 3), F32 (1, 6, 8, 4, 2, 7)));
    gint outs[2] = { case_output (c, "y"), case_output (c, "i") };
    gint node = case_node (c, "MaxPool", 1, &xv, 2, outs);
    glia_graph_node_set_attr_ints (c->graph, node, "kernel_shape", DIMS (2, 2), 2);
    glia_graph_node_set_attr_int (c->graph, node, "storage_order", 1);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 4, DIMS (1, 1, 1, 2), F32 (6, 8));
    check_i64 (g_hash_table_lookup (out, "i"), 4, DIMS (1, 1, 1, 2), I64 (2, 4));
  }
  /* MaxPool 1-D, by hand */
  {
    g_autoptr (Case) c = case_new (17);
    gint xv = case_input (c, "x", tf32 (3, DIMS (1, 1, 6), F32 (1, 3, 2, -1, 5, 4)));
    gint node = case_op (c, "MaxPool", 1, &xv);
    glia_graph_node_set_attr_ints (c->graph, node, "kernel_shape", DIMS (2), 1);
    glia_graph_node_set_attr_ints (c->graph, node, "strides", DIMS (2), 1);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 3, DIMS (1, 1, 3), F32 (3, 2, 5));
  }
  /* Global pools */
  {
    const gint64 *dx = DIMS (2, 3, 4, 5);
    g_autofree float *x = random_floats (120, 5);
    float emax[6], eavg[6];
    for (gint p = 0; p < 6; p++) {
      double sum = 0;
      emax[p] = -INFINITY;
      for (gint i = 0; i < 20; i++) {
        emax[p] = MAX (emax[p], x[p * 20 + i]);
        sum += x[p * 20 + i];
      }
      eavg[p] = (float)(sum / 20);
    }
    for (guint k = 0; k < 2; k++) {
      g_autoptr (Case) c = case_new (17);
      gint xv = case_input (c, "x", tf32 (4, dx, x));
      case_op (c, k ? "GlobalAveragePool" : "GlobalMaxPool", 1, &xv);
      g_autoptr (GHashTable) out = NULL;
      check_f32 (case_run_ok (c, &out, "y"), 4, DIMS (2, 3, 1, 1), k ? eavg : emax);
    }
  }
  /* kernel_shape is required */
  {
    g_autoptr (Case) c = case_new (17);
    gint xv = case_input (c, "x", trandom (4, DIMS (1, 1, 4, 4), 1));
    case_op (c, "MaxPool", 1, &xv);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "MaxPool_0", "kernel_shape", NULL);
  }
  /* a known rank that is too small fails shape inference */
  {
    g_autoptr (Case) c = case_new (17);
    gint xv = case_input_full (c, "x", trandom (2, DIMS (4, 4), 1), TRUE);
    case_op (c, "GlobalAveragePool", 1, &xv);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "GlobalAveragePool_0", "[N,C,spatial...]", NULL);
  }
}

/* ======================================================================== */
/* Normalisations                                                            */
/* ======================================================================== */

static void
test_batch_norm (void)
{
  const gint64 *dx = DIMS (2, 3, 2, 2);
  g_autofree float *x = random_floats (24, 51);
  const float scale[3] = { 1, 0.5f, -2 }, bias[3] = { 0, 1, 0.25f };
  const float mean[3] = { 0.1f, -0.2f, 0.3f }, var[3] = { 1, 0.25f, 4 };
  const float eps = 1e-3f;
  float expected[24];
  for (gint i = 0; i < 24; i++) {
    gint ch = (i / 4) % 3;
    expected[i] = (float)((x[i] - mean[ch]) / sqrt (var[ch] + eps) * scale[ch] + bias[ch]);
  }
  {
    g_autoptr (Case) c = case_new (15);
    gint in[5] = { case_input (c, "x", tf32 (4, dx, x)),
                   case_const (c, "scale", tf32 (1, DIMS (3), scale)),
                   case_const (c, "bias", tf32 (1, DIMS (3), bias)),
                   case_const (c, "mean", tf32 (1, DIMS (3), mean)),
                   case_input (c, "var", tf32 (1, DIMS (3), var)) };
    gint node = case_op (c, "BatchNormalization", 5, in);
    glia_graph_node_set_attr_float (c->graph, node, "epsilon", eps);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 4, dx, expected);
  }
  /* float64 on [N, C] */
  {
    g_autoptr (Case) c = case_new (15);
    gint in[5] = {
      case_input (c, "x", tensor (GLIA_DATA_TYPE_DOUBLE, 2, DIMS (1, 2), F64 (1, 2))),
      case_const (c, "scale", tensor (GLIA_DATA_TYPE_DOUBLE, 1, DIMS (2), F64 (2, 1))),
      case_const (c, "bias", tensor (GLIA_DATA_TYPE_DOUBLE, 1, DIMS (2), F64 (0, 1))),
      case_const (c, "mean", tensor (GLIA_DATA_TYPE_DOUBLE, 1, DIMS (2), F64 (1, 0))),
      case_const (c, "var", tensor (GLIA_DATA_TYPE_DOUBLE, 1, DIMS (2), F64 (4, 1))),
    };
    gint node = case_op (c, "BatchNormalization", 5, in);
    glia_graph_node_set_attr_float (c->graph, node, "epsilon", 0);
    g_autoptr (GHashTable) out = NULL;
    check_f64 (case_run_ok (c, &out, "y"), 2, DIMS (1, 2), F64 (0, 3));
  }
  /* training mode: the batch's statistics, and updated running ones */
  {
    const float momentum = 0.8f;
    float ty[24], run_mean[3], run_var[3];
    for (gint ch = 0; ch < 3; ch++) {
      double m = 0, v = 0;
      for (gint i = 0; i < 24; i++)
        if ((i / 4) % 3 == ch)
          m += x[i] / 8.0;
      for (gint i = 0; i < 24; i++)
        if ((i / 4) % 3 == ch)
          v += (x[i] - m) * (x[i] - m) / 8.0;
      for (gint i = 0; i < 24; i++)
        if ((i / 4) % 3 == ch)
          ty[i] = (float)((x[i] - m) / sqrt (v + eps) * scale[ch] + bias[ch]);
      run_mean[ch] = (float)(mean[ch] * momentum + m * (1 - momentum));
      run_var[ch] = (float)(var[ch] * momentum + v * (1 - momentum));
    }
    g_autoptr (Case) c = case_new (15);
    gint in[5] = { case_input (c, "x", tf32 (4, dx, x)),
                   case_const (c, "scale", tf32 (1, DIMS (3), scale)),
                   case_const (c, "bias", tf32 (1, DIMS (3), bias)),
                   case_const (c, "mean", tf32 (1, DIMS (3), mean)),
                   case_const (c, "var", tf32 (1, DIMS (3), var)) };
    gint outs[3] = { case_output (c, "y"), case_output (c, "rm"), case_output (c, "rv") };
    gint node = case_node (c, "BatchNormalization", 5, in, 3, outs);
    glia_graph_node_set_attr_int (c->graph, node, "training_mode", 1);
    glia_graph_node_set_attr_float (c->graph, node, "epsilon", eps);
    glia_graph_node_set_attr_float (c->graph, node, "momentum", momentum);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 4, dx, ty);
    check_f32 (g_hash_table_lookup (out, "rm"), 1, DIMS (3), run_mean);
    check_f32 (g_hash_table_lookup (out, "rv"), 1, DIMS (3), run_var);
  }
  /* a bad training_mode value names the node and attribute */
  {
    g_autoptr (Case) c = case_new (15);
    gint in[5] = { case_input (c, "x", tf32 (4, dx, x)),
                   case_const (c, "scale", tf32 (1, DIMS (3), scale)),
                   case_const (c, "bias", tf32 (1, DIMS (3), bias)),
                   case_const (c, "mean", tf32 (1, DIMS (3), mean)),
                   case_const (c, "var", tf32 (1, DIMS (3), var)) };
    gint node = case_op (c, "BatchNormalization", 5, in);
    glia_graph_node_set_attr_int (c->graph, node, "training_mode", 2);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "BatchNormalization_0", "training_mode", NULL);
  }
  /* statistics of the wrong length at run time */
  {
    g_autoptr (Case) c = case_new (15);
    gint in[5] = { case_input_full (c, "x", trandom (4, DIMS (1, 4, 2, 2), 3), TRUE),
                   case_const (c, "scale", tf32 (1, DIMS (3), scale)),
                   case_const (c, "bias", tf32 (1, DIMS (3), bias)),
                   case_const (c, "mean", tf32 (1, DIMS (3), mean)),
                   case_const (c, "var", tf32 (1, DIMS (3), var)) };
    case_op (c, "BatchNormalization", 5, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "BatchNormalization", "4 channels", "[3]",
                    NULL);
  }
}

/* Softmax over groups of @n values @inner apart. */
static void
ref_softmax (const float *x, float *y, gsize outer, gsize n, gsize inner, gboolean log_)
{
  for (gsize o = 0; o < outer; o++)
    for (gsize i = 0; i < inner; i++) {
      const float *xs = x + o * n * inner + i;
      float *ys = y + o * n * inner + i;
      double mx = -INFINITY, sum = 0;
      for (gsize k = 0; k < n; k++)
        mx = MAX (mx, xs[k * inner]);
      for (gsize k = 0; k < n; k++)
        sum += exp (xs[k * inner] - mx);
      for (gsize k = 0; k < n; k++)
        ys[k * inner]
            = (float)(log_ ? xs[k * inner] - mx - log (sum) : exp (xs[k * inner] - mx) / sum);
    }
}

static void
check_softmax (const char *op, gint opset, gboolean has_axis, gint64 axis, gsize outer, gsize n,
               gsize inner)
{
  const gint64 *dx = DIMS (2, 3, 4);
  g_autofree float *x = random_floats (24, 61);
  for (gint i = 0; i < 24; i++)
    x[i] *= 3;
  float expected[24];
  ref_softmax (x, expected, outer, n, inner, g_str_equal (op, "LogSoftmax"));
  g_autoptr (Case) c = case_new (opset);
  gint xv = case_input (c, "x", tf32 (3, dx, x));
  gint node = case_op (c, op, 1, &xv);
  if (has_axis)
    glia_graph_node_set_attr_int (c->graph, node, "axis", axis);
  g_autoptr (GHashTable) out = NULL;
  g_test_message ("%s opset %d axis %" G_GINT64_FORMAT, op, opset, axis);
  check_f32 (case_run_ok (c, &out, "y"), 3, dx, expected);
}

static void
test_softmax (void)
{
  /* before 13: [2,3,4] at axis 1 is coerced to [2, 12] */
  check_softmax ("Softmax", 11, TRUE, 1, 2, 12, 1);
  check_softmax ("Softmax", 11, FALSE, 0, 2, 12, 1); /* default axis 1 */
  check_softmax ("Softmax", 11, TRUE, 0, 1, 24, 1);
  /* since 13: the one axis */
  check_softmax ("Softmax", 13, TRUE, 1, 2, 3, 4);
  check_softmax ("Softmax", 13, FALSE, 0, 6, 4, 1); /* default axis -1 */
  check_softmax ("Softmax", 13, TRUE, -3, 1, 2, 12);
  check_softmax ("LogSoftmax", 11, TRUE, 2, 6, 4, 1);
  check_softmax ("LogSoftmax", 11, TRUE, -2, 2, 12, 1);
  check_softmax ("LogSoftmax", 13, TRUE, 1, 2, 3, 4);

  /* large logits do not overflow */
  {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", tf32 (1, DIMS (3), F32 (1000, 1001, 1002)));
    case_op (c, "Softmax", 1, &xv);
    g_autoptr (GHashTable) out = NULL;
    double e0 = exp (-2.0), e1 = exp (-1.0), s = e0 + e1 + 1;
    check_f32 (case_run_ok (c, &out, "y"), 1, DIMS (3),
               F32 ((float)(e0 / s), (float)(e1 / s), (float)(1 / s)));
  }
  /* an axis outside the rank */
  {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", trandom (2, DIMS (2, 2), 1));
    gint node = case_op (c, "Softmax", 1, &xv);
    glia_graph_node_set_attr_int (c->graph, node, "axis", 2);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "Softmax_0", "'axis'", NULL);
  }
}

static void
test_layer_norm (void)
{
  const gint64 *dx = DIMS (2, 3, 4);
  g_autofree float *x = random_floats (24, 71);
  g_autofree float *scale = random_floats (12, 72);
  g_autofree float *bias = random_floats (12, 73);
  const float eps = 1e-5f;

  for (gint64 axis = 1; axis <= 2; axis++) {
    gsize norm = axis == 1 ? 12 : 4, rows = 24 / norm;
    float expected[24], mean[6], inv[6];
    for (gsize r = 0; r < rows; r++) {
      double m = 0, v = 0;
      for (gsize i = 0; i < norm; i++)
        m += x[r * norm + i];
      m /= norm;
      for (gsize i = 0; i < norm; i++)
        v += (x[r * norm + i] - m) * (x[r * norm + i] - m);
      double is = 1 / sqrt (v / norm + eps);
      for (gsize i = 0; i < norm; i++)
        expected[r * norm + i] = (float)((x[r * norm + i] - m) * is * scale[i] + bias[i]);
      mean[r] = (float)m;
      inv[r] = (float)is;
    }
    g_autoptr (Case) c = case_new (17);
    const gint64 *dp = axis == 1 ? DIMS (3, 4) : DIMS (4);
    guint rp = axis == 1 ? 2 : 1;
    gint in[3]
        = { case_input (c, "x", tf32 (3, dx, x)), case_const (c, "scale", tf32 (rp, dp, scale)),
            case_const (c, "bias", tf32 (rp, dp, bias)) };
    gint outs[3] = { case_output (c, "y"), case_output (c, "mean"), case_output (c, "inv") };
    gint node = case_node (c, "LayerNormalization", 3, in, 3, outs);
    glia_graph_node_set_attr_int (c->graph, node, "axis", axis == 2 ? -1 : axis);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 3, dx, expected);
    const gint64 *ds = axis == 1 ? DIMS (2, 1, 1) : DIMS (2, 3, 1);
    check_f32 (g_hash_table_lookup (out, "mean"), 3, ds, mean);
    check_f32 (g_hash_table_lookup (out, "inv"), 3, ds, inv);
  }

  /* a scale that broadcasts ([1, 4] over [.., 3, 4]) and no bias */
  {
    float expected[24];
    for (gsize r = 0; r < 6; r++) {
      double m = 0, v = 0;
      for (gsize i = 0; i < 4; i++)
        m += x[r * 4 + i];
      m /= 4;
      for (gsize i = 0; i < 4; i++)
        v += (x[r * 4 + i] - m) * (x[r * 4 + i] - m);
      for (gsize i = 0; i < 4; i++)
        expected[r * 4 + i] = (float)((x[r * 4 + i] - m) / sqrt (v / 4 + eps) * scale[i]);
    }
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input (c, "x", tf32 (3, dx, x)),
                   case_const (c, "scale", tf32 (2, DIMS (1, 4), scale)) };
    case_op (c, "LayerNormalization", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 3, dx, expected);
  }
  /* a scale that does not fit the normalised dims */
  {
    g_autoptr (Case) c = case_new (17);
    gint in[2] = { case_input_full (c, "x", tf32 (3, dx, x), TRUE),
                   case_const (c, "scale", tf32 (1, DIMS (3), scale)) };
    case_op (c, "LayerNormalization", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "LayerNormalization", "Scale", "[3]", NULL);
  }
}

/* ======================================================================== */
/* Shape ops                                                                 */
/* ======================================================================== */

static float *
iota (gsize n)
{
  float *v = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    v[i] = (float)i;
  return v;
}

static GliaTensor *
tiota (guint rank, const gint64 *dims)
{
  g_autofree float *v = iota (numel (rank, dims));
  return tf32 (rank, dims, v);
}

/* Reshape of iota [2,3,4] by a constant (or runtime) shape. */
static void
check_reshape (guint n, const gint64 *shape, gboolean constant, gboolean allow_zero, guint ro,
               const gint64 *dout)
{
  g_autofree float *x = iota (24);
  g_autoptr (Case) c = case_new (14);
  gint in[2] = { case_input (c, "x", tf32 (3, DIMS (2, 3, 4), x)), -1 };
  in[1] = constant ? case_const (c, "shape", ti64 (1, DIMS (n), shape))
                   : case_input (c, "shape", ti64 (1, DIMS (n), shape));
  gint node = case_op (c, "Reshape", 2, in);
  if (allow_zero)
    glia_graph_node_set_attr_int (c->graph, node, "allowzero", 1);
  g_autoptr (GHashTable) out = NULL;
  check_f32 (case_run_ok (c, &out, "y"), ro, dout, x);
}

static void
test_reshape (void)
{
  check_reshape (2, I64 (0, -1), TRUE, FALSE, 2, DIMS (2, 12));
  check_reshape (2, I64 (-1, 4), TRUE, FALSE, 2, DIMS (6, 4));
  check_reshape (4, I64 (2, 0, 2, -1), FALSE, FALSE, 4, DIMS (2, 3, 2, 2));
  check_reshape (1, I64 (24), FALSE, TRUE, 1, DIMS (24));
  check_reshape (3, I64 (0, 0, 0), TRUE, FALSE, 3, DIMS (2, 3, 4));

  /* allowzero: 0 is a zero-size dim instead of "copy" */
  {
    g_autoptr (Case) c = case_new (14);
    gint in[2] = { case_input (c, "x", tf32 (2, DIMS (0, 3), NULL)),
                   case_const (c, "shape", ti64 (1, DIMS (2), I64 (3, 0))) };
    gint node = case_op (c, "Reshape", 2, in);
    glia_graph_node_set_attr_int (c->graph, node, "allowzero", 1);
    g_autoptr (GHashTable) out = NULL;
    check_shape (case_run_ok (c, &out, "y"), GLIA_DATA_TYPE_FLOAT, 2, DIMS (3, 0));
  }
  /* without allowzero the 0 copies the input's dim: [0,3] -> [0,3] */
  {
    g_autoptr (Case) c = case_new (14);
    gint in[2] = { case_input (c, "x", tf32 (2, DIMS (0, 3), NULL)),
                   case_input (c, "shape", ti64 (1, DIMS (2), I64 (0, 3))) };
    case_op (c, "Reshape", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_shape (case_run_ok (c, &out, "y"), GLIA_DATA_TYPE_FLOAT, 2, DIMS (0, 3));
  }
  /* int64 data moves as bytes */
  {
    g_autoptr (Case) c = case_new (14);
    gint in[2] = { case_input (c, "x", ti64 (2, DIMS (2, 2), I64 (1, 2, 3, 4))),
                   case_const (c, "shape", ti64 (1, DIMS (1), I64 (-1))) };
    case_op (c, "Reshape", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_i64 (case_run_ok (c, &out, "y"), 1, DIMS (4), I64 (1, 2, 3, 4));
  }
  /* a shape that does not hold the elements, at run time */
  {
    g_autoptr (Case) c = case_new (14);
    gint in[2] = { case_input (c, "x", trandom (3, DIMS (2, 3, 4), 1)),
                   case_input (c, "shape", ti64 (1, DIMS (2), I64 (5, -1))) };
    case_op (c, "Reshape", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Reshape", "[2,3,4]", "[5,-1]", NULL);
  }
  /* two -1 in a constant shape fail shape inference */
  {
    g_autoptr (Case) c = case_new (14);
    gint in[2] = { case_input (c, "x", trandom (3, DIMS (2, 3, 4), 1)),
                   case_const (c, "shape", ti64 (1, DIMS (2), I64 (-1, -1))) };
    case_op (c, "Reshape", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "Reshape_0", "-1", NULL);
  }
}

static void
test_flatten_transpose (void)
{
  g_autofree float *x = iota (24);
  const gint64 *dx = DIMS (2, 3, 4);
  const struct
  {
    gint64 axis;
    gint64 d0, d1;
  } flat[] = { { 2, 6, 4 }, { 0, 1, 24 }, { -1, 6, 4 }, { 3, 24, 1 } };
  for (guint k = 0; k < G_N_ELEMENTS (flat); k++) {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", tf32 (3, dx, x));
    gint node = case_op (c, "Flatten", 1, &xv);
    glia_graph_node_set_attr_int (c->graph, node, "axis", flat[k].axis);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 2, DIMS (flat[k].d0, flat[k].d1), x);
  }

  /* Transpose [2,3,4] by perm [2,0,1] -> [4,2,3] */
  {
    float expected[24];
    for (gint a = 0; a < 4; a++)
      for (gint b = 0; b < 2; b++)
        for (gint cc = 0; cc < 3; cc++)
          expected[(a * 2 + b) * 3 + cc] = x[(b * 3 + cc) * 4 + a];
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", tf32 (3, dx, x));
    gint node = case_op (c, "Transpose", 1, &xv);
    glia_graph_node_set_attr_ints (c->graph, node, "perm", DIMS (2, 0, 1), 3);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 3, DIMS (4, 2, 3), expected);
  }
  /* default perm reverses; int32 data; large enough to run in chunks */
  {
    const gint64 rows = 300, cols = 97;
    g_autofree gint32 *v = g_new (gint32, rows * cols);
    g_autofree gint32 *expected = g_new (gint32, rows * cols);
    for (gint64 i = 0; i < rows * cols; i++)
      v[i] = (gint32)i;
    for (gint64 i = 0; i < rows; i++)
      for (gint64 j = 0; j < cols; j++)
        expected[j * rows + i] = v[i * cols + j];
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", tensor (GLIA_DATA_TYPE_INT32, 2, DIMS (rows, cols), v));
    case_op (c, "Transpose", 1, &xv);
    g_autoptr (GHashTable) out = NULL;
    check_i32 (case_run_ok (c, &out, "y"), 2, DIMS (cols, rows), expected);
  }
  /* batches of 2-D transposes (the tiled path): [2,9,3,17] by [0,3,2,1] and
   * [3,2,9,17] by [0,1,3,2] */
  {
    const gint64 d[4] = { 2, 9, 3, 17 };
    const gint64 perms[2][4] = { { 0, 3, 2, 1 }, { 0, 1, 3, 2 } };
    const gint64 dims2[4] = { 3, 2, 9, 17 };
    for (guint k = 0; k < 2; k++) {
      const gint64 *in = k == 0 ? d : dims2;
      const gint64 *perm = perms[k];
      gsize n = numel (4, in);
      g_autofree float *v = iota (n);
      g_autofree float *expected = g_new (float, n);
      gint64 od[4], is[4] = { in[1] * in[2] * in[3], in[2] * in[3], in[3], 1 };
      for (guint i = 0; i < 4; i++)
        od[i] = in[perm[i]];
      gsize o = 0;
      for (gint64 a = 0; a < od[0]; a++)
        for (gint64 b = 0; b < od[1]; b++)
          for (gint64 e = 0; e < od[2]; e++)
            for (gint64 f = 0; f < od[3]; f++)
              expected[o++]
                  = v[a * is[perm[0]] + b * is[perm[1]] + e * is[perm[2]] + f * is[perm[3]]];
      g_autoptr (Case) c = case_new (13);
      gint xv = case_input (c, "x", tf32 (4, in, v));
      gint node = case_op (c, "Transpose", 1, &xv);
      glia_graph_node_set_attr_ints (c->graph, node, "perm", perm, 4);
      g_autoptr (GHashTable) out = NULL;
      check_f32 (case_run_ok (c, &out, "y"), 4, od, expected);
    }
  }
  /* a perm that is not a permutation */
  {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", tf32 (3, dx, x));
    gint node = case_op (c, "Transpose", 1, &xv);
    glia_graph_node_set_attr_ints (c->graph, node, "perm", DIMS (0, 0, 1), 3);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "Transpose_0", "'perm'", NULL);
  }
}

/* Squeeze or Unsqueeze of iota with @dims; axes as an attribute before
 * opset 13, as a constant input since (NULL: none). */
static void
check_squeeze (const char *op, gint opset, guint rank, const gint64 *dims, guint n_axes,
               const gint64 *axes, guint ro, const gint64 *dout)
{
  g_autofree float *x = iota (numel (rank, dims));
  g_autoptr (Case) c = case_new (opset);
  gint in[2] = { case_input (c, "x", tf32 (rank, dims, x)), -1 };
  if (opset >= 13 && axes)
    in[1] = case_const (c, "axes", ti64 (1, DIMS (n_axes), axes));
  gint node = case_op (c, op, in[1] >= 0 ? 2 : 1, in);
  if (opset < 13 && axes)
    glia_graph_node_set_attr_ints (c->graph, node, "axes", axes, n_axes);
  g_autoptr (GHashTable) out = NULL;
  g_test_message ("%s opset %d", op, opset);
  check_f32 (case_run_ok (c, &out, "y"), ro, dout, x);
}

static void
test_squeeze (void)
{
  check_squeeze ("Squeeze", 11, 4, DIMS (2, 1, 3, 1), 1, I64 (1), 3, DIMS (2, 3, 1));
  check_squeeze ("Squeeze", 11, 4, DIMS (2, 1, 3, 1), 0, NULL, 2, DIMS (2, 3));
  check_squeeze ("Squeeze", 13, 4, DIMS (2, 1, 3, 1), 0, NULL, 2, DIMS (2, 3));
  check_squeeze ("Squeeze", 13, 4, DIMS (2, 1, 3, 1), 1, I64 (-1), 3, DIMS (2, 1, 3));
  check_squeeze ("Unsqueeze", 11, 2, DIMS (2, 3), 2, I64 (0, 3), 4, DIMS (1, 2, 3, 1));
  check_squeeze ("Unsqueeze", 13, 2, DIMS (2, 3), 2, I64 (-1, 1), 4, DIMS (2, 1, 3, 1));
  check_squeeze ("Unsqueeze", 13, 0, NULL, 1, I64 (0), 1, DIMS (1));

  /* squeezing a dim that is not 1 */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", trandom (2, DIMS (2, 3), 1)),
                   case_input (c, "axes", ti64 (1, DIMS (1), I64 (1))) };
    case_op (c, "Squeeze", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Squeeze", "[2,3]", NULL);
  }
  /* a repeated Unsqueeze axis */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", trandom (2, DIMS (2, 3), 1)),
                   case_input (c, "axes", ti64 (1, DIMS (2), I64 (1, -3))) };
    case_op (c, "Unsqueeze", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Unsqueeze", "repeated", NULL);
  }
}

static void
test_concat_shape_gather (void)
{
  /* Concat on axis 1 and -1 */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[3] = { case_input (c, "a", ti64 (2, DIMS (2, 1), I64 (1, 2))),
                   case_const (c, "b", ti64 (2, DIMS (2, 3), I64 (3, 4, 5, 6, 7, 8))),
                   case_input (c, "d", ti64 (2, DIMS (2, 2), I64 (9, 10, 11, 12))) };
    gint node = case_op (c, "Concat", 3, in);
    glia_graph_node_set_attr_int (c->graph, node, "axis", -1);
    g_autoptr (GHashTable) out = NULL;
    check_i64 (case_run_ok (c, &out, "y"), 2, DIMS (2, 6),
               I64 (1, 3, 4, 5, 9, 10, 2, 6, 7, 8, 11, 12));
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "a", tf32 (2, DIMS (1, 2), F32 (1, 2))),
                   case_input (c, "b", tf32 (2, DIMS (2, 2), F32 (3, 4, 5, 6))) };
    gint node = case_op (c, "Concat", 2, in);
    glia_graph_node_set_attr_int (c->graph, node, "axis", 0);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 2, DIMS (3, 2), F32 (1, 2, 3, 4, 5, 6));
  }
  /* inputs that disagree outside the axis, at run time */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input_full (c, "a", tf32 (2, DIMS (1, 2), F32 (1, 2)), TRUE),
                   case_input_full (c, "b", tf32 (2, DIMS (1, 3), F32 (3, 4, 5)), TRUE) };
    gint node = case_op (c, "Concat", 2, in);
    glia_graph_node_set_attr_int (c->graph, node, "axis", 0);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Concat", "[1,3]", "[1,2]", NULL);
  }

  /* Shape, whole and sliced (opset 15) */
  {
    const struct
    {
      gboolean has_start, has_end;
      gint64 start, end;
      guint n;
      const gint64 *expected;
    } cases[] = { { FALSE, FALSE, 0, 0, 3, I64 (2, 3, 4) },
                  { TRUE, FALSE, 1, 0, 2, I64 (3, 4) },
                  { FALSE, TRUE, 0, -1, 2, I64 (2, 3) },
                  { TRUE, TRUE, -2, 10, 2, I64 (3, 4) },
                  { TRUE, TRUE, 2, 1, 0, I64 (0) } };
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
      g_autoptr (Case) c = case_new (15);
      gint xv = case_input_full (c, "x", trandom (3, DIMS (2, 3, 4), 1), TRUE);
      gint node = case_op (c, "Shape", 1, &xv);
      if (cases[k].has_start)
        glia_graph_node_set_attr_int (c->graph, node, "start", cases[k].start);
      if (cases[k].has_end)
        glia_graph_node_set_attr_int (c->graph, node, "end", cases[k].end);
      g_autoptr (GHashTable) out = NULL;
      check_i64 (case_run_ok (c, &out, "y"), 1, DIMS (cases[k].n), cases[k].expected);
    }
  }

  /* Gather: 2-D indices on axis 0 (with a negative one), scalar on axis 1 */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", tf32 (2, DIMS (3, 2), F32 (1, 2, 3, 4, 5, 6))),
                   case_const (c, "i", ti64 (2, DIMS (2, 2), I64 (0, 2, -1, 1))) };
    case_op (c, "Gather", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 3, DIMS (2, 2, 2), F32 (1, 2, 5, 6, 5, 6, 3, 4));
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", tiota (3, DIMS (2, 3, 2))),
                   case_input (c, "i", tensor (GLIA_DATA_TYPE_INT32, 0, NULL, I32 (2))) };
    gint node = case_op (c, "Gather", 2, in);
    glia_graph_node_set_attr_int (c->graph, node, "axis", 1);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 2, DIMS (2, 2), F32 (4, 5, 10, 11));
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", tf32 (2, DIMS (3, 2), F32 (1, 2, 3, 4, 5, 6))),
                   case_input (c, "i", ti64 (1, DIMS (2), I64 (1, 3))) };
    case_op (c, "Gather", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Gather", "index 3", "[3,2]", NULL);
  }
}

/* Slice of iota [3,4]. */
static void
check_slice (guint n, const gint64 *starts, const gint64 *ends, const gint64 *axes,
             const gint64 *steps, guint ro, const gint64 *dout, const float *expected)
{
  g_autoptr (Case) c = case_new (13);
  gint in[5] = { case_input (c, "x", tiota (2, DIMS (3, 4))),
                 case_const (c, "starts", ti64 (1, DIMS (n), starts)),
                 case_input (c, "ends", ti64 (1, DIMS (n), ends)), -1, -1 };
  if (axes)
    in[3] = case_const (c, "axes", ti64 (1, DIMS (n), axes));
  if (steps)
    in[4] = case_const (c, "steps", ti64 (1, DIMS (n), steps));
  case_op (c, "Slice", steps ? 5 : axes ? 4 : 3, in);
  g_autoptr (GHashTable) out = NULL;
  check_f32 (case_run_ok (c, &out, "y"), ro, dout, expected);
}

static void
test_slice_expand_constant (void)
{
  check_slice (2, I64 (0, 1), I64 (2, 100), NULL, NULL, 2, DIMS (2, 3), F32 (1, 2, 3, 5, 6, 7));
  check_slice (1, I64 (-1), I64 (-100), I64 (1), I64 (-2), 2, DIMS (3, 2), F32 (3, 1, 7, 5, 11, 9));
  check_slice (2, I64 (G_MAXINT64, 0), I64 (G_MININT64, 4), I64 (0, 1), I64 (-1, 3), 2, DIMS (3, 2),
               F32 (8, 11, 4, 7, 0, 3));
  check_slice (1, I64 (2), I64 (1), I64 (-1), NULL, 2, DIMS (3, 0), F32 (0));
  /* opset 9: attributes */
  {
    g_autoptr (Case) c = case_new (9);
    gint xv = case_input (c, "x", tiota (2, DIMS (3, 4)));
    gint node = case_op (c, "Slice", 1, &xv);
    glia_graph_node_set_attr_ints (c->graph, node, "starts", I64 (1), 1);
    glia_graph_node_set_attr_ints (c->graph, node, "ends", I64 (3), 1);
    glia_graph_node_set_attr_ints (c->graph, node, "axes", I64 (1), 1);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 2, DIMS (3, 2), F32 (1, 2, 5, 6, 9, 10));
  }
  /* step 0 */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[5] = { case_input (c, "x", tiota (2, DIMS (3, 4))),
                   case_input (c, "starts", ti64 (1, DIMS (1), I64 (0))),
                   case_input (c, "ends", ti64 (1, DIMS (1), I64 (2))), -1,
                   case_input (c, "steps", ti64 (1, DIMS (1), I64 (0))) };
    case_op (c, "Slice", 5, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Slice", "steps", NULL);
  }

  /* Expand is bidirectional */
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", tf32 (2, DIMS (3, 1), F32 (1, 2, 3))),
                   case_const (c, "s", ti64 (1, DIMS (3), I64 (2, 1, 2))) };
    case_op (c, "Expand", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 3, DIMS (2, 3, 2),
               F32 (1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3));
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", ti64 (2, DIMS (1, 2), I64 (7, 8))),
                   case_input (c, "s", ti64 (1, DIMS (1), I64 (1))) };
    case_op (c, "Expand", 2, in);
    g_autoptr (GHashTable) out = NULL;
    check_i64 (case_run_ok (c, &out, "y"), 2, DIMS (1, 2), I64 (7, 8));
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", tf32 (1, DIMS (3), F32 (1, 2, 3))),
                   case_input (c, "s", ti64 (1, DIMS (2), I64 (2, 2))) };
    case_op (c, "Expand", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "Expand", "[3]", "[2,2]", NULL);
  }

  /* Constant: a tensor, and the opset 12 scalar/list forms */
  {
    g_autoptr (Case) c = case_new (13);
    gint node = case_op (c, "Constant", 0, NULL);
    g_autoptr (GBytes) data = g_bytes_new (F32 (1, 2, 3, 4), 16);
    glia_graph_node_set_attr_tensor (c->graph, node, "value", GLIA_DATA_TYPE_FLOAT, 2, DIMS (2, 2),
                                     data);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 2, DIMS (2, 2), F32 (1, 2, 3, 4));
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint node = case_op (c, "Constant", 0, NULL);
    glia_graph_node_set_attr_ints (c->graph, node, "value_ints", I64 (5, -6), 2);
    g_autoptr (GHashTable) out = NULL;
    check_i64 (case_run_ok (c, &out, "y"), 1, DIMS (2), I64 (5, -6));
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint node = case_op (c, "Constant", 0, NULL);
    glia_graph_node_set_attr_float (c->graph, node, "value_float", 2.5f);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 0, NULL, F32 (2.5f));
  }
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape: flatten all but the
 * batch dim of an input whose dims are symbolic, computing the target shape
 * in the graph. */
static void
test_dynamic_shape_chain (void)
{
  for (gint64 batch = 1; batch <= 3; batch += 2) {
    g_autoptr (Case) c = case_new (13);
    gint64 dims[3] = { batch, 2, 3 };
    g_autofree float *xv = iota (numel (3, dims));
    gint x = case_input_full (c, "x", tf32 (3, dims, xv), TRUE);
    gint shape = case_value (c, "shape"), b = case_value (c, "b"), bu = case_value (c, "bu");
    gint target = case_value (c, "target"), y = case_output (c, "y");
    gint zero = case_const (c, "zero", ti64 (0, NULL, I64 (0)));
    gint axes = case_const (c, "axes", ti64 (1, DIMS (1), I64 (0)));
    gint minus1 = case_const (c, "minus1", ti64 (1, DIMS (1), I64 (-1)));
    case_node (c, "Shape", 1, &x, 1, &shape);
    case_node (c, "Gather", 2, INS (shape, zero), 1, &b);
    case_node (c, "Unsqueeze", 2, INS (b, axes), 1, &bu);
    gint cat = case_node (c, "Concat", 2, INS (bu, minus1), 1, &target);
    glia_graph_node_set_attr_int (c->graph, cat, "axis", 0);
    case_node (c, "Reshape", 2, INS (x, target), 1, &y);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 2, DIMS (batch, 6), xv);
  }
}

/* ======================================================================== */
/* Reductions                                                                */
/* ======================================================================== */

/* Reference reduction of float @x (shape @dims) over the axes in @mask. */
static void
ref_reduce (const char *op, guint rank, const gint64 *dims, const gboolean *mask, const float *x,
            gsize n_out, float *y)
{
  g_autofree double *acc = g_new (double, n_out);
  g_autofree gsize *count = g_new0 (gsize, n_out);
  gboolean is_max = g_str_equal (op, "ReduceMax"), is_min = g_str_equal (op, "ReduceMin");
  gboolean is_prod = g_str_equal (op, "ReduceProd");
  for (gsize o = 0; o < n_out; o++)
    acc[o] = is_max ? -INFINITY : is_min ? INFINITY : is_prod ? 1 : 0;
  for (gsize i = 0; i < numel (rank, dims); i++) {
    gsize rem = i, o = 0, stride = 1;
    for (gint d = (gint)rank - 1; d >= 0; d--) {
      gsize coord = rem % (gsize)dims[d];
      rem /= (gsize)dims[d];
      if (!mask[d]) {
        o += coord * stride;
        stride *= (gsize)dims[d];
      }
    }
    count[o]++;
    if (is_max)
      acc[o] = MAX (acc[o], x[i]);
    else if (is_min)
      acc[o] = MIN (acc[o], x[i]);
    else if (is_prod)
      acc[o] *= x[i];
    else
      acc[o] += x[i];
  }
  for (gsize o = 0; o < n_out; o++)
    y[o] = (float)(g_str_equal (op, "ReduceMean") ? acc[o] / count[o] : acc[o]);
}

/* @op over @axes (as an input when @axes_input, else as the attribute). */
static void
check_reduce (const char *op, gint opset, guint rank, const gint64 *dims, guint n_axes,
              const gint64 *axes, gboolean axes_input, gboolean keepdims)
{
  g_autofree float *x = random_floats (numel (rank, dims), 81);
  gboolean mask[GLIA_MAX_RANK] = { FALSE };
  gint64 dout[GLIA_MAX_RANK];
  guint ro = 0;
  for (guint i = 0; i < n_axes; i++)
    mask[axes[i] < 0 ? axes[i] + rank : axes[i]] = TRUE;
  for (guint i = 0; i < rank; i++) {
    if (n_axes == 0)
      mask[i] = TRUE;
    if (!mask[i])
      dout[ro++] = dims[i];
    else if (keepdims)
      dout[ro++] = 1;
  }
  g_autofree float *expected = g_new (float, MAX (numel (ro, dout), 1));
  ref_reduce (op, rank, dims, mask, x, numel (ro, dout), expected);

  g_autoptr (Case) c = case_new (opset);
  gint in[2] = { case_input (c, "x", tf32 (rank, dims, x)), -1 };
  if (axes_input && n_axes)
    in[1] = case_const (c, "axes", ti64 (1, DIMS (n_axes), axes));
  gint node = case_op (c, op, in[1] >= 0 ? 2 : 1, in);
  if (!axes_input && n_axes)
    glia_graph_node_set_attr_ints (c->graph, node, "axes", axes, n_axes);
  glia_graph_node_set_attr_int (c->graph, node, "keepdims", keepdims);
  g_autoptr (GHashTable) out = NULL;
  g_test_message ("%s opset %d over %u axes", op, opset, n_axes);
  check_f32 (case_run_ok (c, &out, "y"), ro, dout, expected);
}

static void
test_reduce (void)
{
  const gint64 *d3 = DIMS (2, 3, 4);
  check_reduce ("ReduceSum", 13, 3, d3, 1, I64 (1), TRUE, TRUE);
  check_reduce ("ReduceSum", 11, 3, d3, 2, I64 (0, 2), FALSE, FALSE);
  check_reduce ("ReduceSum", 13, 3, d3, 0, NULL, TRUE, TRUE);
  check_reduce ("ReduceMean", 13, 3, d3, 1, I64 (-1), FALSE, FALSE);
  check_reduce ("ReduceMean", 18, 3, d3, 2, I64 (0, 1), TRUE, TRUE);
  check_reduce ("ReduceMax", 13, 3, d3, 1, I64 (0), FALSE, TRUE);
  check_reduce ("ReduceMax", 18, 3, d3, 2, I64 (2, 0), TRUE, FALSE);
  check_reduce ("ReduceMin", 13, 3, d3, 0, NULL, FALSE, TRUE);
  check_reduce ("ReduceProd", 13, 3, d3, 1, I64 (1), FALSE, TRUE);
  check_reduce ("ReduceSum", 13, 4, DIMS (2, 3, 4, 5), 2, I64 (1, 3), TRUE, TRUE);
  check_reduce ("ReduceMax", 13, 4, DIMS (2, 3, 4, 5), 2, I64 (0, 2), FALSE, FALSE);
  /* large, split over threads: innermost axis reduced, and kept */
  check_reduce ("ReduceSum", 13, 2, DIMS (64, 1000), 1, I64 (1), TRUE, FALSE);
  check_reduce ("ReduceMean", 13, 2, DIMS (1000, 64), 1, I64 (0), FALSE, TRUE);

  /* noop_with_empty_axes: no axes leave the input as it is */
  {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", tf32 (2, DIMS (2, 2), F32 (1, 2, 3, 4)));
    gint node = case_op (c, "ReduceSum", 1, &xv);
    glia_graph_node_set_attr_int (c->graph, node, "noop_with_empty_axes", 1);
    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "y"), 2, DIMS (2, 2), F32 (1, 2, 3, 4));
  }
  /* integers */
  {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", ti64 (2, DIMS (2, 3), I64 (1, 2, 3, 4, 5, 6)));
    gint node = case_op (c, "ReduceProd", 1, &xv);
    glia_graph_node_set_attr_ints (c->graph, node, "axes", I64 (1), 1);
    glia_graph_node_set_attr_int (c->graph, node, "keepdims", 0);
    g_autoptr (GHashTable) out = NULL;
    check_i64 (case_run_ok (c, &out, "y"), 1, DIMS (2), I64 (6, 120));
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", tensor (GLIA_DATA_TYPE_INT32, 2, DIMS (2, 2), I32 (1, 2, 4, 7)));
    gint node = case_op (c, "ReduceMean", 1, &xv);
    glia_graph_node_set_attr_ints (c->graph, node, "axes", I64 (0), 1);
    g_autoptr (GHashTable) out = NULL;
    check_i32 (case_run_ok (c, &out, "y"), 2, DIMS (1, 2), I32 (2, 4));
  }
  /* a bad axis: as an attribute (shape inference), and as an input */
  {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", trandom (2, DIMS (2, 2), 1));
    gint node = case_op (c, "ReduceMax", 1, &xv);
    glia_graph_node_set_attr_ints (c->graph, node, "axes", I64 (2), 1);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "ReduceMax_0", "axis 2", NULL);
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint in[2] = { case_input (c, "x", trandom (2, DIMS (2, 2), 1)),
                   case_input (c, "axes", ti64 (1, DIMS (1), I64 (-3))) };
    case_op (c, "ReduceSum", 2, in);
    case_run_fails (c, GLIA_ERROR_INVALID_ARGUMENT, "ReduceSum", "axis -3", NULL);
  }
}

static void
test_arg (void)
{
  const float *x = F32 (1, 5, 5, 0, 7, 7, -1, 3, 2, 3, 0, 3);
  const struct
  {
    const char *op;
    gint64 axis;
    gboolean keepdims, last;
    guint ro;
    const gint64 *dout;
    const gint64 *expected;
  } cases[] = {
    { "ArgMax", 1, TRUE, FALSE, 2, DIMS (4, 1), I64 (1, 1, 1, 0) },
    { "ArgMax", 1, TRUE, TRUE, 2, DIMS (4, 1), I64 (2, 2, 1, 2) },
    { "ArgMax", 0, FALSE, FALSE, 1, DIMS (3), I64 (3, 1, 1) },
    { "ArgMin", -1, FALSE, FALSE, 1, DIMS (4), I64 (0, 0, 0, 1) },
    { "ArgMin", 0, TRUE, TRUE, 2, DIMS (1, 3), I64 (2, 3, 2) },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", tf32 (2, DIMS (4, 3), x));
    gint node = case_op (c, cases[k].op, 1, &xv);
    glia_graph_node_set_attr_int (c->graph, node, "axis", cases[k].axis);
    glia_graph_node_set_attr_int (c->graph, node, "keepdims", cases[k].keepdims);
    glia_graph_node_set_attr_int (c->graph, node, "select_last_index", cases[k].last);
    g_autoptr (GHashTable) out = NULL;
    g_test_message ("case %u", k);
    check_i64 (case_run_ok (c, &out, "y"), cases[k].ro, cases[k].dout, cases[k].expected);
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", ti64 (2, DIMS (2, 2), I64 (-5, -9, 4, 8)));
    case_op (c, "ArgMin", 1, &xv);
    g_autoptr (GHashTable) out = NULL;
    check_i64 (case_run_ok (c, &out, "y"), 2, DIMS (1, 2), I64 (0, 0));
  }
  {
    g_autoptr (Case) c = case_new (13);
    gint xv = case_input (c, "x", trandom (2, DIMS (4, 3), 1));
    gint node = case_op (c, "ArgMax", 1, &xv);
    glia_graph_node_set_attr_int (c->graph, node, "keepdims", 3);
    case_run_fails (c, GLIA_ERROR_INVALID_MODEL, "ArgMax_0", "keepdims", NULL);
  }
}

/* ======================================================================== */
/* The demo model's op mix                                                   */
/* ======================================================================== */

/* Gemm -> Relu -> Gemm -> Softmax -> ArgMax, with a symbolic batch dim, as
 * the embedded digits model uses them. */
static void
test_demo_mlp (void)
{
  const gint64 in_f = 8, hidden = 16, classes = 5;
  g_autofree float *w1 = random_floats (in_f * hidden, 91);
  g_autofree float *b1 = random_floats (hidden, 92);
  g_autofree float *w2 = random_floats (hidden * classes, 93);
  g_autofree float *b2 = random_floats (classes, 94);

  for (gint64 batch = 1; batch <= 7; batch += 6) {
    g_autofree float *x = random_floats (batch * in_f, 95 + batch);
    g_autofree float *probs = g_new (float, batch *classes);
    g_autofree gint64 *labels = g_new (gint64, batch);
    for (gint64 n = 0; n < batch; n++) {
      float h[16], logits[5];
      for (gint64 j = 0; j < hidden; j++) {
        double acc = b1[j];
        for (gint64 k = 0; k < in_f; k++)
          acc += (double)x[n * in_f + k] * w1[j * in_f + k]; /* transB = 1 */
        h[j] = (float)MAX (acc, 0);
      }
      for (gint64 j = 0; j < classes; j++) {
        double acc = b2[j];
        for (gint64 k = 0; k < hidden; k++)
          acc += (double)h[k] * w2[k * classes + j];
        logits[j] = (float)acc;
      }
      ref_softmax (logits, probs + n * classes, 1, classes, 1, FALSE);
      labels[n] = 0;
      for (gint64 j = 1; j < classes; j++)
        if (probs[n * classes + j] > probs[n * classes + labels[n]])
          labels[n] = j;
    }

    g_autoptr (Case) c = case_new (13);
    gint xv = case_input_full (c, "x", tf32 (2, DIMS (batch, in_f), x), TRUE);
    gint w1v = case_const (c, "w1", tf32 (2, DIMS (hidden, in_f), w1));
    gint b1v = case_const (c, "b1", tf32 (1, DIMS (hidden), b1));
    gint w2v = case_const (c, "w2", tf32 (2, DIMS (hidden, classes), w2));
    gint b2v = case_const (c, "b2", tf32 (1, DIMS (classes), b2));
    gint g1 = case_value (c, "g1"), r1 = case_value (c, "r1"), g2 = case_value (c, "g2");
    gint p = case_output (c, "probs"), l = case_output (c, "label");
    gint gemm1 = case_node (c, "Gemm", 3, INS (xv, w1v, b1v), 1, &g1);
    glia_graph_node_set_attr_int (c->graph, gemm1, "transB", 1);
    case_node (c, "Relu", 1, &g1, 1, &r1);
    case_node (c, "Gemm", 3, INS (r1, w2v, b2v), 1, &g2);
    gint sm = case_node (c, "Softmax", 1, &g2, 1, &p);
    glia_graph_node_set_attr_int (c->graph, sm, "axis", 1);
    gint am = case_node (c, "ArgMax", 1, &p, 1, &l);
    glia_graph_node_set_attr_int (c->graph, am, "axis", 1);
    glia_graph_node_set_attr_int (c->graph, am, "keepdims", 0);

    g_autoptr (GHashTable) out = NULL;
    check_f32 (case_run_ok (c, &out, "probs"), 2, DIMS (batch, classes), probs);
    check_i64 (g_hash_table_lookup (out, "label"), 1, DIMS (batch), labels);
  }
}

/* One session, run concurrently from several threads: kernel states are
 * shared and must only be read. */
typedef struct
{
  GliaSession *session;
  gint id;
} ThreadArgs;

static gpointer
run_thread (gpointer data)
{
  ThreadArgs *a = data;
  for (gint iter = 0; iter < 20; iter++) {
    gint64 n = 1 + (a->id + iter) % 5;
    g_autofree float *x = iota (n * 6);
    g_autoptr (GHashTable) in
        = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
    g_hash_table_insert (in, "x", tf32 (3, DIMS (n, 2, 3), x));
    g_autoptr (GError) error = NULL;
    g_autoptr (GHashTable) out = glia_session_run (a->session, in, &error);
    g_assert_no_error (error);
    /* y = ReduceSum (Transpose (x, [0, 2, 1]) * 2, axis 2) */
    float expected[15];
    for (gint64 b = 0; b < n; b++)
      for (gint64 j = 0; j < 3; j++)
        expected[b * 3 + j] = 2 * (x[b * 6 + j] + x[b * 6 + 3 + j]);
    check_f32 (g_hash_table_lookup (out, "y"), 2, DIMS (n, 3), expected);
  }
  return NULL;
}

static void
test_concurrent_runs (void)
{
  g_autoptr (Case) c = case_new (13);
  gint x = case_input_full (c, "x", tf32 (3, DIMS (1, 2, 3), F32 (0, 1, 2, 3, 4, 5)), TRUE);
  gint two = case_const (c, "two", tf32 (2, DIMS (2, 2), F32 (2, 0, 0, 2)));
  gint t = case_value (c, "t"), m = case_value (c, "m"), y = case_output (c, "y");
  gint tr = case_node (c, "Transpose", 1, &x, 1, &t);
  glia_graph_node_set_attr_ints (c->graph, tr, "perm", I64 (0, 2, 1), 3);
  case_node (c, "MatMul", 2, INS (t, two), 1, &m); /* times 2, through BLAS */
  gint rs = case_node (c, "ReduceSum", 2,
                       INS (m, case_const (c, "ax", ti64 (1, DIMS (1), I64 (2)))), 1, &y);
  glia_graph_node_set_attr_int (c->graph, rs, "keepdims", 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s = case_session (c, &error);
  g_assert_no_error (error);

  GThread *threads[4];
  ThreadArgs args[4];
  for (gint i = 0; i < 4; i++) {
    args[i] = (ThreadArgs){ s, i };
    threads[i] = g_thread_new ("run", run_thread, &args[i]);
  }
  for (gint i = 0; i < 4; i++)
    g_thread_join (threads[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  registry = glia_registry_new ();
  g_autofree char *plugins = g_build_filename (g_getenv ("GLIA_BUILD_ROOT"), "plugins", NULL);
  glia_registry_add_search_path (registry, plugins);
  g_assert_true (glia_registry_scan (registry, NULL));

  g_test_add_func ("/cpu/elementwise/unary", test_unary);
  g_test_add_func ("/cpu/elementwise/clip", test_clip);
  g_test_add_func ("/cpu/elementwise/cast", test_cast);
  g_test_add_func ("/cpu/elementwise/broadcast", test_broadcast);
  g_test_add_func ("/cpu/elementwise/compare-where-max-min", test_compare_where);
  g_test_add_func ("/cpu/gemm/matmul", test_matmul);
  g_test_add_func ("/cpu/rnn/constant-w", test_rnn_constant_w);
  g_test_add_func ("/cpu/gemm/gemm", test_gemm);
  g_test_add_func ("/cpu/conv/conv", test_conv);
  g_test_add_func ("/cpu/pool/pool", test_pool);
  g_test_add_func ("/cpu/norm/batch-norm", test_batch_norm);
  g_test_add_func ("/cpu/norm/softmax", test_softmax);
  g_test_add_func ("/cpu/norm/layer-norm", test_layer_norm);
  g_test_add_func ("/cpu/shape/reshape", test_reshape);
  g_test_add_func ("/cpu/shape/flatten-transpose", test_flatten_transpose);
  g_test_add_func ("/cpu/shape/squeeze-unsqueeze", test_squeeze);
  g_test_add_func ("/cpu/shape/concat-shape-gather", test_concat_shape_gather);
  g_test_add_func ("/cpu/shape/slice-expand-constant", test_slice_expand_constant);
  g_test_add_func ("/cpu/shape/dynamic-chain", test_dynamic_shape_chain);
  g_test_add_func ("/cpu/reduce/reduce", test_reduce);
  g_test_add_func ("/cpu/reduce/arg", test_arg);
  g_test_add_func ("/cpu/session/demo-mlp", test_demo_mlp);
  g_test_add_func ("/cpu/session/concurrent-runs", test_concurrent_runs);
  int ret = g_test_run ();
  g_object_unref (registry);
  return ret;
}
