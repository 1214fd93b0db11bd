/* glia-session.h: a model prepared for running on a set of providers. */
#pragma once

#include <gio/gio.h>
#include "glia-model.h"
#include "glia-session-options.h"
#include "glia-tensor.h"

G_BEGIN_DECLS

#define GLIA_TYPE_SESSION (glia_session_get_type ())
G_DECLARE_FINAL_TYPE (GliaSession, glia_session, GLIA, SESSION, GObject)

GliaSession *glia_session_new (GliaModel *model, GliaSessionOptions *options, GError **error);
GliaSession *glia_session_new_full (GliaModel *model, GliaSessionOptions *options,
                                    GliaRegistry *registry, GError **error);
GHashTable *glia_session_run (GliaSession *self, GHashTable *inputs, GError **error);
void glia_session_run_async (GliaSession *self, GHashTable *inputs, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
GHashTable *glia_session_run_finish (GliaSession *self, GAsyncResult *result, GError **error);

GliaModel *glia_session_get_model (GliaSession *self);
guint glia_session_get_n_nodes (GliaSession *self);
const char *glia_session_get_node_name (GliaSession *self, guint node);
const char *glia_session_get_node_op_type (GliaSession *self, guint node);
const char *glia_session_get_node_domain (GliaSession *self, guint node);
guint glia_session_get_threads (GliaSession *self);
const char *glia_session_get_optimization_report (GliaSession *self);
const char *glia_session_get_node_provider (GliaSession *self, guint node);
guint glia_session_get_n_copies (GliaSession *self);
char **glia_session_get_providers (GliaSession *self);
guint glia_session_get_n_plans (GliaSession *self);
guint64 glia_session_get_n_dynamic_allocations (GliaSession *self);
gboolean glia_session_write_profile (GliaSession *self, const char *path, GError **error);

G_END_DECLS
