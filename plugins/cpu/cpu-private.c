/* cpu-private.c: helpers shared by the CPU provider's kernel files (see
 * cpu-private.h). */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <string.h>

/* ---- errors ------------------------------------------------------------ */

static char *
node_prefix (const GliaGraph *graph, gint node)
{
  const char *op = graph ? glia_graph_node_get_op_type (graph, node) : NULL;
  const char *name = graph ? glia_graph_node_get_name (graph, node) : NULL;
  if (name && *name)
    return g_strdup_printf ("%s node '%s'", op ? op : "?", name);
  return g_strdup_printf ("%s node #%d", op ? op : "?", node);
}

static void
set_error_va (GError **error, GliaError code, const GliaGraph *graph, gint node, const char *format,
              va_list args)
{
  if (error == NULL)
    return;
  g_autofree char *prefix = node_prefix (graph, node);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  g_set_error (error, GLIA_ERROR, code, "%s: %s", prefix, msg);
}

void
cpu_node_error (GError **error, const GliaGraph *graph, gint node, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  set_error_va (error, GLIA_ERROR_INVALID_MODEL, graph, node, format, args);
  va_end (args);
}

void
cpu_shape_error (GError **error, GliaShapeContext *ctx, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  set_error_va (error, GLIA_ERROR_INVALID_MODEL, glia_shape_context_get_graph (ctx),
                glia_shape_context_get_node (ctx), format, args);
  va_end (args);
}

void
cpu_kernel_error (GError **error, GliaKernelContext *ctx, GliaError code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  set_error_va (error, code, glia_kernel_context_get_graph (ctx),
                glia_kernel_context_get_node (ctx), format, args);
  va_end (args);
}

char *
cpu_dims_to_string (guint rank, const gint64 *dims)
{
  GString *s = g_string_new ("[");
  for (guint i = 0; i < rank; i++)
    g_string_append_printf (s, i ? ",%" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, dims[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

const GliaTensorView *
cpu_require_input (GliaKernelContext *ctx, guint i, GError **error)
{
  const GliaTensorView *v = NULL;
  if (i < glia_kernel_context_get_n_inputs (ctx))
    v = glia_kernel_context_get_input (ctx, i);
  if (v == NULL)
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "input %u is required", i);
  return v;
}

gboolean
cpu_kernel_has_output (GliaKernelContext *ctx, guint i)
{
  if (i >= glia_kernel_context_get_n_outputs (ctx))
    return FALSE;
  const GliaGraph *graph = glia_kernel_context_get_graph (ctx);
  gint node = glia_kernel_context_get_node (ctx);
  if (graph == NULL || node < 0)
    return TRUE;
  return i < glia_graph_node_get_n_outputs (graph, node)
         && glia_graph_node_get_output (graph, node, i) >= 0;
}

const GliaTensorView *
cpu_optional_input (GliaKernelContext *ctx, guint i)
{
  return i < glia_kernel_context_get_n_inputs (ctx) ? glia_kernel_context_get_input (ctx, i) : NULL;
}

/* ---- dtypes and attributes --------------------------------------------- */

gboolean
cpu_check_dtype (GliaKernelContext *ctx, const GliaTensorView *v, guint64 mask, const char *what,
                 GError **error)
{
  if (cpu_dtype_in (v->dtype, mask))
    return TRUE;
  if (what)
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "%s: element type %s is not supported", what,
                      glia_data_type_get_name (v->dtype));
  else
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "element type %s is not supported",
                      glia_data_type_get_name (v->dtype));
  return FALSE;
}

gboolean
cpu_parse_flag (const GliaGraph *graph, gint node, const char *name, gint64 def, gboolean *out,
                GError **error)
{
  gint64 v = glia_graph_node_get_attr_int (graph, node, name, def);
  if (v != 0 && v != 1) {
    cpu_node_error (error, graph, node, "attribute '%s' must be 0 or 1, got %" G_GINT64_FORMAT,
                    name, v);
    return FALSE;
  }
  *out = v == 1;
  return TRUE;
}

/* ---- shapes ------------------------------------------------------------ */

void
cpu_contiguous_strides (guint rank, const gint64 *dims, gint64 *strides)
{
  gint64 s = 1;
  for (gint i = (gint)rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i];
  }
}

gsize
cpu_numel_range (const gint64 *dims, guint begin, guint end)
{
  gsize n = 1;
  for (guint i = begin; i < end; i++) {
    if (dims[i] <= 0)
      return 0;
    if (!g_size_checked_mul (&n, n, (gsize)dims[i]))
      n = G_MAXSIZE;
  }
  return n;
}

gsize
cpu_numel (guint rank, const gint64 *dims)
{
  return cpu_numel_range (dims, 0, rank);
}

gboolean
cpu_normalize_axis (gint64 axis, guint rank, guint *out)
{
  if (axis < -(gint64)rank || axis >= (gint64)rank)
    return FALSE;
  *out = (guint)(axis < 0 ? axis + rank : axis);
  return TRUE;
}

gboolean
cpu_broadcast_dims (guint rank_a, const gint64 *a, guint rank_b, const gint64 *b, guint *rank_out,
                    gint64 *out)
{
  guint r = MAX (rank_a, rank_b);
  if (r > GLIA_MAX_RANK)
    return FALSE;
  for (guint i = 0; i < r; i++) {
    gint64 da = i < r - rank_a ? 1 : a[i - (r - rank_a)];
    gint64 db = i < r - rank_b ? 1 : b[i - (r - rank_b)];
    if (da == db)
      out[i] = da;
    else if (da == 1)
      out[i] = db;
    else if (db == 1)
      out[i] = da;
    else if (da < 0)
      out[i] = db;
    else if (db < 0)
      out[i] = da;
    else
      return FALSE;
  }
  *rank_out = r;
  return TRUE;
}

void
cpu_infer_like_input (GliaShapeContext *ctx, guint o, guint i, GliaDataType dtype)
{
  gint rank = glia_shape_context_get_input_rank (ctx, i);
  glia_shape_context_set_output (ctx, o, dtype, rank,
                                 rank >= 0 ? glia_shape_context_get_input_dims (ctx, i) : NULL);
}

gboolean
cpu_infer_same_as_input (GliaShapeContext *ctx, GError **error)
{
  cpu_infer_like_input (ctx, 0, 0, glia_shape_context_get_input_dtype (ctx, 0));
  return TRUE;
}

void
cpu_copy_strided (guint8 *dst, const guint8 *src, gint64 stride, gsize n, gsize size)
{
  if (stride == 1) {
    if (n)
      memcpy (dst, src, n * size);
    return;
  }
  switch (size) {
#define STRIDED(T)                                                                                 \
  for (gsize i = 0; i < n; i++)                                                                    \
    ((T *)dst)[i] = *(const T *)(src + (gint64)i * stride * (gint64)sizeof (T));                   \
  break
  case 1:
    STRIDED (guint8);
  case 2:
    STRIDED (guint16);
  case 4:
    STRIDED (guint32);
  case 8:
    STRIDED (guint64);
#undef STRIDED
  default:
    for (gsize i = 0; i < n; i++)
      memcpy (dst + i * size, src + (gint64)i * stride * (gint64)size, size);
  }
}

/* ---- broadcasting iteration ------------------------------------------- */

void
cpu_broadcast_init (CpuBroadcast *b, guint out_rank, const gint64 *out_dims, guint n_inputs,
                    const guint *in_ranks, const gint64 *const *in_dims)
{
  gint64 strides[CPU_BROADCAST_MAX_INPUTS][GLIA_MAX_RANK];

  g_assert (n_inputs <= CPU_BROADCAST_MAX_INPUTS && out_rank <= GLIA_MAX_RANK);
  for (guint k = 0; k < n_inputs; k++) {
    gint64 stride = 1;
    for (gint i = (gint)out_rank - 1; i >= 0; i--) {
      gint j = i - (gint)(out_rank - in_ranks[k]);
      gint64 d = j >= 0 ? in_dims[k][j] : 1;
      strides[k][i] = d == 1 ? 0 : stride;
      stride *= d;
    }
  }

  cpu_broadcast_init_strided (b, out_rank, out_dims, n_inputs, strides);
}

void
cpu_broadcast_init_strided (CpuBroadcast *b, guint out_rank, const gint64 *out_dims, guint n_inputs,
                            gint64 (*strides)[GLIA_MAX_RANK])
{
  gint64 dims[GLIA_MAX_RANK];

  g_assert (n_inputs <= CPU_BROADCAST_MAX_INPUTS && out_rank <= GLIA_MAX_RANK);
  memset (b, 0, sizeof *b);
  b->n_inputs = n_inputs;

  /* Drop size-1 dims, then merge neighbours where each input is either
   * broadcast over both or contiguous across both. */
  guint r = 0;
  for (guint i = 0; i < out_rank; i++) {
    if (out_dims[i] == 1)
      continue;
    gboolean merge = r > 0;
    for (guint k = 0; k < n_inputs && merge; k++)
      merge = strides[k][r - 1] == strides[k][i] * out_dims[i];
    if (merge) {
      dims[r - 1] *= out_dims[i];
      for (guint k = 0; k < n_inputs; k++)
        strides[k][r - 1] = strides[k][i];
    } else {
      dims[r] = out_dims[i];
      for (guint k = 0; k < n_inputs; k++)
        strides[k][r] = strides[k][i];
      r++;
    }
  }
  if (r == 0) {
    dims[0] = 1;
    for (guint k = 0; k < n_inputs; k++)
      strides[k][0] = 0;
    r = 1;
  }

  b->rank = r;
  memcpy (b->dims, dims, r * sizeof (gint64));
  for (guint k = 0; k < n_inputs; k++)
    memcpy (b->strides[k], strides[k], r * sizeof (gint64));
  b->row_len = (gsize)dims[r - 1];
  b->n_rows = cpu_numel_range (dims, 0, r - 1);
  if (b->row_len == 0)
    b->n_rows = 0;
}

void
cpu_broadcast_seek (const CpuBroadcast *b, gsize row, CpuBroadcastPos *pos)
{
  for (guint k = 0; k < b->n_inputs; k++)
    pos->offset[k] = 0;
  for (gint i = (gint)b->rank - 2; i >= 0; i--) {
    gint64 idx = (gint64)(row % (gsize)b->dims[i]);
    row /= (gsize)b->dims[i];
    pos->index[i] = idx;
    for (guint k = 0; k < b->n_inputs; k++)
      pos->offset[k] += (gsize)(idx * b->strides[k][i]);
  }
}

void
cpu_broadcast_next_row (const CpuBroadcast *b, CpuBroadcastPos *pos)
{
  for (gint i = (gint)b->rank - 2; i >= 0; i--) {
    pos->index[i]++;
    for (guint k = 0; k < b->n_inputs; k++)
      pos->offset[k] += (gsize)b->strides[k][i];
    if (pos->index[i] < b->dims[i])
      return;
    for (guint k = 0; k < b->n_inputs; k++)
      pos->offset[k] -= (gsize)(b->strides[k][i] * b->dims[i]);
    pos->index[i] = 0;
  }
}

/* ---- small integer tensors -------------------------------------------- */

static gboolean
get_ints (GliaDataType dtype, gconstpointer data, gsize n_elements, gint64 *out, gsize max,
          gsize *n)
{
  if (n_elements > max)
    return FALSE;
  switch (dtype) {
  case GLIA_DATA_TYPE_INT64:
    if (n_elements)
      memcpy (out, data, n_elements * sizeof (gint64));
    break;
  case GLIA_DATA_TYPE_INT32:
    for (gsize i = 0; i < n_elements; i++)
      out[i] = ((const gint32 *)data)[i];
    break;
  default:
    return FALSE;
  }
  *n = n_elements;
  return TRUE;
}

gboolean
cpu_view_get_ints (const GliaTensorView *view, gint64 *out, gsize max, gsize *n)
{
  return get_ints (view->dtype, view->data, view->n_elements, out, max, n);
}

gboolean
cpu_const_get_ints (const GliaConstTensor *c, gint64 *out, gsize max, gsize *n)
{
  gsize n_elements = 1;
  for (guint i = 0; i < c->rank; i++)
    n_elements *= (gsize)c->dims[i];
  gsize size = 0;
  gconstpointer data = c->data ? g_bytes_get_data (c->data, &size) : NULL;
  if (size < n_elements * glia_data_type_get_size (c->dtype))
    return FALSE;
  return get_ints (c->dtype, data, n_elements, out, max, n);
}

gboolean
cpu_read_ints_input (GliaKernelContext *ctx, const GliaTensorView *v, const char *what, gint64 *out,
                     gsize max, gsize *n, GError **error)
{
  if (v->rank > 1 || !cpu_view_get_ints (v, out, max, n)) {
    g_autofree char *d = cpu_dims_to_string (v->rank, v->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "%s must be a 1-D int32/int64 tensor of at most %" G_GSIZE_FORMAT
                      " values, got %s %s",
                      what, max, glia_data_type_get_name (v->dtype), d);
    return FALSE;
  }
  return TRUE;
}

gboolean
cpu_shape_context_get_ints (GliaShapeContext *ctx, guint i, gint64 *out, gsize max, gsize *n)
{
  if (i >= glia_shape_context_get_n_inputs (ctx) || !glia_shape_context_has_input (ctx, i))
    return FALSE;
  const GliaConstTensor *c = glia_shape_context_get_input_constant (ctx, i);
  return c != NULL && cpu_const_get_ints (c, out, max, n);
}

/* ---- windows ----------------------------------------------------------- */

static gboolean
parse_int_list (const GliaGraph *graph, gint node, const char *name, gint64 *out, guint max,
                guint *n, gint64 min_value, GError **error)
{
  guint count = 0;
  const gint64 *v = glia_graph_node_get_attr_ints (graph, node, name, &count);
  *n = 0;
  if (v == NULL)
    return TRUE;
  if (count > max) {
    cpu_node_error (error, graph, node, "attribute '%s' has %u values, at most %u are supported",
                    name, count, max);
    return FALSE;
  }
  for (guint i = 0; i < count; i++) {
    if (v[i] < min_value) {
      cpu_node_error (error, graph, node,
                      "attribute '%s' value %" G_GINT64_FORMAT " is below %" G_GINT64_FORMAT, name,
                      v[i], min_value);
      return FALSE;
    }
    out[i] = v[i];
  }
  *n = count;
  return TRUE;
}

gboolean
cpu_window_attrs_parse (CpuWindowAttrs *attrs, const GliaGraph *graph, gint node,
                        gboolean kernel_required, GError **error)
{
  memset (attrs, 0, sizeof *attrs);

  const char *auto_pad = glia_graph_node_get_attr_string (graph, node, "auto_pad", "NOTSET", NULL);
  if (g_str_equal (auto_pad, "NOTSET") || *auto_pad == '\0')
    attrs->auto_pad = CPU_AUTO_PAD_NOTSET;
  else if (g_str_equal (auto_pad, "SAME_UPPER"))
    attrs->auto_pad = CPU_AUTO_PAD_SAME_UPPER;
  else if (g_str_equal (auto_pad, "SAME_LOWER"))
    attrs->auto_pad = CPU_AUTO_PAD_SAME_LOWER;
  else if (g_str_equal (auto_pad, "VALID"))
    attrs->auto_pad = CPU_AUTO_PAD_VALID;
  else {
    cpu_node_error (error, graph, node, "attribute 'auto_pad' has an unknown value '%s'", auto_pad);
    return FALSE;
  }

  if (!cpu_parse_flag (graph, node, "ceil_mode", 0, &attrs->ceil_mode, error))
    return FALSE;

  if (!parse_int_list (graph, node, "kernel_shape", attrs->kernel, CPU_WINDOW_MAX_SPATIAL,
                       &attrs->n_kernel, 1, error)
      || !parse_int_list (graph, node, "strides", attrs->strides, CPU_WINDOW_MAX_SPATIAL,
                          &attrs->n_strides, 1, error)
      || !parse_int_list (graph, node, "dilations", attrs->dilations, CPU_WINDOW_MAX_SPATIAL,
                          &attrs->n_dilations, 1, error)
      || !parse_int_list (graph, node, "pads", attrs->pads, 2 * CPU_WINDOW_MAX_SPATIAL,
                          &attrs->n_pads, 0, error))
    return FALSE;

  if (kernel_required && attrs->n_kernel == 0) {
    cpu_node_error (error, graph, node, "attribute 'kernel_shape' is required");
    return FALSE;
  }
  if (attrs->n_pads % 2 != 0) {
    cpu_node_error (error, graph, node, "attribute 'pads' must have an even number of values");
    return FALSE;
  }
  guint n = attrs->n_kernel      ? attrs->n_kernel
            : attrs->n_strides   ? attrs->n_strides
            : attrs->n_dilations ? attrs->n_dilations
                                 : attrs->n_pads / 2;
  if ((attrs->n_strides && attrs->n_strides != n) || (attrs->n_dilations && attrs->n_dilations != n)
      || (attrs->n_pads && attrs->n_pads != 2 * n)) {
    cpu_node_error (error, graph, node,
                    "attributes 'kernel_shape', 'strides', 'dilations' and 'pads' disagree on "
                    "the number of spatial dims");
    return FALSE;
  }
  return TRUE;
}

gboolean
cpu_window_resolve (const CpuWindowAttrs *attrs, guint n_spatial, const gint64 *in,
                    const gint64 *kernel, CpuWindow *w, char **why)
{
  if (n_spatial < 1 || n_spatial > CPU_WINDOW_MAX_SPATIAL) {
    *why = g_strdup_printf ("%u spatial dims are not supported (1 to %d are)", n_spatial,
                            CPU_WINDOW_MAX_SPATIAL);
    return FALSE;
  }
  if ((attrs->n_kernel && attrs->n_kernel != n_spatial)
      || (attrs->n_strides && attrs->n_strides != n_spatial)
      || (attrs->n_dilations && attrs->n_dilations != n_spatial)
      || (attrs->n_pads && attrs->n_pads != 2 * n_spatial)) {
    *why = g_strdup_printf ("the window attributes do not match the input's %u spatial dims",
                            n_spatial);
    return FALSE;
  }

  guint lift = CPU_WINDOW_MAX_SPATIAL - n_spatial;
  w->n_spatial = n_spatial;
  for (guint i = 0; i < lift; i++) {
    w->in[i] = w->out[i] = w->kernel[i] = w->stride[i] = w->dilation[i] = 1;
    w->pad_begin[i] = w->pad_end[i] = 0;
  }
  for (guint a = 0; a < n_spatial; a++) {
    guint i = a + lift;
    gint64 k = kernel[a];
    gint64 s = attrs->n_strides ? attrs->strides[a] : 1;
    gint64 d = attrs->n_dilations ? attrs->dilations[a] : 1;
    gint64 pb = 0, pe = 0, out = -1;
    if (k < 1) {
      *why = g_strdup_printf ("kernel dim %u is %" G_GINT64_FORMAT, a, k);
      return FALSE;
    }
    gint64 dk = (k - 1) * d + 1;

    if (attrs->auto_pad == CPU_AUTO_PAD_SAME_UPPER || attrs->auto_pad == CPU_AUTO_PAD_SAME_LOWER) {
      if (in[a] >= 0) {
        out = (in[a] + s - 1) / s;
        gint64 total = MAX (0, (out - 1) * s + dk - in[a]);
        gint64 small = total / 2;
        pb = attrs->auto_pad == CPU_AUTO_PAD_SAME_UPPER ? small : total - small;
        pe = total - pb;
      }
    } else {
      if (attrs->auto_pad == CPU_AUTO_PAD_NOTSET && attrs->n_pads) {
        pb = attrs->pads[a];
        pe = attrs->pads[a + n_spatial];
      }
      if (in[a] >= 0) {
        gint64 avail = in[a] + pb + pe - dk;
        if (avail < 0) {
          *why = g_strdup_printf ("the window (%" G_GINT64_FORMAT
                                  " with dilation) of spatial dim %u is larger than the "
                                  "padded input (%" G_GINT64_FORMAT ")",
                                  dk, a, in[a] + pb + pe);
          return FALSE;
        }
        if (attrs->ceil_mode) {
          out = (avail + s - 1) / s + 1;
          /* The last window must start inside the input or its
           * leading padding. */
          if ((out - 1) * s >= in[a] + pb)
            out--;
        } else
          out = avail / s + 1;
      }
    }
    w->in[i] = in[a];
    w->out[i] = out;
    w->kernel[i] = k;
    w->stride[i] = s;
    w->dilation[i] = d;
    w->pad_begin[i] = pb;
    w->pad_end[i] = pe;
  }
  return TRUE;
}

gboolean
cpu_window_resolve_partial (const CpuWindowAttrs *attrs, guint n_spatial, const gint64 *in,
                            const gint64 *kernel, CpuWindow *w, char **why)
{
  gint64 known[CPU_WINDOW_MAX_SPATIAL] = { 0 };
  for (guint i = 0; i < n_spatial && i < CPU_WINDOW_MAX_SPATIAL; i++)
    known[i] = kernel[i] >= 0 ? kernel[i] : 1;
  if (!cpu_window_resolve (attrs, n_spatial, in, known, w, why))
    return FALSE;
  for (guint i = 0; i < n_spatial; i++)
    if (kernel[i] < 0)
      w->out[CPU_WINDOW_MAX_SPATIAL - n_spatial + i] = -1;
  return TRUE;
}

/* ---- half precision ---------------------------------------------------- */

float
cpu_half_to_float (guint16 h)
{
  guint32 sign = (guint32)(h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f;
  guint32 mant = h & 0x3ff;
  guint32 bits;

  if (exp == 0) {
    if (mant == 0)
      bits = sign;
    else {
      /* subnormal: renormalise */
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        exp--;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f)
    bits = sign | 0x7f800000u | (mant << 13);
  else
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);

  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

guint16
cpu_float_to_half (float f)
{
  guint32 bits;
  memcpy (&bits, &f, sizeof bits);
  guint16 sign = (guint16)((bits >> 16) & 0x8000);
  guint32 exp = (bits >> 23) & 0xff;
  guint32 mant = bits & 0x7fffff;

  if (exp == 0xff)
    return sign | 0x7c00 | (mant ? 0x200 : 0);
  gint32 e = (gint32)exp - 127 + 15;
  if (e >= 0x1f)
    return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10)
      return sign;
    /* subnormal half: shift the mantissa (with its implicit bit) and round
     * to nearest even */
    mant |= 0x800000;
    guint32 shift = (guint32)(14 - e);
    guint32 half_mant = mant >> shift;
    guint32 rem = mant & ((1u << shift) - 1);
    guint32 halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_mant & 1)))
      half_mant++;
    return sign | (guint16)half_mant;
  }
  guint32 h = ((guint32)e << 10) | (mant >> 13);
  guint32 rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
    h++; /* may carry into the exponent, which is the right result */
  return sign | (guint16)h;
}

float
cpu_bfloat16_to_float (guint16 h)
{
  guint32 bits = (guint32)h << 16;
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

guint16
cpu_float_to_bfloat16 (float f)
{
  guint32 bits;
  memcpy (&bits, &f, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x7fffff))
    return (guint16)((bits >> 16) | 0x40);
  bits += 0x7fff + ((bits >> 16) & 1);
  return (guint16)(bits >> 16);
}

/* ---- element conversions ----------------------------------------------- */

#define CONV_IDENT(x) (x)

#define CONV_LOAD(ENUM, T, CONV)                                                                   \
  case ENUM:                                                                                       \
    for (gsize i = 0; i < n; i++)                                                                  \
      dst[i] = (double)CONV (((const T *)src)[i]);                                                 \
    break

void
cpu_load_doubles (GliaDataType dtype, gconstpointer src, double *dst, gsize n)
{
  switch (dtype) {
    CONV_LOAD (GLIA_DATA_TYPE_FLOAT, float, CONV_IDENT);
    CONV_LOAD (GLIA_DATA_TYPE_DOUBLE, double, CONV_IDENT);
    CONV_LOAD (GLIA_DATA_TYPE_FLOAT16, guint16, cpu_half_to_float);
    CONV_LOAD (GLIA_DATA_TYPE_BFLOAT16, guint16, cpu_bfloat16_to_float);
    CONV_LOAD (GLIA_DATA_TYPE_INT8, gint8, CONV_IDENT);
    CONV_LOAD (GLIA_DATA_TYPE_INT16, gint16, CONV_IDENT);
    CONV_LOAD (GLIA_DATA_TYPE_INT32, gint32, CONV_IDENT);
    CONV_LOAD (GLIA_DATA_TYPE_INT64, gint64, CONV_IDENT);
    CONV_LOAD (GLIA_DATA_TYPE_UINT8, guint8, CONV_IDENT);
    CONV_LOAD (GLIA_DATA_TYPE_UINT16, guint16, CONV_IDENT);
    CONV_LOAD (GLIA_DATA_TYPE_UINT32, guint32, CONV_IDENT);
    CONV_LOAD (GLIA_DATA_TYPE_UINT64, guint64, CONV_IDENT);
    CONV_LOAD (GLIA_DATA_TYPE_BOOL, guint8, !!);
  default:
    g_assert_not_reached ();
  }
}

#define CONV_STORE(ENUM, T, CONV)                                                                  \
  case ENUM:                                                                                       \
    for (gsize i = 0; i < n; i++)                                                                  \
      ((T *)dst)[i] = CONV (src[i]);                                                               \
    break

#define CONV_STORE_SAT(ENUM, T, LO, HI)                                                            \
  case ENUM:                                                                                       \
    for (gsize i = 0; i < n; i++) {                                                                \
      double v = src[i];                                                                           \
      ((T *)dst)[i] = v != v ? 0 : v <= (double)(LO) ? (LO) : v >= (double)(HI) ? (HI) : (T)v;     \
    }                                                                                              \
    break

void
cpu_store_doubles (GliaDataType dtype, const double *src, gpointer dst, gsize n)
{
  switch (dtype) {
    CONV_STORE (GLIA_DATA_TYPE_FLOAT, float, (float));
    CONV_STORE (GLIA_DATA_TYPE_DOUBLE, double, CONV_IDENT);
    CONV_STORE (GLIA_DATA_TYPE_FLOAT16, guint16, (guint16)cpu_float_to_half);
    CONV_STORE (GLIA_DATA_TYPE_BFLOAT16, guint16, (guint16)cpu_float_to_bfloat16);
    CONV_STORE_SAT (GLIA_DATA_TYPE_INT8, gint8, G_MININT8, G_MAXINT8);
    CONV_STORE_SAT (GLIA_DATA_TYPE_INT16, gint16, G_MININT16, G_MAXINT16);
    CONV_STORE_SAT (GLIA_DATA_TYPE_INT32, gint32, G_MININT32, G_MAXINT32);
    CONV_STORE_SAT (GLIA_DATA_TYPE_INT64, gint64, G_MININT64, G_MAXINT64);
    CONV_STORE_SAT (GLIA_DATA_TYPE_UINT8, guint8, 0, G_MAXUINT8);
    CONV_STORE_SAT (GLIA_DATA_TYPE_UINT16, guint16, 0, G_MAXUINT16);
    CONV_STORE_SAT (GLIA_DATA_TYPE_UINT32, guint32, 0, G_MAXUINT32);
    CONV_STORE_SAT (GLIA_DATA_TYPE_UINT64, guint64, 0, G_MAXUINT64);
  case GLIA_DATA_TYPE_BOOL:
    for (gsize i = 0; i < n; i++)
      ((guint8 *)dst)[i] = src[i] != 0;
    break;
  default:
    g_assert_not_reached ();
  }
}
