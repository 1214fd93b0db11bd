/* onnx-graph.c: GraphProto -> GliaGraph (see onnx-graph.h).
 *
 * A graph is built in two passes. The first declares every value the graph
 * defines (inputs, initializers, node outputs) and the types the file states
 * for them (inputs, outputs, value_info); the second adds the nodes, whose
 * inputs then resolve whatever order the nodes come in (glia_graph_validate()
 * sorts them). In a subgraph, a name the subgraph does not define may come
 * from an enclosing graph: it is recorded, in the subgraph and in every graph
 * in between, as a value with no producer, typed as in the graph defining it.
 */
#include "onnx-graph.h"

#include <string.h>

typedef struct _Scope Scope;

struct _Scope
{
  GliaGraph *graph;
  /* Names this graph defines or has taken from an enclosing graph; they point
   * into the ModelProto. */
  GHashTable *defined;
  Scope *parent;
  /* Where the graph is, for messages: "" or " (in subgraph 'x' of node 'y')". */
  const char *where;
};

typedef struct
{
  GliaDataType dtype;
  gint rank;
  gint64 dims[ONNX_MAX_RANK];
  const char *dim_params[ONNX_MAX_RANK];
  GliaValueKind kind;
} ValueType;

static GliaGraph *build_graph (OnnxLoad *load, Onnx__GraphProto *proto, Scope *parent,
                               const char *where, GError **error);

static gboolean
check_name (OnnxLoad *load, Scope *scope, const char *kind, gsize index, const char *name,
            GError **error)
{
  if (name == NULL || name[0] == '\0') {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "%s %" G_GSIZE_FORMAT "%s has no name", kind, index, scope->where);
    return FALSE;
  }
  if (!g_utf8_validate (name, -1, NULL)) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "the name of %s %" G_GSIZE_FORMAT "%s is not valid UTF-8", kind, index,
                    scope->where);
    return FALSE;
  }
  return TRUE;
}

static void
value_type_unknown (ValueType *type)
{
  type->dtype = GLIA_DATA_TYPE_UNDEFINED;
  type->rank = -1;
  type->kind = GLIA_VALUE_KIND_TENSOR;
}

static gboolean
has_dim_params (const ValueType *type)
{
  for (gint i = 0; i < type->rank; i++)
    if (type->dim_params[i] != NULL)
      return TRUE;
  return FALSE;
}

/* Reads a ValueInfoProto's type. Only tensors are typed for now: sequences,
 * maps, optionals and sparse tensors are recorded with an undefined type and
 * unknown rank. */
static gboolean
read_value_type (OnnxLoad *load, Scope *scope, const char *name, const Onnx__TypeProto *proto,
                 ValueType *type, GError **error)
{
  value_type_unknown (type);
  if (proto == NULL)
    return TRUE;
  /* sequence<tensor>, optional<tensor>, optional<sequence<tensor>>: the
   * kind plus the element tensor type */
  GliaValueKind kind = GLIA_VALUE_KIND_TENSOR;
  if (proto->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE && proto->optional_type
      && proto->optional_type->elem_type) {
    kind = GLIA_VALUE_KIND_OPTIONAL_TENSOR;
    proto = proto->optional_type->elem_type;
  }
  if (proto->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE && proto->sequence_type
      && proto->sequence_type->elem_type) {
    kind = kind == GLIA_VALUE_KIND_OPTIONAL_TENSOR ? GLIA_VALUE_KIND_OPTIONAL_SEQUENCE
                                                   : GLIA_VALUE_KIND_SEQUENCE;
    proto = proto->sequence_type->elem_type;
  }
  if (kind != GLIA_VALUE_KIND_TENSOR) {
    gboolean ok = read_value_type (load, scope, name, proto, type, error);
    type->kind = kind;
    if (kind == GLIA_VALUE_KIND_SEQUENCE || kind == GLIA_VALUE_KIND_OPTIONAL_SEQUENCE)
      type->rank = -1; /* items may differ in shape */
    return ok;
  }
  if (proto->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || proto->tensor_type == NULL) {
    if (proto->value_case != ONNX__TYPE_PROTO__VALUE__NOT_SET)
      g_debug ("%s: value '%s'%s is not a tensor; its type is left undefined", load->path, name,
               scope->where);
    return TRUE;
  }

  const Onnx__TypeProto__Tensor *tensor = proto->tensor_type;
  if (tensor->has_elem_type && tensor->elem_type != GLIA_DATA_TYPE_UNDEFINED) {
    if (tensor->elem_type < 0 || tensor->elem_type > GLIA_DATA_TYPE_LAST) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "value '%s'%s has element type %d, which Glia does not support", name,
                      scope->where, tensor->elem_type);
      return FALSE;
    }
    type->dtype = (GliaDataType)tensor->elem_type;
  }
  if (tensor->shape == NULL)
    return TRUE;
  if (tensor->shape->n_dim > ONNX_MAX_RANK) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "value '%s'%s has rank %" G_GSIZE_FORMAT ", more than the %d Glia accepts",
                    name, scope->where, tensor->shape->n_dim, ONNX_MAX_RANK);
    return FALSE;
  }

  type->rank = (gint)tensor->shape->n_dim;
  for (gint i = 0; i < type->rank; i++) {
    const Onnx__TensorShapeProto__Dimension *dim = tensor->shape->dim[i];
    type->dims[i] = -1;
    type->dim_params[i] = NULL;
    if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      /* Some writers say -1 for an unknown dimension; it means the same. */
      if (dim->dim_value >= 0)
        type->dims[i] = dim->dim_value;
    } else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
               && dim->dim_param != NULL && dim->dim_param[0] != '\0') {
      if (!g_utf8_validate (dim->dim_param, -1, NULL)) {
        onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                        "value '%s'%s names dimension %d in invalid UTF-8", name, scope->where, i);
        return FALSE;
      }
      type->dim_params[i] = dim->dim_param;
    }
  }
  return TRUE;
}

static void
value_type_of (GliaGraph *graph, gint value, ValueType *type)
{
  type->dtype = glia_graph_value_get_dtype (graph, value);
  type->kind = glia_graph_value_get_kind (graph, value);
  type->rank = glia_graph_value_get_rank (graph, value);
  if (type->rank < 0 || type->rank > ONNX_MAX_RANK) {
    type->rank = -1;
    return;
  }

  const gint64 *dims = glia_graph_value_get_dims (graph, value);
  for (gint i = 0; i < type->rank; i++) {
    type->dims[i] = dims ? dims[i] : -1;
    type->dim_params[i] = glia_graph_value_get_dim_param (graph, value, (guint)i);
  }
}

/* Adds @name to the scope's graph, or completes the type of the value
 * already there: a known element type or shape is never replaced, so the first
 * statement wins (inputs and outputs come before value_info). */
static gint
declare_value (Scope *scope, const char *name, const ValueType *type)
{
  GliaGraph *graph = scope->graph;
  gint id = glia_graph_lookup_value (graph, name);

  if (id < 0) {
    id = glia_graph_add_value (graph, name, type->dtype, type->rank,
                               type->rank > 0 ? type->dims : NULL,
                               has_dim_params (type) ? type->dim_params : NULL);
    glia_graph_value_set_kind (graph, id, type->kind);
    return id;
  }
  if (type->kind != GLIA_VALUE_KIND_TENSOR)
    glia_graph_value_set_kind (graph, id, type->kind);

  ValueType merged;
  value_type_of (graph, id, &merged);
  gboolean better_dtype
      = merged.dtype == GLIA_DATA_TYPE_UNDEFINED && type->dtype != GLIA_DATA_TYPE_UNDEFINED;
  gboolean better_shape = merged.rank < 0 && type->rank >= 0;
  if (!better_dtype && !better_shape)
    return id;

  if (better_dtype)
    merged.dtype = type->dtype;
  if (better_shape) {
    merged.rank = type->rank;
    memcpy (merged.dims, type->dims, sizeof (gint64) * (gsize)type->rank);
    memcpy (merged.dim_params, type->dim_params, sizeof (char *) * (gsize)type->rank);
  }
  glia_graph_value_set_type (graph, id, merged.dtype, merged.rank,
                             merged.rank > 0 ? merged.dims : NULL,
                             has_dim_params (&merged) ? merged.dim_params : NULL);
  return id;
}

/* The value @name refers to in @scope: defined there, or taken from an
 * enclosing graph. -1 if no graph in reach defines it. */
static gint
resolve_value (Scope *scope, const char *name)
{
  if (g_hash_table_contains (scope->defined, name))
    return glia_graph_lookup_value (scope->graph, name);
  if (scope->parent == NULL)
    return -1;

  gint outer = resolve_value (scope->parent, name);
  if (outer < 0)
    return -1;

  ValueType type;
  value_type_of (scope->parent->graph, outer, &type);
  g_hash_table_add (scope->defined, (gpointer)name);
  return declare_value (scope, name, &type);
}

/* "'name' (Op)" or "#index (Op)", for messages; safe on unchecked names. */
static char *
describe_node (const Onnx__NodeProto *node, gsize index)
{
  const char *op_type = node->op_type ? node->op_type : "";

  if (!g_utf8_validate (op_type, -1, NULL))
    op_type = "?";
  if (node->name != NULL && node->name[0] != '\0' && g_utf8_validate (node->name, -1, NULL))
    return g_strdup_printf ("'%s' (%s)", node->name, op_type);
  return g_strdup_printf ("#%" G_GSIZE_FORMAT " (%s)", index, op_type);
}

static gboolean
set_attribute (OnnxLoad *load, Scope *scope, gint node, const char *node_label,
               Onnx__AttributeProto *attr, GError **error)
{
  GliaGraph *graph = scope->graph;
  const char *name = attr->name;

  if (attr->ref_attr_name != NULL && attr->ref_attr_name[0] != '\0') {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "attribute '%s' of node %s%s refers to a function's attribute, which only "
                    "a function body may do",
                    name, node_label, scope->where);
    return FALSE;
  }
  if (!attr->has_type) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "attribute '%s' of node %s%s has no type", name, node_label, scope->where);
    return FALSE;
  }

  switch (attr->type) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
    glia_graph_node_set_attr_float (graph, node, name, attr->f);
    return TRUE;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
    glia_graph_node_set_attr_int (graph, node, name, attr->i);
    return TRUE;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
    glia_graph_node_set_attr_string (graph, node, name,
                                     attr->s.data ? (const char *)attr->s.data : "", attr->s.len);
    return TRUE;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: {
    gsize n = attr->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS ? attr->n_floats
              : attr->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS ? attr->n_ints
                                                                          : attr->n_strings;
    if (n > G_MAXUINT) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "attribute '%s' of node %s%s has too many values", name, node_label,
                      scope->where);
      return FALSE;
    }
    if (attr->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS)
      glia_graph_node_set_attr_floats (graph, node, name, attr->floats, (guint)n);
    else if (attr->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
      glia_graph_node_set_attr_ints (graph, node, name, (const gint64 *)attr->ints, (guint)n);
    else {
      g_autoptr (GPtrArray) strings = g_ptr_array_new_full (n + 1, g_free);
      for (gsize i = 0; i < n; i++) {
        const ProtobufCBinaryData *s = &attr->strings[i];
        if (s->len > 0 && memchr (s->data, '\0', s->len) != NULL) {
          onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                          "string %" G_GSIZE_FORMAT " of attribute '%s' of node %s%s "
                          "contains a NUL byte",
                          i, name, node_label, scope->where);
          return FALSE;
        }
        g_ptr_array_add (strings, g_strndup ((const char *)s->data, s->len));
      }
      g_ptr_array_add (strings, NULL);
      glia_graph_node_set_attr_strings (graph, node, name, (const char *const *)strings->pdata,
                                        (guint)n);
    }
    return TRUE;
  }
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: {
    g_auto (OnnxTensor) tensor = { 0 };
    g_autofree char *what
        = g_strdup_printf ("attribute '%s' of node %s%s", name, node_label, scope->where);
    gboolean dense = attr->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;

    if (dense ? attr->t == NULL : attr->sparse_tensor == NULL) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path, "%s has no tensor", what);
      return FALSE;
    }
    if (dense
            ? !onnx_tensor_decode (load->tensors, attr->t, NULL, what, &tensor, error)
            : !onnx_sparse_tensor_decode (load->tensors, attr->sparse_tensor, what, &tensor, error))
      return FALSE;
    glia_graph_node_set_attr_tensor (graph, node, name, tensor.dtype, tensor.rank, tensor.dims,
                                     tensor.data);
    return TRUE;
  }
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: {
    if (attr->g == NULL) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "attribute '%s' of node %s%s has no graph", name, node_label, scope->where);
      return FALSE;
    }
    g_autofree char *where
        = g_strdup_printf (" (in subgraph '%s' of node %s%s)", name, node_label, scope->where);
    g_autoptr (GliaGraph) subgraph = build_graph (load, attr->g, scope, where, error);
    if (subgraph == NULL)
      return FALSE;
    glia_graph_node_set_attr_graph (graph, node, name, subgraph);
    return TRUE;
  }
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO: {
    /* tensor, sequence and optional types: a kind and an element type */
    ValueType type;
    if (attr->tp == NULL) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "attribute '%s' of node %s%s has no type", name, node_label, scope->where);
      return FALSE;
    }
    if (!read_value_type (load, scope, name, attr->tp, &type, error))
      return FALSE;
    glia_graph_node_set_attr_value_type (graph, node, name, type.kind, type.dtype);
    return TRUE;
  }
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS: {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (
        &onnx__attribute_proto__attribute_type__descriptor, attr->type);
    onnx_set_error (error, GLIA_ERROR_UNSUPPORTED_OP, load->path,
                    "attribute '%s' of node %s%s is of type %s, which Glia cannot represent "
                    "yet",
                    name, node_label, scope->where, v ? v->name : "?");
    return FALSE;
  }
  default:
    break;
  }

  onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                  "attribute '%s' of node %s%s has unknown type %d", name, node_label, scope->where,
                  (int)attr->type);
  return FALSE;
}

static gboolean
add_node (OnnxLoad *load, Scope *scope, Onnx__NodeProto *proto, gsize index, GError **error)
{
  GliaGraph *graph = scope->graph;

  if (proto->op_type == NULL || proto->op_type[0] == '\0'
      || !g_utf8_validate (proto->op_type, -1, NULL)) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "node %" G_GSIZE_FORMAT "%s has no valid op_type", index, scope->where);
    return FALSE;
  }
  g_autofree char *label = describe_node (proto, index);
  if (proto->name != NULL && !g_utf8_validate (proto->name, -1, NULL)) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "the name of node %s%s is not valid UTF-8", label, scope->where);
    return FALSE;
  }
  const char *domain = onnx_normalize_domain (proto->domain);
  if (!g_utf8_validate (domain, -1, NULL)) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "the domain of node %s%s is not valid UTF-8", label, scope->where);
    return FALSE;
  }
  if (!g_hash_table_contains (load->opsets, domain)) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "node %s%s is in domain '%s', which the model does not import", label,
                    scope->where, domain);
    return FALSE;
  }
  if (proto->n_input > G_MAXUINT || proto->n_output > G_MAXUINT) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "node %s%s has too many inputs or outputs", label, scope->where);
    return FALSE;
  }

  /* An empty name is an omitted optional input or output. */
  g_autofree gint *inputs = g_new (gint, proto->n_input + 1);
  for (gsize i = 0; i < proto->n_input; i++) {
    const char *name = proto->input[i];
    if (name == NULL || name[0] == '\0') {
      inputs[i] = -1;
      continue;
    }
    if (!g_utf8_validate (name, -1, NULL)) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "input %" G_GSIZE_FORMAT " of node %s%s is not valid UTF-8", i, label,
                      scope->where);
      return FALSE;
    }
    inputs[i] = resolve_value (scope, name);
    if (inputs[i] < 0) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "node %s%s uses '%s', which is not a graph input, an initializer or "
                      "the output of a node%s",
                      label, scope->where, name,
                      scope->parent ? " here or in an enclosing graph" : "");
      return FALSE;
    }
  }

  gsize n_outputs = proto->n_output;
  while (n_outputs > 0
         && (proto->output[n_outputs - 1] == NULL || proto->output[n_outputs - 1][0] == '\0'))
    n_outputs--;
  g_autofree gint *outputs = g_new (gint, n_outputs + 1);
  for (gsize i = 0; i < n_outputs; i++) {
    const char *name = proto->output[i];
    outputs[i] = name && name[0] ? glia_graph_lookup_value (graph, name) : -1;
  }

  gint node = glia_graph_add_node (graph, proto->op_type, domain, proto->name ? proto->name : "",
                                   (guint)proto->n_input, inputs, (guint)n_outputs, outputs);

  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (gsize i = 0; i < proto->n_attribute; i++) {
    Onnx__AttributeProto *attr = proto->attribute[i];
    if (attr->name == NULL || attr->name[0] == '\0' || !g_utf8_validate (attr->name, -1, NULL)) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "attribute %" G_GSIZE_FORMAT " of node %s%s has no valid name", i, label,
                      scope->where);
      return FALSE;
    }
    if (!g_hash_table_add (seen, attr->name)) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "node %s%s has attribute '%s' twice", label, scope->where, attr->name);
      return FALSE;
    }
    if (!set_attribute (load, scope, node, label, attr, error))
      return FALSE;
  }
  return TRUE;
}

static void
set_opsets (OnnxLoad *load, GliaGraph *graph)
{
  GHashTableIter iter;
  gpointer domain, version;

  g_hash_table_iter_init (&iter, load->opsets);
  while (g_hash_table_iter_next (&iter, &domain, &version))
    glia_graph_set_opset (graph, domain, GPOINTER_TO_INT (version));
}

static gboolean
add_constant (OnnxLoad *load, Scope *scope, const char *name, OnnxTensor *tensor, GError **error)
{
  g_autoptr (GError) local = NULL;
  gint id = glia_graph_lookup_value (scope->graph, name);

  if (id < 0)
    id = glia_graph_add_value (scope->graph, name, tensor->dtype, (gint)tensor->rank, tensor->dims,
                               NULL);
  if (!glia_graph_value_set_constant (scope->graph, id, tensor->dtype, tensor->rank, tensor->dims,
                                      tensor->data, &local)) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path, "initializer '%s'%s: %s", name,
                    scope->where, local->message);
    return FALSE;
  }
  g_hash_table_add (scope->defined, (gpointer)name);
  return TRUE;
}

/* Declares what the graph defines and the types stated for it. */
static gboolean
declare_values (OnnxLoad *load, Scope *scope, Onnx__GraphProto *proto, GError **error)
{
  g_autoptr (GHashTable) initializers = g_hash_table_new (g_str_hash, g_str_equal);
  ValueType type;

  for (gsize i = 0; i < proto->n_initializer + proto->n_sparse_initializer; i++) {
    gboolean sparse = i >= proto->n_initializer;
    const char *name
        = sparse ? (proto->sparse_initializer[i - proto->n_initializer]->values
                        ? proto->sparse_initializer[i - proto->n_initializer]->values->name
                        : NULL)
                 : proto->initializer[i]->name;
    if (!check_name (load, scope, sparse ? "sparse initializer" : "initializer",
                     sparse ? i - proto->n_initializer : i, name, error))
      return FALSE;
    if (!g_hash_table_add (initializers, (gpointer)name)) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "initializer '%s'%s is defined twice", name, scope->where);
      return FALSE;
    }
  }

  for (gsize i = 0; i < proto->n_input; i++) {
    const Onnx__ValueInfoProto *info = proto->input[i];
    if (!check_name (load, scope, "graph input", i, info->name, error)
        || !read_value_type (load, scope, info->name, info->type, &type, error))
      return FALSE;
    if (!g_hash_table_add (scope->defined, info->name)) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "graph input '%s'%s is listed twice", info->name, scope->where);
      return FALSE;
    }
    gint id = declare_value (scope, info->name, &type);
    /* Before IR 4 every initializer was also listed as an input; those are
     * weights, not inputs. From IR 4 on, an input with an initializer is an
     * input whose initializer is its default. */
    if (load->ir_version >= 4 || !g_hash_table_contains (initializers, info->name))
      glia_graph_add_input (scope->graph, id);
  }

  /* The main graph's initializers have their raw_data in the file. */
  GArray *spans = scope->parent == NULL ? load->initializer_raw_data : NULL;
  if (spans != NULL && spans->len != proto->n_initializer) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                    "found %u initializers in the file but %" G_GSIZE_FORMAT " in the graph",
                    spans->len, proto->n_initializer);
    return FALSE;
  }
  for (gsize i = 0; i < proto->n_initializer; i++) {
    g_auto (OnnxTensor) tensor = { 0 };
    Onnx__TensorProto *init = proto->initializer[i];
    g_autofree char *what = g_strdup_printf ("initializer '%s'%s", init->name, scope->where);

    if (!onnx_tensor_decode (load->tensors, init,
                             spans ? &g_array_index (spans, OnnxWireSpan, i) : NULL, what, &tensor,
                             error)
        || !add_constant (load, scope, init->name, &tensor, error))
      return FALSE;
  }
  for (gsize i = 0; i < proto->n_sparse_initializer; i++) {
    g_auto (OnnxTensor) tensor = { 0 };
    Onnx__SparseTensorProto *init = proto->sparse_initializer[i];
    g_autofree char *what
        = g_strdup_printf ("initializer '%s'%s", init->values->name, scope->where);

    if (!onnx_sparse_tensor_decode (load->tensors, init, what, &tensor, error)
        || !add_constant (load, scope, init->values->name, &tensor, error))
      return FALSE;
  }

  value_type_unknown (&type);
  for (gsize i = 0; i < proto->n_node; i++) {
    const Onnx__NodeProto *node = proto->node[i];
    for (gsize j = 0; j < node->n_output; j++) {
      const char *name = node->output[j];
      if (name == NULL || name[0] == '\0')
        continue;
      if (!g_utf8_validate (name, -1, NULL)) {
        g_autofree char *label = describe_node (node, i);
        onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                        "output %" G_GSIZE_FORMAT " of node %s%s is not valid UTF-8", j, label,
                        scope->where);
        return FALSE;
      }
      if (!g_hash_table_add (scope->defined, (gpointer)name)) {
        g_autofree char *label = describe_node (node, i);
        onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                        "value '%s'%s is output by node %s but was already defined by an "
                        "input, an initializer or another node",
                        name, scope->where, label);
        return FALSE;
      }
      declare_value (scope, name, &type);
    }
  }

  for (gsize i = 0; i < proto->n_output; i++) {
    const Onnx__ValueInfoProto *info = proto->output[i];
    if (!check_name (load, scope, "graph output", i, info->name, error)
        || !read_value_type (load, scope, info->name, info->type, &type, error))
      return FALSE;
    glia_graph_add_output (scope->graph, declare_value (scope, info->name, &type));
  }

  /* value_info only adds types; it does not define values. */
  for (gsize i = 0; i < proto->n_value_info; i++) {
    const Onnx__ValueInfoProto *info = proto->value_info[i];
    if (!check_name (load, scope, "value_info", i, info->name, error)
        || !read_value_type (load, scope, info->name, info->type, &type, error))
      return FALSE;
    if (glia_graph_lookup_value (scope->graph, info->name) >= 0)
      declare_value (scope, info->name, &type);
    else
      g_debug ("%s: value_info for '%s'%s, which the graph does not use", load->path, info->name,
               scope->where);
  }
  return TRUE;
}

static GliaGraph *
build_graph (OnnxLoad *load, Onnx__GraphProto *proto, Scope *parent, const char *where,
             GError **error)
{
  g_autoptr (GliaGraph) graph = glia_graph_new ();
  g_autoptr (GHashTable) defined = g_hash_table_new (g_str_hash, g_str_equal);
  Scope scope = { graph, defined, parent, where };

  set_opsets (load, graph);
  if (!declare_values (load, &scope, proto, error))
    return NULL;

  for (gsize i = 0; i < proto->n_node; i++)
    if (!add_node (load, &scope, proto->node[i], i, error))
      return NULL;

  for (gsize i = 0; i < proto->n_output; i++) {
    const char *name = proto->output[i]->name;
    if (resolve_value (&scope, name) < 0) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, load->path,
                      "graph output '%s'%s is not a graph input, an initializer or the "
                      "output of a node",
                      name, where);
      return NULL;
    }
  }
  return g_steal_pointer (&graph);
}

GliaGraph *
onnx_graph_build (OnnxLoad *load, Onnx__GraphProto *proto, GError **error)
{
  return build_graph (load, proto, NULL, "", error);
}
