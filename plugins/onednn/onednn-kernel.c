/* onednn-kernel.c: one claimed region compiled into oneDNN primitives.
 *
 * At compile time the region's nodes become ops: activations and a residual
 * Add that follow a conv or GEMM (whose result nothing else reads) fold into
 * its post-ops (eltwise, sum), as does a swish (x * Sigmoid(x), a Sigmoid
 * and a Mul, also after a binary op), and the constants the primitives need
 * (conv and GEMM weights, bias, batch-norm statistics) are taken from the
 * graph. A residual that nothing reads later is accumulated into in place
 * (no copy). MatMul-like ops flatten A's leading axes into one 2-D matmul.
 *
 * A plan is the region built for one signature (the dims of its inputs):
 * primitives created with format_tag any for conv and GEMM so oneDNN picks
 * its blocked layouts, every other primitive taking its input's layout as
 * it is; reorders only where a primitive wants another layout, at region
 * inputs (from plain row-major) and at region outputs (to plain). Weights
 * are reordered into the layout a plan's primitive wants once and shared by
 * plans that want the same. Plans are cached per signature (at most
 * PLAN_CACHE_SIZE); when the region's input shapes are known at compile
 * time the plan (and the prepacked weights) is built then.
 *
 * A plan owns its intermediate buffers, so runs of one region are
 * serialised by the region's lock (concurrent session runs still overlap
 * elsewhere).
 */
#define G_LOG_DOMAIN "Glia-oneDNN"

#include "onednn-private.h"

#include <dnnl.h>
#include <dnnl_debug.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include "onednn-avx512.h"
#endif

#define PLAN_CACHE_SIZE 8
#define MAX_POST        8
#define MAX_ARGS        16

typedef struct
{
  gboolean is_sum;
  dnnl_alg_kind_t alg;
  float alpha, beta;
} PostOp;

typedef struct
{
  dnnl_memory_desc_t md;
  dnnl_memory_t mem; /* over onednn_weights_alloc()'s memory */
} Packed;

typedef struct
{
  OnednnOpKind kind;
  gint node;  /* the op's own node, for names */
  gint pos;   /* its last fused node: ops run in this order */
  GArray *in; /* data inputs, value ids (-1 = omitted) */
  gint out;   /* value the op produces (its last fused node's output) */
  OnednnWindow win;
  OnednnPoolKind pool;
  OnednnAct act; /* standalone eltwise */
  gint axis;
  float alpha, beta, bias_k, epsilon;
  gint64 size;
  dnnl_alg_kind_t binary_alg;
  PostOp post[MAX_POST];
  guint n_post;
  gint sum_value;
  gboolean sum_inplace; /* the residual is dead after this op: write into it */
  gboolean feeds_dw;    /* its output's one reader is a depthwise Conv */
  gboolean feeds_pw;    /* its output's one reader is a 1x1 Conv */
  /* constants */
  GBytes *weights; /* conv [OC, IC/G, k...]; GEMM [K, N] row-major (alpha applied) */
  gint64 wdims[GLIA_MAX_RANK];
  guint wrank;
  GBytes *bias;  /* [OC] or [N] (beta applied) */
  GBytes *bn[4]; /* scale, shift, mean, variance */
  dnnl_memory_t bn_mem[4];
  GPtrArray *packed; /* Packed */
} Op;

/* A concat done by the region itself (see build_concat_copy): each
 * input's elements for one outer index are one contiguous run. */
typedef struct
{
  guint n;
  gint64 outer;
  gint64 *chunk;  /* per input, elements per outer index */
  gint64 *offset; /* per input, where its chunk starts in a destination row */
  gint64 dst_row; /* sum of the chunks */
} CopyConcat;

/* An inverted residual block run band by band (see build_mbconv): an
 * optional expansion, a depthwise convolution, an optional projection. */
typedef struct
{
  OnednnPw *e, *p;
  OnednnDw *d;
  gint64 *e_koff, e_pix; /* x's layout for the expansion */
  gint64 x_cb, x_blk;    /* x's channel blocks and their size (blocked x) */
  gsize halo;            /* floats: offset of a thread's halo rows in its scratch */
  gint64 *h_koff;        /* the halo rows' layout for the expansion */
  gint64 halo_rows;      /* at most, above and below a thread's rows */
  gint64 *p_koff;        /* the depthwise band's layout for the projection */
  gint64 h, w, oh, ow;   /* the depthwise convolution's input and output */
  gint64 hb, ob;         /* expansion rows per band, depthwise rows per band */
  gint64 x_image, y_image, y_stride;
  gsize ebuf, dbuf, ring, pack, scratch; /* floats: offsets into a thread's scratch, its size */
} MbConv;

/* A squeeze-and-excitation block (see build_se): y = x * sigmoid (W2 act
 * (W1 mean (x) + b1) + b2), per image and channel. */
typedef struct
{
  gint64 n, c, cr, hw;
  const float *w1, *b1; /* [cr][c], [cr] or NULL */
  float *w2t;           /* [cr][c]: the second product's weights, transposed */
  const float *b2;      /* [c] or NULL */
  OnednnDwAct act;      /* after the first product */
  float alpha, beta;
} SqueezeExcite;

/* One step of a plan: a oneDNN primitive, or (prim NULL) a copy concat
 * over args (sources then the destination). */
typedef struct
{
  dnnl_primitive_t prim;
  int n_args;
  dnnl_exec_arg_t *args;
  CopyConcat *concat;
  gboolean swish;        /* (prim NULL) x * sigmoid(x) in place on args[0] */
  OnednnDw *dw;          /* (prim NULL) the region's depthwise conv, args[0] to args[1] */
  MbConv *mb;            /* (prim NULL) a fused block: args x, y[, residual] */
  SqueezeExcite *se;     /* (prim NULL) a squeeze-and-excitation: args x, y */
  OnednnConv *conv;      /* (prim NULL) the region's direct convolution, args[0] to args[1] */
  OnednnWino *wino;      /* (prim NULL) the region's Winograd convolution, args[0] to args[1] */
  OnednnPoolShape *pool; /* (prim NULL) the region's max pooling, args[0] to args[1] */
} Exec;

typedef struct
{
  const dnnl_memory_desc_t *md; /* points into the memory object */
  dnnl_memory_t mem;
  guint rank;
  gint64 dims[GLIA_MAX_RANK];
} Val;

typedef struct
{
  dnnl_memory_t view, of;
} Alias;

typedef struct
{
  gint64 *sig;
  guint sig_len;
  GArray *execs;   /* Exec */
  GPtrArray *mems; /* owned dnnl_memory_t */
  GPtrArray *acts; /* those of mems whose buffer oneDNN allocated (activations) */
  void *arena;     /* the activations' shared buffer (plan_share_buffers) */
  dnnl_memory_t *in_mem;
  dnnl_memory_t *out_mem;
  GArray *aliases; /* Alias: views of region inputs or outputs with another md */
  guint *out_rank;
  gint64 (*out_dims)[GLIA_MAX_RANK];
  double work; /* about the flops of a run (primitive_work) */
  /* the region's own steps' scratch, one slice of scratch_stride floats
   * per thread (runs of a region are serialised, so one per plan) */
  float *scratch;
  gsize scratch_stride;
} Plan;

/* A plan with less work than this runs on one thread: waking the OpenMP
 * workers costs more than they save (an LSTM's classifier head: 0.15 ms
 * per run at one thread, 0.17 at two). About 10 us at 200 GFLOP/s. */
#define SMALL_PLAN_WORK 2e6

typedef struct
{
  GliaGraph *graph;
  GArray *ops; /* Op */
  gint *inputs;
  guint n_inputs;
  gint *outputs;
  guint n_outputs;
  guint n_threads;
  OnednnConvAlgo conv_algo;
  OnednnDwImpl depthwise;
  OnednnDirectImpl direct_conv;
  gboolean verbose; /* GLIA_ONEDNN_VERBOSE: time every step (step_line) */
  gboolean block_fusion;
  char *conv_cache;  /* the choice file, NULL for none */
  gboolean creating; /* building a plan at session creation, not in a run */
  gboolean tune;     /* ep.onednn.conv-tuning=network (tune_plan) */
  GMutex lock;
  GPtrArray *plans;
  dnnl_stream_t stream;
} Region;

static dnnl_engine_t engine;

static const char *
status_name (dnnl_status_t s)
{
  switch (s) {
  case dnnl_success:
    return "success";
  case dnnl_out_of_memory:
    return "out of memory";
  case dnnl_invalid_arguments:
    return "invalid arguments";
  case dnnl_unimplemented:
    return "unimplemented";
  case dnnl_iterator_ends:
    return "iterator ends";
  case dnnl_runtime_error:
    return "runtime error";
  case dnnl_not_required:
    return "not required";
  }
  return "unknown status";
}

static gboolean
check (dnnl_status_t s, const Region *r, const Op *op, const char *what, GError **error)
{
  if (s == dnnl_success)
    return TRUE;
  g_set_error (error, GLIA_ERROR,
               s == dnnl_out_of_memory ? GLIA_ERROR_RESOURCE_LIMIT : GLIA_ERROR_DEVICE,
               "oneDNN %s failed (%s) for node '%s' (%s)", what, status_name (s),
               op ? glia_graph_node_get_name (r->graph, op->node) : "(region edge)",
               op ? glia_graph_node_get_op_type (r->graph, op->node) : "reorder");
  return FALSE;
}

/* ---- compile: nodes to ops ---------------------------------------------- */

static void
packed_free (Packed *pk)
{
  void *buf = NULL;
  dnnl_memory_get_data_handle (pk->mem, &buf);
  dnnl_memory_destroy (pk->mem);
  onednn_weights_free (buf, dnnl_memory_desc_get_size (&pk->md));
  g_free (pk);
}

static void
op_clear (gpointer p)
{
  Op *op = p;
  g_clear_pointer (&op->in, g_array_unref);
  g_clear_pointer (&op->weights, g_bytes_unref);
  g_clear_pointer (&op->bias, g_bytes_unref);
  for (guint i = 0; i < 4; i++) {
    g_clear_pointer (&op->bn[i], g_bytes_unref);
    if (op->bn_mem[i])
      dnnl_memory_destroy (op->bn_mem[i]);
  }
  if (op->packed) {
    for (guint i = 0; i < op->packed->len; i++)
      packed_free (g_ptr_array_index (op->packed, i));
    g_ptr_array_unref (op->packed);
  }
}

static gboolean
act_to_post (const OnednnAct *act, PostOp *post, guint *n)
{
  if (act->kind == ONEDNN_ACT_NONE)
    return TRUE;
  if (*n + 2 > MAX_POST)
    return FALSE;
  PostOp *p = &post[(*n)++];
  p->is_sum = FALSE;
  p->alpha = p->beta = 0;
  switch (act->kind) {
  case ONEDNN_ACT_RELU:
    p->alg = dnnl_eltwise_relu;
    break;
  case ONEDNN_ACT_LEAKY_RELU:
    p->alg = dnnl_eltwise_relu;
    p->alpha = act->alpha;
    break;
  case ONEDNN_ACT_CLIP:
    p->alg = dnnl_eltwise_clip_v2;
    p->alpha = act->alpha;
    p->beta = act->beta;
    break;
  case ONEDNN_ACT_SIGMOID:
    p->alg = dnnl_eltwise_logistic;
    break;
  case ONEDNN_ACT_TANH:
    p->alg = dnnl_eltwise_tanh;
    break;
  case ONEDNN_ACT_HARD_SWISH:
    p->alg = dnnl_eltwise_hardswish;
    break;
  case ONEDNN_ACT_ELU:
    p->alg = dnnl_eltwise_elu;
    p->alpha = act->alpha;
    break;
  case ONEDNN_ACT_SWISH:
    p->alg = dnnl_eltwise_swish;
    p->alpha = 1.0f;
    break;
  case ONEDNN_ACT_HARD_SIGMOID:
    p->alg = dnnl_eltwise_linear;
    p->alpha = act->alpha;
    p->beta = act->beta;
    p = &post[(*n)++];
    p->is_sum = FALSE;
    p->alg = dnnl_eltwise_clip_v2;
    p->alpha = 0;
    p->beta = 1;
    break;
  case ONEDNN_ACT_NONE:
    break;
  }
  return TRUE;
}

static GBytes *
const_bytes (const GliaGraph *g, gint v)
{
  const GliaConstTensor *c = glia_graph_value_get_constant (g, v);
  return g_bytes_ref (c->data);
}

static void
op_init (Region *r, Op *op, gint node, OnednnOpKind kind, const OnednnAct *act)
{
  const GliaGraph *g = r->graph;
  const char *optype = glia_graph_node_get_op_type (g, node);
  guint n_in = glia_graph_node_get_n_inputs (g, node);
  memset (op, 0, sizeof *op);
  op->kind = kind;
  op->node = node;
  op->out = glia_graph_node_get_output (g, node, 0);
  op->sum_value = -1;
  op->in = g_array_new (FALSE, FALSE, sizeof (gint));
  gint x = glia_graph_node_get_input (g, node, 0);
  g_array_append_val (op->in, x);

  switch (kind) {
  case ONEDNN_OP_CONV:
  case ONEDNN_OP_DECONV: {
    gint w = glia_graph_node_get_input (g, node, 1);
    const GliaConstTensor *wc = glia_graph_value_get_constant (g, w);
    op->weights = g_bytes_ref (wc->data);
    op->wrank = wc->rank;
    memcpy (op->wdims, wc->dims, wc->rank * sizeof (gint64));
    onednn_window_parse (g, node, wc->rank - 2, wc->dims + 2, &op->win);
    if (kind == ONEDNN_OP_DECONV)
      onednn_deconv_window (g, node, &op->win);
    if (n_in > 2 && glia_graph_node_get_input (g, node, 2) >= 0)
      op->bias = const_bytes (g, glia_graph_node_get_input (g, node, 2));
    if (n_in > 3 && glia_graph_node_get_input (g, node, 3) >= 0) {
      op->sum_value = glia_graph_node_get_input (g, node, 3);
      op->post[op->n_post++] = (PostOp){ .is_sum = TRUE };
    }
    act_to_post (act, op->post, &op->n_post);
    break;
  }
  case ONEDNN_OP_GEMM: {
    gboolean matmul = g_str_equal (optype, "MatMul") || g_str_equal (optype, "FusedMatMul");
    const GliaConstTensor *bc
        = glia_graph_value_get_constant (g, glia_graph_node_get_input (g, node, 1));
    gboolean tb = !matmul && glia_graph_node_get_attr_int (g, node, "transB", 0);
    float alpha = matmul ? 1.0f : glia_graph_node_get_attr_float (g, node, "alpha", 1.0f);
    float beta = matmul ? 1.0f : glia_graph_node_get_attr_float (g, node, "beta", 1.0f);
    gint64 k = bc->dims[tb ? 1 : 0], n = bc->dims[tb ? 0 : 1];
    const float *b = g_bytes_get_data (bc->data, NULL);
    if (!tb && alpha == 1.0f)
      op->weights = g_bytes_ref (bc->data); /* no private copy */
    else {
      float *wk = g_new (float, k *n);
      for (gint64 i = 0; i < k; i++)
        for (gint64 j = 0; j < n; j++)
          wk[i * n + j] = alpha * (tb ? b[j * k + i] : b[i * n + j]);
      op->weights = g_bytes_new_take (wk, k * n * sizeof (float));
    }
    op->wrank = 2;
    op->wdims[0] = k;
    op->wdims[1] = n;
    gint c = n_in > 2 ? glia_graph_node_get_input (g, node, 2) : -1;
    if (c >= 0 && beta != 0.0f) {
      const GliaConstTensor *cc = glia_graph_value_get_constant (g, c);
      const float *cv = g_bytes_get_data (cc->data, NULL);
      gsize nc = g_bytes_get_size (cc->data) / sizeof (float);
      float *bias = g_new (float, n);
      for (gint64 j = 0; j < n; j++)
        bias[j] = beta * cv[nc == 1 ? 0 : j];
      op->bias = g_bytes_new_take (bias, n * sizeof (float));
    }
    act_to_post (act, op->post, &op->n_post);
    break;
  }
  case ONEDNN_OP_POOL: {
    gint rank = glia_graph_value_get_rank (g, x);
    op->pool = onednn_pool_kind (g, node);
    if (g_str_has_prefix (optype, "Global")) {
      memset (&op->win, 0, sizeof op->win);
      op->win.n_spatial = rank - 2;
      op->win.global = TRUE;
    } else
      onednn_window_parse (g, node, rank - 2, NULL, &op->win);
    break;
  }
  case ONEDNN_OP_BNORM:
    op->epsilon = glia_graph_node_get_attr_float (g, node, "epsilon", 1e-5f);
    for (guint i = 0; i < 4; i++)
      op->bn[i] = const_bytes (g, glia_graph_node_get_input (g, node, i + 1));
    break;
  case ONEDNN_OP_LRN:
    op->size = glia_graph_node_get_attr_int (g, node, "size", 1);
    op->alpha = glia_graph_node_get_attr_float (g, node, "alpha", 1e-4f);
    op->beta = glia_graph_node_get_attr_float (g, node, "beta", 0.75f);
    op->bias_k = glia_graph_node_get_attr_float (g, node, "bias", 1.0f);
    break;
  case ONEDNN_OP_ELTWISE:
    op->act = *act;
    break;
  case ONEDNN_OP_SOFTMAX: {
    gint rank = glia_graph_value_get_rank (g, x);
    gint64 axis = glia_graph_node_get_attr_int (g, node, "axis",
                                                glia_graph_node_get_opset (g, node) < 13 ? 1 : -1);
    op->axis = axis < 0 ? axis + rank : axis;
    break;
  }
  case ONEDNN_OP_CONCAT: {
    gint rank = glia_graph_value_get_rank (g, x);
    gint64 axis = glia_graph_node_get_attr_int (g, node, "axis", 0);
    op->axis = axis < 0 ? axis + rank : axis;
  }
    /* fall through */
  case ONEDNN_OP_BINARY:
    op->binary_alg = g_str_equal (optype, "Mul")   ? dnnl_binary_mul
                     : g_str_equal (optype, "Sub") ? dnnl_binary_sub
                     : g_str_equal (optype, "Div") ? dnnl_binary_div
                                                   : dnnl_binary_add;
    /* fall through */
  case ONEDNN_OP_SUM:
    for (guint i = 1; i < n_in; i++) {
      gint v = glia_graph_node_get_input (g, node, i);
      g_array_append_val (op->in, v);
    }
    break;
  case ONEDNN_OP_NONE:
    break;
  }
  if (kind == ONEDNN_OP_SUM)
    op->binary_alg = dnnl_binary_add; /* when the shapes turn out to differ */
  op->packed = g_ptr_array_new ();
}

/* The one consumer of @v if it is in the region, else -1 (also when @v is
 * a graph output or read by several nodes). */
static gint
sole_consumer (const GliaGraph *g, gint v, const guint8 *in_region)
{
  for (guint i = 0; i < glia_graph_get_n_outputs (g); i++)
    if (glia_graph_get_output (g, i) == v)
      return -1;
  gint found = -1;
  guint n_nodes = glia_graph_get_n_nodes (g);
  for (guint node = 0; node < n_nodes; node++)
    for (guint i = 0; i < glia_graph_node_get_n_inputs (g, node); i++)
      if (glia_graph_node_get_input (g, node, i) == v) {
        if (found >= 0 && found != (gint)node)
          return -1;
        found = node;
      }
  return found >= 0 && in_region[found] ? found : -1;
}

/* Whether @v feeds exactly a Sigmoid and a Mul of @v by that sigmoid, both
 * in the region and nothing else reading @v or the sigmoid: x * sigmoid(x),
 * one swish. Gives both nodes. */
static gboolean
swish_pair (const GliaGraph *g, gint v, const guint8 *in_region, const guint8 *fused, gint *sig,
            gint *mul)
{
  for (guint i = 0; i < glia_graph_get_n_outputs (g); i++)
    if (glia_graph_get_output (g, i) == v)
      return FALSE;
  gint found[2] = { -1, -1 };
  guint n_found = 0;
  guint n_nodes = glia_graph_get_n_nodes (g);
  for (guint node = 0; node < n_nodes; node++)
    for (guint i = 0; i < glia_graph_node_get_n_inputs (g, node); i++)
      if (glia_graph_node_get_input (g, node, i) == v) {
        if (n_found == 2 && found[1] != (gint)node)
          return FALSE;
        if (n_found == 0 || found[n_found - 1] != (gint)node)
          found[n_found++] = node;
      }
  if (n_found != 2)
    return FALSE;
  for (guint k = 0; k < 2; k++) {
    gint s = found[k], m = found[1 - k];
    OnednnAct a;
    if (!in_region[s] || !in_region[m] || fused[s] || fused[m]
        || !g_str_equal (glia_graph_node_get_op_type (g, s), "Sigmoid")
        || !g_str_equal (glia_graph_node_get_op_type (g, m), "Mul")
        || !onednn_node_activation (g, s, &a) || onednn_classify (g, m, NULL) != ONEDNN_OP_BINARY)
      continue;
    gint sv = glia_graph_node_get_output (g, s, 0);
    gint m0 = glia_graph_node_get_input (g, m, 0), m1 = glia_graph_node_get_input (g, m, 1);
    if (!((m0 == v && m1 == sv) || (m0 == sv && m1 == v)) || sole_consumer (g, sv, in_region) != m
        || !onednn_same_shape (g, v, glia_graph_node_get_output (g, m, 0)))
      continue;
    *sig = s;
    *mul = m;
    return TRUE;
  }
  return FALSE;
}

static gint output_index (const Region *r, gint v);

/* The constant weights of the Conv in the region that is @v's one reader,
 * reading it as its data input; NULL if there is no such Conv. */
static const GliaConstTensor *
sole_conv_weights (const GliaGraph *g, gint v, const guint8 *in_region, gint *conv)
{
  gint c = sole_consumer (g, v, in_region);
  if (c < 0 || onednn_classify (g, c, NULL) != ONEDNN_OP_CONV
      || glia_graph_node_get_n_inputs (g, c) < 2 || glia_graph_node_get_input (g, c, 0) != v)
    return NULL;
  const GliaConstTensor *w = glia_graph_value_get_constant (g, glia_graph_node_get_input (g, c, 1));
  *conv = c;
  return w && w->rank == 4 ? w : NULL;
}

/* Whether the one reader of @v is a depthwise 2-D Conv in the region (one
 * constant filter per channel, at most ONEDNN_DW_MAX_K wide), which the
 * region's own kernel may take. */
static gboolean
feeds_depthwise (const GliaGraph *g, gint v, const guint8 *in_region)
{
  gint c;
  const GliaConstTensor *w = sole_conv_weights (g, v, in_region, &c);
  return w && w->dims[1] == 1 && w->dims[2] <= ONEDNN_DW_MAX_K && w->dims[3] <= ONEDNN_DW_MAX_K
         && glia_graph_node_get_attr_int (g, c, "group", 1) == w->dims[0];
}

/* Whether the one reader of @v is a 1x1 Conv in the region reading it as
 * its data input. */
static gboolean
feeds_pointwise (const GliaGraph *g, gint v, const guint8 *in_region)
{
  gint c;
  const GliaConstTensor *w = sole_conv_weights (g, v, in_region, &c);
  return w && w->dims[2] == 1 && w->dims[3] == 1
         && glia_graph_node_get_attr_int (g, c, "group", 1) == 1;
}

/* Convs with a residual (sum post-op) whose operand is made in the region,
 * leaves it through no output and is read by no later op: the conv can
 * accumulate into the operand's buffer instead of copying it first. */
static void
find_dead_residuals (Region *r)
{
  for (guint k = 0; k < r->ops->len; k++) {
    Op *op = &g_array_index (r->ops, Op, k);
    gint z = op->sum_value;
    if (z < 0 || output_index (r, z) >= 0)
      continue;
    gboolean made = FALSE, dead = TRUE;
    for (guint j = 0; j < r->ops->len && dead; j++) {
      Op *o = &g_array_index (r->ops, Op, j);
      made = made || o->out == z;
      gboolean reads = j != k && o->sum_value == z;
      for (guint i = 0; i < o->in->len && !reads; i++)
        reads = g_array_index (o->in, gint, i) == z;
      /* the conv's own input must not be overwritten while it is read */
      dead = !reads || (j != k && o->pos < op->pos);
    }
    op->sum_inplace = made && dead;
  }
}

static gint
compare_pos (gconstpointer a, gconstpointer b)
{
  return ((const Op *)a)->pos - ((const Op *)b)->pos;
}

/* What a plan's build recorded of a convolution with a choice of kernels
 * (for tune_plan): the op (its index in the region), its steps [first,
 * last) in the plan, its shape (conv_key), the implementation it runs and
 * the others it could. */
typedef struct
{
  guint op;
  guint first, last;
  char *shape;
  char *impl;
  GPtrArray *alts;
} ConvRecord;

static void
conv_record_clear (gpointer p)
{
  ConvRecord *rec = p;
  g_free (rec->shape);
  g_free (rec->impl);
  if (rec->alts)
    g_ptr_array_unref (rec->alts);
}

static void plan_free (gpointer p);
static Plan *plan_build (Region *r, const GliaTensorView *const *inputs, const char *const *force,
                         GArray *records, GError **error);
static Plan *tune_plan (Region *r, Plan *plan, const GliaTensorView *const *inputs, GArray *records,
                        const char *key);
static char *tune_key (const Region *r, const GliaTensorView *const *inputs);
static const char **known_tuning (const Region *r, const char *key, GStrv *items);
static gboolean region_compute (gpointer state, GliaKernelContext *ctx, GError **error);

static void
region_free (gpointer p)
{
  Region *r = p;
  if (r->plans)
    g_ptr_array_unref (r->plans);
  if (r->ops)
    g_array_unref (r->ops);
  if (r->stream)
    dnnl_stream_destroy (r->stream);
  g_clear_pointer (&r->graph, glia_graph_unref);
  g_free (r->conv_cache);
  g_free (r->inputs);
  g_free (r->outputs);
  g_mutex_clear (&r->lock);
  g_free (r);
}

/* The claim's external inputs and outputs, in the order the host passes
 * them (see glia-provider.h). */
static void
region_io (Region *r, const gint *nodes, guint n_nodes, const guint8 *in_region)
{
  const GliaGraph *g = r->graph;
  g_autoptr (GArray) ins = g_array_new (FALSE, FALSE, sizeof (gint));
  g_autoptr (GArray) outs = g_array_new (FALSE, FALSE, sizeof (gint));
  if (n_nodes == 1) {
    for (guint i = 0; i < glia_graph_node_get_n_inputs (g, nodes[0]); i++) {
      gint v = glia_graph_node_get_input (g, nodes[0], i);
      g_array_append_val (ins, v);
    }
    for (guint i = 0; i < glia_graph_node_get_n_outputs (g, nodes[0]); i++) {
      gint v = glia_graph_node_get_output (g, nodes[0], i);
      g_array_append_val (outs, v);
    }
  } else {
    g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
    for (guint k = 0; k < n_nodes; k++)
      for (guint i = 0; i < glia_graph_node_get_n_inputs (g, nodes[k]); i++) {
        gint v = glia_graph_node_get_input (g, nodes[k], i);
        gint p = v >= 0 ? glia_graph_value_get_producer (g, v) : -1;
        if (v < 0 || (p >= 0 && in_region[p]) || g_hash_table_contains (seen, GINT_TO_POINTER (v)))
          continue;
        g_hash_table_add (seen, GINT_TO_POINTER (v));
        g_array_append_val (ins, v);
      }
    guint n_nodes_all = glia_graph_get_n_nodes (g);
    for (guint k = 0; k < n_nodes; k++)
      for (guint o = 0; o < glia_graph_node_get_n_outputs (g, nodes[k]); o++) {
        gint v = glia_graph_node_get_output (g, nodes[k], o);
        if (v < 0)
          continue;
        gboolean external = FALSE;
        for (guint i = 0; i < glia_graph_get_n_outputs (g) && !external; i++)
          external = glia_graph_get_output (g, i) == v;
        for (guint node = 0; node < n_nodes_all && !external; node++) {
          if (in_region[node])
            continue;
          for (guint i = 0; i < glia_graph_node_get_n_inputs (g, node) && !external; i++)
            external = glia_graph_node_get_input (g, node, i) == v;
        }
        if (external)
          g_array_append_val (outs, v);
      }
  }
  r->n_inputs = ins->len;
  r->inputs = (gint *)g_array_steal (ins, NULL);
  r->n_outputs = outs->len;
  r->outputs = (gint *)g_array_steal (outs, NULL);
}

/* ep.onednn.conv-cache: NULL (unset) for GLIA_ONEDNN_CONV_CACHE, else the
 * user cache directory's file; "" for none. */
static char *
conv_cache_path (const char *option)
{
  if (option == NULL)
    option = g_getenv ("GLIA_ONEDNN_CONV_CACHE");
  if (option == NULL)
    return g_build_filename (g_get_user_cache_dir (), "glia-1.0", "onednn-conv.txt", NULL);
  return *option ? g_strdup (option) : NULL;
}

G_MODULE_EXPORT gboolean glia_onednn_compile (const GliaGraph *graph, const gint *nodes,
                                              guint n_nodes, const OnednnConfig *config,
                                              GliaKernel *kernel, GError **error);

G_MODULE_EXPORT gboolean
glia_onednn_compile (const GliaGraph *graph, const gint *nodes, guint n_nodes,
                     const OnednnConfig *config, GliaKernel *kernel, GError **error)
{
  static gsize engine_once = 0;
  if (g_once_init_enter (&engine_once)) {
    if (dnnl_engine_create (&engine, dnnl_cpu, 0) != dnnl_success)
      engine = NULL;
    g_once_init_leave (&engine_once, 1);
  }
  if (engine == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE, "cannot create a oneDNN CPU engine");
    return FALSE;
  }
  guint n_all = glia_graph_get_n_nodes (graph);
  g_autofree guint8 *in_region = g_new0 (guint8, n_all);
  g_autofree guint8 *fused = g_new0 (guint8, n_all);
  for (guint k = 0; k < n_nodes; k++) {
    if (nodes[k] < 0 || (guint)nodes[k] >= n_all) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "node %d is out of range",
                   nodes[k]);
      return FALSE;
    }
    in_region[nodes[k]] = 1;
  }

  Region *r = g_new0 (Region, 1);
  g_mutex_init (&r->lock);
  r->graph = glia_graph_ref ((GliaGraph *)graph);
  r->n_threads = MAX (config->n_threads, 1);
  r->conv_algo = config->conv_algo;
  r->depthwise = config->depthwise;
  r->direct_conv = config->direct_conv;
  r->verbose = g_strcmp0 (g_getenv ("GLIA_ONEDNN_VERBOSE"), "1") == 0;
  r->block_fusion = config->block_fusion;
  r->conv_cache = conv_cache_path (config->conv_cache);
  r->tune = config->tune_network && config->conv_algo == ONEDNN_CONV_AUTO
            && config->direct_conv == ONEDNN_DIRECT_AUTO;
  r->plans = g_ptr_array_new_with_free_func (plan_free);
  r->ops = g_array_new (FALSE, TRUE, sizeof (Op));
  g_array_set_clear_func (r->ops, op_clear);
  region_io (r, nodes, n_nodes, in_region);
  if (dnnl_stream_create (&r->stream, engine, dnnl_stream_default_flags) != dnnl_success) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE, "cannot create a oneDNN stream");
    region_free (r);
    return FALSE;
  }

  /* ops in node order; an op is placed where its last fused node is, so a
   * residual operand is ready when it runs */
  for (guint k = 0; k < n_nodes; k++) {
    gint node = nodes[k];
    if (fused[node])
      continue;
    OnednnAct act;
    OnednnOpKind kind = onednn_classify (graph, node, &act);
    if (kind == ONEDNN_OP_NONE) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_UNSUPPORTED_OP,
                   "the oneDNN provider cannot run node '%s' (%s)",
                   glia_graph_node_get_name (graph, node),
                   glia_graph_node_get_op_type (graph, node));
      region_free (r);
      return FALSE;
    }
    Op op;
    gint last = node, sig, mul;
    /* a Sigmoid that is half of a swish its producer did not take */
    if (kind == ONEDNN_OP_ELTWISE && act.kind == ONEDNN_ACT_SIGMOID
        && swish_pair (graph, glia_graph_node_get_input (graph, node, 0), in_region, fused, &sig,
                       &mul)
        && sig == node) {
      act.kind = ONEDNN_ACT_SWISH;
      fused[mul] = 1;
      last = mul;
    }
    op_init (r, &op, node, kind, &act);
    op.out = glia_graph_node_get_output (graph, last, 0);
    if (kind == ONEDNN_OP_CONV || kind == ONEDNN_OP_DECONV || kind == ONEDNN_OP_GEMM
        || kind == ONEDNN_OP_BINARY) {
      for (;;) {
        OnednnAct a;
        if (swish_pair (graph, op.out, in_region, fused, &sig, &mul)) {
          guint n = op.n_post;
          a.kind = ONEDNN_ACT_SWISH;
          if (!act_to_post (&a, op.post, &n))
            break;
          op.n_post = n;
          fused[sig] = fused[mul] = 1;
          op.out = glia_graph_node_get_output (graph, mul, 0);
          last = mul;
          continue;
        }
        gint c = sole_consumer (graph, op.out, in_region);
        if (c < 0 || fused[c])
          break;
        if (onednn_node_activation (graph, c, &a)) {
          guint n = op.n_post;
          if (!act_to_post (&a, op.post, &n))
            break;
          op.n_post = n;
        } else if (kind == ONEDNN_OP_CONV && op.sum_value < 0 && op.n_post + 1 < MAX_POST
                   && onednn_classify (graph, c, NULL) == ONEDNN_OP_SUM
                   && g_str_equal (glia_graph_node_get_op_type (graph, c), "Add")) {
          gint a0 = glia_graph_node_get_input (graph, c, 0);
          gint other = a0 == op.out ? glia_graph_node_get_input (graph, c, 1) : a0;
          if (other == op.out)
            break;
          op.sum_value = other;
          op.post[op.n_post++] = (PostOp){ .is_sum = TRUE };
        } else
          break;
        fused[c] = 1;
        op.out = glia_graph_node_get_output (graph, c, 0);
        last = c;
      }
    }
    op.pos = last;
    op.feeds_dw = kind == ONEDNN_OP_CONV && feeds_depthwise (graph, op.out, in_region);
    op.feeds_pw = kind == ONEDNN_OP_CONV && feeds_pointwise (graph, op.out, in_region);
    g_array_append_val (r->ops, op);
  }
  g_array_sort (r->ops, compare_pos);
  find_dead_residuals (r);

  kernel->compute = region_compute;
  kernel->destroy = region_free;
  kernel->state = r;

  /* static shapes: build the plan (and prepack the weights) now. When only
   * the leading (batch) dims are unknown, build it for batch 1, the usual
   * inference case, so that the weights are packed (and conv algorithms
   * chosen) at creation too; a failure then is no error, a run builds the
   * plan for its shapes */
  gboolean all_known = TRUE, batch_only = TRUE;
  for (guint i = 0; i < r->n_inputs && batch_only; i++) {
    gint v = r->inputs[i];
    if (v < 0)
      continue;
    gint rank = glia_graph_value_get_rank (graph, v);
    const gint64 *d = glia_graph_value_get_dims (graph, v);
    if (rank < 0)
      all_known = batch_only = FALSE;
    for (gint k = 0; k < rank; k++)
      if (d[k] <= 0) {
        all_known = FALSE;
        batch_only = batch_only && k == 0;
      }
  }
  if (all_known || batch_only) {
    g_autofree GliaTensorView *views = g_new0 (GliaTensorView, MAX (r->n_inputs, 1));
    g_autofree const GliaTensorView **ptrs = g_new0 (const GliaTensorView *, MAX (r->n_inputs, 1));
    for (guint i = 0; i < r->n_inputs; i++) {
      gint v = r->inputs[i];
      if (v < 0)
        continue;
      views[i].dtype = glia_graph_value_get_dtype (graph, v);
      views[i].rank = glia_graph_value_get_rank (graph, v);
      memcpy (views[i].dims, glia_graph_value_get_dims (graph, v), views[i].rank * sizeof (gint64));
      if (views[i].rank > 0 && views[i].dims[0] <= 0)
        views[i].dims[0] = 1;
      ptrs[i] = &views[i];
    }
    GError *local = NULL;
    /* oneDNN sizes its kernels for the thread count when they are created */
    omp_set_num_threads ((int)r->n_threads);
    r->creating = TRUE;
    /* the kernels tuned in the network before, or tune them now */
    g_autofree char *key = r->tune ? tune_key (r, ptrs) : NULL;
    g_auto (GStrv) items = NULL;
    g_autofree const char **force = key ? known_tuning (r, key, &items) : NULL;
    g_autoptr (GArray) records = g_array_new (FALSE, TRUE, sizeof (ConvRecord));
    g_array_set_clear_func (records, conv_record_clear);
    Plan *plan = plan_build (r, ptrs, force, key && force == NULL ? records : NULL, &local);
    if (plan && key && force == NULL)
      plan = tune_plan (r, plan, ptrs, records, key);
    r->creating = FALSE;
    if (plan)
      g_ptr_array_add (r->plans, plan);
    else if (!all_known) {
      g_debug ("no plan for batch 1 at creation: %s", local->message);
      g_error_free (local);
    } else {
      g_propagate_error (error, local);
      kernel->compute = NULL;
      kernel->state = NULL;
      region_free (r);
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- plans ------------------------------------------------------------- */

typedef struct
{
  Region *r;
  Plan *plan;
  GHashTable *vals; /* value id -> Val */
  const GliaTensorView *const *inputs;
  const char *const *force; /* per op: the kernel a conv runs (tune_plan), or NULL */
  ConvRecord *rec;          /* where the conv being built records its choice, or NULL */
} Builder;

static void
exec_clear (gpointer p)
{
  Exec *e = p;
  if (e->prim)
    dnnl_primitive_destroy (e->prim);
  if (e->concat) {
    g_free (e->concat->chunk);
    g_free (e->concat->offset);
  }
  g_free (e->concat);
  onednn_dw_free (e->dw);
  onednn_conv_free (e->conv);
  onednn_wino_free (e->wino);
  g_free (e->pool);
  if (e->se)
    g_free (e->se->w2t);
  g_free (e->se);
  if (e->mb) {
    onednn_pw_free (e->mb->e);
    onednn_pw_free (e->mb->p);
    onednn_dw_free (e->mb->d);
    g_free (e->mb->e_koff);
    g_free (e->mb->h_koff);
    g_free (e->mb->p_koff);
    g_free (e->mb);
  }
  g_free (e->args);
}

static void
plan_free (gpointer p)
{
  Plan *plan = p;
  if (plan->execs)
    g_array_unref (plan->execs);
  if (plan->mems) {
    for (guint i = 0; i < plan->mems->len; i++)
      dnnl_memory_destroy (g_ptr_array_index (plan->mems, i));
    g_ptr_array_unref (plan->mems);
  }
  if (plan->acts)
    g_ptr_array_unref (plan->acts);
  if (plan->aliases)
    g_array_unref (plan->aliases);
  g_aligned_free (plan->arena); /* after the memory objects that point into it */
  g_aligned_free (plan->scratch);
  g_free (plan->sig);
  g_free (plan->in_mem);
  g_free (plan->out_mem);
  g_free (plan->out_rank);
  g_free (plan->out_dims);
  g_free (plan);
}

static void
plain_md (dnnl_memory_desc_t *md, guint rank, const gint64 *dims)
{
  dnnl_dims_t d, strides;
  dnnl_dim_t s = 1;
  for (gint i = (gint)rank - 1; i >= 0; i--) {
    d[i] = dims[i];
    strides[i] = s;
    s *= MAX (dims[i], 1);
  }
  dnnl_memory_desc_init_by_strides (md, rank, d, dnnl_f32, strides);
}

static void
any_md (dnnl_memory_desc_t *md, guint rank, const gint64 *dims)
{
  dnnl_dims_t d;
  for (guint i = 0; i < rank; i++)
    d[i] = dims[i];
  dnnl_memory_desc_init_by_tag (md, rank, d, dnnl_f32, dnnl_format_tag_any);
}

static const dnnl_memory_desc_t *
mem_md (dnnl_memory_t mem)
{
  const dnnl_memory_desc_t *md = NULL;
  dnnl_memory_get_memory_desc (mem, &md);
  return md;
}

static dnnl_memory_t
new_mem (Builder *b, const Op *op, const dnnl_memory_desc_t *md, void *handle, GError **error)
{
  dnnl_memory_t mem = NULL;
  if (!check (dnnl_memory_create (&mem, md, engine, handle), b->r, op, "memory allocation", error))
    return NULL;
  g_ptr_array_add (b->plan->mems, mem);
  if (handle == DNNL_MEMORY_ALLOCATE)
    g_ptr_array_add (b->plan->acts, mem);
  return mem;
}

static void
add_exec (Builder *b, dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args)
{
  Exec e = { prim, n, g_memdup2 (args, n * sizeof *args), NULL, FALSE };
  g_array_append_val (b->plan->execs, e);
}

/* Creates the primitive of @pd (then destroys @pd) and schedules it. */
static double
md_elems (const dnnl_memory_desc_t *md)
{
  if (md == NULL || md->ndims == 0)
    return 0;
  double n = 1;
  for (int i = 0; i < md->ndims; i++)
    n *= (double)md->dims[i];
  return n;
}

/* About how many flops @pd does: 2 x outputs x the weights per output
 * channel for convolutions and matmuls, the outputs otherwise. */
static double
primitive_work (const_dnnl_primitive_desc_t pd)
{
  const dnnl_memory_desc_t *dst = dnnl_primitive_desc_query_md (pd, dnnl_query_dst_md, 0);
  const dnnl_memory_desc_t *w = dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0);
  dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
  dnnl_primitive_desc_query (pd, dnnl_query_primitive_kind, 0, &kind);
  double out = md_elems (dst);
  if (dst && w && w->ndims > 0) {
    int c = kind == dnnl_matmul ? dst->ndims - 1 : 1;
    if ((kind == dnnl_convolution || kind == dnnl_deconvolution || kind == dnnl_matmul)
        && dst->ndims > c && dst->dims[c] > 0)
      return 2 * out * md_elems (w) / (double)dst->dims[c];
  }
  return out;
}

static gboolean
add_primitive (Builder *b, const Op *op, dnnl_primitive_desc_t pd, int n,
               const dnnl_exec_arg_t *args, const char *what, GError **error)
{
  b->plan->work += primitive_work (pd);
  dnnl_primitive_t prim = NULL;
  dnnl_status_t s = dnnl_primitive_create (&prim, pd);
  dnnl_primitive_desc_destroy (pd);
  if (!check (s, b->r, op, what, error))
    return FALSE;
  add_exec (b, prim, n, args);
  return TRUE;
}

static gboolean
add_reorder (Builder *b, const Op *op, dnnl_memory_t src, dnnl_memory_t dst, GError **error)
{
  dnnl_primitive_desc_t pd = NULL;
  if (!check (dnnl_reorder_primitive_desc_create (&pd, mem_md (src), engine, mem_md (dst), engine,
                                                  NULL),
              b->r, op, "reorder", error))
    return FALSE;
  dnnl_exec_arg_t args[] = { { DNNL_ARG_SRC, src }, { DNNL_ARG_DST, dst } };
  return add_primitive (b, op, pd, 2, args, "reorder", error);
}

static gint
input_index (const Region *r, gint v)
{
  for (guint i = 0; i < r->n_inputs; i++)
    if (r->inputs[i] == v)
      return i;
  return -1;
}

static gint
output_index (const Region *r, gint v)
{
  for (guint i = 0; i < r->n_outputs; i++)
    if (r->outputs[i] == v)
      return i;
  return -1;
}

/* The value @v: produced by an earlier op, or a region input (a plain
 * memory whose data pointer is set at each run). */
static Val *
get_val (Builder *b, const Op *op, gint v, GError **error)
{
  Val *val = g_hash_table_lookup (b->vals, GINT_TO_POINTER (v));
  if (val)
    return val;
  gint i = input_index (b->r, v);
  const GliaTensorView *view = i >= 0 ? b->inputs[i] : NULL;
  /* a scalar (binary ops' operand) is a one-element vector */
  static const gint64 one = 1;
  guint rank = view ? view->rank : 0;
  const gint64 *dims = view && rank ? view->dims : &one;
  if (view && rank == 0 && op->kind == ONEDNN_OP_BINARY)
    rank = 1;
  if (view == NULL || view->dtype != GLIA_DATA_TYPE_FLOAT || rank < 1 || rank > DNNL_MAX_NDIMS) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "node '%s' (%s): input '%s' is not a float32 tensor of rank 1 to %d",
                 glia_graph_node_get_name (b->r->graph, op->node),
                 glia_graph_node_get_op_type (b->r->graph, op->node),
                 glia_graph_value_get_name (b->r->graph, v), DNNL_MAX_NDIMS);
    return NULL;
  }
  for (guint k = 0; k < rank; k++)
    if (dims[k] < 1) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "node '%s' (%s): input '%s' is empty; the oneDNN provider needs data",
                   glia_graph_node_get_name (b->r->graph, op->node),
                   glia_graph_node_get_op_type (b->r->graph, op->node),
                   glia_graph_value_get_name (b->r->graph, v));
      return NULL;
    }
  dnnl_memory_desc_t md;
  plain_md (&md, rank, dims);
  dnnl_memory_t mem = new_mem (b, op, &md, DNNL_MEMORY_NONE, error);
  if (mem == NULL)
    return NULL;
  b->plan->in_mem[i] = mem;
  val = g_new0 (Val, 1);
  val->mem = mem;
  val->rank = rank;
  memcpy (val->dims, dims, rank * sizeof (gint64));
  g_hash_table_insert (b->vals, GINT_TO_POINTER (v), val);
  return val;
}

/* @val's data in layout @md: its own memory or a reordered copy. */
static dnnl_memory_t
as_md (Builder *b, const Op *op, Val *val, const dnnl_memory_desc_t *md, GError **error)
{
  if (dnnl_memory_desc_equal (mem_md (val->mem), md))
    return val->mem;
  dnnl_memory_t mem = new_mem (b, op, md, DNNL_MEMORY_ALLOCATE, error);
  if (mem == NULL || !add_reorder (b, op, val->mem, mem, error))
    return NULL;
  return mem;
}

static dnnl_memory_t
as_plain (Builder *b, const Op *op, Val *val, GError **error)
{
  dnnl_memory_desc_t md;
  plain_md (&md, val->rank, val->dims);
  return as_md (b, op, val, &md, error);
}

/* Memory for value @v in layout @md: a region output in plain layout is
 * written straight into the caller's buffer. */
static Val *
make_dst (Builder *b, const Op *op, gint v, const dnnl_memory_desc_t *md, guint rank,
          const gint64 *dims, GError **error)
{
  dnnl_memory_desc_t plain;
  plain_md (&plain, rank, dims);
  gint o = output_index (b->r, v);
  dnnl_memory_t mem;
  if (o >= 0 && b->plan->out_mem[o] == NULL && dnnl_memory_desc_equal (md, &plain)) {
    mem = new_mem (b, op, md, DNNL_MEMORY_NONE, error);
    b->plan->out_mem[o] = mem;
  } else
    mem = new_mem (b, op, md, DNNL_MEMORY_ALLOCATE, error);
  if (mem == NULL)
    return NULL;
  Val *val = g_new0 (Val, 1);
  val->mem = mem;
  val->rank = rank;
  memcpy (val->dims, dims, rank * sizeof (gint64));
  g_hash_table_replace (b->vals, GINT_TO_POINTER (v), val);
  return val;
}

/* Appends a step of the region's own reading @src and writing @dst (the
 * caller sets its kernel). */
static Exec *
add_own_step (Builder *b, dnnl_memory_t src, dnnl_memory_t dst)
{
  Exec e = { .n_args = 2, .args = g_new (dnnl_exec_arg_t, 2) };
  e.args[0] = (dnnl_exec_arg_t){ DNNL_ARG_SRC, src };
  e.args[1] = (dnnl_exec_arg_t){ DNNL_ARG_DST, dst };
  g_array_append_val (b->plan->execs, e);
  return &g_array_index (b->plan->execs, Exec, b->plan->execs->len - 1);
}

/* The data of a step of the region's own: args[0] (read), args[1]
 * (written) and, when there is one, args[2] (read). */
static gboolean
step_buffers (const Exec *e, const Region *r, const char *what, const float **x, float **y,
              const float **z, GError **error)
{
  *x = *z = NULL;
  *y = NULL;
  if (dnnl_memory_get_data_handle (e->args[0].memory, (void **)x) != dnnl_success
      || dnnl_memory_get_data_handle (e->args[1].memory, (void **)y) != dnnl_success
      || (e->n_args > 2
          && dnnl_memory_get_data_handle (e->args[2].memory, (void **)z) != dnnl_success)
      || *x == NULL || *y == NULL)
    return check (dnnl_runtime_error, r, NULL, what, error);
  return TRUE;
}

/* ---- swish -------------------------------------------------------------
 *
 * oneDNN 2.6's swish post-op costs about 19 cycles per 16 values here
 * (EfficientNet-B0 spends 1.9 of its 8.7 ms at one thread in it), more than
 * a separate pass over the output at one thread: convolutions drop a
 * trailing swish and the region applies it in place right after, with AVX-512 (exp by range
 * reduction, a degree-6 polynomial and scalef; relative error about 2e-7).
 * Without AVX-512 the post-op stays. */

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__ ((target ("avx512f"))) static void
swish_avx512 (float *x, gsize n)
{
  for (gsize i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps (x + i, m, onednn_swish_ps (_mm512_maskz_loadu_ps (m, x + i)));
  }
}
#endif

#define SWISH_BLOCK 4096

static gboolean
run_swish (const Exec *e, Region *r, GError **error)
{
  float *x = NULL;
  if (dnnl_memory_get_data_handle (e->args[0].memory, (void **)&x) != dnnl_success || x == NULL)
    return check (dnnl_runtime_error, r, NULL, "swish", error);
  gsize n = dnnl_memory_desc_get_size (mem_md (e->args[0].memory)) / sizeof (float);
#if defined(__x86_64__) && defined(__GNUC__)
  gint64 blocks = (gint64)((n + SWISH_BLOCK - 1) / SWISH_BLOCK);
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (gint64 k = 0; k < blocks; k++) {
    gsize begin = (gsize)k * SWISH_BLOCK;
    swish_avx512 (x + begin, MIN ((gsize)SWISH_BLOCK, n - begin));
  }
  return TRUE;
#else
  /* split_swish() never splits without AVX-512 */
  (void)n;
  return check (dnnl_unimplemented, r, NULL, "swish", error);
#endif
}

/* The swish step after a primitive whose post-ops had it split off. */
static void
add_swish (Builder *b, dnnl_memory_t dst)
{
  Exec e = { NULL, 1, g_new (dnnl_exec_arg_t, 1), NULL, TRUE };
  e.args[0] = (dnnl_exec_arg_t){ DNNL_ARG_DST, dst };
  g_array_append_val (b->plan->execs, e);
}

/* Whether @op (a convolution: build_conv adds the step) ends its post-ops
 * with a swish that the region applies itself after the primitive:
 *   - on one thread, where the post-op's exp is the bottleneck
 *     (EfficientNet-B0 8.72 -> 8.04 ms);
 *   - before a depthwise convolution of the region's own, which applies it
 *     as it reads its input (fuse_pre_swish), at any thread count
 *     (EfficientNet-B0 at two threads 5.31 -> 4.70 ms).
 * Elsewhere on two threads the post-op is split with the convolution's
 * work, and the separate pass was 2-4% slower. */
static gboolean
split_swish (const Region *r, const Op *op)
{
  return (r->n_threads == 1 || (op->feeds_dw && r->depthwise == ONEDNN_DW_GLIA))
         && op->kind == ONEDNN_OP_CONV && op->n_post > 0 && !op->post[op->n_post - 1].is_sum
         && op->post[op->n_post - 1].alg == dnnl_eltwise_swish && onednn_have_avx512 ();
}

static gboolean
make_attr (Builder *b, const Op *op, dnnl_primitive_attr_t *attr, GError **error)
{
  *attr = NULL;
  guint n_post = op->n_post - (split_swish (b->r, op) ? 1 : 0);
  if (n_post == 0)
    return TRUE;
  dnnl_post_ops_t po = NULL;
  if (!check (dnnl_primitive_attr_create (attr), b->r, op, "attribute creation", error))
    return FALSE;
  if (!check (dnnl_post_ops_create (&po), b->r, op, "post-op creation", error))
    return FALSE;
  for (guint i = 0; i < n_post; i++) {
    const PostOp *p = &op->post[i];
    dnnl_status_t s = p->is_sum
                          ? dnnl_post_ops_append_sum (po, 1.0f)
                          : dnnl_post_ops_append_eltwise (po, 1.0f, p->alg, p->alpha, p->beta);
    if (!check (s, b->r, op, "post-op", error)) {
      dnnl_post_ops_destroy (po);
      return FALSE;
    }
  }
  dnnl_status_t s = dnnl_primitive_attr_set_post_ops (*attr, po);
  dnnl_post_ops_destroy (po);
  return check (s, b->r, op, "post-op", error);
}

/* Weights in layout @md, reordered from the plain constant once and kept. */
static dnnl_memory_t packed_weights_from (Builder *b, Op *op, const dnnl_memory_desc_t *md,
                                          const dnnl_memory_desc_t *user_md, GError **error);

static dnnl_memory_t
packed_weights (Builder *b, Op *op, const dnnl_memory_desc_t *md, guint rank, const gint64 *dims,
                GError **error)
{
  dnnl_memory_desc_t user_md;
  plain_md (&user_md, rank, dims);
  return packed_weights_from (b, op, md, &user_md, error);
}

/* Weights in layout @md, reordered once from the constant, which has
 * layout @user_md. */
static dnnl_memory_t
packed_weights_from (Builder *b, Op *op, const dnnl_memory_desc_t *md,
                     const dnnl_memory_desc_t *user_md_in, GError **error)
{
  for (guint i = 0; i < op->packed->len; i++) {
    Packed *pk = g_ptr_array_index (op->packed, i);
    if (dnnl_memory_desc_equal (&pk->md, md))
      return pk->mem;
  }
  dnnl_memory_desc_t user_md = *user_md_in;
  dnnl_memory_t user = NULL, packed = NULL;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t prim = NULL;
  /* at session creation a one-time job (the Winograd weight transform is
   * oneDNN's reference code: 165 ms for 512x512x3x3 on one core) takes
   * every core, whatever the session's thread count; the reorder primitive
   * is created and run under that count and dropped. In a run (a plan for
   * new shapes) the session's count holds. */
  int threads = omp_get_max_threads ();
  if (b->r->creating)
    omp_set_num_threads ((int)MAX ((guint)threads, g_get_num_processors ()));
  gsize bytes = dnnl_memory_desc_get_size (md);
  gpointer buf = onednn_weights_alloc (bytes);
  gboolean ok
      = check (dnnl_memory_create (&user, &user_md, engine,
                                   (void *)g_bytes_get_data (op->weights, NULL)),
               b->r, op, "weights memory", error)
        && check (dnnl_memory_create (&packed, md, engine, buf), b->r, op, "weights memory", error)
        && check (dnnl_reorder_primitive_desc_create (&pd, &user_md, engine, md, engine, NULL),
                  b->r, op, "weights reorder", error)
        && check (dnnl_primitive_create (&prim, pd), b->r, op, "weights reorder", error);
  if (ok) {
    dnnl_exec_arg_t args[] = { { DNNL_ARG_SRC, user }, { DNNL_ARG_DST, packed } };
    ok = check (dnnl_primitive_execute (prim, b->r->stream, 2, args), b->r, op, "weights reorder",
                error)
         && check (dnnl_stream_wait (b->r->stream), b->r, op, "weights reorder", error);
  }
  if (prim)
    dnnl_primitive_destroy (prim);
  if (pd)
    dnnl_primitive_desc_destroy (pd);
  if (user)
    dnnl_memory_destroy (user);
  omp_set_num_threads (threads);
  if (!ok) {
    if (packed)
      dnnl_memory_destroy (packed);
    onednn_weights_free (buf, bytes);
    return NULL;
  }
  Packed *pk = g_new (Packed, 1);
  pk->md = *md;
  pk->mem = packed;
  g_ptr_array_add (op->packed, pk);
  return packed;
}

static dnnl_memory_t
vector_mem (Builder *b, const Op *op, GBytes *data, GError **error)
{
  gint64 n = g_bytes_get_size (data) / sizeof (float);
  dnnl_memory_desc_t md;
  plain_md (&md, 1, &n);
  return new_mem (b, op, &md, (void *)g_bytes_get_data (data, NULL), error);
}

/* ---- convolution algorithm choice (ep.onednn.conv-algorithm) ----------- */

static const char *
impl_name (const_dnnl_primitive_desc_t pd)
{
  const char *name = NULL;
  if (dnnl_primitive_desc_query (pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success)
    return "";
  return name ? name : "";
}

/* Evicts @len bytes at @p from every cache level, so that the next run
 * reads them from memory, as a layer inside a network reads its weights
 * (used once per inference; Winograd's transformed weights are 1.8x
 * (F(2,3)) or 4x (F(4,3)) the direct ones, which a warm loop hides).
 * Flushing the buffer itself, rather than reading a larger one through the
 * caches, costs no memory. */
static void
flush_range (const void *p, gsize len)
{
#if defined(__x86_64__) || defined(__i386__)
  for (gsize off = 0; off < len; off += 64)
    _mm_clflush ((const char *)p + off);
  _mm_mfence ();
#else
  (void)p;
  (void)len;
#endif
}

/* Wakes the OpenMP team before a timed run. Between the runs of a timing
 * loop (evicting the weights takes a while) the workers stop spinning and
 * sleep; waking one costs a few hundred microseconds in a virtual machine
 * here, which a run inside a network, right after the step before it, does
 * not pay: at two threads it added about 0.4 ms to every kernel timed
 * (SqueezeNet's 13x13 layers: 0.52 ms for 0.13 in the model), drowning
 * the differences the timing is for. */
static void
wake_team (void)
{
  int n = omp_get_max_threads ();
  if (n < 2)
    return;
#pragma omp parallel num_threads(n)
  {
  }
}

/* How many timed runs a kernel gets: at least TIMED_RUNS_MIN, more (up to
 * TIMED_RUNS_MAX) while they add up to less than TIMED_BUDGET seconds. The
 * best run counts. Small kernels are where a run is most often disturbed
 * (a worker that went to sleep, a neighbour on the machine): two runs of
 * SqueezeNet's 48 -> 192 3x3 layer on 13x13 maps at two threads timed
 * 0.08 to 0.58 ms from process to process (0.09 in the model), so the
 * choice persisted was a coin toss. */
#define TIMED_RUNS_MIN 2
#define TIMED_RUNS_MAX 9
#define TIMED_BUDGET   3e-3

static gboolean
timed_enough (int runs, double total)
{
  return runs >= TIMED_RUNS_MAX || (runs >= TIMED_RUNS_MIN && total >= TIMED_BUDGET);
}

/* Best of the timed runs (timed_enough) of @pd (a convolution, or a
 * reorder: its FROM and TO are oneDNN's SRC and DST) on zero-filled
 * buffers, after one to warm up, each with its weights evicted from the
 * caches when @cold; in seconds, INFINITY when it cannot run. */
static double
time_primitive (const_dnnl_primitive_desc_t pd, dnnl_stream_t stream, gboolean cold)
{
  static const struct
  {
    int arg;
    dnnl_query_t query;
  } slots[] = {
    { DNNL_ARG_SRC, dnnl_query_src_md },
    { DNNL_ARG_WEIGHTS, dnnl_query_weights_md },
    { DNNL_ARG_BIAS, dnnl_query_weights_md },
    { DNNL_ARG_DST, dnnl_query_dst_md },
  };
  dnnl_exec_arg_t args[G_N_ELEMENTS (slots)];
  int n = 0;
  dnnl_primitive_t prim = NULL;
  double best = INFINITY;
  void *weights = NULL;
  gsize weights_len = 0;
  gboolean ok = dnnl_primitive_create (&prim, pd) == dnnl_success;
  for (guint i = 0; i < G_N_ELEMENTS (slots) && ok; i++) {
    const dnnl_memory_desc_t *md
        = dnnl_primitive_desc_query_md (pd, slots[i].query, slots[i].arg == DNNL_ARG_BIAS);
    if (md == NULL || md->ndims == 0)
      continue;
    dnnl_memory_t mem = NULL;
    void *data = NULL;
    ok = dnnl_memory_create (&mem, md, engine, DNNL_MEMORY_ALLOCATE) == dnnl_success;
    if (ok) {
      args[n++] = (dnnl_exec_arg_t){ slots[i].arg, mem };
      ok = dnnl_memory_get_data_handle (mem, &data) == dnnl_success && data != NULL;
    }
    if (ok)
      memset (data, 0, dnnl_memory_desc_get_size (md));
    if (ok && slots[i].arg == DNNL_ARG_WEIGHTS) {
      weights = data;
      weights_len = dnnl_memory_desc_get_size (md);
    }
  }
  double total = 0;
  for (int k = 0; ok && !timed_enough (k - 1, total); k++) {
    if (cold && weights)
      flush_range (weights, weights_len);
    wake_team ();
    gint64 t0 = g_get_monotonic_time ();
    ok = dnnl_primitive_execute (prim, stream, n, args) == dnnl_success
         && dnnl_stream_wait (stream) == dnnl_success;
    double t = (g_get_monotonic_time () - t0) * 1e-6;
    if (ok && k > 0) {
      best = MIN (best, t);
      total += t;
    }
  }
  for (int i = 0; i < n; i++)
    dnnl_memory_destroy (args[i].memory);
  if (prim)
    dnnl_primitive_destroy (prim);
  return ok ? best : INFINITY;
}

/* A reorder from @from to @to, warm (its data was just written by the
 * producer), in seconds (0 when they are the same layout). */
static double
time_reorder (const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, dnnl_stream_t stream)
{
  if (dnnl_memory_desc_equal (from, to))
    return 0;
  dnnl_primitive_desc_t pd = NULL;
  if (dnnl_reorder_primitive_desc_create (&pd, from, engine, to, engine, NULL) != dnnl_success)
    return INFINITY;
  double t = time_primitive (pd, stream, FALSE);
  dnnl_primitive_desc_destroy (pd);
  return t;
}

/* What auto chose per shape and thread count (process-wide, so the repeated
 * blocks of a network and later sessions reuse it): the implementation
 * name. Post-ops are left out of the key: they cost every candidate about
 * the same. The choices also persist in a file (ep.onednn.conv-cache), one
 * "KEY<tab>IMPLEMENTATION" line each, appended as they are made, so later
 * processes skip the timing and choose the same kernels (the same results
 * to the last bit); the key starts with oneDNN's version and ISA. The
 * table's keys are "FILE<newline>KEY". */
static GMutex choice_lock;
static GHashTable *choices;
static GHashTable *loaded_files;

/* Under choice_lock. A missing or unreadable file is an empty one; lines
 * that do not parse are skipped. */
static void
load_choices (const char *path)
{
  if (path == NULL || g_hash_table_contains (loaded_files, path))
    return;
  g_hash_table_add (loaded_files, g_strdup (path));
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    char *tab = strchr (lines[i], '\t');
    if (tab == NULL || tab == lines[i] || tab[1] == '\0')
      continue;
    *tab = '\0';
    g_hash_table_insert (choices, g_strconcat (path, "\n", lines[i], NULL), g_strdup (tab + 1));
  }
}

/* Records @impl for @key: in this process's choices under @entry (which it
 * takes, from known_choice()) and appended to the choice file @path. Call
 * with choice_lock held. */
static void
save_choice (const char *path, const char *key, char *entry, const char *impl)
{
  g_hash_table_insert (choices, entry, g_strdup (impl));
  if (path == NULL)
    return;
  g_autofree char *dir = g_path_get_dirname (path);
  g_mkdir_with_parents (dir, 0755);
  FILE *f = fopen (path, "a");
  if (f == NULL) {
    g_debug ("cannot append to %s", path);
    return;
  }
  fprintf (f, "%s\t%s\n", key, impl);
  fclose (f);
}

/* The implementation chosen before for @key with choice file @file (from
 * this process's choices or the file), or NULL; @entry: the choices
 * table's key for it. Call with choice_lock held. */
static const char *
known_choice (const char *file, const char *key, char **entry)
{
  *entry = g_strconcat (file ? file : "", "\n", key, NULL);
  if (choices == NULL) {
    choices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    loaded_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  }
  load_choices (file);
  return g_hash_table_lookup (choices, *entry);
}

static char *
conv_key (const Builder *b, const dnnl_convolution_desc_t *cd)
{
  GString *k = g_string_new (NULL);
  const dnnl_version_t *v = dnnl_version ();
  /* "timing 3": choices timed with the OpenMP team woken first
   * (wake_team, since "timing 2") and up to TIMED_RUNS_MAX runs per kernel
   * (timed_enough); older lines, whose two-thread timings carried the
   * wake-up or a disturbed run, no longer match and are timed again */
  g_string_append_printf (k, "oneDNN %d.%d.%d isa %x timing 3 t%u", v->major, v->minor, v->patch,
                          (unsigned)dnnl_get_effective_cpu_isa (), b->r->n_threads);
  for (int i = 0; i < cd->src_desc.ndims; i++)
    g_string_append_printf (k, "%c%" G_GINT64_FORMAT, i ? 'x' : ' ', (gint64)cd->src_desc.dims[i]);
  for (int i = 0; i < cd->weights_desc.ndims; i++)
    g_string_append_printf (k, "%c%" G_GINT64_FORMAT, i ? 'x' : ' ',
                            (gint64)cd->weights_desc.dims[i]);
  for (int i = 0; i < cd->src_desc.ndims - 2; i++)
    g_string_append_printf (
        k, " s%" G_GINT64_FORMAT "d%" G_GINT64_FORMAT "p%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT,
        (gint64)cd->strides[i], (gint64)cd->dilates[i], (gint64)cd->padding[0][i],
        (gint64)cd->padding[1][i]);
  g_string_append_printf (k, " b%d", cd->bias_desc.ndims);
  return g_string_free (k, FALSE);
}

#define OWN_CONV_IMPL "glia:direct"
#define OWN_WINO_IMPL "glia:winograd"

/* Adds @impl to the alternatives the conv being built records (b->rec). */
static void
record_alt (Builder *b, const char *impl)
{
  if (b->rec == NULL)
    return;
  for (guint i = 0; i < b->rec->alts->len; i++)
    if (g_str_equal (g_ptr_array_index (b->rec->alts, i), impl))
      return;
  g_ptr_array_add (b->rec->alts, g_strdup (impl));
}

/* @direct: the direct algorithm in the default (blocked) layouts;
 * @wino_cd: the Winograd convolution descriptor; @force: the kernel
 * tune_plan wants, or NULL: one of these is taken without timing, and
 * for one of the region's own kernels (the caller runs it) the direct
 * one. Returns the chosen descriptor (the others are destroyed). */
#define WINO_EXTRA_BYTES (4u << 20)

static dnnl_primitive_desc_t
choose_conv (Builder *b, const Op *op, dnnl_primitive_desc_t direct,
             const dnnl_convolution_desc_t *wino_cd, const_dnnl_primitive_attr_t attr,
             const char *force)
{
  g_autoptr (GPtrArray) cands = g_ptr_array_new ();
  g_ptr_array_add (cands, direct);
  guint first_wino = cands->len;
  dnnl_primitive_desc_iterator_t it = NULL;
  if (dnnl_primitive_desc_iterator_create (&it, wino_cd, attr, engine, NULL) == dnnl_success) {
    gsize direct_bytes = dnnl_memory_desc_get_size (
        dnnl_primitive_desc_query_md (direct, dnnl_query_weights_md, 0));
    do {
      dnnl_primitive_desc_t pd = dnnl_primitive_desc_iterator_fetch (it);
      if (pd == NULL)
        continue;
      /* transformed weights that would cost much memory are not worth it
       * (F(4,3) on 256 channels: 9.4 MB for 2.4, and slower) */
      gsize bytes
          = dnnl_memory_desc_get_size (dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0));
      if (bytes <= 2 * direct_bytes || bytes - direct_bytes <= WINO_EXTRA_BYTES)
        g_ptr_array_add (cands, pd);
      else
        dnnl_primitive_desc_destroy (pd);
    } while (dnnl_primitive_desc_iterator_next (it) == dnnl_success);
    dnnl_primitive_desc_iterator_destroy (it);
  }
  guint pick = 0;
  gboolean forced = force && g_str_has_prefix (force, "glia:");
  for (guint i = 0; i < cands->len; i++) {
    const char *name = impl_name (g_ptr_array_index (cands, i));
    record_alt (b, name);
    if (force && g_str_equal (name, force)) {
      pick = i;
      forced = TRUE;
    }
  }
  if (!forced && cands->len > first_wino
      && (b->r->conv_algo == ONEDNN_CONV_WINOGRAD || b->r->conv_algo == ONEDNN_CONV_GLIA_WINOGRAD))
    pick = first_wino;
  else if (!forced && cands->len > 1) {
    g_autofree char *key = conv_key (b, wino_cd);
    const char *file = b->r->conv_cache;
    g_autofree char *entry = NULL;
    g_mutex_lock (&choice_lock);
    const char *known = known_choice (file, key, &entry);
    if (known) {
      for (guint i = 0; i < cands->len; i++)
        if (g_str_equal (impl_name (g_ptr_array_index (cands, i)), known))
          pick = i;
    } else {
      double best = INFINITY;
      for (guint i = 0; i < cands->len; i++) {
        dnnl_primitive_desc_t pd = g_ptr_array_index (cands, i);
        double t = time_primitive (pd, b->r->stream, TRUE);
        /* a kernel that wants other layouts than the default one costs
         * the reorders into and out of them, which its neighbours may have
         * to pay */
        if (i > 0)
          t += time_reorder (dnnl_primitive_desc_query_md (direct, dnnl_query_src_md, 0),
                             dnnl_primitive_desc_query_md (pd, dnnl_query_src_md, 0), b->r->stream)
               + time_reorder (dnnl_primitive_desc_query_md (pd, dnnl_query_dst_md, 0),
                               dnnl_primitive_desc_query_md (direct, dnnl_query_dst_md, 0),
                               b->r->stream);
        g_debug ("%s: %s %.3f ms with reorders", key, impl_name (pd), t * 1e3);
        /* another kernel only when it gains at least 10%: less is within
         * the timing's noise (and Winograd rounds worse) */
        if (i > 0)
          t *= 1.0 / 0.9;
        if (t < best) {
          best = t;
          pick = i;
        }
      }
      const char *impl = impl_name (g_ptr_array_index (cands, pick));
      save_choice (file, key, g_steal_pointer (&entry), impl);
    }
    g_mutex_unlock (&choice_lock);
  }
  for (guint i = 0; i < cands->len; i++)
    if (i != pick)
      dnnl_primitive_desc_destroy (g_ptr_array_index (cands, i));
  return g_ptr_array_index (cands, pick);
}

/* @pd's inputs for a convolution-like op: @x in the source layout @pd
 * wants, the weights packed from the constant (layout @user_w) and the
 * bias. FALSE (with @error) when one cannot be had. */
static gboolean
weighted_inputs (Builder *b, Op *op, const_dnnl_primitive_desc_t pd, Val *x,
                 const dnnl_memory_desc_t *user_w, dnnl_memory_t *src, dnnl_memory_t *w,
                 dnnl_memory_t *bias, GError **error)
{
  *w = *bias = NULL;
  *src = as_md (b, op, x, dnnl_primitive_desc_query_md (pd, dnnl_query_src_md, 0), error);
  if (*src)
    *w = packed_weights_from (b, op, dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0),
                              user_w, error);
  if (*w && op->bias)
    *bias = vector_mem (b, op, op->bias, error);
  return *w && (*bias || !op->bias);
}

/* Adds @pd (the plan takes it) reading @src, @w and @bias (or NULL) into
 * @dst. */
static gboolean
add_weighted (Builder *b, const Op *op, dnnl_primitive_desc_t pd, dnnl_memory_t src,
              dnnl_memory_t w, dnnl_memory_t bias, dnnl_memory_t dst, const char *what,
              GError **error)
{
  dnnl_exec_arg_t args[4]
      = { { DNNL_ARG_SRC, src }, { DNNL_ARG_WEIGHTS, w }, { DNNL_ARG_DST, dst } };
  int n = 3;
  if (bias)
    args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_BIAS, bias };
  return add_primitive (b, op, pd, n, args, what, error);
}

/* The activation layout of 2-D convolutions. Given `any`, oneDNN 2.6 picks
 * NHWC here (its brgconv kernels); its blocked nChw16c kernels (nChw8c on
 * AVX2) are as fast, and the pooling, concat and binary ops between them
 * are faster on blocked data (ResNet-50 39.0 -> 37.7 ms at 1 thread,
 * EfficientNet-B0 10.7 -> 9.7, SqueezeNet 3.4 -> 3.1 at 2; medians of 5
 * alternating runs). Only channel counts that fill whole blocks: padded
 * blocked layouts fall back to reference kernels (50x slower). */
static void
blocked_md (dnnl_memory_desc_t *md, guint rank, const gint64 *dims)
{
  static gsize once = 0;
  static gint64 block = 0;
  if (g_once_init_enter (&once)) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa ();
    if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core)
      block = 16;
    else if ((isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2)
      block = 8;
    g_once_init_leave (&once, 1);
  }
  if (rank != 4 || block == 0 || dims[1] % block != 0)
    return;
  dnnl_dims_t d = { dims[0], dims[1], dims[2], dims[3] };
  dnnl_memory_desc_init_by_tag (md, 4, d, dnnl_f32, block == 16 ? dnnl_aBcd16b : dnnl_aBcd8b);
}

static gboolean md_has_tag (const dnnl_memory_desc_t *md, dnnl_format_tag_t tag);

/* Whether a 4-D tensor of @dims is blocked by 16 channels in the region
 * (blocked_md): what the region's own convolution kernels read. */
static gboolean
blocked_by_16 (const gint64 *dims)
{
  dnnl_memory_desc_t md;
  any_md (&md, 4, dims);
  blocked_md (&md, 4, dims);
  return md_has_tag (&md, dnnl_aBcd16b);
}

/* ---- depthwise convolutions on the region's own kernel (onednn-dw.c) ---- */

/* The activation @op's post-ops end with, if the depthwise kernel has it. */
static gboolean
dw_act (const Op *op, OnednnDwShape *s)
{
  s->act = ONEDNN_DW_NONE;
  s->alpha = s->beta = 0;
  if (op->n_post == 0)
    return TRUE;
  const PostOp *p = &op->post[0];
  if (op->n_post > 1 || p->is_sum)
    return FALSE;
  s->alpha = p->alpha;
  s->beta = p->beta;
  switch (p->alg) {
  case dnnl_eltwise_relu:
    s->act = ONEDNN_DW_RELU;
    return TRUE;
  case dnnl_eltwise_clip_v2:
    s->act = ONEDNN_DW_CLIP;
    return TRUE;
  case dnnl_eltwise_swish:
    s->act = ONEDNN_DW_SWISH;
    return p->alpha == 1.0f;
  default:
    return FALSE;
  }
}

/* A 2-D convolution with one filter per channel, whole 16-channel blocks,
 * no dilation, no residual and an activation the kernel has: fills @s. */
static gboolean
dw_shape (const Builder *b, const Op *op, const Val *x, const gint64 *out, const gint64 *pl,
          OnednnDwShape *s)
{
  const OnednnWindow *win = &op->win;
  if (b->r->depthwise != ONEDNN_DW_GLIA || !onednn_have_avx512 () || win->n_spatial != 2
      || x->rank != 4 || win->group != x->dims[1] || op->wdims[0] != x->dims[1] || op->wdims[1] != 1
      || x->dims[1] % 16 != 0 || op->sum_value >= 0 || !dw_act (op, s))
    return FALSE;
  if (!blocked_by_16 (x->dims))
    return FALSE;
  for (guint i = 0; i < 2; i++)
    if (win->dilations[i] != 1 || op->wdims[2 + i] > ONEDNN_DW_MAX_K || win->strides[i] > 64
        || pl[i] >= op->wdims[2 + i])
      return FALSE;
  *s = (OnednnDwShape){ .n = x->dims[0],
                        .c = x->dims[1],
                        .ih = x->dims[2],
                        .iw = x->dims[3],
                        .oh = out[0],
                        .ow = out[1],
                        .kh = (int)op->wdims[2],
                        .kw = (int)op->wdims[3],
                        .sh = (int)win->strides[0],
                        .sw = (int)win->strides[1],
                        .pt = (int)pl[0],
                        .pl = (int)pl[1],
                        .act = s->act,
                        .alpha = s->alpha,
                        .beta = s->beta };
  return TRUE;
}

static gboolean
build_dw (Builder *b, Op *op, Val *x, const OnednnDwShape *s, GError **error)
{
  gint64 ydims[4] = { s->n, s->c, s->oh, s->ow };
  dnnl_memory_desc_t xmd, ymd;
  any_md (&xmd, 4, x->dims);
  blocked_md (&xmd, 4, x->dims);
  any_md (&ymd, 4, ydims);
  blocked_md (&ymd, 4, ydims);
  dnnl_memory_t src = as_md (b, op, x, &xmd, error);
  Val *y = src ? make_dst (b, op, op->out, &ymd, 4, ydims, error) : NULL;
  if (y == NULL)
    return FALSE;
  add_own_step (b, src, y->mem)->dw = onednn_dw_new (
      s, g_bytes_get_data (op->weights, NULL), op->bias ? g_bytes_get_data (op->bias, NULL) : NULL);
  b->plan->work += 2.0 * s->n * s->c * s->oh * s->ow * s->kh * s->kw;
  return TRUE;
}

static gboolean
run_dw (const Exec *e, Region *r, const Plan *plan, GError **error)
{
  const float *x, *unused;
  float *y;
  if (!step_buffers (e, r, "depthwise convolution", &x, &y, &unused, error))
    return FALSE;
  onednn_dw_run (e->dw, x, y, plan->scratch, plan->scratch_stride);
  return TRUE;
}

/* Whether a step after step @after, an alias or a region output uses
 * @mem (steps before it wrote it, or used it for a value that is dead by
 * then: a residual accumulated in place). */
static gboolean
mem_used_after (const Plan *plan, dnnl_memory_t mem, guint after, const Region *r)
{
  for (guint k = after + 1; k < plan->execs->len; k++) {
    const Exec *e = &g_array_index (plan->execs, Exec, k);
    for (int i = 0; i < e->n_args; i++)
      if (e->args[i].memory == mem)
        return TRUE;
  }
  for (guint i = 0; i < plan->aliases->len; i++) {
    const Alias *al = &g_array_index (plan->aliases, Alias, i);
    if (al->of == mem || al->view == mem)
      return TRUE;
  }
  for (guint o = 0; o < r->n_outputs; o++)
    if (plan->out_mem[o] == mem)
      return TRUE;
  return FALSE;
}

/* A swish step whose result only the next step, a depthwise convolution,
 * reads: the convolution applies it as it copies its input rows, and the
 * pass over the whole tensor goes (EfficientNet-B0's expansion
 * convolutions at one thread). */
static void
fuse_pre_swish (Plan *plan, const Region *r)
{
  for (guint k = 0; k + 1 < plan->execs->len; k++) {
    Exec *sw = &g_array_index (plan->execs, Exec, k);
    Exec *dw = &g_array_index (plan->execs, Exec, k + 1);
    if (!sw->swish || dw->dw == NULL || dw->dw->shape.pre_swish
        || dw->args[0].memory != sw->args[0].memory
        || mem_used_after (plan, sw->args[0].memory, k + 1, r))
      continue;
    dw->dw->shape.pre_swish = TRUE;
    g_debug ("a depthwise conv applies its input's swish");
    g_array_remove_index (plan->execs, k);
  }
}

/* ---- inverted residual blocks, fused ----------------------------------
 *
 * MobileNetV2's and EfficientNet's blocks expand the channels 4-6 times
 * with a 1x1 convolution, filter them with a depthwise one and project them
 * back with another 1x1 convolution: the expanded tensors are the largest of
 * the network, and unfused each is written to memory and read back twice.
 * Here the block runs band by band down the output rows: the expansion
 * (onednn-pw.c) computes about MB_BAND_BYTES of
 * expanded rows into a buffer, the depthwise kernel computes every output
 * row whose window is complete (the rows above the band come from the
 * previous band's buffer) into a second buffer, and the projection writes
 * those rows of the block's output, adding the residual. Only the block's
 * input and output touch memory. Either 1x1 convolution may be missing
 * (MobileNetV2's first block has no expansion; EfficientNet's
 * squeeze-and-excitation reads the depthwise output whole, so there the
 * projection runs apart).
 *
 * MobileNetV2 about 5% faster at one thread (5.1 -> 4.8 ms in the median
 * of 11 alternating runs on a noisy machine; 512 KiB bands beat 96 KiB ones
 * by 6%). On several threads each thread takes a share of the output rows
 * (the input rows at the seams are expanded by both, and copied first when
 * the output overwrites the input); only blocks with an expansion and at
 * least 8 output rows per thread are fused there, smaller ones would run
 * on one thread: MobileNetV2 at two threads 3.13 -> 2.96 ms (medians of 11
 * alternating runs; fusing every block was 20% slower). Not after a swish
 * expansion: EfficientNet-B0 was 5-10% slower (each block 10-20%) than
 * with the depthwise kernel applying the swish to its input
 * (fuse_pre_swish); the pointwise kernel alone is also slower than
 * oneDNN's jit_1x1 on data that comes from memory (see onednn-pw.c). */

#define MB_BAND_BYTES (512 << 10)

/* Whether @op's post-ops start with a residual (the sum): @tail gets @op
 * with the post-ops after it (the activation the residual comes before). */
static gboolean
residual_tail (const Op *op, Op *tail)
{
  *tail = *op;
  if (op->n_post == 0 || !op->post[0].is_sum)
    return FALSE;
  memmove (tail->post, op->post + 1, (op->n_post - 1) * sizeof (PostOp));
  tail->n_post--;
  return TRUE;
}

/* A 1x1 stride-1 convolution without padding or groups whose post-ops are
 * [sum] [activation] of the kinds the kernels apply (@sum_ok: a sum may be
 * there): the activation in @act. */
static gboolean
pointwise_op (const Op *op, gint64 h, gint64 w, gboolean sum_ok, OnednnDwShape *act,
              gboolean *has_sum)
{
  const OnednnWindow *win = &op->win;
  if (op->kind != ONEDNN_OP_CONV || win->n_spatial != 2 || win->group != 1 || op->wrank != 4
      || op->wdims[2] != 1 || op->wdims[3] != 1)
    return FALSE;
  gint64 in[2] = { h, w }, out[2], pl[2], pr[2];
  if (!onednn_window_resolve (win, in, out, pl, pr) || out[0] != h || out[1] != w)
    return FALSE;
  for (guint i = 0; i < 2; i++)
    if (win->strides[i] != 1 || win->dilations[i] != 1 || pl[i] || pr[i])
      return FALSE;
  Op tail;
  *has_sum = residual_tail (op, &tail);
  return (sum_ok || !*has_sum) && *has_sum == (op->sum_value >= 0) && dw_act (&tail, act);
}

/* koff for a blocked tensor of @rows x @w pixels per block. */
static gint64 *
blocked_koff (gint64 c, gint64 pixels)
{
  gint64 *k = g_new (gint64, c);
  for (gint64 i = 0; i < c; i++)
    k[i] = (i / 16) * pixels * 16 + i % 16;
  return k;
}

/* Builds ops @e (or NULL), @d, @p (or NULL) as one fused step and sets
 * @n_ops to the number it took (0: they do not qualify, nothing built). */
static gboolean
build_mbconv (Builder *b, Op *e, Op *d, Op *p, guint *n_ops, GError **error)
{
  *n_ops = 0;
  Val *x = get_val (b, e ? e : d, g_array_index ((e ? e : d)->in, gint, 0), error);
  if (x == NULL)
    return FALSE;
  if (x->rank != 4)
    return TRUE;
  gint64 n = x->dims[0], h = x->dims[2], w = x->dims[3];
  gint64 c_mid = e ? e->wdims[0] : x->dims[1];
  OnednnDwShape eact, pact;
  gboolean e_sum = FALSE, p_sum = FALSE;
  if (e && (!pointwise_op (e, h, w, FALSE, &eact, &e_sum) || e->wdims[1] != x->dims[1]))
    return TRUE;
  /* not after a swish expansion: fused (the swish in the pointwise
   * kernel's epilogue, or in a pass over each band), EfficientNet-B0 was
   * 5-10% slower (each block 10-20%) than with the depthwise kernel
   * applying it to its input (fuse_pre_swish) */
  if (e && eact.act == ONEDNN_DW_SWISH)
    return TRUE;
  /* the depthwise convolution */
  Val mid = { NULL, NULL, 4, { n, c_mid, h, w } };
  gint64 dout[2], dpl[2], dpr[2];
  OnednnDwShape ds;
  if (!onednn_window_resolve (&d->win, mid.dims + 2, dout, dpl, dpr)
      || !dw_shape (b, d, &mid, dout, dpl, &ds))
    return TRUE;
  if (p && (!pointwise_op (p, ds.oh, ds.ow, TRUE, &pact, &p_sum) || p->wdims[1] != c_mid))
    p = NULL;
  /* on several threads, only blocks with an expansion and rows enough for
   * every thread to get bands of its own (see run_mbconv); smaller ones
   * would run on one thread, and oneDNN splits their layers better */
  if (b->r->n_threads > 1 && (e == NULL || ds.oh < 8 * (gint64)b->r->n_threads))
    return TRUE;
  if (e == NULL && p == NULL)
    return TRUE;
  /* x: as the expansion reads it, or blocked for the depthwise kernel */
  const dnnl_memory_desc_t *xmd = mem_md (x->mem);
  gint64 e_pix = 16;
  dnnl_memory_t src = x->mem;
  if (e == NULL) {
    if (!md_has_tag (xmd, dnnl_aBcd16b) || x->dims[1] % 16 != 0)
      return TRUE;
  } else if (md_has_tag (xmd, dnnl_aBcd16b))
    e_pix = 16;
  else if (md_has_tag (xmd, dnnl_acdb))
    e_pix = x->dims[1];
  else
    e_pix = 1;
  /* the output: blocked (the last block padded), or the residual's memory */
  gint64 c_out = p ? p->wdims[0] : c_mid;
  gint64 ydims[4] = { n, c_out, ds.oh, ds.ow };
  dnnl_memory_desc_t ymd;
  dnnl_dims_t yd = { n, c_out, ds.oh, ds.ow };
  dnnl_memory_desc_init_by_tag (&ymd, 4, yd, dnnl_f32, dnnl_aBcd16b);
  Val *z = NULL;
  if (p_sum) {
    /* the projection reads the residual in the output's layout, or stays
     * apart */
    z = g_hash_table_lookup (b->vals, GINT_TO_POINTER (p->sum_value));
    if (z == NULL || !dnnl_memory_desc_equal (mem_md (z->mem), &ymd)) {
      if (e == NULL)
        return TRUE;
      z = NULL;
      p = NULL;
      c_out = c_mid;
      ydims[1] = c_mid;
      yd[1] = c_mid;
      dnnl_memory_desc_init_by_tag (&ymd, 4, yd, dnnl_f32, dnnl_aBcd16b);
    }
  }
  if (e_pix == 1) {
    src = as_plain (b, e, x, error);
    if (src == NULL)
      return FALSE;
  }
  *n_ops = (e ? 1 : 0) + 1 + (p ? 1 : 0);
  Val *y;
  Op *last = p ? p : d;
  /* in place, but not over x without an expansion: the depthwise kernel
   * reads x's rows above each band, which the band before wrote */
  if (z && p->sum_inplace && (e || z->mem != x->mem)) {
    y = g_new0 (Val, 1);
    *y = *z;
    y->md = NULL;
    g_hash_table_replace (b->vals, GINT_TO_POINTER (last->out), y);
  } else
    y = make_dst (b, last, last->out, &ymd, 4, ydims, error);
  if (y == NULL)
    return FALSE;

  MbConv *mb = g_new0 (MbConv, 1);
  mb->h = h;
  mb->w = w;
  mb->oh = ds.oh;
  mb->ow = ds.ow;
  mb->x_image = x->dims[1] * h * w;
  if (md_has_tag (xmd, dnnl_aBcd16b))
    mb->x_image = (x->dims[1] + 15) / 16 * 16 * h * w;
  mb->x_cb = (x->dims[1] + 15) / 16;
  mb->y_image = (c_out + 15) / 16 * 16 * ds.oh * ds.ow;
  mb->y_stride = ds.oh * ds.ow * 16;
  mb->d = onednn_dw_new (&ds, g_bytes_get_data (d->weights, NULL),
                         d->bias ? g_bytes_get_data (d->bias, NULL) : NULL);
  gsize row = (gsize)c_mid * w * sizeof (float);
  /* input rows a thread's windows reach above or below its own rows */
  mb->halo_rows = MAX (ds.pt, ds.kh - 1 - ds.pt) + ds.sh;
  if (e) {
    mb->e = onednn_pw_new (e->wdims[1], c_mid, g_bytes_get_data (e->weights, NULL),
                           e->bias ? g_bytes_get_data (e->bias, NULL) : NULL, eact.act, eact.alpha,
                           eact.beta);
    mb->e_pix = e_pix;
    mb->hb = MIN (h, MAX ((gint64)ds.kh, (gint64)(MB_BAND_BYTES / row)));
    mb->ob = mb->hb / ds.sh + 2;
    gint64 hr = mb->halo_rows;
    if (e_pix == 16) {
      mb->e_koff = blocked_koff (x->dims[1], h * w);
      mb->h_koff = blocked_koff (x->dims[1], hr * w);
    } else {
      mb->e_koff = g_new (gint64, x->dims[1]);
      mb->h_koff = g_new (gint64, x->dims[1]);
      for (gint64 k = 0; k < x->dims[1]; k++) {
        mb->e_koff[k] = e_pix == 1 ? k * h * w : k;
        mb->h_koff[k] = e_pix == 1 ? k * hr * w : k;
      }
    }
  } else
    mb->ob
        = MIN (ds.oh, MAX (1, (gint64)(MB_BAND_BYTES / ((gsize)c_mid * ds.ow * sizeof (float)))));
  if (p) {
    mb->p = onednn_pw_new (c_mid, c_out, g_bytes_get_data (p->weights, NULL),
                           p->bias ? g_bytes_get_data (p->bias, NULL) : NULL, pact.act, pact.alpha,
                           pact.beta);
    mb->p_koff = blocked_koff (c_mid, mb->ob * ds.ow);
  }
  /* a thread's scratch: two expansion bands, a depthwise band, the
   * depthwise ring, the expansion's packing space */
  gsize at = 0;
  mb->ebuf = at;
  at += e ? 2 * (gsize)c_mid * mb->hb * w : 0;
  mb->dbuf = at;
  at += p ? (gsize)c_mid * mb->ob * ds.ow : 0;
  mb->ring = at;
  at += onednn_dw_scratch_floats (mb->d);
  mb->pack = at;
  at += e ? (onednn_pw_scratch_size (mb->e, mb->hb * w) + 63) / sizeof (float) : 0;
  /* copies of the input rows a thread's windows need above and below its
   * own output rows (another thread may overwrite them: see run_mbconv) */
  at = (at + 15) / 16 * 16;
  mb->halo = at;
  at += e ? 2 * (gsize)mb->halo_rows * (gsize)mb->x_image / MAX (h, 1) : 0;
  mb->scratch = (at + 15) / 16 * 16;

  Exec ex = { NULL, z ? 3 : 2, g_new (dnnl_exec_arg_t, 3), NULL, FALSE, NULL, mb };
  ex.args[0] = (dnnl_exec_arg_t){ DNNL_ARG_SRC, src };
  ex.args[1] = (dnnl_exec_arg_t){ DNNL_ARG_DST, y->mem };
  if (z)
    ex.args[2] = (dnnl_exec_arg_t){ DNNL_ARG_SRC_1, z->mem };
  g_array_append_val (b->plan->execs, ex);
  b->plan->work += 2.0 * n * ds.oh * ds.ow * c_mid * ds.kh * ds.kw
                   + (e ? 2.0 * n * h * w * c_mid * e->wdims[1] : 0)
                   + (p ? 2.0 * n * ds.oh * ds.ow * c_mid * c_out : 0);
  g_debug ("fused block: %s%s%s%s%s, bands of %" G_GINT64_FORMAT " rows",
           e ? glia_graph_node_get_name (b->r->graph, e->node) : "", e ? " + " : "",
           glia_graph_node_get_name (b->r->graph, d->node), p ? " + " : "",
           p ? glia_graph_node_get_name (b->r->graph, p->node) : "", e ? mb->hb : mb->ob);
  return TRUE;
}

/* Output rows [o0, o1) of image @xn -> @yn on the calling thread. */
/* Input rows [r0, r1) of the halo copy at @halo (rows from @first) or of
 * image @xn, expanded into band buffer rows from @out. */
static void
expand_rows (const MbConv *mb, const float *xn, const float *halo, gint64 first, gint64 r0,
             gint64 r1, float *out, gint64 bstride, float *pack)
{
  if (r1 <= r0)
    return;
  OnednnPwIn in
      = halo ? (OnednnPwIn){ halo + (r0 - first) * mb->w * mb->e_pix, mb->h_koff, mb->e_pix }
             : (OnednnPwIn){ xn + r0 * mb->w * mb->e_pix, mb->e_koff, mb->e_pix };
  onednn_pw_rows (mb->e, &in, (r1 - r0) * mb->w, out, bstride, NULL, 0, pack);
}

/* Copies input rows [r0, r1) of image @xn into @halo (the expansion's
 * layout, halo_rows rows a channel). */
static void
copy_halo (const MbConv *mb, const float *xn, gint64 r0, gint64 r1, float *halo)
{
  if (r1 <= r0)
    return;
  gint64 w = mb->w, rows = r1 - r0, c = mb->e->ic;
  if (mb->e_pix == 16)
    for (gint64 cb = 0; cb < mb->x_cb; cb++)
      memcpy (halo + cb * mb->halo_rows * w * 16, xn + (cb * mb->h + r0) * w * 16,
              rows * w * 16 * sizeof (float));
  else if (mb->e_pix == 1)
    for (gint64 k = 0; k < c; k++)
      memcpy (halo + k * mb->halo_rows * w, xn + (k * mb->h + r0) * w, rows * w * sizeof (float));
  else
    memcpy (halo, xn + r0 * w * c, rows * w * c * sizeof (float));
}

static void
mbconv_part (const MbConv *mb, const float *xn, float *yn, const float *rn, gint64 o0, gint64 o1,
             gboolean halos, float *scratch)
{
  const OnednnDwShape *s = &mb->d->shape;
  float *dbuf = scratch + mb->dbuf, *ring = scratch + mb->ring;
  gint64 c_mid = s->c;
  /* depthwise rows [a, z) from @src, then their projection */
  OnednnDwRows src = { 0 };
#define MB_ROWS(a, z)                                                                              \
  G_STMT_START                                                                                     \
  {                                                                                                \
    if (mb->p) {                                                                                   \
      onednn_dw_rows (mb->d, &src, (a), (z), dbuf, mb->ob * s->ow * 16, ring);                     \
      OnednnPwIn pin = { dbuf, mb->p_koff, 16 };                                                   \
      onednn_pw_rows (mb->p, &pin, ((z) - (a)) * s->ow, yn + (a)*s->ow * 16, mb->y_stride,         \
                      rn ? rn + (a)*s->ow * 16 : NULL, mb->y_stride, NULL);                        \
    } else                                                                                         \
      onednn_dw_rows (mb->d, &src, (a), (z), yn + (a)*s->ow * 16, mb->y_stride, ring);             \
  }                                                                                                \
  G_STMT_END
  if (mb->e == NULL) {
    src.n_segments = 1;
    src.segments[0] = (OnednnDwSegment){ xn, 0, mb->h, mb->h * mb->w * 16 };
    for (gint64 o = o0; o < o1; o += mb->ob)
      MB_ROWS (o, MIN (o1, o + mb->ob));
    return;
  }
  gint64 in_lo = MAX (0, o0 * s->sh - s->pt), in_hi = MIN (mb->h, (o1 - 1) * s->sh - s->pt + s->kh);
  gint64 o = o0, bstride = mb->hb * mb->w * 16;
  for (gint64 r0 = in_lo, k = 0; r0 < in_hi; r0 += mb->hb, k++) {
    gint64 r1 = MIN (in_hi, r0 + mb->hb);
    float *buf = scratch + mb->ebuf + (k % 2) * (gsize)c_mid * mb->hb * mb->w;
    if (halos) {
      /* rows outside [o0, o1) from the copies taken before any thread wrote
       * (the output is the input, rows for rows) */
      gint64 hsz = mb->halo_rows * mb->x_image / mb->h;
      float *top = scratch + mb->halo, *bottom = top + hsz;
      gint64 a = MIN (r1, o0), z = MAX (r0, o1);
      expand_rows (mb, xn, top, in_lo, r0, a, buf, bstride, scratch + mb->pack);
      expand_rows (mb, xn, NULL, 0, MAX (r0, o0), MIN (r1, o1),
                   buf + (MAX (r0, o0) - r0) * mb->w * 16, bstride, scratch + mb->pack);
      expand_rows (mb, xn, bottom, o1, z, r1, buf + (z - r0) * mb->w * 16, bstride,
                   scratch + mb->pack);
    } else
      expand_rows (mb, xn, NULL, 0, r0, r1, buf, bstride, scratch + mb->pack);
    /* the rows whose window ends in the rows expanded so far */
    gint64 last = r1 - s->kh + s->pt;
    gint64 o_end = r1 == in_hi ? o1 : MIN (o1, last < 0 ? 0 : last / s->sh + 1);
    if (src.n_segments == 2)
      src.segments[0] = src.segments[1];
    src.segments[src.n_segments == 0 ? 0 : 1] = (OnednnDwSegment){ buf, r0, r1 - r0, bstride };
    src.n_segments = src.n_segments == 0 ? 1 : 2;
    for (gint64 a = o; a < o_end; a += mb->ob)
      MB_ROWS (a, MIN (o_end, a + mb->ob));
    o = MAX (o, o_end);
  }
#undef MB_ROWS
}

static gboolean
run_mbconv (const Exec *ex, Region *r, const Plan *plan, GError **error)
{
  const MbConv *mb = ex->mb;
  const float *x, *res;
  float *y;
  if (!step_buffers (ex, r, "fused block", &x, &y, &res, error))
    return FALSE;
  /* each thread takes a share of the output rows, down the rows band by
   * band, so an output written in place over the block's input (a residual
   * accumulated into it) only overwrites rows its own expansion has read;
   * the rows above and below its share, which another thread overwrites,
   * are copied first (and all threads wait for the copies) */
  const OnednnDwShape *s = &mb->d->shape;
  gint nt = omp_get_max_threads ();
  gint64 parts = mb->e && s->oh >= 8 * nt ? nt : 1;
  gboolean in_place = y == x;
#pragma omp parallel num_threads((int)parts) if (parts > 1)
  {
    gint64 part = omp_get_thread_num ();
    float *scratch = plan->scratch + part * plan->scratch_stride;
    onednn_dw_prepare_scratch (mb->d, scratch + mb->ring);
    if (mb->e)
      onednn_pw_init_scratch (mb->e, scratch + mb->pack);
    gint64 o0 = part * s->oh / parts, o1 = (part + 1) * s->oh / parts;
    gboolean halos = in_place && parts > 1;
    for (gint64 i = 0; i < s->n; i++) {
      const float *xn = x + i * mb->x_image;
      if (halos) {
        gint64 in_lo = MAX (0, o0 * s->sh - s->pt);
        gint64 in_hi = MIN (mb->h, (o1 - 1) * s->sh - s->pt + s->kh);
        float *top = scratch + mb->halo;
        copy_halo (mb, xn, in_lo, MIN (o0, in_hi), top);
        copy_halo (mb, xn, MAX (o1, in_lo), in_hi, top + mb->halo_rows * mb->x_image / mb->h);
#pragma omp barrier
      }
      mbconv_part (mb, xn, y + i * mb->y_image, res ? res + i * mb->y_image : NULL, o0, o1, halos,
                   scratch);
    }
  }
  return TRUE;
}

/* ---- squeeze-and-excitation, fused ---------------------------------------
 *
 * EfficientNet's blocks scale the depthwise output's channels by
 * sigmoid (FC2 (swish (FC1 (global average pool))))): five oneDNN
 * primitives per block on tensors of one pixel (the two FCs are 1x1
 * convolutions on 1x1 images, 2-23 us each), then a binary multiply over
 * the feature map. Here the region does it in one step: the channel means
 * (AVX-512 over the blocked layout), the two small products in plain
 * loops, and the multiply. */

/* Whether value @v is read by no op of the region but @except and is no
 * region output. */
static gboolean
read_only_by (const Region *r, gint v, const Op *except)
{
  if (output_index (r, v) >= 0)
    return FALSE;
  for (guint k = 0; k < r->ops->len; k++) {
    const Op *o = &g_array_index (r->ops, Op, k);
    if (o == except)
      continue;
    if (o->sum_value == v)
      return FALSE;
    for (guint i = 0; i < o->in->len; i++)
      if (g_array_index (o->in, gint, i) == v)
        return FALSE;
  }
  return TRUE;
}

/* A 1x1 convolution on one pixel: @cin channels to @cout, no residual. */
static gboolean
se_fc (const Op *op, gint64 cin, gint64 cout)
{
  return op->kind == ONEDNN_OP_CONV && op->win.n_spatial == 2 && op->win.group == 1
         && op->wrank == 4 && op->wdims[0] == cout && op->wdims[1] == cin && op->wdims[2] == 1
         && op->wdims[3] == 1 && op->sum_value < 0;
}

/* Ops @pool, @fc1, @fc2, @mul as one step; FALSE with no error (nothing
 * built) when they do not form a squeeze-and-excitation of the kind. */
static gboolean
build_se (Builder *b, Op *pool, Op *fc1, Op *fc2, Op *mul, gboolean *done, GError **error)
{
  *done = FALSE;
  if (pool->kind != ONEDNN_OP_POOL || !pool->win.global
      || (pool->pool != ONEDNN_POOL_AVG_INCLUDE && pool->pool != ONEDNN_POOL_AVG_EXCLUDE)
      || mul->kind != ONEDNN_OP_BINARY || mul->binary_alg != dnnl_binary_mul || mul->n_post
      || mul->in->len != 2)
    return TRUE;
  gint xv = g_array_index (pool->in, gint, 0);
  Val *x = g_hash_table_lookup (b->vals, GINT_TO_POINTER (xv));
  if (x == NULL || x->rank != 4 || !md_has_tag (mem_md (x->mem), dnnl_aBcd16b)
      || x->dims[1] % 16 != 0)
    return TRUE;
  gint64 c = x->dims[1], cr = fc1->wdims[0];
  gint m0 = g_array_index (mul->in, gint, 0), m1 = g_array_index (mul->in, gint, 1);
  if (!se_fc (fc1, c, cr) || !se_fc (fc2, cr, c) || g_array_index (fc1->in, gint, 0) != pool->out
      || g_array_index (fc2->in, gint, 0) != fc1->out
      || !((m0 == xv && m1 == fc2->out) || (m1 == xv && m0 == fc2->out))
      || !read_only_by (b->r, pool->out, fc1) || !read_only_by (b->r, fc1->out, fc2)
      || !read_only_by (b->r, fc2->out, mul))
    return TRUE;
  OnednnDwShape act;
  if (!dw_act (fc1, &act) || fc2->n_post != 1 || fc2->post[0].is_sum
      || fc2->post[0].alg != dnnl_eltwise_logistic)
    return TRUE;
  *done = TRUE;
  Val *y = make_dst (b, mul, mul->out, mem_md (x->mem), 4, x->dims, error);
  if (y == NULL)
    return FALSE;
  SqueezeExcite *se = g_new0 (SqueezeExcite, 1);
  *se = (SqueezeExcite){ .n = x->dims[0],
                         .c = c,
                         .cr = cr,
                         .hw = x->dims[2] * x->dims[3],
                         .w1 = g_bytes_get_data (fc1->weights, NULL),
                         .b1 = fc1->bias ? g_bytes_get_data (fc1->bias, NULL) : NULL,
                         .w2t = g_new (float, c *cr),
                         .b2 = fc2->bias ? g_bytes_get_data (fc2->bias, NULL) : NULL,
                         .act = act.act,
                         .alpha = act.alpha,
                         .beta = act.beta };
  const float *w2 = g_bytes_get_data (fc2->weights, NULL);
  for (gint64 i = 0; i < c; i++)
    for (gint64 j = 0; j < cr; j++)
      se->w2t[j * c + i] = w2[i * cr + j];
  add_own_step (b, x->mem, y->mem)->se = se;
  b->plan->work += 4.0 * se->n * c * (se->hw + cr);
  return TRUE;
}

static float
se_act (const SqueezeExcite *se, float v)
{
  switch (se->act) {
  case ONEDNN_DW_RELU:
    return v < 0 ? v * se->alpha : v;
  case ONEDNN_DW_CLIP:
    return MIN (MAX (v, se->alpha), se->beta);
  case ONEDNN_DW_SWISH:
    return v / (1.0f + expf (-v));
  case ONEDNN_DW_NONE:
    break;
  }
  return v;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* Channel block @cb of image @x: the mean of each of its 16 channels. */
__attribute__ ((target ("avx512f"))) static void
se_mean (const float *x, gint64 hw, float *mean)
{
  __m512 a0 = _mm512_setzero_ps (), a1 = _mm512_setzero_ps ();
  gint64 i = 0;
  for (; i + 2 <= hw; i += 2) {
    a0 = _mm512_add_ps (a0, _mm512_loadu_ps (x + i * 16));
    a1 = _mm512_add_ps (a1, _mm512_loadu_ps (x + i * 16 + 16));
  }
  if (i < hw)
    a0 = _mm512_add_ps (a0, _mm512_loadu_ps (x + i * 16));
  _mm512_storeu_ps (mean, _mm512_mul_ps (_mm512_add_ps (a0, a1), _mm512_set1_ps (1.0f / hw)));
}

/* h = act (W1 mean + b1), then g = sigmoid (W2 h + b2): the first as dot
 * products over the channels, the second as axpys over them. */
__attribute__ ((target ("avx512f"))) static void
se_gates (const SqueezeExcite *se, const float *mean, float *h, float *g)
{
  for (gint64 j = 0; j < se->cr; j++) {
    const float *w = se->w1 + j * se->c;
    __m512 acc = _mm512_setzero_ps ();
    for (gint64 i = 0; i < se->c; i += 16)
      acc = _mm512_fmadd_ps (_mm512_loadu_ps (w + i), _mm512_loadu_ps (mean + i), acc);
    h[j] = se_act (se, _mm512_reduce_add_ps (acc) + (se->b1 ? se->b1[j] : 0.0f));
  }
  for (gint64 i = 0; i < se->c; i += 16) {
    __m512 acc = se->b2 ? _mm512_loadu_ps (se->b2 + i) : _mm512_setzero_ps ();
    for (gint64 j = 0; j < se->cr; j++)
      acc = _mm512_fmadd_ps (_mm512_set1_ps (h[j]), _mm512_loadu_ps (se->w2t + j * se->c + i), acc);
    _mm512_storeu_ps (g + i, onednn_sigmoid_ps (acc));
  }
}

__attribute__ ((target ("avx512f"))) static void
se_scale (const float *x, gint64 hw, const float *g, float *y)
{
  __m512 s = _mm512_loadu_ps (g);
  for (gint64 i = 0; i < hw; i++)
    _mm512_storeu_ps (y + i * 16, _mm512_mul_ps (_mm512_loadu_ps (x + i * 16), s));
}
#endif

static gboolean
run_se (const Exec *e, Region *r, const Plan *plan, GError **error)
{
  const SqueezeExcite *se = e->se;
  const float *x, *unused;
  float *y;
  if (!step_buffers (e, r, "squeeze-and-excitation", &x, &y, &unused, error))
    return FALSE;
#if defined(__x86_64__) && defined(__GNUC__)
  gint64 cb = se->c / 16, image = se->c * se->hw;
  float *mean = plan->scratch, *h = mean + se->c, *g = h + se->cr;
  gboolean big = image > (64 << 10);
  for (gint64 n = 0; n < se->n; n++) {
    const float *xn = x + n * image;
    float *yn = y + n * image;
#pragma omp parallel for schedule(static) if (big)
    for (gint64 k = 0; k < cb; k++)
      se_mean (xn + k * se->hw * 16, se->hw, mean + k * 16);
    se_gates (se, mean, h, g);
#pragma omp parallel for schedule(static) if (big)
    for (gint64 k = 0; k < cb; k++)
      se_scale (xn + k * se->hw * 16, se->hw, g + k * 16, yn + k * se->hw * 16);
  }
  return TRUE;
#else
  (void)se;
  (void)plan;
  return check (dnnl_unimplemented, r, NULL, "squeeze-and-excitation", error);
#endif
}

/* ---- direct convolutions on the region's own kernel (onednn-conv.c) ---- */

/* Whether @op is a convolution of the kind the region's own kernels take
 * (2-D, ungrouped, undilated, on whole 16-channel blocks, an activation
 * they apply, after a residual or not): fills @s. */
static gboolean
own_shape (const Builder *b, const Op *op, const Val *x, const gint64 *out, const gint64 *pl,
           OnednnConvShape *s)
{
  const OnednnWindow *win = &op->win;
  OnednnDwShape act;
  Op tail;
  gboolean residual = residual_tail (op, &tail);
  if (win->n_spatial != 2 || x->rank != 4 || win->group != 1 || residual != (op->sum_value >= 0)
      || !dw_act (&tail, &act) || win->dilations[0] != 1 || win->dilations[1] != 1)
    return FALSE;
  /* blocked, or (the direct kernel) a plain input of fewer than 16
   * channels, a network's first convolution */
  gboolean plain = x->dims[1] < 16;
  if (!plain && !blocked_by_16 (x->dims))
    return FALSE;
  if (split_swish (b->r, op)) /* a step of its own applies it (build_own_conv) */
    act.act = ONEDNN_DW_NONE;
  *s = (OnednnConvShape){ .n = x->dims[0],
                          .ic = x->dims[1],
                          .oc = op->wdims[0],
                          .ih = x->dims[2],
                          .iw = x->dims[3],
                          .oh = out[0],
                          .ow = out[1],
                          .kh = (int)op->wdims[2],
                          .kw = (int)op->wdims[3],
                          .sh = (int)win->strides[0],
                          .sw = (int)win->strides[1],
                          .pt = (int)pl[0],
                          .pl = (int)pl[1],
                          .act = act.act,
                          .alpha = act.alpha,
                          .beta = act.beta,
                          .residual = residual,
                          .plain = plain };
  return TRUE;
}

/* Whether the region's own direct kernel takes @s (from own_shape) where
 * it may be faster than oneDNN's direct kernel (strided, or a window
 * larger than 1x1). */
static gboolean
own_direct_takes (const Builder *b, const OnednnConvShape *s)
{
  if (b->r->direct_conv == ONEDNN_DIRECT_ONEDNN)
    return FALSE;
  /* not 1x1 stride-1 ones: on 7x7 and 14x14 maps they ran within 5% of
   * oneDNN's alone and up to 2% slower in EfficientNet-B0 */
  return (s->sh > 1 || s->sw > 1 || s->kh > 1 || s->kw > 1) && onednn_conv_supports (s);
}

/* The layout the own kernels read their input in: blocked, or plain. */
static void
own_src_md (dnnl_memory_desc_t *md, const OnednnConvShape *s, const gint64 *dims)
{
  if (s->plain)
    plain_md (md, 4, dims);
  else {
    any_md (md, 4, dims);
    blocked_md (md, 4, dims);
  }
}

/* One of the region's own convolution kernels, for timing and scheduling:
 * the direct one (onednn-conv.c) or the Winograd one (onednn-wino.c). */
typedef struct
{
  OnednnConv *conv;
  OnednnWino *wino;
} OwnConv;

static void
own_run (const OwnConv *k, const float *x, float *y)
{
  if (k->conv)
    onednn_conv_run (k->conv, x, y);
  else
    onednn_wino_run (k->wino, x, y);
}

static void
own_free (OwnConv *k)
{
  onednn_conv_free (k->conv);
  onednn_wino_free (k->wino);
  k->conv = NULL;
  k->wino = NULL;
}

/* Best of the timed runs (timed_enough) of @k on zero-filled buffers after
 * one to warm up, its weights evicted from the caches before each (as
 * time_primitive). */
static double
time_own_conv (const OwnConv *k, const OnednnConvShape *s)
{
  float *x = g_aligned_alloc0 ((gsize)(s->n * s->ic * s->ih * s->iw), sizeof (float), 64);
  float *y = g_aligned_alloc0 ((gsize)(s->n * s->oc * s->oh * s->ow), sizeof (float), 64);
  gsize bytes;
  const float *w
      = k->conv ? onednn_conv_weights (k->conv, &bytes) : onednn_wino_weights (k->wino, &bytes);
  double best = INFINITY, total = 0;
  for (int i = 0; !timed_enough (i - 1, total); i++) {
    flush_range (w, bytes);
    wake_team ();
    gint64 t0 = g_get_monotonic_time ();
    own_run (k, x, y);
    double t = (g_get_monotonic_time () - t0) * 1e-6;
    if (i > 0) {
      best = MIN (best, t);
      total += t;
    }
  }
  g_aligned_free (x);
  g_aligned_free (y);
  return best;
}

/* Whether the region's own kernel @k (for @s) runs the convolution @cd
 * rather than @rival (another own kernel) or, without one, oneDNN's @pd (in
 * its chosen layouts): @forced by an option, else per the choice file, or
 * timing both (oneDNN's with the reorder into its source layout). */
static gboolean
choose_own_conv (Builder *b, const dnnl_convolution_desc_t *cd, const_dnnl_primitive_desc_t pd,
                 const OwnConv *rival, const OwnConv *k, const OnednnConvShape *s, gboolean forced)
{
  if (forced)
    return TRUE;
  const char *mine_impl = k->conv ? OWN_CONV_IMPL : OWN_WINO_IMPL;
  const char *their_impl = rival ? OWN_CONV_IMPL : impl_name (pd);
  /* not the Winograd choice's key, which a 3x3 stride-1 shape also has */
  g_autofree char *shape = conv_key (b, cd);
  g_autofree char *key = g_strconcat (shape, " vs ", mine_impl, NULL);
  const char *file = b->r->conv_cache;
  g_autofree char *entry = NULL;
  g_mutex_lock (&choice_lock);
  const char *known = known_choice (file, key, &entry);
  gboolean own;
  if (known)
    own = g_str_equal (known, mine_impl);
  else {
    dnnl_memory_desc_t xmd;
    own_src_md (&xmd, s, (const gint64[]){ s->n, s->ic, s->ih, s->iw });
    double theirs
        = rival ? time_own_conv (rival, s)
                : time_primitive (pd, b->r->stream, TRUE)
                      + time_reorder (&xmd, dnnl_primitive_desc_query_md (pd, dnnl_query_src_md, 0),
                                      b->r->stream);
    double mine = time_own_conv (k, s);
    g_debug ("%s: %s %.3f ms, %s %.3f ms", key, their_impl, theirs * 1e3, mine_impl, mine * 1e3);
    /* the direct kernel only when at least 5% faster (less is within
     * the timing's noise); the Winograd one when faster at all: inside a
     * network it gains more than alone (ResNet-50's 256-channel 14x14
     * layers at one thread: 0.594 against 0.619 ms here, 0.70 against 0.80
     * in the model) */
    own = mine < (k->wino ? 1.0 : 0.95) * theirs;
    save_choice (file, key, g_steal_pointer (&entry), own ? mine_impl : their_impl);
  }
  g_mutex_unlock (&choice_lock);
  return own;
}

/* The destination of @op (a conv) in layout @md: with a residual (the sum
 * post-op), holding it when the conv runs: the residual's own buffer when
 * nothing reads it later (sum_inplace) and its layout is @md, else a copy
 * reordered into a new buffer first. */
static Val *
conv_dst (Builder *b, Op *op, const dnnl_memory_desc_t *md, guint rank, const gint64 *dims,
          GError **error)
{
  Val *z = op->sum_inplace ? g_hash_table_lookup (b->vals, GINT_TO_POINTER (op->sum_value)) : NULL;
  if (z && dnnl_memory_desc_equal (mem_md (z->mem), md) && z->rank == rank
      && memcmp (z->dims, dims, rank * sizeof (gint64)) == 0) {
    Val *y = g_new0 (Val, 1);
    *y = *z;
    y->md = NULL;
    g_hash_table_replace (b->vals, GINT_TO_POINTER (op->out), y);
    return y;
  }
  Val *y = make_dst (b, op, op->out, md, rank, dims, error);
  if (y == NULL || op->sum_value < 0)
    return y;
  z = get_val (b, op, op->sum_value, error);
  if (z == NULL)
    return NULL;
  if (z->rank != rank || memcmp (z->dims, dims, rank * sizeof (gint64)) != 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "node '%s': the residual operand's shape differs from the conv output",
                 glia_graph_node_get_name (b->r->graph, op->node));
    return NULL;
  }
  return add_reorder (b, op, z->mem, y->mem, error) ? y : NULL;
}

/* @op on the region's own kernel @k (the step takes it): blocked input and
 * output (conv_dst: with the residual in it). */
static gboolean
build_own_conv (Builder *b, Op *op, Val *x, OwnConv *k, const OnednnConvShape *s, GError **error)
{
  gint64 ydims[4] = { s->n, s->oc, s->oh, s->ow };
  dnnl_memory_desc_t xmd, ymd;
  own_src_md (&xmd, s, x->dims);
  any_md (&ymd, 4, ydims);
  blocked_md (&ymd, 4, ydims);
  dnnl_memory_t src = as_md (b, op, x, &xmd, error);
  Val *y = src ? conv_dst (b, op, &ymd, 4, ydims, error) : NULL;
  if (y == NULL) {
    own_free (k);
    return FALSE;
  }
  Exec *e = add_own_step (b, src, y->mem);
  e->conv = k->conv;
  e->wino = k->wino;
  b->plan->work += 2.0 * s->n * s->oc * s->oh * s->ow * s->ic * s->kh * s->kw;
  if (split_swish (b->r, op))
    add_swish (b, y->mem);
  return TRUE;
}

static gboolean
run_own_conv (const Exec *e, Region *r, GError **error)
{
  const float *x, *unused;
  float *y;
  if (!step_buffers (e, r, "convolution", &x, &y, &unused, error))
    return FALSE;
  const OwnConv k = { e->conv, e->wino };
  own_run (&k, x, y);
  return TRUE;
}

static gboolean
build_conv (Builder *b, Op *op, GError **error)
{
  Val *x = get_val (b, op, g_array_index (op->in, gint, 0), error);
  if (x == NULL)
    return FALSE;
  guint ns = op->win.n_spatial;
  gint64 group = op->win.group;
  if (x->rank != ns + 2 || x->dims[1] != op->wdims[1] * group) {
    g_set_error (
        error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
        "node '%s' (Conv): input has %" G_GINT64_FORMAT " channels, weights want %" G_GINT64_FORMAT,
        glia_graph_node_get_name (b->r->graph, op->node), x->dims[1], op->wdims[1] * group);
    return FALSE;
  }
  gint64 out[ONEDNN_MAX_SPATIAL], pl[ONEDNN_MAX_SPATIAL], pr[ONEDNN_MAX_SPATIAL];
  if (!onednn_window_resolve (&op->win, x->dims + 2, out, pl, pr)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "node '%s' (Conv): the kernel does not fit the input",
                 glia_graph_node_get_name (b->r->graph, op->node));
    return FALSE;
  }
  OnednnDwShape dws;
  if (dw_shape (b, op, x, out, pl, &dws))
    return build_dw (b, op, x, &dws, error);
  gint64 ydims[GLIA_MAX_RANK] = { x->dims[0], op->wdims[0] };
  dnnl_dims_t strides, dil, padl, padr;
  for (guint i = 0; i < ns; i++) {
    ydims[2 + i] = out[i];
    strides[i] = op->win.strides[i];
    dil[i] = op->win.dilations[i] - 1;
    padl[i] = pl[i];
    padr[i] = pr[i];
  }
  /* weights as oneDNN sees them: [G, OC/G, IC/G, k...] when grouped */
  gint64 wd[GLIA_MAX_RANK];
  guint wr = op->wrank;
  if (group > 1) {
    wd[0] = group;
    wd[1] = op->wdims[0] / group;
    for (guint i = 1; i < op->wrank; i++)
      wd[i + 1] = op->wdims[i];
    wr++;
  } else
    memcpy (wd, op->wdims, wr * sizeof (gint64));
  dnnl_memory_desc_t src_any, w_any, dst_any, bias_md;
  any_md (&src_any, x->rank, x->dims);
  any_md (&w_any, wr, wd);
  any_md (&dst_any, x->rank, ydims);
  blocked_md (&src_any, x->rank, x->dims);
  blocked_md (&dst_any, x->rank, ydims);

  gint64 oc = op->wdims[0];
  plain_md (&bias_md, 1, &oc);
  dnnl_convolution_desc_t cd;
  if (!check (dnnl_dilated_convolution_forward_desc_init (
                  &cd, dnnl_forward_inference, dnnl_convolution_direct, &src_any, &w_any,
                  op->bias ? &bias_md : NULL, &dst_any, strides, dil, padl, padr),
              b->r, op, "convolution descriptor", error))
    return FALSE;
  dnnl_primitive_attr_t attr;
  if (!make_attr (b, op, &attr, error))
    return FALSE;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_status_t s = dnnl_primitive_desc_create (&pd, &cd, attr, engine, NULL);
  gboolean wino_shape = ns == 2 && group == 1 && b->r->conv_algo != ONEDNN_CONV_DIRECT;
  for (guint i = 0; i < ns && wino_shape; i++)
    wino_shape = wd[2 + i] == 3 && strides[i] == 1 && dil[i] == 0;
  /* the region's own kernels that could take it (not the Winograd one
   * under conv-algorithm=winograd: oneDNN's kernel) */
  OnednnConvShape own;
  gboolean shaped = own_shape (b, op, x, out, pl, &own);
  gboolean own_ok = shaped && own_direct_takes (b, &own);
  /* tuning in the network also tries it on the 1x1 stride-1 ones, which
   * the per-shape choice leaves to oneDNN (own_direct_takes) */
  gboolean own_tuned = shaped && !own_ok && b->r->tune && (b->rec || b->force)
                       && b->r->direct_conv == ONEDNN_DIRECT_AUTO && onednn_conv_supports (&own);
  gboolean wino_ok = shaped && wino_shape && b->r->conv_algo != ONEDNN_CONV_WINOGRAD
                     && onednn_wino_supports (&own);
  const char *force = b->force ? b->force[op - &g_array_index (b->r->ops, Op, 0)] : NULL;
  if (force
      && ((g_str_equal (force, OWN_CONV_IMPL) && !own_ok && !own_tuned)
          || (g_str_equal (force, OWN_WINO_IMPL) && !wino_ok)))
    force = NULL;
  if (s == dnnl_success && wino_shape) {
    cd.alg_kind = dnnl_convolution_winograd;
    pd = choose_conv (b, op, pd, &cd, attr, force);
    cd.alg_kind = dnnl_convolution_direct;
  } else if (s == dnnl_success)
    record_alt (b, impl_name (pd));
  if (attr)
    dnnl_primitive_attr_destroy (attr);
  if (!check (s, b->r, op, "convolution", error))
    return FALSE;
  if (own_ok || own_tuned)
    record_alt (b, OWN_CONV_IMPL);
  if (wino_ok)
    record_alt (b, OWN_WINO_IMPL);
  if (b->rec)
    b->rec->shape = conv_key (b, &cd);
  const dnnl_convolution_desc_t *chosen = NULL;
  dnnl_primitive_desc_query (pd, dnnl_query_convolution_d, 0, &chosen);
  const float *weights = g_bytes_get_data (op->weights, NULL);
  const float *bias_data = op->bias ? g_bytes_get_data (op->bias, NULL) : NULL;
  OwnConv best = { NULL, NULL };
  if (force) { /* tune_plan's choice, no timing */
    if (g_str_equal (force, OWN_CONV_IMPL))
      best.conv = onednn_conv_new (&own, weights, bias_data);
    else if (g_str_equal (force, OWN_WINO_IMPL))
      best.wino = onednn_wino_new (&own, weights, bias_data);
  } else {
    /* the region's own direct kernel against oneDNN's direct one, then its
     * own Winograd kernel against the better of those or oneDNN's Winograd
     * kernel */
    if (chosen && chosen->alg_kind == dnnl_convolution_direct && own_ok) {
      best.conv = onednn_conv_new (&own, weights, bias_data);
      if (!choose_own_conv (b, &cd, pd, NULL, &best, &own, b->r->direct_conv == ONEDNN_DIRECT_GLIA))
        own_free (&best);
    }
    if (chosen && wino_ok) {
      OwnConv k = { NULL, onednn_wino_new (&own, weights, bias_data) };
      if (choose_own_conv (b, &cd, pd, best.conv ? &best : NULL, &k, &own,
                           b->r->conv_algo == ONEDNN_CONV_GLIA_WINOGRAD)) {
        own_free (&best);
        best = k;
      } else
        own_free (&k);
    }
  }
  if (b->rec)
    b->rec->impl = g_strdup (best.conv   ? OWN_CONV_IMPL
                             : best.wino ? OWN_WINO_IMPL
                                         : impl_name (pd));
  if (best.conv || best.wino) {
    dnnl_primitive_desc_destroy (pd);
    return build_own_conv (b, op, x, &best, &own, error);
  }
  dnnl_memory_desc_t user_w;
  plain_md (&user_w, wr, wd);
  dnnl_memory_t src, w, bias;
  gboolean have = weighted_inputs (b, op, pd, x, &user_w, &src, &w, &bias, error);
  const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md (pd, dnnl_query_dst_md, 0);
  Val *y = have ? conv_dst (b, op, dst_md, x->rank, ydims, error) : NULL;
  if (y == NULL) {
    dnnl_primitive_desc_destroy (pd);
    return FALSE;
  }
  if (!add_weighted (b, op, pd, src, w, bias, y->mem, "convolution", error))
    return FALSE;
  if (split_swish (b->r, op))
    add_swish (b, y->mem);
  return TRUE;
}

/* ConvTranspose as oneDNN's deconvolution. ONNX weights are [C, M/G, k...]
 * (input channels first); oneDNN's are [M, C, k...] or [G, M/G, C/G, k...],
 * described over the constant's own memory by strides and reordered once.
 * ONNX's output_padding is taken off the end padding (the claim checks it
 * fits). */
static gboolean
build_deconv (Builder *b, Op *op, GError **error)
{
  Val *x = get_val (b, op, g_array_index (op->in, gint, 0), error);
  if (x == NULL)
    return FALSE;
  guint ns = op->win.n_spatial;
  gint64 group = op->win.group;
  const char *name = glia_graph_node_get_name (b->r->graph, op->node);
  if (x->rank != ns + 2 || x->dims[1] != op->wdims[0]) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "node '%s' (ConvTranspose): input has %" G_GINT64_FORMAT
                 " channels, weights want %" G_GINT64_FORMAT,
                 name, x->dims[1], op->wdims[0]);
    return FALSE;
  }
  gint64 oc = op->wdims[1] * group, icg = op->wdims[0] / group, ocg = op->wdims[1];
  gint64 ydims[GLIA_MAX_RANK] = { x->dims[0], oc };
  dnnl_dims_t strides, dil, padl, padr;
  gint64 ksize = 1;
  for (guint i = 0; i < ns; i++) {
    gint64 k = op->win.kernel[i], d = op->win.dilations[i], st = op->win.strides[i];
    gint64 pl = op->win.valid ? 0 : op->win.pads[i], pr = op->win.valid ? 0 : op->win.pads[ns + i];
    ydims[2 + i]
        = st * (x->dims[2 + i] - 1) + op->win.output_padding[i] + (k - 1) * d + 1 - pl - pr;
    if (ydims[2 + i] < 1) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "node '%s' (ConvTranspose): the pads leave no output", name);
      return FALSE;
    }
    strides[i] = st;
    dil[i] = d - 1;
    padl[i] = pl;
    padr[i] = pr - op->win.output_padding[i];
    ksize *= k;
  }
  /* oneDNN's view of the constant */
  dnnl_dims_t wd, ws;
  int wr;
  if (group > 1) {
    wr = ns + 3;
    wd[0] = group, wd[1] = ocg, wd[2] = icg;
    ws[0] = icg * ocg * ksize, ws[1] = ksize, ws[2] = ocg * ksize;
  } else {
    wr = ns + 2;
    wd[0] = oc, wd[1] = icg;
    ws[0] = ksize, ws[1] = oc * ksize;
  }
  gint64 inner = 1;
  for (gint i = ns - 1; i >= 0; i--) {
    wd[wr - ns + i] = op->win.kernel[i];
    ws[wr - ns + i] = inner;
    inner *= op->win.kernel[i];
  }
  dnnl_memory_desc_t user_w, w_any, src_any, dst_any, bias_md;
  gint64 wd64[DNNL_MAX_NDIMS];
  for (int i = 0; i < wr; i++)
    wd64[i] = wd[i];
  if (!check (dnnl_memory_desc_init_by_strides (&user_w, wr, wd, dnnl_f32, ws), b->r, op,
              "weights descriptor", error))
    return FALSE;
  any_md (&w_any, wr, wd64);
  any_md (&src_any, x->rank, x->dims);
  any_md (&dst_any, x->rank, ydims);
  blocked_md (&src_any, x->rank, x->dims);
  blocked_md (&dst_any, x->rank, ydims);
  plain_md (&bias_md, 1, &oc);
  dnnl_deconvolution_desc_t dd;
  if (!check (dnnl_dilated_deconvolution_forward_desc_init (
                  &dd, dnnl_forward_inference, dnnl_deconvolution_direct, &src_any, &w_any,
                  op->bias ? &bias_md : NULL, &dst_any, strides, dil, padl, padr),
              b->r, op, "deconvolution descriptor", error))
    return FALSE;
  dnnl_primitive_attr_t attr;
  if (!make_attr (b, op, &attr, error))
    return FALSE;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_status_t s = dnnl_primitive_desc_create (&pd, &dd, attr, engine, NULL);
  if (attr)
    dnnl_primitive_attr_destroy (attr);
  if (!check (s, b->r, op, "deconvolution", error))
    return FALSE;
  dnnl_memory_t src, w, bias;
  Val *y = weighted_inputs (b, op, pd, x, &user_w, &src, &w, &bias, error)
               ? make_dst (b, op, op->out, dnnl_primitive_desc_query_md (pd, dnnl_query_dst_md, 0),
                           x->rank, ydims, error)
               : NULL;
  if (y == NULL) {
    dnnl_primitive_desc_destroy (pd);
    return FALSE;
  }
  return add_weighted (b, op, pd, src, w, bias, y->mem, "deconvolution", error);
}

/* A view of @mem's data with descriptor @md (a reshape of plain data). A
 * region input or output is bound at each run, and so is its view. */
static dnnl_memory_t
view_mem (Builder *b, const Op *op, dnnl_memory_t mem, const dnnl_memory_desc_t *md, GError **error)
{
  void *handle = NULL;
  dnnl_memory_get_data_handle (mem, &handle);
  dnnl_memory_t view = new_mem (b, op, md, handle, error);
  if (view && handle == NULL) {
    Alias al = { view, mem };
    g_array_append_val (b->plan->aliases, al);
  }
  return view;
}

/* MatMul, Gemm and their fused forms: one 2-D matmul over A's leading axes
 * flattened into rows (plain layouts, so the flattening is a view). */
static gboolean
build_gemm (Builder *b, Op *op, GError **error)
{
  Val *x = get_val (b, op, g_array_index (op->in, gint, 0), error);
  if (x == NULL)
    return FALSE;
  guint r = x->rank;
  gint64 k = op->wdims[0], n = op->wdims[1];
  if (r < 2 || x->dims[r - 1] != k) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "node '%s': the inner dims differ (%" G_GINT64_FORMAT " and %" G_GINT64_FORMAT ")",
                 glia_graph_node_get_name (b->r->graph, op->node), x->dims[r - 1], k);
    return FALSE;
  }
  gint64 yd[GLIA_MAX_RANK], m = 1;
  for (guint i = 0; i < r; i++)
    yd[i] = x->dims[i];
  for (guint i = 0; i + 1 < r; i++)
    m *= x->dims[i];
  yd[r - 1] = n;
  gint64 sd[2] = { m, k }, wd[2] = { k, n }, bd[2] = { 1, n }, dd[2] = { m, n };
  dnnl_memory_desc_t src_md, w_any, bias_md, dst_md;
  plain_md (&src_md, 2, sd);
  any_md (&w_any, 2, wd);
  plain_md (&bias_md, 2, bd);
  plain_md (&dst_md, 2, dd);
  dnnl_matmul_desc_t md;
  if (!check (dnnl_matmul_desc_init (&md, &src_md, &w_any, op->bias ? &bias_md : NULL, &dst_md),
              b->r, op, "matmul descriptor", error))
    return FALSE;
  dnnl_primitive_attr_t attr;
  if (!make_attr (b, op, &attr, error))
    return FALSE;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_status_t s = dnnl_primitive_desc_create (&pd, &md, attr, engine, NULL);
  if (attr)
    dnnl_primitive_attr_destroy (attr);
  if (!check (s, b->r, op, "matmul", error))
    return FALSE;
  dnnl_memory_t src = as_plain (b, op, x, error);
  if (src && r != 2)
    src = view_mem (b, op, src, &src_md, error);
  dnnl_memory_t w
      = src ? packed_weights (b, op, dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0), 2,
                              wd, error)
            : NULL;
  dnnl_memory_t bias = NULL;
  if (w && op->bias)
    bias = new_mem (b, op, &bias_md, (void *)g_bytes_get_data (op->bias, NULL), error);
  dnnl_memory_desc_t y_md;
  plain_md (&y_md, r, yd);
  Val *y = w && (bias || !op->bias) ? make_dst (b, op, op->out, &y_md, r, yd, error) : NULL;
  dnnl_memory_t dst = y && r != 2 ? view_mem (b, op, y->mem, &dst_md, error) : y ? y->mem : NULL;
  if (dst == NULL) {
    dnnl_primitive_desc_destroy (pd);
    return FALSE;
  }
  dnnl_exec_arg_t args[4]
      = { { DNNL_ARG_SRC, src }, { DNNL_ARG_WEIGHTS, w }, { DNNL_ARG_DST, dst } };
  int na = 3;
  if (bias)
    args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_BIAS, bias };
  return add_primitive (b, op, pd, na, args, "matmul", error);
}

/* Ops that take their input's layout as it is (@plain: reordered to plain
 * first, the retry when oneDNN has no kernel for that layout). */
/* @op (a max pooling) on the region's own kernel: the output in the
 * input's blocked layout. */
static gboolean
build_own_pool (Builder *b, const Op *op, dnnl_memory_t src, const Val *x, const gint64 *yd,
                const OnednnPoolShape *ps, GError **error)
{
  dnnl_memory_desc_t ymd; /* (a partial last block is padded, as the input's) */
  dnnl_dims_t d = { yd[0], yd[1], yd[2], yd[3] };
  if (!check (dnnl_memory_desc_init_by_tag (&ymd, 4, d, dnnl_f32, dnnl_aBcd16b), b->r, op,
              "pooling", error))
    return FALSE;
  Val *y = make_dst (b, op, op->out, &ymd, x->rank, yd, error);
  if (y == NULL)
    return FALSE;
  add_own_step (b, src, y->mem)->pool = g_memdup2 (ps, sizeof *ps);
  return TRUE;
}

static gboolean
run_own_pool (const Exec *e, Region *r, GError **error)
{
  const float *x, *unused;
  float *y;
  if (!step_buffers (e, r, "pooling", &x, &y, &unused, error))
    return FALSE;
  onednn_maxpool_run (e->pool, x, y);
  return TRUE;
}

static gboolean
build_simple (Builder *b, Op *op, gboolean plain, GError **error)
{
  Val *x = get_val (b, op, g_array_index (op->in, gint, 0), error);
  if (x == NULL)
    return FALSE;
  dnnl_memory_t src = plain ? as_plain (b, op, x, error) : x->mem;
  if (src == NULL)
    return FALSE;
  const dnnl_memory_desc_t *xmd = mem_md (src);
  gint64 yd[GLIA_MAX_RANK];
  memcpy (yd, x->dims, x->rank * sizeof (gint64));
  dnnl_memory_desc_t dst_any;
  union
  {
    dnnl_pooling_v2_desc_t pool;
    dnnl_batch_normalization_desc_t bn;
    dnnl_lrn_desc_t lrn;
    dnnl_eltwise_desc_t elt;
    dnnl_softmax_v2_desc_t sm;
  } d;
  dnnl_status_t s = dnnl_success;
  const char *what = "primitive";
  switch (op->kind) {
  case ONEDNN_OP_POOL: {
    what = "pooling";
    guint ns = x->rank - 2;
    gint64 out[ONEDNN_MAX_SPATIAL], pl[ONEDNN_MAX_SPATIAL], pr[ONEDNN_MAX_SPATIAL];
    if (x->rank < 3 || ns != op->win.n_spatial
        || !onednn_window_resolve (&op->win, x->dims + 2, out, pl, pr)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "node '%s': the pooling window does not fit the input",
                   glia_graph_node_get_name (b->r->graph, op->node));
      return FALSE;
    }
    dnnl_dims_t strides, kernel, dil, padl, padr;
    for (guint i = 0; i < ns; i++) {
      yd[2 + i] = out[i];
      kernel[i] = op->win.global ? x->dims[2 + i] : op->win.kernel[i];
      strides[i] = op->win.global ? 1 : op->win.strides[i];
      dil[i] = op->win.global ? 0 : op->win.dilations[i] - 1;
      padl[i] = pl[i];
      padr[i] = pr[i];
    }
    any_md (&dst_any, x->rank, yd);
    if (op->pool == ONEDNN_POOL_MAX && !op->win.global && ns == 2 && dil[0] == 0 && dil[1] == 0
        && b->r->depthwise == ONEDNN_DW_GLIA && md_has_tag (xmd, dnnl_aBcd16b)) {
      OnednnPoolShape ps = { x->dims[0], (x->dims[1] + 15) / 16,
                             x->dims[2], x->dims[3],
                             yd[2],      yd[3],
                             kernel[0],  kernel[1],
                             strides[0], strides[1],
                             padl[0],    padl[1] };
      if (onednn_maxpool_supports (&ps))
        return build_own_pool (b, op, src, x, yd, &ps, error);
    }
    dnnl_alg_kind_t alg = op->pool == ONEDNN_POOL_MAX           ? dnnl_pooling_max
                          : op->pool == ONEDNN_POOL_AVG_INCLUDE ? dnnl_pooling_avg_include_padding
                                                                : dnnl_pooling_avg_exclude_padding;
    s = dnnl_pooling_v2_forward_desc_init (&d.pool, dnnl_forward_inference, alg, xmd, &dst_any,
                                           strides, kernel, dil, padl, padr);
    break;
  }
  case ONEDNN_OP_BNORM:
    what = "batch normalization";
    s = dnnl_batch_normalization_forward_desc_init (&d.bn, dnnl_forward_inference, xmd, op->epsilon,
                                                    dnnl_use_global_stats | dnnl_use_scale
                                                        | dnnl_use_shift);
    break;
  case ONEDNN_OP_LRN:
    what = "LRN";
    s = dnnl_lrn_forward_desc_init (&d.lrn, dnnl_forward_inference, dnnl_lrn_across_channels, xmd,
                                    op->size, op->alpha, op->beta, op->bias_k);
    break;
  case ONEDNN_OP_ELTWISE: {
    what = "eltwise";
    PostOp p[MAX_POST];
    guint np = 0;
    act_to_post (&op->act, p, &np);
    s = dnnl_eltwise_forward_desc_init (&d.elt, dnnl_forward_inference, p[0].alg, xmd, p[0].alpha,
                                        p[0].beta);
    break;
  }
  case ONEDNN_OP_SOFTMAX:
    what = "softmax";
    s = dnnl_softmax_v2_forward_desc_init (&d.sm, dnnl_forward_inference, dnnl_softmax_accurate,
                                           xmd, xmd, op->axis);
    break;
  default:
    g_assert_not_reached ();
  }
  if (!check (s, b->r, op, what, error))
    return FALSE;
  dnnl_primitive_desc_t pd = NULL;
  s = dnnl_primitive_desc_create (&pd, &d, NULL, engine, NULL);
  if (s == dnnl_unimplemented && !plain)
    return build_simple (b, op, TRUE, error);
  if (!check (s, b->r, op, what, error))
    return FALSE;
  Val *y = make_dst (b, op, op->out, dnnl_primitive_desc_query_md (pd, dnnl_query_dst_md, 0),
                     x->rank, yd, error);
  if (y == NULL) {
    dnnl_primitive_desc_destroy (pd);
    return FALSE;
  }
  dnnl_exec_arg_t args[6] = { { DNNL_ARG_SRC, src }, { DNNL_ARG_DST, y->mem } };
  int n = 2;
  if (op->kind == ONEDNN_OP_BNORM) {
    static const int which[4]
        = { DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE };
    for (guint i = 0; i < 4; i++) {
      dnnl_memory_t m = vector_mem (b, op, op->bn[i], error);
      if (m == NULL) {
        dnnl_primitive_desc_destroy (pd);
        return FALSE;
      }
      args[n++] = (dnnl_exec_arg_t){ which[i], m };
    }
  }
  return add_primitive (b, op, pd, n, args, what, error);
}

/* @val with its dims padded with leading ones to @rank (plain layout; a
 * view of the same data when the rank differs). */
static dnnl_memory_t
as_rank (Builder *b, const Op *op, Val *val, dnnl_memory_t mem, guint rank, const gint64 *dims,
         GError **error)
{
  if (val->rank == rank)
    return mem;
  dnnl_memory_t plain = as_plain (b, op, val, error);
  if (plain == NULL)
    return NULL;
  dnnl_memory_desc_t md;
  plain_md (&md, rank, dims);
  return view_mem (b, op, plain, &md, error);
}

/* Binary ops (and an Add whose operands differ in shape): oneDNN's binary
 * primitive, which broadcasts its second source; sources in their own
 * layouts, else the broadcast one plain, else both plain. */
static gboolean
build_binary (Builder *b, Op *op, Val *x0, Val *x1, guint attempt, GError **error)
{
  guint rank = MAX (x0->rank, x1->rank);
  gint64 d0[GLIA_MAX_RANK], d1[GLIA_MAX_RANK], yd[GLIA_MAX_RANK];
  gboolean full0 = TRUE, full1 = TRUE;
  for (guint k = 0; k < rank; k++) {
    d0[k] = k < rank - x0->rank ? 1 : x0->dims[k - (rank - x0->rank)];
    d1[k] = k < rank - x1->rank ? 1 : x1->dims[k - (rank - x1->rank)];
    yd[k] = d0[k] == 1 ? d1[k] : d0[k];
    if (d0[k] != d1[k] && d0[k] != 1 && d1[k] != 1) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "node '%s' (%s): the operand shapes do not broadcast",
                   glia_graph_node_get_name (b->r->graph, op->node),
                   glia_graph_node_get_op_type (b->r->graph, op->node));
      return FALSE;
    }
    full0 = full0 && d0[k] == yd[k];
    full1 = full1 && d1[k] == yd[k];
  }
  gboolean commutative = op->binary_alg == dnnl_binary_add || op->binary_alg == dnnl_binary_mul;
  gboolean swap = !full0 && commutative && full1;
  if (!full0 && !swap) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "node '%s' (%s): the first operand must have the output's shape",
                 glia_graph_node_get_name (b->r->graph, op->node),
                 glia_graph_node_get_op_type (b->r->graph, op->node));
    return FALSE;
  }
  Val *a = swap ? x1 : x0, *c = swap ? x0 : x1;
  const gint64 *dc = swap ? d0 : d1;
  dnnl_memory_t m0 = attempt >= 2 ? as_plain (b, op, a, error) : a->mem;
  m0 = m0 ? as_rank (b, op, a, m0, rank, yd, error) : NULL;
  dnnl_memory_t m1 = NULL;
  if (m0)
    m1 = attempt >= 1 ? as_plain (b, op, c, error) : c->mem;
  m1 = m1 ? as_rank (b, op, c, m1, rank, dc, error) : NULL;
  if (m1 == NULL)
    return FALSE;
  dnnl_binary_desc_t d;
  if (!check (dnnl_binary_desc_init (&d, op->binary_alg, mem_md (m0), mem_md (m1), mem_md (m0)),
              b->r, op, "binary", error))
    return FALSE;
  dnnl_primitive_attr_t attr;
  if (!make_attr (b, op, &attr, error))
    return FALSE;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_status_t s = dnnl_primitive_desc_create (&pd, &d, attr, engine, NULL);
  if (attr)
    dnnl_primitive_attr_destroy (attr);
  if (s == dnnl_unimplemented && attempt < 2)
    return build_binary (b, op, x0, x1, attempt + 1, error);
  if (!check (s, b->r, op, "binary", error))
    return FALSE;
  Val *y = make_dst (b, op, op->out, mem_md (m0), rank, yd, error);
  if (y == NULL) {
    dnnl_primitive_desc_destroy (pd);
    return FALSE;
  }
  dnnl_exec_arg_t args[3]
      = { { DNNL_ARG_SRC_0, m0 }, { DNNL_ARG_SRC_1, m1 }, { DNNL_ARG_DST, y->mem } };
  return add_primitive (b, op, pd, 3, args, "binary", error);
}

/* Concat and Sum: n sources in their own layouts, the destination in the
 * layout oneDNN picks. */
/* Concat along channels of 4-D tensors that all have one of these
 * layouts, channel counts a multiple of its block: then each input's part
 * of the output is one contiguous run per outer index (per pixel in NHWC,
 * per image otherwise), copied with memcpy. oneDNN 2.6's concat is slow on
 * both: per-pixel rows of NHWC cost SqueezeNet 0.45 ms of its 4.5, and its
 * blocked "simple" concat was slower still. */
static const struct
{
  dnnl_format_tag_t tag;
  gint64 block;
  gboolean per_pixel;
} copy_layouts[] = {
  { dnnl_acdb, 1, TRUE },
  { dnnl_abcd, 1, FALSE },
  { dnnl_aBcd16b, 16, FALSE },
  { dnnl_aBcd8b, 8, FALSE },
};

static gboolean
md_has_tag (const dnnl_memory_desc_t *md, dnnl_format_tag_t tag)
{
  dnnl_memory_desc_t want;
  return dnnl_memory_desc_init_by_tag (&want, md->ndims, md->dims, dnnl_f32, tag) == dnnl_success
         && dnnl_memory_desc_equal (md, &want);
}

static gboolean
run_copy_concat (const Exec *e, Region *r, GError **error)
{
  const CopyConcat *cc = e->concat;
  float *dst = NULL;
  if (dnnl_memory_get_data_handle (e->args[cc->n].memory, (void **)&dst) != dnnl_success)
    return check (dnnl_runtime_error, r, NULL, "concat", error);
  g_autofree const float **src = g_new (const float *, cc->n);
  for (guint i = 0; i < cc->n; i++)
    if (dnnl_memory_get_data_handle (e->args[i].memory, (void **)&src[i]) != dnnl_success)
      return check (dnnl_runtime_error, r, NULL, "concat", error);
  gint64 total = cc->outer * cc->n;
  gint64 bytes = cc->outer * cc->dst_row * (gint64)sizeof (float);
  /* copies below some 256 KiB are not worth waking the other threads */
#pragma omp parallel for schedule(static) if (bytes > (256 << 10))
  for (gint64 k = 0; k < total; k++) {
    gint64 o = k / cc->n;
    guint i = k % cc->n;
    memcpy (dst + o * cc->dst_row + cc->offset[i], src[i] + o * cc->chunk[i],
            cc->chunk[i] * sizeof (float));
  }
  return TRUE;
}

/* Whether @mem is an activation buffer the plan allocated and owns alone:
 * not bound to a region input or output at each run, no view of one. */
static gboolean
plan_owned_mem (const Plan *plan, const Region *r, dnnl_memory_t mem)
{
  for (guint i = 0; i < r->n_inputs; i++)
    if (plan->in_mem[i] == mem)
      return FALSE;
  for (guint o = 0; o < r->n_outputs; o++)
    if (plan->out_mem[o] == mem)
      return FALSE;
  for (guint i = 0; i < plan->aliases->len; i++) {
    const Alias *al = &g_array_index (plan->aliases, Alias, i);
    if (al->of == mem || al->view == mem)
      return FALSE;
  }
  void *handle = NULL;
  return dnnl_memory_get_data_handle (mem, &handle) == dnnl_success && handle != NULL;
}

/* Concat elision: when each input's part of the output is one contiguous
 * run (cc->outer 1: one image, channels-outer layouts), the inputs' buffers
 * are moved into the output at their offsets (oneDNN frees the buffers they
 * had), so their producers write there and nothing is copied (SqueezeNet's
 * eight fire modules). Not when a later op accumulates a residual in place
 * into the output or an input (that would overwrite the other's data), or
 * when a buffer is bound at each run or feeds the concat twice. */
static gboolean
elide_concat (Builder *b, const Op *op, const CopyConcat *cc, dnnl_memory_t *src, Val *y)
{
  if (cc->outer != 1 || !plan_owned_mem (b->plan, b->r, y->mem))
    return FALSE;
  for (guint k = 0; k < b->r->ops->len; k++) {
    const Op *o = &g_array_index (b->r->ops, Op, k);
    if (!o->sum_inplace)
      continue;
    if (o->sum_value == op->out)
      return FALSE;
    for (guint i = 0; i < op->in->len; i++)
      if (o->sum_value == g_array_index (op->in, gint, i))
        return FALSE;
  }
  for (guint i = 0; i < cc->n; i++) {
    if (!plan_owned_mem (b->plan, b->r, src[i]))
      return FALSE;
    for (guint j = 0; j < i; j++)
      if (src[j] == src[i])
        return FALSE;
  }
  float *base = NULL;
  if (dnnl_memory_get_data_handle (y->mem, (void **)&base) != dnnl_success)
    return FALSE;
  for (guint i = 0; i < cc->n; i++)
    if (dnnl_memory_set_data_handle (src[i], base + cc->offset[i]) != dnnl_success)
      return FALSE;
  g_debug ("%s: inputs written in place", glia_graph_node_get_name (b->r->graph, op->node));
  return TRUE;
}

/* The copy concat for @op when its inputs allow it; FALSE (nothing done,
 * no error) otherwise. */
static gboolean
build_concat_copy (Builder *b, Op *op, Val **xs, dnnl_memory_t *src, GError **error, gboolean *done)
{
  guint n = op->in->len;
  *done = FALSE;
  if (xs[0]->rank != 4 || op->axis != 1)
    return TRUE;
  guint l;
  for (l = 0; l < G_N_ELEMENTS (copy_layouts); l++) {
    gboolean all = TRUE;
    for (guint i = 0; i < n && all; i++)
      all = md_has_tag (mem_md (src[i]), copy_layouts[l].tag)
            && xs[i]->dims[1] % copy_layouts[l].block == 0;
    if (all)
      break;
  }
  if (l == G_N_ELEMENTS (copy_layouts))
    return TRUE;
  gint64 yd[4] = { xs[0]->dims[0], 0, xs[0]->dims[2], xs[0]->dims[3] };
  for (guint i = 0; i < n; i++)
    yd[1] += xs[i]->dims[1];
  dnnl_memory_desc_t ymd;
  dnnl_dims_t d = { yd[0], yd[1], yd[2], yd[3] };
  if (!check (dnnl_memory_desc_init_by_tag (&ymd, 4, d, dnnl_f32, copy_layouts[l].tag), b->r, op,
              "concat", error))
    return FALSE;
  Val *y = make_dst (b, op, op->out, &ymd, 4, yd, error);
  if (y == NULL)
    return FALSE;
  gint64 hw = yd[2] * yd[3];
  CopyConcat *cc = g_new0 (CopyConcat, 1);
  cc->n = n;
  cc->outer = copy_layouts[l].per_pixel ? yd[0] * hw : yd[0];
  cc->chunk = g_new (gint64, n);
  cc->offset = g_new (gint64, n);
  for (guint i = 0; i < n; i++) {
    cc->chunk[i] = xs[i]->dims[1] * (copy_layouts[l].per_pixel ? 1 : hw);
    cc->offset[i] = cc->dst_row;
    cc->dst_row += cc->chunk[i];
  }
  *done = TRUE;
  if (elide_concat (b, op, cc, src, y)) {
    g_free (cc->chunk);
    g_free (cc->offset);
    g_free (cc);
    return TRUE;
  }
  Exec e = { NULL, n + 1, g_new (dnnl_exec_arg_t, n + 1), cc, FALSE };
  for (guint i = 0; i < n; i++)
    e.args[i] = (dnnl_exec_arg_t){ DNNL_ARG_MULTIPLE_SRC + i, src[i] };
  e.args[n] = (dnnl_exec_arg_t){ DNNL_ARG_DST, y->mem };
  g_array_append_val (b->plan->execs, e);
  return TRUE;
}

static gboolean
build_multi (Builder *b, Op *op, gboolean plain, GError **error)
{
  guint n = op->in->len;
  g_autofree dnnl_memory_t *src = g_new0 (dnnl_memory_t, n);
  g_autofree dnnl_memory_desc_t *mds = g_new0 (dnnl_memory_desc_t, n);
  g_autofree Val **xs = g_new0 (Val *, n);
  g_autofree dnnl_exec_arg_t *args = NULL;
  for (guint i = 0; i < n; i++) {
    xs[i] = get_val (b, op, g_array_index (op->in, gint, i), error);
    if (xs[i] == NULL)
      return FALSE;
    if (xs[i]->rank != xs[0]->rank)
      goto mismatch;
    for (guint k = 0; k < xs[0]->rank; k++)
      if (xs[i]->dims[k] != xs[0]->dims[k] && (op->kind == ONEDNN_OP_SUM || (gint)k != op->axis)) {
        if (op->kind == ONEDNN_OP_SUM && n == 2)
          return build_binary (b, op, xs[0], xs[1], 0, error);
        goto mismatch;
      }
    src[i] = plain ? as_plain (b, op, xs[i], error) : xs[i]->mem;
    if (src[i] == NULL)
      return FALSE;
    mds[i] = *mem_md (src[i]);
  }
  if (op->kind == ONEDNN_OP_CONCAT) {
    gboolean done = FALSE;
    if (!build_concat_copy (b, op, xs, src, error, &done))
      return FALSE;
    if (done)
      return TRUE;
  }
  gint64 yd[GLIA_MAX_RANK];
  memcpy (yd, xs[0]->dims, xs[0]->rank * sizeof (gint64));
  if (op->kind == ONEDNN_OP_CONCAT)
    for (guint i = 1; i < n; i++)
      yd[op->axis] += xs[i]->dims[op->axis];
  dnnl_memory_desc_t dst_any;
  any_md (&dst_any, xs[0]->rank, yd);
  dnnl_primitive_desc_t pd = NULL;
  dnnl_status_t s;
  if (op->kind == ONEDNN_OP_CONCAT)
    s = dnnl_concat_primitive_desc_create (&pd, &dst_any, n, op->axis, mds, NULL, engine);
  else {
    g_autofree float *scales = g_new (float, n);
    for (guint i = 0; i < n; i++)
      scales[i] = 1.0f;
    s = dnnl_sum_primitive_desc_create (&pd, &dst_any, n, scales, mds, NULL, engine);
  }
  if (s == dnnl_unimplemented && !plain)
    return build_multi (b, op, TRUE, error);
  const char *what = op->kind == ONEDNN_OP_CONCAT ? "concat" : "sum";
  if (!check (s, b->r, op, what, error))
    return FALSE;
  Val *y = make_dst (b, op, op->out, dnnl_primitive_desc_query_md (pd, dnnl_query_dst_md, 0),
                     xs[0]->rank, yd, error);
  if (y == NULL) {
    dnnl_primitive_desc_destroy (pd);
    return FALSE;
  }
  args = g_new (dnnl_exec_arg_t, n + 1);
  for (guint i = 0; i < n; i++)
    args[i] = (dnnl_exec_arg_t){ DNNL_ARG_MULTIPLE_SRC + i, src[i] };
  args[n] = (dnnl_exec_arg_t){ DNNL_ARG_DST, y->mem };
  return add_primitive (b, op, pd, n + 1, args, what, error);

mismatch:
  g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
               "node '%s' (%s): the input shapes do not match",
               glia_graph_node_get_name (b->r->graph, op->node),
               glia_graph_node_get_op_type (b->r->graph, op->node));
  return FALSE;
}

/* ---- activation memory ---------------------------------------------------- */

/* A buffer oneDNN allocated for a plan's activation, and every memory
 * object whose data lies in it (concat inputs written in place, reshaped
 * views). */
typedef struct
{
  char *base;
  gsize size, offset;
  gint first, last; /* the steps that use it, -1 for none */
} SharedBuf;

static gint
compare_buf_base (gconstpointer a, gconstpointer b)
{
  const SharedBuf *x = a, *y = b; /* by base, the larger first */
  if (x->base != y->base)
    return x->base < y->base ? -1 : 1;
  return x->size > y->size ? -1 : x->size < y->size;
}

static gint
compare_buf_size (gconstpointer a, gconstpointer b)
{
  const SharedBuf *x = *(SharedBuf *const *)a, *y = *(SharedBuf *const *)b;
  return x->size > y->size ? -1 : x->size < y->size;
}

/* The buffer holding [p, p + n) in @bufs (sorted by base), or NULL. */
static SharedBuf *
buf_holding (GArray *bufs, const char *p, gsize n)
{
  guint lo = 0, hi = bufs->len;
  while (lo < hi) { /* the last buffer that starts at or before p */
    guint mid = (lo + hi) / 2;
    if (g_array_index (bufs, SharedBuf, mid).base <= p)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return NULL;
  SharedBuf *sb = &g_array_index (bufs, SharedBuf, lo - 1);
  return p + n <= sb->base + sb->size ? sb : NULL;
}

/* Activations whose uses do not overlap share memory. Each buffer oneDNN
 * allocated for the plan is live from the first step that names it (or a
 * memory object inside it) in its arguments to the last one; every step
 * names the data it reads and writes there, and such a buffer holds nothing
 * between runs (region inputs and outputs are bound at each run, constants
 * are not oneDNN's allocations). The buffers are packed into one arena,
 * largest first, each at the lowest offset free during its lifetime, and
 * the memory objects are pointed there. A run then touches about the peak
 * of live activations instead of all of them, and they stay in the caches:
 * SqueezeNet 1.1's region 11.1 -> 3.7 MiB, EfficientNet-B0's 33.8 -> 5.7,
 * ResNet-50's 22.1 -> 5.0; at one thread SqueezeNet 4.02 -> 3.56 ms,
 * EfficientNet-B0 7.10 -> 6.66, ResNet-18 14.8 -> 14.4 (medians of 5
 * alternating runs). Only for regions of one thread: with two, a reused
 * line is often dirty in the other core's cache, written by an op that
 * split its work differently, and the transfer costs more than a line from
 * memory (SqueezeNet at two threads 2.21 -> 2.30 ms, its first convolution
 * writing 3 MB over the last layers' buffers 136 -> 223 us; ResNet-50 and
 * EfficientNet-B0 unchanged, never faster). */
static gboolean
plan_share_buffers (Plan *plan, GError **error)
{
  if (plan->acts->len < 2)
    return TRUE;
  g_autoptr (GArray) bufs = g_array_new (FALSE, FALSE, sizeof (SharedBuf));
  for (guint i = 0; i < plan->acts->len; i++) {
    dnnl_memory_t mem = g_ptr_array_index (plan->acts, i);
    void *h = NULL;
    gsize size = dnnl_memory_desc_get_size (mem_md (mem));
    if (dnnl_memory_get_data_handle (mem, &h) != dnnl_success || h == NULL || size == 0)
      continue;
    SharedBuf sb = { h, size, 0, -1, -1 };
    g_array_append_val (bufs, sb);
  }
  g_array_sort (bufs, compare_buf_base);
  /* drop those inside another (a concat input moved into its output) */
  guint kept = 0;
  for (guint i = 0; i < bufs->len; i++) {
    SharedBuf *sb = &g_array_index (bufs, SharedBuf, i);
    if (kept > 0) {
      SharedBuf *prev = &g_array_index (bufs, SharedBuf, kept - 1);
      if (sb->base < prev->base + prev->size) {
        if (sb->base + sb->size > prev->base + prev->size) {
          /* not two allocations, then: leave the plan's memory as it is */
          g_debug ("plan: activation buffers overlap, not shared");
          return TRUE;
        }
        continue;
      }
    }
    g_array_index (bufs, SharedBuf, kept++) = *sb;
  }
  g_array_set_size (bufs, kept);

  /* lifetimes, over the steps' arguments */
  for (guint k = 0; k < plan->execs->len; k++) {
    const Exec *e = &g_array_index (plan->execs, Exec, k);
    for (int a = 0; a < e->n_args; a++) {
      void *h = NULL;
      if (e->args[a].memory == NULL
          || dnnl_memory_get_data_handle (e->args[a].memory, &h) != dnnl_success || h == NULL)
        continue;
      SharedBuf *sb
          = buf_holding (bufs, h, MAX (dnnl_memory_desc_get_size (mem_md (e->args[a].memory)), 1));
      if (sb == NULL)
        continue;
      if (sb->first < 0)
        sb->first = (gint)k;
      sb->last = (gint)k;
    }
  }

  /* placement: largest first, lowest offset not in use by a buffer placed
   * before whose lifetime overlaps */
  g_autoptr (GPtrArray) order = g_ptr_array_new ();
  for (guint i = 0; i < bufs->len; i++)
    if (g_array_index (bufs, SharedBuf, i).first >= 0)
      g_ptr_array_add (order, &g_array_index (bufs, SharedBuf, i));
  if (order->len < 2)
    return TRUE;
  g_ptr_array_sort (order, compare_buf_size);
  gsize arena = 0, total = 0;
  for (guint i = 0; i < order->len; i++) {
    SharedBuf *sb = g_ptr_array_index (order, i);
    gsize need = (sb->size + 63) / 64 * 64, offset = 0;
    total += need;
    gboolean moved = TRUE;
    while (moved) { /* first fit: bump past every overlapping placed buffer */
      moved = FALSE;
      for (guint j = 0; j < i; j++) {
        SharedBuf *o = g_ptr_array_index (order, j);
        gsize oneed = (o->size + 63) / 64 * 64;
        if (o->last < sb->first || sb->last < o->first)
          continue;
        if (offset < o->offset + oneed && o->offset < offset + need) {
          offset = o->offset + oneed;
          moved = TRUE;
        }
      }
    }
    sb->offset = offset;
    arena = MAX (arena, offset + need);
  }
  char *base = g_aligned_alloc0 (arena, 1, 64); /* padded channels read as zeros */
  /* every memory object inside a buffer moves with it; new handles first,
   * as moving a buffer's own object frees its old allocation */
  g_autoptr (GArray) moves = g_array_new (FALSE, FALSE, sizeof (gpointer));
  for (guint i = 0; i < plan->mems->len; i++) {
    dnnl_memory_t mem = g_ptr_array_index (plan->mems, i);
    void *h = NULL;
    if (dnnl_memory_get_data_handle (mem, &h) != dnnl_success || h == NULL)
      continue;
    SharedBuf *sb = buf_holding (bufs, h, 1);
    if (sb == NULL || sb->first < 0)
      continue;
    gpointer pair[2] = { mem, base + sb->offset + ((char *)h - sb->base) };
    g_array_append_vals (moves, pair, 2);
  }
  for (guint i = 0; i < moves->len; i += 2)
    if (dnnl_memory_set_data_handle (g_array_index (moves, gpointer, i),
                                     g_array_index (moves, gpointer, i + 1))
        != dnnl_success) {
      g_aligned_free (base); /* the plan is freed: its objects never run */
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_FAILED, "oneDNN plan: cannot move activations");
      return FALSE;
    }
  plan->arena = base;
  g_debug ("plan: %u activation buffers, %" G_GSIZE_FORMAT " KiB in one arena of %" G_GSIZE_FORMAT
           " KiB",
           order->len, total >> 10, arena >> 10);
  return TRUE;
}

/* The plan for @inputs' shapes; @force: per op, the kernel a conv runs
 * instead of the per-shape choice (NULL for none); @records (ConvRecord,
 * or NULL): gets the convolutions with a choice of kernels. */
static Plan *
plan_build (Region *r, const GliaTensorView *const *inputs, const char *const *force,
            GArray *records, GError **error)
{
  Plan *plan = g_new0 (Plan, 1);
  plan->execs = g_array_new (FALSE, TRUE, sizeof (Exec));
  g_array_set_clear_func (plan->execs, exec_clear);
  plan->mems = g_ptr_array_new ();
  plan->acts = g_ptr_array_new ();
  plan->aliases = g_array_new (FALSE, FALSE, sizeof (Alias));
  plan->in_mem = g_new0 (dnnl_memory_t, MAX (r->n_inputs, 1));
  plan->out_mem = g_new0 (dnnl_memory_t, MAX (r->n_outputs, 1));
  plan->out_rank = g_new0 (guint, MAX (r->n_outputs, 1));
  plan->out_dims = g_malloc0_n (MAX (r->n_outputs, 1), sizeof *plan->out_dims);
  GArray *sig = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < r->n_inputs; i++) {
    gint64 rank = inputs[i] ? (gint64)inputs[i]->rank : -1;
    g_array_append_val (sig, rank);
    if (inputs[i])
      g_array_append_vals (sig, inputs[i]->dims, inputs[i]->rank);
  }
  plan->sig_len = sig->len;
  plan->sig = (gint64 *)g_array_free (sig, FALSE);

  Builder b = { r, plan, g_hash_table_new_full (NULL, NULL, NULL, g_free), inputs, force, NULL };
  gboolean ok = TRUE;
  for (guint k = 0; k < r->ops->len && ok; k++) {
    Op *op = &g_array_index (r->ops, Op, k);
    switch (op->kind) {
    case ONEDNN_OP_CONV: {
      /* an inverted residual block: [expansion] depthwise [projection] */
      Op *o1 = k + 1 < r->ops->len ? &g_array_index (r->ops, Op, k + 1) : NULL;
      Op *o2 = k + 2 < r->ops->len ? &g_array_index (r->ops, Op, k + 2) : NULL;
      guint n_fused = 0;
      if (r->depthwise == ONEDNN_DW_GLIA && r->block_fusion) {
        if (op->feeds_dw && o1 && o1->kind == ONEDNN_OP_CONV
            && g_array_index (o1->in, gint, 0) == op->out) {
          Op *p = o1->feeds_pw && o2 && g_array_index (o2->in, gint, 0) == o1->out ? o2 : NULL;
          ok = build_mbconv (&b, op, o1, p, &n_fused, error);
        } else if (op->feeds_pw && o1 && g_array_index (o1->in, gint, 0) == op->out)
          ok = build_mbconv (&b, NULL, op, o1, &n_fused, error);
      }
      if (ok && n_fused == 0) {
        ConvRecord rec
            = { k, plan->execs->len, 0, NULL, NULL, g_ptr_array_new_with_free_func (g_free) };
        b.rec = records ? &rec : NULL;
        ok = build_conv (&b, op, error);
        b.rec = NULL;
        rec.last = plan->execs->len;
        for (guint i = 0; rec.impl && i < rec.alts->len; i++)
          if (g_str_equal (g_ptr_array_index (rec.alts, i), rec.impl))
            g_ptr_array_remove_index (rec.alts, i--);
        if (ok && rec.impl && rec.alts->len > 0)
          g_array_append_val (records, rec);
        else
          conv_record_clear (&rec);
      }
      k += n_fused > 0 ? n_fused - 1 : 0;
      break;
    }
    case ONEDNN_OP_DECONV:
      ok = build_deconv (&b, op, error);
      break;
    case ONEDNN_OP_GEMM:
      ok = build_gemm (&b, op, error);
      break;
    case ONEDNN_OP_CONCAT:
    case ONEDNN_OP_SUM:
      ok = build_multi (&b, op, FALSE, error);
      break;
    case ONEDNN_OP_POOL: {
      /* squeeze and excitation: pool, 1x1 conv, 1x1 conv, multiply */
      gboolean done = FALSE;
      if (k + 3 < r->ops->len && r->depthwise == ONEDNN_DW_GLIA)
        ok = build_se (&b, op, &g_array_index (r->ops, Op, k + 1),
                       &g_array_index (r->ops, Op, k + 2), &g_array_index (r->ops, Op, k + 3),
                       &done, error);
      if (ok && !done)
        ok = build_simple (&b, op, FALSE, error);
      k += done ? 3 : 0;
      break;
    }
    case ONEDNN_OP_BINARY: {
      Val *x0 = get_val (&b, op, g_array_index (op->in, gint, 0), error);
      Val *x1 = x0 ? get_val (&b, op, g_array_index (op->in, gint, 1), error) : NULL;
      ok = x1 && build_binary (&b, op, x0, x1, 0, error);
      break;
    }
    default:
      ok = build_simple (&b, op, FALSE, error);
      break;
    }
  }
  /* region outputs in plain layout */
  for (guint o = 0; o < r->n_outputs && ok; o++) {
    if (r->outputs[o] < 0)
      continue;
    Val *val = g_hash_table_lookup (b.vals, GINT_TO_POINTER (r->outputs[o]));
    if (val == NULL) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_FAILED, "the oneDNN region does not produce '%s'",
                   glia_graph_value_get_name (r->graph, r->outputs[o]));
      ok = FALSE;
      break;
    }
    plan->out_rank[o] = val->rank;
    memcpy (plan->out_dims[o], val->dims, val->rank * sizeof (gint64));
    if (plan->out_mem[o] == NULL) {
      dnnl_memory_desc_t md;
      plain_md (&md, val->rank, val->dims);
      plan->out_mem[o] = new_mem (&b, NULL, &md, DNNL_MEMORY_NONE, error);
      ok = plan->out_mem[o] && add_reorder (&b, NULL, val->mem, plan->out_mem[o], error);
    }
  }
  g_hash_table_unref (b.vals);
  if (!ok) {
    plan_free (plan);
    return NULL;
  }
  fuse_pre_swish (plan, r);
  /* the region's own steps share one scratch, a slice per thread */
  gsize need = 0;
  for (guint k = 0; k < plan->execs->len; k++) {
    const Exec *e = &g_array_index (plan->execs, Exec, k);
    if (e->dw)
      need = MAX (need, onednn_dw_scratch_floats (e->dw));
    if (e->mb)
      need = MAX (need, e->mb->scratch);
    if (e->se)
      need = MAX (need, (gsize)(2 * e->se->c + e->se->cr));
  }
  if (need) {
    plan->scratch_stride = (need + 15) / 16 * 16;
    plan->scratch = g_aligned_alloc (plan->scratch_stride * r->n_threads, sizeof (float), 64);
  }
  if (r->n_threads == 1 && !plan_share_buffers (plan, error)) {
    plan_free (plan);
    return NULL;
  }
  g_debug ("plan: %u primitives for %u ops", plan->execs->len, r->ops->len);
  return plan;
}

/* GLIA_ONEDNN_VERBOSE=1: a line per run of every step of the region, in
 * the form of DNNL_VERBOSE's (the same problem descriptor for convolutions,
 * dims for products and other primitives), so that one parser reads them:
 * glia_verbose,exec,cpu,KIND,IMPL,DESC,MS. The lines of a run are kept and
 * printed after its last step: printed between the steps (as DNNL_VERBOSE
 * does) they let the OpenMP workers fall asleep and the next step pay the
 * wake-up, which added 20-30% to the steps' times at two threads here. */

static void
dims_desc (GString *out, const dnnl_memory_desc_t *md)
{
  for (int i = 0; md && i < md->ndims; i++)
    g_string_append_printf (out, "%s%" G_GINT64_FORMAT, i ? "x" : "", (gint64)md->dims[i]);
}

/* DNNL_VERBOSE's descriptor of a 2-D convolution (mbN_icCocO_ihHohHkhKshSdhDphP_iw...). */
static void
conv_desc (GString *out, gint64 groups, gint64 mb, gint64 ic, gint64 oc, const gint64 *in,
           const gint64 *outd, const gint64 *k, const gint64 *st, const gint64 *dil,
           const gint64 *pad)
{
  if (groups > 1)
    g_string_append_printf (out, "g%" G_GINT64_FORMAT, groups);
  g_string_append_printf (out, "mb%" G_GINT64_FORMAT "_ic%" G_GINT64_FORMAT "oc%" G_GINT64_FORMAT,
                          mb, ic, oc);
  const char *axis[2] = { "h", "w" };
  for (int i = 0; i < 2; i++)
    g_string_append_printf (out,
                            "_i%s%" G_GINT64_FORMAT "o%s%" G_GINT64_FORMAT "k%s%" G_GINT64_FORMAT
                            "s%s%" G_GINT64_FORMAT "d%s%" G_GINT64_FORMAT "p%s%" G_GINT64_FORMAT,
                            axis[i], in[i], axis[i], outd[i], axis[i], k[i], axis[i], st[i],
                            axis[i], dil[i], axis[i], pad[i]);
}

static void
step_line (GString *out, const Exec *e, double ms)
{
  const OnednnConvShape *s = e->conv   ? onednn_conv_shape (e->conv)
                             : e->wino ? onednn_wino_shape (e->wino)
                                       : NULL;
  g_string_append (out, "glia_verbose,exec,cpu,");
  if (e->prim) {
    const_dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_get_primitive_desc (e->prim, &pd);
    dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
    dnnl_primitive_desc_query (pd, dnnl_query_primitive_kind, 0, &kind);
    g_string_append_printf (out, "%s,%s,", dnnl_prim_kind2str (kind), impl_name (pd));
    const dnnl_convolution_desc_t *cd = NULL;
    if (kind == dnnl_convolution
        && dnnl_primitive_desc_query (pd, dnnl_query_convolution_d, 0, &cd) == dnnl_success
        && cd->src_desc.ndims == 4) {
      gboolean grouped = cd->weights_desc.ndims == 5;
      gint64 groups = grouped ? cd->weights_desc.dims[0] : 1;
      const dnnl_dim_t *wd = cd->weights_desc.dims + (grouped ? 1 : 0);
      gint64 in[2] = { cd->src_desc.dims[2], cd->src_desc.dims[3] };
      gint64 o[2] = { cd->dst_desc.dims[2], cd->dst_desc.dims[3] };
      gint64 k[2] = { wd[2], wd[3] }, st[2] = { cd->strides[0], cd->strides[1] };
      gint64 dil[2] = { cd->dilates[0], cd->dilates[1] };
      gint64 pad[2] = { cd->padding[0][0], cd->padding[0][1] };
      conv_desc (out, groups, cd->src_desc.dims[0], cd->src_desc.dims[1], cd->dst_desc.dims[1], in,
                 o, k, st, dil, pad);
    } else if (kind == dnnl_matmul) {
      dims_desc (out, dnnl_primitive_desc_query_md (pd, dnnl_query_src_md, 0));
      g_string_append_c (out, ':');
      dims_desc (out, dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0));
      g_string_append_c (out, ':');
      dims_desc (out, dnnl_primitive_desc_query_md (pd, dnnl_query_dst_md, 0));
    } else
      dims_desc (out, dnnl_primitive_desc_query_md (pd, dnnl_query_src_md, 0));
  } else if (s) {
    gint64 in[2] = { s->ih, s->iw }, o[2] = { s->oh, s->ow }, k[2] = { s->kh, s->kw };
    gint64 st[2] = { s->sh, s->sw }, dil[2] = { 0, 0 }, pad[2] = { s->pt, s->pl };
    g_string_append_printf (out, "convolution,%s,", e->conv ? OWN_CONV_IMPL : OWN_WINO_IMPL);
    conv_desc (out, 1, s->n, s->ic, s->oc, in, o, k, st, dil, pad);
  } else if (e->pool) {
    g_string_append (out, "pooling,glia:max,");
    dims_desc (out, mem_md (e->args[0].memory));
  } else
    g_string_append_printf (out, "%s,glia,",
                            e->concat  ? "concat"
                            : e->swish ? "swish"
                            : e->dw    ? "depthwise"
                            : e->se    ? "squeeze_excite"
                                       : "mbconv");
  g_string_append_printf (out, ",%g\n", ms);
}

/* Points @plan's region inputs and outputs at @in and @out (per region
 * input and output, NULL for one it lacks). */
static gboolean
plan_bind (const Region *r, Plan *plan, void *const *in, void *const *out)
{
  gboolean ok = TRUE;
  for (guint o = 0; o < r->n_outputs && ok; o++)
    if (plan->out_mem[o])
      ok = dnnl_memory_set_data_handle (plan->out_mem[o], out[o]) == dnnl_success;
  for (guint i = 0; i < r->n_inputs && ok; i++)
    if (plan->in_mem[i])
      ok = dnnl_memory_set_data_handle (plan->in_mem[i], in[i]) == dnnl_success;
  for (guint i = 0; i < plan->aliases->len && ok; i++) {
    Alias *al = &g_array_index (plan->aliases, Alias, i);
    void *handle = NULL;
    ok = dnnl_memory_get_data_handle (al->of, &handle) == dnnl_success
         && dnnl_memory_set_data_handle (al->view, handle) == dnnl_success;
  }
  return ok;
}

/* Runs @plan's steps (bound by plan_bind); with @times (per step, in
 * seconds) or @log (step_line), timing each. */
static gboolean
plan_steps (Region *r, const Plan *plan, double *times, GString *log, GError **error)
{
  gboolean ok = TRUE, timed = times || log;
  for (guint k = 0; k < plan->execs->len && ok; k++) {
    Exec *e = &g_array_index (plan->execs, Exec, k);
    gint64 t0 = timed ? g_get_monotonic_time () : 0;
    if (e->prim) {
      ok = check (dnnl_primitive_execute (e->prim, r->stream, e->n_args, e->args), r, NULL,
                  "execution", error);
      if (timed) /* the step's time, not the next one's */
        ok = ok && check (dnnl_stream_wait (r->stream), r, NULL, "execution", error);
    } else { /* a step of the region's own, after the primitives before it */
      ok = check (dnnl_stream_wait (r->stream), r, NULL, "execution", error);
      if (timed)
        t0 = g_get_monotonic_time ();
      ok = ok
           && (e->concat            ? run_copy_concat (e, r, error)
               : e->swish           ? run_swish (e, r, error)
               : e->dw              ? run_dw (e, r, plan, error)
               : e->conv || e->wino ? run_own_conv (e, r, error)
               : e->pool            ? run_own_pool (e, r, error)
               : e->se              ? run_se (e, r, plan, error)
                                    : run_mbconv (e, r, plan, error));
    }
    double t = timed ? (g_get_monotonic_time () - t0) * 1e-6 : 0;
    if (ok && times)
      times[k] = t;
    if (ok && log)
      step_line (log, e, t * 1e3);
  }
  return ok && check (dnnl_stream_wait (r->stream), r, NULL, "execution", error);
}

static gboolean
region_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  Region *r = state;
  guint n_in = glia_kernel_context_get_n_inputs (ctx);
  if (n_in < r->n_inputs || glia_kernel_context_get_n_outputs (ctx) < r->n_outputs) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_FAILED,
                 "oneDNN region called with %u inputs, wants %u", n_in, r->n_inputs);
    return FALSE;
  }
  g_autofree const GliaTensorView **views = g_new0 (const GliaTensorView *, MAX (r->n_inputs, 1));
  for (guint i = 0; i < r->n_inputs; i++)
    views[i] = glia_kernel_context_get_input (ctx, i);

  g_mutex_lock (&r->lock);
  Plan *plan = NULL;
  for (guint p = 0; p < r->plans->len && plan == NULL; p++) {
    Plan *c = g_ptr_array_index (r->plans, p);
    guint at = 0;
    gboolean same = TRUE;
    for (guint i = 0; i < r->n_inputs && same; i++) {
      gint64 rank = views[i] ? (gint64)views[i]->rank : -1;
      same = at < c->sig_len && c->sig[at++] == rank;
      for (gint64 k = 0; k < rank && same; k++)
        same = at < c->sig_len && c->sig[at++] == views[i]->dims[k];
    }
    if (same && at == c->sig_len)
      plan = c;
  }
  /* never more threads than the region was built for (its own steps'
   * scratch has a slice per thread) */
  omp_set_num_threads ((int)CLAMP (glia_kernel_context_get_n_threads (ctx), 1, r->n_threads));
  if (plan == NULL) {
    plan = plan_build (r, views, NULL, NULL, error);
    if (plan == NULL) {
      g_mutex_unlock (&r->lock);
      return FALSE;
    }
    if (r->plans->len >= PLAN_CACHE_SIZE)
      g_ptr_array_remove_index (r->plans, 0);
    g_ptr_array_add (r->plans, plan);
  }
  /* fewer threads than the primitives were made for is safe in oneDNN */
  if (plan->work < SMALL_PLAN_WORK)
    omp_set_num_threads (1);
  gboolean ok = TRUE;
  g_autofree void **in = g_new0 (void *, MAX (r->n_inputs, 1));
  g_autofree void **out = g_new0 (void *, MAX (r->n_outputs, 1));
  for (guint o = 0; o < r->n_outputs && ok; o++) {
    if (r->outputs[o] < 0)
      continue;
    GliaTensorView *y = glia_kernel_context_allocate_output (
        ctx, o, GLIA_DATA_TYPE_FLOAT, plan->out_rank[o], plan->out_dims[o], error);
    ok = y != NULL;
    out[o] = y ? y->data : NULL;
  }
  for (guint i = 0; i < r->n_inputs; i++)
    in[i] = views[i] ? views[i]->data : NULL;
  if (ok && !plan_bind (r, plan, in, out)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE, "oneDNN: cannot bind the region's memory");
    ok = FALSE;
  } else if (ok) {
    g_autoptr (GString) log = r->verbose ? g_string_new (NULL) : NULL;
    ok = plan_steps (r, plan, NULL, log, error);
    if (log) {
      fputs (log->str, stdout);
      fflush (stdout);
    }
  }
  g_mutex_unlock (&r->lock);
  return ok;
}

/* ---- the convolutions' kernels, chosen in the network ------------------
 *
 * The per-shape choices (choose_conv, choose_own_conv) time each kernel
 * alone, on buffers of its own, and that does not always predict its time
 * in the network, where its input was just written by the layer before
 * (at two threads half of it in the other core's cache) and its weights
 * and output compete with the layers around it. SqueezeNet 1.1's 16 -> 64
 * 3x3 layers on 55x55 maps at two threads: oneDNN's F(2x2, 3x3) Winograd
 * kernel timed 0.105-0.111 ms alone against 0.089-0.098 for its F(4x4,
 * 3x3), so the choice flipped from process to process, while in the
 * network they took 162 and 110 us. Of the 58 per-shape choices of the
 * five convolutional benchmark models, 14 differed between three fresh
 * processes.
 *
 * So at session creation (ep.onednn.conv-tuning=network, the default, and
 * only in auto modes), a plan with enough work (TUNE_MIN_WORK) is tuned
 * in place: each round builds the plan again with every convolution that
 * has another kernel on its next one (tune_round), runs the two plans
 * alternately on zeros and times each step (tune_time), and a
 * convolution takes the kernel whose steps (its input reorders, its
 * kernel, a split swish) were fastest, by TUNE_GAIN at least. A plan with
 * every convolution on its best kernel then has to beat the first one as
 * a whole, else the first stays. The result persists in the choice file
 * under the region's fingerprint (every tuned convolution's shape and
 * place), so a later session of the same network builds it directly. */

#define TUNE_MIN_WORK   5e7  /* flops of a run; less keeps the per-shape choices */
#define TUNE_GAIN       0.97 /* another kernel when its steps take at most this share */
#define TUNE_BUDGET     0.05 /* seconds of timed runs per plan and round */
#define TUNE_RUNS_MIN   3
#define TUNE_RUNS_MAX   15
#define TUNE_MAX_ROUNDS 5

/* Zeroed buffers for a region's inputs (shapes @inputs) and outputs. */
typedef struct
{
  void **in, **out;
  guint n_in, n_out;
} TuneIo;

static void
tune_io_init (TuneIo *io, const Region *r, const Plan *plan, const GliaTensorView *const *inputs)
{
  io->n_in = r->n_inputs;
  io->n_out = r->n_outputs;
  io->in = g_new0 (void *, MAX (r->n_inputs, 1));
  io->out = g_new0 (void *, MAX (r->n_outputs, 1));
  for (guint i = 0; i < r->n_inputs; i++) {
    gsize n = 1;
    for (guint k = 0; inputs[i] && k < inputs[i]->rank; k++)
      n *= (gsize)inputs[i]->dims[k];
    if (inputs[i])
      io->in[i] = g_aligned_alloc0 (MAX (n, 1), sizeof (float), 64);
  }
  for (guint o = 0; o < r->n_outputs; o++) {
    gsize n = 1;
    for (guint k = 0; k < plan->out_rank[o]; k++)
      n *= (gsize)plan->out_dims[o][k];
    if (plan->out_mem[o])
      io->out[o] = g_aligned_alloc0 (MAX (n, 1), sizeof (float), 64);
  }
}

static void
tune_io_clear (TuneIo *io)
{
  for (guint i = 0; i < io->n_in; i++)
    g_aligned_free (io->in[i]);
  for (guint o = 0; o < io->n_out; o++)
    g_aligned_free (io->out[o]);
  g_free (io->in);
  g_free (io->out);
}

/* Runs @a and @b (or @a alone) alternately, one run each to warm up, then
 * at least TUNE_RUNS_MIN timed ones and more while under TUNE_BUDGET;
 * per step the fastest run in @ta and @tb (seconds), and the fastest whole
 * run in @total_a, @total_b. FALSE when a run fails. */
static gboolean
tune_time (Region *r, Plan *a, Plan *b, const TuneIo *io, double *ta, double *tb, double *total_a,
           double *total_b)
{
  Plan *plans[2] = { a, b };
  double *times[2] = { ta, tb }, *totals[2] = { total_a, total_b };
  g_autofree double *t = g_new (double, MAX (a->execs->len, b ? b->execs->len : 0) + 1);
  for (int p = 0; p < 2 && plans[p]; p++) {
    if (!plan_bind (r, plans[p], io->in, io->out))
      return FALSE;
    for (guint k = 0; times[p] && k < plans[p]->execs->len; k++)
      times[p][k] = INFINITY;
    *totals[p] = INFINITY;
  }
  double spent = 0;
  for (int run = 0; run <= TUNE_RUNS_MAX && (run <= TUNE_RUNS_MIN || spent < TUNE_BUDGET); run++)
    for (int p = 0; p < 2 && plans[p]; p++) {
      wake_team ();
      gint64 t0 = g_get_monotonic_time ();
      if (!plan_steps (r, plans[p], t, NULL, NULL))
        return FALSE;
      double whole = (g_get_monotonic_time () - t0) * 1e-6;
      if (run == 0)
        continue;
      spent += whole;
      *totals[p] = MIN (*totals[p], whole);
      for (guint k = 0; times[p] && k < plans[p]->execs->len; k++)
        times[p][k] = MIN (times[p][k], t[k]);
    }
  return TRUE;
}

static double
record_time (const ConvRecord *rec, const double *t)
{
  double sum = 0;
  for (guint k = rec->first; k < rec->last; k++)
    sum += t[k];
  return sum;
}

/* Drops the weights packed for plans other than @keep (tuning's). */
static void
prune_packed (Region *r, const Plan *keep)
{
  for (guint i = 0; i < r->ops->len; i++) {
    Op *op = &g_array_index (r->ops, Op, i);
    for (guint j = op->packed->len; j-- > 0;) {
      Packed *pk = g_ptr_array_index (op->packed, j);
      gboolean used = FALSE;
      for (guint k = 0; k < keep->execs->len && !used; k++) {
        const Exec *e = &g_array_index (keep->execs, Exec, k);
        for (int a = 0; a < e->n_args && !used; a++)
          used = e->args[a].memory == pk->mem;
      }
      if (!used) {
        g_ptr_array_remove_index (op->packed, j);
        packed_free (pk);
      }
    }
  }
}

/* The choice file's key of the region's tuning: oneDNN's version, the
 * ISA, the tuning's version ("network 2": since 1x1 stride-1 convolutions
 * also try the own direct kernel), the threads and a digest of the
 * region's ops (kinds, weights and windows) and input shapes. */
static char *
tune_key (const Region *r, const GliaTensorView *const *inputs)
{
  GString *text = g_string_new (NULL);
  for (guint i = 0; i < r->n_inputs; i++) {
    g_string_append_c (text, 'i');
    for (guint k = 0; inputs[i] && k < inputs[i]->rank; k++)
      g_string_append_printf (text, " %" G_GINT64_FORMAT, inputs[i]->dims[k]);
    g_string_append_c (text, '\n');
  }
  for (guint k = 0; k < r->ops->len; k++) {
    const Op *op = &g_array_index (r->ops, Op, k);
    const OnednnWindow *w = &op->win;
    g_string_append_printf (text, "%d %u %d %u", op->kind, op->n_post, op->sum_value >= 0,
                            w->n_spatial);
    for (guint i = 0; i < op->wrank; i++)
      g_string_append_printf (text, " w%" G_GINT64_FORMAT, op->wdims[i]);
    for (guint i = 0; i < w->n_spatial && i < ONEDNN_MAX_SPATIAL; i++)
      g_string_append_printf (text,
                              " k%" G_GINT64_FORMAT "s%" G_GINT64_FORMAT "d%" G_GINT64_FORMAT
                              "p%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT,
                              w->kernel[i], w->strides[i], w->dilations[i], w->pads[i],
                              w->pads[i + ONEDNN_MAX_SPATIAL]);
    g_string_append_printf (text, " g%" G_GINT64_FORMAT "\n", w->group);
  }
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, text->str, -1);
  g_string_free (text, TRUE);
  const dnnl_version_t *v = dnnl_version ();
  return g_strdup_printf ("oneDNN %d.%d.%d isa %x network 2 t%u %u %s", v->major, v->minor,
                          v->patch, (unsigned)dnnl_get_effective_cpu_isa (), r->n_threads,
                          r->ops->len, digest);
}

/* The kernels the choice file gives for @key ("OP=IMPL;..."), per op (NULL
 * for the others; they point into @items), or NULL when it has none. */
static const char **
known_tuning (const Region *r, const char *key, GStrv *items)
{
  g_autofree char *entry = NULL;
  g_mutex_lock (&choice_lock);
  *items = NULL;
  const char *known = known_choice (r->conv_cache, key, &entry);
  if (known)
    *items = g_strsplit (known, ";", -1);
  g_mutex_unlock (&choice_lock);
  if (*items == NULL)
    return NULL;
  const char **force = g_new0 (const char *, MAX (r->ops->len, 1));
  for (guint i = 0; (*items)[i]; i++) {
    char *eq = strchr ((*items)[i], '=');
    guint64 op;
    if (eq == NULL)
      continue;
    *eq = '\0';
    if (g_ascii_string_to_unsigned ((*items)[i], 10, 0, r->ops->len - 1, &op, NULL))
      force[op] = eq + 1;
  }
  return force;
}

/* Builds the plan with @force; NULL (and a debug line) when it fails. */
static Plan *
tune_build (Region *r, const GliaTensorView *const *inputs, const char *const *force,
            GArray *records)
{
  GError *local = NULL;
  Plan *p = plan_build (r, inputs, force, records, &local);
  if (p == NULL) {
    g_debug ("tuning: a plan failed: %s", local->message);
    g_error_free (local);
  }
  return p;
}

/* @plan (built with the per-shape choices, which @records lists) tuned in
 * the network, or rebuilt as the choice file says; the plan not kept is
 * freed. */
static Plan *
tune_plan (Region *r, Plan *plan, const GliaTensorView *const *inputs, GArray *records,
           const char *key)
{
  if (records->len == 0 || plan->work < TUNE_MIN_WORK)
    return plan;
  for (guint i = 0; i < r->n_inputs; i++)
    if (inputs[i] && inputs[i]->dtype != GLIA_DATA_TYPE_FLOAT)
      return plan;
  g_autofree const char **force = g_new0 (const char *, r->ops->len);
  gint64 start = g_get_monotonic_time ();
  TuneIo io;
  tune_io_init (&io, r, plan, inputs);
  guint n = records->len, rounds = 0;
  g_autofree double *gain = g_new (double, n);
  g_autofree const char **pick = g_new (const char *, n);
  for (guint i = 0; i < n; i++) {
    const ConvRecord *rec = &g_array_index (records, ConvRecord, i);
    rounds = MAX (rounds, rec->alts->len);
    gain[i] = 1.0;
    pick[i] = rec->impl;
    force[rec->op] = rec->impl;
  }
  rounds = MIN (rounds, TUNE_MAX_ROUNDS);
  g_autofree double *t0 = g_new (double, plan->execs->len);
  double total0 = 0, total1 = 0;
  gboolean ok = TRUE;
  for (guint j = 0; j < rounds && ok; j++) {
    g_autofree const char **alt = g_memdup2 (force, r->ops->len * sizeof *force);
    for (guint i = 0; i < n; i++) {
      const ConvRecord *rec = &g_array_index (records, ConvRecord, i);
      if (j < rec->alts->len)
        alt[rec->op] = g_ptr_array_index (rec->alts, j);
    }
    g_autoptr (GArray) got = g_array_new (FALSE, TRUE, sizeof (ConvRecord));
    g_array_set_clear_func (got, conv_record_clear);
    Plan *p = tune_build (r, inputs, alt, got);
    if (p == NULL)
      continue;
    g_autofree double *t1 = g_new (double, p->execs->len);
    ok = tune_time (r, plan, p, &io, t0, t1, &total0, &total1);
    /* each convolution against itself in the first plan: the records of
     * both name the ops in the same order */
    for (guint i = 0, g = 0; i < n && ok; i++) {
      const ConvRecord *rec = &g_array_index (records, ConvRecord, i);
      while (g < got->len && g_array_index (got, ConvRecord, g).op < rec->op)
        g++;
      if (g == got->len || g_array_index (got, ConvRecord, g).op != rec->op)
        continue;
      const ConvRecord *other = &g_array_index (got, ConvRecord, g);
      if (g_str_equal (other->impl, rec->impl))
        continue;
      double mine = record_time (rec, t0), theirs = record_time (other, t1);
      g_debug ("tuning: %s: %s %.1f us, %s %.1f us", rec->shape, rec->impl, mine * 1e6, other->impl,
               theirs * 1e6);
      if (theirs < gain[i] * mine) {
        gain[i] = theirs / mine;
        pick[i] = g_ptr_array_index (rec->alts, j);
      }
    }
    plan_free (p);
    prune_packed (r, plan);
  }
  /* every convolution on its best kernel, against the first plan */
  gboolean changed = FALSE;
  for (guint i = 0; i < n; i++) {
    const ConvRecord *rec = &g_array_index (records, ConvRecord, i);
    changed = changed || gain[i] < TUNE_GAIN;
    force[rec->op] = gain[i] < TUNE_GAIN ? pick[i] : rec->impl;
  }
  Plan *best = plan;
  if (ok && changed) {
    Plan *p = tune_build (r, inputs, force, NULL);
    ok = p && tune_time (r, plan, p, &io, NULL, NULL, &total0, &total1);
    g_debug ("tuning: the first plan %.3f ms, the tuned one %.3f ms", total0 * 1e3, total1 * 1e3);
    if (ok && total1 < total0) {
      best = p;
      plan_free (plan);
    } else if (p)
      plan_free (p);
    prune_packed (r, best);
  }
  tune_io_clear (&io);
  if (!ok)
    return best;
  GString *value = g_string_new (NULL);
  for (guint i = 0; i < n; i++) {
    const ConvRecord *rec = &g_array_index (records, ConvRecord, i);
    g_string_append_printf (value, "%s%u=%s", i ? ";" : "", rec->op,
                            best == plan ? rec->impl : force[rec->op]);
  }
  g_debug ("tuning: %u convolutions in %u rounds, %.0f ms: %s", n, rounds,
           (g_get_monotonic_time () - start) * 1e-3, value->str);
  g_mutex_lock (&choice_lock);
  char *entry = NULL;
  known_choice (r->conv_cache, key, &entry);
  save_choice (r->conv_cache, key, entry, value->str);
  g_mutex_unlock (&choice_lock);
  g_string_free (value, TRUE);
  return best;
}

/* ---- the session's parallel loops ---------------------------------------
 *
 * A session with oneDNN regions runs the parallel loops of all its kernels
 * (the CPU provider's attention, softmax, layer norms, elementwise ops) on
 * the OpenMP team that runs oneDNN's primitives. With the host's own pool
 * beside it, the OpenMP worker that just finished a region spins on its
 * core (GOMP_SPINCOUNT) while the host's worker wants that core for the
 * loop that follows: the transformer encoder's attention took 660 us at
 * two threads against 468 at one. On one team the spinning worker takes
 * the loop at once (transformer encoder at two threads 3.31 -> 3.06 ms,
 * medians of 7 alternating runs). */

G_MODULE_EXPORT void glia_onednn_parallel_for (guint n_threads, gsize n, gsize grain,
                                               GliaParallelFunc func, gpointer user_data);

G_MODULE_EXPORT void
glia_onednn_parallel_for (guint n_threads, gsize n, gsize grain, GliaParallelFunc func,
                          gpointer user_data)
{
  if (n == 0)
    return;
  gsize chunks = (n + MAX (grain, 1) - 1) / MAX (grain, 1);
  guint parts = (guint)MIN ((gsize)n_threads, chunks);
  /* nested loops (a part that splits again) run on the calling thread */
  if (parts <= 1 || omp_in_parallel ()) {
    func (0, n, user_data);
    return;
  }
#pragma omp parallel num_threads((int)parts)
  {
    gsize t = (gsize)omp_get_thread_num (), nt = (gsize)omp_get_num_threads ();
    gsize begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end)
      func (begin, end, user_data);
  }
}
