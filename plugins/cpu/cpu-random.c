/* cpu-random.c: random generators: RandomUniform, RandomNormal, their -Like
 * forms, Bernoulli and Multinomial.
 *
 * Every run draws from a generator of its own, so kernels stay reentrant: a
 * node with a `seed` attribute seeds it from that value and so produces the
 * same output on every run; without one it is seeded afresh (GRand's default
 * seeding) per run. Values are drawn in double (GRand's Mersenne Twister,
 * normals by Box-Muller) and written in the output's element type. The draws
 * are sequential; these ops are not on hot paths.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <string.h>

#define BLOCK 256

typedef enum
{
  RANDOM_UNIFORM,
  RANDOM_NORMAL,
  RANDOM_UNIFORM_LIKE,
  RANDOM_NORMAL_LIKE,
  RANDOM_BERNOULLI,
  RANDOM_MULTINOMIAL,
} RandomKind;

static const struct
{
  const char *name;
  RandomKind kind;
} random_kinds[] = {
  { "RandomUniform", RANDOM_UNIFORM },
  { "RandomNormal", RANDOM_NORMAL },
  { "RandomUniformLike", RANDOM_UNIFORM_LIKE },
  { "RandomNormalLike", RANDOM_NORMAL_LIKE },
  { "Bernoulli", RANDOM_BERNOULLI },
  { "Multinomial", RANDOM_MULTINOMIAL },
};

typedef struct
{
  RandomKind kind;
  gboolean seeded;
  guint32 seed[2];
  /* output type; UNDEFINED: the input's */
  GliaDataType dtype;
  /* uniform: low, high; normal: mean, scale */
  double a, b;
  guint rank;
  gint64 dims[GLIA_MAX_RANK];
  gint64 sample_size;
} RandomState;

/* Output types each op may produce. */
static guint64
allowed_dtypes (RandomKind kind)
{
  switch (kind) {
  case RANDOM_BERNOULLI:
    return CPU_DTYPES_NUMERIC;
  case RANDOM_MULTINOMIAL:
    return GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64);
  default:
    return GLIA_DTYPES_FLOATS;
  }
}

static gboolean
random_parse (const GliaGraph *graph, gint node, RandomState *s, GError **error)
{
  const char *op = glia_graph_node_get_op_type (graph, node);
  guint i;
  memset (s, 0, sizeof *s);
  for (i = 0; i < G_N_ELEMENTS (random_kinds); i++)
    if (g_str_equal (op, random_kinds[i].name))
      break;
  g_assert (i < G_N_ELEMENTS (random_kinds));
  s->kind = random_kinds[i].kind;

  if (glia_graph_node_has_attr (graph, node, "seed")) {
    /* the seed's double bits: fractional seeds differ too */
    double seed = glia_graph_node_get_attr_float (graph, node, "seed", 0.0f);
    guint64 bits;
    memcpy (&bits, &seed, sizeof bits);
    s->seeded = TRUE;
    s->seed[0] = (guint32)bits;
    s->seed[1] = (guint32)(bits >> 32);
  }

  /* dtype: defaults to float for the generators, int32 for Multinomial and
   * the input's type for the others */
  gint64 default_dtype = GLIA_DATA_TYPE_UNDEFINED;
  if (s->kind == RANDOM_UNIFORM || s->kind == RANDOM_NORMAL)
    default_dtype = GLIA_DATA_TYPE_FLOAT;
  else if (s->kind == RANDOM_MULTINOMIAL)
    default_dtype = GLIA_DATA_TYPE_INT32;
  gint64 dtype = glia_graph_node_get_attr_int (graph, node, "dtype", default_dtype);
  if (dtype != GLIA_DATA_TYPE_UNDEFINED
      && (dtype < 0 || dtype > GLIA_DATA_TYPE_LAST
          || !cpu_dtype_in ((GliaDataType)dtype, allowed_dtypes (s->kind)))) {
    cpu_node_error (error, graph, node,
                    "attribute 'dtype' = %" G_GINT64_FORMAT " is not an output type of %s", dtype,
                    op);
    return FALSE;
  }
  s->dtype = (GliaDataType)dtype;

  switch (s->kind) {
  case RANDOM_UNIFORM:
  case RANDOM_UNIFORM_LIKE:
    s->a = glia_graph_node_get_attr_float (graph, node, "low", 0.0f);
    s->b = glia_graph_node_get_attr_float (graph, node, "high", 1.0f);
    if (!isfinite (s->a) || !isfinite (s->b) || s->b < s->a) {
      cpu_node_error (error, graph, node,
                      "attributes 'low' (%g) and 'high' (%g) must be finite with low <= high", s->a,
                      s->b);
      return FALSE;
    }
    break;
  case RANDOM_NORMAL:
  case RANDOM_NORMAL_LIKE:
    s->a = glia_graph_node_get_attr_float (graph, node, "mean", 0.0f);
    s->b = glia_graph_node_get_attr_float (graph, node, "scale", 1.0f);
    if (!isfinite (s->a) || !isfinite (s->b) || s->b < 0) {
      cpu_node_error (error, graph, node,
                      "attributes 'mean' (%g) and 'scale' (%g) must be finite, scale >= 0", s->a,
                      s->b);
      return FALSE;
    }
    break;
  case RANDOM_MULTINOMIAL:
    s->sample_size = glia_graph_node_get_attr_int (graph, node, "sample_size", 1);
    if (s->sample_size < 1) {
      cpu_node_error (error, graph, node,
                      "attribute 'sample_size' must be positive, got %" G_GINT64_FORMAT,
                      s->sample_size);
      return FALSE;
    }
    break;
  case RANDOM_BERNOULLI:
    break;
  }

  if (s->kind == RANDOM_UNIFORM || s->kind == RANDOM_NORMAL) {
    guint n = 0;
    const gint64 *dims = glia_graph_node_get_attr_ints (graph, node, "shape", &n);
    if (!glia_graph_node_has_attr (graph, node, "shape") || n > GLIA_MAX_RANK) {
      cpu_node_error (error, graph, node, "attribute 'shape' (at most %d dims) is required",
                      GLIA_MAX_RANK);
      return FALSE;
    }
    for (guint d = 0; d < n; d++)
      if (dims[d] < 0) {
        cpu_node_error (error, graph, node, "attribute 'shape' has a negative dim");
        return FALSE;
      }
    s->rank = n;
    if (n)
      memcpy (s->dims, dims, n * sizeof (gint64));
  }
  return TRUE;
}

static gpointer
random_create (const GliaGraph *graph, gint node, GError **error)
{
  RandomState s;
  if (!random_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
random_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  RandomState s;
  if (!random_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s,
                     error))
    return FALSE;
  GliaDataType dtype = s.dtype;
  switch (s.kind) {
  case RANDOM_UNIFORM:
  case RANDOM_NORMAL:
    glia_shape_context_set_output (ctx, 0, dtype, (gint)s.rank, s.dims);
    break;
  case RANDOM_MULTINOMIAL: {
    gint rank = glia_shape_context_get_input_rank (ctx, 0);
    gint64 dims[2]
        = { rank == 2 ? glia_shape_context_get_input_dims (ctx, 0)[0] : -1, s.sample_size };
    glia_shape_context_set_output (ctx, 0, dtype, 2, dims);
    break;
  }
  default: {
    GliaDataType in = glia_shape_context_get_input_dtype (ctx, 0);
    if (dtype == GLIA_DATA_TYPE_UNDEFINED) {
      if (in != GLIA_DATA_TYPE_UNDEFINED && !cpu_dtype_in (in, allowed_dtypes (s.kind))) {
        cpu_shape_error (error, ctx,
                         "the input is %s and no 'dtype' attribute names an output type",
                         glia_data_type_get_name (in));
        return FALSE;
      }
      dtype = in;
    }
    cpu_infer_like_input (ctx, 0, 0, dtype);
  }
  }
  return TRUE;
}

static GRand *
random_generator (const RandomState *s)
{
  return s->seeded ? g_rand_new_with_seed_array (s->seed, G_N_ELEMENTS (s->seed)) : g_rand_new ();
}

/* Fills @out with @n draws of a uniform or normal distribution. */
static void
draw (const RandomState *s, GRand *rand, double *out, gsize n)
{
  gboolean normal = s->kind == RANDOM_NORMAL || s->kind == RANDOM_NORMAL_LIKE;
  if (!normal) {
    for (gsize i = 0; i < n; i++)
      out[i] = s->a + (s->b - s->a) * g_rand_double (rand);
    return;
  }
  for (gsize i = 0; i < n; i += 2) {
    double u1 = 1.0 - g_rand_double (rand); /* in (0, 1]: log is finite */
    double u2 = g_rand_double (rand);
    double r = sqrt (-2.0 * log (u1));
    out[i] = s->a + s->b * r * cos (2.0 * G_PI * u2);
    if (i + 1 < n)
      out[i + 1] = s->a + s->b * r * sin (2.0 * G_PI * u2);
  }
}

static gboolean
check_float_input (GliaKernelContext *ctx, const GliaTensorView *x, GError **error)
{
  if (cpu_dtype_in (x->dtype, GLIA_DTYPES_FLOATS))
    return TRUE;
  cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                    "the input must be a float type, got %s", glia_data_type_get_name (x->dtype));
  return FALSE;
}

static gboolean
multinomial_compute (const RandomState *s, GliaKernelContext *ctx, GRand *rand, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !check_float_input (ctx, x, error))
    return FALSE;
  if (x->rank != 2 || x->dims[1] < 1) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the input must be [batch_size, class_size] with classes, got %s", d);
    return FALSE;
  }
  gint64 dims[2] = { x->dims[0], s->sample_size };
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, s->dtype, 2, dims, error);
  if (y == NULL)
    return FALSE;

  gsize classes = (gsize)x->dims[1];
  gsize elem = glia_data_type_get_size (x->dtype);
  g_autofree double *cdf = g_new (double, classes);
  for (gint64 b = 0; b < x->dims[0]; b++) {
    /* cumulative softmax of the row's unnormalized log-probabilities */
    cpu_load_doubles (x->dtype, (const guint8 *)x->data + (gsize)b * classes * elem, cdf, classes);
    double max = -INFINITY, total = 0;
    for (gsize c = 0; c < classes; c++)
      max = MAX (max, cdf[c]);
    for (gsize c = 0; c < classes; c++) {
      total += isfinite (max) ? exp (cdf[c] - max) : 1.0;
      cdf[c] = total;
    }
    for (gint64 k = 0; k < s->sample_size; k++) {
      double u = g_rand_double (rand) * total;
      gsize lo = 0, hi = classes - 1;
      while (lo < hi) {
        gsize mid = (lo + hi) / 2;
        if (cdf[mid] > u)
          hi = mid;
        else
          lo = mid + 1;
      }
      gsize at = (gsize)b * (gsize)s->sample_size + (gsize)k;
      if (s->dtype == GLIA_DATA_TYPE_INT32)
        ((gint32 *)y->data)[at] = (gint32)lo;
      else
        ((gint64 *)y->data)[at] = (gint64)lo;
    }
  }
  return TRUE;
}

static gboolean
bernoulli_compute (const RandomState *s, GliaKernelContext *ctx, GRand *rand, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !check_float_input (ctx, x, error))
    return FALSE;
  GliaDataType dtype = s->dtype ? s->dtype : x->dtype;
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  gsize in_size = glia_data_type_get_size (x->dtype), out_size = glia_data_type_get_size (dtype);
  double buf[BLOCK];
  for (gsize i = 0; i < x->n_elements; i += BLOCK) {
    gsize n = MIN (BLOCK, x->n_elements - i);
    cpu_load_doubles (x->dtype, (const guint8 *)x->data + i * in_size, buf, n);
    for (gsize j = 0; j < n; j++)
      buf[j] = g_rand_double (rand) < buf[j] ? 1.0 : 0.0;
    cpu_store_doubles (dtype, buf, (guint8 *)y->data + i * out_size, n);
  }
  return TRUE;
}

static gboolean
random_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const RandomState *s = state;
  g_autoptr (GRand) rand = random_generator (s);
  GliaTensorView *y;

  switch (s->kind) {
  case RANDOM_BERNOULLI:
    return bernoulli_compute (s, ctx, rand, error);
  case RANDOM_MULTINOMIAL:
    return multinomial_compute (s, ctx, rand, error);
  case RANDOM_UNIFORM:
  case RANDOM_NORMAL:
    y = glia_kernel_context_allocate_output (ctx, 0, s->dtype, s->rank, s->dims, error);
    break;
  default: {
    const GliaTensorView *x = cpu_require_input (ctx, 0, error);
    if (x == NULL)
      return FALSE;
    GliaDataType dtype = s->dtype ? s->dtype : x->dtype;
    if (!cpu_dtype_in (dtype, GLIA_DTYPES_FLOATS)) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "the input is %s and no 'dtype' attribute names an output type",
                        glia_data_type_get_name (x->dtype));
      return FALSE;
    }
    y = glia_kernel_context_allocate_output (ctx, 0, dtype, x->rank, x->dims, error);
  }
  }
  if (y == NULL)
    return FALSE;

  gsize size = glia_data_type_get_size (y->dtype);
  double buf[BLOCK];
  for (gsize i = 0; i < y->n_elements; i += BLOCK) {
    gsize n = MIN (BLOCK, y->n_elements - i);
    draw (s, rand, buf, n);
    cpu_store_doubles (y->dtype, buf, (guint8 *)y->data + i * size, n);
  }
  return TRUE;
}

#define RANDOM_DEF(NAME, SINCE, DTYPES)                                                            \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = G_MAXINT, .dtypes = DTYPES, .infer_shapes = random_infer_shapes,              \
    .create = random_create, .compute = random_compute, .destroy = g_free,                         \
  }

static const GliaOpDef random_ops[] = {
  RANDOM_DEF ("RandomUniform", 1, 0),
  RANDOM_DEF ("RandomNormal", 1, 0),
  RANDOM_DEF ("RandomUniformLike", 1, 0),
  RANDOM_DEF ("RandomNormalLike", 1, 0),
  RANDOM_DEF ("Bernoulli", 15, GLIA_DTYPES_FLOATS),
  RANDOM_DEF ("Multinomial", 7, GLIA_DTYPES_FLOATS),
};

void
cpu_random_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (random_ops); i++)
    glia_op_table_add (table, &random_ops[i]);
}
