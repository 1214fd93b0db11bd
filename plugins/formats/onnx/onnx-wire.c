/* onnx-wire.c: the protobuf wire-format walk of onnx-wire.h.
 *
 * The walk follows the ONNX schema through the descriptors protoc-c generated,
 * so it knows which length-delimited fields are nested messages (to descend
 * into) and which are strings or bytes (to skip).
 *
 * protobuf-c's unpacker copies every bytes field out of its input. To keep the
 * weights of a large model from being copied (and the whole file read) during
 * a load, the loader unpacks a copy of the file without the main graph's
 * initializer raw_data, and decodes those tensors from the mapped file at the
 * offsets found here.
 */
#include "onnx-wire.h"

#include <glia-types.h>
#include <protobuf-c/protobuf-c.h>

#include "onnx.pb-c.h"

enum
{
  WIRE_VARINT = 0,
  WIRE_FIXED64 = 1,
  WIRE_LENGTH_DELIMITED = 2,
  WIRE_FIXED32 = 5,
};

/* Protobuf field numbers are 29-bit. */
#define MAX_FIELD_NUMBER ((G_GUINT64_CONSTANT (1) << 29) - 1)

/* Field numbers on the path ModelProto.graph.initializer[].raw_data. */
#define MODEL_GRAPH_FIELD       7
#define GRAPH_INITIALIZER_FIELD 5
#define TENSOR_RAW_DATA_FIELD   9

typedef enum
{
  ROLE_OTHER,
  ROLE_MODEL,
  ROLE_MAIN_GRAPH,
  ROLE_MAIN_INITIALIZER,
} WireRole;

/* Reads a varint at *pos (< end); FALSE if it is unterminated, longer than ten
 * bytes, or runs past @end. */
static gboolean
read_varint (const guint8 *data, gsize *pos, gsize end, guint64 *value)
{
  guint64 v = 0;

  for (guint i = 0; i < 10; i++) {
    if (*pos >= end)
      return FALSE;
    guint8 b = data[(*pos)++];
    v |= (guint64)(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *value = v;
      return TRUE;
    }
  }
  return FALSE;
}

/* The wire type a (non-packed) field of @type is encoded with. */
static guint
wire_type_of (ProtobufCType type)
{
  switch (type) {
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return WIRE_FIXED64;
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
    return WIRE_FIXED32;
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_BYTES:
  case PROTOBUF_C_TYPE_MESSAGE:
    return WIRE_LENGTH_DELIMITED;
  default:
    return WIRE_VARINT;
  }
}

guint
onnx_wire_probe (const guint8 *head, gsize head_len)
{
  const ProtobufCMessageDescriptor *desc = &onnx__model_proto__descriptor;
  gsize pos = 0;
  guint n_known = 0, n_unknown = 0;
  gboolean ir_version_first = FALSE;
  guint64 ir_version = 0;

  if (head == NULL)
    return 0;

  /* Walk the top-level fields of a ModelProto as far as @head reaches. A field
   * that ModelProto does not declare with that wire type means the file is
   * something else; a field cut off by the end of @head ends the walk. */
  while (pos < head_len) {
    gsize field_start = pos;
    guint64 key, value;

    if (!read_varint (head, &pos, head_len, &key)) {
      if (pos >= head_len)
        goto cut_off;
      return 0;
    }

    guint64 number = key >> 3;
    guint wire = key & 7;
    if (number == 0 || number > MAX_FIELD_NUMBER)
      return 0;

    const ProtobufCFieldDescriptor *field
        = protobuf_c_message_descriptor_get_field (desc, (unsigned)number);
    if (field == NULL) {
      /* Fields from a newer onnx.proto are possible, but not many. */
      if (++n_unknown > 2)
        return 0;
    } else if (wire != wire_type_of (field->type)
               && !(field->label == PROTOBUF_C_LABEL_REPEATED && wire == WIRE_LENGTH_DELIMITED)) {
      return 0;
    }

    switch (wire) {
    case WIRE_VARINT:
      if (!read_varint (head, &pos, head_len, &value)) {
        if (pos >= head_len)
          goto cut_off;
        return 0;
      }
      /* ir_version: real files say 1 to 10 or so; larger values are still
       * scored so that the loader can name the version it refuses. */
      if (number == 1) {
        if (value < 1 || value > 1000)
          return 0;
        ir_version = value;
        if (field_start == 0)
          ir_version_first = TRUE;
      }
      break;
    case WIRE_FIXED64:
      if (head_len - pos < 8)
        goto cut_off;
      pos += 8;
      break;
    case WIRE_FIXED32:
      if (head_len - pos < 4)
        goto cut_off;
      pos += 4;
      break;
    case WIRE_LENGTH_DELIMITED:
      if (!read_varint (head, &pos, head_len, &value))
        goto cut_off;
      if (value > G_MAXINT32)
        return 0;
      if (value > head_len - pos) {
        n_known += field != NULL;
        goto cut_off;
      }
      if (field != NULL && field->type == PROTOBUF_C_TYPE_STRING
          && !g_utf8_validate ((const char *)head + pos, (gssize)value, NULL))
        return 0;
      pos += value;
      break;
    default:
      return 0;
    }
    n_known += field != NULL;
  }

cut_off:
  if (n_known == 0)
    return 0;
  /* IR versions 1 and 2 predate ONNX 1.0; other protobufs (a TensorFlow
   * SavedModel, say) also begin with a small field 1. */
  if (ir_version != 0 && ir_version < 3)
    return 40;
  if (ir_version_first)
    return n_known >= 2 ? 90 : 70;
  return n_known >= 2 ? 60 : 25;
}

static void
append_varint (GByteArray *out, guint64 v)
{
  do {
    guint8 b = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
    g_byte_array_append (out, &b, 1);
    v >>= 7;
  } while (v != 0);
}

/* Checks the message of type @desc in data[start, end) and everything nested
 * in it. With @out, also appends to @out a copy of the message without the
 * raw_data of the main graph's initializers: fields along the path
 * ModelProto.graph.initializer are rewritten (their lengths change), all others
 * are copied as they are. */
static gboolean
walk_message (const ProtobufCMessageDescriptor *desc, const guint8 *data, gsize start, gsize end,
              guint depth, WireRole role, GArray *spans, GByteArray *out, GError **error)
{
  gsize pos = start, field_start = start;

  if (depth > ONNX_WIRE_MAX_DEPTH) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                 "messages are nested more than %d levels deep at byte %" G_GSIZE_FORMAT,
                 ONNX_WIRE_MAX_DEPTH, start);
    return FALSE;
  }

  while (pos < end) {
    guint64 key, value;

    field_start = pos;
    if (!read_varint (data, &pos, end, &key))
      goto truncated;
    gsize key_end = pos;
    guint64 number = key >> 3;
    guint wire = key & 7;
    if (number == 0 || number > MAX_FIELD_NUMBER) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                   "invalid protobuf field number %" G_GUINT64_FORMAT " at byte %" G_GSIZE_FORMAT
                   " (%s)",
                   number, field_start, desc->name);
      return FALSE;
    }

    switch (wire) {
    case WIRE_VARINT:
      if (!read_varint (data, &pos, end, &value))
        goto truncated;
      break;
    case WIRE_FIXED64:
      if (end - pos < 8)
        goto truncated;
      pos += 8;
      break;
    case WIRE_FIXED32:
      if (end - pos < 4)
        goto truncated;
      pos += 4;
      break;
    case WIRE_LENGTH_DELIMITED: {
      if (!read_varint (data, &pos, end, &value) || value > end - pos)
        goto truncated;

      const ProtobufCFieldDescriptor *field
          = protobuf_c_message_descriptor_get_field (desc, (unsigned)number);
      gsize payload_end = pos + value;

      if (field != NULL && field->type == PROTOBUF_C_TYPE_MESSAGE) {
        WireRole child = ROLE_OTHER;
        if (role == ROLE_MODEL && number == MODEL_GRAPH_FIELD)
          child = ROLE_MAIN_GRAPH;
        else if (role == ROLE_MAIN_GRAPH && number == GRAPH_INITIALIZER_FIELD) {
          OnnxWireSpan none = { ONNX_WIRE_SPAN_NONE, 0 };
          child = ROLE_MAIN_INITIALIZER;
          g_array_append_val (spans, none);
        }

        if (out != NULL && child != ROLE_OTHER) {
          g_autoptr (GByteArray) rewritten = g_byte_array_new ();
          if (!walk_message (field->descriptor, data, pos, payload_end, depth + 1, child, spans,
                             rewritten, error))
            return FALSE;
          g_byte_array_append (out, data + field_start, (guint)(key_end - field_start));
          append_varint (out, rewritten->len);
          g_byte_array_append (out, rewritten->data, rewritten->len);
          pos = payload_end;
          continue;
        }
        if (!walk_message (field->descriptor, data, pos, payload_end, depth + 1, child, spans, NULL,
                           error))
          return FALSE;
      } else if (role == ROLE_MAIN_INITIALIZER && number == TENSOR_RAW_DATA_FIELD) {
        /* A repeated singular field: the last occurrence wins, as in
         * protobuf-c. */
        OnnxWireSpan *span = &g_array_index (spans, OnnxWireSpan, spans->len - 1);
        span->offset = pos;
        span->length = value;
        pos = payload_end;
        continue;
      }
      pos = payload_end;
      break;
    }
    default:
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                   "protobuf wire type %u at byte %" G_GSIZE_FORMAT
                   " (%s), which ONNX files never use",
                   wire, field_start, desc->name);
      return FALSE;
    }
    if (out != NULL)
      g_byte_array_append (out, data + field_start, (guint)(pos - field_start));
  }
  return TRUE;

truncated:
  g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
               "truncated or malformed protobuf field at byte %" G_GSIZE_FORMAT " (%s)",
               field_start, desc->name);
  return FALSE;
}

GBytes *
onnx_wire_strip_model (const guint8 *data, gsize len, GArray *initializer_raw_data, GError **error)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();

  if (!walk_message (&onnx__model_proto__descriptor, data, 0, len, 0, ROLE_MODEL,
                     initializer_raw_data, out, error))
    return NULL;
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}
