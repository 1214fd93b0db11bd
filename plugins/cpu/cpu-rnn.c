/* cpu-rnn.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_rnn_register (GliaOpTable *table)
{
}
