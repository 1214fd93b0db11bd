/* cpu-loss.c: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
 * (reductions none / sum / mean, class weights, ignore_index, any number of
 * spatial dims, the log-probabilities as an optional output).
 *
 * Kernels work on "lanes": an input seen as [outer, C, inner] has outer *
 * inner independent lanes of C scores, split across threads. Float types
 * (float16 and bfloat16 included) are read and written through double, and
 * the losses accumulate in double.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <string.h>

#define DTYPES_FLOAT GLIA_DTYPES_FLOATS
#define DTYPES_INDEX (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64))

/* ======================================================================== */
/* NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss                       */
/* ======================================================================== */

typedef enum
{
  LOSS_NONE,
  LOSS_SUM,
  LOSS_MEAN,
} LossReduction;

typedef struct
{
  gboolean softmax; /* SoftmaxCrossEntropyLoss: log-softmax over C first */
  LossReduction reduction;
  gboolean has_ignore;
  gint64 ignore_index;
} LossState;

static gboolean
loss_parse (const GliaGraph *graph, gint node, LossState *s, GError **error)
{
  static const char *const names[] = { "none", "sum", "mean" };
  gsize len;
  const char *r = glia_graph_node_get_attr_string (graph, node, "reduction", "mean", &len);
  guint i;

  s->softmax = g_str_equal (glia_graph_node_get_op_type (graph, node), "SoftmaxCrossEntropyLoss");
  for (i = 0; i < G_N_ELEMENTS (names); i++)
    if (len == strlen (names[i]) && memcmp (r, names[i], len) == 0)
      break;
  if (i == G_N_ELEMENTS (names)) {
    g_autofree char *shown = g_strndup (r, len);
    cpu_node_error (error, graph, node,
                    "attribute 'reduction' must be 'none', 'sum' or 'mean', got '%s'", shown);
    return FALSE;
  }
  s->reduction = (LossReduction)i;
  s->has_ignore = glia_graph_node_has_attr (graph, node, "ignore_index");
  s->ignore_index = glia_graph_node_get_attr_int (graph, node, "ignore_index", 0);
  return TRUE;
}

static gpointer
loss_create (const GliaGraph *graph, gint node, GError **error)
{
  LossState s;
  if (!loss_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

/* loss: the target's shape for reduction 'none', else a scalar; log_prob
 * (SoftmaxCrossEntropyLoss) like the scores. */
static gboolean
loss_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  LossState s;
  g_autoptr (GError) local = NULL;
  if (!loss_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s,
                   &local)) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  GliaDataType t = glia_shape_context_get_input_dtype (ctx, 0);
  if (s.reduction == LOSS_NONE)
    cpu_infer_like_input (ctx, 0, 1, t);
  else
    glia_shape_context_set_output (ctx, 0, t, 0, NULL);
  if (glia_shape_context_get_n_outputs (ctx) > 1)
    cpu_infer_like_input (ctx, 1, 0, t);
  return TRUE;
}

typedef struct
{
  const LossState *s;
  const GliaTensorView *x;
  const GliaTensorView *target;
  const GliaTensorView *weight;
  gpointer log_prob; /* NULL unless wanted */
  gsize classes;
  gsize spatial;     /* product of the dims after C */
  gpointer loss_out; /* reduction 'none': the output */
  double *loss;      /* otherwise each lane's weighted loss and weight */
  double *weights;
} LossJob;

/* A lane is one (n, d1, ..., dk) position: its C scores lie spatial apart. */
static void
loss_lanes (gsize begin, gsize end, gpointer user_data)
{
  const LossJob *job = user_data;
  const LossState *s = job->s;
  GliaDataType t = job->x->dtype;
  gsize C = job->classes, D = job->spatial;

  for (gsize lane = begin; lane < end; lane++) {
    gsize base = (lane / D) * C * D + lane % D;
    double shift = 0.0; /* log-softmax: max + log (sum (exp (x - max))) */
    if (s->softmax && C > 0) {
      double max = cpu_load_float_at (t, job->x->data, base);
      for (gsize c = 1; c < C; c++)
        max = MAX (max, cpu_load_float_at (t, job->x->data, base + c * D));
      double sum = 0.0;
      for (gsize c = 0; c < C; c++)
        sum += exp (cpu_load_float_at (t, job->x->data, base + c * D) - max);
      shift = max + log (sum);
      if (job->log_prob)
        for (gsize c = 0; c < C; c++)
          cpu_store_float_at (t, job->log_prob, base + c * D,
                              cpu_load_float_at (t, job->x->data, base + c * D) - shift);
    }
    gint64 target = cpu_index_at (job->target, lane);
    double loss = 0.0, w = 0.0;
    if (!(s->has_ignore && target == s->ignore_index)) {
      w = job->weight ? cpu_load_float_at (job->weight->dtype, job->weight->data, (gsize)target)
                      : 1.0;
      loss = -(cpu_load_float_at (t, job->x->data, base + (gsize)target * D) - shift) * w;
    }
    if (job->loss_out)
      cpu_store_float_at (t, job->loss_out, lane, loss);
    else {
      job->loss[lane] = loss;
      job->weights[lane] = w;
    }
  }
}

static gboolean
loss_check_inputs (GliaKernelContext *ctx, const GliaTensorView *x, const GliaTensorView *target,
                   const GliaTensorView *weight, GError **error)
{
  g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
  g_autofree char *dt = cpu_dims_to_string (target->rank, target->dims);

  if (!cpu_check_dtype (ctx, x, DTYPES_FLOAT, "scores", error)
      || !cpu_check_dtype (ctx, target, DTYPES_INDEX, "target", error))
    return FALSE;
  if (x->rank < 2) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "scores must have shape [N, C, d1, ...], got %s", dx);
    return FALSE;
  }
  gboolean ok = target->rank == x->rank - 1 && target->dims[0] == x->dims[0];
  for (guint i = 1; ok && i < target->rank; i++)
    ok = target->dims[i] == x->dims[i + 1];
  if (!ok) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "target %s does not match scores %s (expected [N, d1, ...])", dt, dx);
    return FALSE;
  }
  if (weight && (weight->dtype != x->dtype || weight->rank != 1 || weight->dims[0] != x->dims[1])) {
    g_autofree char *dw = cpu_dims_to_string (weight->rank, weight->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "weight must be a %s vector of the %" G_GINT64_FORMAT " classes, got %s %s",
                      glia_data_type_get_name (x->dtype), x->dims[1],
                      glia_data_type_get_name (weight->dtype), dw);
    return FALSE;
  }
  return TRUE;
}

static gboolean
loss_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const LossState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *target = x ? cpu_require_input (ctx, 1, error) : NULL;
  if (target == NULL)
    return FALSE;
  const GliaTensorView *weight = cpu_optional_input (ctx, 2);
  if (!loss_check_inputs (ctx, x, target, weight, error))
    return FALSE;

  gsize C = (gsize)x->dims[1];
  gsize lanes = target->n_elements;
  for (gsize i = 0; i < lanes; i++) {
    gint64 t = cpu_index_at (target, i);
    if ((s->has_ignore && t == s->ignore_index) || (t >= 0 && (guint64)t < C))
      continue;
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "target value %" G_GINT64_FORMAT " (element %" G_GSIZE_FORMAT
                      ") is not a class in [0, %" G_GSIZE_FORMAT ")",
                      t, i, C);
    return FALSE;
  }

  LossJob job = { s, x, target, weight };
  job.classes = C;
  job.spatial = cpu_numel_range (x->dims, 2, x->rank);
  if (s->softmax && cpu_kernel_has_output (ctx, 1)) {
    GliaTensorView *lp
        = glia_kernel_context_allocate_output (ctx, 1, x->dtype, x->rank, x->dims, error);
    if (lp == NULL)
      return FALSE;
    job.log_prob = lp->data;
  }
  GliaTensorView *out;
  if (s->reduction == LOSS_NONE) {
    out = glia_kernel_context_allocate_output (ctx, 0, x->dtype, target->rank, target->dims, error);
    if (out == NULL)
      return FALSE;
    job.loss_out = out->data;
  } else {
    out = glia_kernel_context_allocate_output (ctx, 0, x->dtype, 0, NULL, error);
    job.loss = glia_kernel_context_get_scratch (ctx, 2 * MAX (lanes, 1) * sizeof (double), error);
    if (out == NULL || job.loss == NULL)
      return FALSE;
    job.weights = job.loss + lanes;
  }
  if (lanes > 0)
    glia_kernel_context_parallel_for (ctx, lanes, MAX (1, CPU_GRAIN / (4 * MAX (C, 1))), loss_lanes,
                                      &job);
  if (s->reduction != LOSS_NONE) {
    double sum = 0.0, wsum = 0.0;
    for (gsize i = 0; i < lanes; i++) {
      sum += job.loss[i];
      wsum += job.weights[i];
    }
    cpu_store_float_at (x->dtype, out->data, 0, s->reduction == LOSS_SUM ? sum : sum / wsum);
  }
  return TRUE;
}

/* ======================================================================== */

static const GliaOpDef loss_ops[] = {
  CPU_OP_DEF ("NegativeLogLikelihoodLoss", 12, G_MAXINT, DTYPES_FLOAT, loss_infer_shapes,
              loss_create, loss_compute),
  CPU_OP_DEF ("SoftmaxCrossEntropyLoss", 12, G_MAXINT, DTYPES_FLOAT, loss_infer_shapes, loss_create,
              loss_compute),
};

void
cpu_loss_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (loss_ops); i++)
    glia_op_table_add (table, &loss_ops[i]);
}
