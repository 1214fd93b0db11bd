/* my-ops.c: a Glia custom-operator plugin with one operator,
 * com.example.myops::Scale (Y = alpha * X, float32). Replace it with yours;
 * docs/custom-ops.md in Glia explains every field, and sdk/example is a
 * complete plugin with tests.
 */
#include <glia-plugin.h>

#define MY_DOMAIN "com.example.myops" /* TODO: your own reverse-DNS domain */

/* Shape inference: the output's type and shape from the inputs' (either may
 * be unknown: rank -1, dims -1). Without it the host cannot plan memory. */
static gboolean
scale_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0),
                                 glia_shape_context_get_input_rank (ctx, 0),
                                 glia_shape_context_get_input_dims (ctx, 0));
  return TRUE;
}

/* Per-node state from the node's attributes, made once per session; compute
 * only reads it (several runs may use it at once). */
static gpointer
scale_create (const GliaGraph *graph, gint node, GError **error)
{
  float *alpha = g_new (float, 1);
  *alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 1.0f);
  return alpha;
}

typedef struct
{
  float alpha;
  const float *x;
  float *y;
} ScaleRun;

static void
scale_chunk (gsize begin, gsize end, gpointer user_data)
{
  const ScaleRun *run = user_data;
  for (gsize i = begin; i < end; i++)
    run->y[i] = run->alpha * run->x[i];
}

static gboolean
scale_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = glia_kernel_context_get_input (ctx, 0);
  if (x == NULL || x->dtype != GLIA_DATA_TYPE_FLOAT) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "Scale: X must be float32");
    return FALSE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  ScaleRun run = { *(const float *)state, x->data, y->data };
  glia_kernel_context_parallel_for (ctx, x->n_elements, 16384, scale_chunk, &run);
  return TRUE;
}

static const GliaOpDef scale_op = {
  .struct_size = sizeof (GliaOpDef),
  .domain = MY_DOMAIN,
  .name = "Scale",
  .since_version = 1,
  .until_version = G_MAXINT,
  .dtypes = GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT),
  .infer_shapes = scale_infer_shapes,
  .create = scale_create,
  .compute = scale_compute,
  .destroy = g_free,
};

static const GliaOpDef *const my_ops[] = { &scale_op };

static gboolean
my_plugin_init (GliaPlugin *plugin, GError **error)
{
  return glia_plugin_register_op_set (plugin, MY_DOMAIN, my_ops, G_N_ELEMENTS (my_ops), error);
}

/* name (unique among plugins), description, version, license, oldest Glia
 * it works with, init */
GLIA_PLUGIN_DEFINE ("my-glia-ops", "My custom operators", "0.1.0", "MIT", "0.1.0", my_plugin_init)
