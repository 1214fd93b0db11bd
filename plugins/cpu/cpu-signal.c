/* cpu-signal.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_signal_register (GliaOpTable *table)
{
}
