/* glia-plugin.h: what a plugin includes. The descriptor, registration of
 * features, and every interface a plugin can implement.
 *
 * A plugin is a shared object exporting one function, made by
 * GLIA_PLUGIN_DEFINE(), that returns its GliaPluginDesc. The host reads the
 * descriptor, checks the ABI (same major, minor not newer than the host's,
 * minimum host version met), then calls init(), which registers features and
 * does nothing else: no device probing that could crash, no ISA-specific
 * code (init is compiled for the baseline ISA).
 *
 * ABI rules (docs/plugin-abi.md): the major changes only when an existing
 * struct or function changes incompatibly; the minor grows when something is
 * appended. Structs crossing the boundary start with struct_size and are only
 * appended to; the descriptor has reserved padding.
 */
#pragma once

#include <gmodule.h>

#include "glia-types.h"
#include "glia-graph.h"
#include "glia-kernel.h"
#include "glia-provider.h"
#include "glia-loader.h"
#include "glia-module.h"
#include "glia-pass.h"

G_BEGIN_DECLS

#define GLIA_PLUGIN_ABI_MAJOR 1
#define GLIA_PLUGIN_ABI_MINOR 2

/* The exported symbol the host looks up in every plugin file. */
#define GLIA_PLUGIN_DESC_SYMBOL "glia_plugin_get_desc"

typedef struct _GliaPlugin GliaPlugin;

typedef gboolean (*GliaPluginInitFunc) (GliaPlugin *plugin, GError **error);

/**
 * GliaPluginDesc:
 * @abi_major: GLIA_PLUGIN_ABI_MAJOR the plugin was compiled with
 * @abi_minor: GLIA_PLUGIN_ABI_MINOR the plugin was compiled with
 * @min_host_version: oldest host version ("major.minor.micro") it works with
 * @name: plugin name, unique among plugins
 * @description: one line
 * @version: the plugin's own version
 * @license: SPDX identifier
 * @init: registers the plugin's features
 */
typedef struct
{
  guint32 abi_major;
  guint32 abi_minor;
  const char *min_host_version;
  const char *name;
  const char *description;
  const char *version;
  const char *license;
  GliaPluginInitFunc init;
  /*< private >*/
  gpointer _reserved[8];
} GliaPluginDesc;

typedef const GliaPluginDesc *(*GliaPluginGetDescFunc) (void);

/**
 * GLIA_PLUGIN_DEFINE:
 *
 * Defines the plugin's descriptor. Use once per plugin, at file scope.
 */
#define GLIA_PLUGIN_DEFINE(name_, description_, version_, license_, min_host_version_, init_)      \
  G_MODULE_EXPORT const GliaPluginDesc *glia_plugin_get_desc (void);                               \
  G_MODULE_EXPORT const GliaPluginDesc *glia_plugin_get_desc (void)                                \
  {                                                                                                \
    static const GliaPluginDesc desc = { GLIA_PLUGIN_ABI_MAJOR,                                    \
                                         GLIA_PLUGIN_ABI_MINOR,                                    \
                                         (min_host_version_),                                      \
                                         (name_),                                                  \
                                         (description_),                                           \
                                         (version_),                                               \
                                         (license_),                                               \
                                         (init_),                                                  \
                                         { NULL } };                                               \
    return &desc;                                                                                  \
  }

/* Registration, for init(). The info structs must outlive the plugin (make
 * them static): the host keeps pointers to them. Each returns FALSE with
 * @error set if the feature is malformed or its name is taken. */
gboolean glia_plugin_register_provider (GliaPlugin *plugin, const GliaProviderInfo *info,
                                        GError **error);
gboolean glia_plugin_register_loader (GliaPlugin *plugin, const GliaLoaderInfo *info,
                                      GError **error);
/* Registers custom operators in @domain: @ops is an array of @n_ops pointers.
 * Nodes of the domain run on the CPU through the ops' compute functions. */
gboolean glia_plugin_register_op_set (GliaPlugin *plugin, const char *domain,
                                      const GliaOpDef *const *ops, guint n_ops, GError **error);
gboolean glia_plugin_register_module (GliaPlugin *plugin, const GliaModuleInfo *info,
                                      GError **error);
/* Registers a graph optimization pass (glia-pass.h); since ABI 1.1. Plugins
 * registering passes are loaded by every session that optimizes. */
gboolean glia_plugin_register_pass (GliaPlugin *plugin, const GliaPassInfo *info, GError **error);

/* The plugin's file, for plugins that ship data next to themselves. */
const char *glia_plugin_get_path (GliaPlugin *plugin);

G_END_DECLS
