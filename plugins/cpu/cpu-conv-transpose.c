/* cpu-conv-transpose.c: ConvTranspose (1-D to 3-D, with strides,
 * dilations, groups, pads or auto_pad, output_padding and output_shape) as
 * one SGEMM per image and group followed by col2im.
 *
 * For image n and group g, col = W_g^T X_g holds, for every output channel
 * and kernel offset (a row) and every input position (a column), what that
 * input position adds to the output at position in * stride - pad_begin +
 * offset * dilation. col2im scatters the rows into Y, which is prefilled
 * with the bias; it runs over output channels in parallel, so each plane of
 * Y has one writer.
 *
 * Output size per spatial dim: the full size stride * (in - 1) +
 * output_padding + (kernel - 1) * dilation + 1 less the pads. With
 * output_shape (or SAME auto_pad, whose output is in * stride) the pads are
 * the difference, split as the spec says (SAME_UPPER puts the smaller half
 * first, otherwise the larger half); when the asked size exceeds the full
 * one, the positions past it hold only the bias.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <cblas.h>
#include <string.h>

typedef struct
{
  CpuWindowAttrs window;
  gint64 group;
  guint n_output_padding;
  gint64 output_padding[CPU_WINDOW_MAX_SPATIAL];
  guint n_output_shape;
  gint64 output_shape[CPU_WINDOW_MAX_SPATIAL + 2];
} ConvTransposeState;

static gboolean
parse_ints (const GliaGraph *graph, gint node, const char *name, gint64 *out, guint max, guint *n,
            GError **error)
{
  const gint64 *v = glia_graph_node_get_attr_ints (graph, node, name, n);
  if (*n > max) {
    cpu_node_error (error, graph, node, "attribute '%s' has %u values, at most %u are supported",
                    name, *n, max);
    return FALSE;
  }
  for (guint i = 0; i < *n; i++) {
    if (v[i] < 0) {
      cpu_node_error (error, graph, node, "attribute '%s' has a negative value", name);
      return FALSE;
    }
    out[i] = v[i];
  }
  return TRUE;
}

static gpointer
conv_transpose_create (const GliaGraph *graph, gint node, GError **error)
{
  ConvTransposeState s;
  memset (&s, 0, sizeof s);
  if (!cpu_window_attrs_parse (&s.window, graph, node, FALSE, error))
    return NULL;
  if (s.window.ceil_mode) {
    cpu_node_error (error, graph, node, "attribute 'ceil_mode' is not a ConvTranspose attribute");
    return NULL;
  }
  s.group = glia_graph_node_get_attr_int (graph, node, "group", 1);
  if (s.group < 1) {
    cpu_node_error (error, graph, node, "attribute 'group' must be positive, got %" G_GINT64_FORMAT,
                    s.group);
    return NULL;
  }
  if (!parse_ints (graph, node, "output_padding", s.output_padding, CPU_WINDOW_MAX_SPATIAL,
                   &s.n_output_padding, error)
      || !parse_ints (graph, node, "output_shape", s.output_shape, CPU_WINDOW_MAX_SPATIAL + 2,
                      &s.n_output_shape, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

/* Checks X [N, C, spatial...] and W [C, M / group, kernel...] (dims may be
 * -1: the output dims they decide come out -1) and resolves the geometry,
 * lifted to three spatial dims like CpuWindow. */
static gboolean
conv_transpose_geometry (const ConvTransposeState *s, guint rank, const gint64 *x, guint w_rank,
                         const gint64 *w, CpuWindow *win, char **why)
{
  if (rank < 3 || rank > 2 + CPU_WINDOW_MAX_SPATIAL || w_rank != rank) {
    g_autofree char *dx = cpu_dims_to_string (rank, x);
    g_autofree char *dw = cpu_dims_to_string (w_rank, w);
    *why = g_strdup_printf ("X %s must be [N,C,spatial...] with 1 to %d spatial dims and W %s of "
                            "the same rank",
                            dx, CPU_WINDOW_MAX_SPATIAL, dw);
    return FALSE;
  }
  guint n = rank - 2, lift = CPU_WINDOW_MAX_SPATIAL - n;
  const CpuWindowAttrs *a = &s->window;
  if ((a->n_kernel && a->n_kernel != n) || (a->n_strides && a->n_strides != n)
      || (a->n_dilations && a->n_dilations != n) || (a->n_pads && a->n_pads != 2 * n)
      || (s->n_output_padding && s->n_output_padding != n)
      || (s->n_output_shape && s->n_output_shape != n && s->n_output_shape != n + 2)) {
    *why = g_strdup_printf ("the attributes do not match the input's %u spatial dims", n);
    return FALSE;
  }
  if (x[1] >= 0 && w[0] >= 0 && x[1] != w[0]) {
    g_autofree char *dx = cpu_dims_to_string (rank, x);
    g_autofree char *dw = cpu_dims_to_string (w_rank, w);
    *why = g_strdup_printf ("X %s and W %s disagree on the input channels", dx, dw);
    return FALSE;
  }
  if (w[0] >= 0 && w[0] % s->group != 0) {
    *why = g_strdup_printf ("%" G_GINT64_FORMAT
                            " input channels are not divisible by group %" G_GINT64_FORMAT,
                            w[0], s->group);
    return FALSE;
  }

  win->n_spatial = n;
  for (guint i = 0; i < lift; i++) {
    win->in[i] = win->out[i] = win->kernel[i] = win->stride[i] = win->dilation[i] = 1;
    win->pad_begin[i] = win->pad_end[i] = 0;
  }
  for (guint i = 0; i < n; i++) {
    gint64 k = a->n_kernel ? a->kernel[i] : w[2 + i];
    gint64 st = a->n_strides ? a->strides[i] : 1;
    gint64 d = a->n_dilations ? a->dilations[i] : 1;
    gint64 op = s->n_output_padding ? s->output_padding[i] : 0;
    gint64 in = x[2 + i], pb = 0, pe = 0, out = -1;
    if (k == 0) {
      *why = g_strdup_printf ("kernel dim %u is 0", i);
      return FALSE;
    }
    if (a->n_kernel && w[2 + i] >= 0 && w[2 + i] != k) {
      *why = g_strdup ("attribute 'kernel_shape' does not match W");
      return FALSE;
    }
    if (op >= st && op >= d) {
      *why = g_strdup_printf ("output_padding %" G_GINT64_FORMAT
                              " must be smaller than the stride or the dilation",
                              op);
      return FALSE;
    }
    gint64 full = -1;
    if (in >= 0 && k >= 0)
      full = st * (in - 1) + op + (k - 1) * d + 1;

    gint64 want = -1;
    if (s->n_output_shape)
      want = s->output_shape[s->n_output_shape - n + i];
    else if (a->auto_pad == CPU_AUTO_PAD_SAME_UPPER || a->auto_pad == CPU_AUTO_PAD_SAME_LOWER)
      want = in >= 0 ? in * st : -1;

    if (s->n_output_shape || a->auto_pad == CPU_AUTO_PAD_SAME_UPPER
        || a->auto_pad == CPU_AUTO_PAD_SAME_LOWER) {
      out = want;
      if (full >= 0 && want >= 0 && full > want) {
        gint64 total = full - want;
        pb = a->auto_pad == CPU_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        pe = total - pb;
      }
    } else {
      if (a->auto_pad == CPU_AUTO_PAD_NOTSET && a->n_pads) {
        pb = a->pads[i];
        pe = a->pads[i + n];
      }
      if (full >= 0) {
        out = full - pb - pe;
        if (out < 0) {
          *why = g_strdup_printf (
              "the pads of spatial dim %u exceed its output size %" G_GINT64_FORMAT, i, full);
          return FALSE;
        }
      }
    }
    win->in[lift + i] = in;
    win->out[lift + i] = out;
    win->kernel[lift + i] = k;
    win->stride[lift + i] = st;
    win->dilation[lift + i] = d;
    win->pad_begin[lift + i] = pb;
    win->pad_end[lift + i] = pe;
  }
  return TRUE;
}

static void
output_dims (const CpuWindow *win, gint64 n_img, gint64 m_out, gint64 *dims)
{
  dims[0] = n_img;
  dims[1] = m_out;
  for (guint i = 0; i < win->n_spatial; i++)
    dims[2 + i] = win->out[CPU_WINDOW_MAX_SPATIAL - win->n_spatial + i];
}

static gboolean
conv_transpose_infer_shapes (GliaShapeContext *ctx, GError **error)
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
  g_autofree ConvTransposeState *s = conv_transpose_create (graph, node, &local);
  if (s == NULL) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  const gint64 *x = glia_shape_context_get_input_dims (ctx, 0);
  const gint64 *w = glia_shape_context_get_input_dims (ctx, 1);
  CpuWindow win;
  g_autofree char *why = NULL;
  if (!conv_transpose_geometry (s, (guint)rank, x, (guint)w_rank, w, &win, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  gint64 dims[GLIA_MAX_RANK];
  output_dims (&win, x[0], w[1] >= 0 ? w[1] * s->group : -1, dims);
  glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
  return TRUE;
}

typedef struct
{
  const CpuWindow *w;
  const float *col; /* rows (output channel of the group, kernel offset) */
  float *y;         /* the group's first output channel in image n */
  const float *bias;
  gsize in_size, out_size, k_size;
} Col2ImJob;

/* Output channels [begin, end) of the group: bias, then every kernel
 * offset's row added in. */
static void
col2im_channels (gsize begin, gsize end, gpointer user_data)
{
  const Col2ImJob *job = user_data;
  const CpuWindow *w = job->w;
  for (gsize m = begin; m < end; m++) {
    float *y = job->y + m * job->out_size;
    float b = job->bias ? job->bias[m] : 0.0f;
    for (gsize i = 0; i < job->out_size; i++)
      y[i] = b;
    for (gsize kidx = 0; kidx < job->k_size; kidx++) {
      gint64 kw = (gint64)kidx % w->kernel[2];
      gint64 kh = ((gint64)kidx / w->kernel[2]) % w->kernel[1];
      gint64 kd = (gint64)kidx / (w->kernel[2] * w->kernel[1]);
      const float *src = job->col + (m * job->k_size + kidx) * job->in_size;
      for (gint64 id = 0; id < w->in[0]; id++) {
        gint64 od = id * w->stride[0] - w->pad_begin[0] + kd * w->dilation[0];
        for (gint64 ih = 0; ih < w->in[1]; ih++, src += w->in[2]) {
          gint64 oh = ih * w->stride[1] - w->pad_begin[1] + kh * w->dilation[1];
          if (od < 0 || od >= w->out[0] || oh < 0 || oh >= w->out[1])
            continue;
          float *dst = y + (od * w->out[1] + oh) * w->out[2];
          gint64 ow0 = kw * w->dilation[2] - w->pad_begin[2];
          for (gint64 iw = 0; iw < w->in[2]; iw++) {
            gint64 ow = ow0 + iw * w->stride[2];
            if (ow >= 0 && ow < w->out[2])
              dst[ow] += src[iw];
          }
        }
      }
    }
  }
}

static gboolean
conv_transpose_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ConvTransposeState *s = state;
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
  if (!conv_transpose_geometry (s, x->rank, x->dims, w->rank, w->dims, &win, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  gint64 n_img = x->dims[0], c_in = x->dims[1], m_out = w->dims[1] * s->group;
  if (b && (b->rank != 1 || b->dims[0] != m_out)) {
    g_autofree char *db = cpu_dims_to_string (b->rank, b->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "bias %s must be [%" G_GINT64_FORMAT "]", db, m_out);
    return FALSE;
  }
  gint64 dims[GLIA_MAX_RANK];
  output_dims (&win, n_img, m_out, dims);
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;

  gsize in_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.in);
  gsize out_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.out);
  gsize k_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.kernel);
  gsize c_group = (gsize)(c_in / s->group), m_group = (gsize)(m_out / s->group);
  gsize col_rows = m_group * k_size, bytes;
  if (col_rows > G_MAXINT || in_size > G_MAXINT || c_group > G_MAXINT
      || !g_size_checked_mul (&bytes, col_rows, in_size)
      || !g_size_checked_mul (&bytes, bytes, sizeof (float))) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "convolution dimensions exceed the BLAS integer range");
    return FALSE;
  }
  float *col = glia_kernel_context_get_scratch (ctx, MAX (bytes, sizeof (float)), error);
  if (col == NULL)
    return FALSE;

  const float *xd = x->data, *wd = w->data;
  float *yd = y->data;
  for (gint64 n = 0; n < n_img; n++)
    for (gint64 g = 0; g < s->group; g++) {
      const float *xg = xd + ((gsize)n * (gsize)c_in + (gsize)g * c_group) * in_size;
      if (c_group == 0 || col_rows == 0 || in_size == 0)
        memset (col, 0, bytes);
      else
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, (int)col_rows, (int)in_size,
                     (int)c_group, 1.0f, wd + (gsize)g * c_group * col_rows, (int)col_rows, xg,
                     (int)in_size, 0.0f, col, (int)in_size);
      Col2ImJob job = {
        .w = &win,
        .col = col,
        .y = yd + ((gsize)n * (gsize)m_out + (gsize)g * m_group) * out_size,
        .bias = b ? (const float *)b->data + (gsize)g * m_group : NULL,
        .in_size = in_size,
        .out_size = out_size,
        .k_size = k_size,
      };
      glia_kernel_context_parallel_for (
          ctx, m_group, MAX (1, CPU_GRAIN / MAX (1, k_size * in_size)), col2im_channels, &job);
    }
  return TRUE;
}

static const GliaOpDef conv_transpose_ops[] = {
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "ConvTranspose",
      .since_version = 1,
      .until_version = G_MAXINT,
      .dtypes = GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT),
      .infer_shapes = conv_transpose_infer_shapes,
      .create = conv_transpose_create,
      .compute = conv_transpose_compute,
      .destroy = g_free,
  },
};

void
cpu_conv_transpose_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (conv_transpose_ops); i++)
    glia_op_table_add (table, &conv_transpose_ops[i]);
}
