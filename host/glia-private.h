/* glia-private.h: declarations shared inside libglia-1.0, never installed. */
#pragma once

#include "glia.h"
#include <glia-plugin.h>

G_BEGIN_DECLS

/* glia-registry.c: features by name, loading their plugin on demand. */
const GliaProviderInfo *glia_registry_get_provider (GliaRegistry *self, const char *name,
                                                    GError **error);
/* Loaders in probe order (all loader plugins are loaded). */
GPtrArray *glia_registry_get_loaders (GliaRegistry *self, GError **error);
/* The op def for a node in a custom domain, loading the op-set plugin that
 * declares the domain; NULL if no plugin declares it. */
const GliaOpDef *glia_registry_find_custom_op (GliaRegistry *self, const char *domain,
                                               const char *name, gint opset);
gboolean glia_registry_has_custom_domain (GliaRegistry *self, const char *domain);
gboolean glia_registry_is_plugin_loaded (GliaRegistry *self, const char *name);
/* Optimization passes plugins registered (GliaPassInfo*), their plugins loaded. */
GPtrArray *glia_registry_get_passes (GliaRegistry *self);

/* glia-tensor.c */
GliaTensor *glia_tensor_new_take (GliaDataType dtype, const gint64 *shape, guint rank,
                                  gpointer data, gsize size);
/* Fills a kernel view pointing at the tensor's host data. */
void glia_tensor_fill_view (GliaTensor *self, GliaTensorView *view);
/* Bytes of @view's data as a tensor (copied); strings are converted. */
GliaTensor *glia_tensor_new_from_view (const GliaTensorView *view);

/* glia-session-options.c: whether "ep.<provider>.<key>" names a real option. */
gboolean _glia_session_options_check_key (GliaRegistry *registry, const char *key, GError **error);
GHashTable *_glia_session_options_get_table (GliaSessionOptions *self);

/* glia-parallel.c: splits [0, n) over up to @threads pool threads. */
void _glia_parallel_for (guint threads, gsize n, gsize grain, GliaParallelFunc func,
                         gpointer user_data);

/* Pretty dims "[N,64]" of a graph value. */
char *glia_graph_value_format_shape (const GliaGraph *graph, gint value);

G_END_DECLS
