/* abi-layout.h: one row per struct or field of abi-layout.inc, as compiled
 * against one set of headers. */
#pragma once

#include <glib.h>

typedef struct
{
  const char *type;
  const char *field; /* NULL: the struct itself */
  gsize offset;      /* the struct's size for a struct row */
  gsize size;
  gboolean fixed;
} GliaAbiRow;

extern const GliaAbiRow glia_abi_layout_old[];
extern const GliaAbiRow glia_abi_layout_new[];
extern const gsize glia_abi_layout_old_len, glia_abi_layout_new_len;
