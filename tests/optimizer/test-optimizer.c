/* test-optimizer.c: the graph optimizer's passes, each on a small graph
 * built with the graph builder where it applies. Every case runs the graph
 * at level 0 and at the pass's level on the same inputs, asserts that the
 * pass changed the graph (fewer nodes, the fused operator present) and that
 * the outputs agree. Also: the graph editing API, values read by subgraphs,
 * a session whose only provider runs no com.glia op, and a pass registered
 * by a plugin (tests/optimizer/test-pass-plugin.c).
 */
#include <glia.h>
#include <glia-plugin.h>
#include <math.h>
#include <string.h>

static GliaRegistry *registry;

/* ---- building graphs ------------------------------------------------------ */

static gint
add_input (GliaGraph *g, const char *name, guint rank, const gint64 *dims)
{
  gint v = glia_graph_add_value (g, name, GLIA_DATA_TYPE_FLOAT, rank, dims, NULL);
  glia_graph_add_input (g, v);
  return v;
}

static gint
add_const (GliaGraph *g, const char *name, guint rank, const gint64 *dims, const float *data)
{
  gsize n = 1;
  for (guint i = 0; i < rank; i++)
    n *= dims[i];
  gint v = glia_graph_add_value (g, name, GLIA_DATA_TYPE_FLOAT, rank, dims, NULL);
  g_autoptr (GBytes) bytes = g_bytes_new (data, n * sizeof (float));
  g_assert_true (
      glia_graph_value_set_constant (g, v, GLIA_DATA_TYPE_FLOAT, rank, dims, bytes, NULL));
  return v;
}

static gint
add_scalar (GliaGraph *g, const char *name, float x)
{
  return add_const (g, name, 0, NULL, &x);
}

/* Deterministic values in [-1, 1). */
static float *
random_floats (gsize n, guint32 seed)
{
  float *p = g_new (float, n);
  guint32 s = seed * 2654435761u + 1;
  for (gsize i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)((s >> 8) / 8388608.0 - 1.0);
  }
  return p;
}

static gint
add_random_const (GliaGraph *g, const char *name, guint rank, const gint64 *dims, guint32 seed)
{
  gsize n = 1;
  for (guint i = 0; i < rank; i++)
    n *= dims[i];
  g_autofree float *data = random_floats (n, seed);
  return add_const (g, name, rank, dims, data);
}

static gint
value (GliaGraph *g, const char *name)
{
  return glia_graph_add_value (g, name, GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
}

static gint
node1 (GliaGraph *g, const char *op, const char *name, gint a, gint b, gint out)
{
  gint ins[2] = { a, b };
  return glia_graph_add_node (g, op, "", name, b >= 0 ? 2 : 1, ins, 1, &out);
}

static GliaGraph *
new_graph (gint opset)
{
  GliaGraph *g = glia_graph_new ();
  glia_graph_set_opset (g, "", opset);
  return g;
}

/* ---- running them ----------------------------------------------------------- */

typedef struct
{
  guint n_nodes;
  GPtrArray *ops; /* "domain:Op" per node */
  char *report;
  GHashTable *outputs;
} Result;

static void
result_clear (Result *r)
{
  g_clear_pointer (&r->ops, g_ptr_array_unref);
  g_clear_pointer (&r->report, g_free);
  g_clear_pointer (&r->outputs, g_hash_table_unref);
}

static gboolean
run_graph (GliaGraph *graph, guint level, const char *const *providers, GHashTable *inputs,
           Result *r, GError **error)
{
  g_autoptr (GliaGraph) copy = glia_graph_copy (graph);
  g_autoptr (GliaModel) model = glia_model_new_from_graph (copy, error);
  if (model == NULL)
    return FALSE;
  g_autoptr (GliaSessionOptions) options = glia_session_options_new ();
  const char *const cpu[] = { "cpu", NULL };
  glia_session_options_set_providers (options, providers ? providers : cpu);
  glia_session_options_set_allow_fallback (options, providers == NULL);
  glia_session_options_set_optimization_level (options, level);
  glia_session_options_set_threads (options, 1);
  g_autoptr (GliaSession) session = glia_session_new_full (model, options, registry, error);
  if (session == NULL)
    return FALSE;
  r->n_nodes = glia_session_get_n_nodes (session);
  r->ops = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < r->n_nodes; i++) {
    const char *d = glia_session_get_node_domain (session, i);
    g_ptr_array_add (r->ops, g_strdup_printf ("%s%s%s", d, *d ? ":" : "",
                                              glia_session_get_node_op_type (session, i)));
  }
  r->report = g_strdup (glia_session_get_optimization_report (session));
  r->outputs = glia_session_run (session, inputs, error);
  return r->outputs != NULL;
}

static gboolean
has_op (const Result *r, const char *op)
{
  return g_ptr_array_find_with_equal_func (r->ops, op, g_str_equal, NULL);
}

/* Inputs: each graph input (not constant) gets deterministic values. */
static GHashTable *
make_inputs (GliaGraph *g)
{
  GHashTable *t = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  for (guint i = 0; i < glia_graph_get_n_inputs (g); i++) {
    gint v = glia_graph_get_input (g, i);
    gint rank = glia_graph_value_get_rank (g, v);
    const gint64 *dims = glia_graph_value_get_dims (g, v);
    gsize n = 1;
    for (gint k = 0; k < rank; k++)
      n *= dims[k];
    GliaTensor *t_in;
    if (glia_graph_value_get_dtype (g, v) == GLIA_DATA_TYPE_BOOL) {
      guint8 b = 1;
      t_in = glia_tensor_new_from_data (GLIA_DATA_TYPE_BOOL, dims, rank, &b, 1, NULL);
    } else if (glia_graph_value_get_dtype (g, v) == GLIA_DATA_TYPE_INT64) {
      /* indices into a table of at least 7 rows, negative ones too */
      g_autofree gint64 *ids = g_new (gint64, n);
      for (gsize k = 0; k < n; k++)
        ids[k] = (gint64)((k * 5 + i) % 9) - 2;
      t_in = glia_tensor_new_from_data (GLIA_DATA_TYPE_INT64, dims, rank, (guint8 *)ids,
                                        n * sizeof (gint64), NULL);
    } else {
      g_autofree float *data = random_floats (n, 100 + i);
      t_in = glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, dims, rank, (guint8 *)data,
                                        n * sizeof (float), NULL);
    }
    g_assert_nonnull (t_in);
    g_hash_table_insert (t, g_strdup (glia_graph_value_get_name (g, v)), t_in);
  }
  return t;
}

static void
assert_outputs_close (GliaGraph *g, GHashTable *a, GHashTable *b, double tol)
{
  for (guint i = 0; i < glia_graph_get_n_outputs (g); i++) {
    const char *name = glia_graph_value_get_name (g, glia_graph_get_output (g, i));
    GliaTensor *ta = g_hash_table_lookup (a, name), *tb = g_hash_table_lookup (b, name);
    g_assert_nonnull (ta);
    g_assert_nonnull (tb);
    guint ra, rb;
    const gint64 *da = glia_tensor_get_shape (ta, &ra), *db = glia_tensor_get_shape (tb, &rb);
    g_assert_cmpuint (ra, ==, rb);
    for (guint k = 0; k < ra; k++)
      g_assert_cmpint (da[k], ==, db[k]);
    gsize na, nb;
    const float *pa = glia_tensor_peek_data (ta, &na), *pb = glia_tensor_peek_data (tb, &nb);
    g_assert_cmpuint (na, ==, nb);
    for (gsize k = 0; k < na / sizeof (float); k++)
      if (!(fabs (pa[k] - pb[k]) <= tol * MAX (1.0, fabs (pa[k]))))
        g_assert_cmpfloat (pa[k], ==, pb[k]);
  }
}

/* Runs @g at level 0 and @level; the outputs must agree. Fills @on. */
static void
check_pass (GliaGraph *g, guint level, Result *on, double tol)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) inputs = make_inputs (g);
  Result off = { 0 };
  g_assert_true (run_graph (g, 0, NULL, inputs, &off, &error));
  g_assert_no_error (error);
  g_assert_true (run_graph (g, level, NULL, inputs, on, &error));
  g_assert_no_error (error);
  g_test_message ("%s", on->report);
  g_assert_cmpuint (off.n_nodes, ==, glia_graph_get_n_nodes (g));
  assert_outputs_close (g, off.outputs, on->outputs, tol);
  result_clear (&off);
}

/* ---- level 1 ------------------------------------------------------------------ */

static void
test_identity_dropout (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 d[2] = { 2, 3 };
  gint x = add_input (g, "x", 2, d);
  gint a = value (g, "a"), b = value (g, "b"), c = value (g, "c"), y = value (g, "y");
  node1 (g, "Identity", "id1", x, -1, a);
  node1 (g, "Dropout", "drop", a, -1, b);
  node1 (g, "Relu", "relu", b, -1, c);
  node1 (g, "Identity", "id2", c, -1, y); /* a graph output: relu must produce "y" */
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 1, &on, 0);
  g_assert_cmpuint (on.n_nodes, ==, 1);
  g_assert_true (has_op (&on, "Relu"));
  g_assert_nonnull (strstr (on.report, "eliminate-identity"));
  result_clear (&on);
}

static void
test_constant_folding (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 d[2] = { 2, 3 }, d3[1] = { 3 };
  gint x = add_input (g, "x", 2, d);
  /* w is an input with a default (an initializer): never constant */
  gint w = add_input (g, "w", 1, d3);
  const float wdef[3] = { 5, 6, 7 };
  g_autoptr (GBytes) wb = g_bytes_new (wdef, sizeof wdef);
  glia_graph_value_set_constant (g, w, GLIA_DATA_TYPE_FLOAT, 1, d3, wb, NULL);
  gint two = add_scalar (g, "two", 2.0f);
  gint c = value (g, "c"), c2 = value (g, "c2"), s = value (g, "s"), sum = value (g, "sum");
  gint y = value (g, "y"), w2 = value (g, "w2");
  gint cn = glia_graph_add_node (g, "Constant", "", "const", 0, NULL, 1, &c);
  const float cv[3] = { 1, 2, 3 };
  g_autoptr (GBytes) cb = g_bytes_new (cv, sizeof cv);
  glia_graph_node_set_attr_tensor (g, cn, "value", GLIA_DATA_TYPE_FLOAT, 1, d3, cb);
  node1 (g, "Mul", "mul", c, two, c2);
  node1 (g, "Add", "add", x, c2, sum);
  node1 (g, "Shape", "shape", x, -1, s);
  node1 (g, "Reshape", "reshape", sum, s, y);
  node1 (g, "Mul", "mulw", w, two, w2);
  glia_graph_add_output (g, y);
  glia_graph_add_output (g, w2);
  Result on = { 0 };
  check_pass (g, 1, &on, 0);
  /* Constant, Mul and Shape folded; mulw reads an input */
  g_assert_cmpuint (on.n_nodes, ==, 3);
  g_assert_false (has_op (&on, "Constant"));
  g_assert_false (has_op (&on, "Shape"));
  result_clear (&on);
}

static void
test_dead_nodes (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 d[2] = { 2, 3 };
  gint x = add_input (g, "x", 2, d);
  gint unused = value (g, "unused"), u2 = value (g, "u2"), y = value (g, "y");
  node1 (g, "Relu", "dead1", x, -1, unused);
  node1 (g, "Neg", "dead2", unused, -1, u2);
  node1 (g, "Sigmoid", "live", x, -1, y);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 1, &on, 0);
  g_assert_cmpuint (on.n_nodes, ==, 1);
  g_assert_true (has_op (&on, "Sigmoid"));
  result_clear (&on);
}

/* ---- level 2 ------------------------------------------------------------------ */

static void
test_conv_batchnorm (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 dx[4] = { 1, 2, 5, 5 }, dw[4] = { 3, 2, 3, 3 }, dc[1] = { 3 };
  gint x = add_input (g, "x", 4, dx);
  gint w = add_random_const (g, "w", 4, dw, 1);
  gint b = add_random_const (g, "b", 1, dc, 2);
  gint scale = add_random_const (g, "scale", 1, dc, 3);
  gint beta = add_random_const (g, "beta", 1, dc, 4);
  gint mean = add_random_const (g, "mean", 1, dc, 5);
  const float var_data[3] = { 0.5f, 1.5f, 2.0f };
  gint var = add_const (g, "var", 1, dc, var_data);
  gint c = value (g, "c"), y = value (g, "y");
  gint ins[3] = { x, w, b };
  gint conv = glia_graph_add_node (g, "Conv", "", "conv", 3, ins, 1, &c);
  const gint64 pads[4] = { 1, 1, 1, 1 };
  glia_graph_node_set_attr_ints (g, conv, "pads", pads, 4);
  gint bn_in[5] = { c, scale, beta, mean, var };
  gint bn = glia_graph_add_node (g, "BatchNormalization", "", "bn", 5, bn_in, 1, &y);
  glia_graph_node_set_attr_float (g, bn, "epsilon", 1e-3f);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 2, &on, 1e-5);
  g_assert_cmpuint (on.n_nodes, ==, 1);
  g_assert_true (has_op (&on, "Conv"));
  g_assert_nonnull (strstr (on.report, "folded BatchNormalization 'bn' into Conv 'conv'"));
  result_clear (&on);
}

static void
test_matmul_add_gemm (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 dx[2] = { 4, 5 }, dw[2] = { 5, 3 }, db[1] = { 3 };
  gint x = add_input (g, "x", 2, dx);
  gint w = add_random_const (g, "w", 2, dw, 7);
  gint b = add_random_const (g, "b", 1, db, 8);
  gint m = value (g, "m"), s = value (g, "s"), y = value (g, "y");
  node1 (g, "MatMul", "mm", x, w, m);
  node1 (g, "Add", "add", b, m, s); /* bias first: either order */
  node1 (g, "Relu", "relu", s, -1, y);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 2, &on, 1e-5);
  /* MatMul + Add -> Gemm, then Gemm (constant B) + Relu -> FusedMatMul */
  g_assert_cmpuint (on.n_nodes, ==, 1);
  g_assert_true (has_op (&on, "com.glia:FusedMatMul"));
  g_assert_nonnull (strstr (on.report, "MatMul 'mm' + Add 'add' -> Gemm"));
  result_clear (&on);
}

static void
test_matmul_bias (void)
{
  /* A of rank 3 (27 rows: tiles of 12 and a tail), N = 40 (a panel of 32
   * and a tail), bias first in the Add, then Relu */
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 dx[3] = { 3, 9, 7 }, dw[2] = { 7, 40 }, db[1] = { 40 };
  gint x = add_input (g, "x", 3, dx);
  gint w = add_random_const (g, "w", 2, dw, 21);
  gint b = add_random_const (g, "b", 1, db, 22);
  gint m = value (g, "m"), s = value (g, "s"), y = value (g, "y");
  node1 (g, "MatMul", "mm", x, w, m);
  node1 (g, "Add", "add", b, m, s);
  node1 (g, "Relu", "relu", s, -1, y);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 2, &on, 1e-5);
  g_assert_cmpuint (on.n_nodes, ==, 1);
  g_assert_true (has_op (&on, "com.glia:FusedMatMul"));
  g_assert_nonnull (strstr (on.report, "MatMul 'mm' -> FusedMatMul"));
  g_assert_nonnull (strstr (on.report, "bias Add 'add'"));
  result_clear (&on);
}

static gint
add_int (GliaGraph *g, const char *name, gint64 x)
{
  gint64 one = 1;
  gint v = glia_graph_add_value (g, name, GLIA_DATA_TYPE_INT64, 1, &one, NULL);
  g_autoptr (GBytes) bytes = g_bytes_new (&x, sizeof x);
  g_assert_true (glia_graph_value_set_constant (g, v, GLIA_DATA_TYPE_INT64, 1, &one, bytes, NULL));
  return v;
}

/* y = Slice (FusedMatMul (x)) over the last axis, for @n slices
 * [start, end) (axis -1 or 2, steps 1 or absent); @other: a Relu reads the
 * product too. */
static gint
add_slice (GliaGraph *g, gint y, const char *name, gint64 start, gint64 end, gint64 axis,
           gboolean step)
{
  g_autofree char *o = g_strconcat (name, "_out", NULL);
  g_autofree char *cs = g_strconcat (name, "_s", NULL), *ce = g_strconcat (name, "_e", NULL);
  g_autofree char *ca = g_strconcat (name, "_a", NULL), *cp = g_strconcat (name, "_p", NULL);
  gint out = value (g, o);
  gint ins[5] = { y, add_int (g, cs, start), add_int (g, ce, end), add_int (g, ca, axis),
                  step ? add_int (g, cp, 1) : -1 };
  glia_graph_add_node (g, "Slice", "", name, step ? 5 : 4, ins, 1, &out);
  glia_graph_add_output (g, out);
  return out;
}

static void
test_split_matmul_slices (void)
{
  for (guint variant = 0; variant < 3; variant++) {
    /* A [2, 9, 7] times B [7, 50] + bias, Relu; sliced into a Q/K/V-like
     * three (one with negative indices and one ending past the end, one
     * of 2 columns); variant 1: no bias; variant 2: a Relu reads the
     * product as well, so nothing splits */
    g_autoptr (GliaGraph) g = new_graph (13);
    const gint64 dx[3] = { 2, 9, 7 }, dw[2] = { 7, 50 }, db[1] = { 50 };
    gint x = add_input (g, "x", 3, dx);
    gint w = add_random_const (g, "w", 2, dw, 31);
    gint m = value (g, "m"), y = value (g, "y");
    node1 (g, "MatMul", "mm", x, w, m);
    if (variant != 1) {
      gint s = value (g, "s");
      node1 (g, "Add", "add", m, add_random_const (g, "b", 1, db, 32), s);
      node1 (g, "Relu", "relu", s, -1, y);
    } else
      node1 (g, "Relu", "relu", m, -1, y);
    add_slice (g, y, "q", 0, 20, -1, TRUE);
    add_slice (g, y, "k", -30, -10, 2, FALSE);
    add_slice (g, y, "v", 48, 1000, -1, FALSE);
    if (variant == 2) {
      gint r = value (g, "r");
      node1 (g, "Neg", "neg", y, -1, r);
      glia_graph_add_output (g, r);
    }
    Result on = { 0 };
    check_pass (g, 2, &on, 1e-5);
    if (variant == 2) {
      g_assert_true (has_op (&on, "Slice"));
      g_assert_null (strstr (on.report, "-> FusedMatMul over columns"));
    } else {
      /* three products, nothing else */
      g_assert_cmpuint (on.n_nodes, ==, 3);
      g_assert_false (has_op (&on, "Slice"));
      g_assert_nonnull (strstr (on.report, "Slice 'k' -> FusedMatMul over columns 20..40"));
      g_assert_nonnull (strstr (on.report, "Slice 'v' -> FusedMatMul over columns 48..50"));
    }
    result_clear (&on);
  }
}

static void
test_fold_embedding_matmul (void)
{
  for (guint variant = 0; variant < 4; variant++) {
    /* ids [2, 5] -> Gather from E [10, 8] -> Transpose [1, 0, 2] -> times W
     * [8, 6] + bias, Relu; E's rows also read by a Neg. Variant 1: no
     * Transpose, no bias; 2: a Transpose that moves the last axis (W [5,
     * 6]), which keeps the product; 3: W [8, 40], a table more than four
     * times E, which is not made */
    g_autoptr (GliaGraph) g = new_graph (13);
    const gint64 di[2] = { 2, 5 }, de[2] = { 10, 8 };
    gint64 dw[2] = { variant == 2 ? 5 : 8, variant == 3 ? 40 : 6 }, db[1] = { dw[1] };
    gint ids = glia_graph_add_value (g, "ids", GLIA_DATA_TYPE_INT64, 2, di, NULL);
    glia_graph_add_input (g, ids);
    gint e = add_random_const (g, "E", 2, de, 41);
    gint w = add_random_const (g, "W", 2, dw, 42);
    gint rows = value (g, "rows"), a = value (g, "a"), m = value (g, "m"), y = value (g, "y");
    gint neg = value (g, "neg");
    node1 (g, "Gather", "gather", e, ids, rows);
    node1 (g, "Neg", "negate", rows, -1, neg);
    if (variant == 1)
      a = rows;
    else {
      gint tr = node1 (g, "Transpose", "tr", rows, -1, a);
      const gint64 perm[2][3] = { { 1, 0, 2 }, { 0, 2, 1 } };
      glia_graph_node_set_attr_ints (g, tr, "perm", perm[variant == 2], 3);
    }
    node1 (g, "MatMul", "mm", a, w, m);
    if (variant == 1)
      node1 (g, "Relu", "relu", m, -1, y);
    else {
      gint s = value (g, "s");
      node1 (g, "Add", "add", m, add_random_const (g, "b", 1, db, 43), s);
      node1 (g, "Relu", "relu", s, -1, y);
    }
    glia_graph_add_output (g, y);
    glia_graph_add_output (g, neg);
    Result on = { 0 };
    check_pass (g, 2, &on, 1e-5);
    gboolean folds = variant < 2;
    g_assert_cmpint (has_op (&on, "com.glia:FusedMatMul"), ==, !folds);
    g_assert_cmpint (strstr (on.report, "FusedMatMul 'mm' -> Gather of a [10, 6] table") != NULL,
                     ==, folds);
    result_clear (&on);
  }
}

static void
test_matmul_bias_gemm (void)
{
  /* Gemm with transB and a bias, then HardSigmoid (an activation applied
   * after the tile); a MatMul whose Add is a full [M, N] matrix becomes a
   * Gemm and stays one (its C is no row bias). */
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 dx[2] = { 14, 33 }, dw[2] = { 50, 33 }, db[1] = { 50 }, dw2[2] = { 50, 5 };
  const gint64 dz[2] = { 14, 5 };
  gint x = add_input (g, "x", 2, dx);
  gint w = add_random_const (g, "w", 2, dw, 23);
  gint b = add_random_const (g, "b", 1, db, 24);
  gint w2 = add_random_const (g, "w2", 2, dw2, 25);
  gint z = add_random_const (g, "z", 2, dz, 26);
  gint m = value (g, "m"), h = value (g, "h"), p = value (g, "p"), y = value (g, "y");
  gint ins[3] = { x, w, b };
  gint gemm = glia_graph_add_node (g, "Gemm", "", "gemm", 3, ins, 1, &m);
  glia_graph_node_set_attr_int (g, gemm, "transB", 1);
  gint hs = node1 (g, "HardSigmoid", "hs", m, -1, h);
  glia_graph_node_set_attr_float (g, hs, "alpha", 0.3f);
  node1 (g, "MatMul", "mm2", h, w2, p);
  node1 (g, "Add", "addz", p, z, y);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 2, &on, 1e-5);
  g_assert_cmpuint (on.n_nodes, ==, 2);
  g_assert_true (has_op (&on, "com.glia:FusedMatMul"));
  g_assert_null (strstr (on.report, "'mm2' -> FusedMatMul"));
  g_assert_nonnull (strstr (on.report, "Gemm 'gemm' -> FusedMatMul"));
  g_assert_nonnull (strstr (on.report, "HardSigmoid 'hs'"));
  result_clear (&on);
}

static void
test_gemm_activation (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 dx[2] = { 3, 4 }, dw[2] = { 6, 4 }, db[2] = { 1, 6 };
  gint x = add_input (g, "x", 2, dx);
  gint w = add_random_const (g, "w", 2, dw, 9);
  gint b = add_random_const (g, "b", 2, db, 10);
  gint m = value (g, "m"), y = value (g, "y");
  gint ins[3] = { x, w, b };
  gint gemm = glia_graph_add_node (g, "Gemm", "", "gemm", 3, ins, 1, &m);
  glia_graph_node_set_attr_int (g, gemm, "transB", 1);
  glia_graph_node_set_attr_float (g, gemm, "alpha", 0.5f);
  gint leaky = node1 (g, "LeakyRelu", "leaky", m, -1, y);
  glia_graph_node_set_attr_float (g, leaky, "alpha", 0.2f);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 2, &on, 1e-5);
  g_assert_cmpuint (on.n_nodes, ==, 1);
  g_assert_true (has_op (&on, "com.glia:FusedGemm"));
  result_clear (&on);
}

static void
test_conv_activation (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 dx[4] = { 2, 3, 6, 6 }, dw[4] = { 4, 3, 3, 3 };
  gint x = add_input (g, "x", 4, dx);
  gint w = add_random_const (g, "w", 4, dw, 11);
  gint lo = add_scalar (g, "lo", 0.0f), hi = add_scalar (g, "hi", 0.25f);
  gint c = value (g, "c"), y = value (g, "y");
  node1 (g, "Conv", "conv", x, w, c);
  gint clip_in[3] = { c, lo, hi };
  glia_graph_add_node (g, "Clip", "", "clip", 3, clip_in, 1, &y);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 2, &on, 1e-5);
  g_assert_cmpuint (on.n_nodes, ==, 1);
  g_assert_true (has_op (&on, "com.glia:FusedConv"));
  result_clear (&on);
}

static void
test_conv_add_relu (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 dx[4] = { 1, 2, 6, 6 }, dw[4] = { 2, 2, 3, 3 }, db[1] = { 2 };
  gint x = add_input (g, "x", 4, dx);
  gint z = add_input (g, "z", 4, dx);
  gint w = add_random_const (g, "w", 4, dw, 12);
  gint b = add_random_const (g, "b", 1, db, 13);
  gint c = value (g, "c"), s = value (g, "s"), y = value (g, "y");
  gint ins[3] = { x, w, b };
  gint conv = glia_graph_add_node (g, "Conv", "", "conv", 3, ins, 1, &c);
  const gint64 pads[4] = { 1, 1, 1, 1 };
  glia_graph_node_set_attr_ints (g, conv, "pads", pads, 4);
  node1 (g, "Add", "add", z, c, s);
  node1 (g, "Relu", "relu", s, -1, y);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 2, &on, 1e-5);
  g_assert_cmpuint (on.n_nodes, ==, 1);
  g_assert_true (has_op (&on, "com.glia:FusedConv"));
  g_assert_nonnull (strstr (on.report, "Conv 'conv' + Add 'add' (residual)"));
  result_clear (&on);
}

static GliaTensor *
random_tensor (guint rank, const gint64 *dims, guint32 seed)
{
  gsize n = 1;
  for (guint i = 0; i < rank; i++)
    n *= dims[i];
  g_autofree float *data = random_floats (n, seed);
  return glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, dims, rank, (guint8 *)data,
                                    n * sizeof (float), NULL);
}

/* Runs @g at level 0 and @level on @inputs (dims the graph leaves unknown
 * are chosen by the caller); the outputs must agree. */
static void
check_pass_with (GliaGraph *g, guint level, GHashTable *inputs, Result *on, double tol)
{
  g_autoptr (GError) error = NULL;
  Result off = { 0 };
  g_assert_true (run_graph (g, 0, NULL, inputs, &off, &error));
  g_assert_no_error (error);
  g_assert_true (run_graph (g, level, NULL, inputs, on, &error));
  g_assert_no_error (error);
  g_test_message ("%s", on->report);
  assert_outputs_close (g, off.outputs, on->outputs, tol);
  result_clear (&off);
}

/* A residual whose dims are unknown may broadcast (batch 1 against batch 2):
 * it is fused only when it provably has the Conv output's shape, here when
 * both share the symbolic batch dim "N". */
static void
test_conv_add_unknown_batch (void)
{
  /* variant 0: z's batch is unnamed, so it may differ: no fusion; 1: every
   * value declares the batch "N"; 2: only the inputs name it, and the host's
   * inference carries "N" through Conv to the Add (Conv keeps the batch) */
  for (guint variant = 0; variant < 3; variant++) {
    g_autoptr (GliaGraph) g = new_graph (13);
    const gint64 dx[4] = { -1, 2, 6, 6 }, dw[4] = { 2, 2, 3, 3 };
    const char *const params[4] = { "N", NULL, NULL, NULL };
    gint x = glia_graph_add_value (g, "x", GLIA_DATA_TYPE_FLOAT, 4, dx, params);
    glia_graph_add_input (g, x);
    gint z
        = glia_graph_add_value (g, "z", GLIA_DATA_TYPE_FLOAT, 4, dx, variant == 0 ? NULL : params);
    glia_graph_add_input (g, z);
    gint w = add_random_const (g, "w", 4, dw, 12);
    gint c = variant == 2 ? glia_graph_add_value (g, "c", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL)
                          : glia_graph_add_value (g, "c", GLIA_DATA_TYPE_FLOAT, 4, dx,
                                                  variant == 0 ? NULL : params);
    gint y = variant == 2 ? glia_graph_add_value (g, "y", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL)
                          : glia_graph_add_value (g, "y", GLIA_DATA_TYPE_FLOAT, 4, dx,
                                                  variant == 0 ? NULL : params);
    gint ins[2] = { x, w };
    gint conv = glia_graph_add_node (g, "Conv", "", "conv", 2, ins, 1, &c);
    const gint64 pads[4] = { 1, 1, 1, 1 };
    glia_graph_node_set_attr_ints (g, conv, "pads", pads, 4);
    node1 (g, "Add", "add", c, z, y);
    glia_graph_add_output (g, y);
    const gint64 rx[4] = { 2, 2, 6, 6 }, rz[4] = { variant == 0 ? 1 : 2, 2, 6, 6 };
    g_autoptr (GHashTable) inputs
        = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
    g_hash_table_insert (inputs, "x", random_tensor (4, rx, 1));
    g_hash_table_insert (inputs, "z", random_tensor (4, rz, 2));
    Result on = { 0 };
    check_pass_with (g, 2, inputs, &on, 1e-5);
    g_assert_true (has_op (&on, "com.glia:FusedConv") == (variant != 0));
    result_clear (&on);
  }
}

/* ---- level 3 ------------------------------------------------------------------ */

/* One-element constants of more axes than x broadcast the result up a rank:
 * x [3, 4] / sqrt2 [1, 1, 1] is [1, 3, 4], which Gelu (x) would not be. */
static void
test_gelu_constant_rank (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 d[2] = { 3, 4 }, d1[3] = { 1, 1, 1 };
  gint x = add_input (g, "x", 2, d);
  const float root = (float)G_SQRT2;
  gint sqrt2 = add_const (g, "sqrt2", 3, d1, &root);
  gint one = add_scalar (g, "one", 1.0f), half = add_scalar (g, "half", 0.5f);
  gint q = value (g, "q"), e = value (g, "e"), a = value (g, "a"), m = value (g, "m");
  gint y = value (g, "y");
  node1 (g, "Div", "div", x, sqrt2, q);
  node1 (g, "Erf", "erf", q, -1, e);
  node1 (g, "Add", "add", e, one, a);
  node1 (g, "Mul", "m1", x, a, m);
  node1 (g, "Mul", "m2", m, half, y);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 3, &on, 1e-5);
  g_assert_false (has_op (&on, "com.glia:Gelu"));
  result_clear (&on);
}

static void
test_gelu (void)
{
  for (guint variant = 0; variant < 3; variant++) {
    g_autoptr (GliaGraph) g = new_graph (13);
    const gint64 d[2] = { 3, 4 };
    gint x = add_input (g, "x", 2, d);
    gint sqrt2 = add_scalar (g, "sqrt2", (float)G_SQRT2);
    gint one = add_scalar (g, "one", 1.0f), half = add_scalar (g, "half", 0.5f);
    gint q = value (g, "q"), e = value (g, "e"), a = value (g, "a"), m = value (g, "m");
    gint y = value (g, "y");
    node1 (g, "Div", "div", x, sqrt2, q);
    node1 (g, "Erf", "erf", q, -1, e);
    node1 (g, "Add", "add", e, one, a);
    if (variant == 0) { /* (x * (1 + erf)) * 0.5 */
      node1 (g, "Mul", "m1", x, a, m);
      node1 (g, "Mul", "m2", m, half, y);
    } else if (variant == 1) { /* (x * 0.5) * (1 + erf) */
      node1 (g, "Mul", "m1", x, half, m);
      node1 (g, "Mul", "m2", m, a, y);
    } else { /* ((1 + erf) * 0.5) * x */
      node1 (g, "Mul", "m1", a, half, m);
      node1 (g, "Mul", "m2", x, m, y);
    }
    glia_graph_add_output (g, y);
    Result on = { 0 };
    check_pass (g, 3, &on, 1e-5);
    g_assert_cmpuint (on.n_nodes, ==, 1);
    g_assert_true (has_op (&on, "com.glia:Gelu"));
    result_clear (&on);
  }
}

static void
test_layer_norm (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 d[3] = { 2, 3, 8 }, dc[1] = { 8 };
  gint x = add_input (g, "x", 3, d);
  gint scale = add_random_const (g, "scale", 1, dc, 20);
  gint bias = add_random_const (g, "bias", 1, dc, 21);
  gint two = add_scalar (g, "two", 2.0f), eps = add_scalar (g, "eps", 1e-5f);
  gint mu = value (g, "mu"), dd = value (g, "d"), sq = value (g, "sq"), var = value (g, "var");
  gint ve = value (g, "ve"), sd = value (g, "sd"), nrm = value (g, "n"), sc = value (g, "sc");
  gint y = value (g, "y");
  const gint64 axes[1] = { -1 };
  gint r1 = node1 (g, "ReduceMean", "mean", x, -1, mu);
  glia_graph_node_set_attr_ints (g, r1, "axes", axes, 1);
  node1 (g, "Sub", "sub", x, mu, dd);
  node1 (g, "Pow", "pow", dd, two, sq);
  gint r2 = node1 (g, "ReduceMean", "var", sq, -1, var);
  glia_graph_node_set_attr_ints (g, r2, "axes", axes, 1);
  node1 (g, "Add", "add_eps", var, eps, ve);
  node1 (g, "Sqrt", "sqrt", ve, -1, sd);
  node1 (g, "Div", "div", dd, sd, nrm);
  node1 (g, "Mul", "mul", nrm, scale, sc);
  node1 (g, "Add", "add_bias", sc, bias, y);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 3, &on, 1e-4);
  g_assert_cmpuint (on.n_nodes, ==, 1);
  g_assert_true (has_op (&on, "com.glia:LayerNormalization"));
  result_clear (&on);
}

static void
test_attention (void)
{
  for (guint variant = 0; variant < 2; variant++) {
    g_autoptr (GliaGraph) g = new_graph (13);
    const gint64 dq[3] = { 2, 4, 8 }, dk[3] = { 2, 6, 8 }, dkt[3] = { 2, 8, 6 };
    const gint64 dv[3] = { 2, 6, 5 }, dm[2] = { 4, 6 };
    gint q = add_input (g, "q", 3, dq);
    gint v = add_input (g, "v", 3, dv);
    gint s = value (g, "s"), ss = value (g, "ss"), p = value (g, "p"), y = value (g, "y");
    if (variant == 0) {
      /* softmax (q / sqrt (8) . transpose (k) + mask) v */
      gint k = add_input (g, "k", 3, dk);
      gint mask = add_input (g, "mask", 2, dm);
      gint kt = value (g, "kt"), qs = value (g, "qs"), sm = value (g, "sm");
      gint tr = node1 (g, "Transpose", "tr", k, -1, kt);
      const gint64 perm[3] = { 0, 2, 1 };
      glia_graph_node_set_attr_ints (g, tr, "perm", perm, 3);
      node1 (g, "Div", "scale", q, add_scalar (g, "root", sqrtf (8)), qs);
      node1 (g, "MatMul", "qk", qs, kt, s);
      node1 (g, "Add", "mask", s, mask, sm);
      gint soft = node1 (g, "Softmax", "softmax", sm, -1, p);
      glia_graph_node_set_attr_int (g, soft, "axis", -1);
    } else {
      /* softmax ((q . kt) * 0.3) v with kt given as it is */
      gint kt = add_input (g, "kt", 3, dkt);
      node1 (g, "MatMul", "qk", q, kt, s);
      node1 (g, "Mul", "scale", s, add_scalar (g, "c", 0.3f), ss);
      node1 (g, "Softmax", "softmax", ss, -1, p);
    }
    node1 (g, "MatMul", "pv", p, v, y);
    glia_graph_add_output (g, y);
    Result on = { 0 };
    check_pass (g, 3, &on, 1e-5);
    g_assert_true (has_op (&on, "com.glia:Attention"));
    /* variant 1 keeps one Transpose, made to turn Kt into K */
    g_assert_cmpuint (on.n_nodes, ==, variant == 0 ? 1 : 2);
    result_clear (&on);
  }
}

/* attention-layout: Transposes that keep the last axis, around an
 * Attention, become its q_perm, k_perm, v_perm and out_perm (PyTorch's
 * multi-head attention export: [S, B*H, D] -> [B*H, S, D] and back), at
 * rank 3 and 4; a Transpose whose result another node reads too stays, as
 * does one that moves the last axis. Outputs equal with the passes off. */
static void
test_attention_layout (void)
{
  for (guint variant = 0; variant < 3; variant++) {
    g_autoptr (GliaGraph) g = new_graph (13);
    gboolean r4 = variant == 1;
    const gint64 d3[3] = { 6, 4, 8 }, dv3[3] = { 6, 4, 5 };
    const gint64 d4[4] = { 2, 6, 3, 8 }, dv4[4] = { 2, 6, 3, 5 };
    const gint64 p3[3] = { 1, 0, 2 }, p4[4] = { 0, 2, 1, 3 };
    guint rank = r4 ? 4 : 3;
    const gint64 *perm = r4 ? p4 : p3;
    gint q0 = add_input (g, "q0", rank, r4 ? d4 : d3);
    gint k0 = add_input (g, "k0", rank, r4 ? d4 : d3);
    gint v0 = add_input (g, "v0", rank, r4 ? dv4 : dv3);
    gint q = value (g, "q"), k = value (g, "k"), v = value (g, "v"), kt = value (g, "kt");
    gint s = value (g, "s"), sc = value (g, "sc"), p = value (g, "p"), y = value (g, "y");
    gint out = value (g, "out");
    glia_graph_node_set_attr_ints (g, node1 (g, "Transpose", "tq", q0, -1, q), "perm", perm, rank);
    glia_graph_node_set_attr_ints (g, node1 (g, "Transpose", "tk", k0, -1, k), "perm", perm, rank);
    glia_graph_node_set_attr_ints (g, node1 (g, "Transpose", "tv", v0, -1, v), "perm", perm, rank);
    gint64 kperm[4];
    for (guint i = 0; i < rank; i++)
      kperm[i] = i;
    kperm[rank - 2] = rank - 1;
    kperm[rank - 1] = rank - 2;
    glia_graph_node_set_attr_ints (g, node1 (g, "Transpose", "tkt", k, -1, kt), "perm", kperm,
                                   rank);
    node1 (g, "MatMul", "qk", q, kt, s);
    node1 (g, "Mul", "scale", s, add_scalar (g, "c", 0.35f), sc);
    gint soft = node1 (g, "Softmax", "softmax", sc, -1, p);
    glia_graph_node_set_attr_int (g, soft, "axis", -1);
    node1 (g, "MatMul", "pv", p, v, y);
    glia_graph_node_set_attr_ints (g, node1 (g, "Transpose", "ty", y, -1, out), "perm", perm, rank);
    glia_graph_add_output (g, out);
    if (variant == 2) {
      /* V's Transpose also read elsewhere */
      gint w = value (g, "w");
      node1 (g, "Relu", "relu", v, -1, w);
      glia_graph_add_output (g, w);
    }
    Result on = { 0 };
    check_pass (g, 3, &on, 1e-5);
    g_assert_true (has_op (&on, "com.glia:Attention"));
    /* everything but the Attention (and, in variant 2, V's Transpose and
     * the Relu) is gone */
    g_assert_cmpuint (on.n_nodes, ==, variant == 2 ? 3 : 1);
    result_clear (&on);
  }
}

/* A mask of more axes than the scores broadcasts them up: the Attention
 * kernel only broadcasts the mask, so the pattern stays unfused. */
static void
test_attention_mask_broadcast (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 dq[3] = { 2, 4, 8 }, dkt[3] = { 2, 8, 6 }, dv[3] = { 2, 6, 5 };
  const gint64 dm[4] = { 3, 1, 4, 6 };
  gint q = add_input (g, "q", 3, dq);
  gint kt = add_input (g, "kt", 3, dkt);
  gint v = add_input (g, "v", 3, dv);
  gint mask = add_input (g, "mask", 4, dm);
  gint s = value (g, "s"), sm = value (g, "sm"), p = value (g, "p"), y = value (g, "y");
  node1 (g, "MatMul", "qk", q, kt, s);
  node1 (g, "Add", "mask", s, mask, sm);
  gint soft = node1 (g, "Softmax", "softmax", sm, -1, p);
  glia_graph_node_set_attr_int (g, soft, "axis", -1);
  node1 (g, "MatMul", "pv", p, v, y);
  glia_graph_add_output (g, y);
  Result on = { 0 };
  check_pass (g, 3, &on, 1e-5);
  g_assert_false (has_op (&on, "com.glia:Attention"));
  result_clear (&on);
}

/* ---- safety -------------------------------------------------------------------- */

/* An Identity whose output a subgraph reads by name stays. */
static void
test_subgraph_reads (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 d[1] = { 4 };
  gint x = add_input (g, "x", 1, d);
  gint cond = glia_graph_add_value (g, "cond", GLIA_DATA_TYPE_BOOL, 0, NULL, NULL);
  glia_graph_add_input (g, cond);
  gint a = value (g, "a"), y = value (g, "y");
  node1 (g, "Identity", "id", x, -1, a);
  g_autoptr (GliaGraph) then_g = new_graph (13);
  gint ta = value (then_g, "a"), to = value (then_g, "then_out");
  node1 (then_g, "Relu", "then_relu", ta, -1, to);
  glia_graph_add_output (then_g, to);
  g_autoptr (GliaGraph) else_g = new_graph (13);
  gint ea = value (else_g, "a"), eo = value (else_g, "else_out");
  node1 (else_g, "Neg", "else_neg", ea, -1, eo);
  glia_graph_add_output (else_g, eo);
  gint node = glia_graph_add_node (g, "If", "", "if", 1, &cond, 1, &y);
  glia_graph_node_set_attr_graph (g, node, "then_branch", then_g);
  glia_graph_node_set_attr_graph (g, node, "else_branch", else_g);
  glia_graph_add_output (g, y);

  guint n;
  gboolean by_sub;
  g_autofree gint *readers = glia_graph_value_get_consumers (g, a, &n, &by_sub);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpint (readers[0], ==, node);
  g_assert_true (by_sub);

  Result on = { 0 };
  check_pass (g, 3, &on, 0);
  g_assert_true (has_op (&on, "Identity"));
  result_clear (&on);
}

/* The graph editing API: ids stay consistent after removals. */
static void
test_graph_editing (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 d[1] = { 4 };
  gint x = add_input (g, "x", 1, d);
  gint a = value (g, "a"), b = value (g, "b"), c = value (g, "c");
  gint n0 = node1 (g, "Relu", "n0", x, -1, a);
  gint n1 = node1 (g, "Neg", "n1", a, -1, b);
  gint n2 = node1 (g, "Abs", "n2", b, -1, c);
  glia_graph_add_output (g, c);
  g_assert_cmpint (glia_graph_value_get_producer (g, c), ==, n2);

  g_assert_cmpuint (glia_graph_replace_uses (g, b, a), ==, 1);
  glia_graph_remove_nodes (g, &n1, 1);
  g_assert_cmpuint (glia_graph_get_n_nodes (g), ==, 2);
  g_assert_cmpint (glia_graph_value_get_producer (g, c), ==, 1);
  g_assert_cmpint (glia_graph_value_get_producer (g, b), ==, -1);
  g_assert_cmpstr (glia_graph_node_get_op_type (g, 1), ==, "Abs");
  g_assert_cmpint (glia_graph_node_get_input (g, 1, 0), ==, a);

  guint n;
  g_autofree gint *readers = glia_graph_value_get_consumers (g, a, &n, NULL);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpint (readers[0], ==, 1);
  g_assert_true (glia_graph_value_is_output (g, c));
  g_assert_true (glia_graph_value_is_input (g, x));

  glia_graph_node_set_op_type (g, n0, "Fancy", "com.example");
  g_assert_cmpstr (glia_graph_node_get_domain (g, n0), ==, "com.example");
  glia_graph_node_set_attr_int (g, n0, "k", 3);
  g_assert_true (glia_graph_node_remove_attr (g, n0, "k"));
  g_assert_false (glia_graph_node_has_attr (g, n0, "k"));
  g_assert_false (glia_graph_node_remove_attr (g, n0, "k"));

  /* output moves: n0 now produces c, Abs none */
  glia_graph_node_set_output (g, n0, 0, c);
  g_assert_cmpint (glia_graph_value_get_producer (g, c), ==, n0);
  g_assert_cmpint (glia_graph_node_get_output (g, 1, 0), ==, -1);

  g_autofree char *name = glia_graph_make_unique_name (g, "a");
  g_assert_cmpstr (name, ==, "a_1");
  g_autofree char *fresh = glia_graph_make_unique_name (g, "fresh");
  g_assert_cmpstr (fresh, ==, "fresh");
}

/* A session whose only provider runs no com.glia op: nothing fused into
 * one, and a plugin's pass sees that through glia_pass_context_has_op(). */
static void
test_custom_provider_only (void)
{
  g_autoptr (GliaGraph) g = new_graph (13);
  const gint64 d[1] = { 5 };
  gint x = add_input (g, "x", 1, d);
  gint a = value (g, "a"), n1 = value (g, "n1"), n2 = value (g, "n2"), b = value (g, "b");
  gint y = value (g, "y");
  node1 (g, "Identity", "id", x, -1, a);
  node1 (g, "Neg", "neg1", a, -1, n1);
  node1 (g, "Neg", "neg2", n1, -1, n2);
  node1 (g, "Relu", "relu", n2, -1, b);
  node1 (g, "Add", "add", b, x, y);
  glia_graph_add_output (g, y);
  g_autoptr (GHashTable) inputs = make_inputs (g);
  g_autoptr (GError) error = NULL;

  /* testb runs Add, Sub and Relu only: without the passes, Neg is missing */
  const char *const testb[] = { "testb", NULL };
  Result off = { 0 }, on = { 0 };
  g_assert_false (run_graph (g, 0, testb, inputs, &off, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_UNSUPPORTED_OP);
  g_clear_error (&error);
  result_clear (&off);
  g_assert_true (run_graph (g, 3, testb, inputs, &on, &error));
  g_assert_no_error (error);
  g_test_message ("%s", on.report);
  g_assert_cmpuint (on.n_nodes, ==, 2);
  g_assert_nonnull (strstr (on.report, "FusedConv missing"));
  g_assert_nonnull (strstr (on.report, "removed a Neg pair"));

  g_assert_true (run_graph (g, 1, NULL, inputs, &off, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (off.report, "FusedConv available"));
  assert_outputs_close (g, off.outputs, on.outputs, 0);
  result_clear (&off);
  result_clear (&on);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  registry = glia_registry_new ();
  glia_registry_add_search_path (registry, g_getenv ("GLIA_TEST_PLUGIN_DIR"));
  glia_registry_add_search_path (registry, g_getenv ("GLIA_TEST_PASS_PLUGIN_DIR"));
  g_autofree char *plugins = g_build_filename (g_getenv ("GLIA_BUILD_ROOT"), "plugins", NULL);
  glia_registry_add_search_path (registry, plugins);
  g_assert_true (glia_registry_scan (registry, NULL));

  g_test_add_func ("/optimizer/graph-editing", test_graph_editing);
  g_test_add_func ("/optimizer/eliminate-identity", test_identity_dropout);
  g_test_add_func ("/optimizer/fold-constants", test_constant_folding);
  g_test_add_func ("/optimizer/eliminate-dead-nodes", test_dead_nodes);
  g_test_add_func ("/optimizer/fuse-conv-batchnorm", test_conv_batchnorm);
  g_test_add_func ("/optimizer/fuse-matmul-add", test_matmul_add_gemm);
  g_test_add_func ("/optimizer/fuse-matmul-bias", test_matmul_bias);
  g_test_add_func ("/optimizer/fuse-matmul-bias/gemm", test_matmul_bias_gemm);
  g_test_add_func ("/optimizer/split-matmul-slices", test_split_matmul_slices);
  g_test_add_func ("/optimizer/fold-embedding-matmul", test_fold_embedding_matmul);
  g_test_add_func ("/optimizer/fuse-activation/gemm", test_gemm_activation);
  g_test_add_func ("/optimizer/fuse-activation/conv", test_conv_activation);
  g_test_add_func ("/optimizer/fuse-conv-add", test_conv_add_relu);
  g_test_add_func ("/optimizer/fuse-conv-add/unknown-batch", test_conv_add_unknown_batch);
  g_test_add_func ("/optimizer/fuse-gelu", test_gelu);
  g_test_add_func ("/optimizer/fuse-gelu/constant-rank", test_gelu_constant_rank);
  g_test_add_func ("/optimizer/fuse-layer-norm", test_layer_norm);
  g_test_add_func ("/optimizer/fuse-attention", test_attention);
  g_test_add_func ("/optimizer/fuse-attention/mask-broadcast", test_attention_mask_broadcast);
  g_test_add_func ("/optimizer/attention-layout", test_attention_layout);
  g_test_add_func ("/optimizer/subgraph-reads", test_subgraph_reads);
  g_test_add_func ("/optimizer/custom-provider-only", test_custom_provider_only);
  int ret = g_test_run ();
  g_object_unref (registry);
  return ret;
}
