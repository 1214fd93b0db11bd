/* glia-session-options.h: how a session is set up. */
#pragma once

#include <glia-types.h>

G_BEGIN_DECLS

#define GLIA_TYPE_SESSION_OPTIONS (glia_session_options_get_type ())
G_DECLARE_FINAL_TYPE (GliaSessionOptions, glia_session_options, GLIA, SESSION_OPTIONS, GObject)

GliaSessionOptions *glia_session_options_new (void);
void glia_session_options_set_providers (GliaSessionOptions *self, const char *const *providers);
gboolean glia_session_options_set_providers_from_string (GliaSessionOptions *self, const char *list,
                                                         GError **error);
const char *const *glia_session_options_get_providers (GliaSessionOptions *self);
gboolean glia_session_options_set_option (GliaSessionOptions *self, const char *key,
                                          const char *value, GError **error);
const char *glia_session_options_get_option (GliaSessionOptions *self, const char *key);
char **glia_session_options_get_option_keys (GliaSessionOptions *self);
void glia_session_options_set_threads (GliaSessionOptions *self, guint threads);
guint glia_session_options_get_threads (GliaSessionOptions *self);
void glia_session_options_set_optimization_level (GliaSessionOptions *self, guint level);
guint glia_session_options_get_optimization_level (GliaSessionOptions *self);
void glia_session_options_set_memory_limit (GliaSessionOptions *self, guint64 bytes);
guint64 glia_session_options_get_memory_limit (GliaSessionOptions *self);
void glia_session_options_set_allow_fallback (GliaSessionOptions *self, gboolean allow);
gboolean glia_session_options_get_allow_fallback (GliaSessionOptions *self);
void glia_session_options_set_profiling (GliaSessionOptions *self, gboolean profiling);
gboolean glia_session_options_get_profiling (GliaSessionOptions *self);

G_END_DECLS
