/* cpu-resize.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_resize_register (GliaOpTable *table)
{
}
