/* cpu-string.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_string_register (GliaOpTable *table)
{
}
