/* glia-pass.h: graph optimization passes (plugin ABI 1.1).
 *
 * A pass rewrites a session's own copy of the graph before providers claim
 * its nodes: it removes what does nothing, computes what is constant, and
 * replaces patterns with fewer, fused operators. The host's passes and those
 * a plugin registers with glia_plugin_register_pass() use the same struct.
 *
 * The session runs the passes whose level is at most its
 * GliaSessionOptions:optimization-level, lowest level first (then in
 * registration order), over and over until none changes anything (bounded).
 * Levels: 1 basic (eliminations, constant folding), 2 extended (fusions into
 * other operators), 3 pattern fusions (GELU, LayerNorm, attention).
 *
 * Rules a pass follows:
 * - Outputs keep their values: the graph's outputs (and inputs) keep their
 *   value ids and names, and every value read by name from a subgraph (If,
 *   Loop, Scan bodies; see glia_graph_value_get_consumers()) keeps its name
 *   and producer's meaning.
 * - A pass that emits an operator of its own domain (com.glia) first asks
 *   glia_pass_context_has_op() whether some provider of the session runs
 *   it, so a session with other providers still works.
 * - A pass may leave nodes out of topological order; the host sorts after
 *   each pass that changed something.
 */
#pragma once

#include "glia-graph.h"

G_BEGIN_DECLS

typedef struct _GliaPassContext GliaPassContext;

/**
 * GliaPassInfo:
 * @struct_size: sizeof (GliaPassInfo) as the plugin was compiled
 * @name: short unique name ("fuse-conv-bn")
 * @description: one line, for `glia inspect --passes`
 * @level: optimization level from which the pass runs (1, 2 or 3)
 * @apply: rewrites @graph; returns TRUE when it changed something, FALSE
 *   when it did not or failed (then with @error set, which fails session
 *   creation). Report each change with glia_pass_context_report().
 */
typedef struct
{
  gsize struct_size;
  const char *name;
  const char *description;
  gint level;
  gboolean (*apply) (GliaGraph *graph, GliaPassContext *ctx, GError **error);
  /*< private >*/
  gpointer _reserved[8];
} GliaPassInfo;

/* The session's optimization level (1..3). */
gint glia_pass_context_get_level (GliaPassContext *ctx);
/* Whether some provider of the session (or a registered op set) runs a node
 * of @op_type in @domain ("" = ai.onnx) at @opset with float inputs. */
gboolean glia_pass_context_has_op (GliaPassContext *ctx, const char *domain, const char *op_type,
                                   gint opset);
/* Records one change the pass made ("fused Conv 'c1' + Relu 'r1'"); the
 * count and the first messages appear in the session's optimization report. */
void glia_pass_context_report (GliaPassContext *ctx, const char *format, ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS
