/* cpu-math.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_math_register (GliaOpTable *table)
{
}
