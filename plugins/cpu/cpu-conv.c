/* cpu-conv.c: Conv (1-D to 3-D, with pads, strides, dilations, groups and
 * auto_pad) as im2col followed by one SGEMM per image and group.
 *
 * For image n and group g, im2col lays the receptive fields out as a matrix
 * of (C/group * kernel size) rows by (output spatial size) columns in scratch
 * memory; Y[n, group g's channels] = W_g x col, with Y prefilled by the bias
 * so the GEMM accumulates onto it. A 1x1 convolution with unit strides and no
 * padding uses the input as its own column matrix. Spatial dims are lifted to
 * three (see CpuWindow) so one im2col serves every rank.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <cblas.h>
#include <string.h>

typedef struct
{
  CpuWindowAttrs window;
  gint64 group;
} ConvState;

static gpointer
conv_create (const GliaGraph *graph, gint node, GError **error)
{
  ConvState s;
  if (!cpu_window_attrs_parse (&s.window, graph, node, FALSE, error))
    return NULL;
  if (s.window.ceil_mode) {
    cpu_node_error (error, graph, node, "attribute 'ceil_mode' is not a Conv attribute");
    return NULL;
  }
  s.group = glia_graph_node_get_attr_int (graph, node, "group", 1);
  if (s.group < 1) {
    cpu_node_error (error, graph, node, "attribute 'group' must be positive, got %" G_GINT64_FORMAT,
                    s.group);
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

/* Checks X and W dims (either may hold -1) against each other and the
 * attributes, and resolves the window. */
static gboolean
conv_geometry (const ConvState *s, guint rank, const gint64 *x, guint w_rank, const gint64 *w,
               CpuWindow *win, char **why)
{
  if (rank < 3 || w_rank != rank) {
    g_autofree char *dx = cpu_dims_to_string (rank, x);
    g_autofree char *dw = cpu_dims_to_string (w_rank, w);
    *why = g_strdup_printf ("X %s must be [N,C,spatial...] and W %s of the same rank", dx, dw);
    return FALSE;
  }
  guint n_spatial = rank - 2;
  const gint64 *kernel = w + 2;
  if (s->window.n_kernel) {
    for (guint i = 0; i < MIN (n_spatial, s->window.n_kernel); i++)
      if (kernel[i] >= 0 && kernel[i] != s->window.kernel[i]) {
        g_autofree char *dw = cpu_dims_to_string (w_rank, w);
        *why = g_strdup_printf ("attribute 'kernel_shape' does not match W %s", dw);
        return FALSE;
      }
    kernel = s->window.kernel;
  }
  if (x[1] >= 0 && w[1] >= 0 && x[1] != w[1] * s->group) {
    g_autofree char *dx = cpu_dims_to_string (rank, x);
    g_autofree char *dw = cpu_dims_to_string (w_rank, w);
    *why = g_strdup_printf ("X %s has %" G_GINT64_FORMAT
                            " channels, W %s with group %" G_GINT64_FORMAT
                            " expects %" G_GINT64_FORMAT,
                            dx, x[1], dw, s->group, w[1] * s->group);
    return FALSE;
  }
  if (w[0] >= 0 && w[0] % s->group != 0) {
    *why = g_strdup_printf ("%" G_GINT64_FORMAT
                            " output channels are not divisible by group %" G_GINT64_FORMAT,
                            w[0], s->group);
    return FALSE;
  }
  return cpu_window_resolve_partial (&s->window, n_spatial, x + 2, kernel, win, why);
}

static gboolean
conv_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint w_rank = glia_shape_context_get_input_rank (ctx, 1);
  if (rank < 0 || w_rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, rank, NULL);
    return TRUE;
  }

  g_autoptr (GError) local = NULL;
  g_autofree ConvState *s = conv_create (graph, node, &local);
  if (s == NULL) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  const gint64 *x = glia_shape_context_get_input_dims (ctx, 0);
  const gint64 *w = glia_shape_context_get_input_dims (ctx, 1);
  CpuWindow win;
  g_autofree char *why = NULL;
  if (!conv_geometry (s, (guint)rank, x, (guint)w_rank, w, &win, &why)) {
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
  const float *x; /* first channel of the group in image n */
  float *col;
  gsize out_size;
} Im2ColJob;

/* Fills rows [begin, end) of the column matrix; row r is (channel, kd, kh, kw). */
static void
im2col_rows (gsize begin, gsize end, gpointer user_data)
{
  const Im2ColJob *job = user_data;
  const CpuWindow *w = job->w;
  const gint64 kd_n = w->kernel[0], kh_n = w->kernel[1], kw_n = w->kernel[2];
  const gint64 id_n = w->in[0], ih_n = w->in[1], iw_n = w->in[2];
  const gsize plane = (gsize)(id_n * ih_n * iw_n);

  for (gsize r = begin; r < end; r++) {
    gint64 kw = (gint64)r % kw_n;
    gint64 kh = ((gint64)r / kw_n) % kh_n;
    gint64 kd = ((gint64)r / (kw_n * kh_n)) % kd_n;
    gsize c = r / (gsize)(kw_n * kh_n * kd_n);
    const float *x = job->x + c * plane;
    float *dst = job->col + r * job->out_size;

    for (gint64 od = 0; od < w->out[0]; od++) {
      gint64 id = od * w->stride[0] - w->pad_begin[0] + kd * w->dilation[0];
      for (gint64 oh = 0; oh < w->out[1]; oh++) {
        gint64 ih = oh * w->stride[1] - w->pad_begin[1] + kh * w->dilation[1];
        if (id < 0 || id >= id_n || ih < 0 || ih >= ih_n) {
          memset (dst, 0, (gsize)w->out[2] * sizeof (float));
          dst += w->out[2];
          continue;
        }
        const float *src = x + (id * ih_n + ih) * iw_n;
        gint64 iw0 = kw * w->dilation[2] - w->pad_begin[2];
        gint64 sw = w->stride[2];
        for (gint64 ow = 0; ow < w->out[2]; ow++) {
          gint64 iw = iw0 + ow * sw;
          dst[ow] = iw >= 0 && iw < iw_n ? src[iw] : 0.0f;
        }
        dst += w->out[2];
      }
    }
  }
}

typedef struct
{
  float *y;
  const float *bias;
  gsize out_size;
  gsize m;
} BiasJob;

/* Prefills rows (n, m) of Y with bias[m]. */
static void
bias_fill_rows (gsize begin, gsize end, gpointer user_data)
{
  const BiasJob *job = user_data;
  for (gsize r = begin; r < end; r++) {
    float v = job->bias ? job->bias[r % job->m] : 0.0f;
    float *y = job->y + r * job->out_size;
    for (gsize i = 0; i < job->out_size; i++)
      y[i] = v;
  }
}

static gboolean
conv_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ConvState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *w = x ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *b = NULL;
  if (w == NULL)
    return FALSE;
  if (glia_kernel_context_get_n_inputs (ctx) > 2)
    b = glia_kernel_context_get_input (ctx, 2);

  if (x->dtype != GLIA_DATA_TYPE_FLOAT || w->dtype != GLIA_DATA_TYPE_FLOAT
      || (b && b->dtype != GLIA_DATA_TYPE_FLOAT)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "only float32 is supported, got %s",
                      glia_data_type_get_name (x->dtype));
    return FALSE;
  }
  CpuWindow win;
  g_autofree char *why = NULL;
  if (!conv_geometry (s, x->rank, x->dims, w->rank, w->dims, &win, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  gint64 n_img = x->dims[0], c_in = x->dims[1], m_out = w->dims[0];
  if (b && (b->rank != 1 || b->dims[0] != m_out)) {
    g_autofree char *db = cpu_dims_to_string (b->rank, b->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "bias %s must be [%" G_GINT64_FORMAT "]", db, m_out);
    return FALSE;
  }

  gint64 dims[GLIA_MAX_RANK];
  guint n_spatial = x->rank - 2;
  dims[0] = n_img;
  dims[1] = m_out;
  for (guint i = 0; i < n_spatial; i++)
    dims[2 + i] = win.out[CPU_WINDOW_MAX_SPATIAL - n_spatial + i];
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;

  gsize out_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.out);
  gsize in_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.in);
  gsize k_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.kernel);
  gint64 c_group = c_in / s->group, m_group = m_out / s->group;
  gsize col_rows = (gsize)c_group * k_size;
  if (col_rows > G_MAXINT || out_size > G_MAXINT || m_group > G_MAXINT) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "convolution dimensions exceed the BLAS integer range");
    return FALSE;
  }

  BiasJob bias = { y->data, b ? b->data : NULL, out_size, (gsize)m_out };
  glia_kernel_context_parallel_for (ctx, (gsize)(n_img * m_out), MAX (1, CPU_GRAIN / out_size),
                                    bias_fill_rows, &bias);

  gboolean pointwise = TRUE;
  for (guint i = 0; i < CPU_WINDOW_MAX_SPATIAL; i++)
    pointwise = pointwise && win.kernel[i] == 1 && win.stride[i] == 1 && win.pad_begin[i] == 0
                && win.pad_end[i] == 0;

  float *col = NULL;
  if (!pointwise) {
    gsize bytes;
    if (!g_size_checked_mul (&bytes, col_rows, out_size)
        || !g_size_checked_mul (&bytes, bytes, sizeof (float))) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                        "the im2col buffer would be too large");
      return FALSE;
    }
    col = glia_kernel_context_get_scratch (ctx, bytes, error);
    if (col == NULL)
      return FALSE;
  }

  const float *xd = x->data, *wd = w->data;
  float *yd = y->data;
  for (gint64 n = 0; n < n_img; n++)
    for (gint64 g = 0; g < s->group; g++) {
      const float *xg = xd + ((gsize)n * (gsize)c_in + (gsize)(g * c_group)) * in_size;
      const float *cols = xg;
      if (col_rows == 0)
        continue;
      if (!pointwise) {
        Im2ColJob job = { &win, xg, col, out_size };
        glia_kernel_context_parallel_for (ctx, col_rows, MAX (1, CPU_GRAIN / out_size), im2col_rows,
                                          &job);
        cols = col;
      }
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m_group, (int)out_size,
                   (int)col_rows, 1.0f, wd + (gsize)(g * m_group) * col_rows, (int)col_rows, cols,
                   (int)out_size, 1.0f,
                   yd + ((gsize)n * (gsize)m_out + (gsize)(g * m_group)) * out_size, (int)out_size);
    }
  return TRUE;
}

static const GliaOpDef conv_ops[] = {
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "Conv",
      .since_version = 1,
      .until_version = G_MAXINT,
      .dtypes = GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT),
      .infer_shapes = conv_infer_shapes,
      .create = conv_create,
      .compute = conv_compute,
      .destroy = g_free,
  },
};

void
cpu_conv_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (conv_ops); i++)
    glia_op_table_add (table, &conv_ops[i]);
}
