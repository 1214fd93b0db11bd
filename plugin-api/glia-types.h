/* glia-types.h: basic types shared by the host API and the plugin API.
 *
 * Data types use the numbering of ONNX's TensorProto.DataType so loaders can
 * map them without a table. Everything here is part of the plugin ABI: enum
 * values are never renumbered, only appended.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * GliaDataType:
 * @GLIA_DATA_TYPE_UNDEFINED: no type
 * @GLIA_DATA_TYPE_FLOAT: 32-bit IEEE float
 * @GLIA_DATA_TYPE_UINT8: unsigned 8-bit integer
 * @GLIA_DATA_TYPE_INT8: signed 8-bit integer
 * @GLIA_DATA_TYPE_UINT16: unsigned 16-bit integer
 * @GLIA_DATA_TYPE_INT16: signed 16-bit integer
 * @GLIA_DATA_TYPE_INT32: signed 32-bit integer
 * @GLIA_DATA_TYPE_INT64: signed 64-bit integer
 * @GLIA_DATA_TYPE_STRING: UTF-8 strings (each element a `char *`)
 * @GLIA_DATA_TYPE_BOOL: boolean stored in one byte
 * @GLIA_DATA_TYPE_FLOAT16: IEEE half precision float
 * @GLIA_DATA_TYPE_DOUBLE: 64-bit IEEE float
 * @GLIA_DATA_TYPE_UINT32: unsigned 32-bit integer
 * @GLIA_DATA_TYPE_UINT64: unsigned 64-bit integer
 * @GLIA_DATA_TYPE_COMPLEX64: two 32-bit floats
 * @GLIA_DATA_TYPE_COMPLEX128: two 64-bit floats
 * @GLIA_DATA_TYPE_BFLOAT16: brain float 16
 *
 * Element types of tensors, numbered as ONNX numbers them.
 */
typedef enum
{
  GLIA_DATA_TYPE_UNDEFINED = 0,
  GLIA_DATA_TYPE_FLOAT = 1,
  GLIA_DATA_TYPE_UINT8 = 2,
  GLIA_DATA_TYPE_INT8 = 3,
  GLIA_DATA_TYPE_UINT16 = 4,
  GLIA_DATA_TYPE_INT16 = 5,
  GLIA_DATA_TYPE_INT32 = 6,
  GLIA_DATA_TYPE_INT64 = 7,
  GLIA_DATA_TYPE_STRING = 8,
  GLIA_DATA_TYPE_BOOL = 9,
  GLIA_DATA_TYPE_FLOAT16 = 10,
  GLIA_DATA_TYPE_DOUBLE = 11,
  GLIA_DATA_TYPE_UINT32 = 12,
  GLIA_DATA_TYPE_UINT64 = 13,
  GLIA_DATA_TYPE_COMPLEX64 = 14,
  GLIA_DATA_TYPE_COMPLEX128 = 15,
  GLIA_DATA_TYPE_BFLOAT16 = 16,
} GliaDataType;

#define GLIA_DATA_TYPE_LAST GLIA_DATA_TYPE_BFLOAT16

/**
 * GLIA_DTYPE_BIT:
 * @t: a #GliaDataType
 *
 * The bit of @t in a mask of data types, as used for dtype constraints
 * (the `dtypes` field of `GliaOpDef`): `GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT)`.
 */
#define GLIA_DTYPE_BIT(t) (G_GUINT64_CONSTANT (1) << (t))
/**
 * GLIA_DTYPES_FLOATS:
 *
 * Mask (see GLIA_DTYPE_BIT()) of the floating-point types: float32, float64,
 * float16 and bfloat16.
 */
#define GLIA_DTYPES_FLOATS                                                                         \
  (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_DOUBLE)                  \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT16) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_BFLOAT16))
/**
 * GLIA_DTYPES_INTS:
 *
 * Mask (see GLIA_DTYPE_BIT()) of the signed and unsigned integer types, 8 to
 * 64 bits.
 */
#define GLIA_DTYPES_INTS                                                                           \
  (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT8) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT16)                    \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64)                 \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT8) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT16)                \
   | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT64))
/**
 * GLIA_DTYPES_ALL:
 *
 * Mask (see GLIA_DTYPE_BIT()) of every data type except
 * %GLIA_DATA_TYPE_UNDEFINED.
 */
#define GLIA_DTYPES_ALL G_GUINT64_CONSTANT (0x1fffe)

/**
 * GliaDeviceType:
 * @GLIA_DEVICE_TYPE_CPU: host memory
 * @GLIA_DEVICE_TYPE_CUDA: NVIDIA GPU memory
 * @GLIA_DEVICE_TYPE_OTHER: memory of some other device, reached only through its
 *   provider's data-transfer hook
 *
 * Where a tensor's memory lives.
 */
typedef enum
{
  GLIA_DEVICE_TYPE_CPU = 0,
  GLIA_DEVICE_TYPE_CUDA = 1,
  GLIA_DEVICE_TYPE_OTHER = 2,
} GliaDeviceType;

/**
 * GLIA_ERROR:
 *
 * Error domain of Glia. Errors in this domain are from the #GliaError enumeration.
 */
#define GLIA_ERROR (glia_error_quark ())
GQuark glia_error_quark (void);

/**
 * GliaError:
 * @GLIA_ERROR_FAILED: unspecified failure
 * @GLIA_ERROR_INVALID_MODEL: the model file or graph is malformed
 * @GLIA_ERROR_UNSUPPORTED_OP: no provider implements an operator
 * @GLIA_ERROR_PLUGIN_ABI: a plugin was built for an incompatible ABI
 * @GLIA_ERROR_PLUGIN: a plugin could not be loaded or initialised
 * @GLIA_ERROR_INVALID_ARGUMENT: an argument (input, option) is wrong
 * @GLIA_ERROR_RESOURCE_LIMIT: a memory or size limit was exceeded
 * @GLIA_ERROR_SIGNATURE: a signature check failed
 * @GLIA_ERROR_IO: a file could not be read or written
 * @GLIA_ERROR_DEVICE: a device failed
 * @GLIA_ERROR_NOT_FOUND: a named thing (input, provider, plugin) does not exist
 *
 * Error codes of the %GLIA_ERROR domain.
 */
typedef enum
{
  GLIA_ERROR_FAILED,
  GLIA_ERROR_INVALID_MODEL,
  GLIA_ERROR_UNSUPPORTED_OP,
  GLIA_ERROR_PLUGIN_ABI,
  GLIA_ERROR_PLUGIN,
  GLIA_ERROR_INVALID_ARGUMENT,
  GLIA_ERROR_RESOURCE_LIMIT,
  GLIA_ERROR_SIGNATURE,
  GLIA_ERROR_IO,
  GLIA_ERROR_DEVICE,
  GLIA_ERROR_NOT_FOUND,
} GliaError;

/**
 * glia_data_type_get_size:
 * @dtype: a #GliaDataType
 *
 * Gets the storage size of one element of a data type.
 *
 * Returns: the size of one element in bytes (`sizeof (char *)` for strings), 0 for
 *   %GLIA_DATA_TYPE_UNDEFINED or an unknown value.
 */
gsize glia_data_type_get_size (GliaDataType dtype);

/**
 * glia_data_type_get_name:
 * @dtype: a #GliaDataType
 *
 * Gets the name Glia uses for a data type in messages, in `glia inspect` and in the CLI's input
 * syntax (as NumPy names them, where NumPy has the type).
 *
 * Returns: (transfer none): a short lower-case name ("float32", "int64", ...), or
 *   "invalid" for a value that is not a data type.
 */
const char *glia_data_type_get_name (GliaDataType dtype);

/**
 * glia_data_type_from_name:
 * @name: a name as returned by glia_data_type_get_name()
 *
 * Looks up a data type by the name glia_data_type_get_name() gives it.
 *
 * Returns: the data type, or %GLIA_DATA_TYPE_UNDEFINED if @name is unknown.
 */
GliaDataType glia_data_type_from_name (const char *name);

/**
 * glia_device_type_get_name:
 * @device: a #GliaDeviceType
 *
 * Gets the name of a device type, as messages and tensor descriptions show it.
 *
 * Returns: (transfer none): "cpu", "cuda", "other" or "invalid".
 */
const char *glia_device_type_get_name (GliaDeviceType device);

G_END_DECLS
