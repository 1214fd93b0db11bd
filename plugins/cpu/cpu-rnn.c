/* cpu-rnn.c: the recurrent layers LSTM, GRU and RNN (every opset; the
 * layout attribute since 14): forward, reverse or bidirectional, with
 * sequence_lens, initial states, LSTM peepholes and input_forget, GRU's
 * linear_before_reset, clip, and the activation functions the spec lists.
 *
 * One direction runs as one SGEMM of all time steps of X by W^T (plus the
 * biases), then per time step an SGEMM of the hidden state by R^T and an
 * elementwise update of the gates over the batch rows. GRU without
 * linear_before_reset needs the reset gate before its candidate's recurrent
 * product, so its step is split in two around a second, smaller SGEMM.
 *
 * At batch sizes up to RNN_MATVEC_BATCH the recurrent product is a
 * matrix-vector product per batch entry (cpu-simd.h) instead of an SGEMM,
 * which would pack R again at every step. Sigmoid, Tanh and Relu use the
 * vector kernels of cpu-simd.h, and an LSTM with the default activations,
 * no clip, peepholes or input_forget updates its state in one fused pass.
 *
 * A batch entry of length L runs L steps, over times 0 .. L-1 forward or
 * L-1 .. 0 in reverse; after that its state holds still, and Y is zero at
 * its times L and later. Y_h and Y_c are the state after the last step
 * (zero for L = 0). As in other runtimes, clip bounds every gate's input
 * and the copy of the cell state that h() reads, never the state itself.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-blas.h"
#include "cpu-private.h"
#include "cpu-simd.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

typedef enum
{
  RNN_KIND_RNN,
  RNN_KIND_GRU,
  RNN_KIND_LSTM,
} RnnKind;

typedef enum
{
  ACT_SIGMOID,
  ACT_TANH,
  ACT_RELU,
  ACT_HARD_SIGMOID,
  ACT_LEAKY_RELU,
  ACT_THRESHOLDED_RELU,
  ACT_SCALED_TANH,
  ACT_AFFINE,
  ACT_ELU,
  ACT_SOFTSIGN,
  ACT_SOFTPLUS,
} ActKind;

typedef struct
{
  ActKind kind;
  float alpha;
  float beta;
} Activation;

/* Which parameters each function takes (consumed in order from
 * activation_alpha / activation_beta) and their defaults, those of the
 * ONNX operators of the same names. */
static const struct
{
  const char *name;
  ActKind kind;
  gboolean takes_alpha, takes_beta;
  float alpha, beta;
} activation_table[] = {
  { "Sigmoid", ACT_SIGMOID, FALSE, FALSE, 0.0f, 0.0f },
  { "Tanh", ACT_TANH, FALSE, FALSE, 0.0f, 0.0f },
  { "Relu", ACT_RELU, FALSE, FALSE, 0.0f, 0.0f },
  { "HardSigmoid", ACT_HARD_SIGMOID, TRUE, TRUE, 0.2f, 0.5f },
  { "LeakyRelu", ACT_LEAKY_RELU, TRUE, FALSE, 0.01f, 0.0f },
  { "ThresholdedRelu", ACT_THRESHOLDED_RELU, TRUE, FALSE, 1.0f, 0.0f },
  { "ScaledTanh", ACT_SCALED_TANH, TRUE, TRUE, 1.0f, 1.0f },
  { "Affine", ACT_AFFINE, TRUE, TRUE, 1.0f, 0.0f },
  { "Elu", ACT_ELU, TRUE, FALSE, 1.0f, 0.0f },
  { "Softsign", ACT_SOFTSIGN, FALSE, FALSE, 0.0f, 0.0f },
  { "Softplus", ACT_SOFTPLUS, FALSE, FALSE, 0.0f, 0.0f },
};

#define RNN_MAX_ACTS 3

typedef struct
{
  RnnKind kind;
  guint n_gates; /* 1 (RNN), 3 (GRU: z r h), 4 (LSTM: i o f c) */
  guint n_acts;  /* per direction: f; f g; f g h */
  guint n_dirs;
  gboolean reverse;     /* direction = "reverse" (bidirectional: the second) */
  gint64 hidden_size;   /* -1 when the attribute is absent */
  gboolean batch_major; /* layout = 1 */
  gboolean has_clip;
  float clip;
  gboolean input_forget;
  gboolean linear_before_reset;
  Activation acts[2][RNN_MAX_ACTS];
  /* LSTM direction with Sigmoid, Tanh, Tanh, no clip and no input_forget */
  gboolean fused_cell[2];
  /* a constant W, per direction, packed for the AVX-512 tiles (X W^T for
   * all steps at once: OpenBLAS's Haswell sgemm took a quarter of the
   * benchmark LSTM), or NULL */
  float *w_packed[2];
  gint64 w_rows, w_cols; /* G*H, input */
} RnnState;

/* Largest batch whose recurrent product runs as matrix-vector products. */
#define RNN_MATVEC_BATCH 4

static RnnKind
rnn_kind_of (const GliaGraph *graph, gint node)
{
  const char *op = glia_graph_node_get_op_type (graph, node);
  if (g_str_equal (op, "LSTM"))
    return RNN_KIND_LSTM;
  if (g_str_equal (op, "GRU"))
    return RNN_KIND_GRU;
  return RNN_KIND_RNN;
}

static gboolean
parse_activations (RnnState *s, const GliaGraph *graph, gint node, GError **error)
{
  static const char *const defaults[3][RNN_MAX_ACTS] = {
    [RNN_KIND_RNN] = { "Tanh" },
    [RNN_KIND_GRU] = { "Sigmoid", "Tanh" },
    [RNN_KIND_LSTM] = { "Sigmoid", "Tanh", "Tanh" },
  };
  guint n_names = 0, n_alpha = 0, n_beta = 0;
  const char *const *names
      = glia_graph_node_get_attr_strings (graph, node, "activations", &n_names);
  const float *alphas = glia_graph_node_get_attr_floats (graph, node, "activation_alpha", &n_alpha);
  const float *betas = glia_graph_node_get_attr_floats (graph, node, "activation_beta", &n_beta);

  if (names == NULL) {
    names = defaults[s->kind];
    n_names = s->n_acts;
  } else if (n_names != s->n_acts && n_names != s->n_acts * s->n_dirs) {
    cpu_node_error (error, graph, node,
                    "attribute 'activations' has %u names, expected %u (%u per direction)", n_names,
                    s->n_acts * s->n_dirs, s->n_acts);
    return FALSE;
  }

  guint ia = 0, ib = 0;
  Activation parsed[2 * RNN_MAX_ACTS];
  for (guint i = 0; i < n_names; i++) {
    guint k = 0;
    while (k < G_N_ELEMENTS (activation_table)
           && g_ascii_strcasecmp (names[i], activation_table[k].name) != 0)
      k++;
    if (k == G_N_ELEMENTS (activation_table)) {
      cpu_node_error (error, graph, node, "attribute 'activations': unknown function '%s'",
                      names[i]);
      return FALSE;
    }
    parsed[i].kind = activation_table[k].kind;
    parsed[i].alpha = activation_table[k].alpha;
    parsed[i].beta = activation_table[k].beta;
    if (activation_table[k].takes_alpha && ia < n_alpha)
      parsed[i].alpha = alphas[ia++];
    if (activation_table[k].takes_beta && ib < n_beta)
      parsed[i].beta = betas[ib++];
  }
  /* One set for both directions when only one is given. */
  for (guint d = 0; d < s->n_dirs; d++)
    for (guint j = 0; j < s->n_acts; j++)
      s->acts[d][j] = parsed[n_names == s->n_acts ? j : d * s->n_acts + j];
  return TRUE;
}

static RnnState *
rnn_parse (const GliaGraph *graph, gint node, GError **error)
{
  g_autofree RnnState *s = g_new0 (RnnState, 1);
  s->kind = rnn_kind_of (graph, node);
  s->n_gates = s->kind == RNN_KIND_LSTM ? 4 : s->kind == RNN_KIND_GRU ? 3 : 1;
  s->n_acts = s->kind == RNN_KIND_LSTM ? 3 : s->kind == RNN_KIND_GRU ? 2 : 1;

  const char *direction
      = glia_graph_node_get_attr_string (graph, node, "direction", "forward", NULL);
  if (g_str_equal (direction, "forward"))
    s->n_dirs = 1;
  else if (g_str_equal (direction, "reverse")) {
    s->n_dirs = 1;
    s->reverse = TRUE;
  } else if (g_str_equal (direction, "bidirectional"))
    s->n_dirs = 2;
  else {
    cpu_node_error (error, graph, node, "attribute 'direction' has an unknown value '%s'",
                    direction);
    return NULL;
  }

  s->hidden_size = -1;
  if (glia_graph_node_has_attr (graph, node, "hidden_size")) {
    s->hidden_size = glia_graph_node_get_attr_int (graph, node, "hidden_size", 0);
    if (s->hidden_size < 1) {
      cpu_node_error (error, graph, node,
                      "attribute 'hidden_size' must be positive, got %" G_GINT64_FORMAT,
                      s->hidden_size);
      return NULL;
    }
  }

  if (!cpu_parse_flag (graph, node, "layout", 0, &s->batch_major, error))
    return NULL;
  if (s->batch_major && glia_graph_node_get_opset (graph, node) < 14) {
    cpu_node_error (error, graph, node, "attribute 'layout' exists only since opset 14");
    return NULL;
  }

  if (glia_graph_node_has_attr (graph, node, "clip")) {
    s->has_clip = TRUE;
    s->clip = glia_graph_node_get_attr_float (graph, node, "clip", 0.0f);
    if (!(s->clip > 0.0f)) {
      cpu_node_error (error, graph, node, "attribute 'clip' must be positive, got %g",
                      (double)s->clip);
      return NULL;
    }
  }

  if (s->kind == RNN_KIND_LSTM
      && !cpu_parse_flag (graph, node, "input_forget", 0, &s->input_forget, error))
    return NULL;
  /* Any non-zero value means "linear before reset", as in other runtimes. */
  if (s->kind == RNN_KIND_GRU)
    s->linear_before_reset
        = glia_graph_node_get_attr_int (graph, node, "linear_before_reset", 0) != 0;

  if (!parse_activations (s, graph, node, error))
    return NULL;
  for (guint d = 0; d < s->n_dirs; d++)
    s->fused_cell[d] = s->kind == RNN_KIND_LSTM && !s->has_clip && !s->input_forget
                       && s->acts[d][0].kind == ACT_SIGMOID && s->acts[d][1].kind == ACT_TANH
                       && s->acts[d][2].kind == ACT_TANH;
  return g_steal_pointer (&s);
}

/* The node's attributes, and its W packed when it is a constant. */
static gpointer
rnn_create (const GliaGraph *graph, gint node, GError **error)
{
  RnnState *s = rnn_parse (graph, node, error);
  if (s == NULL)
    return NULL;
  gint wv = glia_graph_node_get_n_inputs (graph, node) > 1
                ? glia_graph_node_get_input (graph, node, 1)
                : -1;
  const GliaConstTensor *wc = wv >= 0 ? glia_graph_value_get_constant (graph, wv) : NULL;
  if (wc && wc->dtype == GLIA_DATA_TYPE_FLOAT && wc->rank == 3 && wc->dims[0] == s->n_dirs
      && wc->dims[1] > 0 && wc->dims[2] > 0
      && g_bytes_get_size (wc->data)
             == (gsize)(wc->dims[0] * wc->dims[1] * wc->dims[2]) * sizeof (float)) {
    const float *w = g_bytes_get_data (wc->data, NULL);
    s->w_rows = wc->dims[1];
    s->w_cols = wc->dims[2];
    for (guint d = 0; d < s->n_dirs; d++)
      s->w_packed[d]
          = cpu_fmm_pack (s->w_cols, s->w_rows, w + d * s->w_rows * s->w_cols, 1, s->w_cols);
  }
  return s;
}

static void
rnn_destroy (gpointer p)
{
  RnnState *s = p;
  if (s == NULL)
    return;
  for (guint d = 0; d < 2; d++)
    g_aligned_free (s->w_packed[d]);
  g_free (s);
}

/* ---- shapes ---------------------------------------------------------------- */

static gboolean
rnn_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  g_autoptr (GError) local = NULL;
  g_autofree RnnState *s = rnn_parse (graph, node, &local);
  if (s == NULL) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }

  gint64 seq = -1, batch = -1, hidden = s->hidden_size;
  if (glia_shape_context_get_input_rank (ctx, 0) == 3) {
    const gint64 *x = glia_shape_context_get_input_dims (ctx, 0);
    seq = x[s->batch_major ? 1 : 0];
    batch = x[s->batch_major ? 0 : 1];
  } else if (glia_shape_context_get_input_rank (ctx, 0) >= 0) {
    cpu_shape_error (error, ctx, "X must have rank 3, got %d",
                     glia_shape_context_get_input_rank (ctx, 0));
    return FALSE;
  }
  if (hidden < 0 && glia_shape_context_get_input_rank (ctx, 2) == 3)
    hidden = glia_shape_context_get_input_dims (ctx, 2)[2];

  gint64 nd = s->n_dirs;
  gint64 y[4], state[3];
  if (s->batch_major) {
    y[0] = batch, y[1] = seq, y[2] = nd, y[3] = hidden;
    state[0] = batch, state[1] = nd, state[2] = hidden;
  } else {
    y[0] = seq, y[1] = nd, y[2] = batch, y[3] = hidden;
    state[0] = nd, state[1] = batch, state[2] = hidden;
  }
  guint n_out = glia_shape_context_get_n_outputs (ctx);
  for (guint i = 0; i < n_out && i < (s->kind == RNN_KIND_LSTM ? 3u : 2u); i++)
    glia_shape_context_set_output (ctx, i, dtype, i == 0 ? 4 : 3, i == 0 ? y : state);
  return TRUE;
}

/* ---- activations ----------------------------------------------------------- */

static void
clip_values (float *v, gsize n, float limit)
{
  for (gsize i = 0; i < n; i++)
    v[i] = v[i] < -limit ? -limit : v[i] > limit ? limit : v[i];
}

static void
activate (const Activation *a, float *v, gsize n)
{
  const float alpha = a->alpha, beta = a->beta;
  switch (a->kind) {
  case ACT_SIGMOID:
    cpu_simd ()->unary (CPU_SIMD_UN_SIGMOID, v, v, n, 0.0f, 0.0f);
    break;
  case ACT_TANH:
    cpu_simd ()->unary (CPU_SIMD_UN_TANH, v, v, n, 0.0f, 0.0f);
    break;
  case ACT_RELU:
    cpu_simd ()->unary (CPU_SIMD_UN_RELU, v, v, n, 0.0f, 0.0f);
    break;
  case ACT_HARD_SIGMOID:
    for (gsize i = 0; i < n; i++)
      v[i] = fminf (fmaxf (alpha * v[i] + beta, 0.0f), 1.0f);
    break;
  case ACT_LEAKY_RELU:
    for (gsize i = 0; i < n; i++)
      v[i] = v[i] >= 0.0f ? v[i] : alpha * v[i];
    break;
  case ACT_THRESHOLDED_RELU:
    for (gsize i = 0; i < n; i++)
      v[i] = v[i] > alpha ? v[i] : 0.0f;
    break;
  case ACT_SCALED_TANH:
    for (gsize i = 0; i < n; i++)
      v[i] = alpha * tanhf (beta * v[i]);
    break;
  case ACT_AFFINE:
    for (gsize i = 0; i < n; i++)
      v[i] = alpha * v[i] + beta;
    break;
  case ACT_ELU:
    for (gsize i = 0; i < n; i++)
      v[i] = v[i] >= 0.0f ? v[i] : alpha * expm1f (v[i]);
    break;
  case ACT_SOFTSIGN:
    for (gsize i = 0; i < n; i++)
      v[i] = v[i] / (1.0f + fabsf (v[i]));
    break;
  case ACT_SOFTPLUS:
    for (gsize i = 0; i < n; i++)
      v[i] = v[i] > 20.0f ? v[i] : log1pf (expf (v[i]));
    break;
  }
}

/* ---- one direction --------------------------------------------------------- */

/* Sizes of a run and where one direction reads and writes. */
typedef struct
{
  const RnnState *s;
  gint64 seq, batch, input, hidden;
  guint dir;
  gboolean reverse;
  const gint64 *lens;     /* per batch entry */
  const Activation *acts; /* this direction's f, g, h */
  const float *x;         /* [seq*batch rows, input] in X's order */
  const float *w, *r;     /* this direction's [G*H, input], [G*H, H] */
  const float *w_packed;  /* w packed for cpu_fmm_gemm(), or NULL */
  const float *p;         /* [3H] or NULL */
  float *y, *y_h, *y_c;   /* outputs or NULL */
  float *xw;              /* [seq*batch rows, G*H]: X W^T + biases */
  float *gates;           /* [batch, G*H] */
  float *h, *c;           /* [batch, H] states */
  float *rh;              /* GRU: [batch, H], r (.) H */
  const float *rb_h;      /* GRU with linear_before_reset: Rbh [H] */
  gint64 t;               /* the step being run */
} RnnRun;

/* Row of X (and of xw) of time @t for batch entry @b. */
static gsize
x_row (const RnnRun *run, gint64 t, gint64 b)
{
  return (gsize)(run->s->batch_major ? b * run->seq + t : t * run->batch + b);
}

/* Offset of Y[t, dir, b, :]. */
static gsize
y_offset (const RnnRun *run, gint64 t, gint64 b)
{
  gint64 nd = run->s->n_dirs;
  if (run->s->batch_major)
    return (gsize)(((b * run->seq + t) * nd + run->dir) * run->hidden);
  return (gsize)(((t * nd + run->dir) * run->batch + b) * run->hidden);
}

/* Offset of the state [dir, b, :] in initial_h, initial_c, Y_h and Y_c. */
static gsize
state_offset (const RnnRun *run, gint64 b)
{
  gint64 nd = run->s->n_dirs;
  if (run->s->batch_major)
    return (gsize)((b * nd + run->dir) * run->hidden);
  return (gsize)((run->dir * run->batch + b) * run->hidden);
}

/* Time that step run->t reads for batch entry @b, or -1 when it is done. */
static gint64
step_time (const RnnRun *run, gint64 b)
{
  if (run->t >= run->lens[b])
    return -1;
  return run->reverse ? run->lens[b] - 1 - run->t : run->t;
}

/* The gates' pre-activations: the recurrent product plus X's row. */
static float *
gates_with_input (const RnnRun *run, gint64 b, gint64 t, gsize n)
{
  gsize gh = (gsize)run->s->n_gates * (gsize)run->hidden;
  float *g = run->gates + (gsize)b * gh;
  const float *xw = run->xw + x_row (run, t, b) * gh;
  for (gsize j = 0; j < n; j++)
    g[j] += xw[j];
  return g;
}

static void
emit (const RnnRun *run, gint64 b, gint64 t)
{
  if (run->y)
    memcpy (run->y + y_offset (run, t, b), run->h + (gsize)b * (gsize)run->hidden,
            (gsize)run->hidden * sizeof (float));
}

static void
rnn_rows (gsize begin, gsize end, gpointer user_data)
{
  const RnnRun *run = user_data;
  gsize hs = (gsize)run->hidden;
  for (gsize b = begin; b < end; b++) {
    gint64 t = step_time (run, (gint64)b);
    if (t < 0)
      continue;
    float *g = gates_with_input (run, (gint64)b, t, hs);
    if (run->s->has_clip)
      clip_values (g, hs, run->s->clip);
    activate (&run->acts[0], g, hs);
    memcpy (run->h + b * hs, g, hs * sizeof (float));
    emit (run, (gint64)b, t);
  }
}

static void
lstm_rows (gsize begin, gsize end, gpointer user_data)
{
  const RnnRun *run = user_data;
  const RnnState *s = run->s;
  gsize hs = (gsize)run->hidden;
  for (gsize b = begin; b < end; b++) {
    gint64 t = step_time (run, (gint64)b);
    if (t < 0)
      continue;
    float *gi = gates_with_input (run, (gint64)b, t, 4 * hs);
    float *go = gi + hs, *gf = gi + 2 * hs, *gc = gi + 3 * hs;
    float *c = run->c + b * hs, *h = run->h + b * hs;

    if (s->fused_cell[run->dir] && run->p == NULL) {
      cpu_simd ()->lstm_cell (gi, c, h, hs);
      emit (run, (gint64)b, t);
      continue;
    }

    if (run->p)
      for (gsize j = 0; j < hs; j++) {
        gi[j] += run->p[j] * c[j];
        gf[j] += run->p[2 * hs + j] * c[j];
      }
    if (s->has_clip)
      clip_values (gi, hs, s->clip);
    activate (&run->acts[0], gi, hs);
    if (s->input_forget)
      for (gsize j = 0; j < hs; j++)
        gf[j] = 1.0f - gi[j];
    else {
      if (s->has_clip)
        clip_values (gf, hs, s->clip);
      activate (&run->acts[0], gf, hs);
    }
    if (s->has_clip)
      clip_values (gc, hs, s->clip);
    activate (&run->acts[1], gc, hs);
    for (gsize j = 0; j < hs; j++)
      c[j] = gf[j] * c[j] + gi[j] * gc[j];
    if (run->p)
      for (gsize j = 0; j < hs; j++)
        go[j] += run->p[hs + j] * c[j];
    if (s->has_clip)
      clip_values (go, hs, s->clip);
    activate (&run->acts[0], go, hs);
    /* h (Ct) into the spent candidate gate */
    memcpy (gc, c, hs * sizeof (float));
    if (s->has_clip)
      clip_values (gc, hs, s->clip);
    activate (&run->acts[2], gc, hs);
    for (gsize j = 0; j < hs; j++)
      h[j] = go[j] * gc[j];
    emit (run, (gint64)b, t);
  }
}

/* GRU, first half: z and r; without linear_before_reset also r (.) H for
 * the candidate's recurrent product. */
static void
gru_gate_rows (gsize begin, gsize end, gpointer user_data)
{
  const RnnRun *run = user_data;
  const RnnState *s = run->s;
  gsize hs = (gsize)run->hidden;
  for (gsize b = begin; b < end; b++) {
    gint64 t = step_time (run, (gint64)b);
    if (t < 0)
      continue;
    float *gz = gates_with_input (run, (gint64)b, t, 2 * hs);
    float *gr = gz + hs;
    if (s->has_clip)
      clip_values (gz, 2 * hs, s->clip);
    activate (&run->acts[0], gz, 2 * hs);
    if (!s->linear_before_reset) {
      const float *h = run->h + b * hs;
      float *rh = run->rh + b * hs;
      for (gsize j = 0; j < hs; j++)
        rh[j] = gr[j] * h[j];
    }
  }
}

/* GRU, second half: the candidate h~ and the new state. */
static void
gru_state_rows (gsize begin, gsize end, gpointer user_data)
{
  const RnnRun *run = user_data;
  const RnnState *s = run->s;
  gsize hs = (gsize)run->hidden, gh = 3 * hs;
  for (gsize b = begin; b < end; b++) {
    gint64 t = step_time (run, (gint64)b);
    if (t < 0)
      continue;
    float *gz = run->gates + b * gh, *gr = gz + hs, *gh_ = gz + 2 * hs;
    const float *xw = run->xw + x_row (run, t, (gint64)b) * gh + 2 * hs;
    float *h = run->h + b * hs;
    if (s->linear_before_reset)
      for (gsize j = 0; j < hs; j++)
        gh_[j] = xw[j] + gr[j] * (gh_[j] + run->rb_h[j]);
    else
      for (gsize j = 0; j < hs; j++)
        gh_[j] += xw[j];
    if (s->has_clip)
      clip_values (gh_, hs, s->clip);
    activate (&run->acts[1], gh_, hs);
    for (gsize j = 0; j < hs; j++)
      h[j] = (1.0f - gz[j]) * gh_[j] + gz[j] * h[j];
    emit (run, (gint64)b, t);
  }
}

/* gates[:, col0 : col0 + n] = A (batch x H) R[col0 : col0 + n]^T */
static void
recurrent_gemm (RnnRun *run, const float *a, gsize col0, gsize n)
{
  gsize gh = (gsize)run->s->n_gates * (gsize)run->hidden;
  gsize hs = (gsize)run->hidden;
  if (run->batch <= RNN_MATVEC_BATCH) {
    const CpuSimdOps *ops = cpu_simd ();
    for (gint64 b = 0; b < run->batch; b++)
      ops->matvec (run->r + col0 * hs, hs, n, a + (gsize)b * hs, hs, NULL,
                   run->gates + (gsize)b * gh + col0);
    return;
  }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int)run->batch, (int)n, (int)run->hidden,
               1.0f, a, (int)run->hidden, run->r + col0 * (gsize)run->hidden, (int)run->hidden,
               0.0f, run->gates + col0, (int)gh);
}

static void
rnn_direction (RnnRun *run, GliaKernelContext *ctx, const float *bias, const float *h0,
               const float *c0)
{
  const RnnState *s = run->s;
  gsize hs = (gsize)run->hidden, gh = (gsize)s->n_gates * hs;
  gsize rows = (gsize)(run->seq * run->batch);

  /* every SGEMM here is issued from this (the calling) thread; small ones
   * (the input product of a short sequence, the recurrent product at a
   * small batch) run faster on one BLAS thread than on several */
  double input_flops = 2.0 * (double)rows * (double)gh * (double)run->input;
  double step_flops = 2.0 * (double)run->batch * (double)gh * (double)hs;
  cpu_blas_set_threads (
      MAX (input_flops, step_flops) < 4e6 ? 1 : glia_kernel_context_get_n_threads (ctx));

  /* xw = X W^T + Wb + Rb (GRU with linear_before_reset: Rbh stays apart,
   * inside the reset product). */
  if (run->input > 0 && run->w_packed)
    cpu_fmm_gemm ((gint64)rows, run->input, (gint64)gh, run->x, run->input, run->w_packed, run->xw,
                  (gint64)gh);
  else if (run->input > 0)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)gh, (int)run->input, 1.0f,
                 run->x, (int)run->input, run->w, (int)run->input, 0.0f, run->xw, (int)gh);
  else
    memset (run->xw, 0, rows * gh * sizeof (float));
  if (bias) {
    gboolean lbr = s->kind == RNN_KIND_GRU && s->linear_before_reset;
    for (gsize i = 0; i < rows; i++) {
      float *xw = run->xw + i * gh;
      for (gsize j = 0; j < gh; j++)
        xw[j] += bias[j] + (lbr && j >= 2 * hs ? 0.0f : bias[gh + j]);
    }
    run->rb_h = bias + gh + 2 * hs;
  }

  for (gint64 b = 0; b < run->batch; b++) {
    gsize off = state_offset (run, b);
    if (h0)
      memcpy (run->h + (gsize)b * hs, h0 + off, hs * sizeof (float));
    if (c0)
      memcpy (run->c + (gsize)b * hs, c0 + off, hs * sizeof (float));
    if (run->y)
      for (gint64 t = run->lens[b]; t < run->seq; t++)
        memset (run->y + y_offset (run, t, b), 0, hs * sizeof (float));
  }
  if (h0 == NULL)
    memset (run->h, 0, (gsize)run->batch * hs * sizeof (float));
  if (c0 == NULL && run->c)
    memset (run->c, 0, (gsize)run->batch * hs * sizeof (float));

  gint64 steps = 0;
  for (gint64 b = 0; b < run->batch; b++)
    steps = MAX (steps, run->lens[b]);
  gsize grain = MAX (1, CPU_GRAIN / (4 * gh));
  for (run->t = 0; run->t < steps; run->t++) {
    switch (s->kind) {
    case RNN_KIND_RNN:
      recurrent_gemm (run, run->h, 0, hs);
      glia_kernel_context_parallel_for (ctx, (gsize)run->batch, grain, rnn_rows, run);
      break;
    case RNN_KIND_LSTM:
      recurrent_gemm (run, run->h, 0, 4 * hs);
      glia_kernel_context_parallel_for (ctx, (gsize)run->batch, grain, lstm_rows, run);
      break;
    case RNN_KIND_GRU:
      recurrent_gemm (run, run->h, 0, s->linear_before_reset ? 3 * hs : 2 * hs);
      glia_kernel_context_parallel_for (ctx, (gsize)run->batch, grain, gru_gate_rows, run);
      if (!s->linear_before_reset)
        recurrent_gemm (run, run->rh, 2 * hs, hs);
      glia_kernel_context_parallel_for (ctx, (gsize)run->batch, grain, gru_state_rows, run);
      break;
    }
  }

  for (gint64 b = 0; b < run->batch; b++) {
    gsize off = state_offset (run, b);
    gboolean empty = run->lens[b] == 0;
    if (run->y_h) {
      if (empty)
        memset (run->y_h + off, 0, hs * sizeof (float));
      else
        memcpy (run->y_h + off, run->h + (gsize)b * hs, hs * sizeof (float));
    }
    if (run->y_c) {
      if (empty)
        memset (run->y_c + off, 0, hs * sizeof (float));
      else
        memcpy (run->y_c + off, run->c + (gsize)b * hs, hs * sizeof (float));
    }
  }
}

/* ---- compute --------------------------------------------------------------- */

/* Checks that @v (when given) is float32 with dims @want. */
static gboolean
check_input (GliaKernelContext *ctx, const GliaTensorView *v, const char *name, guint rank,
             const gint64 *want, GError **error)
{
  if (v == NULL)
    return TRUE;
  gboolean ok = v->dtype == GLIA_DATA_TYPE_FLOAT && v->rank == rank;
  for (guint i = 0; ok && i < rank; i++)
    ok = v->dims[i] == want[i];
  if (!ok) {
    g_autofree char *got = cpu_dims_to_string (v->rank, v->dims);
    g_autofree char *exp = cpu_dims_to_string (rank, want);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s must be float32 %s, got %s %s",
                      name, exp, glia_data_type_get_name (v->dtype), got);
  }
  return ok;
}

static gboolean
rnn_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const RnnState *s = state;
  gboolean lstm = s->kind == RNN_KIND_LSTM;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  const GliaTensorView *w = x ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *r = w ? cpu_require_input (ctx, 2, error) : NULL;
  if (r == NULL)
    return FALSE;
  const GliaTensorView *b = cpu_optional_input (ctx, 3);
  const GliaTensorView *lens_in = cpu_optional_input (ctx, 4);
  const GliaTensorView *h0 = cpu_optional_input (ctx, 5);
  const GliaTensorView *c0 = lstm ? cpu_optional_input (ctx, 6) : NULL;
  const GliaTensorView *p = lstm ? cpu_optional_input (ctx, 7) : NULL;

  if (x->dtype != GLIA_DATA_TYPE_FLOAT || x->rank != 3) {
    g_autofree char *dx = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "X must be float32 of rank 3, got %s %s", glia_data_type_get_name (x->dtype),
                      dx);
    return FALSE;
  }
  gint64 nd = s->n_dirs, ng = s->n_gates;
  gint64 seq = x->dims[s->batch_major ? 1 : 0], batch = x->dims[s->batch_major ? 0 : 1];
  gint64 input = x->dims[2];
  gint64 hidden = s->hidden_size;
  if (hidden < 0)
    hidden = r->rank == 3 ? r->dims[2] : 0;

  gint64 wd[3] = { nd, ng * hidden, input }, rd[3] = { nd, ng * hidden, hidden };
  gint64 bd[2] = { nd, 2 * ng * hidden }, pd[2] = { nd, 3 * hidden };
  gint64 sd[3] = { nd, batch, hidden };
  if (s->batch_major)
    sd[0] = batch, sd[1] = nd;
  if (!check_input (ctx, w, "W", 3, wd, error) || !check_input (ctx, r, "R", 3, rd, error)
      || !check_input (ctx, b, "B", 2, bd, error)
      || !check_input (ctx, h0, "initial_h", 3, sd, error)
      || !check_input (ctx, c0, "initial_c", 3, sd, error)
      || !check_input (ctx, p, "P", 2, pd, error))
    return FALSE;
  if (lens_in
      && (lens_in->rank != 1 || lens_in->dims[0] != batch
          || (lens_in->dtype != GLIA_DATA_TYPE_INT32 && lens_in->dtype != GLIA_DATA_TYPE_INT64))) {
    g_autofree char *dl = cpu_dims_to_string (lens_in->rank, lens_in->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "sequence_lens must be int32 [%" G_GINT64_FORMAT "], got %s %s", batch,
                      glia_data_type_get_name (lens_in->dtype), dl);
    return FALSE;
  }
  if (!cpu_fits_blas_int (seq * batch) || !cpu_fits_blas_int (ng * hidden)
      || !cpu_fits_blas_int (input)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "dimensions exceed the BLAS integer range");
    return FALSE;
  }

  gint64 yd[4] = { seq, nd, batch, hidden };
  if (s->batch_major)
    yd[0] = batch, yd[1] = seq, yd[2] = nd;
  GliaTensorView *out[3] = { NULL, NULL, NULL };
  for (guint i = 0; i < (lstm ? 3u : 2u); i++)
    if (cpu_kernel_has_output (ctx, i)
        && (out[i] = glia_kernel_context_allocate_output (ctx, i, GLIA_DATA_TYPE_FLOAT, i ? 3 : 4,
                                                          i ? sd : yd, error))
               == NULL)
      return FALSE;
  if (batch == 0 || hidden == 0)
    return TRUE;

  gsize hs = (gsize)hidden, gh = (gsize)(ng * hidden), rows = (gsize)(seq * batch);
  gsize n_floats = (rows + (gsize)batch) * gh + (gsize)batch * hs * 3 + hs;
  gsize bytes;
  if (!g_size_checked_mul (&bytes, n_floats, sizeof (float))
      || !g_size_checked_add (&bytes, bytes, (gsize)batch * sizeof (gint64))) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT, "the work buffers would be too large");
    return FALSE;
  }
  gint64 *lens = glia_kernel_context_get_scratch (ctx, bytes, error);
  if (lens == NULL)
    return FALSE;
  for (gint64 i = 0; i < batch; i++) {
    lens[i] = seq;
    if (lens_in)
      lens[i] = lens_in->dtype == GLIA_DATA_TYPE_INT32 ? ((const gint32 *)lens_in->data)[i]
                                                       : ((const gint64 *)lens_in->data)[i];
    if (lens[i] < 0 || lens[i] > seq) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "sequence_lens[%" G_GINT64_FORMAT "] = %" G_GINT64_FORMAT
                        " is outside [0, %" G_GINT64_FORMAT "]",
                        i, lens[i], seq);
      return FALSE;
    }
  }
  float *work = (float *)(lens + batch);

  RnnRun run = {
    .s = s,
    .seq = seq,
    .batch = batch,
    .input = input,
    .hidden = hidden,
    .lens = lens,
    .x = x->data,
    .xw = work,
    .gates = work + rows * gh,
    .h = work + (rows + (gsize)batch) * gh,
  };
  run.c = run.h + (gsize)batch * hs;
  run.rh = run.c + (gsize)batch * hs;
  float *zeros = run.rh + (gsize)batch * hs;
  memset (zeros, 0, hs * sizeof (float));
  memset (run.rh, 0, (gsize)batch * hs * sizeof (float));
  for (guint d = 0; d < s->n_dirs; d++) {
    run.dir = d;
    run.reverse = s->reverse || d == 1;
    run.acts = s->acts[d];
    run.w = (const float *)w->data + d * gh * (gsize)input;
    /* the packed copy is of the constant W the node had at creation */
    run.w_packed
        = s->w_packed[d] && s->w_rows == (gint64)gh && s->w_cols == input ? s->w_packed[d] : NULL;
    run.r = (const float *)r->data + d * gh * hs;
    run.p = p ? (const float *)p->data + d * 3 * hs : NULL;
    run.y = out[0] ? out[0]->data : NULL;
    run.y_h = out[1] ? out[1]->data : NULL;
    run.y_c = out[2] ? out[2]->data : NULL;
    run.rb_h = zeros;
    rnn_direction (&run, ctx, b ? (const float *)b->data + d * 2 * gh : NULL, h0 ? h0->data : NULL,
                   c0 ? c0->data : NULL);
  }
  return TRUE;
}

#define RNN_DEF(NAME)                                                                              \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = 1,             \
    .until_version = G_MAXINT, .dtypes = GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT),                    \
    .infer_shapes = rnn_infer_shapes, .create = rnn_create, .compute = rnn_compute,                \
    .destroy = rnn_destroy,                                                                        \
  }

/* Opset 1's output_sequence attribute only said whether Y is wanted, which
 * the node's outputs already say; layout is checked against the opset in
 * rnn_create(). */
static const GliaOpDef rnn_ops[] = {
  RNN_DEF ("LSTM"),
  RNN_DEF ("GRU"),
  RNN_DEF ("RNN"),
};

void
cpu_rnn_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (rnn_ops); i++)
    glia_op_table_add (table, &rnn_ops[i]);
}
