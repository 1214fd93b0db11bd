/* test-custom-ops.c: a custom-operator plugin: com.glia.test.Twice (y = 2x)
 * for float32 and int64, with shape inference, and com.glia.test.SameData
 * (y = [1] when its two inputs share their memory, else [0]), which shows
 * the session's reshape views. */
#include <glia-plugin.h>

static gboolean
twice_infer (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0),
                                 glia_shape_context_get_input_rank (ctx, 0),
                                 glia_shape_context_get_input_dims (ctx, 0));
  return TRUE;
}

static gboolean
twice_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = glia_kernel_context_get_input (ctx, 0);
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  for (gsize i = 0; i < x->n_elements; i++)
    if (x->dtype == GLIA_DATA_TYPE_FLOAT)
      ((float *)y->data)[i] = 2 * ((const float *)x->data)[i];
    else
      ((gint64 *)y->data)[i] = 2 * ((const gint64 *)x->data)[i];
  return TRUE;
}

static const GliaOpDef twice = {
  .struct_size = sizeof (GliaOpDef),
  .domain = "com.glia.test",
  .name = "Twice",
  .since_version = 1,
  .until_version = G_MAXINT,
  .dtypes = GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64),
  .infer_shapes = twice_infer,
  .compute = twice_compute,
};

static gboolean
same_data_infer (GliaShapeContext *ctx, GError **error)
{
  gint64 one = 1;
  glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_FLOAT, 1, &one);
  return TRUE;
}

static gboolean
same_data_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *a = glia_kernel_context_get_input (ctx, 0);
  const GliaTensorView *b = glia_kernel_context_get_input (ctx, 1);
  gint64 one = 1;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_FLOAT, 1, &one, error);
  if (y == NULL)
    return FALSE;
  *(float *)y->data = a && b && a->data == b->data ? 1.0f : 0.0f;
  return TRUE;
}

static const GliaOpDef same_data = {
  .struct_size = sizeof (GliaOpDef),
  .domain = "com.glia.test",
  .name = "SameData",
  .since_version = 1,
  .until_version = G_MAXINT,
  .dtypes = GLIA_DTYPES_ALL,
  .infer_shapes = same_data_infer,
  .compute = same_data_compute,
};

static const GliaOpDef *const ops[] = { &twice, &same_data };

static gboolean
plugin_init (GliaPlugin *plugin, GError **error)
{
  return glia_plugin_register_op_set (plugin, "com.glia.test", ops, G_N_ELEMENTS (ops), error);
}

GLIA_PLUGIN_DEFINE ("test-custom-ops", "Custom operators com.glia.test.Twice and SameData", "1.0",
                    "LGPL-2.1-or-later", "0.1.0", plugin_init)
