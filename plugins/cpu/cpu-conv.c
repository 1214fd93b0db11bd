/* cpu-conv.c: Conv and com.glia::FusedConv (1-D to 3-D, with pads, strides,
 * dilations, groups and auto_pad).
 *
 * FusedConv is Y = act(Conv(X, W) + B + Z) with Z an optional residual of
 * Y's shape and act one of cpu-activation.h; Conv is the same kernel with no
 * Z and no activation. Three strategies, chosen from the shapes:
 *
 * - depthwise (group == C == M, 1-D/2-D): a direct kernel per channel plane
 *   (cpu-conv-kernels.c) that applies the epilogue row by row;
 * - 1x1 with unit strides and no pads: SGEMM on the input itself;
 * - anything else: im2col into a scratch tile followed by SGEMM.
 *
 * The GEMM paths work on tiles of output columns (spatial positions) small
 * enough that the column matrix and the output tile stay in L2; the
 * epilogue (bias, residual, activation) runs on each tile right after its
 * SGEMM. Spatial dims are lifted to three (see CpuWindow) so one im2col
 * serves every rank. SGEMMs are issued from the calling thread with the
 * session's thread count given to OpenBLAS; im2col, the depthwise kernel and
 * the epilogues split over glia_kernel_context_parallel_for() and make no
 * BLAS calls. W is read in place: its [M, C/group, k...] layout already is
 * the row-major M x K matrix that SGEMM takes.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include "cpu-blas.h"
#include "cpu-conv-kernels.h"
#include "cpu-cpuid.h"

#include <cblas.h>
#include <string.h>

typedef struct
{
  CpuWindowAttrs window;
  gint64 group;
  gboolean fused;
  CpuActivation act;
} ConvState;

/* GLIA_CPU_ISA=generic|avx2|avx512 caps the choice (tests run the portable
 * kernels that way), as for cpu-simd.h. */
static const CpuConvKernels *
pick_kernels (void)
{
  const char *cap = g_getenv ("GLIA_CPU_ISA");
  gboolean allow_avx512 = TRUE, allow_avx2 = TRUE;
  if (cap && g_ascii_strcasecmp (cap, "generic") == 0)
    allow_avx512 = allow_avx2 = FALSE;
  else if (cap && g_ascii_strcasecmp (cap, "avx2") == 0)
    allow_avx512 = FALSE;
#if defined(__x86_64__) || defined(__i386__)
  if (allow_avx512 && cpu_has_avx512f ())
    return &cpu_conv_kernels_avx512;
  if (allow_avx2 && cpu_has_avx2_fma ())
    return &cpu_conv_kernels_avx2;
#endif
  return &cpu_conv_kernels_generic;
}

const CpuConvKernels *
cpu_conv_kernels_get (void)
{
  static gsize once;
  static const CpuConvKernels *kernels;
  if (g_once_init_enter (&once)) {
    kernels = pick_kernels ();
    g_debug ("convolution kernels: %s", kernels->isa);
    g_once_init_leave (&once, 1);
  }
  return kernels;
}

static gboolean
conv_state_init (ConvState *s, const GliaGraph *graph, gint node, GError **error)
{
  if (!cpu_window_attrs_parse (&s->window, graph, node, FALSE, error))
    return FALSE;
  if (s->window.ceil_mode) {
    cpu_node_error (error, graph, node, "attribute 'ceil_mode' is not a Conv attribute");
    return FALSE;
  }
  s->group = glia_graph_node_get_attr_int (graph, node, "group", 1);
  if (s->group < 1) {
    cpu_node_error (error, graph, node, "attribute 'group' must be positive, got %" G_GINT64_FORMAT,
                    s->group);
    return FALSE;
  }
  s->fused = g_strcmp0 (glia_graph_node_get_domain (graph, node), "com.glia") == 0;
  s->act = (CpuActivation){ CPU_ACTIVATION_NONE, 0.0f, 0.0f };
  if (s->fused && !cpu_activation_from_node (graph, node, &s->act, error))
    return FALSE;
  return TRUE;
}

static gpointer
conv_create (const GliaGraph *graph, gint node, GError **error)
{
  ConvState s;
  if (!conv_state_init (&s, graph, node, error))
    return NULL;
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

/* ---- im2col ------------------------------------------------------------ */

typedef struct
{
  const CpuWindow *w;
  const float *x; /* first channel of the group in image n */
  float *col;     /* rows x n_cols */
  gsize col0;     /* first output position of the tile */
  gsize n_cols;
} Im2ColJob;

/* Copies one output row segment of receptive-field row (kd, kh, kw). */
static inline void
im2col_segment (float *restrict dst, const float *restrict src, gint64 iw_n, gint64 iw0, gint64 sw,
                gint64 n)
{
  /* valid j: 0 <= iw0 + j * sw < iw_n */
  gint64 lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;
  gint64 hi = iw0 < iw_n ? (iw_n - iw0 + sw - 1) / sw : 0;
  lo = MIN (lo, n);
  hi = CLAMP (hi, lo, n);
  for (gint64 j = 0; j < lo; j++)
    dst[j] = 0.0f;
  if (sw == 1)
    memcpy (dst + lo, src + iw0 + lo, (gsize)(hi - lo) * sizeof (float));
  else
    for (gint64 j = lo; j < hi; j++)
      dst[j] = src[iw0 + j * sw];
  for (gint64 j = hi; j < n; j++)
    dst[j] = 0.0f;
}

/* Fills rows [begin, end) of the column tile; row r is (channel, kd, kh,
 * kw), column j is output position col0 + j. */
static void
im2col_rows (gsize begin, gsize end, gpointer user_data)
{
  const Im2ColJob *job = user_data;
  const CpuWindow *w = job->w;
  const gint64 kd_n = w->kernel[0], kh_n = w->kernel[1], kw_n = w->kernel[2];
  const gint64 id_n = w->in[0], ih_n = w->in[1], iw_n = w->in[2];
  const gint64 oh_n = w->out[1], ow_n = w->out[2];
  const gsize plane = (gsize)(id_n * ih_n * iw_n);

  for (gsize r = begin; r < end; r++) {
    gint64 kw = (gint64)r % kw_n;
    gint64 kh = ((gint64)r / kw_n) % kh_n;
    gint64 kd = ((gint64)r / (kw_n * kh_n)) % kd_n;
    gsize c = r / (gsize)(kw_n * kh_n * kd_n);
    const float *x = job->x + c * plane;
    float *dst = job->col + r * job->n_cols;

    gint64 p = (gint64)job->col0;
    gint64 ow = p % ow_n, oh = (p / ow_n) % oh_n, od = p / (ow_n * oh_n);
    gint64 left = (gint64)job->n_cols;
    while (left > 0) {
      gint64 seg = MIN (ow_n - ow, left);
      gint64 id = od * w->stride[0] - w->pad_begin[0] + kd * w->dilation[0];
      gint64 ih = oh * w->stride[1] - w->pad_begin[1] + kh * w->dilation[1];
      if (id < 0 || id >= id_n || ih < 0 || ih >= ih_n)
        memset (dst, 0, (gsize)seg * sizeof (float));
      else
        im2col_segment (dst, x + (id * ih_n + ih) * iw_n, iw_n,
                        ow * w->stride[2] - w->pad_begin[2] + kw * w->dilation[2], w->stride[2],
                        seg);
      dst += seg;
      left -= seg;
      ow = 0;
      if (++oh == oh_n) {
        oh = 0;
        od++;
      }
    }
  }
}

/* ---- epilogue and depthwise jobs --------------------------------------- */

typedef struct
{
  const CpuConvKernels *k;
  float *y; /* the tile's first row */
  gsize ld;
  gsize n_cols;
  const float *bias; /* per row, or NULL */
  const float *z;    /* like y, or NULL */
  const CpuActivation *act;
} EpilogueJob;

static void
epilogue_rows (gsize begin, gsize end, gpointer user_data)
{
  const EpilogueJob *job = user_data;
  job->k->epilogue (job->y + begin * job->ld, job->ld, end - begin, job->n_cols,
                    job->bias ? job->bias + begin : NULL, job->z ? job->z + begin * job->ld : NULL,
                    job->ld, job->act);
}

typedef struct
{
  const CpuConvKernels *k;
  CpuDwGeometry g;
  const float *x, *w, *bias, *z;
  float *y;
  gsize channels;
  const CpuActivation *act;
} DepthwiseJob;

/* Planes [begin, end) of n * C. */
static void
depthwise_planes (gsize begin, gsize end, gpointer user_data)
{
  const DepthwiseJob *job = user_data;
  const gsize in_plane = (gsize)(job->g.ih * job->g.iw);
  const gsize out_plane = (gsize)(job->g.oh * job->g.ow);
  const gsize k_size = (gsize)(job->g.kh * job->g.kw);
  g_autofree float *scratch = g_new (float, cpu_dw_scratch_floats (&job->g));
  for (gsize i = begin; i < end; i++) {
    gsize c = i % job->channels;
    job->k->dw_conv2d_plane (
        &job->g, job->x + i * in_plane, job->w + c * k_size, job->bias ? job->bias[c] : 0.0f,
        job->z ? job->z + i * out_plane : NULL, job->act, job->y + i * out_plane, scratch);
  }
}

/* ---- GEMM paths -------------------------------------------------------- */

typedef struct
{
  const CpuConvKernels *k;
  const ConvState *s;
  const CpuWindow *win;
  gboolean pointwise;
  const float *x, *w, *bias, *z;
  float *y;
  float *col; /* n_slots column tiles of col_rows x tile */
  gsize c_in, m_out, c_group, m_group, col_rows, in_size, out_size;
  gsize tile, n_tiles, n_units, n_slots;
} GemmConvJob;

/* Slots [begin, end): slot i runs its share of the (image, group, column
 * tile) units with its own column buffer: im2col, SGEMM, epilogue. */
static void
gemm_conv_slots (gsize begin, gsize end, gpointer user_data)
{
  const GemmConvJob *job = user_data;
  for (gsize slot = begin; slot < end; slot++) {
    float *col = job->col ? job->col + slot * job->col_rows * job->tile : NULL;
    gsize u0 = job->n_units * slot / job->n_slots, u1 = job->n_units * (slot + 1) / job->n_slots;
    for (gsize u = u0; u < u1; u++) {
      gsize t = u % job->n_tiles, g = (u / job->n_tiles) % (gsize)job->s->group;
      gsize n = u / (job->n_tiles * (gsize)job->s->group);
      const float *xg = job->x + (n * job->c_in + g * job->c_group) * job->in_size;
      gsize y_off = (n * job->m_out + g * job->m_group) * job->out_size;
      gsize c0 = t * job->tile, n_cols = MIN (job->tile, job->out_size - c0);
      const float *cols = xg + c0;
      int ldb = (int)job->out_size;
      if (!job->pointwise) {
        Im2ColJob ij = { job->win, xg, col, c0, n_cols };
        im2col_rows (0, job->col_rows, &ij);
        cols = col;
        ldb = (int)n_cols;
      }
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)job->m_group, (int)n_cols,
                   (int)job->col_rows, 1.0f, job->w + g * job->m_group * job->col_rows,
                   (int)job->col_rows, cols, ldb, 0.0f, job->y + y_off + c0, (int)job->out_size);
      if (job->bias || job->z || job->s->act.kind != CPU_ACTIVATION_NONE)
        job->k->epilogue (job->y + y_off + c0, job->out_size, job->m_group, n_cols,
                          job->bias ? job->bias + g * job->m_group : NULL,
                          job->z ? job->z + y_off + c0 : NULL, job->out_size, &job->s->act);
    }
  }
}

/* ---- compute ----------------------------------------------------------- */

/* Output columns per GEMM tile: the column matrix (@k_rows) and the output
 * tile (@m_rows) together within about half of a 1 MiB L2. */
static gsize
tile_columns (gsize k_rows, gsize m_rows, gsize out_size)
{
  gsize per_col = (k_rows + m_rows) * sizeof (float);
  gsize cols = (512 * 1024) / MAX (per_col, 1);
  cols = MAX (cols, 256) / 64 * 64;
  if (cols >= out_size)
    return out_size;
  /* even tiles */
  gsize n_tiles = (out_size + cols - 1) / cols;
  return ((out_size + n_tiles - 1) / n_tiles + 15) / 16 * 16;
}

static gboolean
conv_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const ConvState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *w = x ? cpu_require_input (ctx, 1, error) : NULL;
  if (w == NULL)
    return FALSE;
  const GliaTensorView *b = cpu_optional_input (ctx, 2);
  const GliaTensorView *z = s->fused ? cpu_optional_input (ctx, 3) : NULL;

  if (x->dtype != GLIA_DATA_TYPE_FLOAT || w->dtype != GLIA_DATA_TYPE_FLOAT
      || (b && b->dtype != GLIA_DATA_TYPE_FLOAT) || (z && z->dtype != GLIA_DATA_TYPE_FLOAT)) {
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
  if (z && (z->rank != x->rank || memcmp (z->dims, dims, x->rank * sizeof (gint64)) != 0)) {
    g_autofree char *dz = cpu_dims_to_string (z->rank, z->dims);
    g_autofree char *dy = cpu_dims_to_string (x->rank, dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "residual Z %s must have the output's shape %s", dz, dy);
    return FALSE;
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;

  const CpuConvKernels *k = cpu_conv_kernels_get ();
  const float *xd = x->data, *wd = w->data, *bd = b ? b->data : NULL, *zd = z ? z->data : NULL;
  float *yd = y->data;
  gsize out_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.out);
  gsize in_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.in);
  gsize k_size = cpu_numel (CPU_WINDOW_MAX_SPATIAL, win.kernel);
  gint64 c_group = c_in / s->group, m_group = m_out / s->group;
  gsize col_rows = (gsize)c_group * k_size;

  if (s->group == c_in && m_out == c_in && win.kernel[0] == 1 && win.in[0] == 1
      && win.kernel[1] * win.kernel[2] <= CPU_DW_MAX_TAPS) {
    DepthwiseJob job = {
      .k = k,
      .g
      = { win.in[1], win.in[2], win.out[1], win.out[2], win.kernel[1], win.kernel[2], win.stride[1],
          win.stride[2], win.dilation[1], win.dilation[2], win.pad_begin[1], win.pad_begin[2] },
      .x = xd,
      .w = wd,
      .bias = bd,
      .z = zd,
      .y = yd,
      .channels = (gsize)c_in,
      .act = &s->act,
    };
    glia_kernel_context_parallel_for (ctx, (gsize)(n_img * c_in), 1, depthwise_planes, &job);
    return TRUE;
  }

  if (col_rows == 0) {
    /* no input channels: Y is the epilogue of zeros */
    memset (yd, 0, y->n_bytes);
    EpilogueJob job = { k, yd, out_size, out_size, NULL, zd, &s->act };
    for (gint64 n = 0; n < n_img; n++) {
      job.y = yd + (gsize)n * (gsize)m_out * out_size;
      job.z = zd ? zd + (gsize)n * (gsize)m_out * out_size : NULL;
      job.bias = bd;
      epilogue_rows (0, (gsize)m_out, &job);
    }
    return TRUE;
  }
  if (col_rows > G_MAXINT || out_size > G_MAXINT || m_group > G_MAXINT) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "convolution dimensions exceed the BLAS integer range");
    return FALSE;
  }

  gboolean pointwise = TRUE;
  for (guint i = 0; i < CPU_WINDOW_MAX_SPATIAL; i++)
    pointwise = pointwise && win.kernel[i] == 1 && win.stride[i] == 1 && win.pad_begin[i] == 0
                && win.pad_end[i] == 0;

  guint n_threads = MAX (1u, glia_kernel_context_get_n_threads (ctx));
  gsize tile = tile_columns (col_rows, (gsize)m_group, out_size);
  gsize n_tiles = (out_size + tile - 1) / tile;
  gsize per_tile = (gsize)(n_img * s->group);
  if (n_threads > 1 && per_tile * n_tiles < n_threads && out_size >= 64 * (gsize)n_threads) {
    /* enough columns to give every thread a tile of its own */
    gsize want = (n_threads + per_tile - 1) / per_tile;
    tile = ((out_size + want - 1) / want + 15) / 16 * 16;
    n_tiles = (out_size + tile - 1) / tile;
  }
  GemmConvJob job = {
    .k = k,
    .s = s,
    .win = &win,
    .pointwise = pointwise,
    .x = xd,
    .w = wd,
    .bias = bd,
    .z = zd,
    .y = yd,
    .c_in = (gsize)c_in,
    .m_out = (gsize)m_out,
    .c_group = (gsize)c_group,
    .m_group = (gsize)m_group,
    .col_rows = col_rows,
    .in_size = in_size,
    .out_size = out_size,
    .tile = tile,
    .n_tiles = n_tiles,
    .n_units = per_tile * n_tiles,
  };
  /* Threads over tiles (single-threaded BLAS in each) when there are enough
   * of them, else the tiles in turn with BLAS threading each SGEMM. */
  job.n_slots = n_threads > 1 && job.n_units >= n_threads ? n_threads : 1;
  if (!pointwise) {
    job.col = glia_kernel_context_get_scratch (ctx, job.n_slots * col_rows * tile * sizeof (float),
                                               error);
    if (job.col == NULL)
      return FALSE;
  }
  cpu_blas_set_threads (job.n_slots > 1 ? 1 : n_threads);
  glia_kernel_context_parallel_for (ctx, job.n_slots, 1, gemm_conv_slots, &job);
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
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "com.glia",
      .name = "FusedConv",
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
