/* cpu-quant.c: linear quantization. QuantizeLinear and DequantizeLinear (per
 * tensor; per axis since opset 13), DynamicQuantizeLinear, and the integer
 * products MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv over
 * int8 / uint8.
 *
 * The integer products subtract the zero points while widening to double
 * and multiply with cblas_dgemm (the convolutions after an im2col, as
 * Conv does): a sum of products of 9-bit values is exact in double for any
 * inner dimension below 2^36, so this is the spec's int32 accumulator at
 * BLAS speed. The QLinear ops then requantize the way other runtimes do:
 * the accumulator as float times the float multiplier
 * (a_scale * b_scale / y_scale), rounded half to even, plus the output zero
 * point, saturated. Quantizing also rounds half to even.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define DTYPES_Q8 (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_UINT8) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT8))

static gboolean
is_q8 (GliaDataType t)
{
  return t == GLIA_DATA_TYPE_UINT8 || t == GLIA_DATA_TYPE_INT8;
}

/* Element @i of an int8, uint8 or int32 tensor. */
static gint32
int_at (const GliaTensorView *v, gsize i)
{
  switch (v->dtype) {
  case GLIA_DATA_TYPE_UINT8:
    return ((const guint8 *)v->data)[i];
  case GLIA_DATA_TYPE_INT8:
    return ((const gint8 *)v->data)[i];
  default:
    return ((const gint32 *)v->data)[i];
  }
}

/* @v rounded half to even plus @zp, saturated to @t (int8 or uint8); NaN
 * gives the zero point. */
static gint32
saturate_q8 (GliaDataType t, float v, gint32 zp)
{
  float lo = t == GLIA_DATA_TYPE_UINT8 ? 0.0f : -128.0f;
  float hi = t == GLIA_DATA_TYPE_UINT8 ? 255.0f : 127.0f;
  if (v != v)
    return zp;
  v = nearbyintf (v) + (float)zp;
  return (gint32)(v < lo ? lo : v > hi ? hi : v);
}

static void
store_q8 (GliaDataType t, gpointer dst, gsize i, gint32 v)
{
  if (t == GLIA_DATA_TYPE_UINT8)
    ((guint8 *)dst)[i] = (guint8)v;
  else
    ((gint8 *)dst)[i] = (gint8)v;
}

/* dst[i] = src[i] - zp as doubles, for @n int8 or uint8 values. */
static void
widen (GliaDataType t, gconstpointer src, gsize n, double zp, double *dst)
{
  if (t == GLIA_DATA_TYPE_UINT8)
    for (gsize i = 0; i < n; i++)
      dst[i] = (double)((const guint8 *)src)[i] - zp;
  else
    for (gsize i = 0; i < n; i++)
      dst[i] = (double)((const gint8 *)src)[i] - zp;
}

/* Checks that @v is a scalar (any rank, one element) or a vector of @n
 * values, with element type @dtype (UNDEFINED: float32 or q8). */
static gboolean
check_param (GliaKernelContext *ctx, const GliaTensorView *v, const char *name, GliaDataType dtype,
             gint64 n, const char *what, GError **error)
{
  gboolean ok = dtype == GLIA_DATA_TYPE_UNDEFINED ? is_q8 (v->dtype) : v->dtype == dtype;
  if (ok && v->n_elements != 1)
    ok = n > 0 && v->rank == 1 && v->dims[0] == n;
  if (!ok) {
    g_autofree char *dv = cpu_dims_to_string (v->rank, v->dims);
    g_autofree char *vec
        = n > 0 ? g_strdup_printf (" or [%" G_GINT64_FORMAT "] (%s)", n, what) : g_strdup ("");
    cpu_kernel_error (
        error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s must be %s: a scalar%s, got %s %s", name,
        dtype == GLIA_DATA_TYPE_UNDEFINED ? "int8 or uint8" : glia_data_type_get_name (dtype), vec,
        glia_data_type_get_name (v->dtype), dv);
  }
  return ok;
}

/* ---- QuantizeLinear / DequantizeLinear ------------------------------------- */

typedef struct
{
  gint64 axis;
  gboolean per_axis_allowed; /* opset 13 */
} QdqState;

static gpointer
qdq_create (const GliaGraph *graph, gint node, GError **error)
{
  QdqState s;
  s.per_axis_allowed = glia_graph_node_get_opset (graph, node) >= 13;
  s.axis = glia_graph_node_get_attr_int (graph, node, "axis", 1);
  if (!s.per_axis_allowed && glia_graph_node_has_attr (graph, node, "axis")) {
    cpu_node_error (error, graph, node, "attribute 'axis' exists only since opset 13");
    return NULL;
  }
  if (glia_graph_node_get_attr_int (graph, node, "block_size", 0) != 0) {
    cpu_node_error (error, graph, node, "attribute 'block_size' is not supported");
    return NULL;
  }
  if (glia_graph_node_get_attr_int (graph, node, "saturate", 1) != 1) {
    cpu_node_error (error, graph, node, "attribute 'saturate' = 0 is not supported");
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

static gboolean
quantize_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  GliaDataType t = GLIA_DATA_TYPE_UINT8;
  if (glia_shape_context_get_n_inputs (ctx) > 2 && glia_shape_context_has_input (ctx, 2))
    t = glia_shape_context_get_input_dtype (ctx, 2);
  cpu_infer_like_input (ctx, 0, 0, t);
  return TRUE;
}

static gboolean
dequantize_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  cpu_infer_like_input (ctx, 0, 0, GLIA_DATA_TYPE_FLOAT);
  return TRUE;
}

/* Resolves the quantization axis of @x for @scale (and @zp): *channels is 1
 * for a per-tensor scale. */
static gboolean
qdq_layout (const QdqState *s, GliaKernelContext *ctx, const GliaTensorView *x,
            const GliaTensorView *scale, const GliaTensorView *zp, GliaDataType zp_dtype,
            gsize *outer, gsize *channels, gsize *inner, GError **error)
{
  *outer = 1;
  *channels = 1;
  *inner = x->n_elements;
  gint64 n = -1;
  if (scale->n_elements != 1) {
    guint axis;
    if (!s->per_axis_allowed) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "scale must be a scalar before opset 13");
      return FALSE;
    }
    if (!cpu_normalize_axis (s->axis, x->rank, &axis)) {
      g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "axis %" G_GINT64_FORMAT " is out of range for input %s", s->axis, dx);
      return FALSE;
    }
    n = x->dims[axis];
    *outer = cpu_numel_range (x->dims, 0, axis);
    *channels = (gsize)n;
    *inner = cpu_numel_range (x->dims, axis + 1, x->rank);
  }
  if (!check_param (ctx, scale, "scale", GLIA_DATA_TYPE_FLOAT, n, "along the axis", error))
    return FALSE;
  if (zp && (!check_param (ctx, zp, "zero point", zp_dtype, n, "along the axis", error)))
    return FALSE;
  if (zp && zp->n_elements != scale->n_elements) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "zero point and scale have %" G_GSIZE_FORMAT " and %" G_GSIZE_FORMAT
                      " values",
                      zp->n_elements, scale->n_elements);
    return FALSE;
  }
  return TRUE;
}

static gboolean
quantize_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const QdqState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *scale = x ? cpu_require_input (ctx, 1, error) : NULL;
  if (scale == NULL)
    return FALSE;
  const GliaTensorView *zp = cpu_optional_input (ctx, 2);
  if (x->dtype != GLIA_DATA_TYPE_FLOAT && x->dtype != GLIA_DATA_TYPE_INT32) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "x must be float32 or int32, got %s",
                      glia_data_type_get_name (x->dtype));
    return FALSE;
  }
  gsize outer, channels, inner;
  if (!qdq_layout (s, ctx, x, scale, zp, GLIA_DATA_TYPE_UNDEFINED, &outer, &channels, &inner,
                   error))
    return FALSE;
  GliaDataType t = zp ? zp->dtype : GLIA_DATA_TYPE_UINT8;
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, t, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;

  gsize i = 0;
  for (gsize o = 0; o < outer; o++)
    for (gsize c = 0; c < channels; c++) {
      float sc = ((const float *)scale->data)[c];
      gint32 z = zp ? int_at (zp, c) : 0;
      for (gsize k = 0; k < inner; k++, i++) {
        float v = x->dtype == GLIA_DATA_TYPE_FLOAT ? ((const float *)x->data)[i]
                                                   : (float)((const gint32 *)x->data)[i];
        store_q8 (t, y->data, i, saturate_q8 (t, v / sc, z));
      }
    }
  return TRUE;
}

static gboolean
dequantize_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const QdqState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *scale = x ? cpu_require_input (ctx, 1, error) : NULL;
  if (scale == NULL)
    return FALSE;
  const GliaTensorView *zp = cpu_optional_input (ctx, 2);
  if (!is_q8 (x->dtype) && x->dtype != GLIA_DATA_TYPE_INT32) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "x must be int8, uint8 or int32, got %s", glia_data_type_get_name (x->dtype));
    return FALSE;
  }
  gsize outer, channels, inner;
  if (!qdq_layout (s, ctx, x, scale, zp, x->dtype, &outer, &channels, &inner, error))
    return FALSE;
  if (zp && x->dtype == GLIA_DATA_TYPE_INT32)
    for (gsize c = 0; c < zp->n_elements; c++)
      if (int_at (zp, c) != 0) {
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                          "the zero point of int32 input must be 0");
        return FALSE;
      }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_FLOAT, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;

  float *yd = y->data;
  gsize i = 0;
  for (gsize o = 0; o < outer; o++)
    for (gsize c = 0; c < channels; c++) {
      float sc = ((const float *)scale->data)[c];
      gint32 z = zp ? int_at (zp, c) : 0;
      for (gsize k = 0; k < inner; k++, i++)
        yd[i] = (float)(int_at (x, i) - z) * sc;
    }
  return TRUE;
}

/* ---- DynamicQuantizeLinear -------------------------------------------------- */

static gboolean
dynamic_quantize_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  cpu_infer_like_input (ctx, 0, 0, GLIA_DATA_TYPE_UINT8);
  if (glia_shape_context_get_n_outputs (ctx) > 1)
    glia_shape_context_set_output (ctx, 1, GLIA_DATA_TYPE_FLOAT, 0, NULL);
  if (glia_shape_context_get_n_outputs (ctx) > 2)
    glia_shape_context_set_output (ctx, 2, GLIA_DATA_TYPE_UINT8, 0, NULL);
  return TRUE;
}

/* The range quantized to uint8 always holds 0; scale = range / 255 and the
 * zero point is where 0 lands. */
static gboolean
dynamic_quantize_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL)
    return FALSE;
  if (x->dtype != GLIA_DATA_TYPE_FLOAT) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "x must be float32, got %s",
                      glia_data_type_get_name (x->dtype));
    return FALSE;
  }
  const float *xd = x->data;
  float lo = 0.0f, hi = 0.0f;
  for (gsize i = 0; i < x->n_elements; i++) {
    lo = fminf (lo, xd[i]);
    hi = fmaxf (hi, xd[i]);
  }
  float scale = (hi - lo) / 255.0f;
  gint32 zp = 0;
  if (scale > 0.0f)
    zp = saturate_q8 (GLIA_DATA_TYPE_UINT8, (0.0f - lo) / scale, 0);

  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_UINT8, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  guint8 *yd = y->data;
  for (gsize i = 0; i < x->n_elements; i++)
    yd[i] = scale > 0.0f ? (guint8)saturate_q8 (GLIA_DATA_TYPE_UINT8, xd[i] / scale, zp) : 0;

  if (cpu_kernel_has_output (ctx, 1)) {
    GliaTensorView *ys
        = glia_kernel_context_allocate_output (ctx, 1, GLIA_DATA_TYPE_FLOAT, 0, NULL, error);
    if (ys == NULL)
      return FALSE;
    *(float *)ys->data = scale;
  }
  if (cpu_kernel_has_output (ctx, 2)) {
    GliaTensorView *yz
        = glia_kernel_context_allocate_output (ctx, 2, GLIA_DATA_TYPE_UINT8, 0, NULL, error);
    if (yz == NULL)
      return FALSE;
    *(guint8 *)yz->data = (guint8)zp;
  }
  return TRUE;
}

/* ---- MatMulInteger / QLinearMatMul ------------------------------------------ */

typedef struct
{
  guint rank;
  gint64 dims[GLIA_MAX_RANK];
  gint64 m, k, n;
  guint batch_rank;
  gint64 batch[GLIA_MAX_RANK];
} QMatShape;

/* numpy matmul shapes; -1 dims unknown. */
static gboolean
qmat_shape (guint ra, const gint64 *a, guint rb, const gint64 *b, QMatShape *s, char **why)
{
  if (ra == 0 || rb == 0) {
    *why = g_strdup ("A and B must have rank 1 or more");
    return FALSE;
  }
  gint64 ka = a[ra - 1], kb = rb == 1 ? b[0] : b[rb - 2];
  s->m = ra == 1 ? 1 : a[ra - 2];
  s->n = rb == 1 ? 1 : b[rb - 1];
  s->k = ka >= 0 ? ka : kb;
  guint ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
  if ((ka >= 0 && kb >= 0 && ka != kb)
      || !cpu_broadcast_dims (ba, a, bb, b, &s->batch_rank, s->batch)) {
    g_autofree char *da = cpu_dims_to_string (ra, a);
    g_autofree char *db = cpu_dims_to_string (rb, b);
    *why = g_strdup_printf ("A %s and B %s cannot be multiplied", da, db);
    return FALSE;
  }
  s->rank = s->batch_rank;
  memcpy (s->dims, s->batch, s->batch_rank * sizeof (gint64));
  if (ra > 1)
    s->dims[s->rank++] = s->m;
  if (rb > 1)
    s->dims[s->rank++] = s->n;
  return TRUE;
}

static gboolean
qmat_infer (GliaShapeContext *ctx, guint a, guint b, GliaDataType dtype, GError **error)
{
  gint ra = glia_shape_context_get_input_rank (ctx, a);
  gint rb = glia_shape_context_get_input_rank (ctx, b);
  if (ra < 0 || rb < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  QMatShape s;
  g_autofree char *why = NULL;
  if (!qmat_shape ((guint)ra, glia_shape_context_get_input_dims (ctx, a), (guint)rb,
                   glia_shape_context_get_input_dims (ctx, b), &s, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, (gint)s.rank, s.dims);
  return TRUE;
}

static gboolean
matmul_integer_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  return qmat_infer (ctx, 0, 1, GLIA_DATA_TYPE_INT32, error);
}

static gboolean
qlinear_matmul_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  GliaDataType t = glia_shape_context_get_n_inputs (ctx) > 7
                       ? glia_shape_context_get_input_dtype (ctx, 7)
                       : glia_shape_context_get_input_dtype (ctx, 0);
  return qmat_infer (ctx, 0, 3, t, error);
}

/* What the product's accumulators turn into. */
typedef struct
{
  GliaDataType out_dtype; /* int32 (MatMulInteger, ConvInteger) or q8 */
  gpointer out;
  /* requantization (q8 outputs): per row of the product (QLinearMatMul's y
   * and a), per column (b), or per output channel (QLinearConv's w) */
  const GliaTensorView *a_scale, *b_scale, *y_scale, *y_zp;
} QOutput;

/* Requantizes or stores @acc (an m x n block) at output element @offset.
 * Row i of the block has row parameters @row0 + i; a_scale/y per row,
 * b_scale per column. */
static void
q_emit (const QOutput *q, const double *acc, gsize m, gsize n, gsize row0, gboolean b_per_row,
        gsize offset)
{
  if (q->out_dtype == GLIA_DATA_TYPE_INT32) {
    gint32 *out = (gint32 *)q->out + offset;
    for (gsize i = 0; i < m * n; i++)
      out[i] = (gint32)(gint64)acc[i];
    return;
  }
  for (gsize i = 0; i < m; i++) {
    gsize r = row0 + i;
    float as = ((const float *)q->a_scale->data)[q->a_scale->n_elements == 1 ? 0 : r];
    float ys = ((const float *)q->y_scale->data)[q->y_scale->n_elements == 1 ? 0 : r];
    gint32 yz = int_at (q->y_zp, q->y_zp->n_elements == 1 ? 0 : r);
    for (gsize j = 0; j < n; j++) {
      gsize bi = q->b_scale->n_elements == 1 ? 0 : b_per_row ? r : j;
      float mult = as * ((const float *)q->b_scale->data)[bi] / ys;
      store_q8 (q->out_dtype, q->out, offset + i * n + j,
                saturate_q8 (q->out_dtype, (float)acc[i * n + j] * mult, yz));
    }
  }
}

/* Y = (A - a_zp) (B - b_zp) with numpy matmul broadcasting, a_zp per row
 * (scalar or [M]) and b_zp per column (scalar or [N]). */
static gboolean
qmatmul_run (GliaKernelContext *ctx, const GliaTensorView *a, const GliaTensorView *a_zp,
             const GliaTensorView *b, const GliaTensorView *b_zp, QOutput *q, GError **error)
{
  QMatShape s;
  g_autofree char *why = NULL;
  if (!is_q8 (a->dtype) || !is_q8 (b->dtype)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "A and B must be int8 or uint8, got %s and %s",
                      glia_data_type_get_name (a->dtype), glia_data_type_get_name (b->dtype));
    return FALSE;
  }
  if (!qmat_shape (a->rank, a->dims, b->rank, b->dims, &s, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  if ((a_zp && !check_param (ctx, a_zp, "a_zero_point", a->dtype, s.m, "of A's rows", error))
      || (b_zp && !check_param (ctx, b_zp, "b_zero_point", b->dtype, s.n, "of B's columns", error)))
    return FALSE;
  if (s.m > G_MAXINT || s.n > G_MAXINT || s.k > G_MAXINT) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "matrix dimensions exceed the BLAS integer range");
    return FALSE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, q->out_dtype, s.rank, s.dims, error);
  if (y == NULL)
    return FALSE;
  q->out = y->data;
  if (y->n_elements == 0)
    return TRUE;

  gsize m = (gsize)s.m, n = (gsize)s.n, k = (gsize)s.k;
  gsize bytes;
  if (!g_size_checked_add (&bytes, a->n_elements + b->n_elements, m * n)
      || !g_size_checked_mul (&bytes, bytes, sizeof (double))) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT, "the work buffers would be too large");
    return FALSE;
  }
  double *ad = glia_kernel_context_get_scratch (ctx, bytes, error);
  if (ad == NULL)
    return FALSE;
  double *bd = ad + a->n_elements, *acc = bd + b->n_elements;

  /* A's rows and B's columns with their zero points taken off. */
  for (gsize r = 0; r < a->n_elements / MAX (k, 1); r++)
    widen (a->dtype, (const guint8 *)a->data + r * k, k,
           a_zp ? int_at (a_zp, a_zp->n_elements == 1 ? 0 : r % m) : 0, ad + r * k);
  widen (b->dtype, b->data, b->n_elements, 0, bd);
  if (b_zp)
    for (gsize i = 0; i < b->n_elements; i++)
      bd[i] -= int_at (b_zp, b_zp->n_elements == 1 ? 0 : i % n);

  guint ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
  const guint ranks[2] = { ba, bb };
  const gint64 *bdims[2] = { a->dims, b->dims };
  CpuBroadcast bc;
  cpu_broadcast_init (&bc, s.batch_rank, s.batch, 2, ranks, bdims);
  gsize n_batch = cpu_numel (s.batch_rank, s.batch);
  CpuBroadcastPos pos;
  cpu_broadcast_seek (&bc, 0, &pos);
  gsize done = 0;
  for (gsize row = 0; row < bc.n_rows && done < n_batch; row++) {
    for (gsize j = 0; j < bc.row_len && done < n_batch; j++, done++) {
      gsize ia = pos.offset[0] + j * (gsize)bc.strides[0][bc.rank - 1];
      gsize ib = pos.offset[1] + j * (gsize)bc.strides[1][bc.rank - 1];
      if (k == 0)
        memset (acc, 0, m * n * sizeof (double));
      else
        cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0,
                     ad + ia * m * k, (int)k, bd + ib * k * n, (int)n, 0.0, acc, (int)n);
      q_emit (q, acc, m, n, 0, FALSE, done * m * n);
    }
    cpu_broadcast_next_row (&bc, &pos);
  }
  return TRUE;
}

static gboolean
matmul_integer_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *a = cpu_require_input (ctx, 0, error);
  const GliaTensorView *b = a ? cpu_require_input (ctx, 1, error) : NULL;
  if (b == NULL)
    return FALSE;
  QOutput q = { .out_dtype = GLIA_DATA_TYPE_INT32 };
  return qmatmul_run (ctx, a, cpu_optional_input (ctx, 2), b, cpu_optional_input (ctx, 3), &q,
                      error);
}

static gboolean
qlinear_matmul_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *in[8];
  for (guint i = 0; i < 8; i++)
    if ((in[i] = cpu_require_input (ctx, i, error)) == NULL)
      return FALSE;
  const GliaTensorView *a = in[0], *b = in[3];
  gint64 m = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
  gint64 n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
  if (!check_param (ctx, in[1], "a_scale", GLIA_DATA_TYPE_FLOAT, m, "of A's rows", error)
      || !check_param (ctx, in[4], "b_scale", GLIA_DATA_TYPE_FLOAT, n, "of B's columns", error)
      || !check_param (ctx, in[6], "y_scale", GLIA_DATA_TYPE_FLOAT, m, "of Y's rows", error)
      || !check_param (ctx, in[7], "y_zero_point", GLIA_DATA_TYPE_UNDEFINED, m, "of Y's rows",
                       error))
    return FALSE;
  QOutput q = {
    .out_dtype = in[7]->dtype,
    .a_scale = in[1],
    .b_scale = in[4],
    .y_scale = in[6],
    .y_zp = in[7],
  };
  return qmatmul_run (ctx, a, in[2], b, in[5], &q, error);
}

/* ---- ConvInteger / QLinearConv ---------------------------------------------- */

typedef struct
{
  CpuWindowAttrs window;
  gint64 group;
  guint x, w; /* input slots of X and W */
} QConvState;

static gpointer
qconv_create (const GliaGraph *graph, gint node, GError **error)
{
  QConvState s;
  if (!cpu_window_attrs_parse (&s.window, graph, node, FALSE, error))
    return NULL;
  if (s.window.ceil_mode) {
    cpu_node_error (error, graph, node, "attribute 'ceil_mode' is not a convolution attribute");
    return NULL;
  }
  s.group = glia_graph_node_get_attr_int (graph, node, "group", 1);
  if (s.group < 1) {
    cpu_node_error (error, graph, node, "attribute 'group' must be positive, got %" G_GINT64_FORMAT,
                    s.group);
    return NULL;
  }
  gboolean qlinear = g_str_equal (glia_graph_node_get_op_type (graph, node), "QLinearConv");
  s.x = 0;
  s.w = qlinear ? 3 : 1;
  return g_memdup2 (&s, sizeof s);
}

/* Checks X [N, C, spatial...] and W [M, C / group, kernel...] (dims may be
 * -1) and resolves the window. */
static gboolean
qconv_geometry (const QConvState *s, guint rank, const gint64 *x, guint w_rank, const gint64 *w,
                CpuWindow *win, char **why)
{
  if (rank < 3 || w_rank != rank) {
    g_autofree char *dx = cpu_dims_to_string (rank, x);
    g_autofree char *dw = cpu_dims_to_string (w_rank, w);
    *why = g_strdup_printf ("X %s must be [N,C,spatial...] and W %s of the same rank", dx, dw);
    return FALSE;
  }
  guint n_spatial = rank - 2;
  gint64 kernel[CPU_WINDOW_MAX_SPATIAL];
  for (guint i = 0; i < n_spatial && i < CPU_WINDOW_MAX_SPATIAL; i++) {
    kernel[i] = w[2 + i];
    if (s->window.n_kernel == n_spatial) {
      if (kernel[i] >= 0 && kernel[i] != s->window.kernel[i]) {
        *why = g_strdup ("attribute 'kernel_shape' does not match W");
        return FALSE;
      }
      kernel[i] = s->window.kernel[i];
    }
  }
  if ((x[1] >= 0 && w[1] >= 0 && x[1] != w[1] * s->group) || (w[0] >= 0 && w[0] % s->group != 0)) {
    g_autofree char *dx = cpu_dims_to_string (rank, x);
    g_autofree char *dw = cpu_dims_to_string (w_rank, w);
    *why = g_strdup_printf ("X %s and W %s do not fit group %" G_GINT64_FORMAT, dx, dw, s->group);
    return FALSE;
  }
  return cpu_window_resolve_partial (&s->window, n_spatial, x + 2, kernel, win, why);
}

static gboolean
qconv_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  g_autoptr (GError) local = NULL;
  g_autofree QConvState *s = qconv_create (graph, node, &local);
  if (s == NULL) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  GliaDataType dtype = GLIA_DATA_TYPE_INT32;
  if (s->w == 3)
    dtype = glia_shape_context_get_n_inputs (ctx) > 7 ? glia_shape_context_get_input_dtype (ctx, 7)
                                                      : glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, s->x);
  gint w_rank = glia_shape_context_get_input_rank (ctx, s->w);
  if (rank < 0 || w_rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, rank, NULL);
    return TRUE;
  }
  const gint64 *x = glia_shape_context_get_input_dims (ctx, s->x);
  const gint64 *w = glia_shape_context_get_input_dims (ctx, s->w);
  CpuWindow win;
  g_autofree char *why = NULL;
  if (!qconv_geometry (s, (guint)rank, x, (guint)w_rank, w, &win, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  gint64 dims[GLIA_MAX_RANK];
  dims[0] = x[0];
  dims[1] = w[0];
  for (guint i = 0; i < (guint)rank - 2; i++)
    dims[2 + i] = win.out[CPU_WINDOW_MAX_SPATIAL - (rank - 2) + i];
  glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
  return TRUE;
}

typedef struct
{
  const CpuWindow *w;
  const double *x; /* first channel of the group, zero point taken off */
  double *col;
  gsize out_size;
} QIm2ColJob;

/* Rows [begin, end) of the column matrix, row r being (channel, kd, kh,
 * kw); padding reads as 0, which is the zero point before it is taken off. */
static void
qim2col_rows (gsize begin, gsize end, gpointer user_data)
{
  const QIm2ColJob *job = user_data;
  const CpuWindow *w = job->w;
  gsize plane = (gsize)(w->in[0] * w->in[1] * w->in[2]);
  for (gsize r = begin; r < end; r++) {
    gint64 kw = (gint64)r % w->kernel[2];
    gint64 kh = ((gint64)r / w->kernel[2]) % w->kernel[1];
    gint64 kd = ((gint64)r / (w->kernel[2] * w->kernel[1])) % w->kernel[0];
    gsize c = r / (gsize)(w->kernel[0] * w->kernel[1] * w->kernel[2]);
    const double *x = job->x + c * plane;
    double *dst = job->col + r * job->out_size;
    for (gint64 od = 0; od < w->out[0]; od++) {
      gint64 id = od * w->stride[0] - w->pad_begin[0] + kd * w->dilation[0];
      for (gint64 oh = 0; oh < w->out[1]; oh++) {
        gint64 ih = oh * w->stride[1] - w->pad_begin[1] + kh * w->dilation[1];
        gboolean row_in = id >= 0 && id < w->in[0] && ih >= 0 && ih < w->in[1];
        const double *src = x + (id * w->in[1] + ih) * w->in[2];
        for (gint64 ow = 0; ow < w->out[2]; ow++) {
          gint64 iw = ow * w->stride[2] - w->pad_begin[2] + kw * w->dilation[2];
          *dst++ = row_in && iw >= 0 && iw < w->in[2] ? src[iw] : 0.0;
        }
      }
    }
  }
}

/* The convolution of X - x_zp by W - w_zp (w_zp scalar or per output
 * channel), each image's accumulators handed to q_emit() per output
 * channel. */
static gboolean
qconv_run (const QConvState *s, GliaKernelContext *ctx, const GliaTensorView *x,
           const GliaTensorView *x_zp, const GliaTensorView *w, const GliaTensorView *w_zp,
           const GliaTensorView *bias, QOutput *q, GError **error)
{
  CpuWindow win;
  g_autofree char *why = NULL;
  if (!is_q8 (x->dtype) || !is_q8 (w->dtype)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "x and w must be int8 or uint8, got %s and %s",
                      glia_data_type_get_name (x->dtype), glia_data_type_get_name (w->dtype));
    return FALSE;
  }
  if (!qconv_geometry (s, x->rank, x->dims, w->rank, w->dims, &win, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  gint64 n_img = x->dims[0], c_in = x->dims[1], m_out = w->dims[0];
  if ((x_zp && !check_param (ctx, x_zp, "x_zero_point", x->dtype, 0, "", error))
      || (w_zp
          && !check_param (ctx, w_zp, "w_zero_point", w->dtype, m_out, "of output channels",
                           error)))
    return FALSE;
  if (bias && (bias->dtype != GLIA_DATA_TYPE_INT32 || bias->rank != 1 || bias->dims[0] != m_out)) {
    g_autofree char *db = cpu_dims_to_string (bias->rank, bias->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "B must be int32 [%" G_GINT64_FORMAT "], got %s %s", m_out,
                      glia_data_type_get_name (bias->dtype), db);
    return FALSE;
  }

  gint64 dims[GLIA_MAX_RANK];
  guint n_spatial = x->rank - 2;
  dims[0] = n_img;
  dims[1] = m_out;
  for (guint i = 0; i < n_spatial; i++)
    dims[2 + i] = win.out[CPU_WINDOW_MAX_SPATIAL - n_spatial + i];
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, q->out_dtype, x->rank, dims, error);
  if (y == NULL)
    return FALSE;
  q->out = y->data;
  if (y->n_elements == 0)
    return TRUE;

  gsize out_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.out);
  gsize in_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.in);
  gsize k_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.kernel);
  gsize c_group = (gsize)(c_in / s->group), m_group = (gsize)(m_out / s->group);
  gsize col_rows = c_group * k_size;
  if (col_rows > G_MAXINT || out_size > G_MAXINT || m_group > G_MAXINT) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "convolution dimensions exceed the BLAS integer range");
    return FALSE;
  }
  /* scratch: W widened, one image widened, the column matrix, one image's
   * accumulators */
  gsize n_w = (gsize)m_out * col_rows, n_x = (gsize)c_in * in_size;
  gsize n_col, n_acc = (gsize)m_out * out_size, bytes;
  if (!g_size_checked_mul (&n_col, col_rows, out_size)
      || !g_size_checked_add (&bytes, n_w + n_x + n_acc, n_col)
      || !g_size_checked_mul (&bytes, bytes, sizeof (double))) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "the im2col buffer would be too large");
    return FALSE;
  }
  double *wd = glia_kernel_context_get_scratch (ctx, bytes, error);
  if (wd == NULL)
    return FALSE;
  double *xd = wd + n_w, *col = xd + n_x, *acc = col + n_col;

  for (gint64 m = 0; m < m_out; m++)
    widen (w->dtype, (const guint8 *)w->data + (gsize)m * col_rows, col_rows,
           w_zp ? int_at (w_zp, w_zp->n_elements == 1 ? 0 : (gsize)m) : 0,
           wd + (gsize)m * col_rows);

  for (gint64 n = 0; n < n_img; n++) {
    widen (x->dtype, (const guint8 *)x->data + (gsize)n * n_x, n_x, x_zp ? int_at (x_zp, 0) : 0,
           xd);
    for (gint64 g = 0; g < s->group; g++) {
      double *acc_g = acc + (gsize)g * m_group * out_size;
      if (col_rows == 0) {
        memset (acc_g, 0, m_group * out_size * sizeof (double));
        continue;
      }
      QIm2ColJob job = { &win, xd + (gsize)g * c_group * in_size, col, out_size };
      glia_kernel_context_parallel_for (ctx, col_rows, MAX (1, CPU_GRAIN / out_size), qim2col_rows,
                                        &job);
      cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m_group, (int)out_size,
                   (int)col_rows, 1.0, wd + (gsize)g * m_group * col_rows, (int)col_rows, col,
                   (int)out_size, 0.0, acc_g, (int)out_size);
    }
    for (gint64 m = 0; m < m_out; m++) {
      double *a = acc + (gsize)m * out_size;
      if (bias)
        for (gsize i = 0; i < out_size; i++)
          a[i] += ((const gint32 *)bias->data)[m];
      /* per output channel: channel m is "row" m of the w scale */
      q_emit (q, a, 1, out_size, (gsize)m, TRUE, ((gsize)n * (gsize)m_out + (gsize)m) * out_size);
    }
  }
  return TRUE;
}

static gboolean
conv_integer_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *w = x ? cpu_require_input (ctx, 1, error) : NULL;
  if (w == NULL)
    return FALSE;
  QOutput q = { .out_dtype = GLIA_DATA_TYPE_INT32 };
  return qconv_run (state, ctx, x, cpu_optional_input (ctx, 2), w, cpu_optional_input (ctx, 3),
                    NULL, &q, error);
}

static gboolean
qlinear_conv_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *in[8];
  for (guint i = 0; i < 8; i++)
    if ((in[i] = cpu_require_input (ctx, i, error)) == NULL)
      return FALSE;
  gint64 m_out = in[3]->rank > 0 ? in[3]->dims[0] : 0;
  if (!check_param (ctx, in[1], "x_scale", GLIA_DATA_TYPE_FLOAT, 0, "", error)
      || !check_param (ctx, in[4], "w_scale", GLIA_DATA_TYPE_FLOAT, m_out, "of output channels",
                       error)
      || !check_param (ctx, in[6], "y_scale", GLIA_DATA_TYPE_FLOAT, 0, "", error)
      || !check_param (ctx, in[7], "y_zero_point", GLIA_DATA_TYPE_UNDEFINED, 0, "", error))
    return FALSE;
  /* q_emit's rows are output channels here: x's and y's parameters are
   * scalars, w's per channel */
  QOutput q = {
    .out_dtype = in[7]->dtype,
    .a_scale = in[1],
    .b_scale = in[4],
    .y_scale = in[6],
    .y_zp = in[7],
  };
  return qconv_run (state, ctx, in[0], in[2], in[3], in[5], cpu_optional_input (ctx, 8), &q, error);
}

/* ---- table ------------------------------------------------------------------ */

#define QDQ_DEF(NAME, SINCE, UNTIL, DTYPES, INFER, COMPUTE)                                        \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = UNTIL, .dtypes = DTYPES, .infer_shapes = INFER, .create = qdq_create,         \
    .compute = COMPUTE, .destroy = g_free,                                                         \
  }

static const GliaOpDef quant_ops[] = {
  /* Opset 13 added per-axis scales and zero points (the 'axis' attribute). */
  QDQ_DEF ("QuantizeLinear", 10, G_MAXINT,
           GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32),
           quantize_infer_shapes, quantize_compute),
  QDQ_DEF ("DequantizeLinear", 10, G_MAXINT, DTYPES_Q8 | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32),
           dequantize_infer_shapes, dequantize_compute),
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "DynamicQuantizeLinear",
      .since_version = 11,
      .until_version = G_MAXINT,
      .dtypes = GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT),
      .infer_shapes = dynamic_quantize_infer_shapes,
      .compute = dynamic_quantize_compute,
  },
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "MatMulInteger",
      .since_version = 10,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_Q8,
      .infer_shapes = matmul_integer_infer_shapes,
      .compute = matmul_integer_compute,
  },
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "QLinearMatMul",
      .since_version = 10,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_Q8,
      .infer_shapes = qlinear_matmul_infer_shapes,
      .compute = qlinear_matmul_compute,
  },
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "ConvInteger",
      .since_version = 10,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_Q8,
      .infer_shapes = qconv_infer_shapes,
      .create = qconv_create,
      .compute = conv_integer_compute,
      .destroy = g_free,
  },
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "QLinearConv",
      .since_version = 10,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_Q8,
      .infer_shapes = qconv_infer_shapes,
      .create = qconv_create,
      .compute = qlinear_conv_compute,
      .destroy = g_free,
  },
};

void
cpu_quant_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (quant_ops); i++)
    glia_op_table_add (table, &quant_ops[i]);
}
