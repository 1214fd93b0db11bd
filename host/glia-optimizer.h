/* glia-optimizer.h: the graph optimizer session creation runs (private).
 *
 * _glia_optimize() rewrites a session's graph copy with the host's passes
 * (glia-optimizer.c) and those plugins registered, level by level, until
 * nothing changes, and describes what each pass did. */
#pragma once

#include "glia-private.h"

G_BEGIN_DECLS

/* Whether a provider of the session runs @node of @graph (a probe graph). */
typedef gboolean (*GliaOptimizerSupportsFunc) (gpointer user_data, const GliaGraph *graph,
                                               gint node);

/* Fills in the types and shapes of @graph that are unknown. */
typedef gboolean (*GliaOptimizerInferFunc) (gpointer user_data, GliaGraph *graph, GError **error);

/* Runs every pass of level <= @level on @graph. @registry gives plugin passes
 * and the CPU provider for constant folding; @supports and @infer (called
 * with @user_data after each pass that changed the graph) come from the
 * session. @report (may be NULL) receives a
 * multi-line summary. FALSE with @error set if a pass failed or left an
 * invalid graph. */
gboolean _glia_optimize (GliaGraph *graph, guint level, GliaRegistry *registry,
                         GliaOptimizerSupportsFunc supports, GliaOptimizerInferFunc infer,
                         gpointer user_data, char **report, GError **error);

G_END_DECLS
