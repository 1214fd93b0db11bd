/* onednn-private.h: what the oneDNN provider's two modules share.
 *
 * The plugin (onednn-plugin.c, onednn-provider.c) decides which nodes oneDNN
 * runs and never calls oneDNN itself; the kernels (onednn-kernel.c) live in a
 * separate module that links libdnnl and is opened on first use, after the
 * OpenMP environment is set (see onednn-provider.c). Both use the node
 * classification of onednn-ops.c, so what is claimed is exactly what the
 * kernels build.
 */
#pragma once

#include <glia-plugin.h>

G_BEGIN_DECLS

#define ONEDNN_MAX_SPATIAL 3

typedef enum
{
  ONEDNN_OP_NONE,
  ONEDNN_OP_CONV,
  ONEDNN_OP_DECONV, /* ConvTranspose */
  ONEDNN_OP_POOL,
  ONEDNN_OP_BNORM,
  ONEDNN_OP_LRN,
  ONEDNN_OP_ELTWISE,
  ONEDNN_OP_SOFTMAX,
  ONEDNN_OP_CONCAT,
  ONEDNN_OP_SUM,
  ONEDNN_OP_GEMM,
  ONEDNN_OP_BINARY, /* Add (broadcasting), Mul, Sub, Div */
} OnednnOpKind;

typedef enum
{
  ONEDNN_ACT_NONE,
  ONEDNN_ACT_RELU,
  ONEDNN_ACT_LEAKY_RELU,
  ONEDNN_ACT_CLIP,
  ONEDNN_ACT_SIGMOID,
  ONEDNN_ACT_TANH,
  ONEDNN_ACT_HARD_SWISH,
  ONEDNN_ACT_HARD_SIGMOID,
  ONEDNN_ACT_ELU,
  ONEDNN_ACT_SWISH, /* x * sigmoid(x): a Sigmoid and the Mul of its input by it */
} OnednnActKind;

typedef struct
{
  OnednnActKind kind;
  float alpha, beta; /* LeakyRelu/Elu alpha; Clip min, max; HardSigmoid alpha, beta */
} OnednnAct;

typedef enum
{
  ONEDNN_POOL_MAX,
  ONEDNN_POOL_AVG_INCLUDE,
  ONEDNN_POOL_AVG_EXCLUDE,
} OnednnPoolKind;

/* Conv and pooling windows, ONNX attributes resolved against input dims. */
typedef struct
{
  guint n_spatial; /* 0 until known */
  gboolean global;
  gboolean same_upper, same_lower, valid;
  gboolean ceil_mode;
  gint64 kernel[ONEDNN_MAX_SPATIAL];
  gint64 strides[ONEDNN_MAX_SPATIAL];
  gint64 dilations[ONEDNN_MAX_SPATIAL];
  gint64 pads[2 * ONEDNN_MAX_SPATIAL];
  gint64 output_padding[ONEDNN_MAX_SPATIAL]; /* ConvTranspose */
  gint64 group;
} OnednnWindow;

/* What a node is to oneDNN, or ONEDNN_OP_NONE when the provider does not
 * claim it. @act gets the activation of eltwise nodes and fused convs. */
OnednnOpKind onednn_classify (const GliaGraph *graph, gint node, OnednnAct *act);

/* Whether @node (already classified) is an activation that can follow a
 * conv or GEMM as a post-op; fills @act. */
gboolean onednn_node_activation (const GliaGraph *graph, gint node, OnednnAct *act);

/* Window attributes of a conv or pooling node (kernel from @kernel when the
 * attribute is absent, may be NULL). */
gboolean onednn_window_parse (const GliaGraph *graph, gint node, guint n_spatial,
                              const gint64 *kernel, OnednnWindow *w);
/* Output extents and paddings for spatial input dims @in. FALSE when the
 * window does not fit. */
gboolean onednn_window_resolve (const OnednnWindow *w, const gint64 *in, gint64 *out, gint64 *pad_l,
                                gint64 *pad_r);

/* ConvTranspose's output_padding into @w (after onednn_window_parse); FALSE
 * for forms the provider leaves to the CPU provider (output_shape, SAME
 * padding, output_padding past the end padding or not below the stride). */
gboolean onednn_deconv_window (const GliaGraph *graph, gint node, OnednnWindow *w);

OnednnPoolKind onednn_pool_kind (const GliaGraph *graph, gint node);

/* Both values have the same rank and dims that are equal when known and
 * unknown on both sides otherwise (checked again when shapes are known). */
gboolean onednn_same_shape (const GliaGraph *graph, gint a, gint b);

/* ep.onednn.conv-algorithm: how 3x3 stride-1 convolutions are computed.
 * oneDNN 2.6 has Winograd kernels for them (F(2x2,3x3) and F(4x4,3x3), on
 * AVX-512), with 2.25x and 4x fewer multiplications than the direct
 * algorithm and slightly larger rounding error (about 1e-6 relative here).
 * Which is faster depends on the shape and the machine. */
typedef enum
{
  ONEDNN_CONV_AUTO,     /* time the direct and Winograd kernels once per shape, keep the faster */
  ONEDNN_CONV_DIRECT,   /* never Winograd */
  ONEDNN_CONV_WINOGRAD, /* Winograd wherever oneDNN has it */
  ONEDNN_CONV_GLIA_WINOGRAD, /* the region's own Winograd kernel where it applies, else as WINOGRAD
                              */
} OnednnConvAlgo;

/* ep.onednn.depthwise: who computes depthwise 2-D convolutions (one
 * filter per channel, whole 16-channel blocks) where the CPU has AVX-512. */
typedef enum
{
  ONEDNN_DW_GLIA,   /* the region's own kernel (onednn-dw.c) */
  ONEDNN_DW_ONEDNN, /* oneDNN's jit_dw */
} OnednnDwImpl;

/* ep.onednn.direct-conv: who computes the strided convolutions the
 * region's own kernel takes. */
typedef enum
{
  ONEDNN_DIRECT_AUTO,   /* time both once per shape, keep the faster */
  ONEDNN_DIRECT_ONEDNN, /* oneDNN's kernels */
  ONEDNN_DIRECT_GLIA,   /* the region's own kernel wherever it applies */
} OnednnDirectImpl;

typedef struct
{
  guint n_threads;
  OnednnConvAlgo conv_algo;
  OnednnDwImpl depthwise;
  OnednnDirectImpl direct_conv;
  gboolean block_fusion; /* ep.onednn.block-fusion: inverted residual blocks by bands */
  gboolean tune_network; /* ep.onednn.conv-tuning=network: the choices tuned in the network */
  /* ep.onednn.conv-cache: the file auto's choices persist in, "" for
   * none, NULL for the default (GLIA_ONEDNN_CONV_CACHE, else
   * $XDG_CACHE_HOME/glia-1.0/onednn-conv.txt) */
  const char *conv_cache;
} OnednnConfig;

/* ---- the region's own depthwise convolution (onednn-dw.c) ---- */

#define ONEDNN_DW_MAX_K 7

typedef enum
{
  ONEDNN_DW_NONE,
  ONEDNN_DW_RELU,  /* alpha: the slope below zero (LeakyRelu) */
  ONEDNN_DW_CLIP,  /* to [alpha, beta] */
  ONEDNN_DW_SWISH, /* x * sigmoid(x) */
} OnednnDwAct;

typedef struct
{
  gint64 n, c, ih, iw, oh, ow; /* c: a multiple of 16 */
  int kh, kw, sh, sw, pt, pl;  /* kh <= ONEDNN_DW_MAX_K; right/bottom padding follows */
  OnednnDwAct act;
  float alpha, beta;
  gboolean pre_swish; /* the input is x, the convolution reads swish(x) */
} OnednnDwShape;

typedef struct
{
  OnednnDwShape shape;
  float *weights; /* [C/16][kh][kw][16] */
  float *bias;    /* [C], zeros without one */
} OnednnDw;

/* Whether this CPU runs the region's own kernels (AVX-512F). */
gboolean onednn_have_avx512 (void);

/* Zeroed memory for @bytes of packed weights, 64-byte aligned (aborting
 * when none can be had, as g_malloc()): from 2 MiB on, fresh pages whose whole 2 MiB stretches are
 * asked to be huge pages (a run streams every weight once: with 4 KiB pages each page is a TLB
 * miss). Free with onednn_weights_free() and the same size. */
gpointer onednn_weights_alloc (gsize bytes);
void onednn_weights_free (gpointer p, gsize bytes);
/* @weights: [C, 1, kh, kw]; @bias: [C] or NULL. */
OnednnDw *onednn_dw_new (const OnednnDwShape *shape, const float *weights, const float *bias);
void onednn_dw_free (OnednnDw *dw);
/* @x: [N, C/16, ih, iw, 16]; @y: [N, C/16, oh, ow, 16]. Uses the calling
 * thread's OpenMP thread count; OpenMP thread t takes @scratch + t * @stride
 * (64-byte aligned, at least onednn_dw_scratch_floats()). */
void onednn_dw_run (const OnednnDw *dw, const float *x, float *y, float *scratch, gsize stride);

/* Input rows [row0, row0 + n_rows) of one image: channel block c's row r
 * at data + c * block_stride + (r - row0) * iw * 16. */
typedef struct
{
  const float *data;
  gint64 row0, n_rows, block_stride;
} OnednnDwSegment;

typedef struct
{
  guint n_segments;
  OnednnDwSegment segments[2];
} OnednnDwRows;

/* Floats of scratch a thread needs, and setting it up before a run. */
gsize onednn_dw_scratch_floats (const OnednnDw *dw);
void onednn_dw_prepare_scratch (const OnednnDw *dw, float *scratch);
/* Output rows [oh0, oh1) of one image, on the calling thread: channel
 * block c's row r to y + c * y_stride + (r - oh0) * ow * 16. The input
 * rows they read must be in @src (or be padding). @scratch: 64-byte
 * aligned, onednn_dw_scratch_floats(), onednn_dw_prepare_scratch()ed. */
void onednn_dw_rows (const OnednnDw *dw, const OnednnDwRows *src, gint64 oh0, gint64 oh1, float *y,
                     gint64 y_stride, float *scratch);

/* ---- the region's own pointwise convolution (onednn-pw.c) ---- */

typedef struct
{
  gint64 ic, oc; /* oc need not fill its last block: that block's rest is 0 */
  OnednnDwAct act;
  float alpha, beta;
  float *weights; /* groups of up to 4 output blocks: [group][IC][blocks][16] */
  float *bias;
} OnednnPw;

/* The input of onednn_pw_rows(): pixel p's channel k at
 * x + koff[k] + p * pix_stride (16: blocked, read in place). */
typedef struct
{
  const float *x;
  const gint64 *koff;
  gint64 pix_stride;
} OnednnPwIn;

/* @weights: [OC, IC]; @bias: [OC] or NULL; @act after the residual. */
OnednnPw *onednn_pw_new (gint64 ic, gint64 oc, const float *weights, const float *bias,
                         OnednnDwAct act, float alpha, float beta);
void onednn_pw_free (OnednnPw *pw);
/* Bytes of scratch onednn_pw_rows() needs for up to @max_pix pixels (a
 * non-blocked input is packed there), 64-byte aligned, set up once by
 * onednn_pw_init_scratch(). */
gsize onednn_pw_scratch_size (const OnednnPw *pw, gint64 max_pix);
void onednn_pw_init_scratch (const OnednnPw *pw, gpointer scratch);
/* @n_pix pixels on the calling thread: output block b's pixel p at
 * y + b * y_stride + p * 16, plus @res (same, res_stride) when not NULL. */
void onednn_pw_rows (const OnednnPw *pw, const OnednnPwIn *in, gint64 n_pix, float *y,
                     gint64 y_stride, const float *res, gint64 res_stride, gpointer scratch);

/* ---- the region's own direct convolution (onednn-conv.c) ---- */

typedef struct
{
  gint64 n, ic, oc, ih, iw, oh, ow;
  int kh, kw, sh, sw, pt, pl; /* right/bottom padding follows from the rest */
  OnednnDwAct act;
  float alpha, beta;
  gboolean residual; /* the output holds a residual, added before the activation */
  gboolean plain;    /* (direct kernel) the input is plain [N, IC, ih, iw], IC < 16 */
} OnednnConvShape;

typedef struct _OnednnConv OnednnConv;

/* Whether the kernel takes @s: AVX-512F, IC a multiple of 16 (or, with a
 * plain input, under 16), OC of 32, kernels up to 11x11, strides up to 4,
 * no dilation. */
gboolean onednn_conv_supports (const OnednnConvShape *s);
/* @weights: [OC, IC, kh, kw]; @bias: [OC] or NULL. */
OnednnConv *onednn_conv_new (const OnednnConvShape *s, const float *weights, const float *bias);
void onednn_conv_free (OnednnConv *c);
/* The packed weights (to evict them from the caches when timing). */
const float *onednn_conv_weights (const OnednnConv *c, gsize *bytes);
const OnednnConvShape *onednn_conv_shape (const OnednnConv *c);
/* @x: [N, IC/16, ih, iw, 16] (plain: [N, IC, ih, iw]); @y: [N, OC/16, oh,
 * ow, 16]; on the calling
 * thread's OpenMP team. Not reentrant (a padded copy of the input lives in
 * @c): a plan's runs are serialised. */
void onednn_conv_run (OnednnConv *c, const float *x, float *y);

/* ---- the region's own max pooling (onednn-pool.c) ---- */

/* A 2-D max pooling on blocked data: @cb blocks of 16 channels, window
 * kh x kw, strides sh, sw, top and left padding pt, pl (the output dims
 * say where the windows end). */
typedef struct
{
  gint64 n, cb, ih, iw, oh, ow;
  gint64 kh, kw, sh, sw, pt, pl;
} OnednnPoolShape;

/* Whether the kernel takes @s: AVX-512F, every window over at least one
 * input cell. */
gboolean onednn_maxpool_supports (const OnednnPoolShape *s);
/* @x: [N, C/16, ih, iw, 16]; @y: [N, C/16, oh, ow, 16]; on the calling
 * thread's OpenMP team. */
void onednn_maxpool_run (const OnednnPoolShape *s, const float *x, float *y);

/* ---- the region's own Winograd convolution (onednn-wino.c) ---- */

typedef struct _OnednnWino OnednnWino;

/* Whether the kernel takes @s: AVX-512F, 3x3, stride 1, padding 1 on every
 * side, IC a multiple of 16, OC of 32. */
gboolean onednn_wino_supports (const OnednnConvShape *s);
/* @weights: [OC, IC, 3, 3]; @bias: [OC] or NULL. */
OnednnWino *onednn_wino_new (const OnednnConvShape *s, const float *weights, const float *bias);
void onednn_wino_free (OnednnWino *w);
/* The transformed weights (to evict them from the caches when timing). */
const float *onednn_wino_weights (const OnednnWino *w, gsize *bytes);
const OnednnConvShape *onednn_wino_shape (const OnednnWino *w);
/* @x: [N, IC/16, ih, iw, 16] (plain: [N, IC, ih, iw]); @y: [N, OC/16, oh,
 * ow, 16]; on the calling
 * thread's OpenMP team. Not reentrant (the transformed input lives in @w). */
void onednn_wino_run (OnednnWino *w, const float *x, float *y);

/* The kernels module: compiles a claim (sorted node list) into a kernel. */
typedef gboolean (*OnednnCompileFunc) (const GliaGraph *graph, const gint *nodes, guint n_nodes,
                                       const OnednnConfig *config, GliaKernel *kernel,
                                       GError **error);
#define ONEDNN_COMPILE_SYMBOL "glia_onednn_compile"
/* The kernels module: a parallel loop on the calling thread's OpenMP team
 * (GliaProviderInfo.parallel_for). */
typedef void (*OnednnParallelFunc) (guint n_threads, gsize n, gsize grain, GliaParallelFunc func,
                                    gpointer user_data);
#define ONEDNN_PARALLEL_SYMBOL "glia_onednn_parallel_for"

G_END_DECLS
