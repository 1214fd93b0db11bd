/* cpu-training.c: the optimizers of the ai.onnx.preview.training domain
 * (opset 1): Adagrad, Adam and Momentum (standard and Nesterov).
 *
 * Each node updates k tensors at once. Its inputs are the learning rate R,
 * the update count T, then k tensors per group (Adagrad: X, G, H; Adam: X, G,
 * V, H; Momentum: X, G, V), and its outputs k tensors per updated group
 * (Adagrad: X, H; Adam: X, V, H; Momentum: X, V). Every tensor of a group
 * position has its X's shape; the update is elementwise, computed in double
 * a block at a time and written in the tensors' own float type.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <string.h>

#define TRAINING_DOMAIN "ai.onnx.preview.training"
#define DTYPES_FLOAT                                                                               \
  (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_DOUBLE))
#define MAX_GROUPS 4
#define BLOCK      256

typedef enum
{
  OPT_ADAGRAD,
  OPT_ADAM,
  OPT_MOMENTUM,
  OPT_NESTEROV,
} OptimizerKind;

typedef struct
{
  OptimizerKind kind;
  double norm_coefficient;
  double norm_coefficient_post; /* Adam */
  double epsilon;               /* Adagrad, Adam */
  double decay_factor;          /* Adagrad */
  double alpha, beta;           /* Adam, Momentum */
} OptimizerState;

/* Input groups per tensor, and which of them the output groups update. */
static const struct
{
  guint n_in;
  guint n_out;
  guint out_from[MAX_GROUPS];
} layouts[] = {
  [OPT_ADAGRAD] = { 3, 2, { 0, 2 } },
  [OPT_ADAM] = { 4, 3, { 0, 2, 3 } },
  [OPT_MOMENTUM] = { 3, 2, { 0, 2 } },
  [OPT_NESTEROV] = { 3, 2, { 0, 2 } },
};

static gboolean
get_float_attr (const GliaGraph *graph, gint node, const char *name, gboolean required,
                double default_value, double *out, GError **error)
{
  if (!glia_graph_node_has_attr (graph, node, name)) {
    if (required) {
      cpu_node_error (error, graph, node, "attribute '%s' (a float) is required", name);
      return FALSE;
    }
    *out = default_value;
    return TRUE;
  }
  *out = glia_graph_node_get_attr_float (graph, node, name, (float)default_value);
  if (!isfinite (*out)) {
    cpu_node_error (error, graph, node, "attribute '%s' must be finite", name);
    return FALSE;
  }
  return TRUE;
}

static gboolean
optimizer_parse (const GliaGraph *graph, gint node, OptimizerState *s, GError **error)
{
  const char *op = glia_graph_node_get_op_type (graph, node);
  memset (s, 0, sizeof *s);
  if (g_str_equal (op, "Adagrad")) {
    s->kind = OPT_ADAGRAD;
    if (!get_float_attr (graph, node, "norm_coefficient", FALSE, 0.0, &s->norm_coefficient, error)
        || !get_float_attr (graph, node, "epsilon", FALSE, 1e-6, &s->epsilon, error)
        || !get_float_attr (graph, node, "decay_factor", FALSE, 0.0, &s->decay_factor, error))
      return FALSE;
  } else if (g_str_equal (op, "Adam")) {
    s->kind = OPT_ADAM;
    if (!get_float_attr (graph, node, "norm_coefficient", FALSE, 0.0, &s->norm_coefficient, error)
        || !get_float_attr (graph, node, "norm_coefficient_post", FALSE, 0.0,
                            &s->norm_coefficient_post, error)
        || !get_float_attr (graph, node, "epsilon", FALSE, 1e-6, &s->epsilon, error)
        || !get_float_attr (graph, node, "alpha", FALSE, 0.9, &s->alpha, error)
        || !get_float_attr (graph, node, "beta", FALSE, 0.999, &s->beta, error))
      return FALSE;
  } else {
    const char *mode = glia_graph_node_get_attr_string (graph, node, "mode", NULL, NULL);
    if (mode && g_str_equal (mode, "standard"))
      s->kind = OPT_MOMENTUM;
    else if (mode && g_str_equal (mode, "nesterov"))
      s->kind = OPT_NESTEROV;
    else {
      cpu_node_error (error, graph, node,
                      "attribute 'mode' must be 'standard' or 'nesterov', got '%s'",
                      mode ? mode : "(none)");
      return FALSE;
    }
    if (!get_float_attr (graph, node, "norm_coefficient", TRUE, 0.0, &s->norm_coefficient, error)
        || !get_float_attr (graph, node, "alpha", TRUE, 0.0, &s->alpha, error)
        || !get_float_attr (graph, node, "beta", TRUE, 0.0, &s->beta, error))
      return FALSE;
  }

  guint n_in = glia_graph_node_get_n_inputs (graph, node);
  guint n_out = glia_graph_node_get_n_outputs (graph, node);
  guint groups = layouts[s->kind].n_in;
  if (n_in < 2 + groups || (n_in - 2) % groups != 0) {
    cpu_node_error (error, graph, node,
                    "has %u inputs: expected R, T and %u tensors per optimized tensor", n_in,
                    groups);
    return FALSE;
  }
  guint k = (n_in - 2) / groups;
  if (n_out > k * layouts[s->kind].n_out) {
    cpu_node_error (error, graph, node, "has %u outputs for %u optimized tensors (at most %u)",
                    n_out, k, k * layouts[s->kind].n_out);
    return FALSE;
  }
  return TRUE;
}

static gpointer
optimizer_create (const GliaGraph *graph, gint node, GError **error)
{
  OptimizerState s;
  if (!optimizer_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
optimizer_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  OptimizerState s;
  if (!optimizer_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s,
                        error))
    return FALSE;
  guint k = (glia_shape_context_get_n_inputs (ctx) - 2) / layouts[s.kind].n_in;
  guint n_out = glia_shape_context_get_n_outputs (ctx);
  for (guint o = 0; o < n_out; o++) {
    guint in = 2 + layouts[s.kind].out_from[o / k] * k + o % k;
    cpu_infer_like_input (ctx, o, in, glia_shape_context_get_input_dtype (ctx, in));
  }
  return TRUE;
}

/* One block of the update: in[g] are the input groups' values, out[g] the
 * output groups'. */
static void
update_block (const OptimizerState *s, double r, gint64 t, gsize n, double (*in)[BLOCK],
              double (*out)[BLOCK])
{
  double nc = s->norm_coefficient;
  switch (s->kind) {
  case OPT_ADAGRAD: {
    double rate = r / (1.0 + (double)t * s->decay_factor);
    for (gsize i = 0; i < n; i++) {
      double x = in[0][i], g = nc * x + in[1][i];
      double h = in[2][i] + g * g;
      out[0][i] = x - rate * g / (sqrt (h) + s->epsilon);
      out[1][i] = h;
    }
    break;
  }
  case OPT_ADAM: {
    double rate = r;
    if (t > 0)
      rate = r * sqrt (1.0 - pow (s->beta, (double)t)) / (1.0 - pow (s->alpha, (double)t));
    for (gsize i = 0; i < n; i++) {
      double x = in[0][i], g = nc * x + in[1][i];
      double v = s->alpha * in[2][i] + (1.0 - s->alpha) * g;
      double h = s->beta * in[3][i] + (1.0 - s->beta) * g * g;
      double x_new = x - rate * v / (sqrt (h) + s->epsilon);
      out[0][i] = (1.0 - s->norm_coefficient_post) * x_new;
      out[1][i] = v;
      out[2][i] = h;
    }
    break;
  }
  case OPT_MOMENTUM:
  case OPT_NESTEROV: {
    /* the gradient's coefficient is 1 on the first update */
    double beta = t > 0 ? s->beta : 1.0;
    for (gsize i = 0; i < n; i++) {
      double x = in[0][i], g = nc * x + in[1][i];
      double v = s->alpha * in[2][i] + beta * g;
      out[0][i] = s->kind == OPT_NESTEROV ? x - r * (g + s->alpha * v) : x - r * v;
      out[1][i] = v;
    }
    break;
  }
  }
}

static gboolean
optimizer_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const OptimizerState *s = state;
  guint n_in = layouts[s->kind].n_in, n_out = layouts[s->kind].n_out;
  guint k = (glia_kernel_context_get_n_inputs (ctx) - 2) / n_in;
  const GliaTensorView *rv = cpu_require_input (ctx, 0, error);
  const GliaTensorView *tv = rv ? cpu_require_input (ctx, 1, error) : NULL;
  double r;
  gint64 t;
  gsize count = 0;

  if (tv == NULL)
    return FALSE;
  if (rv->n_elements != 1
      || !(rv->dtype == GLIA_DATA_TYPE_FLOAT || rv->dtype == GLIA_DATA_TYPE_DOUBLE)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "R must be a float or double scalar");
    return FALSE;
  }
  if (tv->n_elements != 1 || !cpu_view_get_ints (tv, &t, 1, &count)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "T must be an int64 scalar");
    return FALSE;
  }
  cpu_load_doubles (rv->dtype, rv->data, &r, 1);

  for (guint j = 0; j < k; j++) {
    const GliaTensorView *in[MAX_GROUPS];
    GliaTensorView *out[MAX_GROUPS] = { NULL };
    for (guint g = 0; g < n_in; g++) {
      in[g] = cpu_require_input (ctx, 2 + g * k + j, error);
      if (in[g] == NULL)
        return FALSE;
      if (in[g]->dtype != GLIA_DATA_TYPE_FLOAT && in[g]->dtype != GLIA_DATA_TYPE_DOUBLE) {
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                          "input %u is %s: the optimized tensors must be float or double",
                          2 + g * k + j, glia_data_type_get_name (in[g]->dtype));
        return FALSE;
      }
      if (in[g]->rank != in[0]->rank
          || memcmp (in[g]->dims, in[0]->dims, in[0]->rank * sizeof (gint64)) != 0) {
        g_autofree char *a = cpu_dims_to_string (in[0]->rank, in[0]->dims);
        g_autofree char *b = cpu_dims_to_string (in[g]->rank, in[g]->dims);
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                          "input %u has shape %s, its tensor (input %u) %s", 2 + g * k + j, b,
                          2 + j, a);
        return FALSE;
      }
    }
    for (guint g = 0; g < n_out; g++) {
      guint o = g * k + j;
      if (!cpu_kernel_has_output (ctx, o))
        continue;
      const GliaTensorView *like = in[layouts[s->kind].out_from[g]];
      out[g] = glia_kernel_context_allocate_output (ctx, o, like->dtype, like->rank, like->dims,
                                                    error);
      if (out[g] == NULL)
        return FALSE;
    }

    double in_buf[MAX_GROUPS][BLOCK], out_buf[MAX_GROUPS][BLOCK];
    gsize n = in[0]->n_elements;
    for (gsize i = 0; i < n; i += BLOCK) {
      gsize m = MIN (BLOCK, n - i);
      for (guint g = 0; g < n_in; g++)
        cpu_load_doubles (in[g]->dtype,
                          (const guint8 *)in[g]->data + i * glia_data_type_get_size (in[g]->dtype),
                          in_buf[g], m);
      update_block (s, r, t, m, in_buf, out_buf);
      for (guint g = 0; g < n_out; g++)
        if (out[g])
          cpu_store_doubles (out[g]->dtype, out_buf[g],
                             (guint8 *)out[g]->data + i * glia_data_type_get_size (out[g]->dtype),
                             m);
    }
  }
  return TRUE;
}

#define OPTIMIZER_DEF(NAME)                                                                        \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = TRAINING_DOMAIN, .name = NAME,                    \
    .since_version = 1, .until_version = G_MAXINT, .dtypes = DTYPES_FLOAT,                         \
    .infer_shapes = optimizer_infer_shapes, .create = optimizer_create,                            \
    .compute = optimizer_compute, .destroy = g_free,                                               \
  }

static const GliaOpDef training_ops[] = {
  OPTIMIZER_DEF ("Adagrad"),
  OPTIMIZER_DEF ("Adam"),
  OPTIMIZER_DEF ("Momentum"),
};

void
cpu_training_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (training_ops); i++)
    glia_op_table_add (table, &training_ops[i]);
}
