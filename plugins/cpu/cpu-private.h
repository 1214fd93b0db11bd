/* cpu-private.h: what the files of the CPU provider share.
 *
 * Each kernel family (cpu-elementwise.c, cpu-gemm.c, ...) exports one function
 * adding its op defs to a GliaOpTable; cpu-provider.c builds an instance's
 * table from all of them. The helpers declared here (cpu-private.c) cover
 * error messages that name the node, shape arithmetic, numpy-style
 * broadcasting, reading small integer tensors (axes, shapes, pads) from
 * kernel inputs or graph constants, and the window geometry that Conv and the
 * pooling ops share.
 *
 * Conventions: a kernel's input and output indices are the node's input and
 * output slots; an omitted optional input reads as NULL. Kernel states are
 * written only by create() and read-only afterwards.
 */
#pragma once

#include <glia-plugin.h>

G_BEGIN_DECLS

/* Elements per parallel chunk for cheap elementwise loops. */
#define CPU_GRAIN 16384

extern const GliaProviderInfo cpu_provider_info;

/* An op def in the default domain whose kernel state is freed with g_free(). */
#define CPU_OP_DEF(NAME, SINCE, UNTIL, DTYPES, INFER, CREATE, COMPUTE)                             \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "", .name = NAME, .since_version = SINCE,         \
    .until_version = UNTIL, .dtypes = DTYPES, .infer_shapes = INFER, .create = CREATE,             \
    .compute = COMPUTE, .destroy = g_free,                                                         \
  }

void cpu_sequence_register (GliaOpTable *table);
void cpu_elementwise_register (GliaOpTable *table);
void cpu_gemm_register (GliaOpTable *table);
void cpu_conv_register (GliaOpTable *table);
void cpu_pool_register (GliaOpTable *table);
void cpu_norm_register (GliaOpTable *table);
void cpu_shape_register (GliaOpTable *table);
void cpu_reduce_register (GliaOpTable *table);
void cpu_math_register (GliaOpTable *table);
void cpu_index_register (GliaOpTable *table);
void cpu_resize_register (GliaOpTable *table);
void cpu_loss_register (GliaOpTable *table);
void cpu_select_register (GliaOpTable *table);
void cpu_linalg_register (GliaOpTable *table);
void cpu_rnn_register (GliaOpTable *table);
void cpu_quant_register (GliaOpTable *table);
void cpu_conv_transpose_register (GliaOpTable *table);
void cpu_signal_register (GliaOpTable *table);
void cpu_string_register (GliaOpTable *table);
void cpu_training_register (GliaOpTable *table);
void cpu_random_register (GliaOpTable *table);
void cpu_control_register (GliaOpTable *table);
/* after cpu_norm_register(): aliases its LayerNormalization */
void cpu_fused_register (GliaOpTable *table);

/* ---- errors ------------------------------------------------------------ */

/* GLIA_ERROR_INVALID_MODEL about a node's attributes or static shapes,
 * prefixed with "<op> node '<name>': ". */
void cpu_node_error (GError **error, const GliaGraph *graph, gint node, const char *format, ...)
    G_GNUC_PRINTF (4, 5);
/* Like cpu_node_error() for the node a shape context infers. */
void cpu_shape_error (GError **error, GliaShapeContext *ctx, const char *format, ...)
    G_GNUC_PRINTF (3, 4);
/* An error of @code raised while running a kernel, prefixed like cpu_node_error(). */
void cpu_kernel_error (GError **error, GliaKernelContext *ctx, GliaError code, const char *format,
                       ...) G_GNUC_PRINTF (4, 5);
/* "[2,3,-1]"; free with g_free(). */
char *cpu_dims_to_string (guint rank, const gint64 *dims);
/* Fails with GLIA_ERROR_INVALID_ARGUMENT when a required input is missing. */
const GliaTensorView *cpu_require_input (GliaKernelContext *ctx, guint i, GError **error);
/* Whether the node has output slot @i and it is wanted. */
gboolean cpu_kernel_has_output (GliaKernelContext *ctx, guint i);
/* Input @i, or NULL when it is omitted or beyond the node's inputs. */
const GliaTensorView *cpu_optional_input (GliaKernelContext *ctx, guint i);

/* ---- dtypes and attributes --------------------------------------------- */

/* Whether @dtype is a valid type whose GLIA_DTYPE_BIT is in @mask. */
static inline gboolean
cpu_dtype_in (GliaDataType dtype, guint64 mask)
{
  return dtype > 0 && dtype <= GLIA_DATA_TYPE_LAST && (mask & GLIA_DTYPE_BIT (dtype)) != 0;
}
/* Fails with "[<what>: ]element type <t> is not supported" unless @v's dtype
 * is in @mask; @what may be NULL. */
gboolean cpu_check_dtype (GliaKernelContext *ctx, const GliaTensorView *v, guint64 mask,
                          const char *what, GError **error);
/* Reads the 0/1 int attribute @name (@def when absent) as a gboolean. */
gboolean cpu_parse_flag (const GliaGraph *graph, gint node, const char *name, gint64 def,
                         gboolean *out, GError **error);

/* ---- shapes ------------------------------------------------------------ */

/* Product of @dims (0 if any is 0), saturating at G_MAXSIZE. */
gsize cpu_numel (guint rank, const gint64 *dims);
/* Product of dims[begin..end). */
gsize cpu_numel_range (const gint64 *dims, guint begin, guint end);
/* Maps @axis in [-rank, rank) to [0, rank). */
gboolean cpu_normalize_axis (gint64 axis, guint rank, guint *out);
/* Multidirectional (numpy) broadcast of two shapes; -1 dims are unknown and
 * broadcast as well as they can. FALSE if the shapes are incompatible. */
gboolean cpu_broadcast_dims (guint rank_a, const gint64 *a, guint rank_b, const gint64 *b,
                             guint *rank_out, gint64 *out);
/* Row-major element strides of @dims. */
void cpu_contiguous_strides (guint rank, const gint64 *dims, gint64 *strides);
/* Copies @n elements of @size bytes from @src (every @stride elements, any
 * sign) to contiguous @dst. */
/* The AVX-512 FusedMatMul tiles (cpu-fused.c) for other kernels: B [k x n]
 * with B[kk][j] = src[kk * sk + j * sn], packed into panels (g_aligned_free
 * it), or NULL where the tiles do not run (no AVX-512); then C [m x n] (row
 * stride ldc) = A [m x k] (row stride lda) B, on the calling thread. */
float *cpu_fmm_pack (gint64 k, gint64 n, const float *src, gint64 sk, gint64 sn);
void cpu_fmm_gemm (gint64 m, gint64 k, gint64 n, const float *a, gint64 lda, const float *packed,
                   float *c, gint64 ldc);

void cpu_copy_strided (guint8 *dst, const guint8 *src, gint64 stride, gsize n, gsize size);
/* Whether @v fits a BLAS int dimension. */
static inline gboolean
cpu_fits_blas_int (gint64 v)
{
  return v >= 0 && v <= G_MAXINT;
}
/* Shape inference: output @o gets the dtype @dtype and the shape of input @i. */
void cpu_infer_like_input (GliaShapeContext *ctx, guint o, guint i, GliaDataType dtype);
/* Shape inference for ops whose output 0 is input 0's dtype and shape. */
gboolean cpu_infer_same_as_input (GliaShapeContext *ctx, GError **error);

/* ---- broadcasting iteration ------------------------------------------- */

#define CPU_BROADCAST_MAX_INPUTS 3

/* An output shape and its inputs' element strides (0 where broadcast), with
 * adjacent dims merged where every input allows. Iterate it by rows of
 * @row_len output elements; within a row input k advances by
 * strides[k][rank - 1], which is 0 or 1. */
typedef struct
{
  guint rank;
  guint n_inputs;
  gint64 dims[GLIA_MAX_RANK];
  gint64 strides[CPU_BROADCAST_MAX_INPUTS][GLIA_MAX_RANK];
  gsize n_rows;
  gsize row_len;
} CpuBroadcast;

typedef struct
{
  gint64 index[GLIA_MAX_RANK];
  gsize offset[CPU_BROADCAST_MAX_INPUTS];
} CpuBroadcastPos;

/* @out_dims must be the broadcast of all input shapes. */
void cpu_broadcast_init (CpuBroadcast *b, guint out_rank, const gint64 *out_dims, guint n_inputs,
                         const guint *in_ranks, const gint64 *const *in_dims);
/* Like cpu_broadcast_init() with explicit element strides (any sign) per
 * input and output dim; @strides is modified. Offsets then wrap modulo
 * 2^64, so add them to a base and they come out right. */
void cpu_broadcast_init_strided (CpuBroadcast *b, guint out_rank, const gint64 *out_dims,
                                 guint n_inputs, gint64 (*strides)[GLIA_MAX_RANK]);
/* Input offsets of the first element of row @row. */
void cpu_broadcast_seek (const CpuBroadcast *b, gsize row, CpuBroadcastPos *pos);
void cpu_broadcast_next_row (const CpuBroadcast *b, CpuBroadcastPos *pos);

/* ---- small integer tensors -------------------------------------------- */

/* Reads an int32/int64 tensor as gint64s into @out (room for @max). FALSE if
 * its dtype is not an integer or it holds more than @max values. */
gboolean cpu_view_get_ints (const GliaTensorView *view, gint64 *out, gsize max, gsize *n);
gboolean cpu_const_get_ints (const GliaConstTensor *c, gint64 *out, gsize max, gsize *n);
/* Like cpu_view_get_ints() for a 1-D (or scalar) kernel input, failing with
 * a message naming @what. */
gboolean cpu_read_ints_input (GliaKernelContext *ctx, const GliaTensorView *v, const char *what,
                              gint64 *out, gsize max, gsize *n, GError **error);
/* Element @i of an int32 (else int64) index tensor. */
static inline gint64
cpu_index_at (const GliaTensorView *v, gsize i)
{
  return v->dtype == GLIA_DATA_TYPE_INT32 ? ((const gint32 *)v->data)[i]
                                          : ((const gint64 *)v->data)[i];
}
/* Shape inference: the constant int values of input @i, if known. */
gboolean cpu_shape_context_get_ints (GliaShapeContext *ctx, guint i, gint64 *out, gsize max,
                                     gsize *n);

/* ---- windows (Conv, pooling) ------------------------------------------ */

#define CPU_WINDOW_MAX_SPATIAL 3

typedef enum
{
  CPU_AUTO_PAD_NOTSET,
  CPU_AUTO_PAD_SAME_UPPER,
  CPU_AUTO_PAD_SAME_LOWER,
  CPU_AUTO_PAD_VALID,
} CpuAutoPad;

/* Window attributes as the node states them; a count of 0 means absent. */
typedef struct
{
  CpuAutoPad auto_pad;
  gboolean ceil_mode;
  guint n_kernel;
  gint64 kernel[CPU_WINDOW_MAX_SPATIAL];
  guint n_strides;
  gint64 strides[CPU_WINDOW_MAX_SPATIAL];
  guint n_dilations;
  gint64 dilations[CPU_WINDOW_MAX_SPATIAL];
  guint n_pads;
  gint64 pads[2 * CPU_WINDOW_MAX_SPATIAL];
} CpuWindowAttrs;

/* Window geometry resolved for an input, lifted to 3 spatial dims (leading
 * dims of size 1 for 1-D and 2-D windows). */
typedef struct
{
  guint n_spatial;
  gint64 in[CPU_WINDOW_MAX_SPATIAL];
  gint64 out[CPU_WINDOW_MAX_SPATIAL];
  gint64 kernel[CPU_WINDOW_MAX_SPATIAL];
  gint64 stride[CPU_WINDOW_MAX_SPATIAL];
  gint64 dilation[CPU_WINDOW_MAX_SPATIAL];
  gint64 pad_begin[CPU_WINDOW_MAX_SPATIAL];
  gint64 pad_end[CPU_WINDOW_MAX_SPATIAL];
} CpuWindow;

gboolean cpu_window_attrs_parse (CpuWindowAttrs *attrs, const GliaGraph *graph, gint node,
                                 gboolean kernel_required, GError **error);
/* Resolves @attrs for @n_spatial input dims @in (-1 unknown gives -1 out) and
 * kernel dims @kernel. Returns FALSE with a message in @why (free it) when
 * the attributes do not fit the input. */
gboolean cpu_window_resolve (const CpuWindowAttrs *attrs, guint n_spatial, const gint64 *in,
                             const gint64 *kernel, CpuWindow *w, char **why);
/* Like cpu_window_resolve(), but kernel dims may be unknown (-1): their
 * output dims come out unknown too. */
gboolean cpu_window_resolve_partial (const CpuWindowAttrs *attrs, guint n_spatial, const gint64 *in,
                                     const gint64 *kernel, CpuWindow *w, char **why);

/* ---- half precision ---------------------------------------------------- */

float cpu_half_to_float (guint16 h);
guint16 cpu_float_to_half (float f);
float cpu_bfloat16_to_float (guint16 h);
guint16 cpu_float_to_bfloat16 (float f);

/* ---- element conversions ----------------------------------------------- */

/* The float types, the integer types and bool: what the two functions below
 * read and write. */
#define CPU_DTYPES_NUMERIC                                                                         \
  (GLIA_DTYPES_FLOATS | GLIA_DTYPES_INTS | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_BOOL))

/* Reads @n elements of @dtype (one of CPU_DTYPES_NUMERIC) as doubles. */
void cpu_load_doubles (GliaDataType dtype, gconstpointer src, double *dst, gsize n);
/* Writes @n doubles as @dtype: integers truncate toward zero and saturate
 * (NaN gives 0), bool is "not zero". */
void cpu_store_doubles (GliaDataType dtype, const double *src, gpointer dst, gsize n);

/* Element @i of a float-type (GLIA_DTYPES_FLOATS) array as a double. */
static inline double
cpu_load_float_at (GliaDataType t, gconstpointer p, gsize i)
{
  switch (t) {
  case GLIA_DATA_TYPE_FLOAT:
    return ((const float *)p)[i];
  case GLIA_DATA_TYPE_DOUBLE:
    return ((const double *)p)[i];
  case GLIA_DATA_TYPE_FLOAT16:
    return cpu_half_to_float (((const guint16 *)p)[i]);
  case GLIA_DATA_TYPE_BFLOAT16:
    return cpu_bfloat16_to_float (((const guint16 *)p)[i]);
  default:
    g_assert_not_reached ();
  }
}

/* Stores @v as element @i of a float-type array. */
static inline void
cpu_store_float_at (GliaDataType t, gpointer p, gsize i, double v)
{
  switch (t) {
  case GLIA_DATA_TYPE_FLOAT:
    ((float *)p)[i] = (float)v;
    break;
  case GLIA_DATA_TYPE_DOUBLE:
    ((double *)p)[i] = v;
    break;
  case GLIA_DATA_TYPE_FLOAT16:
    ((guint16 *)p)[i] = cpu_float_to_half ((float)v);
    break;
  case GLIA_DATA_TYPE_BFLOAT16:
    ((guint16 *)p)[i] = cpu_float_to_bfloat16 ((float)v);
    break;
  default:
    g_assert_not_reached ();
  }
}

/* Element @i of an integer array, sign-extended to 64 bits; sums and
 * products of these, stored back with cpu_store_wrapping_at(), wrap as they
 * would in the element type. */
static inline guint64
cpu_load_wrapping_at (GliaDataType t, gconstpointer p, gsize i)
{
  switch (t) {
  case GLIA_DATA_TYPE_INT8:
    return (guint64)(gint64)((const gint8 *)p)[i];
  case GLIA_DATA_TYPE_INT16:
    return (guint64)(gint64)((const gint16 *)p)[i];
  case GLIA_DATA_TYPE_INT32:
    return (guint64)(gint64)((const gint32 *)p)[i];
  case GLIA_DATA_TYPE_INT64:
    return (guint64)((const gint64 *)p)[i];
  case GLIA_DATA_TYPE_UINT8:
    return ((const guint8 *)p)[i];
  case GLIA_DATA_TYPE_UINT16:
    return ((const guint16 *)p)[i];
  case GLIA_DATA_TYPE_UINT32:
    return ((const guint32 *)p)[i];
  case GLIA_DATA_TYPE_UINT64:
    return ((const guint64 *)p)[i];
  default:
    g_assert_not_reached ();
  }
}

/* Stores the low bits of @v as element @i of an integer array. */
static inline void
cpu_store_wrapping_at (GliaDataType t, gpointer p, gsize i, guint64 v)
{
  switch (t) {
  case GLIA_DATA_TYPE_INT8:
  case GLIA_DATA_TYPE_UINT8:
    ((guint8 *)p)[i] = (guint8)v;
    break;
  case GLIA_DATA_TYPE_INT16:
  case GLIA_DATA_TYPE_UINT16:
    ((guint16 *)p)[i] = (guint16)v;
    break;
  case GLIA_DATA_TYPE_INT32:
  case GLIA_DATA_TYPE_UINT32:
    ((guint32 *)p)[i] = (guint32)v;
    break;
  case GLIA_DATA_TYPE_INT64:
  case GLIA_DATA_TYPE_UINT64:
    ((guint64 *)p)[i] = v;
    break;
  default:
    g_assert_not_reached ();
  }
}

G_END_DECLS
