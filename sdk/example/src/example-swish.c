/* example-swish.c: org.example.glia::Swish, Y = X * sigmoid(beta * X).
 *
 * Attribute beta (float, default 1.0; beta = 1 is SiLU). One input, one
 * output of the same type and shape; float32 and float64. The kernel is
 * elementwise, so it splits the flat element range over the session's
 * threads with glia_kernel_context_parallel_for().
 */
#include "example-ops.h"

#include <math.h>

/* Per-node state, made once when the session is compiled and only read
 * while running (compute may run concurrently on several threads). */
typedef struct
{
  double beta;
} Swish;

/* Elements per parallel chunk: below this, threads cost more than they save. */
#define SWISH_GRAIN 16384

static gboolean
swish_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  if (glia_shape_context_get_n_inputs (ctx) != 1 || !glia_shape_context_has_input (ctx, 0)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL, "Swish takes exactly one input");
    return FALSE;
  }
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  /* The type may still be unknown here; compute checks it again. */
  if (dtype != GLIA_DATA_TYPE_UNDEFINED && !example_check_dtype ("Swish", dtype, error))
    return FALSE;
  glia_shape_context_set_output (ctx, 0, dtype, glia_shape_context_get_input_rank (ctx, 0),
                                 glia_shape_context_get_input_dims (ctx, 0));
  return TRUE;
}

static gpointer
swish_create (const GliaGraph *graph, gint node, GError **error)
{
  float beta = glia_graph_node_get_attr_float (graph, node, "beta", 1.0f);
  if (!isfinite (beta)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                 "Swish: attribute beta must be finite");
    return NULL;
  }
  Swish *swish = g_new (Swish, 1);
  swish->beta = beta;
  return swish;
}

typedef struct
{
  const Swish *swish;
  const GliaTensorView *x;
  GliaTensorView *y;
} SwishRun;

static void
swish_chunk (gsize begin, gsize end, gpointer user_data)
{
  const SwishRun *run = user_data;
  if (run->x->dtype == GLIA_DATA_TYPE_FLOAT) {
    const float *x = run->x->data;
    float *y = run->y->data;
    float beta = (float)run->swish->beta;
    for (gsize i = begin; i < end; i++)
      y[i] = x[i] / (1.0f + expf (-beta * x[i]));
  } else {
    const double *x = run->x->data;
    double *y = run->y->data;
    double beta = run->swish->beta;
    for (gsize i = begin; i < end; i++)
      y[i] = x[i] / (1.0 + exp (-beta * x[i]));
  }
}

static gboolean
swish_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = glia_kernel_context_get_input (ctx, 0);
  if (x == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "Swish: input X is missing");
    return FALSE;
  }
  if (!example_check_dtype ("Swish", x->dtype, error))
    return FALSE;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  SwishRun run = { state, x, y };
  glia_kernel_context_parallel_for (ctx, x->n_elements, SWISH_GRAIN, swish_chunk, &run);
  return TRUE;
}

const GliaOpDef example_swish_op = {
  .struct_size = sizeof (GliaOpDef),
  .domain = EXAMPLE_DOMAIN,
  .name = "Swish",
  .since_version = 1,
  .until_version = G_MAXINT,
  .dtypes = EXAMPLE_DTYPES,
  .infer_shapes = swish_infer_shapes,
  .create = swish_create,
  .compute = swish_compute,
  .destroy = g_free,
};
