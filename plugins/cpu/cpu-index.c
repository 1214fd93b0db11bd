/* cpu-index.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_index_register (GliaOpTable *table)
{
}
