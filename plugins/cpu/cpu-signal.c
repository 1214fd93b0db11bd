/* cpu-signal.c: the signal-processing operators of opset 17: DFT, STFT, the
 * Hann, Hamming and Blackman windows, and MelWeightMatrix.
 *
 * DFT and STFT transform independent 1-D lines of complex doubles (a real
 * input is a complex one with zero imaginary parts). The transform of length
 * n is planned once per compute call and the plan is shared read-only by the
 * threads, each of which keeps its own line buffers: a power of two runs an
 * iterative radix-2 FFT, a short other length the O(n^2) definition, and a
 * long other length Bluestein's algorithm, which rewrites the DFT as a
 * circular convolution of power-of-two length m >= 2n - 1. An inverse
 * transform is the forward one of the conjugate, conjugated and scaled by
 * 1/n. Results are written in the input's element type.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <string.h>

#define DTYPES_INDEX (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64))
/* The window and mel matrix outputs: every numeric type but bool. */
#define DTYPES_GENERATED (GLIA_DTYPES_FLOATS | GLIA_DTYPES_INTS)

/* Lengths up to this that are not powers of two use the direct DFT. */
#define DIRECT_DFT_MAX 64

/* Reads a scalar (rank 0 or one element) int32/int64 input. */
static gboolean
read_int_scalar (GliaKernelContext *ctx, guint i, const char *what, gint64 *out, GError **error)
{
  const GliaTensorView *v = cpu_require_input (ctx, i, error);
  gsize n = 0;
  if (v == NULL)
    return FALSE;
  if (v->n_elements != 1 || v->rank > 1 || !cpu_view_get_ints (v, out, 1, &n)) {
    g_autofree char *d = cpu_dims_to_string (v->rank, v->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "%s must be an int32/int64 scalar, got %s %s", what,
                      glia_data_type_get_name (v->dtype), d);
    return FALSE;
  }
  return TRUE;
}

static gboolean
read_float_scalar (GliaKernelContext *ctx, guint i, const char *what, double *out, GError **error)
{
  const GliaTensorView *v = cpu_require_input (ctx, i, error);
  if (v == NULL)
    return FALSE;
  if (v->n_elements != 1 || v->rank > 1 || !cpu_dtype_in (v->dtype, GLIA_DTYPES_FLOATS)) {
    g_autofree char *d = cpu_dims_to_string (v->rank, v->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "%s must be a floating-point scalar, got %s %s", what,
                      glia_data_type_get_name (v->dtype), d);
    return FALSE;
  }
  cpu_load_doubles (v->dtype, v->data, out, 1);
  return TRUE;
}

/* The constant scalar value of input @i during shape inference, or -1. */
static gint64
shape_int_scalar (GliaShapeContext *ctx, guint i)
{
  gint64 v;
  gsize n = 0;
  if (cpu_shape_context_get_ints (ctx, i, &v, 1, &n) && n == 1)
    return v;
  return -1;
}

static gboolean
parse_output_datatype (const GliaGraph *graph, gint node, GliaDataType *out, GError **error)
{
  gint64 t = glia_graph_node_get_attr_int (graph, node, "output_datatype", GLIA_DATA_TYPE_FLOAT);
  if (t <= 0 || t > GLIA_DATA_TYPE_LAST || !cpu_dtype_in ((GliaDataType)t, DTYPES_GENERATED)) {
    cpu_node_error (
        error, graph, node,
        "attribute 'output_datatype' = %" G_GINT64_FORMAT " is not a numeric element type", t);
    return FALSE;
  }
  *out = (GliaDataType)t;
  return TRUE;
}

/* ======================================================================== */
/* Fourier transform of one line                                             */
/* ======================================================================== */

/* Complex arrays are interleaved (re, im) doubles. */
typedef struct
{
  gsize n;
  /* power-of-two FFT length: n itself, or Bluestein's convolution length */
  gsize m;
  gboolean bluestein;
  /* m / 2 twiddles exp(-2 pi i k / m) (n of exp(-2 pi i k / n) for the direct DFT) */
  double *twiddle;
  /* Bluestein: the chirp w_k = exp(-pi i k^2 / n), k < n, and the FFT of the
   * filter conj(w) wrapped around to length m */
  double *chirp;
  double *filter;
} FftPlan;

static gboolean
is_pow2 (gsize n)
{
  return n && (n & (n - 1)) == 0;
}

static void
fft_pow2 (const FftPlan *p, double *a, gsize m)
{
  /* bit-reversal permutation */
  for (gsize i = 1, j = 0; i < m; i++) {
    gsize bit = m >> 1;
    for (; j & bit; bit >>= 1)
      j ^= bit;
    j |= bit;
    if (i < j) {
      double re = a[2 * i], im = a[2 * i + 1];
      a[2 * i] = a[2 * j];
      a[2 * i + 1] = a[2 * j + 1];
      a[2 * j] = re;
      a[2 * j + 1] = im;
    }
  }
  for (gsize len = 2; len <= m; len <<= 1) {
    gsize half = len / 2, step = m / len;
    for (gsize start = 0; start < m; start += len)
      for (gsize k = 0; k < half; k++) {
        double wr = p->twiddle[2 * k * step], wi = p->twiddle[2 * k * step + 1];
        double *u = a + 2 * (start + k), *v = a + 2 * (start + k + half);
        double tr = v[0] * wr - v[1] * wi, ti = v[0] * wi + v[1] * wr;
        v[0] = u[0] - tr;
        v[1] = u[1] - ti;
        u[0] += tr;
        u[1] += ti;
      }
  }
}

static void
dft_direct (const FftPlan *p, const double *x, double *y)
{
  gsize n = p->n;
  for (gsize k = 0; k < n; k++) {
    double re = 0, im = 0;
    gsize idx = 0; /* j * k mod n */
    for (gsize j = 0; j < n; j++) {
      double wr = p->twiddle[2 * idx], wi = p->twiddle[2 * idx + 1];
      re += x[2 * j] * wr - x[2 * j + 1] * wi;
      im += x[2 * j] * wi + x[2 * j + 1] * wr;
      idx += k;
      if (idx >= n)
        idx -= n;
    }
    y[2 * k] = re;
    y[2 * k + 1] = im;
  }
}

static double *
make_twiddles (gsize count, gsize period)
{
  double *w = g_new (double, 2 * MAX (count, 1));
  for (gsize k = 0; k < count; k++) {
    double angle = -2.0 * G_PI * (double)k / (double)period;
    w[2 * k] = cos (angle);
    w[2 * k + 1] = sin (angle);
  }
  return w;
}

static void
fft_plan_clear (FftPlan *p)
{
  g_free (p->twiddle);
  g_free (p->chirp);
  g_free (p->filter);
  memset (p, 0, sizeof *p);
}

/* @n >= 1. FALSE if Bluestein's length would overflow. */
static gboolean
fft_plan_init (FftPlan *p, gsize n)
{
  memset (p, 0, sizeof *p);
  p->n = n;
  if (is_pow2 (n)) {
    p->m = n;
    p->twiddle = make_twiddles (n / 2, n);
    return TRUE;
  }
  if (n <= DIRECT_DFT_MAX) {
    p->twiddle = make_twiddles (n, n);
    return TRUE;
  }
  if (n > G_MAXSIZE / 4 || n > G_MAXUINT32)
    return FALSE;
  p->bluestein = TRUE;
  p->m = 1;
  while (p->m < 2 * n - 1)
    p->m <<= 1;
  p->twiddle = make_twiddles (p->m / 2, p->m);
  p->chirp = g_new (double, 2 * n);
  for (gsize k = 0; k < n; k++) {
    /* k^2 mod 2n keeps the angle small and exact */
    guint64 k2 = ((guint64)k * k) % (2 * (guint64)n);
    double angle = -G_PI * (double)k2 / (double)n;
    p->chirp[2 * k] = cos (angle);
    p->chirp[2 * k + 1] = sin (angle);
  }
  p->filter = g_new0 (double, 2 * p->m);
  for (gsize k = 0; k < n; k++) {
    p->filter[2 * k] = p->chirp[2 * k];
    p->filter[2 * k + 1] = -p->chirp[2 * k + 1];
    if (k > 0) {
      p->filter[2 * (p->m - k)] = p->chirp[2 * k];
      p->filter[2 * (p->m - k) + 1] = -p->chirp[2 * k + 1];
    }
  }
  fft_pow2 (p, p->filter, p->m);
  return TRUE;
}

/* Doubles of line scratch fft_line() needs. */
static gsize
fft_scratch_size (const FftPlan *p)
{
  return 2 * (p->bluestein ? p->m : p->n);
}

/* Forward DFT of @x (n complex values) into @y; @x is clobbered. */
static void
fft_line (const FftPlan *p, double *x, double *y, double *scratch)
{
  gsize n = p->n;
  if (!p->bluestein && p->m == n) {
    fft_pow2 (p, x, n);
    memcpy (y, x, 2 * n * sizeof (double));
    return;
  }
  if (!p->bluestein) {
    dft_direct (p, x, y);
    return;
  }
  gsize m = p->m;
  double *a = scratch;
  for (gsize k = 0; k < n; k++) {
    double cr = p->chirp[2 * k], ci = p->chirp[2 * k + 1];
    a[2 * k] = x[2 * k] * cr - x[2 * k + 1] * ci;
    a[2 * k + 1] = x[2 * k] * ci + x[2 * k + 1] * cr;
  }
  memset (a + 2 * n, 0, 2 * (m - n) * sizeof (double));
  fft_pow2 (p, a, m);
  /* multiply by the filter's spectrum, then invert by conjugation */
  for (gsize k = 0; k < m; k++) {
    double fr = p->filter[2 * k], fi = p->filter[2 * k + 1];
    double re = a[2 * k] * fr - a[2 * k + 1] * fi;
    double im = a[2 * k] * fi + a[2 * k + 1] * fr;
    a[2 * k] = re;
    a[2 * k + 1] = -im;
  }
  fft_pow2 (p, a, m);
  for (gsize k = 0; k < n; k++) {
    double re = a[2 * k] / (double)m, im = -a[2 * k + 1] / (double)m;
    double cr = p->chirp[2 * k], ci = p->chirp[2 * k + 1];
    y[2 * k] = re * cr - im * ci;
    y[2 * k + 1] = re * ci + im * cr;
  }
}

/* ======================================================================== */
/* Strided lines of float types                                              */
/* ======================================================================== */

/* Reads @count complex values (@channels 1: real, 2: complex) starting at
 * element @offset of @data, @stride elements apart. */
static void
load_line (GliaDataType dtype, gconstpointer data, gsize offset, gsize stride, gsize count,
           guint channels, double *out)
{
  for (gsize k = 0; k < count; k++) {
    gsize at = offset + k * stride;
    double v[2] = { 0, 0 };
    switch (dtype) {
    case GLIA_DATA_TYPE_FLOAT:
      for (guint c = 0; c < channels; c++)
        v[c] = ((const float *)data)[at + c];
      break;
    case GLIA_DATA_TYPE_DOUBLE:
      for (guint c = 0; c < channels; c++)
        v[c] = ((const double *)data)[at + c];
      break;
    case GLIA_DATA_TYPE_FLOAT16:
      for (guint c = 0; c < channels; c++)
        v[c] = cpu_half_to_float (((const guint16 *)data)[at + c]);
      break;
    case GLIA_DATA_TYPE_BFLOAT16:
      for (guint c = 0; c < channels; c++)
        v[c] = cpu_bfloat16_to_float (((const guint16 *)data)[at + c]);
      break;
    default:
      g_assert_not_reached ();
    }
    out[2 * k] = v[0];
    out[2 * k + 1] = v[1];
  }
}

/* Writes @count complex values, scaled by @scale, as pairs @stride elements apart. */
static void
store_line (GliaDataType dtype, gpointer data, gsize offset, gsize stride, gsize count,
            const double *in, double scale)
{
  for (gsize k = 0; k < count; k++) {
    gsize at = offset + k * stride;
    double re = in[2 * k] * scale, im = in[2 * k + 1] * scale;
    switch (dtype) {
    case GLIA_DATA_TYPE_FLOAT:
      ((float *)data)[at] = (float)re;
      ((float *)data)[at + 1] = (float)im;
      break;
    case GLIA_DATA_TYPE_DOUBLE:
      ((double *)data)[at] = re;
      ((double *)data)[at + 1] = im;
      break;
    case GLIA_DATA_TYPE_FLOAT16:
      ((guint16 *)data)[at] = cpu_float_to_half ((float)re);
      ((guint16 *)data)[at + 1] = cpu_float_to_half ((float)im);
      break;
    case GLIA_DATA_TYPE_BFLOAT16:
      ((guint16 *)data)[at] = cpu_float_to_bfloat16 ((float)re);
      ((guint16 *)data)[at + 1] = cpu_float_to_bfloat16 ((float)im);
      break;
    default:
      g_assert_not_reached ();
    }
  }
}

/* Lines to transform: each is loaded (zero-padded to n), windowed,
 * transformed and its first out_len bins stored. DFT's lines are (outer,
 * inner) pairs around the signal axis; STFT's are (batch, frame) pairs,
 * told apart by frames != 0. Offsets and strides count elements. */
typedef struct
{
  const FftPlan *plan;
  gboolean inverse;
  GliaDataType dtype;
  gconstpointer x;
  guint channels;       /* 1: real input, 2: complex */
  gsize in_len;         /* values read per line */
  gsize in_step;        /* between consecutive values of a line */
  const double *window; /* n reals, or NULL */
  gpointer y;
  gsize out_len;             /* bins written per line */
  gsize out_step;            /* between consecutive output bins */
  gsize in_outer, out_outer; /* stride of the outer (DFT) or batch (STFT) index */
  gsize inner;               /* DFT: number of inner positions */
  gsize frames, frame_step;  /* STFT */
} LineJob;

static void
transform_lines (gsize begin, gsize end, gpointer user_data)
{
  const LineJob *job = user_data;
  const FftPlan *p = job->plan;
  gsize n = p->n;
  g_autofree double *buf = g_new (double, 2 * n + 2 * n + fft_scratch_size (p));
  double *x = buf, *y = buf + 2 * n, *scratch = buf + 4 * n;
  double scale = job->inverse ? 1.0 / (double)n : 1.0;

  for (gsize l = begin; l < end; l++) {
    gsize in_base, out_base;
    if (job->frames) {
      gsize b = l / job->frames, f = l % job->frames;
      in_base = b * job->in_outer + f * job->frame_step * job->in_step;
      out_base = b * job->out_outer + f * job->out_len * job->out_step;
    } else {
      gsize o = l / job->inner, i = l % job->inner;
      in_base = o * job->in_outer + i * job->channels;
      out_base = o * job->out_outer + i * 2;
    }
    load_line (job->dtype, job->x, in_base, job->in_step, job->in_len, job->channels, x);
    memset (x + 2 * job->in_len, 0, 2 * (n - job->in_len) * sizeof (double));
    if (job->window)
      for (gsize k = 0; k < n; k++) {
        x[2 * k] *= job->window[k];
        x[2 * k + 1] *= job->window[k];
      }
    if (job->inverse)
      for (gsize k = 0; k < n; k++)
        x[2 * k + 1] = -x[2 * k + 1];
    fft_line (p, x, y, scratch);
    if (job->inverse)
      for (gsize k = 0; k < n; k++)
        y[2 * k + 1] = -y[2 * k + 1];
    store_line (job->dtype, job->y, out_base, job->out_step, job->out_len, y, scale);
  }
}

/* ======================================================================== */
/* DFT                                                                       */
/* ======================================================================== */

typedef struct
{
  gint64 axis;
  gboolean inverse;
  gboolean onesided;
} DftState;

static gboolean
dft_parse (const GliaGraph *graph, gint node, DftState *s, GError **error)
{
  s->axis = glia_graph_node_get_attr_int (graph, node, "axis", 1);
  return cpu_parse_flag (graph, node, "inverse", 0, &s->inverse, error)
         && cpu_parse_flag (graph, node, "onesided", 0, &s->onesided, error);
}

static gpointer
dft_create (const GliaGraph *graph, gint node, GError **error)
{
  DftState s;
  if (!dft_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

/* The signal axis: in [0, rank - 2], negative values counting from the back. */
static gboolean
dft_axis (gint64 axis, guint rank, guint *out)
{
  if (rank < 2)
    return FALSE;
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > (gint64)rank - 2)
    return FALSE;
  *out = (guint)axis;
  return TRUE;
}

static gboolean
dft_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  DftState s;
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  guint axis;

  if (!dft_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s, error))
    return FALSE;
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  if (!dft_axis (s.axis, (guint)rank, &axis)) {
    cpu_shape_error (error, ctx, "attribute 'axis' = %" G_GINT64_FORMAT " is invalid for rank %d",
                     s.axis, rank);
    return FALSE;
  }
  gint64 dims[GLIA_MAX_RANK];
  memcpy (dims, glia_shape_context_get_input_dims (ctx, 0), rank * sizeof (gint64));
  gint64 n = dims[axis];
  if (glia_shape_context_get_n_inputs (ctx) > 1 && glia_shape_context_has_input (ctx, 1))
    n = shape_int_scalar (ctx, 1);
  dims[axis] = n < 0 ? -1 : s.onesided ? n / 2 + 1 : n;
  dims[rank - 1] = 2;
  glia_shape_context_set_output (ctx, 0, dtype, rank, dims);
  return TRUE;
}

static gboolean
dft_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const DftState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  guint axis;

  if (x == NULL)
    return FALSE;
  if (!cpu_dtype_in (x->dtype, GLIA_DTYPES_FLOATS)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "element type %s is not supported",
                      glia_data_type_get_name (x->dtype));
    return FALSE;
  }
  if (!dft_axis (s->axis, x->rank, &axis)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "attribute 'axis' = %" G_GINT64_FORMAT " is invalid for rank %u", s->axis,
                      x->rank);
    return FALSE;
  }
  guint channels = (guint)x->dims[x->rank - 1];
  if (x->dims[x->rank - 1] != 1 && x->dims[x->rank - 1] != 2) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the input's last dim must be 1 (real) or 2 (complex), its shape is %s", d);
    return FALSE;
  }

  gint64 n = x->dims[axis];
  if (glia_kernel_context_get_n_inputs (ctx) > 1 && glia_kernel_context_get_input (ctx, 1)) {
    if (!read_int_scalar (ctx, 1, "dft_length", &n, error))
      return FALSE;
  }
  if (n < 1) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the DFT length must be positive, got %" G_GINT64_FORMAT, n);
    return FALSE;
  }

  gint64 dims[GLIA_MAX_RANK];
  memcpy (dims, x->dims, x->rank * sizeof (gint64));
  dims[axis] = s->onesided ? n / 2 + 1 : n;
  dims[x->rank - 1] = 2;
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;

  FftPlan plan;
  if (!fft_plan_init (&plan, (gsize)n)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "DFT length %" G_GINT64_FORMAT " is too large", n);
    return FALSE;
  }
  gsize outer = cpu_numel_range (x->dims, 0, axis);
  gsize inner = cpu_numel_range (x->dims, axis + 1, x->rank - 1);
  gsize len = (gsize)x->dims[axis];
  LineJob job = {
    .plan = &plan,
    .inverse = s->inverse,
    .dtype = x->dtype,
    .x = x->data,
    .channels = channels,
    .in_len = MIN (len, (gsize)n),
    .in_step = inner * channels,
    .y = y->data,
    .out_len = (gsize)dims[axis],
    .out_step = inner * 2,
    .inner = inner,
    .in_outer = len * inner * channels,
    .out_outer = (gsize)dims[axis] * inner * 2,
  };
  glia_kernel_context_parallel_for (ctx, outer * inner, MAX (1, 4096 / (gsize)n), transform_lines,
                                    &job);
  fft_plan_clear (&plan);
  return TRUE;
}

/* ======================================================================== */
/* STFT                                                                      */
/* ======================================================================== */

typedef struct
{
  gboolean onesided;
} StftState;

static gpointer
stft_create (const GliaGraph *graph, gint node, GError **error)
{
  StftState s;
  if (!cpu_parse_flag (graph, node, "onesided", 1, &s.onesided, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
has_shape_input (GliaShapeContext *ctx, guint i)
{
  return i < glia_shape_context_get_n_inputs (ctx) && glia_shape_context_has_input (ctx, i);
}

static gboolean
stft_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gboolean onesided;

  if (!cpu_parse_flag (graph, node, "onesided", 1, &onesided, error))
    return FALSE;
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  const gint64 *sd = glia_shape_context_get_input_dims (ctx, 0);
  gint64 batch = rank == 3 ? sd[0] : -1, len = rank == 3 ? sd[1] : -1;
  gint64 step = shape_int_scalar (ctx, 1);
  gint64 n = -1;
  if (has_shape_input (ctx, 3))
    n = shape_int_scalar (ctx, 3);
  else if (has_shape_input (ctx, 2) && glia_shape_context_get_input_rank (ctx, 2) == 1)
    n = glia_shape_context_get_input_dims (ctx, 2)[0];
  gint64 frames = -1;
  if (len >= 0 && step > 0 && n > 0 && n <= len)
    frames = (len - n) / step + 1;
  gint64 dims[4] = { batch, frames, n < 0 ? -1 : onesided ? n / 2 + 1 : n, 2 };
  glia_shape_context_set_output (ctx, 0, dtype, 4, dims);
  return TRUE;
}

static gboolean
stft_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const StftState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  guint n_inputs = glia_kernel_context_get_n_inputs (ctx);
  const GliaTensorView *w = n_inputs > 2 ? glia_kernel_context_get_input (ctx, 2) : NULL;
  gboolean has_length = n_inputs > 3 && glia_kernel_context_get_input (ctx, 3) != NULL;
  gint64 step, n = -1;

  if (x == NULL)
    return FALSE;
  if (!cpu_dtype_in (x->dtype, GLIA_DTYPES_FLOATS) || x->rank != 3
      || (x->dims[2] != 1 && x->dims[2] != 2)) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the signal must be a float tensor of shape [batch, length, 1 or 2], got "
                      "%s %s",
                      glia_data_type_get_name (x->dtype), d);
    return FALSE;
  }
  if (!read_int_scalar (ctx, 1, "frame_step", &step, error))
    return FALSE;
  if (step < 1) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "frame_step must be positive, got %" G_GINT64_FORMAT, step);
    return FALSE;
  }
  if (has_length && !read_int_scalar (ctx, 3, "frame_length", &n, error))
    return FALSE;
  if (w) {
    if (w->rank != 1 || !cpu_dtype_in (w->dtype, GLIA_DTYPES_FLOATS)) {
      g_autofree char *d = cpu_dims_to_string (w->rank, w->dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "the window must be a 1-D float tensor, got %s %s",
                        glia_data_type_get_name (w->dtype), d);
      return FALSE;
    }
    if (has_length && w->dims[0] != n) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "the window has %" G_GINT64_FORMAT
                        " values but frame_length is %" G_GINT64_FORMAT,
                        w->dims[0], n);
      return FALSE;
    }
    n = w->dims[0];
  } else if (!has_length) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "either a window or frame_length is required");
    return FALSE;
  }
  if (n < 1 || n > x->dims[1]) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the frame length %" G_GINT64_FORMAT
                      " must be in [1, signal length %" G_GINT64_FORMAT "]",
                      n, x->dims[1]);
    return FALSE;
  }

  gint64 frames = (x->dims[1] - n) / step + 1;
  gint64 bins = s->onesided ? n / 2 + 1 : n;
  gint64 dims[4] = { x->dims[0], frames, bins, 2 };
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, x->dtype, 4, dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;

  g_autofree double *window = NULL;
  if (w) {
    window = g_new (double, n);
    cpu_load_doubles (w->dtype, w->data, window, (gsize)n);
  }
  FftPlan plan;
  if (!fft_plan_init (&plan, (gsize)n)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "frame length %" G_GINT64_FORMAT " is too large", n);
    return FALSE;
  }
  guint channels = (guint)x->dims[2];
  LineJob job = {
    .plan = &plan,
    .dtype = x->dtype,
    .x = x->data,
    .channels = channels,
    .in_len = (gsize)n,
    .in_step = channels,
    .window = window,
    .y = y->data,
    .out_len = (gsize)bins,
    .out_step = 2,
    .in_outer = (gsize)x->dims[1] * channels,
    .out_outer = (gsize)frames * (gsize)bins * 2,
    .frames = (gsize)frames,
    .frame_step = (gsize)step,
  };
  glia_kernel_context_parallel_for (ctx, (gsize)x->dims[0] * (gsize)frames,
                                    MAX (1, 4096 / (gsize)n), transform_lines, &job);
  fft_plan_clear (&plan);
  return TRUE;
}

/* ======================================================================== */
/* Windows                                                                   */
/* ======================================================================== */

/* w[k] = a0 - a1 cos (2 pi k / N) + a2 cos (4 pi k / N), N = size (periodic)
 * or size - 1 (symmetric). */
static const struct
{
  const char *name;
  double a0, a1, a2;
} window_kinds[] = {
  { "HannWindow", 0.5, 0.5, 0.0 },
  { "HammingWindow", 25.0 / 46.0, 21.0 / 46.0, 0.0 },
  { "BlackmanWindow", 0.42, 0.5, 0.08 },
};

typedef struct
{
  double a0, a1, a2;
  gboolean periodic;
  GliaDataType dtype;
} WindowState;

static gboolean
window_parse (const GliaGraph *graph, gint node, WindowState *s, GError **error)
{
  const char *op = glia_graph_node_get_op_type (graph, node);
  guint i;
  for (i = 0; i < G_N_ELEMENTS (window_kinds); i++)
    if (g_str_equal (op, window_kinds[i].name))
      break;
  g_assert (i < G_N_ELEMENTS (window_kinds));
  s->a0 = window_kinds[i].a0;
  s->a1 = window_kinds[i].a1;
  s->a2 = window_kinds[i].a2;
  return cpu_parse_flag (graph, node, "periodic", 1, &s->periodic, error)
         && parse_output_datatype (graph, node, &s->dtype, error);
}

static gpointer
window_create (const GliaGraph *graph, gint node, GError **error)
{
  WindowState s;
  if (!window_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
window_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  WindowState s;
  if (!window_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s,
                     error))
    return FALSE;
  gint64 size = shape_int_scalar (ctx, 0);
  glia_shape_context_set_output (ctx, 0, s.dtype, 1, &size);
  return TRUE;
}

static gboolean
window_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const WindowState *s = state;
  gint64 size;
  if (!read_int_scalar (ctx, 0, "size", &size, error))
    return FALSE;
  if (size < 0) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "size must not be negative, got %" G_GINT64_FORMAT, size);
    return FALSE;
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, s->dtype, 1, &size, error);
  if (y == NULL)
    return FALSE;
  /* a symmetric window of one value has N = 0: its only angle is 0 */
  double period = (double)(s->periodic ? size : size - 1);
  double w[256];
  for (gint64 k0 = 0; k0 < size; k0 += G_N_ELEMENTS (w)) {
    gsize count = MIN ((gsize)(size - k0), G_N_ELEMENTS (w));
    for (gsize j = 0; j < count; j++) {
      double angle = period > 0 ? 2.0 * G_PI * (double)(k0 + (gint64)j) / period : 0.0;
      w[j] = s->a0 - s->a1 * cos (angle) + s->a2 * cos (2.0 * angle);
    }
    cpu_store_doubles (s->dtype, w, (guint8 *)y->data + k0 * glia_data_type_get_size (s->dtype),
                       count);
  }
  return TRUE;
}

/* ======================================================================== */
/* MelWeightMatrix                                                           */
/* ======================================================================== */

typedef struct
{
  GliaDataType dtype;
} MelState;

static gpointer
mel_create (const GliaGraph *graph, gint node, GError **error)
{
  MelState s;
  if (!parse_output_datatype (graph, node, &s.dtype, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
mel_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  MelState s;
  if (!parse_output_datatype (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx),
                              &s.dtype, error))
    return FALSE;
  gint64 n_mel = shape_int_scalar (ctx, 0), dft_length = shape_int_scalar (ctx, 1);
  gint64 dims[2] = { dft_length < 0 ? -1 : dft_length / 2 + 1, n_mel };
  glia_shape_context_set_output (ctx, 0, s.dtype, 2, dims);
  return TRUE;
}

static double
hertz_to_mel (double f)
{
  return 2595.0 * log10 (1.0 + f / 700.0);
}

static double
mel_to_hertz (double mel)
{
  return 700.0 * (pow (10.0, mel / 2595.0) - 1.0);
}

/* Triangular filters between num_mel_bins + 2 points evenly spaced on the
 * mel scale, each snapped down to a spectrogram bin; a filter rises from its
 * left point to 1 at its centre and falls to 0 at its right point. */
static gboolean
mel_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const MelState *s = state;
  gint64 n_mel, dft_length, sample_rate;
  double lower, upper;

  if (!read_int_scalar (ctx, 0, "num_mel_bins", &n_mel, error)
      || !read_int_scalar (ctx, 1, "dft_length", &dft_length, error)
      || !read_int_scalar (ctx, 2, "sample_rate", &sample_rate, error)
      || !read_float_scalar (ctx, 3, "lower_edge_hertz", &lower, error)
      || !read_float_scalar (ctx, 4, "upper_edge_hertz", &upper, error))
    return FALSE;
  if (n_mel < 1 || dft_length < 1 || sample_rate < 1 || n_mel > G_MAXINT32
      || dft_length > G_MAXINT32) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "num_mel_bins (%" G_GINT64_FORMAT "), dft_length (%" G_GINT64_FORMAT
                      ") and sample_rate (%" G_GINT64_FORMAT ") must be positive",
                      n_mel, dft_length, sample_rate);
    return FALSE;
  }
  if (!(lower >= 0.0) || !(upper >= lower) || isinf (upper)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the edges must satisfy 0 <= lower_edge_hertz (%g) <= upper_edge_hertz (%g)",
                      lower, upper);
    return FALSE;
  }

  gint64 n_spec = dft_length / 2 + 1;
  gint64 dims[2] = { n_spec, n_mel };
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, s->dtype, 2, dims, error);
  if (y == NULL)
    return FALSE;

  gsize n_out = (gsize)n_spec * (gsize)n_mel;
  g_autofree double *m = g_new0 (double, n_out);
  g_autofree gint64 *bin = g_new (gint64, n_mel + 2);
  double low_mel = hertz_to_mel (lower), high_mel = hertz_to_mel (upper);
  double mel_step = (high_mel - low_mel) / (double)(n_mel + 2);
  for (gint64 i = 0; i < n_mel + 2; i++) {
    double hz = mel_to_hertz ((double)i * mel_step + low_mel);
    bin[i] = (gint64)floor ((double)(dft_length + 1) * hz / (double)sample_rate);
  }
#define MEL_AT(j, i) m[(gsize)(j) * (gsize)n_mel + (gsize)(i)]
  for (gint64 i = 0; i < n_mel; i++) {
    gint64 left = bin[i], centre = bin[i + 1], right = bin[i + 2];
    if (centre == left) {
      if (centre >= 0 && centre < n_spec)
        MEL_AT (centre, i) = 1.0;
    } else
      for (gint64 j = MAX (left, 0); j <= MIN (centre, n_spec - 1); j++)
        MEL_AT (j, i) = (double)(j - left) / (double)(centre - left);
    if (right > centre)
      for (gint64 j = MAX (centre, 0); j < MIN (right, n_spec); j++)
        MEL_AT (j, i) = (double)(right - j) / (double)(right - centre);
  }
#undef MEL_AT
  cpu_store_doubles (s->dtype, m, y->data, n_out);
  return TRUE;
}

/* ======================================================================== */

#define FLOAT_OP(NAME, CREATE, INFER, COMPUTE)                                                     \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = 17,            \
    .until_version = G_MAXINT, .dtypes = GLIA_DTYPES_FLOATS, .infer_shapes = INFER,                \
    .create = CREATE, .compute = COMPUTE, .destroy = g_free,                                       \
  }

#define INDEX_OP(NAME, CREATE, INFER, COMPUTE)                                                     \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = 17,            \
    .until_version = G_MAXINT, .dtypes = DTYPES_INDEX, .infer_shapes = INFER, .create = CREATE,    \
    .compute = COMPUTE, .destroy = g_free,                                                         \
  }

static const GliaOpDef signal_ops[] = {
  FLOAT_OP ("DFT", dft_create, dft_infer_shapes, dft_compute),
  FLOAT_OP ("STFT", stft_create, stft_infer_shapes, stft_compute),
  INDEX_OP ("HannWindow", window_create, window_infer_shapes, window_compute),
  INDEX_OP ("HammingWindow", window_create, window_infer_shapes, window_compute),
  INDEX_OP ("BlackmanWindow", window_create, window_infer_shapes, window_compute),
  INDEX_OP ("MelWeightMatrix", mel_create, mel_infer_shapes, mel_compute),
};

void
cpu_signal_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (signal_ops); i++)
    glia_op_table_add (table, &signal_ops[i]);
}
