/* glia-graph.h: the graph IR every part of Glia shares.
 *
 * A GliaGraph is a list of nodes over a table of values, in the ONNX model of
 * computation: each value has a name, an element type, a shape whose
 * dimensions may be unknown (-1) or symbolic (a name), and possibly constant
 * data (an initializer). Loaders build graphs with the builder functions;
 * providers and optimization passes read them through the accessors. Ids are
 * dense indices; -1 stands for an omitted optional input.
 *
 * The host owns graphs. A graph inside a #GliaModel is immutable; a session
 * works on its own copy.
 */
#pragma once

#include "glia-types.h"

G_BEGIN_DECLS

typedef struct _GliaGraph GliaGraph;

/**
 * GliaAttrType:
 *
 * Types of node attributes, numbered as ONNX's AttributeProto.AttributeType.
 */
typedef enum
{
  GLIA_ATTR_UNDEFINED = 0,
  GLIA_ATTR_FLOAT = 1,
  GLIA_ATTR_INT = 2,
  GLIA_ATTR_STRING = 3,
  GLIA_ATTR_TENSOR = 4,
  GLIA_ATTR_GRAPH = 5,
  GLIA_ATTR_FLOATS = 6,
  GLIA_ATTR_INTS = 7,
  GLIA_ATTR_STRINGS = 8,
  GLIA_ATTR_TENSORS = 9,
  GLIA_ATTR_GRAPHS = 10,
  GLIA_ATTR_TYPE = 13,
} GliaAttrType;

/**
 * GliaValueKind:
 * @GLIA_VALUE_KIND_TENSOR: a tensor
 * @GLIA_VALUE_KIND_SEQUENCE: a sequence of tensors of one element type
 * @GLIA_VALUE_KIND_OPTIONAL_TENSOR: a tensor or nothing
 * @GLIA_VALUE_KIND_OPTIONAL_SEQUENCE: a sequence or nothing
 *
 * What a graph value holds. For sequences and optionals the value's dtype is
 * the element type of the tensors.
 */
typedef enum
{
  GLIA_VALUE_KIND_TENSOR = 0,
  GLIA_VALUE_KIND_SEQUENCE = 1,
  GLIA_VALUE_KIND_OPTIONAL_TENSOR = 2,
  GLIA_VALUE_KIND_OPTIONAL_SEQUENCE = 3,
} GliaValueKind;

/* A constant tensor as stored in a graph (initializer or tensor attribute).
 * For string tensors @data holds @n_elements NUL-terminated strings one after
 * the other. */
typedef struct
{
  GliaDataType dtype;
  guint rank;
  const gint64 *dims;
  GBytes *data;
} GliaConstTensor;

GliaGraph *glia_graph_new (void);
GliaGraph *glia_graph_ref (GliaGraph *graph);
void glia_graph_unref (GliaGraph *graph);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GliaGraph, glia_graph_unref)

/* Deep copy: nodes, values and attributes; constant data is shared (GBytes). */
GliaGraph *glia_graph_copy (const GliaGraph *graph);

/* ---- building ---------------------------------------------------------- */

/* Adds a value. @dims may be NULL when @rank is -1 (unknown rank). A dim of -1
 * is unknown; @dim_params (may be NULL) gives symbolic names for dims. Value
 * names are unique: adding an existing name returns the existing id. */
gint glia_graph_add_value (GliaGraph *graph, const char *name, GliaDataType dtype, gint rank,
                           const gint64 *dims, const char *const *dim_params);
gint glia_graph_lookup_value (const GliaGraph *graph, const char *name);
void glia_graph_value_set_type (GliaGraph *graph, gint value, GliaDataType dtype, gint rank,
                                const gint64 *dims, const char *const *dim_params);
void glia_graph_value_set_kind (GliaGraph *graph, gint value, GliaValueKind kind);
/* Makes @value constant. Takes a reference on @data. Fails (nothing
 * changed) when the data does not fit the type and shape, or when @value
 * already is a constant. */
gboolean glia_graph_value_set_constant (GliaGraph *graph, gint value, GliaDataType dtype,
                                        guint rank, const gint64 *dims, GBytes *data,
                                        GError **error);
void glia_graph_add_input (GliaGraph *graph, gint value);
void glia_graph_add_output (GliaGraph *graph, gint value);
/* Declares that the graph uses @domain ("" for ai.onnx) at @version. */
void glia_graph_set_opset (GliaGraph *graph, const char *domain, gint version);
void glia_graph_set_metadata (GliaGraph *graph, const char *key, const char *value);

/* Adds a node; @inputs may contain -1 for omitted optional inputs. */
gint glia_graph_add_node (GliaGraph *graph, const char *op_type, const char *domain,
                          const char *name, guint n_inputs, const gint *inputs, guint n_outputs,
                          const gint *outputs);
void glia_graph_node_set_attr_int (GliaGraph *graph, gint node, const char *name, gint64 v);
void glia_graph_node_set_attr_float (GliaGraph *graph, gint node, const char *name, float v);
void glia_graph_node_set_attr_string (GliaGraph *graph, gint node, const char *name, const char *v,
                                      gsize len);
void glia_graph_node_set_attr_ints (GliaGraph *graph, gint node, const char *name, const gint64 *v,
                                    guint n);
void glia_graph_node_set_attr_floats (GliaGraph *graph, gint node, const char *name, const float *v,
                                      guint n);
void glia_graph_node_set_attr_strings (GliaGraph *graph, gint node, const char *name,
                                       const char *const *v, guint n);
/* Takes a reference on @data. */
void glia_graph_node_set_attr_tensor (GliaGraph *graph, gint node, const char *name,
                                      GliaDataType dtype, guint rank, const gint64 *dims,
                                      GBytes *data);
/* A type attribute (ONNX TYPE_PROTO): a value kind and its element type. */
void glia_graph_node_set_attr_value_type (GliaGraph *graph, gint node, const char *name,
                                          GliaValueKind kind, GliaDataType dtype);
/* Takes a reference on @subgraph. */
void glia_graph_node_set_attr_graph (GliaGraph *graph, gint node, const char *name,
                                     GliaGraph *subgraph);

/* Checks that every node input is produced before use (or is a graph input or
 * constant), that the node list is topologically ordered (sorting it if not),
 * and that outputs have a producer. */
gboolean glia_graph_validate (GliaGraph *graph, GError **error);

/* ---- reading ----------------------------------------------------------- */

guint glia_graph_get_n_values (const GliaGraph *graph);
guint glia_graph_get_n_nodes (const GliaGraph *graph);
guint glia_graph_get_n_inputs (const GliaGraph *graph);
guint glia_graph_get_n_outputs (const GliaGraph *graph);
gint glia_graph_get_input (const GliaGraph *graph, guint i);
gint glia_graph_get_output (const GliaGraph *graph, guint i);
/* Opset version imported for @domain ("" or "ai.onnx" for the default domain);
 * 0 when not imported. */
gint glia_graph_get_opset (const GliaGraph *graph, const char *domain);
/* NULL-terminated list of imported domains; free with g_strfreev(). */
char **glia_graph_get_opset_domains (const GliaGraph *graph);
const char *glia_graph_get_metadata (const GliaGraph *graph, const char *key);
char **glia_graph_get_metadata_keys (const GliaGraph *graph);

const char *glia_graph_value_get_name (const GliaGraph *graph, gint value);
GliaDataType glia_graph_value_get_dtype (const GliaGraph *graph, gint value);
GliaValueKind glia_graph_value_get_kind (const GliaGraph *graph, gint value);
/* Rank, or -1 when unknown. */
gint glia_graph_value_get_rank (const GliaGraph *graph, gint value);
/* Dims (length = rank), -1 for unknown ones; NULL when the rank is unknown. */
const gint64 *glia_graph_value_get_dims (const GliaGraph *graph, gint value);
/* Symbolic name of dim @axis, or NULL. */
const char *glia_graph_value_get_dim_param (const GliaGraph *graph, gint value, guint axis);
/* The constant data of @value, or NULL if it is not constant. */
const GliaConstTensor *glia_graph_value_get_constant (const GliaGraph *graph, gint value);
/* Id of the node producing @value, or -1 for graph inputs and constants. */
gint glia_graph_value_get_producer (const GliaGraph *graph, gint value);

const char *glia_graph_node_get_op_type (const GliaGraph *graph, gint node);
/* Domain of the node: "" for ai.onnx. */
const char *glia_graph_node_get_domain (const GliaGraph *graph, gint node);
const char *glia_graph_node_get_name (const GliaGraph *graph, gint node);
guint glia_graph_node_get_n_inputs (const GliaGraph *graph, gint node);
guint glia_graph_node_get_n_outputs (const GliaGraph *graph, gint node);
gint glia_graph_node_get_input (const GliaGraph *graph, gint node, guint i);
gint glia_graph_node_get_output (const GliaGraph *graph, gint node, guint i);
/* The opset version that applies to this node (its domain's import). */
gint glia_graph_node_get_opset (const GliaGraph *graph, gint node);

guint glia_graph_node_get_n_attrs (const GliaGraph *graph, gint node);
const char *glia_graph_node_get_attr_name (const GliaGraph *graph, gint node, guint i);
GliaAttrType glia_graph_node_get_attr_type (const GliaGraph *graph, gint node, const char *name);
gboolean glia_graph_node_has_attr (const GliaGraph *graph, gint node, const char *name);
gint64 glia_graph_node_get_attr_int (const GliaGraph *graph, gint node, const char *name,
                                     gint64 default_value);
float glia_graph_node_get_attr_float (const GliaGraph *graph, gint node, const char *name,
                                      float default_value);
/* Returns @default_value when absent; @len (may be NULL) receives the length. */
const char *glia_graph_node_get_attr_string (const GliaGraph *graph, gint node, const char *name,
                                             const char *default_value, gsize *len);
/* Return NULL with *n = 0 when absent. */
const gint64 *glia_graph_node_get_attr_ints (const GliaGraph *graph, gint node, const char *name,
                                             guint *n);
const float *glia_graph_node_get_attr_floats (const GliaGraph *graph, gint node, const char *name,
                                              guint *n);
const char *const *glia_graph_node_get_attr_strings (const GliaGraph *graph, gint node,
                                                     const char *name, guint *n);
const GliaConstTensor *glia_graph_node_get_attr_tensor (const GliaGraph *graph, gint node,
                                                        const char *name);
GliaGraph *glia_graph_node_get_attr_graph (const GliaGraph *graph, gint node, const char *name);
/* FALSE when @name is not a type attribute. */
gboolean glia_graph_node_get_attr_value_type (const GliaGraph *graph, gint node, const char *name,
                                              GliaValueKind *kind, GliaDataType *dtype);

/* ---- editing (plugin ABI 1.1) -------------------------------------------
 *
 * For optimization passes (glia-pass.h), which work on a session's own copy.
 * Node and value ids stay valid across every edit except
 * glia_graph_remove_nodes(), which renumbers the nodes after the removed
 * ones. An edit may break topological order (a new node is appended at the
 * end); glia_graph_validate() sorts again. A value read by a subgraph is
 * read by name, so passes must not rename or drop values that
 * glia_graph_value_get_consumers() reports as read by a subgraph. */

/* Sets input @i of @node to @value (-1 for an omitted optional input); @i
 * may equal the node's input count to append one. */
void glia_graph_node_set_input (GliaGraph *graph, gint node, guint i, gint value);
/* Drops the node's inputs from @n_inputs on. */
void glia_graph_node_truncate_inputs (GliaGraph *graph, gint node, guint n_inputs);
/* Makes @node produce @value as output @i (the value's previous producer, if
 * any, no longer does); @i may equal the output count to append one. */
void glia_graph_node_set_output (GliaGraph *graph, gint node, guint i, gint value);
/* Changes the operator of @node; @domain "" or NULL is ai.onnx. */
void glia_graph_node_set_op_type (GliaGraph *graph, gint node, const char *op_type,
                                  const char *domain);
/* Removes attribute @name; FALSE if the node had none of that name. */
gboolean glia_graph_node_remove_attr (GliaGraph *graph, gint node, const char *name);
/* Removes @n_nodes nodes (ids, any order, duplicates allowed) and renumbers
 * the others, keeping their order. Values stay; those the removed nodes
 * produced have no producer afterwards. */
void glia_graph_remove_nodes (GliaGraph *graph, const gint *nodes, guint n_nodes);
/* Replaces every node input reading @old_value by @new_value (not graph
 * outputs, not reads by name from subgraphs). Returns how many were replaced. */
guint glia_graph_replace_uses (GliaGraph *graph, gint old_value, gint new_value);
/* The nodes reading @value, in node order, each once; a node counts when one
 * of its subgraphs reads @value by name (then *@by_subgraph, if not NULL, is
 * set to TRUE). Free with g_free(); NULL with *@n = 0 when there are none. */
gint *glia_graph_value_get_consumers (const GliaGraph *graph, gint value, guint *n,
                                      gboolean *by_subgraph);
/* Whether @value is one of the graph's outputs (or inputs). */
gboolean glia_graph_value_is_output (const GliaGraph *graph, gint value);
gboolean glia_graph_value_is_input (const GliaGraph *graph, gint value);
/* Makes @value not constant (its data is dropped). */
void glia_graph_value_clear_constant (GliaGraph *graph, gint value);
/* A value name not used in @graph, "<prefix>" or "<prefix>_<n>"; free with
 * g_free(). */
char *glia_graph_make_unique_name (const GliaGraph *graph, const char *prefix);

G_END_DECLS
