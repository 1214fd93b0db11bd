/* onednn-ops.c: which nodes the oneDNN provider runs, and their attributes.
 *
 * A node is claimed only when every attribute it carries has a oneDNN
 * equivalent with the same numbers, its data tensors are float32 of known
 * rank, and the constants the kernel prepacks (conv and GEMM weights, bias,
 * batch-norm statistics) are initializers. Anything else stays with the CPU
 * provider. Compiled into both modules (no oneDNN calls here).
 */
#define G_LOG_DOMAIN "Glia-oneDNN"

#include "onednn-private.h"

#include <math.h>
#include <string.h>

static gboolean
is_f32 (const GliaGraph *g, gint v, gint min_rank, gint max_rank)
{
  if (v < 0 || glia_graph_value_get_dtype (g, v) != GLIA_DATA_TYPE_FLOAT
      || glia_graph_value_get_kind (g, v) != GLIA_VALUE_KIND_TENSOR)
    return FALSE;
  gint rank = glia_graph_value_get_rank (g, v);
  return rank >= min_rank && rank <= max_rank;
}

static const GliaConstTensor *
const_f32 (const GliaGraph *g, gint v)
{
  if (v < 0)
    return NULL;
  const GliaConstTensor *c = glia_graph_value_get_constant (g, v);
  if (c == NULL || c->dtype != GLIA_DATA_TYPE_FLOAT)
    return NULL;
  gsize n = 1;
  for (guint i = 0; i < c->rank; i++)
    n *= c->dims[i];
  return g_bytes_get_size (c->data) == n * sizeof (float) ? c : NULL;
}

static gint
in (const GliaGraph *g, gint node, guint i)
{
  return i < glia_graph_node_get_n_inputs (g, node) ? glia_graph_node_get_input (g, node, i) : -1;
}

/* Only output 0 is produced (optional extra outputs omitted). */
static gboolean
single_output (const GliaGraph *g, gint node)
{
  guint n = glia_graph_node_get_n_outputs (g, node);
  if (n < 1 || glia_graph_node_get_output (g, node, 0) < 0)
    return FALSE;
  for (guint i = 1; i < n; i++)
    if (glia_graph_node_get_output (g, node, i) >= 0)
      return FALSE;
  return TRUE;
}

gboolean
onednn_same_shape (const GliaGraph *g, gint a, gint b)
{
  gint ra = glia_graph_value_get_rank (g, a);
  if (ra < 0 || ra != glia_graph_value_get_rank (g, b))
    return FALSE;
  const gint64 *da = glia_graph_value_get_dims (g, a), *db = glia_graph_value_get_dims (g, b);
  for (gint i = 0; i < ra; i++) {
    if (da[i] >= 0 && da[i] == db[i])
      continue;
    const char *pa = glia_graph_value_get_dim_param (g, a, i);
    const char *pb = glia_graph_value_get_dim_param (g, b, i);
    /* two unknown dims (inference often drops the batch symbol): the
     * kernels check them when the shapes are known */
    if (da[i] >= 0 || db[i] >= 0 || (pa && pb && strcmp (pa, pb) != 0))
      return FALSE;
  }
  return TRUE;
}

static gboolean
scalar_const (const GliaGraph *g, gint v, float *out)
{
  const GliaConstTensor *c = const_f32 (g, v);
  if (c == NULL || g_bytes_get_size (c->data) != sizeof (float))
    return FALSE;
  memcpy (out, g_bytes_get_data (c->data, NULL), sizeof (float));
  return TRUE;
}

static gboolean
parse_activation_string (const GliaGraph *g, gint node, OnednnAct *act)
{
  const char *name = glia_graph_node_get_attr_string (g, node, "activation", NULL, NULL);
  guint n = 0;
  const float *p = glia_graph_node_get_attr_floats (g, node, "activation_params", &n);
  act->kind = ONEDNN_ACT_NONE;
  act->alpha = act->beta = 0;
  if (name == NULL)
    return TRUE;
  if (g_str_equal (name, "Relu"))
    act->kind = ONEDNN_ACT_RELU;
  else if (g_str_equal (name, "Sigmoid"))
    act->kind = ONEDNN_ACT_SIGMOID;
  else if (g_str_equal (name, "Tanh"))
    act->kind = ONEDNN_ACT_TANH;
  else if (g_str_equal (name, "HardSwish"))
    act->kind = ONEDNN_ACT_HARD_SWISH;
  else if (g_str_equal (name, "LeakyRelu") && n == 1) {
    act->kind = ONEDNN_ACT_LEAKY_RELU;
    act->alpha = p[0];
  } else if (g_str_equal (name, "Clip") && n == 2) {
    act->kind = ONEDNN_ACT_CLIP;
    act->alpha = p[0];
    act->beta = p[1];
  } else if (g_str_equal (name, "HardSigmoid") && n == 2) {
    act->kind = ONEDNN_ACT_HARD_SIGMOID;
    act->alpha = p[0];
    act->beta = p[1];
  } else
    return FALSE;
  return TRUE;
}

gboolean
onednn_node_activation (const GliaGraph *g, gint node, OnednnAct *act)
{
  if (*glia_graph_node_get_domain (g, node) != '\0' || !single_output (g, node))
    return FALSE;
  const char *op = glia_graph_node_get_op_type (g, node);
  act->alpha = act->beta = 0;
  if (g_str_equal (op, "Relu"))
    act->kind = ONEDNN_ACT_RELU;
  else if (g_str_equal (op, "Sigmoid"))
    act->kind = ONEDNN_ACT_SIGMOID;
  else if (g_str_equal (op, "Tanh"))
    act->kind = ONEDNN_ACT_TANH;
  else if (g_str_equal (op, "HardSwish"))
    act->kind = ONEDNN_ACT_HARD_SWISH;
  else if (g_str_equal (op, "LeakyRelu")) {
    act->kind = ONEDNN_ACT_LEAKY_RELU;
    act->alpha = glia_graph_node_get_attr_float (g, node, "alpha", 0.01f);
  } else if (g_str_equal (op, "Elu")) {
    act->kind = ONEDNN_ACT_ELU;
    act->alpha = glia_graph_node_get_attr_float (g, node, "alpha", 1.0f);
  } else if (g_str_equal (op, "Clip")) {
    act->kind = ONEDNN_ACT_CLIP;
    act->alpha = -INFINITY;
    act->beta = INFINITY;
    if (glia_graph_node_get_opset (g, node) < 11) {
      act->alpha = glia_graph_node_get_attr_float (g, node, "min", -INFINITY);
      act->beta = glia_graph_node_get_attr_float (g, node, "max", INFINITY);
    } else {
      gint vmin = in (g, node, 1), vmax = in (g, node, 2);
      if ((vmin >= 0 && !scalar_const (g, vmin, &act->alpha))
          || (vmax >= 0 && !scalar_const (g, vmax, &act->beta)))
        return FALSE;
    }
    /* ONNX gives max when min > max; oneDNN's clip is not defined there */
    if (!(act->alpha <= act->beta))
      return FALSE;
  } else
    return FALSE;
  return is_f32 (g, in (g, node, 0), 1, 6)
         && is_f32 (g, glia_graph_node_get_output (g, node, 0), 1, 6);
}

static gboolean
parse_ints (const GliaGraph *g, gint node, const char *name, gint64 *out, guint n, gint64 min)
{
  guint have = 0;
  const gint64 *v = glia_graph_node_get_attr_ints (g, node, name, &have);
  if (v == NULL)
    return TRUE;
  if (have != n)
    return FALSE;
  for (guint i = 0; i < n; i++) {
    if (v[i] < min || v[i] > G_MAXINT32)
      return FALSE;
    out[i] = v[i];
  }
  return TRUE;
}

gboolean
onednn_window_parse (const GliaGraph *g, gint node, guint n_spatial, const gint64 *kernel,
                     OnednnWindow *w)
{
  memset (w, 0, sizeof *w);
  if (n_spatial < 1 || n_spatial > ONEDNN_MAX_SPATIAL)
    return FALSE;
  w->n_spatial = n_spatial;
  for (guint i = 0; i < n_spatial; i++) {
    w->strides[i] = w->dilations[i] = 1;
    w->kernel[i] = kernel ? kernel[i] : -1;
  }
  const char *auto_pad = glia_graph_node_get_attr_string (g, node, "auto_pad", "NOTSET", NULL);
  if (g_str_equal (auto_pad, "SAME_UPPER"))
    w->same_upper = TRUE;
  else if (g_str_equal (auto_pad, "SAME_LOWER"))
    w->same_lower = TRUE;
  else if (g_str_equal (auto_pad, "VALID"))
    w->valid = TRUE;
  else if (!g_str_equal (auto_pad, "NOTSET") && *auto_pad)
    return FALSE;
  w->ceil_mode = glia_graph_node_get_attr_int (g, node, "ceil_mode", 0) != 0;
  w->group = glia_graph_node_get_attr_int (g, node, "group", 1);
  gint64 k[ONEDNN_MAX_SPATIAL];
  guint nk = 0;
  glia_graph_node_get_attr_ints (g, node, "kernel_shape", &nk);
  if (nk) {
    if (!parse_ints (g, node, "kernel_shape", k, n_spatial, 1))
      return FALSE;
    for (guint i = 0; i < n_spatial; i++) {
      if (kernel && kernel[i] != k[i])
        return FALSE;
      w->kernel[i] = k[i];
    }
  }
  for (guint i = 0; i < n_spatial; i++)
    if (w->kernel[i] < 1)
      return FALSE;
  if (!parse_ints (g, node, "strides", w->strides, n_spatial, 1)
      || !parse_ints (g, node, "dilations", w->dilations, n_spatial, 1)
      || !parse_ints (g, node, "pads", w->pads, 2 * n_spatial, 0))
    return FALSE;
  /* explicit pads at or past the window are rejected by oneDNN */
  for (guint i = 0; i < 2 * n_spatial; i++)
    if (w->pads[i] >= (w->kernel[i % n_spatial] - 1) * w->dilations[i % n_spatial] + 1)
      return FALSE;
  return w->group >= 1;
}

gboolean
onednn_window_resolve (const OnednnWindow *w, const gint64 *in, gint64 *out, gint64 *pad_l,
                       gint64 *pad_r)
{
  for (guint a = 0; a < w->n_spatial; a++) {
    gint64 k = w->global ? in[a] : w->kernel[a];
    gint64 s = w->global ? 1 : w->strides[a], d = w->global ? 1 : w->dilations[a];
    gint64 dk = (k - 1) * d + 1, pb = 0, pe = 0;
    if (in[a] < 1 || k < 1)
      return FALSE;
    if (w->same_upper || w->same_lower) {
      out[a] = (in[a] + s - 1) / s;
      gint64 total = MAX (0, (out[a] - 1) * s + dk - in[a]);
      pb = w->same_upper ? total / 2 : total - total / 2;
      pe = total - pb;
    } else {
      if (!w->valid && !w->global) {
        pb = w->pads[a];
        pe = w->pads[a + w->n_spatial];
      }
      gint64 avail = in[a] + pb + pe - dk;
      if (avail < 0)
        return FALSE;
      if (w->ceil_mode) {
        out[a] = (avail + s - 1) / s + 1;
        if ((out[a] - 1) * s >= in[a] + pb)
          out[a]--;
      } else
        out[a] = avail / s + 1;
    }
    pad_l[a] = pb;
    /* ceil mode's extra windows read past the end: more right padding */
    pad_r[a] = (out[a] - 1) * s + dk - in[a] - pb;
    if (pad_r[a] < pe && !w->ceil_mode)
      pad_r[a] = pe; /* floor mode may leave trailing rows unread */
    pad_r[a] = MAX (pad_r[a], 0);
    if (pad_l[a] >= dk || pad_r[a] >= dk)
      return FALSE;
  }
  return TRUE;
}

OnednnPoolKind
onednn_pool_kind (const GliaGraph *g, gint node)
{
  const char *op = glia_graph_node_get_op_type (g, node);
  if (strstr (op, "Max"))
    return ONEDNN_POOL_MAX;
  if (g_str_equal (op, "GlobalAveragePool"))
    return ONEDNN_POOL_AVG_EXCLUDE;
  return glia_graph_node_get_attr_int (g, node, "count_include_pad", 0) ? ONEDNN_POOL_AVG_INCLUDE
                                                                        : ONEDNN_POOL_AVG_EXCLUDE;
}

static gboolean
conv_supported (const GliaGraph *g, gint node, gboolean fused, OnednnAct *act)
{
  gint x = in (g, node, 0), w = in (g, node, 1), b = in (g, node, 2);
  guint n_in = glia_graph_node_get_n_inputs (g, node);
  if (!single_output (g, node) || n_in > (fused ? 4u : 3u) || !is_f32 (g, x, 3, 5))
    return FALSE;
  gint y = glia_graph_node_get_output (g, node, 0);
  if (!is_f32 (g, y, 3, 5))
    return FALSE;
  const GliaConstTensor *wc = const_f32 (g, w);
  gint rank = glia_graph_value_get_rank (g, x);
  if (wc == NULL || (gint)wc->rank != rank)
    return FALSE;
  OnednnWindow win;
  if (!onednn_window_parse (g, node, rank - 2, wc->dims + 2, &win))
    return FALSE;
  if (wc->dims[0] % win.group != 0 || wc->dims[0] < 1 || wc->dims[1] < 1)
    return FALSE;
  const gint64 *xd = glia_graph_value_get_dims (g, x);
  if (xd[1] >= 0 && xd[1] != wc->dims[1] * win.group)
    return FALSE;
  if (b >= 0) {
    const GliaConstTensor *bc = const_f32 (g, b);
    if (bc == NULL || bc->rank != 1 || bc->dims[0] != wc->dims[0])
      return FALSE;
  }
  act->kind = ONEDNN_ACT_NONE;
  if (fused) {
    gint z = in (g, node, 3);
    if (z >= 0 && (!is_f32 (g, z, 3, 5) || !onednn_same_shape (g, z, y)))
      return FALSE;
    if (!parse_activation_string (g, node, act))
      return FALSE;
  }
  return TRUE;
}

static gboolean
pool_supported (const GliaGraph *g, gint node, const char *op)
{
  gint x = in (g, node, 0);
  if (!single_output (g, node) || !is_f32 (g, x, 3, 5)
      || !is_f32 (g, glia_graph_node_get_output (g, node, 0), 3, 5))
    return FALSE;
  if (g_str_has_prefix (op, "Global"))
    return TRUE;
  OnednnWindow w;
  gint rank = glia_graph_value_get_rank (g, x);
  guint nk = 0;
  glia_graph_node_get_attr_ints (g, node, "kernel_shape", &nk);
  if (nk != (guint)rank - 2 || !onednn_window_parse (g, node, rank - 2, NULL, &w))
    return FALSE;
  if (glia_graph_node_get_attr_int (g, node, "storage_order", 0) != 0)
    return FALSE;
  if (g_str_equal (op, "AveragePool")) {
    for (guint i = 0; i < w.n_spatial; i++)
      if (w.dilations[i] != 1)
        return FALSE;
    /* ceil mode's extra cells would count as padding in oneDNN */
    if (w.ceil_mode && onednn_pool_kind (g, node) == ONEDNN_POOL_AVG_INCLUDE)
      return FALSE;
  }
  return TRUE;
}

static gboolean
bnorm_supported (const GliaGraph *g, gint node)
{
  gint x = in (g, node, 0);
  if (!single_output (g, node) || !is_f32 (g, x, 2, 5)
      || glia_graph_node_get_attr_int (g, node, "training_mode", 0) != 0)
    return FALSE;
  if (glia_graph_node_get_opset (g, node) < 9
      && (glia_graph_node_get_attr_int (g, node, "spatial", 1) != 1
          || glia_graph_node_get_opset (g, node) < 7))
    return FALSE;
  const gint64 *xd = glia_graph_value_get_dims (g, x);
  for (guint i = 1; i < 5; i++) {
    const GliaConstTensor *c = const_f32 (g, in (g, node, i));
    if (c == NULL || c->rank != 1 || (xd[1] >= 0 && c->dims[0] != xd[1]))
      return FALSE;
  }
  return TRUE;
}

static gboolean
gemm_supported (const GliaGraph *g, gint node, gboolean matmul, gboolean fused, OnednnAct *act)
{
  gint a = in (g, node, 0), b = in (g, node, 1), c = in (g, node, 2);
  if (!single_output (g, node) || !is_f32 (g, glia_graph_node_get_output (g, node, 0), 2, 6))
    return FALSE;
  const GliaConstTensor *bc = const_f32 (g, b);
  if (bc == NULL || bc->rank != 2 || bc->dims[0] < 1 || bc->dims[1] < 1)
    return FALSE;
  act->kind = ONEDNN_ACT_NONE;
  if (matmul) {
    /* MatMul, or FusedMatMul: bias [1, ..., N] of rank up to A's */
    if (glia_graph_node_get_n_inputs (g, node) > (fused ? 3u : 2u) || !is_f32 (g, a, 2, 6))
      return FALSE;
    gint r = glia_graph_value_get_rank (g, a);
    gint64 k = glia_graph_value_get_dims (g, a)[r - 1];
    if (k >= 0 && k != bc->dims[0])
      return FALSE;
    if (c >= 0) {
      const GliaConstTensor *cc = const_f32 (g, c);
      if (cc == NULL || cc->rank < 1 || (gint)cc->rank > r || cc->dims[cc->rank - 1] != bc->dims[1])
        return FALSE;
      for (guint i = 0; i + 1 < cc->rank; i++)
        if (cc->dims[i] != 1)
          return FALSE;
    }
    return !fused || parse_activation_string (g, node, act);
  }
  if (!is_f32 (g, a, 2, 2) || glia_graph_node_get_attr_int (g, node, "transA", 0) != 0)
    return FALSE;
  gboolean tb = glia_graph_node_get_attr_int (g, node, "transB", 0) != 0;
  gint64 k = glia_graph_value_get_dims (g, a)[1], n = bc->dims[tb ? 0 : 1];
  if (k >= 0 && k != bc->dims[tb ? 1 : 0])
    return FALSE;
  if (c >= 0) {
    const GliaConstTensor *cc = const_f32 (g, c);
    if (cc == NULL || cc->rank > 2)
      return FALSE;
    gsize nc = g_bytes_get_size (cc->data) / sizeof (float);
    if (nc != 1 && (nc != (gsize)n || (cc->rank == 2 && cc->dims[0] != 1)))
      return FALSE;
  }
  if (fused && !parse_activation_string (g, node, act))
    return FALSE;
  return TRUE;
}

/* @v broadcasts into @y (ONNX multidirectional rules, dims right-aligned):
 * each of its dims is 1 or @y's (unknown on both sides is checked again by
 * the kernels when shapes are known). */
static gboolean
broadcasts_into (const GliaGraph *g, gint v, gint y)
{
  gint rv = glia_graph_value_get_rank (g, v), ry = glia_graph_value_get_rank (g, y);
  if (rv < 0 || ry < 0 || rv > ry)
    return FALSE;
  const gint64 *dv = glia_graph_value_get_dims (g, v), *dy = glia_graph_value_get_dims (g, y);
  for (gint i = 1; i <= rv; i++) {
    gint64 a = dv[rv - i], b = dy[ry - i];
    if (a == 1 || (a >= 0 && a == b) || (a < 0 && b < 0))
      continue;
    return FALSE;
  }
  return TRUE;
}

/* Binary ops run as oneDNN's binary primitive, which broadcasts its second
 * source only: the first input (either, for Add and Mul) has the output's
 * shape and the other broadcasts into it. */
static gboolean
binary_supported (const GliaGraph *g, gint node, gboolean commutative)
{
  gint a = in (g, node, 0), b = in (g, node, 1), y = glia_graph_node_get_output (g, node, 0);
  if (!single_output (g, node) || glia_graph_node_get_n_inputs (g, node) != 2
      || !is_f32 (g, a, 0, 6) || !is_f32 (g, b, 0, 6) || !is_f32 (g, y, 1, 6))
    return FALSE;
  if (onednn_same_shape (g, a, y) && broadcasts_into (g, b, y))
    return TRUE;
  return commutative && onednn_same_shape (g, b, y) && broadcasts_into (g, a, y);
}

gboolean
onednn_deconv_window (const GliaGraph *g, gint node, OnednnWindow *w)
{
  guint n = 0;
  glia_graph_node_get_attr_ints (g, node, "output_shape", &n);
  if (n > 0 || w->same_upper || w->same_lower)
    return FALSE;
  if (!parse_ints (g, node, "output_padding", w->output_padding, w->n_spatial, 0))
    return FALSE;
  for (guint i = 0; i < w->n_spatial; i++) {
    /* oneDNN has no output padding: it becomes less end padding */
    gint64 pad_end = w->valid ? 0 : w->pads[w->n_spatial + i];
    if (w->output_padding[i] < 0 || w->output_padding[i] > pad_end
        || (w->output_padding[i] >= w->strides[i] && w->output_padding[i] >= w->dilations[i]))
      return FALSE;
  }
  return TRUE;
}

/* ConvTranspose: x [N, C, ...], constant W [C, M/group, k...], constant B
 * [M]. */
static gboolean
deconv_supported (const GliaGraph *g, gint node)
{
  gint x = in (g, node, 0), w = in (g, node, 1), b = in (g, node, 2);
  if (!single_output (g, node) || glia_graph_node_get_n_inputs (g, node) > 3 || !is_f32 (g, x, 3, 5)
      || !is_f32 (g, glia_graph_node_get_output (g, node, 0), 3, 5))
    return FALSE;
  const GliaConstTensor *wc = const_f32 (g, w);
  gint rank = glia_graph_value_get_rank (g, x);
  if (wc == NULL || (gint)wc->rank != rank || wc->dims[0] < 1 || wc->dims[1] < 1)
    return FALSE;
  OnednnWindow win;
  if (!onednn_window_parse (g, node, rank - 2, wc->dims + 2, &win)
      || !onednn_deconv_window (g, node, &win) || wc->dims[0] % win.group != 0)
    return FALSE;
  const gint64 *xd = glia_graph_value_get_dims (g, x);
  if (xd[1] >= 0 && xd[1] != wc->dims[0])
    return FALSE;
  if (b >= 0) {
    const GliaConstTensor *bc = const_f32 (g, b);
    if (bc == NULL || bc->rank != 1 || bc->dims[0] != wc->dims[1] * win.group)
      return FALSE;
  }
  return TRUE;
}

OnednnOpKind
onednn_classify (const GliaGraph *g, gint node, OnednnAct *act)
{
  const char *domain = glia_graph_node_get_domain (g, node);
  const char *op = glia_graph_node_get_op_type (g, node);
  OnednnAct dummy;
  if (act == NULL)
    act = &dummy;
  act->kind = ONEDNN_ACT_NONE;
  if (g_str_equal (domain, "com.glia")) {
    if (g_str_equal (op, "FusedConv"))
      return conv_supported (g, node, TRUE, act) ? ONEDNN_OP_CONV : ONEDNN_OP_NONE;
    if (g_str_equal (op, "FusedGemm"))
      return gemm_supported (g, node, FALSE, TRUE, act) ? ONEDNN_OP_GEMM : ONEDNN_OP_NONE;
    if (g_str_equal (op, "FusedMatMul"))
      return gemm_supported (g, node, TRUE, TRUE, act) ? ONEDNN_OP_GEMM : ONEDNN_OP_NONE;
    return ONEDNN_OP_NONE;
  }
  if (*domain && !g_str_equal (domain, "ai.onnx"))
    return ONEDNN_OP_NONE;
  if (g_str_equal (op, "Conv"))
    return conv_supported (g, node, FALSE, act) ? ONEDNN_OP_CONV : ONEDNN_OP_NONE;
  if (g_str_equal (op, "ConvTranspose"))
    return deconv_supported (g, node) ? ONEDNN_OP_DECONV : ONEDNN_OP_NONE;
  if (g_str_equal (op, "MaxPool") || g_str_equal (op, "AveragePool")
      || g_str_equal (op, "GlobalAveragePool") || g_str_equal (op, "GlobalMaxPool"))
    return pool_supported (g, node, op) ? ONEDNN_OP_POOL : ONEDNN_OP_NONE;
  if (g_str_equal (op, "BatchNormalization"))
    return bnorm_supported (g, node) ? ONEDNN_OP_BNORM : ONEDNN_OP_NONE;
  if (g_str_equal (op, "Gemm"))
    return gemm_supported (g, node, FALSE, FALSE, act) ? ONEDNN_OP_GEMM : ONEDNN_OP_NONE;
  if (g_str_equal (op, "MatMul"))
    return gemm_supported (g, node, TRUE, FALSE, act) ? ONEDNN_OP_GEMM : ONEDNN_OP_NONE;
  if (g_str_equal (op, "LRN")) {
    gint64 size = glia_graph_node_get_attr_int (g, node, "size", 0);
    return single_output (g, node) && is_f32 (g, in (g, node, 0), 4, 4) && size > 0 && size % 2 == 1
               ? ONEDNN_OP_LRN
               : ONEDNN_OP_NONE;
  }
  if (g_str_equal (op, "Softmax")) {
    gint x = in (g, node, 0);
    if (!single_output (g, node) || !is_f32 (g, x, 1, 6))
      return ONEDNN_OP_NONE;
    gint rank = glia_graph_value_get_rank (g, x);
    gint64 axis = glia_graph_node_get_attr_int (g, node, "axis",
                                                glia_graph_node_get_opset (g, node) < 13 ? 1 : -1);
    if (axis < 0)
      axis += rank;
    if (axis < 0 || axis >= rank)
      return ONEDNN_OP_NONE;
    /* before opset 13 the input is flattened to 2D at axis */
    if (glia_graph_node_get_opset (g, node) < 13 && axis != rank - 1)
      return ONEDNN_OP_NONE;
    return ONEDNN_OP_SOFTMAX;
  }
  if (g_str_equal (op, "Concat")) {
    guint n = glia_graph_node_get_n_inputs (g, node);
    if (!single_output (g, node) || n < 1 || n > 64)
      return ONEDNN_OP_NONE;
    gint rank = glia_graph_value_get_rank (g, in (g, node, 0));
    for (guint i = 0; i < n; i++)
      if (!is_f32 (g, in (g, node, i), 1, 6)
          || glia_graph_value_get_rank (g, in (g, node, i)) != rank)
        return ONEDNN_OP_NONE;
    gint64 axis = glia_graph_node_get_attr_int (g, node, "axis", G_MAXINT64);
    return axis >= -rank && axis < rank ? ONEDNN_OP_CONCAT : ONEDNN_OP_NONE;
  }
  if (g_str_equal (op, "Sum") || g_str_equal (op, "Add")) {
    guint n = glia_graph_node_get_n_inputs (g, node);
    gint y = glia_graph_node_get_output (g, node, 0);
    if (!single_output (g, node) || n < 1 || n > 64 || (g_str_equal (op, "Add") && n != 2))
      return ONEDNN_OP_NONE;
    gboolean same = TRUE;
    for (guint i = 0; i < n && same; i++)
      same = is_f32 (g, in (g, node, i), 1, 6) && onednn_same_shape (g, in (g, node, i), y);
    if (same)
      return ONEDNN_OP_SUM;
    return g_str_equal (op, "Add") && binary_supported (g, node, TRUE) ? ONEDNN_OP_BINARY
                                                                       : ONEDNN_OP_NONE;
  }
  if (g_str_equal (op, "Mul") || g_str_equal (op, "Sub") || g_str_equal (op, "Div"))
    return binary_supported (g, node, g_str_equal (op, "Mul")) ? ONEDNN_OP_BINARY : ONEDNN_OP_NONE;
  if (onednn_node_activation (g, node, act))
    return ONEDNN_OP_ELTWISE;
  return ONEDNN_OP_NONE;
}
