/* glia-types.c: the error domain and data-type tables. */
#include "glia-private.h"

/**
 * glia_error_quark:
 *
 * The error domain of Glia's errors, %GLIA_ERROR; their codes are
 * #GliaError values.
 *
 * Returns: the quark of the domain
 */
/* The quark name is stringified as written: keep clang-format off it. */
// clang-format off
G_DEFINE_QUARK (glia-error-quark, glia_error)
// clang-format on

static const struct
{
  const char *name;
  gsize size;
} dtype_table[] = {
  [GLIA_DATA_TYPE_UNDEFINED] = { "undefined", 0 },
  [GLIA_DATA_TYPE_FLOAT] = { "float32", 4 },
  [GLIA_DATA_TYPE_UINT8] = { "uint8", 1 },
  [GLIA_DATA_TYPE_INT8] = { "int8", 1 },
  [GLIA_DATA_TYPE_UINT16] = { "uint16", 2 },
  [GLIA_DATA_TYPE_INT16] = { "int16", 2 },
  [GLIA_DATA_TYPE_INT32] = { "int32", 4 },
  [GLIA_DATA_TYPE_INT64] = { "int64", 8 },
  [GLIA_DATA_TYPE_STRING] = { "string", sizeof (char *) },
  [GLIA_DATA_TYPE_BOOL] = { "bool", 1 },
  [GLIA_DATA_TYPE_FLOAT16] = { "float16", 2 },
  [GLIA_DATA_TYPE_DOUBLE] = { "float64", 8 },
  [GLIA_DATA_TYPE_UINT32] = { "uint32", 4 },
  [GLIA_DATA_TYPE_UINT64] = { "uint64", 8 },
  [GLIA_DATA_TYPE_COMPLEX64] = { "complex64", 8 },
  [GLIA_DATA_TYPE_COMPLEX128] = { "complex128", 16 },
  [GLIA_DATA_TYPE_BFLOAT16] = { "bfloat16", 2 },
};

gsize
glia_data_type_get_size (GliaDataType dtype)
{
  if ((guint)dtype > GLIA_DATA_TYPE_LAST)
    return 0;
  return dtype_table[dtype].size;
}

const char *
glia_data_type_get_name (GliaDataType dtype)
{
  if ((guint)dtype > GLIA_DATA_TYPE_LAST)
    return "invalid";
  return dtype_table[dtype].name;
}

GliaDataType
glia_data_type_from_name (const char *name)
{
  g_return_val_if_fail (name != NULL, GLIA_DATA_TYPE_UNDEFINED);
  for (guint i = 1; i <= GLIA_DATA_TYPE_LAST; i++)
    if (g_str_equal (name, dtype_table[i].name))
      return (GliaDataType)i;
  if (g_str_equal (name, "float"))
    return GLIA_DATA_TYPE_FLOAT;
  if (g_str_equal (name, "double"))
    return GLIA_DATA_TYPE_DOUBLE;
  return GLIA_DATA_TYPE_UNDEFINED;
}

const char *
glia_device_type_get_name (GliaDeviceType device)
{
  switch (device) {
  case GLIA_DEVICE_TYPE_CPU:
    return "cpu";
  case GLIA_DEVICE_TYPE_CUDA:
    return "cuda";
  case GLIA_DEVICE_TYPE_OTHER:
    return "other";
  }
  return "invalid";
}

/**
 * glia_get_version:
 *
 * Gets the version of the libglia the program runs with, which may be newer
 * than the %GLIA_VERSION_STRING it was compiled with.
 *
 * Returns: (transfer none): the version, "major.minor.micro"
 */
const char *
glia_get_version (void)
{
  return GLIA_VERSION_STRING;
}
