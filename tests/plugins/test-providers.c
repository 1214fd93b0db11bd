/* test-providers.c: two small providers for the negotiation tests.
 *
 * "testa" runs Add and Mul on a fake device whose memory holds every byte
 * XOR-ed with 0x5A: a kernel that is handed host memory, or a host reader
 * handed device memory, computes garbage, so the tests see whether the host
 * inserted the copies. "testb" runs Add, Sub and Relu on the CPU and has a
 * thread pool of its own (parallel_for), which counts the loops it is given
 * in test_providers_parallel_loops. Both rank 0: they are used only when a
 * session names them.
 */
#include <glia-plugin.h>
#include <string.h>

#define SCRAMBLE 0x5A

static float
dev_get (const GliaTensorView *v, gsize i)
{
  guint32 bits;
  memcpy (&bits, (const guint8 *)v->data + 4 * i, 4);
  bits ^= 0x5A5A5A5Au;
  float f;
  memcpy (&f, &bits, 4);
  return f;
}

static void
dev_set (GliaTensorView *v, gsize i, float f)
{
  guint32 bits;
  memcpy (&bits, &f, 4);
  bits ^= 0x5A5A5A5Au;
  memcpy ((guint8 *)v->data + 4 * i, &bits, 4);
}

static float
host_get (const GliaTensorView *v, gsize i)
{
  return ((const float *)v->data)[i];
}

static void
host_set (GliaTensorView *v, gsize i, float f)
{
  ((float *)v->data)[i] = f;
}

typedef enum
{
  OP_ADD,
  OP_SUB,
  OP_MUL,
  OP_RELU,
} Op;

static gboolean
binary_infer (GliaShapeContext *ctx, GError **error)
{
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0),
                                 glia_shape_context_get_input_rank (ctx, 0),
                                 glia_shape_context_get_input_dims (ctx, 0));
  return TRUE;
}

/* The second input is either the same shape as the first or a single value. */
static gboolean
compute (Op op, gboolean device, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *a = glia_kernel_context_get_input (ctx, 0);
  const GliaTensorView *b = op == OP_RELU ? NULL : glia_kernel_context_get_input (ctx, 1);
  if (a == NULL || (op != OP_RELU && b == NULL)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "missing input");
    return FALSE;
  }
  if (b && b->n_elements != 1 && b->n_elements != a->n_elements) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "shapes do not match");
    return FALSE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, a->dtype, a->rank, a->dims, error);
  if (y == NULL)
    return FALSE;
  float (*get) (const GliaTensorView *, gsize) = device ? dev_get : host_get;
  void (*set) (GliaTensorView *, gsize, float) = device ? dev_set : host_set;
  for (gsize i = 0; i < a->n_elements; i++) {
    float x = get (a, i);
    float z = b ? get (b, b->n_elements == 1 ? 0 : i) : 0;
    float r = op == OP_ADD ? x + z : op == OP_SUB ? x - z : op == OP_MUL ? x * z : MAX (x, 0);
    set (y, i, r);
  }
  return TRUE;
}

#define KERNEL(name, op, device)                                                                   \
  static gboolean name (gpointer state, GliaKernelContext *ctx, GError **error)                    \
  {                                                                                                \
    return compute (op, device, ctx, error);                                                       \
  }
KERNEL (a_add, OP_ADD, TRUE)
KERNEL (a_mul, OP_MUL, TRUE)
KERNEL (b_add, OP_ADD, FALSE)
KERNEL (b_sub, OP_SUB, FALSE)
KERNEL (b_relu, OP_RELU, FALSE)

#define OPDEF(var, opname, fn)                                                                     \
  static const GliaOpDef var = {                                                                   \
    .struct_size = sizeof (GliaOpDef),                                                             \
    .domain = "",                                                                                  \
    .name = opname,                                                                                \
    .since_version = 1,                                                                            \
    .until_version = G_MAXINT,                                                                     \
    .dtypes = GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT),                                               \
    .infer_shapes = binary_infer,                                                                  \
    .compute = fn,                                                                                 \
  };
OPDEF (def_a_add, "Add", a_add)
OPDEF (def_a_mul, "Mul", a_mul)
OPDEF (def_b_add, "Add", b_add)
OPDEF (def_b_sub, "Sub", b_sub)
OPDEF (def_b_relu, "Relu", b_relu)

typedef struct
{
  GliaOpTable *table;
  gint scale;
} Instance;

static gpointer
create_a (const GliaProviderConfig *config, GError **error)
{
  const char *fail = g_hash_table_lookup (config->options, "fail");
  if (fail && g_str_equal (fail, "1")) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE, "the test device is unplugged");
    return NULL;
  }
  Instance *in = g_new0 (Instance, 1);
  in->table = glia_op_table_new ();
  glia_op_table_add (in->table, &def_a_add);
  glia_op_table_add (in->table, &def_a_mul);
  return in;
}

static gpointer
create_b (const GliaProviderConfig *config, GError **error)
{
  Instance *in = g_new0 (Instance, 1);
  in->table = glia_op_table_new ();
  glia_op_table_add (in->table, &def_b_add);
  glia_op_table_add (in->table, &def_b_sub);
  glia_op_table_add (in->table, &def_b_relu);
  return in;
}

static void
destroy (gpointer instance)
{
  Instance *in = instance;
  glia_op_table_free (in->table);
  g_free (in);
}

static gboolean
get_capability (gpointer instance, const GliaGraph *graph, GliaCapability *cap, GError **error)
{
  return glia_op_table_get_capability (((Instance *)instance)->table, graph, cap);
}

static gboolean
compile (gpointer instance, const GliaGraph *graph, const gint *nodes, guint n_nodes,
         GliaKernel *kernel, GError **error)
{
  g_return_val_if_fail (n_nodes == 1, FALSE);
  return glia_op_table_compile (((Instance *)instance)->table, graph, nodes[0], kernel, error);
}

static const GliaOpDef *
lookup_op (gpointer instance, const GliaGraph *graph, gint node)
{
  return glia_op_table_find (((Instance *)instance)->table, graph, node);
}

static gpointer
dev_alloc (gpointer instance, gsize size, GError **error)
{
  return g_malloc (size);
}

static void
dev_free (gpointer instance, gpointer ptr)
{
  g_free (ptr);
}

static gboolean
dev_copy (gpointer instance, gpointer dst, gconstpointer src, gsize size, GliaCopyKind kind,
          gpointer stream, GError **error)
{
  const guint8 *s = src;
  guint8 *d = dst;
  if (kind == GLIA_COPY_DEVICE_TO_DEVICE)
    memcpy (d, s, size);
  else
    for (gsize i = 0; i < size; i++)
      d[i] = s[i] ^ SCRAMBLE;
  return TRUE;
}

/* testb's "pool": runs each loop in its parts one after the other (as
 * many parts as threads, at least @grain items each) and counts the loops
 * and the threads asked for, for test-session's /session/provider-pool. */
G_MODULE_EXPORT gint test_providers_parallel_loops;
G_MODULE_EXPORT guint test_providers_parallel_threads;

static void
parallel_for (gpointer instance, guint n_threads, gsize n, gsize grain, GliaParallelFunc func,
              gpointer user_data)
{
  g_atomic_int_inc (&test_providers_parallel_loops);
  test_providers_parallel_threads = n_threads;
  gsize parts = MAX (1, MIN ((gsize)n_threads, n / MAX (grain, 1)));
  for (gsize p = 0; p < parts; p++)
    if (n * p / parts < n * (p + 1) / parts)
      func (n * p / parts, n * (p + 1) / parts, user_data);
}

static const char *const a_options[] = { "fail", NULL };
static const char *const no_options[] = { NULL };

static const GliaProviderInfo provider_a = {
  .struct_size = sizeof (GliaProviderInfo),
  .name = "testa",
  .description = "test provider on a fake scrambling device (Add, Mul)",
  .device_type = GLIA_DEVICE_TYPE_OTHER,
  .rank = 0,
  .option_keys = a_options,
  .create = create_a,
  .destroy = destroy,
  .get_capability = get_capability,
  .compile = compile,
  .alloc = dev_alloc,
  .free = dev_free,
  .copy = dev_copy,
  .lookup_op = lookup_op,
};

static const GliaProviderInfo provider_b = {
  .struct_size = sizeof (GliaProviderInfo),
  .name = "testb",
  .description = "test provider on the CPU (Add, Sub, Relu)",
  .device_type = GLIA_DEVICE_TYPE_CPU,
  .rank = 0,
  .option_keys = no_options,
  .create = create_b,
  .destroy = destroy,
  .get_capability = get_capability,
  .compile = compile,
  .lookup_op = lookup_op,
  .parallel_for = parallel_for,
};

static gboolean
plugin_init (GliaPlugin *plugin, GError **error)
{
  return glia_plugin_register_provider (plugin, &provider_a, error)
         && glia_plugin_register_provider (plugin, &provider_b, error);
}

GLIA_PLUGIN_DEFINE ("test-providers", "Providers for the negotiation tests", "1.0",
                    "LGPL-2.1-or-later", "0.1.0", plugin_init)
