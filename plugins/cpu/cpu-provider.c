/* cpu-provider.c: the "cpu" execution provider.
 *
 * An instance is a GliaOpTable holding every op def of the kernel families;
 * claiming nodes and compiling them into kernels are the host's op-table
 * helpers, and shape inference asks the table too (lookup_op). Tensors live
 * in host memory, which the host allocates, so the memory, copy and stream
 * hooks are NULL.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

typedef struct
{
  GliaOpTable *table;
} CpuProvider;

static gpointer
cpu_provider_create (const GliaProviderConfig *config, GError **error)
{
  CpuProvider *self = g_new0 (CpuProvider, 1);
  self->table = glia_op_table_new ();
  /* first: its Identity claims only sequences and optionals */
  cpu_sequence_register (self->table);
  cpu_elementwise_register (self->table);
  cpu_gemm_register (self->table);
  cpu_conv_register (self->table);
  cpu_pool_register (self->table);
  cpu_norm_register (self->table);
  cpu_shape_register (self->table);
  cpu_reduce_register (self->table);
  cpu_math_register (self->table);
  cpu_index_register (self->table);
  cpu_resize_register (self->table);
  cpu_loss_register (self->table);
  cpu_select_register (self->table);
  cpu_linalg_register (self->table);
  cpu_rnn_register (self->table);
  cpu_quant_register (self->table);
  cpu_conv_transpose_register (self->table);
  cpu_signal_register (self->table);
  cpu_string_register (self->table);
  cpu_training_register (self->table);
  cpu_random_register (self->table);
  cpu_control_register (self->table);
  cpu_fused_register (self->table);
  g_debug ("CPU provider instance with %u op defs", glia_op_table_get_size (self->table));
  return self;
}

static void
cpu_provider_destroy (gpointer instance)
{
  CpuProvider *self = instance;
  glia_op_table_free (self->table);
  g_free (self);
}

static gboolean
cpu_provider_get_capability (gpointer instance, const GliaGraph *graph, GliaCapability *cap,
                             GError **error)
{
  CpuProvider *self = instance;
  return glia_op_table_get_capability (self->table, graph, cap);
}

static gboolean
cpu_provider_compile (gpointer instance, const GliaGraph *graph, const gint *nodes, guint n_nodes,
                      GliaKernel *kernel, GError **error)
{
  CpuProvider *self = instance;
  if (n_nodes != 1) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_FAILED,
                 "the CPU provider compiles single nodes, was given %u", n_nodes);
    return FALSE;
  }
  return glia_op_table_compile (self->table, graph, nodes[0], kernel, error);
}

static const GliaOpDef *
cpu_provider_lookup_op (gpointer instance, const GliaGraph *graph, gint node)
{
  CpuProvider *self = instance;
  return glia_op_table_find (self->table, graph, node);
}

static const char *const cpu_option_keys[] = { NULL };

const GliaProviderInfo cpu_provider_info = {
  .struct_size = sizeof (GliaProviderInfo),
  .name = "cpu",
  .description = "Reference and BLAS-backed kernels on the host CPU",
  .device_type = GLIA_DEVICE_TYPE_CPU,
  .rank = 256,
  .option_keys = cpu_option_keys,
  .create = cpu_provider_create,
  .destroy = cpu_provider_destroy,
  .get_capability = cpu_provider_get_capability,
  .compile = cpu_provider_compile,
  .lookup_op = cpu_provider_lookup_op,
};
