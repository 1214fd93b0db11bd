/* glia-model.h: an immutable loaded model (graph + weights). */
#pragma once

#include <glia-types.h>
#include "glia-registry.h"

G_BEGIN_DECLS

/**
 * GliaGraph:
 *
 * The graph IR of a model (nodes, values, attributes, opset imports,
 * subgraphs). Opaque here: C code reads and builds graphs with the functions
 * of `glia-graph.h`, part of the plugin API; bindings see only #GliaModel.
 */
typedef struct _GliaGraph GliaGraph;

#define GLIA_TYPE_MODEL (glia_model_get_type ())
G_DECLARE_FINAL_TYPE (GliaModel, glia_model, GLIA, MODEL, GObject)

GliaModel *glia_model_new_from_file (const char *path, GError **error);
GliaModel *glia_model_new_from_file_full (const char *path, GliaRegistry *registry, GError **error);
GliaModel *glia_model_new_from_graph (GliaGraph *graph, GError **error);

const char *glia_model_get_path (GliaModel *self);
const char *glia_model_get_loader_name (GliaModel *self);
char **glia_model_get_input_names (GliaModel *self);
char **glia_model_get_output_names (GliaModel *self);
GliaDataType glia_model_get_value_dtype (GliaModel *self, const char *name);
gint64 *glia_model_get_value_shape (GliaModel *self, const char *name, gint *rank);
char *glia_model_describe_value (GliaModel *self, const char *name);
const char *glia_model_get_metadata (GliaModel *self, const char *key);
char **glia_model_get_metadata_keys (GliaModel *self);
char **glia_model_get_opset_domains (GliaModel *self);
gint glia_model_get_opset_version (GliaModel *self, const char *domain);
const char *glia_model_get_value_dim_param (GliaModel *self, const char *name, guint axis);
const GliaGraph *glia_model_get_graph (GliaModel *self);

G_END_DECLS
