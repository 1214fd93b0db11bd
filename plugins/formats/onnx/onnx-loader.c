/* onnx-loader.c: probe() and load() for ONNX files (a protobuf ModelProto).
 *
 * load() maps the file, checks its wire format and takes the weights of the
 * main graph out of it (onnx-wire.c), unpacks the rest of the ModelProto with
 * protobuf-c, checks the IR version and operator-set imports, builds the graph
 * (onnx-graph.c), records the model's metadata and validates the result. The
 * unpacked ModelProto is freed before returning; the graph keeps only GBytes,
 * the main graph's raw weights as views of the mapped file.
 */
#include "onnx-loader.h"

#include <stdarg.h>
#include <string.h>

#include "onnx-graph.h"
#include "onnx-wire.h"

/* protobuf's own limit on a message. Larger files are not ONNX (whose writers
 * move weights to external data instead), and protobuf-c counts repeated
 * elements in 32 bits. */
#define ONNX_MAX_FILE_SIZE ((gsize)G_MAXINT32)

void
onnx_set_error (GError **error, GliaError code, const char *path, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GLIA_ERROR, code, "%s: %s", path, message);
}

const char *
onnx_normalize_domain (const char *domain)
{
  if (domain == NULL || strcmp (domain, "ai.onnx") == 0)
    return "";
  return domain;
}

guint
onnx_loader_probe (const char *path, const guint8 *head, gsize head_len)
{
  guint score = onnx_wire_probe (head, head_len);
  gsize path_len = path ? strlen (path) : 0;

  /* The extension only breaks ties between files whose content looks right. */
  if (score > 0 && path_len >= 5 && g_ascii_strcasecmp (path + path_len - 5, ".onnx") == 0)
    score = MIN (score + 10, GLIA_LOADER_SCORE_CERTAIN);
  return score;
}

/* protobuf-c allocates through GLib, so that onnx-tensor.c can take buffers
 * over with g_bytes_new_take(), and so that running out of memory on a
 * hostile size fails the unpack instead of aborting. */
static void *
glib_alloc (void *allocator_data, size_t size)
{
  return g_try_malloc (size ? size : 1);
}

static void
glib_free (void *allocator_data, void *pointer)
{
  g_free (pointer);
}

static ProtobufCAllocator glib_allocator = { glib_alloc, glib_free, NULL };

static char *
valid_utf8 (const char *s)
{
  return g_utf8_make_valid (s, -1);
}

static gboolean
read_opsets (const char *path, const Onnx__ModelProto *model, GHashTable *opsets, GError **error)
{
  if (model->n_opset_import == 0) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path,
                    "the model imports no operator set (opset_import is empty)");
    return FALSE;
  }
  for (gsize i = 0; i < model->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *opset = model->opset_import[i];
    const char *domain = onnx_normalize_domain (opset->domain);

    if (!g_utf8_validate (domain, -1, NULL)) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path,
                      "opset_import %" G_GSIZE_FORMAT " has a domain that is not UTF-8", i);
      return FALSE;
    }
    if (!opset->has_version || opset->version < 1 || opset->version > G_MAXINT) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path,
                      "operator set '%s' is imported with invalid version %" G_GINT64_FORMAT,
                      domain, opset->has_version ? (gint64)opset->version : (gint64)0);
      return FALSE;
    }
    if (g_hash_table_contains (opsets, domain)) {
      onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path, "operator set '%s' is imported twice",
                      domain);
      return FALSE;
    }
    g_hash_table_insert (opsets, (gpointer)domain, GINT_TO_POINTER ((gint)opset->version));
  }
  return TRUE;
}

static void
set_metadata_string (GliaGraph *graph, const char *key, const char *value)
{
  if (value == NULL || value[0] == '\0')
    return;
  g_autofree char *valid = valid_utf8 (value);
  glia_graph_set_metadata (graph, key, valid);
}

/* metadata_props, then the ModelProto fields, which win over a property of
 * the same name. */
static void
set_metadata (GliaGraph *graph, const Onnx__ModelProto *model)
{
  for (gsize i = 0; i < model->n_metadata_props; i++) {
    const Onnx__StringStringEntryProto *prop = model->metadata_props[i];
    if (prop->key == NULL || prop->key[0] == '\0')
      continue;
    g_autofree char *key = valid_utf8 (prop->key);
    g_autofree char *value = valid_utf8 (prop->value ? prop->value : "");
    glia_graph_set_metadata (graph, key, value);
  }

  set_metadata_string (graph, "producer_name", model->producer_name);
  set_metadata_string (graph, "producer_version", model->producer_version);
  set_metadata_string (graph, "domain", model->domain);
  set_metadata_string (graph, "doc_string", model->doc_string);
  set_metadata_string (graph, "graph_name", model->graph->name);

  g_autofree char *ir_version = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64)model->ir_version);
  glia_graph_set_metadata (graph, "ir_version", ir_version);
  if (model->has_model_version) {
    g_autofree char *model_version
        = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64)model->model_version);
    glia_graph_set_metadata (graph, "model_version", model_version);
  }
}

static GliaGraph *
load_model (const char *path, GMappedFile *file, const Onnx__ModelProto *model,
            GArray *initializer_raw_data, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (!model->has_ir_version) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path,
                    "the ModelProto has no ir_version; this is not an ONNX model");
    return NULL;
  }
  if (model->ir_version < ONNX_MIN_IR_VERSION || model->ir_version > ONNX_MAX_IR_VERSION) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path,
                    "unsupported ONNX IR version %" G_GINT64_FORMAT
                    " (Glia reads IR versions %d to %d)",
                    (gint64)model->ir_version, ONNX_MIN_IR_VERSION, ONNX_MAX_IR_VERSION);
    return NULL;
  }
  if (model->graph == NULL) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path, "the model has no graph");
    return NULL;
  }

  g_autoptr (GHashTable) opsets = g_hash_table_new (g_str_hash, g_str_equal);
  if (!read_opsets (path, model, opsets, error))
    return NULL;

  g_autoptr (OnnxTensorContext) tensors = onnx_tensor_context_new (path, file);
  OnnxLoad load = {
    .path = path,
    .ir_version = model->ir_version,
    .opsets = opsets,
    .tensors = tensors,
    .initializer_raw_data = initializer_raw_data,
  };
  g_autoptr (GliaGraph) graph = onnx_graph_build (&load, model->graph, error);
  if (graph == NULL)
    return NULL;

  set_metadata (graph, model);

  if (!glia_graph_validate (graph, &local)) {
    g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: ", path);
    return NULL;
  }
  g_debug ("%s: ONNX IR %" G_GINT64_FORMAT ", %u nodes, %u values", path, (gint64)model->ir_version,
           glia_graph_get_n_nodes (graph), glia_graph_get_n_values (graph));
  return g_steal_pointer (&graph);
}

GliaGraph *
onnx_loader_load (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (GMappedFile) file = g_mapped_file_new (path, FALSE, &local);
  if (file == NULL) {
    onnx_set_error (error, GLIA_ERROR_IO, path, "cannot read the file: %s", local->message);
    return NULL;
  }

  gsize len = g_mapped_file_get_length (file);
  const guint8 *data = (const guint8 *)g_mapped_file_get_contents (file);
  if (len == 0) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path, "the file is empty");
    return NULL;
  }
  if (len > ONNX_MAX_FILE_SIZE) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path,
                    "the file is %" G_GSIZE_FORMAT " bytes, more than the 2 GiB a protobuf "
                    "may have (large ONNX models keep their weights as external data)",
                    len);
    return NULL;
  }

  g_autoptr (GArray) initializer_raw_data = g_array_new (FALSE, FALSE, sizeof (OnnxWireSpan));
  g_autoptr (GBytes) stripped = onnx_wire_strip_model (data, len, initializer_raw_data, &local);
  if (stripped == NULL) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path, "not a valid ONNX file: %s",
                    local->message);
    return NULL;
  }

  gsize stripped_len;
  const guint8 *stripped_data = g_bytes_get_data (stripped, &stripped_len);
  Onnx__ModelProto *model
      = onnx__model_proto__unpack (&glib_allocator, stripped_len, stripped_data);
  g_clear_pointer (&stripped, g_bytes_unref);
  if (model == NULL) {
    onnx_set_error (error, GLIA_ERROR_INVALID_MODEL, path,
                    "not a valid ONNX file: the ModelProto cannot be decoded (a field has the "
                    "wrong type, or memory ran out)");
    return NULL;
  }

  GliaGraph *graph = load_model (path, file, model, initializer_raw_data, error);
  onnx__model_proto__free_unpacked (model, &glib_allocator);
  return graph;
}
