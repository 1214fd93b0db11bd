/* glia-registry.c: plugin discovery, ABI checks, feature tables and the
 * metadata cache.
 *
 * Discovery walks the search path (GLIA_PLUGIN_PATH, then the installed plugin
 * dir, or the build tree when libglia runs uninstalled) for shared objects.
 * A file whose path, size and mtime match the cache is described from the
 * cache without being opened; any other file is opened, checked and
 * initialised, and its features are written back to the cache. Features are
 * therefore known by name without loading their code, and a session loads
 * only the plugins whose features it uses: a CPU-only session never opens the
 * CUDA plugin.
 *
 * A plugin is rejected, with the reason kept for `glia plugins`, when it has
 * no descriptor, another ABI major, a newer ABI minor, needs a newer host, or
 * its init fails. The host keeps working without it. Modules that ran init
 * stay resident: they may have registered types.
 */
#define _GNU_SOURCE
#include "glia-private.h"

#include <dlfcn.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define CACHE_FORMAT 1

typedef enum
{
  FEATURE_PROVIDER,
  FEATURE_LOADER,
  FEATURE_OP_SET,
  FEATURE_MODULE,
  FEATURE_PASS,
} FeatureKind;

static const char *const feature_kind_names[]
    = { "provider", "loader", "op-set", "module", "pass" };

typedef struct _PluginEntry PluginEntry;

typedef struct
{
  FeatureKind kind;
  char *name; /* provider/loader/module name, or op-set domain */
  char *description;
  gint rank;
  GliaDeviceType device;
  char **option_keys;
  char **extensions;
  GArray *ops; /* op sets: OpRange */
  PluginEntry *plugin;
  /* set once the plugin is loaded */
  gconstpointer info;
  const GliaOpDef *const *op_defs;
  guint n_op_defs;
} Feature;

typedef struct
{
  char *name;
  gint since;
  gint until;
} OpRange;

struct _PluginEntry
{
  GliaPluginInfo *info;
  GModule *module;
  gint64 mtime;
  gint64 size;
  GPtrArray *features; /* Feature*, owned */
};

struct _GliaPlugin
{
  GliaRegistry *registry;
  PluginEntry *entry;
  GPtrArray *features; /* registered during init, moved to entry on success */
};

/* ---- GliaPluginInfo ------------------------------------------------------ */

struct _GliaPluginInfo
{
  GObject parent_instance;
  char *name;
  char *path;
  char *version;
  char *description;
  char *license;
  guint abi_major;
  guint abi_minor;
  GliaPluginStatus status;
  char *error;
  GStrv features;
};

/**
 * GliaPluginInfo:
 *
 * What the registry knows about one plugin file: its descriptor (name,
 * version, license, plugin ABI), its status, the features it registers, and,
 * for a rejected plugin, why. `glia plugins` prints these.
 */
G_DEFINE_FINAL_TYPE (GliaPluginInfo, glia_plugin_info, G_TYPE_OBJECT)

static void
glia_plugin_info_finalize (GObject *object)
{
  GliaPluginInfo *self = GLIA_PLUGIN_INFO (object);
  g_free (self->name);
  g_free (self->path);
  g_free (self->version);
  g_free (self->description);
  g_free (self->license);
  g_free (self->error);
  g_strfreev (self->features);
  G_OBJECT_CLASS (glia_plugin_info_parent_class)->finalize (object);
}

static void
glia_plugin_info_class_init (GliaPluginInfoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = glia_plugin_info_finalize;
}

static void
glia_plugin_info_init (GliaPluginInfo *self)
{
}

/**
 * glia_plugin_info_get_name:
 * @self: a #GliaPluginInfo
 *
 * Gets the name the plugin declares in its descriptor.
 *
 * Returns: (transfer none) (nullable): the plugin's name, NULL when it was
 *   rejected before its descriptor could be read
 */
const char *
glia_plugin_info_get_name (GliaPluginInfo *self)
{
  g_return_val_if_fail (GLIA_IS_PLUGIN_INFO (self), NULL);
  return self->name;
}

/**
 * glia_plugin_info_get_path:
 * @self: a #GliaPluginInfo
 *
 * Gets the plugin's shared object file.
 *
 * Returns: (transfer none): the plugin's file
 */
const char *
glia_plugin_info_get_path (GliaPluginInfo *self)
{
  g_return_val_if_fail (GLIA_IS_PLUGIN_INFO (self), NULL);
  return self->path;
}

/**
 * glia_plugin_info_get_version:
 * @self: a #GliaPluginInfo
 *
 * Gets the plugin's own version, as its descriptor declares it.
 *
 * Returns: (transfer none) (nullable): the plugin's own version
 */
const char *
glia_plugin_info_get_version (GliaPluginInfo *self)
{
  g_return_val_if_fail (GLIA_IS_PLUGIN_INFO (self), NULL);
  return self->version;
}

/**
 * glia_plugin_info_get_description:
 * @self: a #GliaPluginInfo
 *
 * Gets the plugin's description, as its descriptor declares it.
 *
 * Returns: (transfer none) (nullable): one line describing the plugin
 */
const char *
glia_plugin_info_get_description (GliaPluginInfo *self)
{
  g_return_val_if_fail (GLIA_IS_PLUGIN_INFO (self), NULL);
  return self->description;
}

/**
 * glia_plugin_info_get_license:
 * @self: a #GliaPluginInfo
 *
 * Gets the plugin's license, as its descriptor declares it.
 *
 * Returns: (transfer none) (nullable): the plugin's license (SPDX)
 */
const char *
glia_plugin_info_get_license (GliaPluginInfo *self)
{
  g_return_val_if_fail (GLIA_IS_PLUGIN_INFO (self), NULL);
  return self->license;
}

/**
 * glia_plugin_info_get_abi_major:
 * @self: a #GliaPluginInfo
 *
 * Gets the major version of the plugin ABI the plugin was compiled against. The host loads only
 * plugins of its own major (docs/plugin-abi.md).
 *
 * Returns: the plugin ABI major the plugin was built for; 0 when the plugin
 *   was rejected before its descriptor could be read
 */
guint
glia_plugin_info_get_abi_major (GliaPluginInfo *self)
{
  g_return_val_if_fail (GLIA_IS_PLUGIN_INFO (self), 0);
  return self->abi_major;
}

/**
 * glia_plugin_info_get_abi_minor:
 * @self: a #GliaPluginInfo
 *
 * Gets the minor version of the plugin ABI the plugin was compiled against. The host loads plugins
 * of its own minor or an older one, and refuses a newer one.
 *
 * Returns: the plugin ABI minor the plugin was built for (see
 *   glia_plugin_info_get_abi_major() for rejected plugins)
 */
guint
glia_plugin_info_get_abi_minor (GliaPluginInfo *self)
{
  g_return_val_if_fail (GLIA_IS_PLUGIN_INFO (self), 0);
  return self->abi_minor;
}

/**
 * glia_plugin_info_get_status:
 * @self: a #GliaPluginInfo
 *
 * Gets whether the plugin is usable, and whether it is loaded in this process yet.
 *
 * Returns: whether the plugin is loaded, known from the cache, or rejected
 */
GliaPluginStatus
glia_plugin_info_get_status (GliaPluginInfo *self)
{
  g_return_val_if_fail (GLIA_IS_PLUGIN_INFO (self), GLIA_PLUGIN_STATUS_REJECTED);
  return self->status;
}

/**
 * glia_plugin_info_get_error:
 * @self: a #GliaPluginInfo
 *
 * Gets the reason a rejected plugin was refused: a message naming the file and what is wrong (an
 * ABI mismatch, a failing init, ...).
 *
 * Returns: (transfer none) (nullable): why the plugin was rejected
 */
const char *
glia_plugin_info_get_error (GliaPluginInfo *self)
{
  g_return_val_if_fail (GLIA_IS_PLUGIN_INFO (self), NULL);
  return self->error;
}

/**
 * glia_plugin_info_get_features:
 * @self: a #GliaPluginInfo
 *
 * Lists the features (execution providers, model loaders, custom operator sets, ...) the plugin
 * registers.
 *
 * Returns: (transfer none) (array zero-terminated=1): the features the plugin
 *   registers, as "kind:name" ("provider:cpu", "loader:onnx", "op-set:com.example")
 */
const char *const *
glia_plugin_info_get_features (GliaPluginInfo *self)
{
  static const char *const none[] = { NULL };
  g_return_val_if_fail (GLIA_IS_PLUGIN_INFO (self), none);
  return self->features ? (const char *const *)self->features : none;
}

/* ---- registry ------------------------------------------------------------ */

struct _GliaRegistry
{
  GObject parent_instance;
  GRecMutex lock;
  GPtrArray *search_paths;
  char *cache_path;
  gboolean scanned;
  GPtrArray *plugins;      /* PluginEntry* */
  GHashTable *features[5]; /* name -> Feature* (borrowed from the plugin entries) */
  GHashTable *rank_overrides;
};

/**
 * GliaRegistry:
 *
 * Finds plugins and the features they register: execution providers, model
 * loaders, custom operator sets and modules. A scan reads each plugin's
 * feature metadata, from a cache when the file has not changed, without
 * loading more plugins than it must; models and sessions then load only the
 * plugins they use.
 *
 * Most programs use glia_registry_get_default(); a registry of your own,
 * with its own search path, is for tests and for programs that ship plugins.
 */
G_DEFINE_FINAL_TYPE (GliaRegistry, glia_registry, G_TYPE_OBJECT)

static void
feature_free (gpointer p)
{
  Feature *f = p;
  g_free (f->name);
  g_free (f->description);
  g_strfreev (f->option_keys);
  g_strfreev (f->extensions);
  if (f->ops) {
    for (guint i = 0; i < f->ops->len; i++)
      g_free (g_array_index (f->ops, OpRange, i).name);
    g_array_unref (f->ops);
  }
  g_free (f);
}

static void
plugin_entry_free (gpointer p)
{
  PluginEntry *e = p;
  g_clear_object (&e->info);
  g_ptr_array_unref (e->features);
  /* modules that ran init stay resident; others were closed already */
  g_free (e);
}

static void
glia_registry_finalize (GObject *object)
{
  GliaRegistry *self = GLIA_REGISTRY (object);
  for (guint i = 0; i < G_N_ELEMENTS (self->features); i++)
    g_hash_table_unref (self->features[i]);
  g_ptr_array_unref (self->plugins);
  g_ptr_array_unref (self->search_paths);
  g_hash_table_unref (self->rank_overrides);
  g_free (self->cache_path);
  g_rec_mutex_clear (&self->lock);
  G_OBJECT_CLASS (glia_registry_parent_class)->finalize (object);
}

static void
glia_registry_class_init (GliaRegistryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = glia_registry_finalize;
}

/* GLIA_FEATURE_RANK="cpu:10,onednn:300" overrides provider and loader ranks. */
static void
parse_rank_overrides (GliaRegistry *self)
{
  const char *env = g_getenv ("GLIA_FEATURE_RANK");
  if (env == NULL)
    return;
  g_auto (GStrv) items = g_strsplit (env, ",", -1);
  for (guint i = 0; items[i]; i++) {
    g_auto (GStrv) kv = g_strsplit (g_strstrip (items[i]), ":", 2);
    if (kv[0] == NULL || kv[1] == NULL || *kv[0] == '\0') {
      g_warning ("GLIA_FEATURE_RANK: ignoring '%s' (expected name:rank)", items[i]);
      continue;
    }
    char *end = NULL;
    gint64 rank = g_ascii_strtoll (kv[1], &end, 10);
    if (end == kv[1] || *end != '\0' || rank < 0 || rank > G_MAXINT) {
      g_warning ("GLIA_FEATURE_RANK: ignoring '%s' (rank must be a non-negative integer)",
                 items[i]);
      continue;
    }
    g_hash_table_insert (self->rank_overrides, g_strdup (kv[0]), GINT_TO_POINTER (rank + 1));
  }
}

static void
glia_registry_init (GliaRegistry *self)
{
  g_rec_mutex_init (&self->lock);
  self->search_paths = g_ptr_array_new_with_free_func (g_free);
  self->plugins = g_ptr_array_new_with_free_func (plugin_entry_free);
  for (guint i = 0; i < G_N_ELEMENTS (self->features); i++)
    self->features[i] = g_hash_table_new (g_str_hash, g_str_equal);
  self->rank_overrides = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  parse_rank_overrides (self);
}

/**
 * glia_registry_new:
 *
 * Makes an empty registry with no search path and no cache: add directories
 * with glia_registry_add_search_path() and call glia_registry_scan(). Most
 * programs use glia_registry_get_default() instead.
 *
 * Returns: (transfer full): a new registry
 */
GliaRegistry *
glia_registry_new (void)
{
  return g_object_new (GLIA_TYPE_REGISTRY, NULL);
}

/* The directory holding this libglia (symlinks resolved), or NULL. */
static char *
library_dir (void)
{
  Dl_info info;
  if (dladdr ((void *)glia_registry_new, &info) == 0 || info.dli_fname == NULL)
    return NULL;
  g_autofree char *real = realpath (info.dli_fname, NULL);
  return real ? g_path_get_dirname (real) : NULL;
}

/* Whether this libglia is the one in the build tree (running uninstalled).
 * Only the build's own host/ counts: a copy installed into a staging
 * directory inside the build tree is an installed library. */
static gboolean
running_uninstalled (void)
{
  g_autofree char *dir = library_dir ();
  return dir && g_str_equal (dir, GLIA_BUILD_ROOT "/host");
}

/* The installed plugin directory: $libdir/glia-1.0/plugins next to this
 * library. That is GLIA_PLUGINDIR unless the installed tree was moved (a
 * DESTDIR staging install, a relocated bundle), in which case the plugins
 * that came with this library are the ones to use. */
static char *
installed_plugin_dir (void)
{
  g_autofree char *dir = library_dir ();
  if (dir) {
    g_autofree char *next = g_build_filename (dir, "glia-" GLIA_API_VERSION, "plugins", NULL);
    if (g_file_test (next, G_FILE_TEST_IS_DIR))
      return g_steal_pointer (&next);
  }
  return g_strdup (GLIA_PLUGINDIR);
}

static char *
default_cache_path (gboolean uninstalled)
{
  const char *env = g_getenv ("GLIA_REGISTRY_CACHE");
  if (env != NULL)
    return *env ? g_strdup (env) : NULL;
  return g_build_filename (g_get_user_cache_dir (), "glia-" GLIA_API_VERSION,
                           uninstalled ? "registry-uninstalled.json" : "registry.json", NULL);
}

/**
 * glia_registry_get_default:
 *
 * The process-wide registry. Its search path is `GLIA_PLUGIN_PATH`
 * (colon-separated), then the installed plugin directory,
 * `$libdir/glia-1.0/plugins` next to libglia (or the build tree's plugins
 * when libglia runs uninstalled). Its cache is `GLIA_REGISTRY_CACHE`
 * (empty: no cache), by default in the user cache directory. It is scanned on
 * first use.
 *
 * Returns: (transfer none): the default registry
 */
GliaRegistry *
glia_registry_get_default (void)
{
  static GliaRegistry *registry;
  if (g_once_init_enter (&registry)) {
    GliaRegistry *r = glia_registry_new ();
    const char *env = g_getenv ("GLIA_PLUGIN_PATH");
    if (env) {
      g_auto (GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; dirs[i]; i++)
        if (*dirs[i])
          glia_registry_add_search_path (r, dirs[i]);
    }
    gboolean uninstalled = running_uninstalled ();
    if (uninstalled)
      glia_registry_add_search_path (r, GLIA_BUILD_ROOT "/plugins");
    else {
      g_autofree char *plugindir = installed_plugin_dir ();
      glia_registry_add_search_path (r, plugindir);
    }
    g_autofree char *cache = default_cache_path (uninstalled);
    glia_registry_set_cache_file (r, cache);
    g_autoptr (GError) error = NULL;
    if (!glia_registry_scan (r, &error))
      g_warning ("plugin scan: %s", error->message);
    g_once_init_leave (&registry, r);
  }
  return registry;
}

/**
 * glia_registry_add_search_path:
 * @self: a #GliaRegistry
 * @dir: (type filename): a directory searched (recursively, 3 levels) for plugins
 *
 * Appends @dir to the search path. Takes effect at the next glia_registry_scan().
 */
void
glia_registry_add_search_path (GliaRegistry *self, const char *dir)
{
  g_return_if_fail (GLIA_IS_REGISTRY (self));
  g_return_if_fail (dir != NULL);
  g_rec_mutex_lock (&self->lock);
  g_ptr_array_add (self->search_paths, g_canonicalize_filename (dir, NULL));
  g_rec_mutex_unlock (&self->lock);
}

/**
 * glia_registry_set_cache_file:
 * @self: a #GliaRegistry
 * @path: (type filename) (nullable): the metadata cache file, NULL for none
 *
 * Sets where feature metadata is cached between processes.
 */
void
glia_registry_set_cache_file (GliaRegistry *self, const char *path)
{
  g_return_if_fail (GLIA_IS_REGISTRY (self));
  g_rec_mutex_lock (&self->lock);
  g_free (self->cache_path);
  self->cache_path = g_strdup (path);
  g_rec_mutex_unlock (&self->lock);
}

/* ---- plugin side: registration during init ----------------------------- */

static Feature *
plugin_add_feature (GliaPlugin *plugin, FeatureKind kind, const char *name, GError **error)
{
  if (name == NULL || *name == '\0') {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN, "a %s has no name",
                 feature_kind_names[kind]);
    return NULL;
  }
  for (guint i = 0; i < plugin->features->len; i++) {
    Feature *f = g_ptr_array_index (plugin->features, i);
    if (f->kind == kind && g_str_equal (f->name, name)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN, "%s '%s' registered twice",
                   feature_kind_names[kind], name);
      return NULL;
    }
  }
  Feature *f = g_new0 (Feature, 1);
  f->kind = kind;
  f->name = g_strdup (name);
  f->plugin = plugin->entry;
  g_ptr_array_add (plugin->features, f);
  return f;
}

gboolean
glia_plugin_register_provider (GliaPlugin *plugin, const GliaProviderInfo *info, GError **error)
{
  g_return_val_if_fail (plugin != NULL && info != NULL, FALSE);
  if (info->struct_size < G_STRUCT_OFFSET (GliaProviderInfo, alloc) || info->create == NULL
      || info->get_capability == NULL || info->compile == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN,
                 "provider '%s' lacks create, get_capability or compile",
                 info->name ? info->name : "(null)");
    return FALSE;
  }
  if ((guint)info->device_type > GLIA_DEVICE_TYPE_OTHER) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN, "provider '%s' has unknown device type %d",
                 info->name, info->device_type);
    return FALSE;
  }
  if (info->device_type != GLIA_DEVICE_TYPE_CPU && (info->alloc == NULL || info->copy == NULL)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN,
                 "device provider '%s' must implement alloc and copy", info->name);
    return FALSE;
  }
  Feature *f = plugin_add_feature (plugin, FEATURE_PROVIDER, info->name, error);
  if (!f)
    return FALSE;
  f->description = g_strdup (info->description);
  f->rank = MAX (info->rank, 0);
  f->device = info->device_type;
  f->option_keys = g_strdupv ((char **)info->option_keys);
  f->info = info;
  return TRUE;
}

gboolean
glia_plugin_register_loader (GliaPlugin *plugin, const GliaLoaderInfo *info, GError **error)
{
  g_return_val_if_fail (plugin != NULL && info != NULL, FALSE);
  if (info->struct_size < G_STRUCT_OFFSET (GliaLoaderInfo, _reserved) || info->probe == NULL
      || info->load == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN, "loader '%s' lacks probe or load",
                 info->name ? info->name : "(null)");
    return FALSE;
  }
  Feature *f = plugin_add_feature (plugin, FEATURE_LOADER, info->name, error);
  if (!f)
    return FALSE;
  f->description = g_strdup (info->description);
  f->extensions = g_strdupv ((char **)info->extensions);
  f->info = info;
  return TRUE;
}

gboolean
glia_plugin_register_op_set (GliaPlugin *plugin, const char *domain, const GliaOpDef *const *ops,
                             guint n_ops, GError **error)
{
  g_return_val_if_fail (plugin != NULL, FALSE);
  if (domain == NULL || *domain == '\0' || g_str_equal (domain, "ai.onnx")) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN,
                 "custom operators need their own domain, not the default ONNX domain");
    return FALSE;
  }
  for (guint i = 0; i < n_ops; i++) {
    const GliaOpDef *d = ops[i];
    if (d == NULL || d->struct_size < G_STRUCT_OFFSET (GliaOpDef, destroy) || d->name == NULL
        || d->compute == NULL || g_strcmp0 (d->domain, domain) != 0) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN,
                   "operator %u of domain '%s' is malformed (needs struct_size, name, "
                   "compute, and domain '%s')",
                   i, domain, domain);
      return FALSE;
    }
  }
  Feature *f = plugin_add_feature (plugin, FEATURE_OP_SET, domain, error);
  if (!f)
    return FALSE;
  f->ops = g_array_new (FALSE, FALSE, sizeof (OpRange));
  for (guint i = 0; i < n_ops; i++) {
    OpRange r = { g_strdup (ops[i]->name), ops[i]->since_version,
                  ops[i]->until_version > 0 ? ops[i]->until_version : G_MAXINT };
    g_array_append_val (f->ops, r);
  }
  f->op_defs = ops;
  f->n_op_defs = n_ops;
  f->info = ops;
  return TRUE;
}

gboolean
glia_plugin_register_module (GliaPlugin *plugin, const GliaModuleInfo *info, GError **error)
{
  g_return_val_if_fail (plugin != NULL && info != NULL, FALSE);
  if (info->struct_size < G_STRUCT_OFFSET (GliaModuleInfo, save) || info->create == NULL
      || info->call == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN, "module '%s' lacks create or call",
                 info->name ? info->name : "(null)");
    return FALSE;
  }
  Feature *f = plugin_add_feature (plugin, FEATURE_MODULE, info->name, error);
  if (!f)
    return FALSE;
  f->description = g_strdup (info->description);
  f->info = info;
  return TRUE;
}

gboolean
glia_plugin_register_pass (GliaPlugin *plugin, const GliaPassInfo *info, GError **error)
{
  g_return_val_if_fail (plugin != NULL && info != NULL, FALSE);
  if (info->struct_size < G_STRUCT_OFFSET (GliaPassInfo, _reserved) || info->apply == NULL
      || info->level < 1 || info->level > 3) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN,
                 "optimization pass '%s' lacks apply or has a level outside 1..3",
                 info->name ? info->name : "(null)");
    return FALSE;
  }
  Feature *f = plugin_add_feature (plugin, FEATURE_PASS, info->name, error);
  if (!f)
    return FALSE;
  f->description = g_strdup (info->description);
  f->rank = info->level;
  f->info = info;
  return TRUE;
}

const char *
glia_plugin_get_path (GliaPlugin *plugin)
{
  g_return_val_if_fail (plugin != NULL, NULL);
  return plugin->entry->info->path;
}

/* ---- loading a plugin file ------------------------------------------------ */

/* Compares "a.b.c" versions; missing parts count as 0. */
static gint
version_compare (const char *a, const char *b)
{
  g_auto (GStrv) pa = g_strsplit (a, ".", 3);
  g_auto (GStrv) pb = g_strsplit (b, ".", 3);
  for (guint i = 0; i < 3; i++) {
    gint64 va = pa[0] && i < g_strv_length (pa) ? g_ascii_strtoll (pa[i], NULL, 10) : 0;
    gint64 vb = pb[0] && i < g_strv_length (pb) ? g_ascii_strtoll (pb[i], NULL, 10) : 0;
    if (va != vb)
      return va < vb ? -1 : 1;
  }
  return 0;
}

static void
entry_reject (PluginEntry *e, GError *error)
{
  e->info->status = GLIA_PLUGIN_STATUS_REJECTED;
  g_free (e->info->error);
  e->info->error = g_strdup (error->message);
  g_debug ("rejected %s: %s", e->info->path, error->message);
}

static void
entry_set_feature_names (PluginEntry *e)
{
  g_strfreev (e->info->features);
  e->info->features = g_new0 (char *, e->features->len + 1);
  for (guint i = 0; i < e->features->len; i++) {
    Feature *f = g_ptr_array_index (e->features, i);
    e->info->features[i] = g_strdup_printf ("%s:%s", feature_kind_names[f->kind], f->name);
  }
}

static gboolean
str_equal0 (const char *a, const char *b)
{
  return g_strcmp0 (a, b) == 0;
}

/* Opens, checks and initialises the plugin of @e. On success the features it
 * registered are stored in @e (replacing cached ones, which must match). */
static gboolean
entry_load (GliaRegistry *self, PluginEntry *e, GError **error)
{
  const char *path = e->info->path;
  if (e->module)
    return TRUE;

  GModule *module = g_module_open (path, G_MODULE_BIND_LOCAL | G_MODULE_BIND_LAZY);
  if (module == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN, "%s: cannot be opened: %s", path,
                 g_module_error ());
    return FALSE;
  }
  GliaPluginGetDescFunc get_desc = NULL;
  if (!g_module_symbol (module, GLIA_PLUGIN_DESC_SYMBOL, (gpointer *)&get_desc)
      || get_desc == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN,
                 "%s: not a Glia plugin (no %s descriptor symbol)", path, GLIA_PLUGIN_DESC_SYMBOL);
    g_module_close (module);
    return FALSE;
  }
  const GliaPluginDesc *desc = get_desc ();
  if (desc == NULL || desc->name == NULL || desc->init == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN,
                 "%s: its descriptor is incomplete (needs a name and an init function)", path);
    g_module_close (module);
    return FALSE;
  }
  e->info->abi_major = desc->abi_major;
  e->info->abi_minor = desc->abi_minor;
  g_free (e->info->name);
  e->info->name = g_strdup (desc->name);
  g_free (e->info->version);
  e->info->version = g_strdup (desc->version);
  g_free (e->info->description);
  e->info->description = g_strdup (desc->description);
  g_free (e->info->license);
  e->info->license = g_strdup (desc->license);

  if (desc->abi_major != GLIA_PLUGIN_ABI_MAJOR) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN_ABI,
                 "%s: plugin '%s' was built for plugin ABI %u.%u; this host implements ABI "
                 "%u.%u (the major version must match)",
                 path, desc->name, desc->abi_major, desc->abi_minor, GLIA_PLUGIN_ABI_MAJOR,
                 GLIA_PLUGIN_ABI_MINOR);
    g_module_close (module);
    return FALSE;
  }
  if (desc->abi_minor > GLIA_PLUGIN_ABI_MINOR) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN_ABI,
                 "%s: plugin '%s' was built for plugin ABI %u.%u, newer than this host's ABI "
                 "%u.%u; upgrade Glia or rebuild the plugin",
                 path, desc->name, desc->abi_major, desc->abi_minor, GLIA_PLUGIN_ABI_MAJOR,
                 GLIA_PLUGIN_ABI_MINOR);
    g_module_close (module);
    return FALSE;
  }
  if (desc->min_host_version && version_compare (desc->min_host_version, GLIA_VERSION_STRING) > 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN_ABI,
                 "%s: plugin '%s' needs Glia %s or newer; this host is %s", path, desc->name,
                 desc->min_host_version, GLIA_VERSION_STRING);
    g_module_close (module);
    return FALSE;
  }
  for (guint i = 0; i < self->plugins->len; i++) {
    PluginEntry *other = g_ptr_array_index (self->plugins, i);
    if (other != e && other->info->status != GLIA_PLUGIN_STATUS_REJECTED
        && str_equal0 (other->info->name, desc->name)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN,
                   "%s: plugin '%s' is already provided by %s", path, desc->name,
                   other->info->path);
      g_module_close (module);
      return FALSE;
    }
  }

  GliaPlugin plugin = { self, e, g_ptr_array_new_with_free_func (feature_free) };
  GError *init_error = NULL;
  gboolean ok = desc->init (&plugin, &init_error);
  /* init ran: the plugin may have registered types; never unload it */
  g_module_make_resident (module);
  e->module = module;
  if (!ok || init_error) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN, "%s: plugin '%s' failed to initialise: %s",
                 path, desc->name,
                 init_error ? init_error->message : "init returned FALSE without an error");
    g_clear_error (&init_error);
    g_ptr_array_unref (plugin.features);
    return FALSE;
  }

  /* a cached description must match what the plugin registers now */
  if (e->features->len > 0) {
    for (guint i = 0; i < e->features->len; i++) {
      Feature *cached = g_ptr_array_index (e->features, i);
      gboolean found = FALSE;
      for (guint k = 0; k < plugin.features->len && !found; k++) {
        Feature *now = g_ptr_array_index (plugin.features, k);
        found = now->kind == cached->kind && g_str_equal (now->name, cached->name);
      }
      if (!found) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN,
                     "%s: plugin '%s' no longer registers %s '%s' (stale cache?)", path, desc->name,
                     feature_kind_names[cached->kind], cached->name);
        g_ptr_array_unref (plugin.features);
        return FALSE;
      }
    }
    /* keep the cached Feature objects (the tables point at them), fill in code */
    for (guint k = 0; k < plugin.features->len; k++) {
      Feature *now = g_ptr_array_index (plugin.features, k);
      for (guint i = 0; i < e->features->len; i++) {
        Feature *cached = g_ptr_array_index (e->features, i);
        if (now->kind == cached->kind && g_str_equal (now->name, cached->name)) {
          cached->info = now->info;
          cached->op_defs = now->op_defs;
          cached->n_op_defs = now->n_op_defs;
        }
      }
    }
    g_ptr_array_unref (plugin.features);
  } else {
    g_ptr_array_unref (e->features);
    e->features = plugin.features;
  }
  e->info->status = GLIA_PLUGIN_STATUS_LOADED;
  g_clear_pointer (&e->info->error, g_free);
  entry_set_feature_names (e);
  return TRUE;
}

/* Adds the entry's features to the lookup tables; a name already taken by an
 * earlier plugin in the search order is skipped with a warning. */
static void
registry_index_entry (GliaRegistry *self, PluginEntry *e)
{
  for (guint i = 0; i < e->features->len; i++) {
    Feature *f = g_ptr_array_index (e->features, i);
    if (f->kind == FEATURE_PROVIDER || f->kind == FEATURE_LOADER) {
      gpointer over = g_hash_table_lookup (self->rank_overrides, f->name);
      if (over)
        f->rank = GPOINTER_TO_INT (over) - 1;
    }
    Feature *other = g_hash_table_lookup (self->features[f->kind], f->name);
    if (other && other != f) {
      g_warning ("%s: %s '%s' is also registered by %s; using the latter", e->info->path,
                 feature_kind_names[f->kind], f->name, other->plugin->info->path);
      continue;
    }
    g_hash_table_insert (self->features[f->kind], f->name, f);
  }
}

/* ---- cache --------------------------------------------------------------- */

static JsonNode *
feature_to_json (Feature *f)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, feature_kind_names[f->kind]);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, f->name);
  if (f->description) {
    json_builder_set_member_name (b, "description");
    json_builder_add_string_value (b, f->description);
  }
  json_builder_set_member_name (b, "rank");
  json_builder_add_int_value (b, f->rank);
  json_builder_set_member_name (b, "device");
  json_builder_add_int_value (b, f->device);
  json_builder_set_member_name (b, "options");
  json_builder_begin_array (b);
  for (guint i = 0; f->option_keys && f->option_keys[i]; i++)
    json_builder_add_string_value (b, f->option_keys[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "extensions");
  json_builder_begin_array (b);
  for (guint i = 0; f->extensions && f->extensions[i]; i++)
    json_builder_add_string_value (b, f->extensions[i]);
  json_builder_end_array (b);
  if (f->ops) {
    json_builder_set_member_name (b, "ops");
    json_builder_begin_array (b);
    for (guint i = 0; i < f->ops->len; i++) {
      OpRange *r = &g_array_index (f->ops, OpRange, i);
      json_builder_begin_array (b);
      json_builder_add_string_value (b, r->name);
      json_builder_add_int_value (b, r->since);
      json_builder_add_int_value (b, r->until);
      json_builder_end_array (b);
    }
    json_builder_end_array (b);
  }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
registry_save_cache (GliaRegistry *self)
{
  if (self->cache_path == NULL)
    return;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_int_value (b, CACHE_FORMAT);
  json_builder_set_member_name (b, "host-version");
  json_builder_add_string_value (b, GLIA_VERSION_STRING);
  json_builder_set_member_name (b, "abi");
  json_builder_add_int_value (b, GLIA_PLUGIN_ABI_MAJOR * 1000 + GLIA_PLUGIN_ABI_MINOR);
  json_builder_set_member_name (b, "plugins");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->plugins->len; i++) {
    PluginEntry *e = g_ptr_array_index (self->plugins, i);
    GliaPluginInfo *pi = e->info;
    json_builder_begin_object (b);
#define STR_MEMBER(key, val)                                                                       \
  if (val) {                                                                                       \
    json_builder_set_member_name (b, key);                                                         \
    json_builder_add_string_value (b, val);                                                        \
  }
    STR_MEMBER ("path", pi->path);
    STR_MEMBER ("name", pi->name);
    STR_MEMBER ("version", pi->version);
    STR_MEMBER ("description", pi->description);
    STR_MEMBER ("license", pi->license);
    STR_MEMBER ("error", pi->error);
#undef STR_MEMBER
    json_builder_set_member_name (b, "mtime");
    json_builder_add_int_value (b, e->mtime);
    json_builder_set_member_name (b, "size");
    json_builder_add_int_value (b, e->size);
    json_builder_set_member_name (b, "abi-major");
    json_builder_add_int_value (b, pi->abi_major);
    json_builder_set_member_name (b, "abi-minor");
    json_builder_add_int_value (b, pi->abi_minor);
    json_builder_set_member_name (b, "rejected");
    json_builder_add_boolean_value (b, pi->status == GLIA_PLUGIN_STATUS_REJECTED);
    json_builder_set_member_name (b, "features");
    json_builder_begin_array (b);
    for (guint k = 0; k < e->features->len; k++)
      json_builder_add_value (b, feature_to_json (g_ptr_array_index (e->features, k)));
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  gsize len;
  g_autofree char *text = json_generator_to_data (gen, &len);
  g_autofree char *dir = g_path_get_dirname (self->cache_path);
  g_autoptr (GError) error = NULL;
  if (g_mkdir_with_parents (dir, 0755) != 0
      || !g_file_set_contents (self->cache_path, text, len, &error))
    g_debug ("cannot write the plugin cache %s: %s", self->cache_path,
             error ? error->message : g_strerror (errno));
}

static const char *
json_str (JsonObject *o, const char *key)
{
  JsonNode *n = json_object_get_member (o, key);
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
             ? json_node_get_string (n)
             : NULL;
}

static gint64
json_int (JsonObject *o, const char *key)
{
  JsonNode *n = json_object_get_member (o, key);
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64
             ? json_node_get_int (n)
             : -1;
}

static char **
json_strv (JsonObject *o, const char *key)
{
  JsonNode *n = json_object_get_member (o, key);
  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return NULL;
  JsonArray *a = json_node_get_array (n);
  GStrvBuilder *sb = g_strv_builder_new ();
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *el = json_array_get_element (a, i);
    if (JSON_NODE_HOLDS_VALUE (el) && json_node_get_value_type (el) == G_TYPE_STRING)
      g_strv_builder_add (sb, json_node_get_string (el));
  }
  char **v = g_strv_builder_end (sb);
  g_strv_builder_unref (sb);
  return v;
}

/* Cached entries by path; NULL if there is no usable cache. */
static GHashTable *
registry_load_cache (GliaRegistry *self)
{
  if (self->cache_path == NULL)
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, self->cache_path, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  JsonObject *o = json_node_get_object (root);
  if (json_int (o, "format") != CACHE_FORMAT
      || json_int (o, "abi") != GLIA_PLUGIN_ABI_MAJOR * 1000 + GLIA_PLUGIN_ABI_MINOR
      || g_strcmp0 (json_str (o, "host-version"), GLIA_VERSION_STRING) != 0)
    return NULL;
  JsonNode *pn = json_object_get_member (o, "plugins");
  if (pn == NULL || !JSON_NODE_HOLDS_ARRAY (pn))
    return NULL;
  GHashTable *by_path
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_object_unref);
  JsonArray *arr = json_node_get_array (pn);
  for (guint i = 0; i < json_array_get_length (arr); i++) {
    JsonNode *el = json_array_get_element (arr, i);
    if (!JSON_NODE_HOLDS_OBJECT (el))
      continue;
    JsonObject *po = json_node_get_object (el);
    const char *path = json_str (po, "path");
    if (path)
      g_hash_table_insert (by_path, g_strdup (path), json_object_ref (po));
  }
  return by_path;
}

/* Fills @e from its cache record; FALSE if the record is unusable. */
static gboolean
entry_from_cache (PluginEntry *e, JsonObject *po)
{
  if (json_int (po, "mtime") != e->mtime || json_int (po, "size") != e->size)
    return FALSE;
  JsonNode *fn = json_object_get_member (po, "features");
  if (fn == NULL || !JSON_NODE_HOLDS_ARRAY (fn))
    return FALSE;
  GliaPluginInfo *pi = e->info;
  pi->name = g_strdup (json_str (po, "name"));
  pi->version = g_strdup (json_str (po, "version"));
  pi->description = g_strdup (json_str (po, "description"));
  pi->license = g_strdup (json_str (po, "license"));
  pi->abi_major = MAX (json_int (po, "abi-major"), 0);
  pi->abi_minor = MAX (json_int (po, "abi-minor"), 0);
  JsonNode *rn = json_object_get_member (po, "rejected");
  gboolean rejected = rn && JSON_NODE_HOLDS_VALUE (rn) && json_node_get_boolean (rn);
  pi->status = rejected ? GLIA_PLUGIN_STATUS_REJECTED : GLIA_PLUGIN_STATUS_KNOWN;
  pi->error = g_strdup (json_str (po, "error"));
  if (rejected)
    return TRUE;

  JsonArray *fa = json_node_get_array (fn);
  for (guint i = 0; i < json_array_get_length (fa); i++) {
    JsonNode *el = json_array_get_element (fa, i);
    if (!JSON_NODE_HOLDS_OBJECT (el))
      return FALSE;
    JsonObject *fo = json_node_get_object (el);
    const char *kind = json_str (fo, "kind");
    const char *name = json_str (fo, "name");
    if (!kind || !name)
      return FALSE;
    Feature *f = g_new0 (Feature, 1);
    f->kind = (FeatureKind)G_N_ELEMENTS (feature_kind_names);
    for (guint k = 0; k < G_N_ELEMENTS (feature_kind_names); k++)
      if (g_str_equal (kind, feature_kind_names[k]))
        f->kind = k;
    f->name = g_strdup (name);
    g_ptr_array_add (e->features, f);
    if (f->kind == G_N_ELEMENTS (feature_kind_names))
      return FALSE;
    f->plugin = e;
    f->description = g_strdup (json_str (fo, "description"));
    f->rank = MAX (json_int (fo, "rank"), 0);
    f->device = CLAMP (json_int (fo, "device"), 0, GLIA_DEVICE_TYPE_OTHER);
    f->option_keys = json_strv (fo, "options");
    f->extensions = json_strv (fo, "extensions");
    JsonNode *on = json_object_get_member (fo, "ops");
    if (on && JSON_NODE_HOLDS_ARRAY (on)) {
      f->ops = g_array_new (FALSE, FALSE, sizeof (OpRange));
      JsonArray *oa = json_node_get_array (on);
      for (guint k = 0; k < json_array_get_length (oa); k++) {
        JsonNode *r = json_array_get_element (oa, k);
        if (!JSON_NODE_HOLDS_ARRAY (r) || json_array_get_length (json_node_get_array (r)) != 3)
          return FALSE;
        JsonArray *ra = json_node_get_array (r);
        OpRange range = { g_strdup (json_array_get_string_element (ra, 0)),
                          (gint)json_array_get_int_element (ra, 1),
                          (gint)json_array_get_int_element (ra, 2) };
        g_array_append_val (f->ops, range);
      }
    }
  }
  entry_set_feature_names (e);
  return TRUE;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *)a, *(char *const *)b);
}

static void
collect_plugin_files (const char *dir, guint depth, GPtrArray *out)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)))
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_strings);
  for (guint i = 0; i < names->len; i++) {
    const char *n = g_ptr_array_index (names, i);
    g_autofree char *path = g_build_filename (dir, n, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      if (depth > 0 && n[0] != '.' && !g_str_has_suffix (n, ".p"))
        collect_plugin_files (path, depth - 1, out);
    } else if (g_str_has_suffix (n, "." G_MODULE_SUFFIX))
      g_ptr_array_add (out, g_steal_pointer (&path));
  }
}

/**
 * glia_registry_scan:
 * @self: a #GliaRegistry
 * @error: return location for a #GError
 *
 * Discovers the plugins on the search path. Plugins that cannot be used are
 * listed with status %GLIA_PLUGIN_STATUS_REJECTED and a reason; they do not
 * make the scan fail. Scanning again picks up new files.
 *
 * Returns: %TRUE, or %FALSE with @error set if no directory could be read
 */
gboolean
glia_registry_scan (GliaRegistry *self, GError **error)
{
  g_return_val_if_fail (GLIA_IS_REGISTRY (self), FALSE);
  g_rec_mutex_lock (&self->lock);

  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->search_paths->len; i++)
    collect_plugin_files (g_ptr_array_index (self->search_paths, i), 3, files);

  g_autoptr (GHashTable) cache = registry_load_cache (self);
  gboolean dirty = FALSE;
  for (guint i = 0; i < files->len; i++) {
    const char *path = g_ptr_array_index (files, i);
    gboolean known = FALSE;
    for (guint k = 0; k < self->plugins->len && !known; k++)
      known = g_str_equal (((PluginEntry *)g_ptr_array_index (self->plugins, k))->info->path, path);
    if (known)
      continue;

    GStatBuf st;
    if (g_stat (path, &st) != 0)
      continue;
    PluginEntry *e = g_new0 (PluginEntry, 1);
    e->info = g_object_new (GLIA_TYPE_PLUGIN_INFO, NULL);
    e->info->path = g_strdup (path);
    e->mtime = (gint64)st.st_mtime;
    e->size = (gint64)st.st_size;
    e->features = g_ptr_array_new_with_free_func (feature_free);
    g_ptr_array_add (self->plugins, e);

    JsonObject *po = cache ? g_hash_table_lookup (cache, path) : NULL;
    if (po && entry_from_cache (e, po)) {
      if (e->info->status != GLIA_PLUGIN_STATUS_REJECTED)
        registry_index_entry (self, e);
      continue;
    }
    /* no usable cache record: start over from the file itself */
    g_ptr_array_set_size (e->features, 0);
    g_clear_pointer (&e->info->name, g_free);
    g_clear_pointer (&e->info->error, g_free);
    g_autoptr (GError) load_error = NULL;
    if (entry_load (self, e, &load_error))
      registry_index_entry (self, e);
    else
      entry_reject (e, load_error);
    dirty = TRUE;
  }
  if (dirty || (cache == NULL && self->cache_path))
    registry_save_cache (self);
  self->scanned = TRUE;
  g_rec_mutex_unlock (&self->lock);
  return TRUE;
}

/**
 * glia_registry_get_plugins:
 * @self: a #GliaRegistry
 *
 * Lists the plugins the last scan found, with their status.
 *
 * Returns: (transfer full) (element-type GliaPluginInfo): every plugin found,
 *   rejected ones included, in search order
 */
GList *
glia_registry_get_plugins (GliaRegistry *self)
{
  g_return_val_if_fail (GLIA_IS_REGISTRY (self), NULL);
  GList *list = NULL;
  g_rec_mutex_lock (&self->lock);
  for (guint i = 0; i < self->plugins->len; i++)
    list = g_list_prepend (
        list, g_object_ref (((PluginEntry *)g_ptr_array_index (self->plugins, i))->info));
  g_rec_mutex_unlock (&self->lock);
  return g_list_reverse (list);
}

/**
 * glia_registry_find_plugin:
 * @self: a #GliaRegistry
 * @name: a plugin name
 *
 * Looks up a usable (not rejected) plugin by name.
 *
 * Returns: (transfer none) (nullable): the usable plugin called @name
 */
GliaPluginInfo *
glia_registry_find_plugin (GliaRegistry *self, const char *name)
{
  g_return_val_if_fail (GLIA_IS_REGISTRY (self), NULL);
  GliaPluginInfo *found = NULL;
  g_rec_mutex_lock (&self->lock);
  for (guint i = 0; i < self->plugins->len && !found; i++) {
    PluginEntry *e = g_ptr_array_index (self->plugins, i);
    if (e->info->status != GLIA_PLUGIN_STATUS_REJECTED && str_equal0 (e->info->name, name))
      found = e->info;
  }
  g_rec_mutex_unlock (&self->lock);
  return found;
}

gboolean
glia_registry_is_plugin_loaded (GliaRegistry *self, const char *name)
{
  GliaPluginInfo *pi = glia_registry_find_plugin (self, name);
  return pi && pi->status == GLIA_PLUGIN_STATUS_LOADED;
}

static gint
compare_by_rank (gconstpointer a, gconstpointer b)
{
  const Feature *fa = *(Feature **)a, *fb = *(Feature **)b;
  if (fa->rank != fb->rank)
    return fa->rank > fb->rank ? -1 : 1;
  return strcmp (fa->name, fb->name);
}

static GPtrArray *
features_sorted (GliaRegistry *self, FeatureKind kind)
{
  GPtrArray *arr = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, self->features[kind]);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_add (arr, value);
  g_ptr_array_sort (arr, compare_by_rank);
  return arr;
}

static char **
feature_names (GliaRegistry *self, FeatureKind kind)
{
  g_rec_mutex_lock (&self->lock);
  g_autoptr (GPtrArray) arr = features_sorted (self, kind);
  char **names = g_new0 (char *, arr->len + 1);
  for (guint i = 0; i < arr->len; i++)
    names[i] = g_strdup (((Feature *)g_ptr_array_index (arr, i))->name);
  g_rec_mutex_unlock (&self->lock);
  return names;
}

/**
 * glia_registry_get_provider_names:
 * @self: a #GliaRegistry
 *
 * Lists the execution providers of the usable plugins, as a session without a provider list would
 * try them.
 *
 * Returns: (transfer full) (array zero-terminated=1): the usable providers,
 *   highest rank first (ties by name)
 */
char **
glia_registry_get_provider_names (GliaRegistry *self)
{
  g_return_val_if_fail (GLIA_IS_REGISTRY (self), NULL);
  return feature_names (self, FEATURE_PROVIDER);
}

/**
 * glia_registry_get_loader_names:
 * @self: a #GliaRegistry
 *
 * Lists the model loaders of the usable plugins.
 *
 * Returns: (transfer full) (array zero-terminated=1): the usable model loaders
 */
char **
glia_registry_get_loader_names (GliaRegistry *self)
{
  g_return_val_if_fail (GLIA_IS_REGISTRY (self), NULL);
  return feature_names (self, FEATURE_LOADER);
}

/**
 * glia_registry_get_provider_rank:
 * @self: a #GliaRegistry
 * @name: a provider name
 *
 * Gets the rank of an execution provider: sessions that name no providers use those of rank above
 * 0, highest first. `GLIA_FEATURE_RANK=cpu:10,onednn:300` overrides the ranks the plugins declare.
 *
 * Returns: the provider's rank after `GLIA_FEATURE_RANK` overrides, -1 if unknown
 */
gint
glia_registry_get_provider_rank (GliaRegistry *self, const char *name)
{
  g_return_val_if_fail (GLIA_IS_REGISTRY (self), -1);
  g_rec_mutex_lock (&self->lock);
  Feature *f = g_hash_table_lookup (self->features[FEATURE_PROVIDER], name);
  gint rank = f ? f->rank : -1;
  g_rec_mutex_unlock (&self->lock);
  return rank;
}

/**
 * glia_registry_has_provider_option:
 * @self: a #GliaRegistry
 * @provider: a provider name
 * @key: an option key without the `ep.<name>.` prefix
 *
 * Checks whether a provider accepts an option key, as session creation does for every
 * `ep.<provider>.<key>` option.
 *
 * Returns: whether @provider exists and accepts @key (known without loading it)
 */
gboolean
glia_registry_has_provider_option (GliaRegistry *self, const char *provider, const char *key)
{
  g_return_val_if_fail (GLIA_IS_REGISTRY (self), FALSE);
  gboolean found = FALSE;
  g_rec_mutex_lock (&self->lock);
  Feature *f = g_hash_table_lookup (self->features[FEATURE_PROVIDER], provider);
  if (f
      && (g_str_equal (key, "device_id")
          || (f->option_keys && g_strv_contains ((const char *const *)f->option_keys, key))))
    found = TRUE;
  g_rec_mutex_unlock (&self->lock);
  return found;
}

static gboolean
feature_ensure_loaded (GliaRegistry *self, Feature *f, GError **error)
{
  if (f->info)
    return TRUE;
  PluginEntry *e = f->plugin;
  if (!entry_load (self, e, error)) {
    entry_reject (e, *error);
    return FALSE;
  }
  if (f->info == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN, "%s: %s '%s' was not registered",
                 e->info->path, feature_kind_names[f->kind], f->name);
    return FALSE;
  }
  return TRUE;
}

const GliaProviderInfo *
glia_registry_get_provider (GliaRegistry *self, const char *name, GError **error)
{
  g_rec_mutex_lock (&self->lock);
  Feature *f = g_hash_table_lookup (self->features[FEATURE_PROVIDER], name);
  const GliaProviderInfo *info = NULL;
  if (f == NULL) {
    g_autofree char *names = NULL;
    g_auto (GStrv) all = glia_registry_get_provider_names (self);
    names = g_strjoinv (", ", all);
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_NOT_FOUND,
                 "no execution provider named '%s' (available: %s)", name,
                 *names ? names : "none; is GLIA_PLUGIN_PATH right?");
  } else if (feature_ensure_loaded (self, f, error))
    info = f->info;
  g_rec_mutex_unlock (&self->lock);
  return info;
}

/* The infos of every feature of @kind, loading their plugins, in
 * features_sorted() order; a plugin that fails to load is warned about and
 * skipped. */
static GPtrArray *
loaded_feature_infos (GliaRegistry *self, FeatureKind kind)
{
  g_rec_mutex_lock (&self->lock);
  GPtrArray *out = g_ptr_array_new ();
  g_autoptr (GPtrArray) arr = features_sorted (self, kind);
  for (guint i = 0; i < arr->len; i++) {
    Feature *f = g_ptr_array_index (arr, i);
    g_autoptr (GError) local = NULL;
    if (feature_ensure_loaded (self, f, &local))
      g_ptr_array_add (out, (gpointer)f->info);
    else
      g_warning ("%s", local->message);
  }
  g_rec_mutex_unlock (&self->lock);
  return out;
}

GPtrArray *
glia_registry_get_loaders (GliaRegistry *self, GError **error)
{
  return loaded_feature_infos (self, FEATURE_LOADER);
}

gboolean
glia_registry_has_custom_domain (GliaRegistry *self, const char *domain)
{
  g_rec_mutex_lock (&self->lock);
  gboolean has = g_hash_table_contains (self->features[FEATURE_OP_SET], domain);
  g_rec_mutex_unlock (&self->lock);
  return has;
}

const GliaOpDef *
glia_registry_find_custom_op (GliaRegistry *self, const char *domain, const char *name, gint opset)
{
  const GliaOpDef *found = NULL;
  g_rec_mutex_lock (&self->lock);
  Feature *f = g_hash_table_lookup (self->features[FEATURE_OP_SET], domain);
  g_autoptr (GError) error = NULL;
  if (f && feature_ensure_loaded (self, f, &error)) {
    for (guint i = 0; i < f->n_op_defs && !found; i++) {
      const GliaOpDef *d = f->op_defs[i];
      gint until = d->until_version > 0 ? d->until_version : G_MAXINT;
      if (g_str_equal (d->name, name) && opset >= d->since_version && opset <= until)
        found = d;
    }
  } else if (error)
    g_warning ("%s", error->message);
  g_rec_mutex_unlock (&self->lock);
  return found;
}

/* Every registered optimization pass (GliaPassInfo*), loading the plugins
 * that declare them; sorted by name. A plugin that fails to load is warned
 * about and skipped. */
GPtrArray *
glia_registry_get_passes (GliaRegistry *self)
{
  return loaded_feature_infos (self, FEATURE_PASS);
}
