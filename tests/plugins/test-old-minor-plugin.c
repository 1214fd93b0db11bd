/* test-old-minor-plugin.c: a plugin compiled only against the frozen copy of
 * the plugin ABI 1.0 headers (tests/plugins/abi-1.0/), never against
 * plugin-api/. It stands for a third-party plugin built for an older host:
 * the current host, whatever minor it implements now, must load it and run
 * its features.
 *
 * It registers a provider "oldminor" (CPU memory) that runs Neg, and an op
 * set "com.glia.test.old" with Affine (y = alpha * x + beta, float
 * attributes alpha and beta, per-node state made by create()). */
#include <glia-plugin.h>

#if GLIA_PLUGIN_ABI_MAJOR != 1 || GLIA_PLUGIN_ABI_MINOR != 0
#error "test-old-minor-plugin.c must be compiled against tests/plugins/abi-1.0/, not plugin-api/"
#endif

static gboolean
same_shape_infer (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0),
                                 glia_shape_context_get_input_rank (ctx, 0),
                                 glia_shape_context_get_input_dims (ctx, 0));
  return TRUE;
}

typedef struct
{
  float alpha, beta;
} Affine;

static gpointer
affine_create (const GliaGraph *graph, gint node, GError **error)
{
  Affine *a = g_new (Affine, 1);
  a->alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 1.0f);
  a->beta = glia_graph_node_get_attr_float (graph, node, "beta", 0.0f);
  return a;
}

static gboolean
affine_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const Affine *a = state;
  const GliaTensorView *x = glia_kernel_context_get_input (ctx, 0);
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  for (gsize i = 0; i < x->n_elements; i++)
    ((float *)y->data)[i] = a->alpha * ((const float *)x->data)[i] + a->beta;
  return TRUE;
}

static const GliaOpDef affine = {
  .struct_size = sizeof (GliaOpDef),
  .domain = "com.glia.test.old",
  .name = "Affine",
  .since_version = 1,
  .until_version = G_MAXINT,
  .dtypes = GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT),
  .infer_shapes = same_shape_infer,
  .create = affine_create,
  .compute = affine_compute,
  .destroy = g_free,
};

static gboolean
neg_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = glia_kernel_context_get_input (ctx, 0);
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  for (gsize i = 0; i < x->n_elements; i++)
    ((float *)y->data)[i] = -((const float *)x->data)[i];
  return TRUE;
}

static const GliaOpDef neg = {
  .struct_size = sizeof (GliaOpDef),
  .domain = "",
  .name = "Neg",
  .since_version = 1,
  .until_version = G_MAXINT,
  .dtypes = GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT),
  .infer_shapes = same_shape_infer,
  .compute = neg_compute,
};

static gpointer
provider_create (const GliaProviderConfig *config, GError **error)
{
  GliaOpTable *table = glia_op_table_new ();
  glia_op_table_add (table, &neg);
  return table;
}

static void
provider_destroy (gpointer instance)
{
  glia_op_table_free (instance);
}

static gboolean
provider_get_capability (gpointer instance, const GliaGraph *graph, GliaCapability *cap,
                         GError **error)
{
  return glia_op_table_get_capability (instance, graph, cap);
}

static gboolean
provider_compile (gpointer instance, const GliaGraph *graph, const gint *nodes, guint n_nodes,
                  GliaKernel *kernel, GError **error)
{
  if (n_nodes != 1) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "one node per claim");
    return FALSE;
  }
  return glia_op_table_compile (instance, graph, nodes[0], kernel, error);
}

static const GliaOpDef *
provider_lookup_op (gpointer instance, const GliaGraph *graph, gint node)
{
  return glia_op_table_find (instance, graph, node);
}

static const char *const no_options[] = { NULL };

static const GliaProviderInfo provider = {
  .struct_size = sizeof (GliaProviderInfo),
  .name = "oldminor",
  .description = "test provider built against plugin ABI 1.0 (Neg)",
  .device_type = GLIA_DEVICE_TYPE_CPU,
  .rank = 0,
  .option_keys = no_options,
  .create = provider_create,
  .destroy = provider_destroy,
  .get_capability = provider_get_capability,
  .compile = provider_compile,
  .lookup_op = provider_lookup_op,
};

static const GliaOpDef *const ops[] = { &affine };

static gboolean
plugin_init (GliaPlugin *plugin, GError **error)
{
  return glia_plugin_register_provider (plugin, &provider, error)
         && glia_plugin_register_op_set (plugin, "com.glia.test.old", ops, G_N_ELEMENTS (ops),
                                         error);
}

GLIA_PLUGIN_DEFINE ("test-old-minor", "Built against plugin ABI 1.0", "1.0", "LGPL-2.1-or-later",
                    "0.1.0", plugin_init)
