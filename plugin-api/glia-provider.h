/* glia-provider.h: the execution-provider interface.
 *
 * A provider is a static GliaProviderInfo that a plugin registers from its
 * init function. For each session that uses it the host calls create() with
 * the session's options for this provider; the returned instance is then
 * asked which nodes it can run (get_capability), to compile its claims into
 * kernels (compile), and for device memory, copies and a stream.
 *
 * The struct starts with struct_size and is only appended to: the host reads
 * a field only when struct_size covers it.
 */
#pragma once

#include "glia-kernel.h"

G_BEGIN_DECLS

/* What a provider claims: single nodes and fusable subgraphs. */
typedef struct _GliaCapability GliaCapability;

/* Claims one node. */
void glia_capability_add_node (GliaCapability *cap, gint node);
/* Claims several nodes to be compiled together into one kernel. The host
 * rejects a subgraph that has an unclaimed node on a path between two of its
 * nodes (it could not be scheduled). */
void glia_capability_add_subgraph (GliaCapability *cap, const gint *nodes, guint n_nodes);

/* Per-session settings handed to create(). */
typedef struct
{
  gsize struct_size;
  /* Intra-op threads. */
  guint n_threads;
  /* Device ordinal (ep.<name>.device_id, default 0). */
  gint device_id;
  /* Bytes the provider may allocate, 0 = no limit. */
  guint64 memory_limit;
  /* The ep.<name>.<key> options, keys without the prefix, values as strings.
   * Only keys listed in the provider's option_keys reach here. */
  GHashTable *options;
} GliaProviderConfig;

/* A compiled kernel: a claim (node or subgraph) ready to run. Its inputs are
 * the claim's external inputs in order of first use, its outputs the values
 * it produces that are used outside it or are graph outputs, in node order. */
typedef struct
{
  gboolean (*compute) (gpointer state, GliaKernelContext *ctx, GError **error);
  void (*destroy) (gpointer state);
  gpointer state;
} GliaKernel;

typedef enum
{
  GLIA_COPY_HOST_TO_DEVICE,
  GLIA_COPY_DEVICE_TO_HOST,
  GLIA_COPY_DEVICE_TO_DEVICE,
} GliaCopyKind;

typedef struct _GliaProviderInfo GliaProviderInfo;

/**
 * GliaProviderInfo:
 * @struct_size: sizeof (GliaProviderInfo) as compiled by the plugin
 * @name: short unique name ("cpu", "cuda", "onednn")
 * @description: one line for `glia plugins`
 * @device_type: where the provider's tensors live
 * @rank: default preference (higher first) when a session names no providers;
 *   0 means "only when asked for by name"
 * @option_keys: NULL-terminated list of the keys ep.<name>.<key> accepts
 * @create: makes a per-session instance
 * @destroy: frees it
 * @get_capability: adds the nodes (or subgraphs) of @graph this instance can run
 * @compile: compiles one claim
 * @alloc: device memory (NULL for host-memory providers: the host allocates)
 * @free: frees what @alloc returned
 * @copy: copies between host and device memory, ordered on @stream
 * @get_stream: the instance's stream handle (NULL if none)
 * @synchronize: waits for all work queued on the stream
 * @lookup_op: the op def this instance would use for node @node of @graph
 *   (whose intermediate types may still be unknown), or NULL; the host calls
 *   its infer_shapes for type and shape inference before negotiation (may be
 *   NULL for providers without op tables)
 * @parallel_for: (since ABI 1.2) runs a loop split over up to @n_threads
 *   threads of the provider's own thread pool, as
 *   glia_kernel_context_parallel_for() describes; NULL when the provider has
 *   none. When a session compiled kernels of a provider that has one, the
 *   parallel loops of every kernel of the session run on that pool instead
 *   of the host's, so that two pools of busy-waiting threads do not take
 *   turns on the same cores (the oneDNN provider: OpenMP). Nested calls
 *   must run the loop on the calling thread.
 */
struct _GliaProviderInfo
{
  gsize struct_size;
  const char *name;
  const char *description;
  GliaDeviceType device_type;
  gint rank;
  const char *const *option_keys;

  gpointer (*create) (const GliaProviderConfig *config, GError **error);
  void (*destroy) (gpointer instance);
  gboolean (*get_capability) (gpointer instance, const GliaGraph *graph, GliaCapability *cap,
                              GError **error);
  gboolean (*compile) (gpointer instance, const GliaGraph *graph, const gint *nodes, guint n_nodes,
                       GliaKernel *kernel, GError **error);

  gpointer (*alloc) (gpointer instance, gsize size, GError **error);
  void (*free) (gpointer instance, gpointer ptr);
  gboolean (*copy) (gpointer instance, gpointer dst, gconstpointer src, gsize size,
                    GliaCopyKind kind, gpointer stream, GError **error);
  gpointer (*get_stream) (gpointer instance);
  gboolean (*synchronize) (gpointer instance, GError **error);
  const GliaOpDef *(*lookup_op) (gpointer instance, const GliaGraph *graph, gint node);
  void (*parallel_for) (gpointer instance, guint n_threads, gsize n, gsize grain,
                        GliaParallelFunc func, gpointer user_data);

  /*< private >*/
  gpointer _reserved[7];
};

/* Helpers for providers whose kernels are a GliaOpTable (one kernel per
 * node): claim every node the table serves, and compile a node with its
 * op def. */
gboolean glia_op_table_get_capability (const GliaOpTable *table, const GliaGraph *graph,
                                       GliaCapability *cap);
gboolean glia_op_table_compile (const GliaOpTable *table, const GliaGraph *graph, gint node,
                                GliaKernel *kernel, GError **error);

G_END_DECLS
