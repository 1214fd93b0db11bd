/* glia-model.c: GliaModel, an immutable graph with its weights.
 *
 * Loading reads the file's first bytes and asks every loader registered with
 * the registry to score them; the best scorer (ties: loader rank, then name)
 * builds the graph. The graph is validated and then never changed: sessions
 * work on copies, so one model serves many sessions.
 */
#include "glia-private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PROBE_BYTES 4096

struct _GliaModel
{
  GObject parent_instance;
  char *path;
  char *loader;
  GliaGraph *graph;
};

/**
 * GliaModel:
 *
 * A loaded model: its graph (operators, values, attributes, opset imports)
 * and its weights, immutable once loaded. Load one with
 * glia_model_new_from_file(), inspect its inputs, outputs and metadata, and
 * make one or more #GliaSession from it to run it; sessions share the
 * model's weights.
 */
G_DEFINE_FINAL_TYPE (GliaModel, glia_model, G_TYPE_OBJECT)

static void
glia_model_finalize (GObject *object)
{
  GliaModel *self = GLIA_MODEL (object);
  g_free (self->path);
  g_free (self->loader);
  glia_graph_unref (self->graph);
  G_OBJECT_CLASS (glia_model_parent_class)->finalize (object);
}

static void
glia_model_class_init (GliaModelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = glia_model_finalize;
}

static void
glia_model_init (GliaModel *self)
{
}

/**
 * glia_model_new_from_file:
 * @path: (type filename): a model file
 * @error: return location for a #GError
 *
 * Loads a model with the loaders of the default registry.
 *
 * Returns: (transfer full): the model, or %NULL with @error set
 */
GliaModel *
glia_model_new_from_file (const char *path, GError **error)
{
  return glia_model_new_from_file_full (path, glia_registry_get_default (), error);
}

/**
 * glia_model_new_from_file_full:
 * @path: (type filename): a model file
 * @registry: the registry whose loaders to use
 * @error: return location for a #GError
 *
 * Loads a model with the loaders of @registry: each loader probes the file's contents and the most
 * confident one reads it. Use it with a registry of your own (for example one whose search path
 * holds your plugins); glia_model_new_from_file() uses the default registry.
 *
 * Returns: (transfer full): the model, or %NULL with @error set
 */
GliaModel *
glia_model_new_from_file_full (const char *path, GliaRegistry *registry, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (GLIA_IS_REGISTRY (registry), NULL);

  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_IO, "'%s' is a directory, not a model file", path);
    return NULL;
  }
  FILE *f = fopen (path, "rb");
  if (f == NULL) {
    int err = errno;
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_IO, "cannot open model '%s': %s", path,
                 g_strerror (err));
    return NULL;
  }
  guint8 head[PROBE_BYTES];
  gsize head_len = fread (head, 1, sizeof head, f);
  fclose (f);
  if (head_len == 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL, "model '%s' is empty", path);
    return NULL;
  }

  g_autoptr (GPtrArray) loaders = glia_registry_get_loaders (registry, error);
  if (loaders == NULL)
    return NULL;
  const GliaLoaderInfo *best = NULL;
  guint best_score = 0;
  for (guint i = 0; i < loaders->len; i++) {
    const GliaLoaderInfo *l = g_ptr_array_index (loaders, i);
    guint score = l->probe (path, head, head_len);
    if (score > best_score) {
      best = l;
      best_score = score;
    }
  }
  if (best == NULL) {
    g_auto (GStrv) names = glia_registry_get_loader_names (registry);
    g_autofree char *list = g_strjoinv (", ", names);
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                 "no model loader recognises '%s' (loaders: %s)", path,
                 *list ? list : "none found; is GLIA_PLUGIN_PATH right?");
    return NULL;
  }

  GError *local = NULL;
  GliaGraph *graph = best->load (path, &local);
  if (graph == NULL) {
    if (local == NULL)
      g_set_error (&local, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                   "the %s loader failed on '%s' without saying why", best->name, path);
    g_propagate_error (error, local);
    return NULL;
  }
  g_clear_error (&local);
  if (!glia_graph_validate (graph, error)) {
    g_prefix_error (error, "%s: ", path);
    glia_graph_unref (graph);
    return NULL;
  }
  GliaModel *self = g_object_new (GLIA_TYPE_MODEL, NULL);
  self->path = g_strdup (path);
  self->loader = g_strdup (best->name);
  self->graph = graph;
  return self;
}

/**
 * glia_model_new_from_graph: (skip)
 * @graph: a graph, built with the builder functions of glia-graph.h
 * @error: return location for a #GError
 *
 * Wraps a graph built in memory. Takes a reference on @graph, which must not
 * be changed afterwards.
 *
 * Returns: (transfer full): the model, or %NULL if the graph is invalid
 */
GliaModel *
glia_model_new_from_graph (GliaGraph *graph, GError **error)
{
  g_return_val_if_fail (graph != NULL, NULL);
  if (!glia_graph_validate (graph, error))
    return NULL;
  GliaModel *self = g_object_new (GLIA_TYPE_MODEL, NULL);
  self->loader = g_strdup ("memory");
  self->graph = glia_graph_ref (graph);
  return self;
}

/**
 * glia_model_get_path:
 * @self: a #GliaModel
 *
 * Gets the file @self was loaded from.
 *
 * Returns: (transfer none) (nullable) (type filename): the file the model came from
 */
const char *
glia_model_get_path (GliaModel *self)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  return self->path;
}

/**
 * glia_model_get_loader_name:
 * @self: a #GliaModel
 *
 * Gets the name of the loader plugin feature that read @self ("onnx", ...).
 *
 * Returns: (transfer none): the loader that read the model ("memory" for built graphs)
 */
const char *
glia_model_get_loader_name (GliaModel *self)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  return self->loader;
}

static gint
compare_strings (gconstpointer a, gconstpointer b, gpointer data)
{
  return g_strcmp0 (*(char *const *)a, *(char *const *)b);
}

/* Graph inputs that the caller must feed: initializers listed as inputs
 * (IR < 4) have defaults and are optional. */
static char **
value_names (GliaModel *self, gboolean inputs)
{
  const GliaGraph *g = self->graph;
  guint n = inputs ? glia_graph_get_n_inputs (g) : glia_graph_get_n_outputs (g);
  GStrvBuilder *b = g_strv_builder_new ();
  for (guint i = 0; i < n; i++) {
    gint v = inputs ? glia_graph_get_input (g, i) : glia_graph_get_output (g, i);
    if (inputs && glia_graph_value_get_constant (g, v))
      continue;
    g_strv_builder_add (b, glia_graph_value_get_name (g, v));
  }
  char **names = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  return names;
}

/**
 * glia_model_get_input_names:
 * @self: a #GliaModel
 *
 * Lists the graph inputs a run must be given, in the model's order. Inputs that have a default
 * value (an initializer, in old ONNX models) are optional and not listed.
 *
 * Returns: (transfer full) (array zero-terminated=1): the inputs a run must feed
 */
char **
glia_model_get_input_names (GliaModel *self)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  return value_names (self, TRUE);
}

/**
 * glia_model_get_output_names:
 * @self: a #GliaModel
 *
 * Lists the graph outputs, in the model's order.
 *
 * Returns: (transfer full) (array zero-terminated=1): the outputs a run produces
 */
char **
glia_model_get_output_names (GliaModel *self)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  return value_names (self, FALSE);
}

/**
 * glia_model_get_value_dtype:
 * @self: a #GliaModel
 * @name: an input, output or intermediate value name
 *
 * Gets the element type a model declares for one of its values. For sequence and optional values
 * it is the element type of their tensors.
 *
 * Returns: the value's declared element type, %GLIA_DATA_TYPE_UNDEFINED if unknown
 */
GliaDataType
glia_model_get_value_dtype (GliaModel *self, const char *name)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), GLIA_DATA_TYPE_UNDEFINED);
  gint v = glia_graph_lookup_value (self->graph, name);
  return v < 0 ? GLIA_DATA_TYPE_UNDEFINED : glia_graph_value_get_dtype (self->graph, v);
}

/**
 * glia_model_get_value_shape:
 * @self: a #GliaModel
 * @name: a value name
 * @rank: (out): the rank, -1 when unknown
 *
 * Gets the shape a model declares for one of its values; a symbolic dimension's name is given by
 * glia_model_get_value_dim_param().
 *
 * Returns: (transfer full) (array length=rank) (nullable): the declared
 *   dimensions, -1 for unknown or symbolic ones
 */
gint64 *
glia_model_get_value_shape (GliaModel *self, const char *name, gint *rank)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  gint v = glia_graph_lookup_value (self->graph, name);
  *rank = v < 0 ? -1 : glia_graph_value_get_rank (self->graph, v);
  if (*rank <= 0) {
    if (*rank < 0)
      *rank = -1;
    return NULL;
  }
  return g_memdup2 (glia_graph_value_get_dims (self->graph, v), *rank * sizeof (gint64));
}

char *
glia_graph_value_format_shape (const GliaGraph *graph, gint value)
{
  gint rank = glia_graph_value_get_rank (graph, value);
  if (rank < 0)
    return g_strdup ("[?]");
  const gint64 *dims = glia_graph_value_get_dims (graph, value);
  GString *s = g_string_new ("[");
  for (gint i = 0; i < rank; i++) {
    const char *param = glia_graph_value_get_dim_param (graph, value, i);
    if (i)
      g_string_append_c (s, ',');
    if (param)
      g_string_append (s, param);
    else if (dims[i] < 0)
      g_string_append_c (s, '?');
    else
      g_string_append_printf (s, "%" G_GINT64_FORMAT, dims[i]);
  }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/**
 * glia_model_describe_value:
 * @self: a #GliaModel
 * @name: a value name
 *
 * Describes the declared type and shape of a value in one short string, as `glia inspect` prints
 * them.
 *
 * Returns: (transfer full) (nullable): "float32[N,64]"-style type and shape,
 *   symbolic dimensions by name, unknown ones as "?"; %NULL if there is no such value
 */
char *
glia_model_describe_value (GliaModel *self, const char *name)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  gint v = glia_graph_lookup_value (self->graph, name);
  if (v < 0)
    return NULL;
  g_autofree char *shape = glia_graph_value_format_shape (self->graph, v);
  return g_strconcat (glia_data_type_get_name (glia_graph_value_get_dtype (self->graph, v)), shape,
                      NULL);
}

/**
 * glia_model_get_metadata:
 * @self: a #GliaModel
 * @key: a metadata key ("producer_name", ...)
 *
 * Gets a metadata entry of the model file. For ONNX these are the model's metadata_props and
 * producer_name, producer_version, domain, doc_string, graph_name, ir_version and model_version.
 *
 * Returns: (transfer none) (nullable): the value
 */
const char *
glia_model_get_metadata (GliaModel *self, const char *key)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  return glia_graph_get_metadata (self->graph, key);
}

/**
 * glia_model_get_graph: (skip)
 * @self: a #GliaModel
 *
 * Gets the graph of @self, for C code using the graph accessors of glia-graph.h (installed with
 * the plugin API). The graph must not be changed.
 *
 * Returns: (transfer none): the model's graph, read-only
 */
const GliaGraph *
glia_model_get_graph (GliaModel *self)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  return self->graph;
}

/**
 * glia_model_get_metadata_keys:
 * @self: a #GliaModel
 *
 * Lists the metadata keys of @self, for glia_model_get_metadata().
 *
 * Returns: (transfer full) (array zero-terminated=1): the metadata keys, sorted
 */
char **
glia_model_get_metadata_keys (GliaModel *self)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  char **keys = glia_graph_get_metadata_keys (self->graph);
  g_qsort_with_data (keys, g_strv_length (keys), sizeof (char *), compare_strings, NULL);
  return keys;
}

/**
 * glia_model_get_opset_domains:
 * @self: a #GliaModel
 *
 * Lists the operator domains the model imports.
 *
 * Returns: (transfer full) (array zero-terminated=1): the operator domains the
 *   model imports, sorted ("" is the default ONNX domain)
 */
char **
glia_model_get_opset_domains (GliaModel *self)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  char **domains = glia_graph_get_opset_domains (self->graph);
  g_qsort_with_data (domains, g_strv_length (domains), sizeof (char *), compare_strings, NULL);
  return domains;
}

/**
 * glia_model_get_opset_version:
 * @self: a #GliaModel
 * @domain: an operator domain, "" for the default ONNX domain
 *
 * Gets the opset version the model imports for an operator domain.
 *
 * Returns: the imported opset version of @domain, 0 if not imported
 */
gint
glia_model_get_opset_version (GliaModel *self, const char *domain)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), 0);
  return glia_graph_get_opset (self->graph, domain);
}

/**
 * glia_model_get_value_dim_param:
 * @self: a #GliaModel
 * @name: a value name
 * @axis: a dimension index
 *
 * Gets the symbolic name of one dimension of a value.
 *
 * Returns: (transfer none) (nullable): the symbolic name of dimension @axis
 *   ("N", "batch"), or %NULL when it is fixed or unnamed
 */
const char *
glia_model_get_value_dim_param (GliaModel *self, const char *name, guint axis)
{
  g_return_val_if_fail (GLIA_IS_MODEL (self), NULL);
  gint v = glia_graph_lookup_value (self->graph, name);
  return v < 0 ? NULL : glia_graph_value_get_dim_param (self->graph, v, axis);
}
