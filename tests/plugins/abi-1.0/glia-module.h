/* glia-module.h: the generic module kind.
 *
 * Modules are stateful components that are not operators on a graph: the
 * cognition plugins (memory tiers, consolidation, learner, hierarchical
 * reasoning) implement this interface. A module type is registered by name;
 * a session or application creates instances with string options and talks
 * to them with named "calls" taking and returning tensors. The interface is
 * deliberately small; specific kinds layer their own conventions (documented
 * call names) on top of it.
 */
#pragma once

#include "glia-kernel.h"

G_BEGIN_DECLS

typedef struct _GliaModuleInfo GliaModuleInfo;

/**
 * GliaModuleInfo:
 * @struct_size: sizeof (GliaModuleInfo) as compiled by the plugin
 * @name: unique module type name ("memory.episodic")
 * @kind: family ("memory", "learner", "reasoning", ...)
 * @description: one line for `glia plugins`
 * @option_keys: NULL-terminated list of accepted option keys
 * @create: makes an instance from string options
 * @destroy: frees it
 * @call: runs a named call with inputs; fills @outputs (host-memory views
 *   allocated with g_malloc for data, which the caller frees)
 * @save: persists the instance state to @path
 * @load: restores it from @path
 */
struct _GliaModuleInfo
{
  gsize struct_size;
  const char *name;
  const char *kind;
  const char *description;
  const char *const *option_keys;
  gpointer (*create) (GHashTable *options, GError **error);
  void (*destroy) (gpointer instance);
  gboolean (*call) (gpointer instance, const char *method, guint n_inputs,
                    const GliaTensorView *inputs, guint *n_outputs, GliaTensorView **outputs,
                    GError **error);
  gboolean (*save) (gpointer instance, const char *path, GError **error);
  gboolean (*load) (gpointer instance, const char *path, GError **error);
  /*< private >*/
  gpointer _reserved[8];
};

G_END_DECLS
