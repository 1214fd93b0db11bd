/* glia-session-options.c: GliaSessionOptions, how a session is set up.
 *
 * Provider options are namespaced "ep.<provider>.<key>". Keys are checked
 * against the keys each provider declares (known from the registry cache
 * without loading the provider) when they are set and again when a session
 * is created; an unknown key is an error, never silently ignored.
 */
#include "glia-private.h"

#include <string.h>

struct _GliaSessionOptions
{
  GObject parent_instance;
  GStrv providers;
  GHashTable *options; /* "ep.name.key" -> value */
  guint threads;
  guint optimization_level;
  guint64 memory_limit;
  gboolean allow_fallback;
  gboolean profiling;
};

enum
{
  PROP_0,
  PROP_PROVIDERS,
  PROP_THREADS,
  PROP_OPTIMIZATION_LEVEL,
  PROP_MEMORY_LIMIT,
  PROP_ALLOW_FALLBACK,
  PROP_PROFILING,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

/**
 * GliaSessionOptions:
 *
 * How a #GliaSession is set up: which execution providers it may use and in
 * which order, their options (`ep.<provider>.<key>`), the intra-op thread
 * count, the graph optimization level, a memory limit, whether unclaimed
 * nodes fall back to the CPU provider, and profiling. Every setting is also a
 * property. One options object may serve many sessions; a session keeps a
 * reference to its options, so do not change them while it is in use.
 */
G_DEFINE_FINAL_TYPE (GliaSessionOptions, glia_session_options, G_TYPE_OBJECT)

static void
glia_session_options_finalize (GObject *object)
{
  GliaSessionOptions *self = GLIA_SESSION_OPTIONS (object);
  g_strfreev (self->providers);
  g_hash_table_unref (self->options);
  G_OBJECT_CLASS (glia_session_options_parent_class)->finalize (object);
}

static void
glia_session_options_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  GliaSessionOptions *self = GLIA_SESSION_OPTIONS (object);
  switch (id) {
  case PROP_PROVIDERS:
    g_value_set_boxed (value, self->providers);
    break;
  case PROP_THREADS:
    g_value_set_uint (value, self->threads);
    break;
  case PROP_OPTIMIZATION_LEVEL:
    g_value_set_uint (value, self->optimization_level);
    break;
  case PROP_MEMORY_LIMIT:
    g_value_set_uint64 (value, self->memory_limit);
    break;
  case PROP_ALLOW_FALLBACK:
    g_value_set_boolean (value, self->allow_fallback);
    break;
  case PROP_PROFILING:
    g_value_set_boolean (value, self->profiling);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
glia_session_options_set_property (GObject *object, guint id, const GValue *value,
                                   GParamSpec *pspec)
{
  GliaSessionOptions *self = GLIA_SESSION_OPTIONS (object);
  switch (id) {
  case PROP_PROVIDERS:
    glia_session_options_set_providers (self, g_value_get_boxed (value));
    break;
  case PROP_THREADS:
    self->threads = g_value_get_uint (value);
    break;
  case PROP_OPTIMIZATION_LEVEL:
    self->optimization_level = g_value_get_uint (value);
    break;
  case PROP_MEMORY_LIMIT:
    self->memory_limit = g_value_get_uint64 (value);
    break;
  case PROP_ALLOW_FALLBACK:
    self->allow_fallback = g_value_get_boolean (value);
    break;
  case PROP_PROFILING:
    self->profiling = g_value_get_boolean (value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
glia_session_options_class_init (GliaSessionOptionsClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  oc->finalize = glia_session_options_finalize;
  oc->get_property = glia_session_options_get_property;
  oc->set_property = glia_session_options_set_property;

  /**
   * GliaSessionOptions:providers:
   *
   * Execution providers in order of preference; empty means every available
   * provider with a non-zero rank, highest rank first.
   */
  props[PROP_PROVIDERS] = g_param_spec_boxed ("providers", NULL, NULL, G_TYPE_STRV,
                                              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * GliaSessionOptions:threads:
   *
   * Intra-op threads; 0 means one per online CPU.
   */
  props[PROP_THREADS] = g_param_spec_uint ("threads", NULL, NULL, 0, 1024, 0,
                                           G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * GliaSessionOptions:optimization-level:
   *
   * Graph optimization level: 0 runs the graph as loaded; 1 removes Identity,
   * Dropout and unused nodes and folds constants; 2 also fuses Conv with
   * BatchNormalization, MatMul + Add into Gemm and Conv / Gemm with their
   * activation (and a residual Add); 3 (the default) also fuses GELU,
   * LayerNorm and attention subgraphs. See
   * glia_session_get_optimization_report().
   */
  props[PROP_OPTIMIZATION_LEVEL] = g_param_spec_uint ("optimization-level", NULL, NULL, 0, 3, 3,
                                                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * GliaSessionOptions:memory-limit:
   *
   * Bytes a run may use for intermediate tensors; 0 means no limit.
   */
  props[PROP_MEMORY_LIMIT] = g_param_spec_uint64 ("memory-limit", NULL, NULL, 0, G_MAXUINT64, 0,
                                                  G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * GliaSessionOptions:allow-fallback:
   *
   * Whether nodes no chosen provider claims fall back to the CPU provider.
   * When %FALSE, session creation fails and lists the unclaimed operators.
   */
  props[PROP_ALLOW_FALLBACK] = g_param_spec_boolean ("allow-fallback", NULL, NULL, TRUE,
                                                     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * GliaSessionOptions:profiling:
   *
   * Whether runs record one timed event per step, for
   * glia_session_write_profile().
   */
  props[PROP_PROFILING] = g_param_spec_boolean ("profiling", NULL, NULL, FALSE,
                                                G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (oc, N_PROPS, props);
}

static void
glia_session_options_init (GliaSessionOptions *self)
{
  self->options = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->optimization_level = 3;
  self->allow_fallback = TRUE;
}

/**
 * glia_session_options_new:
 *
 * Makes session options with the defaults: every provider with a non-zero rank, highest rank
 * first; one thread per CPU; optimization level 1; no memory limit; CPU fallback allowed; no
 * profiling.
 *
 * Returns: (transfer full): options with the defaults
 */
GliaSessionOptions *
glia_session_options_new (void)
{
  return g_object_new (GLIA_TYPE_SESSION_OPTIONS, NULL);
}

/**
 * glia_session_options_set_providers:
 * @self: a #GliaSessionOptions
 * @providers: (array zero-terminated=1) (nullable): provider names, preferred first
 *
 * Sets the execution providers a session may use, preferred first: a node goes to the first
 * provider in the list that claims it. %NULL or an empty list means every provider with a non-zero
 * rank, highest rank first. Names are checked when the session is made.
 */
void
glia_session_options_set_providers (GliaSessionOptions *self, const char *const *providers)
{
  g_return_if_fail (GLIA_IS_SESSION_OPTIONS (self));
  g_strfreev (self->providers);
  self->providers = providers && providers[0] ? g_strdupv ((char **)providers) : NULL;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PROVIDERS]);
}

/**
 * glia_session_options_set_providers_from_string:
 * @self: a #GliaSessionOptions
 * @list: comma-separated provider names ("onednn,cpu")
 * @error: return location for a #GError
 *
 * Sets the provider list from a comma-separated string, as the CLI's `--providers` does (see
 * glia_session_options_set_providers()). Spaces around names are ignored.
 *
 * Returns: %FALSE if @list is empty or names a provider twice
 */
gboolean
glia_session_options_set_providers_from_string (GliaSessionOptions *self, const char *list,
                                                GError **error)
{
  g_return_val_if_fail (GLIA_IS_SESSION_OPTIONS (self), FALSE);
  g_return_val_if_fail (list != NULL, FALSE);
  g_auto (GStrv) parts = g_strsplit (list, ",", -1);
  GStrvBuilder *b = g_strv_builder_new ();
  for (guint i = 0; parts[i]; i++) {
    g_strstrip (parts[i]);
    if (*parts[i] == '\0')
      continue;
    for (guint k = 0; k < i; k++)
      if (g_str_equal (parts[k], parts[i])) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                     "provider '%s' is listed twice in '%s'", parts[i], list);
        g_strv_builder_unref (b);
        return FALSE;
      }
    g_strv_builder_add (b, parts[i]);
  }
  g_auto (GStrv) names = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  if (names[0] == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "empty provider list '%s'", list);
    return FALSE;
  }
  glia_session_options_set_providers (self, (const char *const *)names);
  return TRUE;
}

/**
 * glia_session_options_get_providers:
 * @self: a #GliaSessionOptions
 *
 * Gets the provider preference list set with glia_session_options_set_providers().
 *
 * Returns: (transfer none) (array zero-terminated=1) (nullable): the preference list
 */
const char *const *
glia_session_options_get_providers (GliaSessionOptions *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION_OPTIONS (self), NULL);
  return (const char *const *)self->providers;
}

/* Splits "ep.<provider>.<key>"; FALSE with @error if malformed. */
static gboolean
split_option_key (const char *key, char **provider, char **name, GError **error)
{
  const char *rest = g_str_has_prefix (key, "ep.") ? key + 3 : NULL;
  const char *dot = rest ? strchr (rest, '.') : NULL;
  if (rest == NULL || dot == NULL || dot == rest || dot[1] == '\0') {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "unknown option '%s': provider options are named ep.<provider>.<key>", key);
    return FALSE;
  }
  *provider = g_strndup (rest, dot - rest);
  *name = g_strdup (dot + 1);
  return TRUE;
}

gboolean
_glia_session_options_check_key (GliaRegistry *registry, const char *key, GError **error)
{
  g_autofree char *provider = NULL, *name = NULL;
  if (!split_option_key (key, &provider, &name, error))
    return FALSE;
  if (glia_registry_get_provider_rank (registry, provider) < 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "unknown option '%s': there is no provider '%s'", key, provider);
    return FALSE;
  }
  if (!glia_registry_has_provider_option (registry, provider, name)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "unknown option '%s': provider '%s' has no option '%s'", key, provider, name);
    return FALSE;
  }
  return TRUE;
}

/**
 * glia_session_options_set_option:
 * @self: a #GliaSessionOptions
 * @key: "ep.<provider>.<key>"
 * @value: the value, as a string
 * @error: return location for a #GError
 *
 * Sets a provider option. The key's form is checked here; whether the
 * provider has such an option is checked when a session is created with
 * these options, against the session's registry.
 *
 * Returns: %FALSE with @error set if the key is malformed or unknown
 */
gboolean
glia_session_options_set_option (GliaSessionOptions *self, const char *key, const char *value,
                                 GError **error)
{
  g_return_val_if_fail (GLIA_IS_SESSION_OPTIONS (self), FALSE);
  g_return_val_if_fail (key != NULL && value != NULL, FALSE);
  g_autofree char *provider = NULL, *name = NULL;
  if (!split_option_key (key, &provider, &name, error))
    return FALSE;
  g_hash_table_insert (self->options, g_strdup (key), g_strdup (value));
  return TRUE;
}

/**
 * glia_session_options_get_option:
 * @self: a #GliaSessionOptions
 * @key: "ep.<provider>.<key>"
 *
 * Gets a provider option set with glia_session_options_set_option().
 *
 * Returns: (transfer none) (nullable): the value set for @key
 */
const char *
glia_session_options_get_option (GliaSessionOptions *self, const char *key)
{
  g_return_val_if_fail (GLIA_IS_SESSION_OPTIONS (self), NULL);
  return g_hash_table_lookup (self->options, key);
}

static gint
compare_strings (gconstpointer a, gconstpointer b, gpointer data)
{
  return g_strcmp0 (*(char *const *)a, *(char *const *)b);
}

/**
 * glia_session_options_get_option_keys:
 * @self: a #GliaSessionOptions
 *
 * Lists the provider options set, as full `ep.<provider>.<key>` keys.
 *
 * Returns: (transfer full) (array zero-terminated=1): the keys set, sorted
 */
char **
glia_session_options_get_option_keys (GliaSessionOptions *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION_OPTIONS (self), NULL);
  g_autofree const char **keys
      = (const char **)g_hash_table_get_keys_as_array (self->options, NULL);
  char **v = g_strdupv ((char **)keys);
  g_qsort_with_data (v, g_strv_length (v), sizeof (char *), compare_strings, NULL);
  return v;
}

/**
 * glia_session_options_set_threads:
 * @self: a #GliaSessionOptions
 * @threads: intra-op threads, 0 for one per CPU
 *
 * Sets the intra-op thread budget of a session: the CPU provider's parallel loops, OpenBLAS and
 * oneDNN together never run more threads than this.
 */
void
glia_session_options_set_threads (GliaSessionOptions *self, guint threads)
{
  g_return_if_fail (GLIA_IS_SESSION_OPTIONS (self));
  g_object_set (self, "threads", threads, NULL);
}

/**
 * glia_session_options_get_threads:
 * @self: a #GliaSessionOptions
 *
 * Gets the thread count set with glia_session_options_set_threads().
 *
 * Returns: the thread count (0: one per CPU)
 */
guint
glia_session_options_get_threads (GliaSessionOptions *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION_OPTIONS (self), 0);
  return self->threads;
}

/**
 * glia_session_options_set_optimization_level:
 * @self: a #GliaSessionOptions
 * @level: 0 to 3
 *
 * Sets how much the graph optimizer rewrites the model before providers are asked for it: 0 runs
 * the graph as loaded; 1 (the default) removes dead nodes and identities and folds constants; 2
 * also folds BatchNormalization into Conv, MatMul+Add into Gemm, and activations into the Conv or
 * Gemm before them; 3 also fuses GELU, LayerNorm and attention patterns. `glia inspect --passes`
 * lists the passes of each level.
 */
void
glia_session_options_set_optimization_level (GliaSessionOptions *self, guint level)
{
  g_return_if_fail (GLIA_IS_SESSION_OPTIONS (self));
  g_object_set (self, "optimization-level", MIN (level, 3), NULL);
}

/**
 * glia_session_options_get_optimization_level:
 * @self: a #GliaSessionOptions
 *
 * Gets the level set with glia_session_options_set_optimization_level().
 *
 * Returns: the optimization level
 */
guint
glia_session_options_get_optimization_level (GliaSessionOptions *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION_OPTIONS (self), 0);
  return self->optimization_level;
}

/**
 * glia_session_options_set_memory_limit:
 * @self: a #GliaSessionOptions
 * @bytes: limit for a run's intermediate tensors, 0 for none
 *
 * Limits the memory a run uses for intermediate tensors (its arena plan and whatever it allocates
 * beyond it): a run that would need more fails with %GLIA_ERROR_RESOURCE_LIMIT instead of
 * allocating it.
 */
void
glia_session_options_set_memory_limit (GliaSessionOptions *self, guint64 bytes)
{
  g_return_if_fail (GLIA_IS_SESSION_OPTIONS (self));
  g_object_set (self, "memory-limit", bytes, NULL);
}

/**
 * glia_session_options_get_memory_limit:
 * @self: a #GliaSessionOptions
 *
 * Gets the limit set with glia_session_options_set_memory_limit().
 *
 * Returns: the memory limit in bytes (0: none)
 */
guint64
glia_session_options_get_memory_limit (GliaSessionOptions *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION_OPTIONS (self), 0);
  return self->memory_limit;
}

/**
 * glia_session_options_set_allow_fallback:
 * @self: a #GliaSessionOptions
 * @allow: whether unclaimed nodes may fall back to the CPU provider
 *
 * Sets whether nodes that none of the session's providers claims run on the CPU provider (the
 * default). Without fallback, making a session fails with %GLIA_ERROR_UNSUPPORTED_OP listing the
 * unclaimed operators: use it to check that a model runs entirely on an accelerator.
 */
void
glia_session_options_set_allow_fallback (GliaSessionOptions *self, gboolean allow)
{
  g_return_if_fail (GLIA_IS_SESSION_OPTIONS (self));
  g_object_set (self, "allow-fallback", allow, NULL);
}

/**
 * glia_session_options_set_profiling:
 * @self: a #GliaSessionOptions
 * @profiling: whether runs record per-step timings
 *
 * Sets whether runs record one timed event per step, for glia_session_write_profile().
 */
void
glia_session_options_set_profiling (GliaSessionOptions *self, gboolean profiling)
{
  g_return_if_fail (GLIA_IS_SESSION_OPTIONS (self));
  g_object_set (self, "profiling", profiling, NULL);
}

/**
 * glia_session_options_get_profiling:
 * @self: a #GliaSessionOptions
 *
 * Gets the setting of glia_session_options_set_profiling().
 *
 * Returns: whether runs record per-step timings
 */
gboolean
glia_session_options_get_profiling (GliaSessionOptions *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION_OPTIONS (self), FALSE);
  return self->profiling;
}

/**
 * glia_session_options_get_allow_fallback:
 * @self: a #GliaSessionOptions
 *
 * Gets the setting of glia_session_options_set_allow_fallback().
 *
 * Returns: whether CPU fallback is allowed
 */
gboolean
glia_session_options_get_allow_fallback (GliaSessionOptions *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION_OPTIONS (self), TRUE);
  return self->allow_fallback;
}

GHashTable *
_glia_session_options_get_table (GliaSessionOptions *self)
{
  return self->options;
}
