/* cpu-control.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_control_register (GliaOpTable *table)
{
}
