/* cpu-conv-transpose.c: (being written) */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

void
cpu_conv_transpose_register (GliaOpTable *table)
{
}
