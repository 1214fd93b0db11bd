/* example-ops.h: the operators of the example plugin, domain
 * "org.example.glia" (opset 1), and what their kernels share.
 *
 * Each operator lives in its own file and exports one GliaOpDef;
 * example-plugin.c registers them as an op set. The host runs the nodes of
 * the domain on the CPU through these definitions, whatever execution
 * providers the session uses for the rest of the graph.
 */
#pragma once

#include <glia-plugin.h>

G_BEGIN_DECLS

#define EXAMPLE_DOMAIN "org.example.glia"

/* Y = X * sigmoid(beta * X); beta = 1 is SiLU. */
extern const GliaOpDef example_swish_op;
/* Y = X / sqrt(mean(X^2 over axes [axis, rank)) + epsilon) * Scale. */
extern const GliaOpDef example_rms_norm_op;

/* The element types the kernels implement. */
#define EXAMPLE_DTYPES                                                                             \
  (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_DOUBLE))

/* Sets @error and returns FALSE unless @dtype is one of EXAMPLE_DTYPES. */
gboolean example_check_dtype (const char *op, GliaDataType dtype, GError **error);

G_END_DECLS
