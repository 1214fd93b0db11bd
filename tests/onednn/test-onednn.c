/* test-onednn.c: the oneDNN provider against the CPU provider.
 *
 * Each case builds a small graph, runs it in a session with providers
 * "onednn,cpu" and in one with "cpu" only, checks that the nodes meant for
 * oneDNN were claimed by it, and compares the outputs (relative error
 * 1e-4). Covers conv with each post-op, conv variants (strides, dilations,
 * groups, auto_pad), a conv chain kept in oneDNN's blocked layout, residual
 * Add (accumulated in place when the residual is dead, copied when not),
 * Gemm, MatMul and FusedMatMul, pooling, BatchNormalization, LRN, Softmax,
 * Concat and Sum, binary ops with broadcasting, swish fusion and a
 * squeeze-and-excitation block, and a second input shape through the same
 * session. Skips when the plugin is not built.
 */
#include <glia.h>
#include <glia-plugin.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static GliaRegistry *registry;
/* the sessions' thread count (some paths differ at one thread) */
static guint n_threads = 2;

typedef struct
{
  GliaGraph *graph;
  GHashTable *feeds;
  guint32 seed;
} Case;

static float *
rnd (gsize n, guint32 *seed)
{
  float *v = g_new (float, n);
  for (gsize i = 0; i < n; i++) {
    *seed = *seed * 1664525u + 1013904223u;
    v[i] = ((*seed >> 8) / (float)(1 << 24)) * 2.0f - 1.0f;
  }
  return v;
}

static gsize
numel (guint rank, const gint64 *dims)
{
  gsize n = 1;
  for (guint i = 0; i < rank; i++)
    n *= dims[i];
  return n;
}

static void
case_init (Case *c)
{
  c->graph = glia_graph_new ();
  glia_graph_set_opset (c->graph, "", 17);
  c->feeds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  c->seed = 12345;
}

static void
case_clear (Case *c)
{
  glia_graph_unref (c->graph);
  g_hash_table_unref (c->feeds);
}

static gint
input (Case *c, const char *name, guint rank, const gint64 *dims)
{
  gint v = glia_graph_add_value (c->graph, name, GLIA_DATA_TYPE_FLOAT, rank, dims, NULL);
  glia_graph_add_input (c->graph, v);
  gsize n = numel (rank, dims);
  g_autofree float *data = rnd (n, &c->seed);
  g_autoptr (GError) error = NULL;
  GliaTensor *t = glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, dims, rank, (const guint8 *)data,
                                             n * sizeof (float), &error);
  g_assert_no_error (error);
  g_hash_table_insert (c->feeds, g_strdup (name), t);
  return v;
}

static gint
constant (Case *c, const char *name, guint rank, const gint64 *dims, float scale, float offset)
{
  gint v = glia_graph_add_value (c->graph, name, GLIA_DATA_TYPE_FLOAT, rank, dims, NULL);
  gsize n = numel (rank, dims);
  float *data = rnd (n, &c->seed);
  for (gsize i = 0; i < n; i++)
    data[i] = data[i] * scale + offset;
  g_autoptr (GBytes) bytes = g_bytes_new_take (data, n * sizeof (float));
  g_autoptr (GError) error = NULL;
  g_assert_true (
      glia_graph_value_set_constant (c->graph, v, GLIA_DATA_TYPE_FLOAT, rank, dims, bytes, &error));
  return v;
}

static gint
value (Case *c, const char *name)
{
  return glia_graph_add_value (c->graph, name, GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
}

/* Adds a node with one fresh output; @onednn: it must run on oneDNN. */
static gint
node (Case *c, const char *op, guint n_in, const gint *in, gboolean onednn, gint *node_out)
{
  g_autofree char *name = g_strdup_printf ("%s_%u", op, glia_graph_get_n_nodes (c->graph));
  g_autofree char *vname = g_strconcat (name, "_out", NULL);
  gint y = value (c, vname);
  gint n = glia_graph_add_node (c->graph, op, "", name, n_in, in, 1, &y);
  if (node_out)
    *node_out = n;
  return y;
}

static gint last_node;

static gint
conv (Case *c, gint x, gint64 cin, gint64 cout, gint64 k, gint64 group, gboolean bias)
{
  g_autofree char *wn = g_strdup_printf ("w%u", glia_graph_get_n_values (c->graph));
  g_autofree char *bn = g_strdup_printf ("b%u", glia_graph_get_n_values (c->graph));
  gint w = constant (c, wn, 4, (const gint64[]){ cout, cin / group, k, k }, 0.3f, 0);
  gint b = bias ? constant (c, bn, 1, (const gint64[]){ cout }, 0.5f, 0) : -1;
  gint y = node (c, "Conv", bias ? 3 : 2, (const gint[]){ x, w, b }, TRUE, &last_node);
  glia_graph_node_set_attr_int (c->graph, last_node, "group", group);
  return y;
}

static gboolean
have_onednn (void)
{
  g_auto (GStrv) names = glia_registry_get_provider_names (registry);
  return g_strv_contains ((const char *const *)names, "onednn");
}

/* ep.onednn.conv-cache for the next sessions (NULL: the test environment's,
 * none) */
static const char *conv_cache;
/* ep.onednn.direct-conv for the next sessions (NULL: the default) */
static const char *direct_conv;
/* ep.onednn.depthwise for the next sessions (NULL: the default) */
static const char *depthwise;
/* ep.onednn.block-fusion for the next sessions (NULL: the default) */
static const char *block_fusion;
/* ep.onednn.conv-tuning for the next sessions (NULL: the default) */
static const char *conv_tuning;

/* @conv_algo: ep.onednn.conv-algorithm, or NULL */
static GHashTable *
run_with (Case *c, const char *const *providers, const char *conv_algo, guint *n_onednn,
          guint *n_nodes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaModel) model = glia_model_new_from_graph (c->graph, &error);
  g_assert_no_error (error);
  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, providers);
  glia_session_options_set_threads (opts, n_threads);
  if (conv_algo) {
    glia_session_options_set_option (opts, "ep.onednn.conv-algorithm", conv_algo, &error);
    g_assert_no_error (error);
  }
  if (block_fusion && g_strv_contains (providers, "onednn")) {
    glia_session_options_set_option (opts, "ep.onednn.block-fusion", block_fusion, &error);
    g_assert_no_error (error);
  }
  if (direct_conv && g_strv_contains (providers, "onednn")) {
    glia_session_options_set_option (opts, "ep.onednn.direct-conv", direct_conv, &error);
    g_assert_no_error (error);
  }
  if (depthwise && g_strv_contains (providers, "onednn")) {
    glia_session_options_set_option (opts, "ep.onednn.depthwise", depthwise, &error);
    g_assert_no_error (error);
  }
  if (conv_tuning && g_strv_contains (providers, "onednn")) {
    glia_session_options_set_option (opts, "ep.onednn.conv-tuning", conv_tuning, &error);
    g_assert_no_error (error);
  }
  if (conv_cache && g_strv_contains (providers, "onednn")) {
    glia_session_options_set_option (opts, "ep.onednn.conv-cache", conv_cache, &error);
    g_assert_no_error (error);
  }
  g_autoptr (GliaSession) s = glia_session_new_full (model, opts, registry, &error);
  g_assert_no_error (error);
  if (n_onednn) {
    *n_onednn = 0;
    *n_nodes = glia_session_get_n_nodes (s);
    for (guint i = 0; i < glia_session_get_n_nodes (s); i++)
      if (g_strcmp0 (glia_session_get_node_provider (s, i), "onednn") == 0)
        (*n_onednn)++;
      else
        g_test_message ("node %u %s (%s) runs on %s", i, glia_session_get_node_name (s, i),
                        glia_session_get_node_op_type (s, i),
                        glia_session_get_node_provider (s, i));
  }
  GHashTable *out = glia_session_run (s, c->feeds, &error);
  g_assert_no_error (error);
  /* again: the cached plan, whose buffers hold the first run's data (and
   * share memory between activations): the same outputs, bit for bit */
  g_autoptr (GHashTable) again = glia_session_run (s, c->feeds, &error);
  g_assert_no_error (error);
  GHashTableIter it;
  gpointer name, first;
  g_hash_table_iter_init (&it, out);
  while (g_hash_table_iter_next (&it, &name, &first)) {
    GliaTensor *second = g_hash_table_lookup (again, name);
    if (first == NULL || second == NULL) {
      g_assert_true (first == second);
      continue;
    }
    g_autoptr (GBytes) d1 = glia_tensor_get_data (first);
    g_autoptr (GBytes) d2 = glia_tensor_get_data (second);
    g_assert_true (g_bytes_equal (d1, d2));
  }
  return out;
}

/* oneDNN's avx512_core (F, BW, VL, DQ): where it has Winograd kernels */
static gboolean
have_avx512_core (void)
{
  return __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
         && __builtin_cpu_supports ("avx512vl") && __builtin_cpu_supports ("avx512dq");
}

static GHashTable *
run (Case *c, const char *const *providers, guint *n_onednn, guint *n_nodes)
{
  return run_with (c, providers, NULL, n_onednn, n_nodes);
}

/* A session of @c's graph with ep.onednn.@key = @value is refused, the
 * error naming the option and the value. */
static void
assert_option_refused (Case *c, const char *key, const char *value)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaModel) model = glia_model_new_from_graph (c->graph, &error);
  g_assert_no_error (error);
  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, (const char *[]){ "onednn", "cpu", NULL });
  g_autofree char *name = g_strconcat ("ep.onednn.", key, NULL);
  glia_session_options_set_option (opts, name, value, &error);
  g_assert_no_error (error);
  g_autoptr (GliaSession) s = glia_session_new_full (model, opts, registry, &error);
  g_assert_null (s);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, key));
  g_assert_nonnull (strstr (error->message, value));
}

static void
compare (GliaTensor *a, GliaTensor *b, const char *name)
{
  guint ra = 0, rb = 0;
  const gint64 *da = glia_tensor_get_shape (a, &ra), *db = glia_tensor_get_shape (b, &rb);
  g_assert_cmpuint (ra, ==, rb);
  for (guint i = 0; i < ra; i++)
    g_assert_cmpint (da[i], ==, db[i]);
  g_autoptr (GBytes) ba = glia_tensor_get_data (a), bb = glia_tensor_get_data (b);
  gsize na = 0, nb = 0;
  const float *pa = g_bytes_get_data (ba, &na);
  const float *pb = g_bytes_get_data (bb, &nb);
  g_assert_cmpuint (na, ==, nb);
  double scale = 1e-3, err = 0;
  for (gsize i = 0; i < na / sizeof (float); i++)
    scale = MAX (scale, fabs (pb[i]));
  for (gsize i = 0; i < na / sizeof (float); i++)
    err = MAX (err, fabs (pa[i] - pb[i]) / scale);
  if (err > 1e-4)
    g_error ("%s: max relative error %g", name, err);
}

/* Runs @c both ways, compares every graph output, and checks that oneDNN
 * ran at least the nodes marked for it. */
static void
check_case (Case *c)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  guint n_onednn = 0, n_nodes = 0;
  g_autoptr (GHashTable) ours
      = run (c, (const char *[]){ "onednn", "cpu", NULL }, &n_onednn, &n_nodes);
  g_autoptr (GHashTable) ref = run (c, (const char *[]){ "cpu", NULL }, NULL, NULL);
  /* every node of these graphs is meant for oneDNN (after any fusion the
   * optimizer did) */
  g_assert_cmpuint (n_onednn, ==, n_nodes);
  for (guint i = 0; i < glia_graph_get_n_outputs (c->graph); i++) {
    const char *name = glia_graph_value_get_name (c->graph, glia_graph_get_output (c->graph, i));
    GliaTensor *a = g_hash_table_lookup (ours, name), *b = g_hash_table_lookup (ref, name);
    g_assert_nonnull (a);
    g_assert_nonnull (b);
    compare (a, b, name);
  }
}

static void
output (Case *c, gint v)
{
  glia_graph_add_output (c->graph, v);
}

/* ---- cases --------------------------------------------------------------- */

static void
test_conv_post_ops (void)
{
  const char *acts[] = { NULL, "Relu", "LeakyRelu", "Clip", "HardSwish", "Sigmoid", "Tanh", "Elu" };
  for (guint a = 0; a < G_N_ELEMENTS (acts); a++) {
    Case c;
    case_init (&c);
    gint x = input (&c, "x", 4, (const gint64[]){ 2, 8, 9, 9 });
    gint y = conv (&c, x, 8, 16, 3, 1, TRUE);
    glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
    if (acts[a] && g_str_equal (acts[a], "Clip")) {
      gint lo = constant (&c, "lo", 0, NULL, 0, -0.5f), hi = constant (&c, "hi", 0, NULL, 0, 0.7f);
      y = node (&c, "Clip", 3, (const gint[]){ y, lo, hi }, TRUE, NULL);
    } else if (acts[a]) {
      gint n;
      y = node (&c, acts[a], 1, &y, TRUE, &n);
      if (g_str_equal (acts[a], "LeakyRelu"))
        glia_graph_node_set_attr_float (c.graph, n, "alpha", 0.2f);
    }
    output (&c, y);
    check_case (&c);
    case_clear (&c);
  }
}

static void
test_conv_variants (void)
{
  for (guint v = 0; v < 6; v++) {
    Case c;
    case_init (&c);
    gint x = input (&c, "x", 4, (const gint64[]){ 1, 8, 11, 10 });
    gint y;
    switch (v) {
    case 0: /* strided, asymmetric pads */
      y = conv (&c, x, 8, 12, 3, 1, TRUE);
      glia_graph_node_set_attr_ints (c.graph, last_node, "strides", (const gint64[]){ 2, 2 }, 2);
      glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 0, 1, 2, 1 }, 4);
      break;
    case 1: /* dilated */
      y = conv (&c, x, 8, 12, 3, 1, FALSE);
      glia_graph_node_set_attr_ints (c.graph, last_node, "dilations", (const gint64[]){ 2, 2 }, 2);
      break;
    case 2: /* grouped */
      y = conv (&c, x, 8, 12, 3, 2, TRUE);
      break;
    case 3: /* depthwise, SAME_UPPER with stride 2 */
      y = conv (&c, x, 8, 8, 3, 8, TRUE);
      glia_graph_node_set_attr_string (c.graph, last_node, "auto_pad", "SAME_UPPER", 10);
      glia_graph_node_set_attr_ints (c.graph, last_node, "strides", (const gint64[]){ 2, 2 }, 2);
      break;
    case 4: /* 1x1 */
      y = conv (&c, x, 8, 32, 1, 1, TRUE);
      break;
    default: /* SAME_LOWER */
      y = conv (&c, x, 8, 4, 2, 1, TRUE);
      glia_graph_node_set_attr_string (c.graph, last_node, "auto_pad", "SAME_LOWER", 10);
      break;
    }
    output (&c, y);
    check_case (&c);
    case_clear (&c);
  }
}

/* conv -> relu -> conv -> relu -> conv with a residual Add and a pooled
 * side output: one region, blocked layouts inside */
static void
test_conv_chain_residual (void)
{
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 2, 16, 14, 14 });
  gint a = conv (&c, x, 16, 32, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  a = node (&c, "Relu", 1, &a, TRUE, NULL);
  gint b = conv (&c, a, 32, 32, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  b = node (&c, "Relu", 1, &b, TRUE, NULL);
  gint d = conv (&c, b, 32, 32, 3, 1, FALSE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  gint s = node (&c, "Add", 2, (const gint[]){ d, a }, TRUE, NULL);
  s = node (&c, "Relu", 1, &s, TRUE, NULL);
  gint p = node (&c, "GlobalAveragePool", 1, &s, TRUE, NULL);
  output (&c, s);
  output (&c, p);
  /* the residual is the conv's own input (must not be overwritten while
   * read), and a residual read again afterwards */
  gint e = conv (&c, s, 32, 32, 1, 1, TRUE);
  e = node (&c, "Add", 2, (const gint[]){ e, s }, TRUE, NULL);
  gint f = conv (&c, e, 32, 32, 1, 1, FALSE);
  f = node (&c, "Add", 2, (const gint[]){ e, f }, TRUE, NULL);
  output (&c, node (&c, "Mul", 2, (const gint[]){ f, e }, TRUE, NULL));
  check_case (&c);
  case_clear (&c);
}

/* A strided convolution: stride 2, square kernel @k, padding @pad. */
static gint
conv_s2 (Case *c, gint x, gint64 cin, gint64 cout, gint64 k, gint64 pad)
{
  gint y = conv (c, x, cin, cout, k, 1, TRUE);
  glia_graph_node_set_attr_ints (c->graph, last_node, "strides", (const gint64[]){ 2, 2 }, 2);
  glia_graph_node_set_attr_ints (c->graph, last_node, "pads",
                                 (const gint64[]){ pad, pad, pad, pad }, 4);
  return y;
}

/* The region's own direct convolution (ep.onednn.direct-conv=glia):
 * strided 3x3 with and without padding (a 15-wide map: a full tile and a
 * partial one; 8-wide: one partial; 7x7: two-row tiles and an odd last
 * row), 3x3 stride 1, 1x1 strided, batch 2, ReLU, Clip, swish (split from the
 * convolution at one thread) and none, a plain 3-channel input (7x7 padded,
 * 3x3 not), at one and two threads: the same as the CPU provider, and
 * not bit for bit oneDNN's (direct-conv=onednn), which shows it ran. A bad value is refused. */
static void
test_direct_conv (void)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 2, 32, 29, 29 });
  gint a = conv_s2 (&c, x, 32, 64, 3, 1); /* 15x15 */
  a = node (&c, "Relu", 1, &a, TRUE, NULL);
  gint b = conv_s2 (&c, a, 64, 64, 3, 1); /* 8x8 */
  b = conv (&c, b, 64, 64, 3, 1, TRUE);   /* stride 1 */
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  gint lo = constant (&c, "lo", 0, NULL, 0, -0.5f), hi = constant (&c, "hi", 0, NULL, 0, 0.7f);
  b = node (&c, "Clip", 3, (const gint[]){ b, lo, hi }, TRUE, NULL);
  gint d = conv_s2 (&c, b, 64, 96, 1, 0); /* 4x4 */
  d = conv (&c, d, 96, 32, 1, 1, TRUE);   /* stride 1: oneDNN's */
  output (&c, node (&c, "Relu", 1, &d, TRUE, NULL));
  gint e = conv_s2 (&c, x, 32, 32, 3, 0);             /* 14x14, no padding */
  e = conv_s2 (&c, e, 32, 64, 3, 1);                  /* 7x7 */
  gint sig = node (&c, "Sigmoid", 1, &e, TRUE, NULL); /* a swish */
  output (&c, node (&c, "Mul", 2, (const gint[]){ e, sig }, TRUE, NULL));
  /* a plain input of three channels, as a network's first convolutions
   * (ResNet's 7x7, SqueezeNet's unpadded 3x3) read it */
  gint im = input (&c, "im", 4, (const gint64[]){ 2, 3, 37, 37 });
  gint f = conv_s2 (&c, im, 3, 64, 7, 3); /* 19x19 */
  output (&c, node (&c, "Relu", 1, &f, TRUE, NULL));
  output (&c, conv_s2 (&c, im, 3, 32, 3, 0)); /* 18x18 */
  const char *cpu[] = { "cpu", NULL }, *both[] = { "onednn", "cpu", NULL };
  g_autoptr (GHashTable) ref = run (&c, cpu, NULL, NULL);
  for (guint t = 1; t <= 2; t++) {
    n_threads = t;
    GHashTable *outs[2];
    const char *impls[] = { "glia", "onednn" };
    for (guint i = 0; i < 2; i++) {
      guint n_onednn = 0, n_nodes = 0;
      direct_conv = impls[i];
      outs[i] = run_with (&c, both, "direct", &n_onednn, &n_nodes); /* no Winograd */
      g_assert_cmpuint (n_onednn, ==, n_nodes);
      for (guint o = 0; o < glia_graph_get_n_outputs (c.graph); o++) {
        const char *name = glia_graph_value_get_name (c.graph, glia_graph_get_output (c.graph, o));
        compare (g_hash_table_lookup (outs[i], name), g_hash_table_lookup (ref, name), name);
      }
    }
    if (have_avx512_core ())
      for (guint o = 0; o < glia_graph_get_n_outputs (c.graph); o++) {
        const char *name = glia_graph_value_get_name (c.graph, glia_graph_get_output (c.graph, o));
        g_autoptr (GBytes) mine = glia_tensor_get_data (g_hash_table_lookup (outs[0], name));
        g_autoptr (GBytes) theirs = glia_tensor_get_data (g_hash_table_lookup (outs[1], name));
        g_assert_false (g_bytes_equal (mine, theirs));
      }
    g_hash_table_unref (outs[0]);
    g_hash_table_unref (outs[1]);
  }
  direct_conv = NULL;
  n_threads = 2;
  assert_option_refused (&c, "direct-conv", "fastest");
  case_clear (&c);
}

/* Activations inside a region share memory where their uses do not
 * overlap: a value read again after a chain of same-sized convolutions
 * (whose buffers could take its place) and a concat written in place, both
 * read again at the end, must keep their data. Regions share at one thread
 * only; at two the same graph runs without. */
static void
test_shared_buffers (void)
{
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 1, 16, 12, 12 });
  gint a = conv (&c, x, 16, 32, 1, 1, TRUE);
  a = node (&c, "Relu", 1, &a, TRUE, NULL);
  gint t = a;
  for (int i = 0; i < 4; i++) {
    t = conv (&c, t, 32, 32, 3, 1, TRUE);
    glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
    t = node (&c, "Relu", 1, &t, TRUE, NULL);
  }
  gint s = node (&c, "Add", 2, (const gint[]){ t, a }, TRUE, NULL); /* a read again */
  gint p = conv (&c, s, 32, 16, 1, 1, TRUE);
  gint q = conv (&c, s, 32, 16, 1, 1, TRUE);
  gint cn;
  gint cat = node (&c, "Concat", 2, (const gint[]){ p, q }, TRUE, &cn);
  glia_graph_node_set_attr_int (c.graph, cn, "axis", 1);
  gint u = cat;
  for (int i = 0; i < 3; i++) {
    u = conv (&c, u, 32, 32, 3, 1, TRUE);
    glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  }
  gint v = node (&c, "Add", 2, (const gint[]){ u, cat }, TRUE, NULL); /* the concat read again */
  gint m = node (&c, "Mul", 2, (const gint[]){ v, a }, TRUE, NULL);   /* and a, once more */
  output (&c, node (&c, "GlobalAveragePool", 1, &m, TRUE, NULL));
  output (&c, m);
  n_threads = 1;
  check_case (&c);
  n_threads = 2;
  check_case (&c);
  case_clear (&c);
}

/* 3x3 stride-1 convs (with bias, ReLU and a residual sum) under each
 * ep.onednn.conv-algorithm: all agree with the CPU provider; where oneDNN
 * has Winograd kernels (AVX-512) the winograd run differs in rounding from
 * the direct one, which shows the option took effect; a bad value is
 * refused when the session is created. */
static void
test_conv_algorithm (void)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 1, 32, 20, 20 });
  gint a = conv (&c, x, 32, 32, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  a = node (&c, "Relu", 1, &a, TRUE, NULL);
  gint b = conv (&c, a, 32, 32, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  b = node (&c, "Add", 2, (const gint[]){ b, a }, TRUE, NULL);
  output (&c, node (&c, "Relu", 1, &b, TRUE, NULL));
  const char *out = glia_graph_value_get_name (c.graph, glia_graph_get_output (c.graph, 0));
  const char *cpu[] = { "cpu", NULL }, *both[] = { "onednn", "cpu", NULL };
  g_autoptr (GHashTable) ref = run (&c, cpu, NULL, NULL);
  const char *algos[] = { "auto", "direct", "winograd" };
  GHashTable *outs[G_N_ELEMENTS (algos)];
  for (guint i = 0; i < G_N_ELEMENTS (algos); i++) {
    guint n_onednn = 0, n_nodes = 0;
    outs[i] = run_with (&c, both, algos[i], &n_onednn, &n_nodes);
    g_assert_cmpuint (n_onednn, ==, n_nodes);
    compare (g_hash_table_lookup (outs[i], out), g_hash_table_lookup (ref, out), algos[i]);
  }
  if (have_avx512_core ()) {
    g_autoptr (GBytes) d = glia_tensor_get_data (g_hash_table_lookup (outs[1], out));
    g_autoptr (GBytes) w = glia_tensor_get_data (g_hash_table_lookup (outs[2], out));
    g_assert_false (g_bytes_equal (d, w));
  }
  for (guint i = 0; i < G_N_ELEMENTS (algos); i++)
    g_hash_table_unref (outs[i]);
  assert_option_refused (&c, "conv-algorithm", "fastest");
  case_clear (&c);
}

/* The region's own Winograd kernel (ep.onednn.conv-algorithm=glia-winograd):
 * 3x3 stride-1 convolutions of padding 1 on an 18x18 map (81 2x2 tiles: two
 * chunks), 7x9 (partial tiles in both directions), batch 2, bias or none,
 * ReLU, Clip or no activation, at one and two threads: the same as the CPU
 * provider, and not bit for bit oneDNN's direct kernel, which shows it ran,
 * nor oneDNN's Winograd kernel, which conv-algorithm=winograd keeps to. */
static void
test_glia_winograd (void)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 2, 32, 18, 18 });
  gint a = conv (&c, x, 32, 64, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  a = node (&c, "Relu", 1, &a, TRUE, NULL);
  gint b = conv (&c, a, 64, 32, 3, 1, FALSE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  gint lo = constant (&c, "lo", 0, NULL, 0, -0.5f), hi = constant (&c, "hi", 0, NULL, 0, 0.7f);
  output (&c, node (&c, "Clip", 3, (const gint[]){ b, lo, hi }, TRUE, NULL));
  gint x2 = input (&c, "x2", 4, (const gint64[]){ 1, 16, 7, 9 });
  gint d = conv (&c, x2, 16, 32, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  output (&c, d);
  const char *cpu[] = { "cpu", NULL }, *both[] = { "onednn", "cpu", NULL };
  g_autoptr (GHashTable) ref = run (&c, cpu, NULL, NULL);
  for (guint t = 1; t <= 2; t++) {
    n_threads = t;
    guint n_onednn = 0, n_nodes = 0;
    g_autoptr (GHashTable) mine = run_with (&c, both, "glia-winograd", &n_onednn, &n_nodes);
    g_assert_cmpuint (n_onednn, ==, n_nodes);
    g_autoptr (GHashTable) direct = run_with (&c, both, "direct", NULL, NULL);
    g_autoptr (GHashTable) theirs = run_with (&c, both, "winograd", NULL, NULL);
    for (guint o = 0; o < glia_graph_get_n_outputs (c.graph); o++) {
      const char *name = glia_graph_value_get_name (c.graph, glia_graph_get_output (c.graph, o));
      compare (g_hash_table_lookup (mine, name), g_hash_table_lookup (ref, name), name);
      compare (g_hash_table_lookup (theirs, name), g_hash_table_lookup (ref, name), name);
      if (have_avx512_core ()) {
        g_autoptr (GBytes) m = glia_tensor_get_data (g_hash_table_lookup (mine, name));
        g_autoptr (GBytes) r = glia_tensor_get_data (g_hash_table_lookup (direct, name));
        g_autoptr (GBytes) w = glia_tensor_get_data (g_hash_table_lookup (theirs, name));
        g_assert_false (g_bytes_equal (m, r));
        g_assert_false (g_bytes_equal (m, w)); /* winograd: oneDNN's kernel, never the own */
      }
    }
  }
  n_threads = 2;
  case_clear (&c);
}

/* A residual added to the output of a 3x3 convolution (ResNet's basic
 * block: Relu (Conv (x) + r)) on the region's own kernels, the Winograd
 * one (conv-algorithm=glia-winograd) and the direct one
 * (direct-conv=glia), at one and two threads, against the CPU provider:
 * written into the residual's buffer when nothing reads it later, into a
 * copy of it when the convolution's own input is the residual, and with
 * an activation after the sum. Every node runs on oneDNN, and the outputs
 * differ bit for bit from oneDNN's own kernels (direct and Winograd), so
 * the own kernels ran. */
static void
test_own_conv_residual (void)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 2, 32, 9, 11 });
  gint p0 = conv (&c, x, 32, 32, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  p0 = node (&c, "Relu", 1, &p0, TRUE, NULL);
  gint p1 = conv (&c, p0, 32, 32, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  p1 = node (&c, "Relu", 1, &p1, TRUE, NULL);
  /* p0 is dead after this one: the sum goes into its buffer */
  gint q = conv (&c, p1, 32, 32, 3, 1, FALSE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  q = node (&c, "Add", 2, (const gint[]){ q, p0 }, TRUE, NULL);
  q = node (&c, "Relu", 1, &q, TRUE, NULL);
  /* the residual is the convolution's own input: a copy */
  gint r = conv (&c, q, 32, 64, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  gint r2 = conv (&c, r, 64, 32, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  output (&c, node (&c, "Add", 2, (const gint[]){ r2, q }, TRUE, NULL));
  const char *cpu[] = { "cpu", NULL }, *both[] = { "onednn", "cpu", NULL };
  g_autoptr (GHashTable) ref = run (&c, cpu, NULL, NULL);
  for (guint t = 1; t <= 2; t++) {
    n_threads = t;
    guint n_onednn = 0, n_nodes = 0;
    g_autoptr (GHashTable) wino = run_with (&c, both, "glia-winograd", &n_onednn, &n_nodes);
    g_assert_cmpuint (n_onednn, ==, n_nodes);
    direct_conv = "glia";
    g_autoptr (GHashTable) direct = run_with (&c, both, "direct", NULL, NULL);
    direct_conv = "onednn";
    g_autoptr (GHashTable) theirs = run_with (&c, both, "direct", NULL, NULL);
    g_autoptr (GHashTable) their_wino = run_with (&c, both, "winograd", NULL, NULL);
    direct_conv = NULL;
    const char *name = glia_graph_value_get_name (c.graph, glia_graph_get_output (c.graph, 0));
    compare (g_hash_table_lookup (wino, name), g_hash_table_lookup (ref, name), name);
    compare (g_hash_table_lookup (direct, name), g_hash_table_lookup (ref, name), name);
    if (have_avx512_core ()) {
      g_autoptr (GBytes) w = glia_tensor_get_data (g_hash_table_lookup (wino, name));
      g_autoptr (GBytes) d = glia_tensor_get_data (g_hash_table_lookup (direct, name));
      g_autoptr (GBytes) o = glia_tensor_get_data (g_hash_table_lookup (theirs, name));
      g_autoptr (GBytes) ow = glia_tensor_get_data (g_hash_table_lookup (their_wino, name));
      g_assert_false (g_bytes_equal (w, o));
      g_assert_false (g_bytes_equal (w, ow));
      g_assert_false (g_bytes_equal (d, o));
      g_assert_false (g_bytes_equal (d, ow));
    }
  }
  n_threads = 2;
  case_clear (&c);
}

/* ConvTranspose: strides, pads, output_padding, dilations, groups, bias,
 * 1-D and 2-D, and a ReLU taken as a post-op; forms the provider leaves to
 * the CPU provider (output_shape) are not claimed */
static void
test_conv_transpose (void)
{
  for (guint v = 0; v < 5; v++) {
    Case c;
    case_init (&c);
    gboolean one_d = v == 3;
    gint64 cin = 8, cout = v == 2 ? 12 : 6, group = v == 2 ? 2 : 1, k = 3;
    gint x = one_d ? input (&c, "x", 3, (const gint64[]){ 2, cin, 11 })
                   : input (&c, "x", 4, (const gint64[]){ 2, cin, 7, 9 });
    gint w = one_d ? constant (&c, "w", 3, (const gint64[]){ cin, cout / group, k }, 0.3f, 0)
                   : constant (&c, "w", 4, (const gint64[]){ cin, cout / group, k, k }, 0.3f, 0);
    gint b = constant (&c, "b", 1, (const gint64[]){ cout }, 0.5f, 0);
    gint n;
    gint y = node (&c, "ConvTranspose", v == 1 ? 2 : 3, (const gint[]){ x, w, b }, TRUE, &n);
    switch (v) {
    case 0: /* stride 2, pads, output_padding */
      glia_graph_node_set_attr_ints (c.graph, n, "strides", (const gint64[]){ 2, 2 }, 2);
      glia_graph_node_set_attr_ints (c.graph, n, "pads", (const gint64[]){ 1, 0, 1, 2 }, 4);
      glia_graph_node_set_attr_ints (c.graph, n, "output_padding", (const gint64[]){ 1, 1 }, 2);
      break;
    case 1: /* dilated, no bias */
      glia_graph_node_set_attr_ints (c.graph, n, "dilations", (const gint64[]){ 2, 1 }, 2);
      break;
    case 2: /* grouped, stride 3 */
      glia_graph_node_set_attr_int (c.graph, n, "group", group);
      glia_graph_node_set_attr_ints (c.graph, n, "strides", (const gint64[]){ 3, 3 }, 2);
      break;
    case 3: /* 1-D */
      glia_graph_node_set_attr_ints (c.graph, n, "strides", (const gint64[]){ 2 }, 1);
      glia_graph_node_set_attr_ints (c.graph, n, "pads", (const gint64[]){ 1, 1 }, 2);
      break;
    default: /* VALID */
      glia_graph_node_set_attr_string (c.graph, n, "auto_pad", "VALID", 5);
      break;
    }
    output (&c, node (&c, "Relu", 1, &y, TRUE, NULL));
    check_case (&c);
    case_clear (&c);
  }

  /* 3-D, stride 2, kernel 2 */
  Case c;
  case_init (&c);
  gint x3 = input (&c, "x", 5, (const gint64[]){ 1, 4, 3, 4, 5 });
  gint w3 = constant (&c, "w", 5, (const gint64[]){ 4, 2, 2, 2, 2 }, 0.3f, 0);
  gint n3;
  gint y3 = node (&c, "ConvTranspose", 2, (const gint[]){ x3, w3 }, TRUE, &n3);
  glia_graph_node_set_attr_ints (c.graph, n3, "strides", (const gint64[]){ 2, 2, 2 }, 3);
  output (&c, y3);
  check_case (&c);
  case_clear (&c);

  /* output_shape: left to the CPU provider, still correct */
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 1, 4, 5, 5 });
  gint w = constant (&c, "w", 4, (const gint64[]){ 4, 4, 3, 3 }, 0.3f, 0);
  gint n;
  gint y = node (&c, "ConvTranspose", 2, (const gint[]){ x, w }, FALSE, &n);
  glia_graph_node_set_attr_ints (c.graph, n, "strides", (const gint64[]){ 2, 2 }, 2);
  glia_graph_node_set_attr_ints (c.graph, n, "output_shape", (const gint64[]){ 10, 10 }, 2);
  output (&c, y);
  if (have_onednn ()) {
    guint n_onednn = 0, n_nodes = 0;
    g_autoptr (GHashTable) ours
        = run (&c, (const char *[]){ "onednn", "cpu", NULL }, &n_onednn, &n_nodes);
    g_autoptr (GHashTable) ref = run (&c, (const char *[]){ "cpu", NULL }, NULL, NULL);
    g_assert_cmpuint (n_onednn, ==, 0);
    const char *name = glia_graph_value_get_name (c.graph, y);
    compare (g_hash_table_lookup (ours, name), g_hash_table_lookup (ref, name), name);
  } else
    g_test_skip ("the oneDNN provider is not built");
  case_clear (&c);
}

/* ep.onednn.conv-cache: auto's choice is written to the file as a
 * "KEY<tab>IMPLEMENTATION" line, and a later session (its own file, so the
 * process's memory of the first does not answer) takes the kernel the file
 * names: direct gives the direct result to the bit, a Winograd kernel
 * another; a line that does not parse is skipped. AVX-512 only (elsewhere
 * oneDNN has no Winograd kernels, so there is no choice to keep). */
static void
test_conv_cache (void)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  if (!have_avx512_core ()) {
    g_test_skip ("no AVX-512: oneDNN offers no Winograd kernels to choose from");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("glia-conv-cache-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *first = g_build_filename (dir, "sub", "first.txt", NULL);
  g_autofree char *direct = g_build_filename (dir, "direct.txt", NULL);
  g_autofree char *wino = g_build_filename (dir, "wino.txt", NULL);
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 1, 48, 18, 18 });
  gint y = conv (&c, x, 48, 48, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  output (&c, y);
  const char *out = glia_graph_value_get_name (c.graph, y);
  const char *both[] = { "onednn", "cpu", NULL };

  conv_cache = first;
  g_autoptr (GHashTable) r0 = run (&c, both, NULL, NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (first, &text, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (text, "oneDNN "));
  g_assert_nonnull (strstr (text, "1x48x18x18 48x48x3x3"));
  char *tab = strchr (text, '\t');
  g_assert_nonnull (tab);
  g_autofree char *key = g_strndup (text, tab - text);

  g_autofree char *d_text = g_strdup_printf ("not a choice\n%s\tjit:avx512_core\n", key);
  g_assert_true (g_file_set_contents (direct, d_text, -1, &error));
  g_autofree char *w_text = g_strdup_printf ("%s\tjit_wino_4x3:avx512_core\n", key);
  g_assert_true (g_file_set_contents (wino, w_text, -1, &error));
  conv_cache = direct;
  g_autoptr (GHashTable) rd = run (&c, both, NULL, NULL);
  conv_cache = wino;
  g_autoptr (GHashTable) rw = run (&c, both, NULL, NULL);
  conv_cache = NULL;
  g_autoptr (GHashTable) ref = run_with (&c, both, "direct", NULL, NULL);
  g_autoptr (GBytes) bd = glia_tensor_get_data (g_hash_table_lookup (rd, out));
  g_autoptr (GBytes) bw = glia_tensor_get_data (g_hash_table_lookup (rw, out));
  g_autoptr (GBytes) bref = glia_tensor_get_data (g_hash_table_lookup (ref, out));
  g_assert_true (g_bytes_equal (bd, bref));
  g_assert_false (g_bytes_equal (bw, bref));
  compare (g_hash_table_lookup (rw, out), g_hash_table_lookup (ref, out), "wino");
  compare (g_hash_table_lookup (r0, out), g_hash_table_lookup (ref, out), "first");
  /* the files that answered were not appended to */
  g_autofree char *d_after = NULL;
  g_assert_true (g_file_get_contents (direct, &d_after, NULL, NULL));
  g_assert_cmpstr (d_after, ==, d_text);
  case_clear (&c);
  g_unlink (first);
  g_unlink (direct);
  g_unlink (wino);
  g_autofree char *sub = g_path_get_dirname (first);
  g_rmdir (sub);
  g_rmdir (dir);
}

/* The line of @path whose key has " network 2 ", split at the tab; FALSE
 * when there is none. */
static gboolean
network_line (const char *path, char **key, char **value)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    char *tab = strchr (lines[i], '\t');
    if (tab && strstr (lines[i], " network 2 ") && strstr (lines[i], " network 2 ") < tab) {
      *key = g_strndup (lines[i], tab - lines[i]);
      *value = g_strdup (tab + 1);
      return TRUE;
    }
  }
  return FALSE;
}

/* ep.onednn.conv-tuning=network (the default): a region with enough work
 * gets its convolutions' kernels tuned in the network at session creation
 * and the result is written to the choice file as one line under the
 * region's key ("OP=IMPL" per convolution); a later session with that
 * line builds the kernels it names without timing (nothing appended): the
 * direct kernel gives oneDNN's direct result to the bit, the own Winograd
 * kernel another; a kernel the line names that does not exist leaves the
 * op to the per-shape choice. conv-tuning=shape writes no such line. */
static void
test_conv_tuning (void)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  if (!have_avx512_core ()) {
    g_test_skip ("no AVX-512: oneDNN offers no Winograd kernels to choose from");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("glia-conv-tuning-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *first = g_build_filename (dir, "first.txt", NULL);
  g_autofree char *shape = g_build_filename (dir, "shape.txt", NULL);
  Case c;
  case_init (&c);
  /* 58 MFLOP: over the tuning's threshold */
  gint x = input (&c, "x", 4, (const gint64[]){ 1, 64, 28, 28 });
  gint y = conv (&c, x, 64, 64, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  y = node (&c, "Relu", 1, &y, TRUE, NULL);
  output (&c, y);
  const char *out = glia_graph_value_get_name (c.graph, y);
  const char *both[] = { "onednn", "cpu", NULL };

  conv_cache = first;
  g_autoptr (GHashTable) r0 = run (&c, both, NULL, NULL);
  g_autofree char *key = NULL, *value = NULL;
  g_assert_true (network_line (first, &key, &value));
  g_assert_true (g_str_has_prefix (value, "0="));
  conv_cache = shape;
  conv_tuning = "shape";
  g_autoptr (GHashTable) rs = run (&c, both, NULL, NULL);
  conv_tuning = NULL;
  g_autofree char *k2 = NULL, *v2 = NULL;
  g_assert_false (network_line (shape, &k2, &v2));

  /* the reference: oneDNN's direct kernel (no tuning under these options) */
  conv_cache = NULL;
  direct_conv = "onednn";
  g_autoptr (GHashTable) ref = run_with (&c, both, "direct", NULL, NULL);
  direct_conv = NULL;
  g_autoptr (GBytes) bref = glia_tensor_get_data (g_hash_table_lookup (ref, out));
  compare (g_hash_table_lookup (r0, out), g_hash_table_lookup (ref, out), "tuned");
  compare (g_hash_table_lookup (rs, out), g_hash_table_lookup (ref, out), "per shape");

  const char *impls[] = { "jit:avx512_core", "glia:winograd", "no-such-kernel" };
  for (guint i = 0; i < G_N_ELEMENTS (impls); i++) {
    /* a file of its own each: a process reads a choice file once */
    g_autofree char *name = g_strdup_printf ("forced-%u.txt", i);
    g_autofree char *forced = g_build_filename (dir, name, NULL);
    g_autofree char *text = g_strdup_printf ("%s\t0=%s\n", key, impls[i]);
    g_assert_true (g_file_set_contents (forced, text, -1, &error));
    g_assert_no_error (error);
    conv_cache = forced;
    g_autoptr (GHashTable) rf = run (&c, both, NULL, NULL);
    conv_cache = NULL;
    g_autoptr (GBytes) bf = glia_tensor_get_data (g_hash_table_lookup (rf, out));
    compare (g_hash_table_lookup (rf, out), g_hash_table_lookup (ref, out), impls[i]);
    g_autofree char *after = NULL;
    g_assert_true (g_file_get_contents (forced, &after, NULL, NULL));
    if (i == 0)
      g_assert_true (g_bytes_equal (bf, bref));
    if (i == 1)
      g_assert_false (g_bytes_equal (bf, bref));
    if (i < 2) /* nothing timed */
      g_assert_cmpstr (after, ==, text);
    else /* the per-shape choice was timed and written */
      g_assert_cmpuint (strlen (after), >, strlen (text));
    g_unlink (forced);
  }
  assert_option_refused (&c, "conv-tuning", "fast");
  case_clear (&c);

  /* a 1x1 stride-1 convolution, which only tuning gives the own direct
   * kernel: tuned at one and two threads, and that kernel forced */
  case_init (&c);
  x = input (&c, "x", 4, (const gint64[]){ 1, 256, 28, 28 });
  y = conv (&c, x, 256, 256, 1, 1, TRUE);
  output (&c, y);
  out = glia_graph_value_get_name (c.graph, y);
  conv_cache = NULL;
  direct_conv = "onednn";
  g_autoptr (GHashTable) ref1 = run_with (&c, both, "direct", NULL, NULL);
  direct_conv = NULL;
  for (guint t = 1; t <= 2; t++) {
    n_threads = t;
    g_autofree char *name = g_strdup_printf ("pointwise-%u.txt", t);
    g_autofree char *file = g_build_filename (dir, name, NULL);
    conv_cache = file;
    g_autoptr (GHashTable) rt = run (&c, both, NULL, NULL);
    conv_cache = NULL;
    g_autofree char *k1 = NULL, *v1 = NULL;
    g_assert_true (network_line (file, &k1, &v1));
    compare (g_hash_table_lookup (rt, out), g_hash_table_lookup (ref1, out), "tuned 1x1");
    g_autofree char *text = g_strdup_printf ("%s\t0=glia:direct\n", k1);
    g_autofree char *name2 = g_strdup_printf ("pointwise-forced-%u.txt", t);
    g_autofree char *forced = g_build_filename (dir, name2, NULL);
    g_assert_true (g_file_set_contents (forced, text, -1, &error));
    g_assert_no_error (error);
    conv_cache = forced;
    g_autoptr (GHashTable) rf = run (&c, both, NULL, NULL);
    conv_cache = NULL;
    compare (g_hash_table_lookup (rf, out), g_hash_table_lookup (ref1, out), "glia:direct 1x1");
    g_unlink (file);
    g_unlink (forced);
  }
  n_threads = 2;
  case_clear (&c);
  g_unlink (first);
  g_unlink (shape);
  g_rmdir (dir);
}

static void
test_gemm_matmul (void)
{
  Case c;
  case_init (&c);
  gint a = input (&c, "a", 2, (const gint64[]){ 3, 20 });
  gint b = constant (&c, "b", 2, (const gint64[]){ 30, 20 }, 0.3f, 0);
  gint bias = constant (&c, "c", 1, (const gint64[]){ 30 }, 1, 0);
  gint n;
  gint y = node (&c, "Gemm", 3, (const gint[]){ a, b, bias }, TRUE, &n);
  glia_graph_node_set_attr_int (c.graph, n, "transB", 1);
  glia_graph_node_set_attr_float (c.graph, n, "alpha", 0.5f);
  glia_graph_node_set_attr_float (c.graph, n, "beta", 2.0f);
  y = node (&c, "Relu", 1, &y, TRUE, NULL);
  output (&c, y);
  gint m = input (&c, "m", 3, (const gint64[]){ 2, 3, 20 });
  gint w = constant (&c, "w", 2, (const gint64[]){ 20, 7 }, 0.3f, 0);
  output (&c, node (&c, "MatMul", 2, (const gint[]){ m, w }, TRUE, NULL));
  /* MatMul + bias Add + activation: com.glia::FusedMatMul after the
   * optimizer; A of rank 4 */
  gint m4 = input (&c, "m4", 4, (const gint64[]){ 2, 2, 5, 20 });
  gint mb = constant (&c, "mb", 2, (const gint64[]){ 1, 7 }, 1, 0);
  gint f = node (&c, "MatMul", 2, (const gint[]){ m4, w }, TRUE, NULL);
  f = node (&c, "Add", 2, (const gint[]){ f, mb }, TRUE, NULL);
  output (&c, node (&c, "Tanh", 1, &f, TRUE, NULL));
  check_case (&c);
  case_clear (&c);
}

static void
test_pools (void)
{
  for (guint v = 0; v < 6; v++) {
    Case c;
    case_init (&c);
    gint x = input (&c, "x", 4, (const gint64[]){ 2, 5, 10, 9 });
    const char *op = v < 2    ? "MaxPool"
                     : v < 4  ? "AveragePool"
                     : v == 4 ? "GlobalAveragePool"
                              : "GlobalMaxPool";
    gint n;
    gint y = node (&c, op, 1, &x, TRUE, &n);
    if (v < 4) {
      glia_graph_node_set_attr_ints (c.graph, n, "kernel_shape", (const gint64[]){ 3, 3 }, 2);
      glia_graph_node_set_attr_ints (c.graph, n, "strides", (const gint64[]){ 2, 2 }, 2);
      glia_graph_node_set_attr_ints (c.graph, n, "pads", (const gint64[]){ 1, 1, 1, 0 }, 4);
    }
    if (v == 1)
      glia_graph_node_set_attr_int (c.graph, n, "ceil_mode", 1);
    if (v == 3)
      glia_graph_node_set_attr_int (c.graph, n, "count_include_pad", 1);
    output (&c, y);
    check_case (&c);
    case_clear (&c);
  }
}

/* The region's own max pooling (blocked input, after a convolution):
 * 3x3 stride 2 with asymmetric padding, with and without ceil_mode, 2x2
 * stride 2, 3x3 stride 1 padded, a 3x2 window with strides 2 and 1, on 20
 * channels (a partial block), batch 2, at one and two threads: as the CPU
 * provider, and bit for bit oneDNN's pooling (ep.onednn.depthwise=onednn),
 * a maximum being exact. */
static void
test_own_maxpool (void)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  static const struct
  {
    gint64 k[2], s[2], pads[4];
    gboolean ceil;
  } pools[] = {
    { { 3, 3 }, { 2, 2 }, { 1, 1, 1, 0 }, FALSE }, { { 3, 3 }, { 2, 2 }, { 0, 0, 0, 0 }, TRUE },
    { { 2, 2 }, { 2, 2 }, { 0, 0, 0, 0 }, FALSE }, { { 3, 3 }, { 1, 1 }, { 1, 1, 1, 1 }, FALSE },
    { { 3, 2 }, { 2, 1 }, { 1, 0, 0, 1 }, FALSE },
  };
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 2, 16, 23, 22 });
  gint y = conv (&c, x, 16, 20, 1, 1, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (pools); i++) {
    gint n;
    gint p = node (&c, "MaxPool", 1, &y, TRUE, &n);
    glia_graph_node_set_attr_ints (c.graph, n, "kernel_shape", pools[i].k, 2);
    glia_graph_node_set_attr_ints (c.graph, n, "strides", pools[i].s, 2);
    glia_graph_node_set_attr_ints (c.graph, n, "pads", pools[i].pads, 4);
    if (pools[i].ceil)
      glia_graph_node_set_attr_int (c.graph, n, "ceil_mode", 1);
    output (&c, p);
  }
  const char *cpu[] = { "cpu", NULL }, *both[] = { "onednn", "cpu", NULL };
  g_autoptr (GHashTable) ref = run (&c, cpu, NULL, NULL);
  for (guint t = 1; t <= 2; t++) {
    n_threads = t;
    guint n_onednn = 0, n_nodes = 0;
    g_autoptr (GHashTable) own = run (&c, both, &n_onednn, &n_nodes);
    g_assert_cmpuint (n_onednn, ==, n_nodes);
    depthwise = "onednn";
    g_autoptr (GHashTable) theirs = run (&c, both, NULL, NULL);
    depthwise = NULL;
    for (guint o = 0; o < glia_graph_get_n_outputs (c.graph); o++) {
      const char *name = glia_graph_value_get_name (c.graph, glia_graph_get_output (c.graph, o));
      compare (g_hash_table_lookup (own, name), g_hash_table_lookup (ref, name), name);
      g_autoptr (GBytes) a = glia_tensor_get_data (g_hash_table_lookup (own, name));
      g_autoptr (GBytes) b = glia_tensor_get_data (g_hash_table_lookup (theirs, name));
      g_assert_true (g_bytes_equal (a, b));
    }
  }
  n_threads = 2;
  case_clear (&c);
}

static void
test_norms_softmax (void)
{
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 2, 6, 5, 5 });
  gint scale = constant (&c, "scale", 1, (const gint64[]){ 6 }, 0.5f, 1);
  gint bias = constant (&c, "bias", 1, (const gint64[]){ 6 }, 0.5f, 0);
  gint mean = constant (&c, "mean", 1, (const gint64[]){ 6 }, 0.5f, 0);
  gint var = constant (&c, "var", 1, (const gint64[]){ 6 }, 0.4f, 1);
  output (&c, node (&c, "BatchNormalization", 5, (const gint[]){ x, scale, bias, mean, var }, TRUE,
                    NULL));
  gint n;
  gint l = node (&c, "LRN", 1, &x, TRUE, &n);
  glia_graph_node_set_attr_int (c.graph, n, "size", 3);
  glia_graph_node_set_attr_float (c.graph, n, "alpha", 0.01f);
  glia_graph_node_set_attr_float (c.graph, n, "bias", 2.0f);
  output (&c, l);
  gint s = node (&c, "Softmax", 1, &x, TRUE, &n);
  glia_graph_node_set_attr_int (c.graph, n, "axis", 1);
  output (&c, s);
  check_case (&c);
  case_clear (&c);
}

static void
test_concat_sum (void)
{
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 1, 8, 7, 7 });
  gint a = conv (&c, x, 8, 16, 1, 1, TRUE);
  gint b = conv (&c, x, 8, 16, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  gint n;
  gint cat = node (&c, "Concat", 3, (const gint[]){ a, b, x }, TRUE, &n);
  glia_graph_node_set_attr_int (c.graph, n, "axis", 1);
  output (&c, cat);
  output (&c, node (&c, "Sum", 3, (const gint[]){ a, b, a }, TRUE, NULL));
  check_case (&c);
  case_clear (&c);

  /* the region's own concat copy: conv outputs in a blocked layout (16 and
   * 32 channels, batch 2, fed on to a conv and a pool), plain region
   * inputs, and a concat along another axis (oneDNN's) */
  case_init (&c);
  x = input (&c, "x", 4, (const gint64[]){ 2, 16, 9, 9 });
  gint x2 = input (&c, "x2", 4, (const gint64[]){ 2, 3, 9, 9 });
  a = conv (&c, x, 16, 16, 1, 1, TRUE);
  a = node (&c, "Relu", 1, &a, TRUE, NULL);
  b = conv (&c, x, 16, 32, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  cat = node (&c, "Concat", 2, (const gint[]){ a, b }, TRUE, &n);
  glia_graph_node_set_attr_int (c.graph, n, "axis", 1);
  output (&c, conv (&c, cat, 48, 16, 1, 1, TRUE));
  output (&c, node (&c, "MaxPool", 1, &cat, TRUE, &n));
  glia_graph_node_set_attr_ints (c.graph, n, "kernel_shape", (const gint64[]){ 2, 2 }, 2);
  cat = node (&c, "Concat", 3, (const gint[]){ x2, x, x2 }, TRUE, &n);
  glia_graph_node_set_attr_int (c.graph, n, "axis", 1);
  output (&c, cat);
  cat = node (&c, "Concat", 2, (const gint[]){ x, x }, TRUE, &n);
  glia_graph_node_set_attr_int (c.graph, n, "axis", 2);
  output (&c, cat);
  check_case (&c);
  case_clear (&c);

  /* one image: the conv outputs are placed in the concat's output and not
   * copied; an input read again after the concat; not when an input is
   * later the in-place residual of another conv (its sum would overwrite
   * the concat's data), nor for one input twice */
  case_init (&c);
  x = input (&c, "x", 4, (const gint64[]){ 1, 16, 9, 9 });
  a = conv (&c, x, 16, 16, 1, 1, TRUE);
  a = node (&c, "Relu", 1, &a, TRUE, NULL);
  b = conv (&c, x, 16, 32, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  cat = node (&c, "Concat", 2, (const gint[]){ a, b }, TRUE, &n);
  glia_graph_node_set_attr_int (c.graph, n, "axis", 1);
  output (&c, conv (&c, cat, 48, 16, 1, 1, TRUE));
  output (&c, node (&c, "MaxPool", 1, &a, TRUE, &n));
  glia_graph_node_set_attr_ints (c.graph, n, "kernel_shape", (const gint64[]){ 2, 2 }, 2);
  gint d = conv (&c, x, 16, 16, 1, 1, TRUE);
  gint e = conv (&c, x, 16, 16, 1, 1, TRUE);
  gint cat2 = node (&c, "Concat", 2, (const gint[]){ d, e }, TRUE, &n);
  glia_graph_node_set_attr_int (c.graph, n, "axis", 1);
  gint f = conv (&c, x, 16, 16, 1, 1, FALSE);
  output (&c, node (&c, "Add", 2, (const gint[]){ f, d }, TRUE, NULL));
  output (&c, conv (&c, cat2, 32, 16, 1, 1, TRUE));
  gint g = conv (&c, x, 16, 16, 1, 1, TRUE);
  cat = node (&c, "Concat", 2, (const gint[]){ g, g }, TRUE, &n);
  glia_graph_node_set_attr_int (c.graph, n, "axis", 1);
  output (&c, conv (&c, cat, 32, 16, 1, 1, TRUE));
  check_case (&c);
  case_clear (&c);
}

/* Binary ops with broadcasting, swish (x * sigmoid(x)) after a conv and
 * after a pool, and an EfficientNet squeeze-and-excitation block. */
static void
test_binary_swish (void)
{
  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 2, 8, 5, 5 });
  /* conv + swish */
  gint a = conv (&c, x, 8, 8, 3, 1, TRUE);
  glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
  gint sa = node (&c, "Sigmoid", 1, &a, TRUE, NULL);
  a = node (&c, "Mul", 2, (const gint[]){ a, sa }, TRUE, NULL);
  /* squeeze and excitation: pool, 1x1 conv, swish, 1x1 conv, sigmoid,
   * scale over HW */
  gint p = node (&c, "GlobalAveragePool", 1, &a, TRUE, NULL);
  gint f = conv (&c, p, 8, 4, 1, 1, TRUE);
  gint sf = node (&c, "Sigmoid", 1, &f, TRUE, NULL);
  f = node (&c, "Mul", 2, (const gint[]){ sf, f }, TRUE, NULL);
  f = conv (&c, f, 4, 8, 1, 1, TRUE);
  f = node (&c, "Sigmoid", 1, &f, TRUE, NULL);
  gint se = node (&c, "Mul", 2, (const gint[]){ a, f }, TRUE, NULL);
  output (&c, se);
  /* broadcast operand first (Mul commutes) */
  output (&c, node (&c, "Mul", 2, (const gint[]){ f, a }, TRUE, NULL));
  /* swish after a pool: a standalone eltwise */
  gint n;
  gint m = node (&c, "MaxPool", 1, &x, TRUE, &n);
  glia_graph_node_set_attr_ints (c.graph, n, "kernel_shape", (const gint64[]){ 2, 2 }, 2);
  gint sm = node (&c, "Sigmoid", 1, &m, TRUE, NULL);
  output (&c, node (&c, "Mul", 2, (const gint[]){ m, sm }, TRUE, NULL));
  /* lower-rank constants, a scalar, another input */
  gint k = constant (&c, "k", 3, (const gint64[]){ 8, 1, 1 }, 1, 0);
  output (&c, node (&c, "Sub", 2, (const gint[]){ x, k }, TRUE, NULL));
  gint d = constant (&c, "d", 1, (const gint64[]){ 5 }, 0.5f, 2);
  gint dv = node (&c, "Div", 2, (const gint[]){ x, d }, TRUE, NULL);
  dv = node (&c, "Relu", 1, &dv, TRUE, NULL);
  output (&c, dv);
  gint sc = constant (&c, "sc", 0, NULL, 1, 0);
  output (&c, node (&c, "Add", 2, (const gint[]){ sc, x }, TRUE, NULL));
  gint u = input (&c, "u", 2, (const gint64[]){ 3, 7 });
  gint v = input (&c, "v", 1, (const gint64[]){ 7 });
  output (&c, node (&c, "Mul", 2, (const gint[]){ u, v }, TRUE, NULL));
  output (&c, node (&c, "Div", 2, (const gint[]){ u, v }, TRUE, NULL));
  check_case (&c);
  case_clear (&c);

  /* conv + swish at one thread, where the region applies the swish itself
   * after the conv (AVX-512): values from -30 to 30 through the exp's range
   * reduction, outputs that are not whole vectors (12 channels of 7x5, NHWC)
   * and blocked ones (32 channels), a residual sum before the swish */
  n_threads = 1;
  case_init (&c);
  x = input (&c, "x", 4, (const gint64[]){ 2, 8, 7, 5 });
  gint big = constant (&c, "big", 0, NULL, 0, 12.0f);
  gint xb = node (&c, "Mul", 2, (const gint[]){ x, big }, TRUE, NULL);
  for (gint64 co = 12; co <= 32; co += 20) {
    gint y = conv (&c, xb, 8, co, 3, 1, TRUE);
    glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
    gint sy = node (&c, "Sigmoid", 1, &y, TRUE, NULL);
    output (&c, node (&c, "Mul", 2, (const gint[]){ y, sy }, TRUE, NULL));
  }
  gint r0 = conv (&c, x, 8, 16, 1, 1, TRUE);
  gint r1 = conv (&c, x, 8, 16, 1, 1, FALSE);
  r1 = node (&c, "Add", 2, (const gint[]){ r1, r0 }, TRUE, NULL);
  gint sr = node (&c, "Sigmoid", 1, &r1, TRUE, NULL);
  output (&c, node (&c, "Mul", 2, (const gint[]){ r1, sr }, TRUE, NULL));
  check_case (&c);
  case_clear (&c);
  n_threads = 2;
}

/* A depthwise conv (group = channels) with @k (kh, kw), @s, @pads. */
static gint
dw_conv (Case *c, gint x, gint64 ch, gint64 kh, gint64 kw, gint64 sh, gint64 sw, const gint64 *pads,
         gboolean bias)
{
  g_autofree char *wn = g_strdup_printf ("dww%u", glia_graph_get_n_values (c->graph));
  g_autofree char *bn = g_strdup_printf ("dwb%u", glia_graph_get_n_values (c->graph));
  gint w = constant (c, wn, 4, (const gint64[]){ ch, 1, kh, kw }, 0.3f, 0);
  gint b = bias ? constant (c, bn, 1, (const gint64[]){ ch }, 0.5f, 0) : -1;
  gint y = node (c, "Conv", bias ? 3 : 2, (const gint[]){ x, w, b }, TRUE, &last_node);
  glia_graph_node_set_attr_int (c->graph, last_node, "group", ch);
  glia_graph_node_set_attr_ints (c->graph, last_node, "strides", (const gint64[]){ sh, sw }, 2);
  if (pads)
    glia_graph_node_set_attr_ints (c->graph, last_node, "pads", pads, 4);
  else
    glia_graph_node_set_attr_string (c->graph, last_node, "auto_pad", "SAME_UPPER", 10);
  return y;
}

static gint
swish (Case *c, gint x)
{
  gint s = node (c, "Sigmoid", 1, &x, TRUE, NULL);
  return node (c, "Mul", 2, (const gint[]){ x, s }, TRUE, NULL);
}

/* Depthwise convolutions, on the region's own AVX-512 kernel by default
 * and on oneDNN's with ep.onednn.depthwise=onednn, at one and two threads:
 * 3x3, 5x5, 7x7 and 3x5 windows, strides 1 and 2, symmetric, asymmetric
 * (SAME_UPPER) and no padding, each activation the kernel applies itself
 * (ReLU, LeakyRelu, Clip, swish) and none, widths that are not whole blocks
 * of 8, a 1x1 image, 16 and 48 channels, batch 2. A 1x1 conv + swish
 * before a depthwise conv is the case where the depthwise kernel applies
 * the swish as it reads its input; once more with the swish's result read
 * by another node too, where it must not. Where the
 * CPU has AVX-512 the two implementations' swish outputs differ in
 * rounding at two threads (where oneDNN's kernel takes the swish as a
 * post-op), which shows the option took effect; a bad value is refused. */
static void
test_depthwise (void)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  const char *impls[] = { NULL, "glia", "onednn" };
  const char *probe = NULL;
  GBytes *probe_data[G_N_ELEMENTS (impls)] = { NULL };
  for (guint t = 1; t <= 2; t++)
    for (guint i = 0; i < G_N_ELEMENTS (impls); i++) {
      n_threads = t;
      depthwise = impls[i];
      Case c;
      case_init (&c);
      gint x = input (&c, "x", 4, (const gint64[]){ 2, 48, 13, 11 });
      gint a = dw_conv (&c, x, 48, 3, 3, 1, 1, (const gint64[]){ 1, 1, 1, 1 }, TRUE);
      output (&c, node (&c, "Relu", 1, &a, TRUE, NULL));
      a = dw_conv (&c, x, 48, 3, 3, 2, 2, (const gint64[]){ 1, 1, 1, 1 }, TRUE);
      gint n;
      a = node (&c, "Clip", 1, &a, TRUE, &n);
      glia_graph_node_set_attr_float (c.graph, n, "min", 0.0f);
      glia_graph_node_set_attr_float (c.graph, n, "max", 0.25f);
      output (&c, a);
      a = swish (&c, dw_conv (&c, x, 48, 5, 5, 1, 1, (const gint64[]){ 2, 2, 2, 2 }, TRUE));
      output (&c, a);
      probe = glia_graph_value_get_name (c.graph, a);
      output (&c, dw_conv (&c, x, 48, 5, 5, 2, 2, NULL, TRUE));
      a = dw_conv (&c, x, 48, 7, 7, 1, 1, (const gint64[]){ 3, 3, 3, 3 }, FALSE);
      a = node (&c, "LeakyRelu", 1, &a, TRUE, &n);
      glia_graph_node_set_attr_float (c.graph, n, "alpha", 0.1f);
      output (&c, a);
      output (&c, dw_conv (&c, x, 48, 3, 5, 1, 2, (const gint64[]){ 1, 2, 0, 1 }, FALSE));
      output (&c, dw_conv (&c, x, 48, 3, 3, 1, 1, (const gint64[]){ 0, 0, 0, 0 }, TRUE));
      /* expansion conv + swish feeding a depthwise conv + swish */
      gint y = input (&c, "y", 4, (const gint64[]){ 2, 8, 9, 17 });
      gint e = swish (&c, conv (&c, y, 8, 32, 1, 1, TRUE));
      output (&c,
              swish (&c, dw_conv (&c, e, 32, 3, 3, 1, 1, (const gint64[]){ 1, 1, 1, 1 }, TRUE)));
      /* the same, but the swish's result is read by a pool too */
      gint e2 = swish (&c, conv (&c, y, 8, 16, 1, 1, TRUE));
      output (&c, dw_conv (&c, e2, 16, 5, 5, 2, 1, (const gint64[]){ 2, 2, 2, 2 }, TRUE));
      output (&c, node (&c, "GlobalAveragePool", 1, &e2, TRUE, NULL));
      /* one pixel */
      gint z = input (&c, "z", 4, (const gint64[]){ 1, 16, 1, 1 });
      output (&c, dw_conv (&c, z, 16, 3, 3, 1, 1, (const gint64[]){ 1, 1, 1, 1 }, TRUE));
      check_case (&c);
      if (t == 2) {
        g_autoptr (GHashTable) outs
            = run (&c, (const char *[]){ "onednn", "cpu", NULL }, NULL, NULL);
        probe_data[i] = glia_tensor_get_data (g_hash_table_lookup (outs, probe));
      }
      case_clear (&c);
    }
  if (have_avx512_core ()) {
    g_assert_true (g_bytes_equal (probe_data[0], probe_data[1]));
    g_assert_false (g_bytes_equal (probe_data[1], probe_data[2]));
  }
  for (guint i = 0; i < G_N_ELEMENTS (impls); i++)
    g_bytes_unref (probe_data[i]);
  n_threads = 2;
  depthwise = NULL;

  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 1, 16, 5, 5 });
  output (&c, dw_conv (&c, x, 16, 3, 3, 1, 1, (const gint64[]){ 1, 1, 1, 1 }, TRUE));
  assert_option_refused (&c, "depthwise", "mine");
  case_clear (&c);
}

static gint
clip6 (Case *c, gint x)
{
  gint n;
  gint y = node (c, "Clip", 1, &x, TRUE, &n);
  glia_graph_node_set_attr_float (c->graph, n, "min", 0.0f);
  glia_graph_node_set_attr_float (c->graph, n, "max", 6.0f);
  return y;
}

/* Inverted residual blocks fused band by band (expansion, depthwise,
 * projection on the region's own kernels): a MobileNetV2 block with ReLU6
 * and a residual accumulated in place into its input (several bands; at two
 * threads the rows split between them, the seams copied before either
 * writes), a 5x5 stride-2 block with ReLU whose projection has 24 channels
 * (a padded last block, read by a conv after it), a block without
 * expansion (fused at one thread only), one whose depthwise output is also
 * read elsewhere (the projection runs apart), an expansion from the plain
 * region input, and two images. Against the CPU provider, at one thread
 * and at two, and with ep.onednn.block-fusion=off, whose logits differ in
 * rounding where the CPU has AVX-512 (the option takes effect); a bad
 * value is refused. */
static void
test_fused_blocks (void)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  const char *modes[] = { NULL, "off" };
  GBytes *probe[2] = { NULL, NULL };
  for (gint64 batch = 1; batch <= 2; batch++)
    for (guint t = 1; t <= 2; t++)
      for (guint m = 0; m < G_N_ELEMENTS (modes); m++) {
        n_threads = t;
        block_fusion = modes[m];
        Case c;
        case_init (&c);
        /* 256 expanded channels of 64 columns: 64 KiB a row, several bands
         * of the 512 KiB the kernel takes */
        gint x = input (&c, "x", 4, (const gint64[]){ batch, 16, 40, 64 });
        /* the expansion reads the plain region input */
        gint e0 = clip6 (&c, conv (&c, x, 16, 256, 1, 1, TRUE));
        gint d0
            = clip6 (&c, dw_conv (&c, e0, 256, 3, 3, 1, 1, (const gint64[]){ 1, 1, 1, 1 }, TRUE));
        gint a = conv (&c, d0, 256, 16, 1, 1, TRUE);
        /* MobileNetV2: expand, ReLU6, depthwise, ReLU6, project, + input */
        gint e1 = clip6 (&c, conv (&c, a, 16, 256, 1, 1, TRUE));
        gint d1
            = clip6 (&c, dw_conv (&c, e1, 256, 3, 3, 1, 1, (const gint64[]){ 1, 1, 1, 1 }, TRUE));
        gint p1 = conv (&c, d1, 256, 16, 1, 1, TRUE);
        gint b1 = node (&c, "Add", 2, (const gint[]){ p1, a }, TRUE, NULL);
        /* 5x5 stride 2, ReLU, a 24-channel projection read by a conv */
        gint e2 = conv (&c, b1, 16, 96, 1, 1, TRUE);
        e2 = node (&c, "Relu", 1, &e2, TRUE, NULL);
        gint d2 = dw_conv (&c, e2, 96, 5, 5, 2, 2, (const gint64[]){ 2, 2, 2, 2 }, TRUE);
        d2 = node (&c, "Relu", 1, &d2, TRUE, NULL);
        gint p2 = conv (&c, d2, 96, 24, 1, 1, TRUE);
        gint q2 = conv (&c, p2, 24, 256, 1, 1, TRUE);
        /* no expansion (256 channels: several bands): depthwise, project,
         * + input */
        gint d3 = dw_conv (&c, q2, 256, 3, 3, 1, 1, (const gint64[]){ 1, 1, 1, 1 }, TRUE);
        d3 = node (&c, "Relu", 1, &d3, TRUE, NULL);
        gint p3 = conv (&c, d3, 256, 256, 1, 1, FALSE);
        gint b3 = node (&c, "Add", 2, (const gint[]){ p3, q2 }, TRUE, NULL);
        output (&c, b3);
        /* the depthwise output read twice: the projection runs apart */
        gint e4 = clip6 (&c, conv (&c, b3, 256, 64, 1, 1, TRUE));
        gint d4
            = clip6 (&c, dw_conv (&c, e4, 64, 3, 3, 1, 1, (const gint64[]){ 1, 1, 1, 1 }, TRUE));
        output (&c, conv (&c, d4, 64, 32, 1, 1, TRUE));
        output (&c, node (&c, "GlobalAveragePool", 1, &d4, TRUE, NULL));
        check_case (&c);
        if (batch == 1 && t == 1) {
          g_autoptr (GHashTable) outs
              = run (&c, (const char *[]){ "onednn", "cpu", NULL }, NULL, NULL);
          probe[m] = glia_tensor_get_data (
              g_hash_table_lookup (outs, glia_graph_value_get_name (c.graph, b3)));
        }
        case_clear (&c);
      }
  if (have_avx512_core ())
    g_assert_false (g_bytes_equal (probe[0], probe[1]));
  g_bytes_unref (probe[0]);
  g_bytes_unref (probe[1]);
  n_threads = 2;
  block_fusion = NULL;

  Case c;
  case_init (&c);
  gint x = input (&c, "x", 4, (const gint64[]){ 1, 16, 5, 5 });
  output (&c, conv (&c, x, 16, 16, 1, 1, TRUE));
  assert_option_refused (&c, "block-fusion", "sometimes");
  case_clear (&c);
}

/* An EfficientNet squeeze-and-excitation: mean over the image, 1x1 conv,
 * swish (or ReLU), 1x1 conv, sigmoid, times the feature map. */
static gint
squeeze_excite (Case *c, gint x, gint64 ch, gint64 reduced, gboolean relu, gboolean gate_first)
{
  gint p = node (c, "GlobalAveragePool", 1, &x, TRUE, NULL);
  gint f = conv (c, p, ch, reduced, 1, 1, TRUE);
  f = relu ? node (c, "Relu", 1, &f, TRUE, NULL) : swish (c, f);
  f = conv (c, f, reduced, ch, 1, 1, TRUE);
  f = node (c, "Sigmoid", 1, &f, TRUE, NULL);
  return node (c, "Mul", 2, gate_first ? (const gint[]){ f, x } : (const gint[]){ x, f }, TRUE,
               NULL);
}

/* Squeeze-and-excitation blocks on blocked feature maps, which the region
 * runs as one step (ep.onednn.depthwise=glia, the default): 48 and 32
 * channels, swish and ReLU, the gate as either operand of the Mul, batch 2,
 * one and two threads; one whose pooled means are also an output, which
 * stays apart. Against the CPU provider. */
static void
test_squeeze_excite (void)
{
  for (guint t = 1; t <= 2; t++) {
    n_threads = t;
    Case c;
    case_init (&c);
    gint x = input (&c, "x", 4, (const gint64[]){ 2, 16, 9, 11 });
    gint a = conv (&c, x, 16, 48, 3, 1, TRUE);
    glia_graph_node_set_attr_ints (c.graph, last_node, "pads", (const gint64[]){ 1, 1, 1, 1 }, 4);
    gint s1 = squeeze_excite (&c, swish (&c, a), 48, 12, FALSE, FALSE);
    output (&c, conv (&c, s1, 48, 32, 1, 1, TRUE));
    gint b = conv (&c, x, 16, 32, 1, 1, TRUE);
    output (&c, squeeze_excite (&c, b, 32, 5, TRUE, TRUE));
    /* the means read elsewhere too */
    gint d = conv (&c, x, 16, 32, 1, 1, FALSE);
    gint p = node (&c, "GlobalAveragePool", 1, &d, TRUE, NULL);
    output (&c, p);
    gint f = conv (&c, p, 32, 8, 1, 1, TRUE);
    f = node (&c, "Relu", 1, &f, TRUE, NULL);
    f = conv (&c, f, 8, 32, 1, 1, TRUE);
    f = node (&c, "Sigmoid", 1, &f, TRUE, NULL);
    output (&c, node (&c, "Mul", 2, (const gint[]){ d, f }, TRUE, NULL));
    check_case (&c);
    case_clear (&c);
  }
  n_threads = 2;
}

/* A symbolic batch: plans per shape in one session. */
static void
test_shapes (void)
{
  if (!have_onednn ()) {
    g_test_skip ("the oneDNN provider is not built");
    return;
  }
  Case c;
  case_init (&c);
  gint x = glia_graph_add_value (c.graph, "x", GLIA_DATA_TYPE_FLOAT, 4,
                                 (const gint64[]){ -1, 4, 6, 6 },
                                 (const char *[]){ "N", NULL, NULL, NULL });
  glia_graph_add_input (c.graph, x);
  gint y = conv (&c, x, 4, 8, 3, 1, TRUE);
  y = node (&c, "Relu", 1, &y, TRUE, NULL);
  output (&c, y);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaModel) model = glia_model_new_from_graph (c.graph, &error);
  g_assert_no_error (error);
  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, (const char *[]){ "onednn", "cpu", NULL });
  g_autoptr (GliaSession) ours = glia_session_new_full (model, opts, registry, &error);
  g_assert_no_error (error);
  g_autoptr (GliaSessionOptions) ref_opts = glia_session_options_new ();
  glia_session_options_set_providers (ref_opts, (const char *[]){ "cpu", NULL });
  g_autoptr (GliaSession) ref = glia_session_new_full (model, ref_opts, registry, &error);
  g_assert_no_error (error);
  for (gint64 batch = 1; batch <= 3; batch++) {
    gint64 dims[] = { batch, 4, 6, 6 };
    g_autofree float *data = rnd (numel (4, dims), &c.seed);
    g_hash_table_insert (c.feeds, g_strdup ("x"),
                         glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, dims, 4,
                                                    (const guint8 *)data,
                                                    numel (4, dims) * sizeof (float), &error));
    g_autoptr (GHashTable) a = glia_session_run (ours, c.feeds, &error);
    g_assert_no_error (error);
    g_autoptr (GHashTable) b = glia_session_run (ref, c.feeds, &error);
    g_assert_no_error (error);
    const char *name = glia_graph_value_get_name (c.graph, y);
    compare (g_hash_table_lookup (a, name), g_hash_table_lookup (b, name), name);
  }
  /* a wrong channel count is an error, not a crash */
  gint64 bad[] = { 1, 5, 6, 6 };
  g_autofree float *data = rnd (numel (4, bad), &c.seed);
  g_hash_table_insert (c.feeds, g_strdup ("x"),
                       glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, bad, 4,
                                                  (const guint8 *)data,
                                                  numel (4, bad) * sizeof (float), &error));
  g_autoptr (GHashTable) none = glia_session_run (ours, c.feeds, &error);
  g_assert_null (none);
  g_assert_nonnull (error);
  case_clear (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  registry = glia_registry_new ();
  g_autofree char *plugins = g_build_filename (g_getenv ("GLIA_BUILD_ROOT"), "plugins", NULL);
  glia_registry_add_search_path (registry, plugins);
  g_assert_true (glia_registry_scan (registry, NULL));

  g_test_add_func ("/onednn/conv/post-ops", test_conv_post_ops);
  g_test_add_func ("/onednn/conv/variants", test_conv_variants);
  g_test_add_func ("/onednn/conv/chain-residual", test_conv_chain_residual);
  g_test_add_func ("/onednn/conv/algorithm", test_conv_algorithm);
  g_test_add_func ("/onednn/shared-buffers", test_shared_buffers);
  g_test_add_func ("/onednn/direct-conv", test_direct_conv);
  g_test_add_func ("/onednn/glia-winograd", test_glia_winograd);
  g_test_add_func ("/onednn/own-conv-residual", test_own_conv_residual);
  g_test_add_func ("/onednn/conv-transpose", test_conv_transpose);
  g_test_add_func ("/onednn/conv/cache", test_conv_cache);
  g_test_add_func ("/onednn/conv/tuning", test_conv_tuning);
  g_test_add_func ("/onednn/gemm-matmul", test_gemm_matmul);
  g_test_add_func ("/onednn/pools", test_pools);
  g_test_add_func ("/onednn/own-maxpool", test_own_maxpool);
  g_test_add_func ("/onednn/norms-softmax", test_norms_softmax);
  g_test_add_func ("/onednn/concat-sum", test_concat_sum);
  g_test_add_func ("/onednn/binary-swish", test_binary_swish);
  g_test_add_func ("/onednn/symbolic-batch", test_shapes);
  g_test_add_func ("/onednn/depthwise", test_depthwise);
  g_test_add_func ("/onednn/fused-blocks", test_fused_blocks);
  g_test_add_func ("/onednn/squeeze-excite", test_squeeze_excite);
  int ret = g_test_run ();
  g_object_unref (registry);
  return ret;
}
