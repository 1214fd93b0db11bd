/* onednn-provider.c: the "onednn" execution provider.
 *
 * Rank 0: used only when a session names it (`--ep onednn,cpu`); the CPU
 * provider takes what it leaves. It claims maximal convex regions of
 * connected supported float32 nodes (onednn-ops.c), each compiled into one
 * kernel, so tensors stay in oneDNN's blocked layouts inside a region and
 * are reordered only at its edges.
 *
 * Threads: Debian's libdnnl is built on OpenMP (libgomp). By default idle
 * libgomp workers spin for milliseconds after each parallel region,
 * stealing the cores that OpenBLAS and the CPU provider's pool need next;
 * sleeping at once (OMP_WAIT_POLICY=PASSIVE) makes every primitive pay a
 * futex wake. libgomp reads its environment once, when it is loaded, so the
 * kernels live in a second module (glia-onednn-kernels, linking libdnnl)
 * that this plugin opens only after setting GOMP_SPINCOUNT to a short spin
 * (unless the user set it or OMP_WAIT_POLICY, or libgomp was already loaded
 * by someone else). The kernels run oneDNN with the
 * session's n_threads (omp_set_num_threads on the calling thread).
 */
#define G_LOG_DOMAIN "Glia-oneDNN"

#include "onednn-private.h"

#include <stdlib.h>
#include <string.h>

extern const GliaProviderInfo onednn_provider_info;

#define ONEDNN_GOMP_SPINCOUNT "10000"
char *onednn_plugin_dir = NULL;

typedef struct
{
  OnednnConfig config;
  char *conv_cache;
  OnednnCompileFunc compile;
} OnednnProvider;

/* the kernels module's, once load_kernels() succeeded */
static OnednnParallelFunc parallel_func;

/* Option ep.onednn.@key: the index in @names (NULL-terminated) of its
 * value, @fallback when unset, -1 with @error set when it is none of them. */
static gint
option_choice (const GliaProviderConfig *config, const char *key, const char *const *names,
               gint fallback, GError **error)
{
  const char *value = config->options ? g_hash_table_lookup (config->options, key) : NULL;
  if (value == NULL)
    return fallback;
  for (gint i = 0; names[i]; i++)
    if (g_str_equal (value, names[i]))
      return i;
  g_autofree char *list = g_strjoinv (", ", (char **)names);
  g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
               "ep.onednn.%s: '%s' is not one of %s", key, value, list);
  return -1;
}

static OnednnCompileFunc
load_kernels (GError **error)
{
  static GMutex lock;
  static OnednnCompileFunc compile = NULL;
  static char *failure = NULL;
  g_mutex_lock (&lock);
  if (compile == NULL && failure == NULL) {
    GModule *self_mod = g_module_open (NULL, 0);
    gpointer sym = NULL;
    gboolean gomp_loaded = self_mod && g_module_symbol (self_mod, "omp_get_max_threads", &sym);
    if (self_mod)
      g_module_close (self_mod);
    /* a short spin (10000 turns, some tens of microseconds) bridges the
     * gaps between a region's primitives and between the regions of a
     * transformer layer without holding the cores long after them: PASSIVE
     * (futex wake per primitive) made two threads 15-35% slower on small
     * CNNs, libgomp's default spin (300000) holds a core for milliseconds
     * after each region, and 1000 let the workers fall asleep between a
     * transformer's regions (3416 context switches in 300 EfficientNet-B0
     * runs against 243; transformer encoder at two threads 3.53 -> 3.09 ms,
     * CNNs 1-2% faster, one thread unchanged) */
    if (!gomp_loaded && g_getenv ("OMP_WAIT_POLICY") == NULL && g_getenv ("GOMP_SPINCOUNT") == NULL)
      g_setenv ("GOMP_SPINCOUNT", ONEDNN_GOMP_SPINCOUNT, TRUE);
    else
      g_debug ("libgomp already loaded: OMP_WAIT_POLICY is whatever it was");
    g_autofree char *path = g_build_filename (onednn_plugin_dir ? onednn_plugin_dir : ".",
                                              "glia-onednn-kernels.mod", NULL);
    GModule *mod = g_module_open (path, G_MODULE_BIND_LOCAL);
    if (mod == NULL)
      failure = g_strdup_printf ("cannot open the oneDNN kernels module: %s", g_module_error ());
    else if (!g_module_symbol (mod, ONEDNN_COMPILE_SYMBOL, &sym) || sym == NULL
             || !g_module_symbol (mod, ONEDNN_PARALLEL_SYMBOL, (gpointer *)&parallel_func)
             || parallel_func == NULL) {
      failure = g_strdup_printf ("%s lacks %s or %s", path, ONEDNN_COMPILE_SYMBOL,
                                 ONEDNN_PARALLEL_SYMBOL);
      g_module_close (mod);
    } else {
      g_module_make_resident (mod);
      compile = (OnednnCompileFunc)sym;
    }
  }
  if (compile == NULL)
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_PLUGIN, "%s", failure);
  OnednnCompileFunc ret = compile;
  g_mutex_unlock (&lock);
  return ret;
}

static gpointer
onednn_provider_create (const GliaProviderConfig *config, GError **error)
{
  OnednnCompileFunc compile = load_kernels (error);
  if (compile == NULL)
    return NULL;
  /* in the order of the enums */
  static const char *const algos[] = { "auto", "direct", "winograd", "glia-winograd", NULL };
  static const char *const impls[] = { "glia", "onednn", NULL };
  static const char *const switches[] = { "off", "on", NULL };
  gint algo = option_choice (config, "conv-algorithm", algos, ONEDNN_CONV_AUTO, error);
  gint dw = algo < 0 ? -1 : option_choice (config, "depthwise", impls, ONEDNN_DW_GLIA, error);
  gint fusion = dw < 0 ? -1 : option_choice (config, "block-fusion", switches, TRUE, error);
  static const char *const directs[] = { "auto", "onednn", "glia", NULL };
  gint direct
      = fusion < 0 ? -1 : option_choice (config, "direct-conv", directs, ONEDNN_DIRECT_AUTO, error);
  static const char *const tunings[] = { "shape", "network", NULL };
  gint tuning = direct < 0 ? -1 : option_choice (config, "conv-tuning", tunings, TRUE, error);
  if (tuning < 0)
    return NULL;
  OnednnProvider *self = g_new0 (OnednnProvider, 1);
  self->config.n_threads = config->n_threads ? config->n_threads : g_get_num_processors ();
  self->config.conv_algo = (OnednnConvAlgo)algo;
  self->config.depthwise = (OnednnDwImpl)dw;
  self->config.block_fusion = fusion;
  self->config.direct_conv = (OnednnDirectImpl)direct;
  self->config.tune_network = tuning;
  const char *cache = config->options ? g_hash_table_lookup (config->options, "conv-cache") : NULL;
  self->conv_cache = g_strdup (cache);
  self->config.conv_cache = self->conv_cache;
  self->compile = compile;
  return self;
}

static void
onednn_provider_destroy (gpointer instance)
{
  OnednnProvider *self = instance;
  g_free (self->conv_cache);
  g_free (self);
}

/* Grows regions node by node in topological order. A node joins the region
 * of one of its producers unless a path from that region reaches the node
 * through a node outside it (the region would not be convex): tainted[n] is
 * the set of regions with such a path to n. */
static gboolean
onednn_provider_get_capability (gpointer instance, const GliaGraph *graph, GliaCapability *cap,
                                GError **error)
{
  guint n_nodes = glia_graph_get_n_nodes (graph);
  if (n_nodes == 0)
    return TRUE;
  g_autofree gint *region = g_new (gint, n_nodes);
  GHashTable **tainted = g_new0 (GHashTable *, n_nodes);
  g_autoptr (GPtrArray) regions = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);

  for (guint node = 0; node < n_nodes; node++) {
    region[node] = -1;
    gboolean ok = onednn_classify (graph, node, NULL) != ONEDNN_OP_NONE;
    tainted[node] = g_hash_table_new (NULL, NULL);
    guint n_in = glia_graph_node_get_n_inputs (graph, node);
    /* producers' taints, and candidate regions */
    g_autoptr (GArray) cands = g_array_new (FALSE, FALSE, sizeof (gint));
    for (guint i = 0; i < n_in; i++) {
      gint v = glia_graph_node_get_input (graph, node, i);
      gint p = v >= 0 ? glia_graph_value_get_producer (graph, v) : -1;
      if (p < 0)
        continue;
      GHashTableIter it;
      gpointer key;
      g_hash_table_iter_init (&it, tainted[p]);
      while (g_hash_table_iter_next (&it, &key, NULL))
        g_hash_table_add (tainted[node], key);
      if (region[p] >= 0)
        g_array_append_val (cands, region[p]);
    }
    if (ok) {
      for (guint c = 0; c < cands->len && region[node] < 0; c++) {
        gint r = g_array_index (cands, gint, c);
        if (!g_hash_table_contains (tainted[node], GINT_TO_POINTER (r + 1)))
          region[node] = r;
      }
      /* a node no region feeds (its inputs come from outside: graph
       * inputs, say) joins the latest region it is not downstream of, so
       * that branches reading one graph input share a region (and its
       * layouts); that keeps the region convex, as a path into the node
       * from the region would have tainted it */
      for (gint r = (gint)regions->len - 1; r >= 0 && region[node] < 0 && cands->len == 0; r--)
        if (!g_hash_table_contains (tainted[node], GINT_TO_POINTER (r + 1)))
          region[node] = r;
      if (region[node] < 0) {
        region[node] = regions->len;
        g_ptr_array_add (regions, g_array_new (FALSE, FALSE, sizeof (gint)));
      }
      gint n = node;
      g_array_append_val (g_ptr_array_index (regions, region[node]), n);
    }
    /* regions feeding this node from outside taint everything downstream */
    for (guint c = 0; c < cands->len; c++) {
      gint r = g_array_index (cands, gint, c);
      if (r != region[node])
        g_hash_table_add (tainted[node], GINT_TO_POINTER (r + 1));
    }
  }
  for (guint node = 0; node < n_nodes; node++)
    g_hash_table_unref (tainted[node]);
  g_free (tainted);

  for (guint r = 0; r < regions->len; r++) {
    GArray *nodes = g_ptr_array_index (regions, r);
    glia_capability_add_subgraph (cap, (const gint *)nodes->data, nodes->len);
  }
  g_debug ("claimed %u regions", regions->len);
  return TRUE;
}

static gboolean
onednn_provider_compile (gpointer instance, const GliaGraph *graph, const gint *nodes,
                         guint n_nodes, GliaKernel *kernel, GError **error)
{
  OnednnProvider *self = instance;
  return self->compile (graph, nodes, n_nodes, &self->config, kernel, error);
}

/* Runs on the team of OpenMP threads the regions use (see
 * glia_onednn_parallel_for() in onednn-kernel.c). */
static void
onednn_provider_parallel_for (gpointer instance, guint n_threads, gsize n, gsize grain,
                              GliaParallelFunc func, gpointer user_data)
{
  parallel_func (n_threads, n, grain, func, user_data);
}

static const char *const onednn_option_keys[]
    = { "conv-algorithm", "conv-cache",  "conv-tuning", "depthwise",
        "block-fusion",   "direct-conv", NULL };

const GliaProviderInfo onednn_provider_info = {
  .struct_size = sizeof (GliaProviderInfo),
  .name = "onednn",
  .description = "oneDNN primitives (conv, matmul, pooling, norms) with post-op fusion and blocked "
                 "layouts, on the host CPU",
  .device_type = GLIA_DEVICE_TYPE_CPU,
  .rank = 0,
  .option_keys = onednn_option_keys,
  .create = onednn_provider_create,
  .destroy = onednn_provider_destroy,
  .get_capability = onednn_provider_get_capability,
  .compile = onednn_provider_compile,
  .parallel_for = onednn_provider_parallel_for,
};
