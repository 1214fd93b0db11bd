/* cpu-loss.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_loss_register (GliaOpTable *table)
{
}
