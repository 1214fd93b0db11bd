/* cpu-random.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_random_register (GliaOpTable *table)
{
}
