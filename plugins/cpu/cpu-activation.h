/* cpu-activation.h: the activation that fused kernels (com.glia::FusedConv,
 * com.glia::FusedGemm) apply to their output.
 *
 * A fused node names it with the string attribute `activation` ("Relu",
 * "LeakyRelu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh"; absent
 * means none) and its parameters with the floats `activation_params`
 * (LeakyRelu [alpha]; Clip [min, max]; HardSigmoid [alpha, beta]; the others
 * none). The math is that of the ONNX op of the same name.
 */
#pragma once

#include <glia-plugin.h>

G_BEGIN_DECLS

typedef enum
{
  CPU_ACTIVATION_NONE,
  CPU_ACTIVATION_RELU,
  CPU_ACTIVATION_LEAKY_RELU,
  CPU_ACTIVATION_CLIP,
  CPU_ACTIVATION_HARD_SIGMOID,
  CPU_ACTIVATION_HARD_SWISH,
  CPU_ACTIVATION_SIGMOID,
  CPU_ACTIVATION_TANH,
} CpuActivationKind;

typedef struct
{
  int kind; /* a CpuActivationKind */
  float alpha, beta;
} CpuActivation;

/* Reads the node's `activation` / `activation_params` attributes into @act
 * (kind NONE when `activation` is absent). Fails with GLIA_ERROR_INVALID_MODEL
 * on an unknown activation or a wrong number of parameters. */
gboolean cpu_activation_from_node (const GliaGraph *graph, gint node, CpuActivation *act,
                                   GError **error);

/* Applies @act to @n floats in place. */
void cpu_activation_apply (const CpuActivation *act, float *data, gsize n);

/* Applies @act to @n floats in place after adding @bias (a scalar added to
 * every element) and, if not NULL, @residual[i]: the epilogue of a fused
 * convolution row. */
void cpu_activation_apply_bias (const CpuActivation *act, float *data, gsize n, float bias,
                                const float *residual);

G_END_DECLS
