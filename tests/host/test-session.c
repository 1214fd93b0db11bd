/* test-session.c: capability negotiation, copy insertion, fallback, custom
 * operators, input checking, memory plans and concurrent runs. Uses the
 * test plugins: "testa" (Add, Mul on a fake scrambling device) and "testb"
 * (Add, Sub, Relu on the CPU), and com.glia.test.Twice. */
#include <glia.h>
#include <glia-plugin.h>
#include <glib/gstdio.h>
#include <string.h>

#define N 1000

static GliaRegistry *registry;

/* y = Sub (Relu (Mul (Add (x, 1), w)), 0.5) with w a constant vector */
static GliaModel *
chain_model (gint64 n, gboolean symbolic)
{
  GliaGraph *g = glia_graph_new ();
  glia_graph_set_opset (g, "", 17);
  gint64 dims[] = { symbolic ? -1 : n };
  const char *params[] = { symbolic ? "n" : NULL };
  gint x = glia_graph_add_value (g, "x", GLIA_DATA_TYPE_FLOAT, 1, dims, params);
  gint one = glia_graph_add_value (g, "one", GLIA_DATA_TYPE_FLOAT, 0, NULL, NULL);
  gint half = glia_graph_add_value (g, "half", GLIA_DATA_TYPE_FLOAT, 0, NULL, NULL);
  float fone = 1, fhalf = 0.5f;
  g_autoptr (GBytes) b1 = g_bytes_new (&fone, 4), b2 = g_bytes_new (&fhalf, 4);
  g_assert_true (glia_graph_value_set_constant (g, one, GLIA_DATA_TYPE_FLOAT, 0, NULL, b1, NULL));
  g_assert_true (glia_graph_value_set_constant (g, half, GLIA_DATA_TYPE_FLOAT, 0, NULL, b2, NULL));
  gint w = glia_graph_add_value (g, "w", GLIA_DATA_TYPE_FLOAT, 0, NULL, NULL);
  if (symbolic)
    g_assert_true (glia_graph_value_set_constant (g, w, GLIA_DATA_TYPE_FLOAT, 0, NULL, b1, NULL));
  else {
    float *wv = g_new (float, n);
    for (gint64 i = 0; i < n; i++)
      wv[i] = (i % 7) - 3;
    g_autoptr (GBytes) bw = g_bytes_new_take (wv, n * 4);
    gint64 wd[] = { n };
    g_assert_true (glia_graph_value_set_constant (g, w, GLIA_DATA_TYPE_FLOAT, 1, wd, bw, NULL));
  }
  gint a = glia_graph_add_value (g, "a", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  gint m = glia_graph_add_value (g, "m", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  gint r = glia_graph_add_value (g, "r", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  gint y = glia_graph_add_value (g, "y", GLIA_DATA_TYPE_FLOAT, 1, dims, params);
  glia_graph_add_input (g, x);
  glia_graph_add_output (g, y);
  glia_graph_add_node (g, "Add", "", "add", 2, (gint[]){ x, one }, 1, &a);
  glia_graph_add_node (g, "Mul", "", "mul", 2, (gint[]){ a, w }, 1, &m);
  glia_graph_add_node (g, "Relu", "", "relu", 1, &m, 1, &r);
  glia_graph_add_node (g, "Sub", "", "sub", 2, (gint[]){ r, half }, 1, &y);
  g_autoptr (GError) error = NULL;
  GliaModel *model = glia_model_new_from_graph (g, &error);
  g_assert_no_error (error);
  glia_graph_unref (g);
  return model;
}

static float
chain_expected (gint64 i, float x, gboolean symbolic)
{
  float w = symbolic ? 1 : (i % 7) - 3;
  return MAX ((x + 1) * w, 0) - 0.5f;
}

static GliaTensor *
ramp (gint64 n, float scale)
{
  float *v = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    v[i] = scale * (float)(i % 13) - 2;
  gint64 dims[] = { n };
  GliaTensor *t
      = glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, dims, 1, (guint8 *)v, n * 4, NULL);
  g_free (v);
  return t;
}

static GliaSession *
make_session (GliaModel *model, const char *const *providers, gboolean fallback, GError **error)
{
  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, providers);
  glia_session_options_set_allow_fallback (opts, fallback);
  glia_session_options_set_threads (opts, 1);
  return glia_session_new_full (model, opts, registry, error);
}

static GHashTable *
inputs1 (const char *name, GliaTensor *t)
{
  GHashTable *in = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  g_hash_table_insert (in, (gpointer)name, t);
  return in;
}

static void
check_chain_output (GHashTable *out, GliaTensor *x, gboolean symbolic)
{
  GliaTensor *y = g_hash_table_lookup (out, "y");
  g_assert_nonnull (y);
  g_assert_cmpint (glia_tensor_get_dtype (y), ==, GLIA_DATA_TYPE_FLOAT);
  g_assert_cmpuint (glia_tensor_get_n_elements (y), ==, glia_tensor_get_n_elements (x));
  const float *xv = glia_tensor_peek_data (x, NULL);
  const float *yv = glia_tensor_peek_data (y, NULL);
  for (gsize i = 0; i < glia_tensor_get_n_elements (x); i++)
    g_assert_cmpfloat_with_epsilon (yv[i], chain_expected (i, xv[i], symbolic), 1e-6);
}

static void
run_and_check (GliaSession *s, gint64 n, gboolean symbolic)
{
  g_autoptr (GliaTensor) x = ramp (n, 0.5f);
  g_autoptr (GHashTable) in = inputs1 ("x", g_object_ref (x));
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) out = glia_session_run (s, in, &error);
  g_assert_no_error (error);
  check_chain_output (out, x, symbolic);
}

/* testa claims Add and Mul, testb Add, Sub and Relu: the preferred one wins. */
static void
test_preference_order (void)
{
  g_autoptr (GliaModel) model = chain_model (N, FALSE);
  g_autoptr (GError) error = NULL;

  g_autoptr (GliaSession) ab
      = make_session (model, (const char *[]){ "testa", "testb", NULL }, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (glia_session_get_node_provider (ab, 0), ==, "testa"); /* Add: both claim */
  g_assert_cmpstr (glia_session_get_node_provider (ab, 1), ==, "testa"); /* Mul */
  g_assert_cmpstr (glia_session_get_node_provider (ab, 2), ==, "testb"); /* Relu */
  g_assert_cmpstr (glia_session_get_node_provider (ab, 3), ==, "testb"); /* Sub */
  /* x to the device before Add; Mul's output back to the host for Relu.
   * The constants (1 and w) are uploaded once at creation, not per run. */
  g_assert_cmpuint (glia_session_get_n_copies (ab), ==, 2);
  run_and_check (ab, N, FALSE);

  g_autoptr (GliaSession) ba
      = make_session (model, (const char *[]){ "testb", "testa", NULL }, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (glia_session_get_node_provider (ba, 0), ==, "testb");
  g_assert_cmpstr (glia_session_get_node_provider (ba, 1), ==, "testa");
  g_assert_cmpstr (glia_session_get_node_provider (ba, 2), ==, "testb");
  g_assert_cmpuint (glia_session_get_n_copies (ba), ==, 2);
  run_and_check (ba, N, FALSE);

  g_auto (GStrv) names = glia_session_get_providers (ab);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "testa");
}

/* A device node as the graph's last node: its output is copied to the host. */
static void
test_output_on_device (void)
{
  GliaGraph *g = glia_graph_new ();
  glia_graph_set_opset (g, "", 17);
  gint64 dims[] = { 3 };
  gint x = glia_graph_add_value (g, "x", GLIA_DATA_TYPE_FLOAT, 1, dims, NULL);
  gint y = glia_graph_add_value (g, "y", GLIA_DATA_TYPE_FLOAT, 1, dims, NULL);
  glia_graph_add_input (g, x);
  glia_graph_add_output (g, y);
  glia_graph_add_node (g, "Mul", "", "square", 2, (gint[]){ x, x }, 1, &y);
  g_autoptr (GliaModel) model = glia_model_new_from_graph (g, NULL);
  glia_graph_unref (g);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s
      = make_session (model, (const char *[]){ "testa", NULL }, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (glia_session_get_n_copies (s), ==, 2);
  float v[] = { 1, -2, 3 };
  g_autoptr (GHashTable) in = inputs1 (
      "x", glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, dims, 1, (guint8 *)v, sizeof v, NULL));
  for (int rep = 0; rep < 3; rep++) {
    g_autoptr (GHashTable) out = glia_session_run (s, in, &error);
    g_assert_no_error (error);
    const float *yv = glia_tensor_peek_data (g_hash_table_lookup (out, "y"), NULL);
    g_assert_cmpfloat (yv[0], ==, 1);
    g_assert_cmpfloat (yv[1], ==, 4);
    g_assert_cmpfloat (yv[2], ==, 9);
  }
}

static void
test_fallback_disabled_lists_ops (void)
{
  g_autoptr (GliaModel) model = chain_model (N, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s
      = make_session (model, (const char *[]){ "testa", NULL }, FALSE, &error);
  g_assert_null (s);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_UNSUPPORTED_OP);
  g_assert_nonnull (strstr (error->message, "fallback is disabled"));
  g_assert_nonnull (strstr (error->message, "Relu"));
  g_assert_nonnull (strstr (error->message, "Sub"));
  g_assert_null (strstr (error->message, "Mul"));
}

/* With fallback, what testa leaves goes to the CPU provider. */
static void
test_fallback_to_cpu (void)
{
  g_autoptr (GliaModel) model = chain_model (N, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s = make_session (model, (const char *[]){ "testa", NULL }, TRUE, &error);
  if (s == NULL && g_error_matches (error, GLIA_ERROR, GLIA_ERROR_NOT_FOUND)) {
    g_test_skip ("the CPU provider plugin is not built");
    return;
  }
  g_assert_no_error (error);
  g_assert_cmpstr (glia_session_get_node_provider (s, 1), ==, "testa");
  g_assert_cmpstr (glia_session_get_node_provider (s, 2), ==, "cpu");
  g_assert_cmpstr (glia_session_get_node_provider (s, 3), ==, "cpu");
  run_and_check (s, N, FALSE);
}

/* A session that runs kernels of a provider with a thread pool of its own
 * (testb) runs the parallel loops of its other kernels (the CPU provider's
 * Mul) there; a session without such kernels keeps the host's pool. */
static void
test_provider_pool (void)
{
  const gint64 n = 1 << 20; /* enough for the CPU provider's Mul to split */
  g_autoptr (GliaModel) model = chain_model (n, FALSE);
  g_autofree char *path = g_module_build_path (g_getenv ("GLIA_TEST_PLUGIN_DIR"), "test-providers");
  GModule *mod = g_module_open (path, G_MODULE_BIND_LOCAL);
  g_assert_nonnull (mod);
  gint *loops = NULL;
  guint *threads = NULL;
  g_assert_true (g_module_symbol (mod, "test_providers_parallel_loops", (gpointer *)&loops));
  g_assert_true (g_module_symbol (mod, "test_providers_parallel_threads", (gpointer *)&threads));
  struct
  {
    const char *providers[3];
    gboolean pool;
    guint cpu_node; /* one that splits on the CPU provider */
  } cases[] = {
    { { "testb", "cpu", NULL }, TRUE, 1 },  /* testb runs Add, Relu, Sub */
    { { "cpu", "testb", NULL }, FALSE, 1 }, /* the CPU provider takes all */
    /* testa (Add, Mul) has no parallel_for: the host's pool runs the
     * CPU provider's loops (this case checks that the NULL field is
     * skipped, not a count: testb is not in the session) */
    { { "testa", "cpu", NULL }, FALSE, 2 },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
    glia_session_options_set_providers (opts, cases[c].providers);
    glia_session_options_set_threads (opts, 2);
    g_autoptr (GError) error = NULL;
    g_autoptr (GliaSession) s = glia_session_new_full (model, opts, registry, &error);
    if (s == NULL && g_error_matches (error, GLIA_ERROR, GLIA_ERROR_NOT_FOUND)) {
      g_test_skip ("the CPU provider plugin is not built");
      break;
    }
    g_assert_no_error (error);
    g_assert_cmpstr (glia_session_get_node_provider (s, cases[c].cpu_node), ==, "cpu");
    gint before = g_atomic_int_get (loops);
    run_and_check (s, n, FALSE);
    if (cases[c].pool) {
      g_assert_cmpint (g_atomic_int_get (loops), >, before);
      g_assert_cmpuint (*threads, ==, 2);
    } else
      g_assert_cmpint (g_atomic_int_get (loops), ==, before);
  }
  g_module_close (mod);
}

static gint
int64_const (GliaGraph *g, const char *name, guint n, const gint64 *v)
{
  gint64 dims[] = { n };
  gint c = glia_graph_add_value (g, name, GLIA_DATA_TYPE_INT64, 1, dims, NULL);
  g_autoptr (GBytes) b = g_bytes_new (v, n * sizeof (gint64));
  g_assert_true (glia_graph_value_set_constant (g, c, GLIA_DATA_TYPE_INT64, 1, dims, b, NULL));
  return c;
}

/* Reshapes on the CPU provider make their output a view of their input
 * (SameData sees one buffer), and the input's memory then lives until the
 * view's last reader: the three Negs that run in between must not get it
 * (y would be wrong). A Transpose that moves a size-1 axis is a view too;
 * one that moves data is not. Twice, with the memory plan of the first. */
static void
test_reshape_views (void)
{
  const gint64 n = 4096;
  GliaGraph *g = glia_graph_new ();
  glia_graph_set_opset (g, "", 17);
  glia_graph_set_opset (g, "com.glia.test", 1);
  gint64 dx[] = { n };
  gint x = glia_graph_add_value (g, "x", GLIA_DATA_TYPE_FLOAT, 1, dx, NULL);
  glia_graph_add_input (g, x);
  const char *names[]
      = { "a", "r", "u", "t", "same", "same_t", "moved", "same_m", "b", "c", "d", "e", "y" };
  gint v[G_N_ELEMENTS (names)];
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    v[i] = glia_graph_add_value (g, names[i], GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  enum
  {
    A,
    R,
    U,
    T,
    SAME,
    SAME_T,
    MOVED,
    SAME_M,
    B,
    C,
    D,
    E,
    Y
  };
  gint shape2 = int64_const (g, "shape2", 2, (gint64[]){ n / 4, 4 });
  gint axes0 = int64_const (g, "axes0", 1, (gint64[]){ 0 });
  gint shape3 = int64_const (g, "shape3", 3, (gint64[]){ 1, n / 4, 4 });
  glia_graph_add_node (g, "Relu", "", "relu", 1, &x, 1, &v[A]);
  glia_graph_add_node (g, "Reshape", "", "reshape", 2, (gint[]){ v[A], shape2 }, 1, &v[R]);
  glia_graph_add_node (g, "Unsqueeze", "", "unsqueeze", 2, (gint[]){ v[R], axes0 }, 1, &v[U]);
  gint tr = glia_graph_add_node (g, "Transpose", "", "transpose", 1, &v[U], 1, &v[T]);
  glia_graph_node_set_attr_ints (g, tr, "perm", (gint64[]){ 1, 0, 2 }, 3);
  gint mv = glia_graph_add_node (g, "Transpose", "", "moves", 1, &v[R], 1, &v[MOVED]);
  glia_graph_node_set_attr_ints (g, mv, "perm", (gint64[]){ 1, 0 }, 2);
  glia_graph_add_node (g, "SameData", "com.glia.test", "same_u", 2, (gint[]){ v[A], v[U] }, 1,
                       &v[SAME]);
  glia_graph_add_node (g, "SameData", "com.glia.test", "same_t", 2, (gint[]){ v[A], v[T] }, 1,
                       &v[SAME_T]);
  glia_graph_add_node (g, "SameData", "com.glia.test", "same_m", 2, (gint[]){ v[A], v[MOVED] }, 1,
                       &v[SAME_M]);
  glia_graph_add_node (g, "Neg", "", "neg1", 1, &x, 1, &v[B]);
  glia_graph_add_node (g, "Neg", "", "neg2", 1, &v[B], 1, &v[C]);
  glia_graph_add_node (g, "Neg", "", "neg3", 1, &v[C], 1, &v[D]);
  glia_graph_add_node (g, "Reshape", "", "reshape_d", 2, (gint[]){ v[D], shape3 }, 1, &v[E]);
  /* reads the view u (of a) after the Negs */
  glia_graph_add_node (g, "Add", "", "add", 2, (gint[]){ v[U], v[E] }, 1, &v[Y]);
  glia_graph_add_output (g, v[Y]);
  glia_graph_add_output (g, v[SAME]);
  glia_graph_add_output (g, v[SAME_T]);
  glia_graph_add_output (g, v[SAME_M]);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaModel) model = glia_model_new_from_graph (g, &error);
  g_assert_no_error (error);
  glia_graph_unref (g);
  g_autoptr (GliaSession) s = make_session (model, (const char *[]){ "cpu", NULL }, TRUE, &error);
  if (s == NULL && g_error_matches (error, GLIA_ERROR, GLIA_ERROR_NOT_FOUND)) {
    g_test_skip ("the CPU provider plugin is not built");
    return;
  }
  g_assert_no_error (error);
  for (guint run = 0; run < 2; run++) {
    g_autoptr (GliaTensor) xt = ramp (n, 0.25f);
    const float *xv = glia_tensor_peek_data (xt, NULL);
    g_autoptr (GHashTable) in = inputs1 ("x", g_object_ref (xt));
    g_autoptr (GHashTable) out = glia_session_run (s, in, &error);
    g_assert_no_error (error);
    const float *yv = glia_tensor_peek_data (g_hash_table_lookup (out, "y"), NULL);
    for (gint64 i = 0; i < n; i++)
      g_assert_cmpfloat (yv[i], ==, MAX (xv[i], 0.0f) - xv[i]);
    g_assert_cmpfloat (
        *(const float *)glia_tensor_peek_data (g_hash_table_lookup (out, "same"), NULL), ==, 1);
    g_assert_cmpfloat (
        *(const float *)glia_tensor_peek_data (g_hash_table_lookup (out, "same_t"), NULL), ==, 1);
    g_assert_cmpfloat (
        *(const float *)glia_tensor_peek_data (g_hash_table_lookup (out, "same_m"), NULL), ==, 0);
  }
}

static void
test_provider_options (void)
{
  g_autoptr (GliaModel) model = chain_model (N, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, (const char *[]){ "testa", "testb", NULL });

  /* malformed keys fail at once */
  g_assert_false (glia_session_options_set_option (opts, "threads", "4", &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* a key the provider does not declare fails the session, naming it */
  g_assert_true (glia_session_options_set_option (opts, "ep.testb.turbo", "1", &error));
  g_autoptr (GliaSession) s1 = glia_session_new_full (model, opts, registry, &error);
  g_assert_null (s1);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "ep.testb.turbo"));
  g_clear_error (&error);

  /* a declared key reaches the provider: testa refuses to start with fail=1 */
  g_autoptr (GliaSessionOptions) opts2 = glia_session_options_new ();
  glia_session_options_set_providers (opts2, (const char *[]){ "testa", "testb", NULL });
  glia_session_options_set_allow_fallback (opts2, FALSE);
  g_assert_true (glia_session_options_set_option (opts2, "ep.testa.fail", "1", &error));
  g_autoptr (GliaSession) s2 = glia_session_new_full (model, opts2, registry, &error);
  g_assert_null (s2);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE);
  g_assert_nonnull (strstr (error->message, "unplugged"));
  g_clear_error (&error);

  g_assert_true (glia_session_options_set_option (opts2, "ep.testa.fail", "0", &error));
  g_autoptr (GliaSession) s3 = glia_session_new_full (model, opts2, registry, &error);
  g_assert_no_error (error);
}

static void
test_custom_op (void)
{
  GliaGraph *g = glia_graph_new ();
  glia_graph_set_opset (g, "", 17);
  glia_graph_set_opset (g, "com.glia.test", 1);
  gint64 dims[] = { 2 };
  gint x = glia_graph_add_value (g, "x", GLIA_DATA_TYPE_FLOAT, 1, dims, NULL);
  gint t = glia_graph_add_value (g, "t", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  gint y = glia_graph_add_value (g, "y", GLIA_DATA_TYPE_FLOAT, 1, dims, NULL);
  glia_graph_add_input (g, x);
  glia_graph_add_output (g, y);
  glia_graph_add_node (g, "Twice", "com.glia.test", "twice", 1, &x, 1, &t);
  glia_graph_add_node (g, "Relu", "", "relu", 1, &t, 1, &y);
  g_autoptr (GliaModel) model = glia_model_new_from_graph (g, NULL);
  glia_graph_unref (g);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s
      = make_session (model, (const char *[]){ "testb", NULL }, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (glia_session_get_node_provider (s, 0), ==, "custom");
  g_assert_cmpstr (glia_session_get_node_provider (s, 1), ==, "testb");
  float v[] = { 1.5f, -3 };
  g_autoptr (GHashTable) in = inputs1 (
      "x", glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, dims, 1, (guint8 *)v, sizeof v, NULL));
  g_autoptr (GHashTable) out = glia_session_run (s, in, &error);
  g_assert_no_error (error);
  const float *yv = glia_tensor_peek_data (g_hash_table_lookup (out, "y"), NULL);
  g_assert_cmpfloat (yv[0], ==, 3);
  g_assert_cmpfloat (yv[1], ==, 0);

  /* an op of an unknown domain is named with its domain and opset */
  GliaGraph *g2 = glia_graph_new ();
  glia_graph_set_opset (g2, "com.nowhere", 3);
  gint a = glia_graph_add_value (g2, "a", GLIA_DATA_TYPE_FLOAT, 1, dims, NULL);
  gint b = glia_graph_add_value (g2, "b", GLIA_DATA_TYPE_FLOAT, 1, dims, NULL);
  glia_graph_add_input (g2, a);
  glia_graph_add_output (g2, b);
  glia_graph_add_node (g2, "Frobnicate", "com.nowhere", "f", 1, &a, 1, &b);
  g_autoptr (GliaModel) m2 = glia_model_new_from_graph (g2, NULL);
  glia_graph_unref (g2);
  g_autoptr (GliaSession) s2 = make_session (m2, (const char *[]){ "testb", NULL }, FALSE, &error);
  g_assert_null (s2);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_UNSUPPORTED_OP);
  g_assert_nonnull (strstr (error->message, "com.nowhere:Frobnicate (opset 3)"));
}

static void
test_bad_inputs (void)
{
  g_autoptr (GliaModel) model = chain_model (8, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s
      = make_session (model, (const char *[]){ "testb", "testa", NULL }, FALSE, &error);
  g_assert_no_error (error);

  /* missing */
  g_autoptr (GHashTable) none = g_hash_table_new (g_str_hash, g_str_equal);
  g_assert_null (glia_session_run (s, none, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "missing input 'x'"));
  g_clear_error (&error);

  /* wrong dtype */
  gint64 dims[] = { 8 };
  g_autoptr (GHashTable) wrong_type
      = inputs1 ("x", glia_tensor_new_zeros (GLIA_DATA_TYPE_INT32, dims, 1, NULL));
  g_assert_null (glia_session_run (s, wrong_type, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "must be float32, got int32"));
  g_clear_error (&error);

  /* wrong shape */
  gint64 dims2[] = { 2, 4 };
  g_autoptr (GHashTable) wrong_shape
      = inputs1 ("x", glia_tensor_new_zeros (GLIA_DATA_TYPE_FLOAT, dims2, 2, NULL));
  g_assert_null (glia_session_run (s, wrong_shape, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "must have shape [8], got [2,4]"));
  g_clear_error (&error);

  /* unknown name */
  g_autoptr (GHashTable) extra = inputs1 ("x", ramp (8, 1));
  g_hash_table_insert (extra, "bogus", ramp (8, 1));
  g_assert_null (glia_session_run (s, extra, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "no input 'bogus'"));
  g_clear_error (&error);

  /* the session still works afterwards */
  run_and_check (s, 8, FALSE);
}

/* Symbolic dims: one session, several lengths. */
static void
test_symbolic_dims (void)
{
  g_autoptr (GliaModel) model = chain_model (N, TRUE); /* symbolic n, scalar w */
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s
      = make_session (model, (const char *[]){ "testb", "testa", NULL }, FALSE, &error);
  g_assert_no_error (error);
  run_and_check (s, 10, TRUE);
  run_and_check (s, 3, TRUE);
}

/* The first run of a signature plans memory; later runs allocate nothing. */
static void
test_memory_plan (void)
{
  g_autoptr (GliaModel) model = chain_model (N, TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s
      = make_session (model, (const char *[]){ "testa", "testb", NULL }, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (glia_session_get_n_plans (s), ==, 0);
  run_and_check (s, 100, TRUE);
  guint64 after_first = glia_session_get_n_dynamic_allocations (s);
  g_assert_cmpuint (after_first, >, 0);
  g_assert_cmpuint (glia_session_get_n_plans (s), ==, 1);
  for (int i = 0; i < 5; i++)
    run_and_check (s, 100, TRUE);
  g_assert_cmpuint (glia_session_get_n_dynamic_allocations (s), ==, after_first);
  /* a new input signature gets its own plan */
  run_and_check (s, 57, TRUE);
  g_assert_cmpuint (glia_session_get_n_plans (s), ==, 2);
  guint64 after_second = glia_session_get_n_dynamic_allocations (s);
  run_and_check (s, 57, TRUE);
  run_and_check (s, 100, TRUE);
  g_assert_cmpuint (glia_session_get_n_dynamic_allocations (s), ==, after_second);
}

static void
test_memory_limit (void)
{
  g_autoptr (GliaModel) model = chain_model (N, TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, (const char *[]){ "testb", "testa", NULL });
  glia_session_options_set_allow_fallback (opts, FALSE);
  glia_session_options_set_memory_limit (opts, 4096);
  g_autoptr (GliaSession) s = glia_session_new_full (model, opts, registry, &error);
  g_assert_no_error (error);
  run_and_check (s, 100, TRUE); /* 400-byte tensors fit */
  g_autoptr (GHashTable) in = inputs1 ("x", ramp (100000, 1));
  g_autoptr (GHashTable) out = glia_session_run (s, in, &error);
  g_assert_null (out);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_RESOURCE_LIMIT);
  g_clear_error (&error);
  run_and_check (s, 100, TRUE);
}

typedef struct
{
  GliaSession *session;
  GliaTensor *x;
  GBytes *expected;
  gint failures;
} Shared;

static gpointer
worker (gpointer data)
{
  Shared *sh = data;
  for (int i = 0; i < 50; i++) {
    g_autoptr (GHashTable) in = inputs1 ("x", g_object_ref (sh->x));
    g_autoptr (GError) error = NULL;
    g_autoptr (GHashTable) out = glia_session_run (sh->session, in, &error);
    if (out == NULL) {
      g_atomic_int_inc (&sh->failures);
      continue;
    }
    g_autoptr (GBytes) got = glia_tensor_get_data (g_hash_table_lookup (out, "y"));
    if (!g_bytes_equal (got, sh->expected))
      g_atomic_int_inc (&sh->failures);
  }
  return NULL;
}

/* 8 threads x 50 runs on one session give identical outputs. */
static void
test_concurrent_runs (void)
{
  const gint64 n = 200000;
  g_autoptr (GliaModel) model = chain_model (n, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s
      = make_session (model, (const char *[]){ "testa", "testb", NULL }, FALSE, &error);
  g_assert_no_error (error);
  g_autoptr (GliaTensor) x = ramp (n, 0.25f);
  g_autoptr (GHashTable) in = inputs1 ("x", g_object_ref (x));
  g_autoptr (GHashTable) out = glia_session_run (s, in, &error);
  g_assert_no_error (error);
  check_chain_output (out, x, FALSE);
  g_autoptr (GBytes) expected = glia_tensor_get_data (g_hash_table_lookup (out, "y"));
  Shared sh = { s, x, expected, 0 };
  GThread *threads[8];
  for (int t = 0; t < 8; t++)
    threads[t] = g_thread_new ("run", worker, &sh);
  for (int t = 0; t < 8; t++)
    g_thread_join (threads[t]);
  g_assert_cmpint (sh.failures, ==, 0);
  g_assert_cmpuint (glia_session_get_n_plans (s), ==, 1);
}

/* An input handed over in (fake) device memory is read through the provider
 * of that device. */
static void
test_device_input (void)
{
  g_autoptr (GliaModel) model = chain_model (N, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaTensor) x = ramp (N, 0.5f);
  gsize size;
  const guint8 *host = glia_tensor_peek_data (x, &size);
  guint8 *dev = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    dev[i] = host[i] ^ 0x5A; /* testa's device encoding */
  gint64 dims[] = { N };
  GliaTensor *xd = glia_tensor_new_for_device (
      GLIA_DATA_TYPE_FLOAT, dims, 1, GLIA_DEVICE_TYPE_OTHER, 0, dev, size, g_free, dev, &error);
  g_assert_no_error (error);
  g_assert_cmpint (glia_tensor_get_device (xd), ==, GLIA_DEVICE_TYPE_OTHER);
  g_assert_null (glia_tensor_peek_data (xd, NULL));
  g_autoptr (GHashTable) in = inputs1 ("x", xd);

  for (int order = 0; order < 2; order++) {
    const char *const *prefs = order == 0 ? (const char *[]){ "testa", "testb", NULL }
                                          : (const char *[]){ "testb", "testa", NULL };
    g_autoptr (GliaSession) s = make_session (model, prefs, FALSE, &error);
    g_assert_no_error (error);
    for (int rep = 0; rep < 2; rep++) {
      g_autoptr (GHashTable) out = glia_session_run (s, in, &error);
      g_assert_no_error (error);
      check_chain_output (out, x, FALSE);
    }
  }

  /* no provider on that device: a clear error */
  g_autoptr (GliaModel) relu = chain_model (N, FALSE);
  g_autoptr (GliaSession) cpu_only
      = make_session (relu, (const char *[]){ "testb", "testa", NULL }, FALSE, &error);
  g_assert_no_error (error);
  g_autoptr (GliaTensor) wrong = glia_tensor_new_for_device (
      GLIA_DATA_TYPE_FLOAT, dims, 1, GLIA_DEVICE_TYPE_CUDA, 0, dev, size, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GHashTable) in2 = inputs1 ("x", g_object_ref (wrong));
  g_assert_null (glia_session_run (cpu_only, in2, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "cuda memory"));
}

/* Profiling records one event per step and run; without it, writing fails. */
static void
test_profile (void)
{
  g_autoptr (GliaModel) model = chain_model (N, FALSE);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("glia-profile-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "trace.json", NULL);
  g_autoptr (GliaSession) plain
      = make_session (model, (const char *[]){ "testa", "testb", NULL }, FALSE, &error);
  g_assert_false (glia_session_write_profile (plain, path, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, (const char *[]){ "testa", "testb", NULL });
  glia_session_options_set_profiling (opts, TRUE);
  g_autoptr (GliaSession) s = glia_session_new_full (model, opts, registry, &error);
  g_assert_no_error (error);
  run_and_check (s, N, FALSE);
  run_and_check (s, N, FALSE);
  g_assert_true (glia_session_write_profile (s, path, &error));
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  /* 4 kernels + 2 copies per run, 2 runs */
  guint events = 0;
  for (const char *p = text; (p = strstr (p, "\"ph\":\"X\"")); p++)
    events++;
  g_assert_cmpuint (events, ==, 12);
  g_assert_nonnull (strstr (text, "\"cat\":\"testa\""));
  g_assert_nonnull (strstr (text, "float32[1000] -> float32[1000]"));
  g_remove (path);
  g_rmdir (dir);
}

static void
async_done (GObject *source, GAsyncResult *res, gpointer data)
{
  GHashTable **out = data;
  g_autoptr (GError) error = NULL;
  *out = glia_session_run_finish (GLIA_SESSION (source), res, &error);
  g_assert_no_error (error);
}

static void
test_run_async (void)
{
  g_autoptr (GliaModel) model = chain_model (N, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSession) s
      = make_session (model, (const char *[]){ "testa", "testb", NULL }, FALSE, &error);
  g_assert_no_error (error);
  g_autoptr (GliaTensor) x = ramp (N, 1);
  g_autoptr (GHashTable) in = inputs1 ("x", g_object_ref (x));
  GHashTable *out = NULL;
  glia_session_run_async (s, in, NULL, async_done, &out);
  while (out == NULL)
    g_main_context_iteration (NULL, TRUE);
  check_chain_output (out, x, FALSE);
  g_hash_table_unref (out);
}

static void
test_invalid_graphs (void)
{
  /* a node reading a value nobody produces */
  GliaGraph *g = glia_graph_new ();
  gint a = glia_graph_add_value (g, "a", GLIA_DATA_TYPE_FLOAT, -1, NULL, NULL);
  gint b = glia_graph_add_value (g, "b", GLIA_DATA_TYPE_FLOAT, -1, NULL, NULL);
  glia_graph_add_output (g, b);
  glia_graph_add_node (g, "Relu", "", "r", 1, &a, 1, &b);
  g_autoptr (GError) error = NULL;
  g_assert_null (glia_model_new_from_graph (g, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL);
  g_assert_nonnull (strstr (error->message, "'a'"));
  glia_graph_unref (g);
  g_clear_error (&error);

  /* a cycle */
  g = glia_graph_new ();
  gint x = glia_graph_add_value (g, "x", GLIA_DATA_TYPE_FLOAT, -1, NULL, NULL);
  gint p = glia_graph_add_value (g, "p", GLIA_DATA_TYPE_FLOAT, -1, NULL, NULL);
  gint q = glia_graph_add_value (g, "q", GLIA_DATA_TYPE_FLOAT, -1, NULL, NULL);
  glia_graph_add_input (g, x);
  glia_graph_add_output (g, q);
  glia_graph_add_node (g, "Add", "", "n1", 2, (gint[]){ x, q }, 1, &p);
  glia_graph_add_node (g, "Relu", "", "n2", 1, &p, 1, &q);
  g_assert_null (glia_model_new_from_graph (g, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL);
  g_assert_nonnull (strstr (error->message, "cycle"));
  glia_graph_unref (g);
  g_clear_error (&error);

  /* nodes out of order are sorted */
  g = glia_graph_new ();
  glia_graph_set_opset (g, "", 17);
  gint64 d[] = { 2 };
  x = glia_graph_add_value (g, "x", GLIA_DATA_TYPE_FLOAT, 1, d, NULL);
  p = glia_graph_add_value (g, "p", GLIA_DATA_TYPE_FLOAT, 1, d, NULL);
  q = glia_graph_add_value (g, "q", GLIA_DATA_TYPE_FLOAT, 1, d, NULL);
  glia_graph_add_input (g, x);
  glia_graph_add_output (g, q);
  glia_graph_add_node (g, "Relu", "", "second", 1, &p, 1, &q);
  glia_graph_add_node (g, "Add", "", "first", 2, (gint[]){ x, x }, 1, &p);
  g_autoptr (GliaModel) m = glia_model_new_from_graph (g, &error);
  g_assert_no_error (error);
  glia_graph_unref (g);
  g_autoptr (GliaSession) s = make_session (m, (const char *[]){ "testb", NULL }, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (glia_session_get_node_name (s, 0), ==, "first");
}

static void
test_corrupt_model_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("glia-model-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "garbage.onnx", NULL);
  guint8 junk[512];
  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (guint8)(i * 131 + 7);
  g_assert_true (g_file_set_contents (path, (char *)junk, sizeof junk, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaModel) m = glia_model_new_from_file_full (path, registry, &error);
  g_assert_null (m);
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL);
  g_assert_nonnull (strstr (error->message, "garbage.onnx"));
  g_clear_error (&error);

  g_autofree char *empty = g_build_filename (dir, "empty.onnx", NULL);
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  g_assert_null (glia_model_new_from_file_full (empty, registry, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL);
  g_clear_error (&error);

  g_assert_null (glia_model_new_from_file_full ("/nonexistent/model.onnx", registry, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_IO);
  g_remove (path);
  g_remove (empty);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  registry = glia_registry_new ();
  glia_registry_add_search_path (registry, g_getenv ("GLIA_TEST_PLUGIN_DIR"));
  g_autofree char *plugins = g_build_filename (g_getenv ("GLIA_BUILD_ROOT"), "plugins", NULL);
  glia_registry_add_search_path (registry, plugins);
  g_assert_true (glia_registry_scan (registry, NULL));

  g_test_add_func ("/session/preference-order", test_preference_order);
  g_test_add_func ("/session/output-on-device", test_output_on_device);
  g_test_add_func ("/session/fallback-disabled", test_fallback_disabled_lists_ops);
  g_test_add_func ("/session/fallback-to-cpu", test_fallback_to_cpu);
  g_test_add_func ("/session/provider-options", test_provider_options);
  g_test_add_func ("/session/provider-pool", test_provider_pool);
  g_test_add_func ("/session/reshape-views", test_reshape_views);
  g_test_add_func ("/session/custom-op", test_custom_op);
  g_test_add_func ("/session/bad-inputs", test_bad_inputs);
  g_test_add_func ("/session/symbolic-dims", test_symbolic_dims);
  g_test_add_func ("/session/memory-plan", test_memory_plan);
  g_test_add_func ("/session/memory-limit", test_memory_limit);
  g_test_add_func ("/session/concurrent-runs", test_concurrent_runs);
  g_test_add_func ("/session/run-async", test_run_async);
  g_test_add_func ("/session/device-input", test_device_input);
  g_test_add_func ("/session/profile", test_profile);
  g_test_add_func ("/session/invalid-graphs", test_invalid_graphs);
  g_test_add_func ("/session/corrupt-model-file", test_corrupt_model_file);
  int ret = g_test_run ();
  g_object_unref (registry);
  return ret;
}
