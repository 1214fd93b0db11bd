/* test-cpu-conv.c: the CPU provider's convolution paths and
 * com.glia::FusedConv against a direct reference loop.
 *
 * cpu-conv.c picks a strategy from the shapes (depthwise direct kernel, 1x1
 * SGEMM, im2col + SGEMM in column tiles); each case here is shaped to go down
 * one of them, including the edges of each (asymmetric pads, dilations,
 * strides, several tiles, groups). Every case runs with 1 and 4 threads.
 * FusedConv is checked for every activation, with and without its bias B
 * and residual Z, on each path.
 */
#include <glia.h>
#include <glia-plugin.h>
#include <math.h>
#include <string.h>

static GliaRegistry *registry;

#define DIMS(...) ((const gint64[]){ __VA_ARGS__ })

typedef struct
{
  gint64 n, c, h, w; /* input */
  gint64 m, kh, kw;  /* weights */
  gint64 sh, sw, dh, dw;
  gint64 pt, pl, pb, pr; /* pads: top, left, bottom, right */
  gint64 group;
} ConvSpec;

typedef struct
{
  const char *name; /* NULL: plain Conv */
  guint n_params;
  float params[2];
} Act;

static gsize
numel (guint rank, const gint64 *dims)
{
  gsize n = 1;
  for (guint i = 0; i < rank; i++)
    n *= (gsize)dims[i];
  return n;
}

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
tf32 (guint rank, const gint64 *dims, const float *data)
{
  g_autoptr (GError) error = NULL;
  GliaTensor *t = glia_tensor_new_from_data (GLIA_DATA_TYPE_FLOAT, dims, rank, (const guint8 *)data,
                                             numel (rank, dims) * sizeof (float), &error);
  g_assert_no_error (error);
  return t;
}

static void
conv_out (const ConvSpec *s, gint64 *oh, gint64 *ow)
{
  *oh = (s->h + s->pt + s->pb - ((s->kh - 1) * s->dh + 1)) / s->sh + 1;
  *ow = (s->w + s->pl + s->pr - ((s->kw - 1) * s->dw + 1)) / s->sw + 1;
}

static double
ref_act (const Act *a, double v)
{
  if (a->name == NULL)
    return v;
  if (strcmp (a->name, "Relu") == 0)
    return v > 0 ? v : 0;
  if (strcmp (a->name, "LeakyRelu") == 0)
    return v >= 0 ? v : a->params[0] * v;
  if (strcmp (a->name, "Clip") == 0)
    return MIN (MAX (v, a->params[0]), a->params[1]);
  if (strcmp (a->name, "HardSigmoid") == 0)
    return MAX (0.0, MIN (1.0, a->params[0] * v + a->params[1]));
  if (strcmp (a->name, "HardSwish") == 0)
    return v * MAX (0.0, MIN (1.0, v / 6.0 + 0.5));
  if (strcmp (a->name, "Sigmoid") == 0)
    return 1.0 / (1.0 + exp (-v));
  if (strcmp (a->name, "Tanh") == 0)
    return tanh (v);
  g_assert_not_reached ();
}

/* Direct convolution, one output at a time, then + Z and the activation. */
static void
ref_conv2d (const ConvSpec *s, const float *x, const float *w, const float *b, const float *z,
            const Act *act, float *y)
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
          gsize o = (gsize)(((n * s->m + m) * oh + i) * ow + j);
          if (z)
            acc += z[o];
          y[o] = (float)ref_act (act, acc);
        }
}

/* Runs Conv (act->name NULL and no Z) or FusedConv as @s describes, with
 * 1 and 4 threads, and compares with ref_conv2d(). */
static void
check_conv_full (const ConvSpec *s, gboolean bias, gboolean residual, const Act *act,
                 gboolean one_d)
{
  gint64 oh, ow;
  conv_out (s, &oh, &ow);
  gint64 dx[4] = { s->n, s->c, s->h, s->w }, dw[4] = { s->m, s->c / s->group, s->kh, s->kw };
  gint64 dy[4] = { s->n, s->m, oh, ow };
  gsize ny = numel (4, dy);
  g_autofree float *x = random_floats (numel (4, dx), 31);
  g_autofree float *w = random_floats (numel (4, dw), 32);
  g_autofree float *b = random_floats ((gsize)s->m, 33);
  g_autofree float *z = random_floats (ny, 34);
  g_autofree float *expected = g_new (float, ny);
  ref_conv2d (s, x, w, bias ? b : NULL, residual ? z : NULL, act, expected);
  gboolean fused = act->name != NULL || residual;

  guint rank = one_d ? 3 : 4;
  if (one_d) {
    g_assert_true (s->h == 1 && s->kh == 1);
    dx[2] = dx[3];
    dw[2] = dw[3];
    dy[2] = dy[3];
  }

  for (guint threads = 1; threads <= 4; threads += 3) {
    g_autoptr (GliaGraph) graph = glia_graph_new ();
    glia_graph_set_opset (graph, "", 13);
    glia_graph_set_opset (graph, "com.glia", 1);
    g_autoptr (GHashTable) feeds
        = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
    gint vx = glia_graph_add_value (graph, "x", GLIA_DATA_TYPE_FLOAT, (gint)rank, dx, NULL);
    glia_graph_add_input (graph, vx);
    g_hash_table_insert (feeds, "x", tf32 (rank, dx, x));
    gint vw = glia_graph_add_value (graph, "w", GLIA_DATA_TYPE_FLOAT, (gint)rank, dw, NULL);
    g_autoptr (GBytes) wbytes = g_bytes_new (w, numel (rank, dw) * sizeof (float));
    g_assert_true (
        glia_graph_value_set_constant (graph, vw, GLIA_DATA_TYPE_FLOAT, rank, dw, wbytes, NULL));
    gint vb = -1, vz = -1;
    if (bias) {
      vb = glia_graph_add_value (graph, "b", GLIA_DATA_TYPE_FLOAT, 1, DIMS (s->m), NULL);
      g_autoptr (GBytes) bbytes = g_bytes_new (b, (gsize)s->m * sizeof (float));
      g_assert_true (glia_graph_value_set_constant (graph, vb, GLIA_DATA_TYPE_FLOAT, 1, DIMS (s->m),
                                                    bbytes, NULL));
    }
    if (residual) {
      vz = glia_graph_add_value (graph, "z", GLIA_DATA_TYPE_FLOAT, (gint)rank, dy, NULL);
      glia_graph_add_input (graph, vz);
      g_hash_table_insert (feeds, "z", tf32 (rank, dy, z));
    }
    gint vy = glia_graph_add_value (graph, "y", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
    glia_graph_add_output (graph, vy);
    gint in[4] = { vx, vw, vb, vz };
    guint n_in = fused ? (residual ? 4 : 3) : (bias ? 3 : 2);
    gint node = glia_graph_add_node (graph, fused ? "FusedConv" : "Conv", fused ? "com.glia" : "",
                                     "conv", n_in, in, 1, &vy);
    if (one_d) {
      glia_graph_node_set_attr_ints (graph, node, "strides", DIMS (s->sw), 1);
      glia_graph_node_set_attr_ints (graph, node, "dilations", DIMS (s->dw), 1);
      glia_graph_node_set_attr_ints (graph, node, "pads", DIMS (s->pl, s->pr), 2);
    } else {
      glia_graph_node_set_attr_ints (graph, node, "strides", DIMS (s->sh, s->sw), 2);
      glia_graph_node_set_attr_ints (graph, node, "dilations", DIMS (s->dh, s->dw), 2);
      glia_graph_node_set_attr_ints (graph, node, "pads", DIMS (s->pt, s->pl, s->pb, s->pr), 4);
    }
    glia_graph_node_set_attr_int (graph, node, "group", s->group);
    if (act->name) {
      glia_graph_node_set_attr_string (graph, node, "activation", act->name, strlen (act->name));
      if (act->n_params)
        glia_graph_node_set_attr_floats (graph, node, "activation_params", act->params,
                                         act->n_params);
    }

    g_autoptr (GError) error = NULL;
    g_autoptr (GliaModel) model = glia_model_new_from_graph (graph, &error);
    g_assert_no_error (error);
    g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
    glia_session_options_set_providers (opts, (const char *[]){ "cpu", NULL });
    glia_session_options_set_threads (opts, threads);
    g_autoptr (GliaSession) session = glia_session_new_full (model, opts, registry, &error);
    g_assert_no_error (error);
    g_autoptr (GHashTable) out = glia_session_run (session, feeds, &error);
    g_assert_no_error (error);
    GliaTensor *t = g_hash_table_lookup (out, "y");
    g_assert_nonnull (t);
    guint r = 0;
    const gint64 *d = glia_tensor_get_shape (t, &r);
    g_assert_cmpuint (r, ==, rank);
    g_assert_cmpmem (d, rank * sizeof (gint64), dy, rank * sizeof (gint64));
    const float *v = glia_tensor_peek_data (t, NULL);
    for (gsize i = 0; i < ny; i++) {
      double tol = 1e-4 * MAX (1.0, fabs (expected[i]));
      if (!(fabs (v[i] - expected[i]) <= tol))
        g_error ("%s (act %s, B %d, Z %d, %u threads) element %" G_GSIZE_FORMAT
                 ": got %.7g, expected %.7g",
                 fused ? "FusedConv" : "Conv", act->name ? act->name : "none", bias, residual,
                 threads, i, v[i], expected[i]);
    }
  }
}

static const Act no_act = { NULL, 0, { 0, 0 } };

/* Shapes for each strategy of cpu-conv.c. */
static const ConvSpec conv_paths[] = {
  /* 1x1, unit strides, no pads: SGEMM on X, batch 2 */
  { 2, 8, 5, 7, 6, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  /* 1x1 over several column tiles (K + M large) */
  { 1, 300, 40, 40, 200, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
  /* 1x1 with stride 2 (im2col) */
  { 1, 8, 9, 9, 4, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1 },
  /* 3x3 padded, several tiles, batch 2 */
  { 2, 64, 36, 36, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
  /* strided 7x7 like a stem, asymmetric pads */
  { 1, 3, 23, 21, 8, 7, 7, 2, 2, 1, 1, 3, 2, 1, 3, 1 },
  /* dilated, stride 1 */
  { 1, 4, 12, 11, 5, 3, 3, 1, 1, 2, 3, 2, 1, 0, 3, 1 },
  /* grouped: 2 groups */
  { 2, 6, 8, 9, 4, 3, 2, 1, 2, 1, 1, 1, 0, 1, 1, 2 },
  /* grouped with channel multiplier 2 (group == C, M == 2C: not depthwise) */
  { 1, 4, 7, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4 },
  /* depthwise 3x3 stride 1 pad 1, batch 2 */
  { 2, 5, 9, 10, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5 },
  /* depthwise 3x3 stride 2 pad 1 (odd and even sizes) */
  { 1, 6, 11, 12, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6 },
  /* depthwise 5x5 stride 2 pad 2 */
  { 1, 3, 14, 13, 3, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 3 },
  /* depthwise 5x5 stride 1, asymmetric pads */
  { 1, 2, 9, 8, 2, 5, 5, 1, 1, 1, 1, 0, 3, 2, 1, 2 },
  /* depthwise dilated 3x3, stride 3 in x */
  { 1, 3, 10, 13, 3, 3, 3, 1, 3, 2, 2, 2, 2, 2, 2, 3 },
  /* depthwise 1x4 (neither 3x3 nor 5x5), wide pads */
  { 1, 4, 6, 9, 4, 1, 4, 1, 1, 1, 1, 0, 3, 0, 4, 4 },
  /* depthwise with a kernel larger than the input, all pads */
  { 1, 2, 2, 3, 2, 3, 5, 1, 1, 1, 1, 2, 3, 2, 3, 2 },
};

static void
test_conv_paths (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (conv_paths); i++) {
    check_conv_full (&conv_paths[i], TRUE, FALSE, &no_act, FALSE);
    check_conv_full (&conv_paths[i], FALSE, FALSE, &no_act, FALSE);
  }
}

static void
test_conv_1d (void)
{
  /* general, pointwise and depthwise 1-D */
  check_conv_full (&(ConvSpec){ 2, 3, 1, 17, 4, 1, 3, 1, 2, 1, 2, 0, 1, 0, 2, 1 }, TRUE, FALSE,
                   &no_act, TRUE);
  check_conv_full (&(ConvSpec){ 1, 5, 1, 9, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 }, TRUE, FALSE,
                   &no_act, TRUE);
  check_conv_full (&(ConvSpec){ 1, 4, 1, 15, 4, 1, 5, 1, 2, 1, 1, 0, 2, 0, 2, 4 }, TRUE, FALSE,
                   &no_act, TRUE);
}

static const Act activations[] = {
  { NULL, 0, { 0, 0 } },           { "Relu", 0, { 0, 0 } },
  { "LeakyRelu", 1, { 0.1f, 0 } }, { "Clip", 2, { 0.0f, 6.0f } },
  { "Clip", 2, { -1.5f, 0.5f } },  { "HardSigmoid", 2, { 0.3f, 0.4f } },
  { "HardSwish", 0, { 0, 0 } },    { "Sigmoid", 0, { 0, 0 } },
  { "Tanh", 0, { 0, 0 } },
};

static void
test_fused_conv (void)
{
  /* pointwise, im2col and depthwise */
  const ConvSpec specs[] = {
    { 1, 8, 5, 7, 6, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 },
    { 2, 3, 9, 8, 4, 3, 3, 2, 1, 1, 1, 1, 1, 0, 1, 1 },
    { 1, 6, 9, 8, 6, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 6 },
  };
  for (guint s = 0; s < G_N_ELEMENTS (specs); s++)
    for (guint a = 0; a < G_N_ELEMENTS (activations); a++)
      for (guint bz = 0; bz < 4; bz++)
        check_conv_full (&specs[s], bz & 1, (bz & 2) != 0, &activations[a], FALSE);
}

/* Default parameters of LeakyRelu, Clip and HardSigmoid when
 * activation_params is absent. */
static void
test_fused_conv_defaults (void)
{
  const ConvSpec s = { 1, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
  check_conv_full (&s, TRUE, FALSE, &(Act){ "LeakyRelu", 0, { 0.01f, 0 } }, FALSE);
  check_conv_full (&s, TRUE, FALSE, &(Act){ "HardSigmoid", 0, { 0.2f, 0.5f } }, FALSE);
  check_conv_full (&s, TRUE, FALSE, &(Act){ "Clip", 0, { -INFINITY, INFINITY } }, FALSE);
}

/* Builds a FusedConv with @activation / @n_params params and @z_dims for Z
 * (NULL: no Z) and expects session creation or the run to fail with a
 * message containing @what. */
static void
check_fused_fails (const char *activation, guint n_params, const gint64 *z_dims, const char *what)
{
  g_autoptr (GliaGraph) graph = glia_graph_new ();
  glia_graph_set_opset (graph, "", 13);
  glia_graph_set_opset (graph, "com.glia", 1);
  g_autoptr (GHashTable) feeds
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  float data[2 * 4 * 4] = { 0 };
  gint vx = glia_graph_add_value (graph, "x", GLIA_DATA_TYPE_FLOAT, 4, DIMS (1, 2, 4, 4), NULL);
  glia_graph_add_input (graph, vx);
  g_hash_table_insert (feeds, "x", tf32 (4, DIMS (1, 2, 4, 4), data));
  gint vw = glia_graph_add_value (graph, "w", GLIA_DATA_TYPE_FLOAT, 4, DIMS (2, 2, 1, 1), NULL);
  glia_graph_add_input (graph, vw);
  g_hash_table_insert (feeds, "w", tf32 (4, DIMS (2, 2, 1, 1), data));
  gint vz = -1;
  if (z_dims) {
    vz = glia_graph_add_value (graph, "z", GLIA_DATA_TYPE_FLOAT, 4, z_dims, NULL);
    glia_graph_add_input (graph, vz);
    g_hash_table_insert (feeds, "z", tf32 (4, z_dims, data));
  }
  gint vy = glia_graph_add_value (graph, "y", GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
  glia_graph_add_output (graph, vy);
  gint in[4] = { vx, vw, -1, vz };
  gint node
      = glia_graph_add_node (graph, "FusedConv", "com.glia", "fc", z_dims ? 4 : 2, in, 1, &vy);
  if (activation)
    glia_graph_node_set_attr_string (graph, node, "activation", activation, strlen (activation));
  if (n_params)
    glia_graph_node_set_attr_floats (graph, node, "activation_params", (float[]){ 1, 2, 3 },
                                     n_params);

  g_autoptr (GError) error = NULL;
  g_autoptr (GliaModel) model = glia_model_new_from_graph (graph, &error);
  g_autoptr (GliaSessionOptions) opts = glia_session_options_new ();
  glia_session_options_set_providers (opts, (const char *[]){ "cpu", NULL });
  g_autoptr (GliaSession) session = NULL;
  g_autoptr (GHashTable) out = NULL;
  if (model)
    session = glia_session_new_full (model, opts, registry, &error);
  if (session)
    out = glia_session_run (session, feeds, &error);
  g_assert_null (out);
  g_assert_nonnull (error);
  if (strstr (error->message, what) == NULL)
    g_error ("message '%s' does not contain '%s'", error->message, what);
}

static void
test_fused_conv_errors (void)
{
  check_fused_fails ("Gelu", 0, NULL, "unknown activation 'Gelu'");
  check_fused_fails ("Clip", 3, NULL, "activation 'Clip' takes 2");
  check_fused_fails ("Relu", 1, NULL, "activation 'Relu' takes 0");
  check_fused_fails (NULL, 1, NULL, "without 'activation'");
  check_fused_fails ("Relu", 0, DIMS (1, 2, 4, 3), "Z");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  registry = glia_registry_new ();
  g_autofree char *plugins = g_build_filename (g_getenv ("GLIA_BUILD_ROOT"), "plugins", NULL);
  glia_registry_add_search_path (registry, plugins);
  g_assert_true (glia_registry_scan (registry, NULL));

  g_test_add_func ("/cpu/conv/paths", test_conv_paths);
  g_test_add_func ("/cpu/conv/1d", test_conv_1d);
  g_test_add_func ("/cpu/conv/fused", test_fused_conv);
  g_test_add_func ("/cpu/conv/fused-defaults", test_fused_conv_defaults);
  g_test_add_func ("/cpu/conv/fused-errors", test_fused_conv_errors);
  return g_test_run ();
}
