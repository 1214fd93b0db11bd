/* cpu-quant.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_quant_register (GliaOpTable *table)
{
}
