/* cpu-training.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_training_register (GliaOpTable *table)
{
}
