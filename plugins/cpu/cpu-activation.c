/* cpu-activation.c: the activations of fused kernels (see cpu-activation.h).
 *
 * Every loop is a plain branch-free pass over a float array so that the
 * compiler vectorizes it; the select forms below keep ONNX's NaN behaviour
 * of the corresponding cpu-elementwise.c kernels (Relu and LeakyRelu of NaN
 * give 0 and NaN, Clip passes NaN through).
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-activation.h"

#include "cpu-activation-impl.h"

#include "cpu-private.h"

#include <float.h>
#include <math.h>
#include <string.h>

static const struct
{
  const char *name;
  CpuActivationKind kind;
  guint n_params;
} activations[] = {
  { "Relu", CPU_ACTIVATION_RELU, 0 },
  { "LeakyRelu", CPU_ACTIVATION_LEAKY_RELU, 1 },
  { "Clip", CPU_ACTIVATION_CLIP, 2 },
  { "HardSigmoid", CPU_ACTIVATION_HARD_SIGMOID, 2 },
  { "HardSwish", CPU_ACTIVATION_HARD_SWISH, 0 },
  { "Sigmoid", CPU_ACTIVATION_SIGMOID, 0 },
  { "Tanh", CPU_ACTIVATION_TANH, 0 },
};

gboolean
cpu_activation_from_node (const GliaGraph *graph, gint node, CpuActivation *act, GError **error)
{
  act->kind = CPU_ACTIVATION_NONE;
  act->alpha = 0.0f;
  act->beta = 0.0f;
  const char *name = glia_graph_node_get_attr_string (graph, node, "activation", NULL, NULL);
  guint n_params = 0;
  const float *params
      = glia_graph_node_get_attr_floats (graph, node, "activation_params", &n_params);
  if (name == NULL) {
    if (n_params != 0) {
      cpu_node_error (error, graph, node, "attribute 'activation_params' without 'activation'");
      return FALSE;
    }
    return TRUE;
  }
  for (guint i = 0; i < G_N_ELEMENTS (activations); i++) {
    if (strcmp (name, activations[i].name) != 0)
      continue;
    /* LeakyRelu, Clip and HardSigmoid may leave their parameters to the
     * ONNX defaults by giving none. */
    if (n_params != activations[i].n_params && n_params != 0) {
      cpu_node_error (error, graph, node, "activation '%s' takes %u activation_params, got %u",
                      name, activations[i].n_params, n_params);
      return FALSE;
    }
    act->kind = activations[i].kind;
    switch (act->kind) {
    case CPU_ACTIVATION_LEAKY_RELU:
      act->alpha = n_params ? params[0] : 0.01f;
      break;
    case CPU_ACTIVATION_CLIP:
      act->alpha = n_params ? params[0] : -INFINITY;
      act->beta = n_params ? params[1] : INFINITY;
      if (isnan (act->alpha) || isnan (act->beta)) {
        cpu_node_error (error, graph, node, "Clip activation bounds must not be NaN");
        return FALSE;
      }
      break;
    case CPU_ACTIVATION_HARD_SIGMOID:
      act->alpha = n_params ? params[0] : 0.2f;
      act->beta = n_params ? params[1] : 0.5f;
      break;
    default:
      break;
    }
    return TRUE;
  }
  cpu_node_error (error, graph, node, "unknown activation '%s'", name);
  return FALSE;
}

void
cpu_activation_apply (const CpuActivation *act, float *data, gsize n)
{
  float *restrict d = data;
  const float alpha = act->alpha, beta = act->beta;
  if (act->kind == CPU_ACTIVATION_NONE)
    return;
#define LOAD(i) d[i]
  ACT_SWITCH (act->kind)
#undef LOAD
}

void
cpu_activation_apply_bias (const CpuActivation *act, float *data, gsize n, float bias,
                           const float *residual)
{
  cpu_activation_epilogue_row (data, n, bias, residual, act);
}
