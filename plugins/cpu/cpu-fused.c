/* cpu-fused.c: kernels of the com.glia operators the host's graph optimizer
 * emits (docs/architecture.md, "Graph optimizer"), except FusedConv, which
 * lives with the convolutions (cpu-conv.c).
 *
 * - FusedGemm: ONNX Gemm followed by an activation (cpu-activation.h).
 * - Gelu: 0.5 x (1 + erf (x / sqrt 2)), or the tanh approximation.
 * - LayerNormalization: ONNX LayerNormalization-17's kernel (cpu-norm.c)
 *   served in the com.glia domain, for models of older opsets.
 * - Attention: softmax (Q Kt * scale + mask) V over the last two axes, batch
 *   axes broadcast numpy-style, the mask broadcast to [..., S, S_kv].
 *
 * float32 only: the optimizer fuses float graphs only.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-activation.h"
#include "cpu-blas.h"
#include "cpu-private.h"
#include "cpu-simd.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define FLOAT_ONLY GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT)

/* ---- FusedGemm ------------------------------------------------------------ */

typedef struct
{
  float alpha, beta;
  gboolean trans_a, trans_b;
  CpuActivation act;
} FusedGemmState;

static gpointer
fused_gemm_create (const GliaGraph *graph, gint node, GError **error)
{
  FusedGemmState s;
  s.alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 1.0f);
  s.beta = glia_graph_node_get_attr_float (graph, node, "beta", 1.0f);
  if (!cpu_parse_flag (graph, node, "transA", 0, &s.trans_a, error)
      || !cpu_parse_flag (graph, node, "transB", 0, &s.trans_b, error)
      || !cpu_activation_from_node (graph, node, &s.act, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
fused_gemm_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  gboolean ta = glia_graph_node_get_attr_int (graph, node, "transA", 0) != 0;
  gboolean tb = glia_graph_node_get_attr_int (graph, node, "transB", 0) != 0;
  gint ra = glia_shape_context_get_input_rank (ctx, 0);
  gint rb = glia_shape_context_get_input_rank (ctx, 1);
  if ((ra >= 0 && ra != 2) || (rb >= 0 && rb != 2)) {
    cpu_shape_error (error, ctx, "A and B must be matrices, got ranks %d and %d", ra, rb);
    return FALSE;
  }
  gint64 dims[2] = { -1, -1 };
  if (ra == 2)
    dims[0] = glia_shape_context_get_input_dims (ctx, 0)[ta ? 1 : 0];
  if (rb == 2)
    dims[1] = glia_shape_context_get_input_dims (ctx, 1)[tb ? 0 : 1];
  glia_shape_context_set_output (ctx, 0, glia_shape_context_get_input_dtype (ctx, 0), 2, dims);
  return TRUE;
}

static gboolean
fused_gemm_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const FusedGemmState *s = state;
  const GliaTensorView *a = cpu_require_input (ctx, 0, error);
  const GliaTensorView *b = a ? cpu_require_input (ctx, 1, error) : NULL;
  if (b == NULL)
    return FALSE;
  const GliaTensorView *c = cpu_optional_input (ctx, 2);
  if (a->dtype != GLIA_DATA_TYPE_FLOAT || b->dtype != GLIA_DATA_TYPE_FLOAT
      || (c && c->dtype != GLIA_DATA_TYPE_FLOAT)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "only float32 is supported");
    return FALSE;
  }
  if (a->rank != 2 || b->rank != 2) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "A and B must be matrices");
    return FALSE;
  }
  gint64 m = s->trans_a ? a->dims[1] : a->dims[0];
  gint64 k = s->trans_a ? a->dims[0] : a->dims[1];
  gint64 kb = s->trans_b ? b->dims[1] : b->dims[0];
  gint64 n = s->trans_b ? b->dims[0] : b->dims[1];
  if (k != kb) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "A and B disagree on K (%" G_GINT64_FORMAT " and %" G_GINT64_FORMAT ")", k,
                      kb);
    return FALSE;
  }
  if (!cpu_fits_blas_int (m) || !cpu_fits_blas_int (n) || !cpu_fits_blas_int (k)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "matrix dimensions exceed the BLAS integer range");
    return FALSE;
  }
  /* C broadcasts one way to [M, N]: a scalar, [N], [1, N], [M, 1] or [M, N] */
  gint64 c_rows = 1, c_cols = 1;
  if (c) {
    if (c->rank > 2) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "C must have rank 2 or less");
      return FALSE;
    }
    c_cols = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    c_rows = c->rank == 2 ? c->dims[0] : 1;
    if ((c_cols != 1 && c_cols != n) || (c_rows != 1 && c_rows != m)) {
      g_autofree char *dc = cpu_dims_to_string (c->rank, c->dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "C %s cannot be broadcast to [%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "]",
                        dc, m, n);
      return FALSE;
    }
  }
  gint64 dims[2] = { m, n };
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_FLOAT, 2, dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  float *yd = y->data;
  gboolean use_c = c != NULL && s->beta != 0.0f;
  if (use_c) {
    const float *cd = c->data;
    for (gint64 i = 0; i < m; i++)
      for (gint64 j = 0; j < n; j++)
        yd[i * n + j] = s->beta * cd[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)];
  } else
    memset (yd, 0, y->n_bytes);
  if (k > 0 && s->alpha != 0.0f) {
    cpu_blas_set_threads (glia_kernel_context_get_n_threads (ctx));
    cblas_sgemm (CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans,
                 s->trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, s->alpha, a->data,
                 (int)a->dims[1], b->data, (int)b->dims[1], use_c ? 1.0f : 0.0f, yd, (int)n);
  }
  cpu_activation_apply (&s->act, yd, y->n_elements);
  return TRUE;
}

/* ---- FusedMatMul ----------------------------------------------------------- */

/* Y = act (A B + bias): A [..., M, K] (the leading axes flattened into the
 * rows of one GEMM), B a constant [K, N], bias [N] (optional). On AVX-512
 * CPUs B is packed once, at kernel creation, into panels of FMM_NR columns
 * (K rows of FMM_NR floats each, zero padded) and a register-blocked kernel
 * computes FMM_MR x FMM_NR tiles with the bias and the activation applied
 * before the store. Elsewhere (or when B is not constant) it is one
 * cblas_sgemm over the flattened rows plus the same epilogue. */

#define FMM_NR 32
#define FMM_MR 12

typedef struct
{
  CpuActivation act;
  gint64 k, n;   /* of the packed B (0 when not packed) */
  float *packed; /* n_panels * k * FMM_NR floats, 64-byte aligned */
} FusedMatMulState;

static void
fused_matmul_free (gpointer p)
{
  FusedMatMulState *s = p;
  if (s == NULL)
    return;
  g_aligned_free (s->packed);
  g_free (s);
}

static gboolean
fmm_use_avx512 (void)
{
  return cpu_simd ()->isa == CPU_ISA_AVX512;
}

static gpointer
fused_matmul_create (const GliaGraph *graph, gint node, GError **error)
{
  g_autofree FusedMatMulState *s = g_new0 (FusedMatMulState, 1);
  if (!cpu_activation_from_node (graph, node, &s->act, error))
    return NULL;
  gint bv = glia_graph_node_get_input (graph, node, 1);
  const GliaConstTensor *bc = bv >= 0 ? glia_graph_value_get_constant (graph, bv) : NULL;
  if (fmm_use_avx512 () && bc && bc->dtype == GLIA_DATA_TYPE_FLOAT && bc->rank == 2
      && bc->dims[0] > 0 && bc->dims[1] > 0 && bc->dims[0] <= G_MAXINT32
      && bc->dims[1] <= G_MAXINT32
      && g_bytes_get_size (bc->data) == (gsize)(bc->dims[0] * bc->dims[1]) * sizeof (float)) {
    gint64 k = bc->dims[0], n = bc->dims[1];
    gint64 n_panels = (n + FMM_NR - 1) / FMM_NR;
    const float *b = g_bytes_get_data (bc->data, NULL);
    float *p = g_aligned_alloc0 ((gsize)(n_panels * k), FMM_NR * sizeof (float), 64);
    for (gint64 pi = 0; pi < n_panels; pi++) {
      gint64 j0 = pi * FMM_NR, nc = MIN (FMM_NR, n - j0);
      for (gint64 kk = 0; kk < k; kk++)
        memcpy (p + (pi * k + kk) * FMM_NR, b + kk * n + j0, (gsize)nc * sizeof (float));
    }
    s->k = k;
    s->n = n;
    s->packed = p;
  }
  return g_steal_pointer (&s);
}

static gboolean
fused_matmul_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  gint ra = glia_shape_context_get_input_rank (ctx, 0);
  gint rb = glia_shape_context_get_input_rank (ctx, 1);
  if ((ra >= 0 && ra < 2) || (rb >= 0 && rb != 2)) {
    cpu_shape_error (error, ctx, "A needs rank 2 or more and B rank 2, got ranks %d and %d", ra,
                     rb);
    return FALSE;
  }
  GliaDataType dt = glia_shape_context_get_input_dtype (ctx, 0);
  if (ra < 0) {
    glia_shape_context_set_output (ctx, 0, dt, -1, NULL);
    return TRUE;
  }
  gint64 dims[GLIA_MAX_RANK];
  memcpy (dims, glia_shape_context_get_input_dims (ctx, 0), (gsize)ra * sizeof (gint64));
  dims[ra - 1] = rb == 2 ? glia_shape_context_get_input_dims (ctx, 1)[1] : -1;
  glia_shape_context_set_output (ctx, 0, dt, ra, dims);
  return TRUE;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FMM_HAVE_AVX512 1
#define FMM_TARGET      __attribute__ ((target ("avx512f,avx2,fma")))

/* One tile: rows [0, MR) of A (row stride lda) times one packed panel,
 * written to c (row stride ldc), ncols <= FMM_NR columns kept. */
static inline __attribute__ ((always_inline)) FMM_TARGET void
fmm_tile (const int mr, gint64 k, const float *a, gint64 lda, const float *bp, float *c, gint64 ldc,
          int ncols, const float *bias, gboolean relu)
{
  __m512 acc0[FMM_MR], acc1[FMM_MR];
#pragma GCC unroll 12
  for (int i = 0; i < mr; i++) {
    acc0[i] = _mm512_setzero_ps ();
    acc1[i] = _mm512_setzero_ps ();
  }
  for (gint64 kk = 0; kk < k; kk++) {
    __m512 b0 = _mm512_load_ps (bp + kk * FMM_NR);
    __m512 b1 = _mm512_load_ps (bp + kk * FMM_NR + 16);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
      __m512 av = _mm512_set1_ps (a[i * lda + kk]);
      acc0[i] = _mm512_fmadd_ps (av, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps (av, b1, acc1[i]);
    }
  }
  __mmask16 m0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);
  __mmask16 m1 = ncols >= 32 ? 0xffff : ncols <= 16 ? 0 : (__mmask16)((1u << (ncols - 16)) - 1);
  __m512 bias0 = bias ? _mm512_maskz_loadu_ps (m0, bias) : _mm512_setzero_ps ();
  __m512 bias1 = bias ? _mm512_maskz_loadu_ps (m1, bias + 16) : _mm512_setzero_ps ();
  __m512 zero = _mm512_setzero_ps ();
#pragma GCC unroll 12
  for (int i = 0; i < mr; i++) {
    __m512 y0 = _mm512_add_ps (acc0[i], bias0), y1 = _mm512_add_ps (acc1[i], bias1);
    if (relu) {
      y0 = _mm512_max_ps (y0, zero);
      y1 = _mm512_max_ps (y1, zero);
    }
    _mm512_mask_storeu_ps (c + i * ldc, m0, y0);
    _mm512_mask_storeu_ps (c + i * ldc + 16, m1, y1);
  }
}

#define FMM_TILE_CASE(R)                                                                           \
  case R:                                                                                          \
    fmm_tile (R, k, a, lda, bp, c, ldc, ncols, bias, relu);                                        \
    break;

static FMM_TARGET void
fmm_tile_any (int mr, gint64 k, const float *a, gint64 lda, const float *bp, float *c, gint64 ldc,
              int ncols, const float *bias, gboolean relu)
{
  switch (mr) {
    FMM_TILE_CASE (1)
    FMM_TILE_CASE (2)
    FMM_TILE_CASE (3)
    FMM_TILE_CASE (4)
    FMM_TILE_CASE (5)
    FMM_TILE_CASE (6)
    FMM_TILE_CASE (7)
    FMM_TILE_CASE (8)
    FMM_TILE_CASE (9)
    FMM_TILE_CASE (10)
    FMM_TILE_CASE (11)
    FMM_TILE_CASE (12)
  default:
    g_assert_not_reached ();
  }
}
#endif

#ifdef FMM_HAVE_AVX512
/* Rows [kk0, kk0 + nk) of a panel's columns [jb, jb + 16) (nk, nj <= 16)
 * from a source whose columns are rows: src[j * sn + kk], each column read
 * as one vector and the 16 x 16 block transposed in registers. Columns
 * past @nj are zero. */
static FMM_TARGET void
fmm_pack_transposed_block (float *rows, const float *src, gint64 sn, int nk, int nj, float scale)
{
  const __mmask16 km = (__mmask16)((1u << nk) - 1);
  const __m512 vs = _mm512_set1_ps (scale);
  __m512 r[16], t[16];
  for (int j = 0; j < 16; j++)
    r[j] = j < nj ? _mm512_mul_ps (_mm512_maskz_loadu_ps (km, src + j * sn), vs)
                  : _mm512_setzero_ps ();
  /* 2 x 2, then 4 x 4 blocks within each 128-bit lane */
  for (int j = 0; j < 16; j += 2) {
    t[j] = _mm512_unpacklo_ps (r[j], r[j + 1]);
    t[j + 1] = _mm512_unpackhi_ps (r[j], r[j + 1]);
  }
  for (int j = 0; j < 16; j += 4) {
    r[j] = _mm512_shuffle_ps (t[j], t[j + 2], 0x44);
    r[j + 1] = _mm512_shuffle_ps (t[j], t[j + 2], 0xEE);
    r[j + 2] = _mm512_shuffle_ps (t[j + 1], t[j + 3], 0x44);
    r[j + 3] = _mm512_shuffle_ps (t[j + 1], t[j + 3], 0xEE);
  }
  /* r[4g + i] holds, in lane L, element 4L + i of rows 4g .. 4g + 3: gather
   * the lanes of the four row groups */
  for (int i = 0; i < 4; i++) {
    __m512 v = _mm512_shuffle_f32x4 (r[i], r[4 + i], 0x88);
    __m512 w = _mm512_shuffle_f32x4 (r[i], r[4 + i], 0xDD);
    __m512 v2 = _mm512_shuffle_f32x4 (r[8 + i], r[12 + i], 0x88);
    __m512 w2 = _mm512_shuffle_f32x4 (r[8 + i], r[12 + i], 0xDD);
    __m512 c[4] = { _mm512_shuffle_f32x4 (v, v2, 0x88), _mm512_shuffle_f32x4 (w, w2, 0x88),
                    _mm512_shuffle_f32x4 (v, v2, 0xDD), _mm512_shuffle_f32x4 (w, w2, 0xDD) };
    for (int q = 0; q < 4; q++)
      if (4 * q + i < nk)
        _mm512_storeu_ps (rows + (4 * q + i) * FMM_NR, c[q]);
  }
}

/* B[kk][j] = scale * src[kk * sk + j * sn] into panels @p (ceil (n /
 * FMM_NR) * k * FMM_NR floats), zero padded. Rows of B that are contiguous
 * in the source (sn == 1: V, a weight matrix) are copied a vector at a
 * time; columns that are (sk == 1: K for Q Kt, a transposed weight) are
 * transposed in 16 x 16 blocks; other strides go element by element. */
static FMM_TARGET void
fmm_pack_into (float *p, gint64 k, gint64 n, const float *src, gint64 sk, gint64 sn, float scale)
{
  gint64 n_panels = (n + FMM_NR - 1) / FMM_NR;
  const __m512 vs = _mm512_set1_ps (scale);
  for (gint64 pi = 0; pi < n_panels; pi++) {
    gint64 j0 = pi * FMM_NR, nc = MIN (FMM_NR, n - j0);
    float *panel = p + pi * k * FMM_NR;
    if (sn == 1) {
      __mmask16 m0 = (__mmask16)(nc >= 16 ? 0xffff : (1u << nc) - 1);
      __mmask16 m1 = (__mmask16)(nc >= 32 ? 0xffff : nc > 16 ? (1u << (nc - 16)) - 1 : 0);
      for (gint64 kk = 0; kk < k; kk++) {
        const float *s = src + kk * sk + j0;
        _mm512_storeu_ps (panel + kk * FMM_NR, _mm512_mul_ps (_mm512_maskz_loadu_ps (m0, s), vs));
        _mm512_storeu_ps (panel + kk * FMM_NR + 16,
                          _mm512_mul_ps (_mm512_maskz_loadu_ps (m1, s + 16), vs));
      }
    } else if (sk == 1) {
      for (gint64 kk0 = 0; kk0 < k; kk0 += 16)
        for (gint64 jb = 0; jb < FMM_NR; jb += 16)
          fmm_pack_transposed_block (panel + kk0 * FMM_NR + jb, src + (j0 + jb) * sn + kk0, sn,
                                     (int)MIN (16, k - kk0), (int)CLAMP (nc - jb, 0, 16), scale);
    } else
      for (gint64 kk = 0; kk < k; kk++) {
        float *row = panel + kk * FMM_NR;
        gint64 j = 0;
        for (; j < nc; j++)
          row[j] = scale * src[kk * sk + (j0 + j) * sn];
        for (; j < FMM_NR; j++)
          row[j] = 0.0f;
      }
  }
}
#endif

float *
cpu_fmm_pack (gint64 k, gint64 n, const float *src, gint64 sk, gint64 sn)
{
#ifdef FMM_HAVE_AVX512
  if (!fmm_use_avx512 () || k <= 0 || n <= 0)
    return NULL;
  gint64 n_panels = (n + FMM_NR - 1) / FMM_NR;
  float *p = g_aligned_alloc ((gsize)(n_panels * k), FMM_NR * sizeof (float), 64);
  fmm_pack_into (p, k, n, src, sk, sn, 1.0f);
  return p;
#else
  (void)k;
  (void)n;
  (void)src;
  (void)sk;
  (void)sn;
  return NULL;
#endif
}

void
cpu_fmm_gemm (gint64 m, gint64 k, gint64 n, const float *a, gint64 lda, const float *packed,
              float *c, gint64 ldc)
{
#ifdef FMM_HAVE_AVX512
  gint64 n_panels = (n + FMM_NR - 1) / FMM_NR;
  for (gint64 pi = 0; pi < n_panels; pi++) {
    gint64 j0 = pi * FMM_NR;
    int ncols = (int)MIN (FMM_NR, n - j0);
    for (gint64 i0 = 0; i0 < m; i0 += FMM_MR)
      fmm_tile_any ((int)MIN (FMM_MR, m - i0), k, a + i0 * lda, lda, packed + pi * k * FMM_NR,
                    c + i0 * ldc + j0, ldc, ncols, NULL, FALSE);
  }
#else
  (void)m;
  (void)k;
  (void)n;
  (void)a;
  (void)lda;
  (void)packed;
  (void)c;
  (void)ldc;
  g_assert_not_reached (); /* cpu_fmm_pack() gave NULL */
#endif
}

/* BLAS threads for an m x n x k product issued from the calling thread: one
 * for small products, where OpenBLAS's threading costs more than it saves. */
static guint
fmm_blas_threads (GliaKernelContext *ctx, gint64 m, gint64 n, gint64 k)
{
  double flops = 2.0 * (double)m * (double)n * (double)k;
  return flops < 4e6 ? 1 : glia_kernel_context_get_n_threads (ctx);
}

typedef struct
{
  const FusedMatMulState *s;
  const float *a, *bias;
  float *y;
  gint64 m;
} FmmJob;

/* Panels [begin, end) over all rows. */
static void
fmm_panels (gsize begin, gsize end, gpointer user_data)
{
#ifdef FMM_HAVE_AVX512
  const FmmJob *job = user_data;
  const FusedMatMulState *s = job->s;
  gint64 k = s->k, n = s->n;
  gboolean relu = s->act.kind == CPU_ACTIVATION_RELU;
  gboolean other = s->act.kind != CPU_ACTIVATION_NONE && !relu;
  for (gsize p = begin; p < end; p++) {
    gint64 j0 = (gint64)p * FMM_NR;
    int ncols = (int)MIN (FMM_NR, n - j0);
    const float *bp = s->packed + (gint64)p * k * FMM_NR;
    for (gint64 i0 = 0; i0 < job->m; i0 += FMM_MR) {
      int mr = (int)MIN (FMM_MR, job->m - i0);
      float *c = job->y + i0 * n + j0;
      fmm_tile_any (mr, k, job->a + i0 * k, k, bp, c, n, ncols, job->bias ? job->bias + j0 : NULL,
                    relu);
      if (other)
        for (int i = 0; i < mr; i++)
          cpu_activation_apply (&s->act, c + i * n, (gsize)ncols);
    }
  }
#else
  (void)begin;
  (void)end;
  (void)user_data;
  g_assert_not_reached ();
#endif
}

static gboolean
fused_matmul_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const FusedMatMulState *s = state;
  const GliaTensorView *a = cpu_require_input (ctx, 0, error);
  const GliaTensorView *b = a ? cpu_require_input (ctx, 1, error) : NULL;
  if (b == NULL)
    return FALSE;
  const GliaTensorView *bias = cpu_optional_input (ctx, 2);
  const GliaTensorView *all[3] = { a, b, bias };
  for (guint i = 0; i < 3; i++)
    if (all[i] && !cpu_check_dtype (ctx, all[i], FLOAT_ONLY, NULL, error))
      return FALSE;
  if (a->rank < 2 || b->rank != 2) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "A needs rank 2 or more and B rank 2");
    return FALSE;
  }
  gint64 k = a->dims[a->rank - 1], n = b->dims[1];
  if (b->dims[0] != k) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "A and B disagree on K (%" G_GINT64_FORMAT " and %" G_GINT64_FORMAT ")", k,
                      b->dims[0]);
    return FALSE;
  }
  if (bias && (gint64)bias->n_elements != n) {
    g_autofree char *d = cpu_dims_to_string (bias->rank, bias->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the bias %s does not have N = %" G_GINT64_FORMAT " elements", d, n);
    return FALSE;
  }
  gint64 dims[GLIA_MAX_RANK];
  memcpy (dims, a->dims, a->rank * sizeof (gint64));
  dims[a->rank - 1] = n;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_FLOAT, a->rank, dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  gint64 m = (gint64)(y->n_elements / (gsize)n);
  float *yd = y->data;
  const float *bd = bias ? bias->data : NULL;
  if (k == 0) {
    for (gint64 i = 0; i < m; i++)
      for (gint64 j = 0; j < n; j++)
        yd[i * n + j] = bd ? bd[j] : 0.0f;
    cpu_activation_apply (&s->act, yd, y->n_elements);
    return TRUE;
  }
#ifdef FMM_HAVE_AVX512
  if (s->packed && s->k == k && s->n == n && fmm_use_avx512 ()) {
    FmmJob job = { s, a->data, bd, yd, m };
    gsize n_panels = (gsize)((n + FMM_NR - 1) / FMM_NR);
    /* about 2 MFLOP per chunk at least: smaller products stay on one thread */
    gsize per_panel = (gsize)(m * k) * FMM_NR;
    gsize grain = MAX ((gsize)1, (gsize)(1u << 20) / MAX (per_panel, 1));
    glia_kernel_context_parallel_for (ctx, n_panels, grain, fmm_panels, &job);
    return TRUE;
  }
#endif
  if (!cpu_fits_blas_int (m) || !cpu_fits_blas_int (n) || !cpu_fits_blas_int (k)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "matrix dimensions exceed the BLAS integer range");
    return FALSE;
  }
  for (gint64 i = 0; i < m; i++) {
    if (bd)
      memcpy (yd + i * n, bd, (gsize)n * sizeof (float));
    else
      memset (yd + i * n, 0, (gsize)n * sizeof (float));
  }
  cpu_blas_set_threads (fmm_blas_threads (ctx, m, n, k));
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a->data,
               (int)k, b->data, (int)n, 1.0f, yd, (int)n);
  cpu_activation_apply (&s->act, yd, y->n_elements);
  return TRUE;
}

/* ---- Gelu ------------------------------------------------------------------ */

typedef struct
{
  gboolean tanh_form;
} GeluState;

static gpointer
gelu_create (const GliaGraph *graph, gint node, GError **error)
{
  const char *approx = glia_graph_node_get_attr_string (graph, node, "approximate", "none", NULL);
  GeluState s = { FALSE };
  if (g_str_equal (approx, "tanh"))
    s.tanh_form = TRUE;
  else if (!g_str_equal (approx, "none")) {
    cpu_node_error (error, graph, node, "attribute 'approximate' must be \"none\" or \"tanh\"");
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

typedef struct
{
  const float *x;
  float *y;
  gboolean tanh_form;
} GeluJob;

static void
gelu_chunk (gsize begin, gsize end, gpointer user_data)
{
  const GeluJob *job = user_data;
  if (job->tanh_form) {
    const float c = 0.7978845608028654f; /* sqrt (2 / pi) */
    for (gsize i = begin; i < end; i++) {
      float x = job->x[i];
      job->y[i] = 0.5f * x * (1.0f + tanhf (c * (x + 0.044715f * x * x * x)));
    }
  } else {
    /* y = erf (x / sqrt 2) first (vectorized), then 0.5 x (1 + y) */
    const CpuSimdOps *simd = cpu_simd ();
    simd->affine (job->x + begin, job->y + begin, end - begin, (float)(G_SQRT2 * 0.5), 0.0f);
    simd->unary (CPU_SIMD_UN_ERF, job->y + begin, job->y + begin, end - begin, 0, 0);
    for (gsize i = begin; i < end; i++)
      job->y[i] = 0.5f * job->x[i] * (1.0f + job->y[i]);
  }
}

static gboolean
gelu_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GeluState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !cpu_check_dtype (ctx, x, FLOAT_ONLY, NULL, error))
    return FALSE;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  GeluJob job = { x->data, y->data, s->tanh_form };
  glia_kernel_context_parallel_for (ctx, x->n_elements, CPU_GRAIN / 8, gelu_chunk, &job);
  return TRUE;
}

/* ---- Attention ------------------------------------------------------------- */

/* Layouts: Q, K, V (and Y) may be given as Transposes of the tensors the
 * kernel computes with (attributes q_perm, k_perm, v_perm: the operand is
 * Transpose (input, perm); out_perm: the output is Transpose (Y, perm)),
 * with the last axis kept in place, so that the graph optimizer can drop
 * the Transposes around an attention (PyTorch's multi-head attention
 * export has four) and the kernel reads and writes through strides. */
#define ATTN_N_PERMS 4

typedef struct
{
  float scale;                              /* NaN: 1 / sqrt (D) */
  guint perm_rank[ATTN_N_PERMS];            /* 0: no permutation */
  gint64 perm[ATTN_N_PERMS][GLIA_MAX_RANK]; /* q, k, v, out */
} AttentionState;

static const char *const attn_perm_names[ATTN_N_PERMS]
    = { "q_perm", "k_perm", "v_perm", "out_perm" };

/* The node's scale and permutations into @s. */
static gboolean
attention_read (const GliaGraph *graph, gint node, AttentionState *out, GError **error)
{
  AttentionState s = { NAN };
  if (glia_graph_node_has_attr (graph, node, "scale"))
    s.scale = glia_graph_node_get_attr_float (graph, node, "scale", 1.0f);
  for (guint i = 0; i < ATTN_N_PERMS; i++) {
    guint n = 0;
    const gint64 *perm = glia_graph_node_has_attr (graph, node, attn_perm_names[i])
                             ? glia_graph_node_get_attr_ints (graph, node, attn_perm_names[i], &n)
                             : NULL;
    if (perm == NULL)
      continue;
    /* a permutation of 0..n-1 keeping the last axis */
    gboolean seen[GLIA_MAX_RANK] = { FALSE };
    gboolean ok = n >= 2 && n <= GLIA_MAX_RANK && perm[n - 1] == (gint64)n - 1;
    for (guint a = 0; a < n && ok; a++) {
      ok = perm[a] >= 0 && perm[a] < (gint64)n && !seen[perm[a]];
      if (ok)
        seen[perm[a]] = TRUE;
    }
    if (!ok) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "node '%s' (Attention): %s is not a permutation keeping the last axis",
                   glia_graph_node_get_name (graph, node), attn_perm_names[i]);
      return FALSE;
    }
    s.perm_rank[i] = n;
    memcpy (s.perm[i], perm, n * sizeof (gint64));
  }
  *out = s;
  return TRUE;
}

static gpointer
attention_create (const GliaGraph *graph, gint node, GError **error)
{
  AttentionState s;
  return attention_read (graph, node, &s, error) ? g_memdup2 (&s, sizeof s) : NULL;
}

/* The logical view of a contiguous tensor @dims read through @perm (rank
 * @pr, 0: none): dims and element strides. FALSE when the ranks differ. */
static gboolean
attn_view (guint rank, const gint64 *dims, guint pr, const gint64 *perm, gint64 *ldims,
           gint64 *lstrides)
{
  gint64 st[GLIA_MAX_RANK];
  cpu_contiguous_strides (rank, dims, st);
  if (pr && pr != rank)
    return FALSE;
  for (guint i = 0; i < rank; i++) {
    guint a = pr ? (guint)perm[i] : i;
    ldims[i] = dims[a];
    lstrides[i] = st[a];
  }
  return TRUE;
}

/* Right-aligns @rank dims into @out of @out_rank (1 where missing). */
static void
align_dims (guint rank, const gint64 *dims, guint out_rank, gint64 *out)
{
  for (guint i = 0; i < out_rank; i++)
    out[i] = i + rank >= out_rank ? dims[i + rank - out_rank] : 1;
}

static gboolean
attention_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  AttentionState state, *s = &state;
  if (!attention_read (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), s,
                       error))
    return FALSE;
  gint rq = glia_shape_context_get_input_rank (ctx, 0);
  gint rv = glia_shape_context_get_input_rank (ctx, 2);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  if (rq < 0 || rv < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  if (rq < 2 || rv < 2) {
    cpu_shape_error (error, ctx, "Q and V need rank 2 or more");
    return FALSE;
  }
  gint64 q[GLIA_MAX_RANK], v[GLIA_MAX_RANK], st[GLIA_MAX_RANK];
  if (!attn_view (rq, glia_shape_context_get_input_dims (ctx, 0), s->perm_rank[0], s->perm[0], q,
                  st)
      || !attn_view (rv, glia_shape_context_get_input_dims (ctx, 2), s->perm_rank[2], s->perm[2], v,
                     st)) {
    cpu_shape_error (error, ctx, "q_perm or v_perm does not match its input's rank");
    return FALSE;
  }
  gint64 out[GLIA_MAX_RANK];
  guint rank;
  if (!cpu_broadcast_dims (rq - 2, q, rv - 2, v, &rank, out)) {
    cpu_shape_error (error, ctx, "batch dimensions of Q and V cannot be broadcast");
    return FALSE;
  }
  out[rank++] = q[rq - 2];
  out[rank++] = v[rv - 1];
  if (s->perm_rank[3]) {
    if (s->perm_rank[3] != rank) {
      cpu_shape_error (error, ctx, "out_perm does not match the output's rank");
      return FALSE;
    }
    gint64 phys[GLIA_MAX_RANK];
    for (guint i = 0; i < rank; i++)
      phys[i] = out[s->perm[3][i]];
    memcpy (out, phys, rank * sizeof (gint64));
  }
  glia_shape_context_set_output (ctx, 0, dtype, rank, out);
  return TRUE;
}

typedef struct
{
  const float *qd, *kd, *vd, *md;
  float *yd, *scores;
  gint64 sq, skv, d, dv;
  guint br;
  float scale;
  const gint64 *batch, *qs, *ks, *vs, *ms, *ys;
  gint64 ldq, ldk, ldv, ldy; /* row strides (elements) */
  gsize score_size;
  gboolean per_item; /* scores holds one tile per batch item */
  float *pack;       /* AVX-512: packed-B scratch (one per item when per_item), or NULL */
  gsize pack_floats;
} AttnJob;

#ifdef FMM_HAVE_AVX512
/* C [m x n] (row stride ldc) = A [m x k] (row stride lda) times B, with
 * B[kk][j] = scale * src[j * sj + kk * sk] packed into @pack (64-byte
 * aligned, ceil(n / FMM_NR) * k * FMM_NR floats) first: K^T (sj = d,
 * sk = 1) and V (sj = 1, sk = dv) both fit. The FusedMatMul tiles then run
 * at AVX-512 speed where OpenBLAS (Haswell kernels on this machine) ran at
 * half of it. */
static FMM_TARGET void
attn_gemm (gint64 m, gint64 n, gint64 k, const float *a, gint64 lda, const float *src, gint64 sj,
           gint64 sk, float scale, float *c, gint64 ldc, float *pack)
{
  fmm_pack_into (pack, k, n, src, sk, sj, scale);
  cpu_fmm_gemm (m, k, n, a, lda, pack, c, ldc);
}
#endif

/* Floats of packed B the two products of one item need. */
static gsize
attn_pack_floats (gint64 skv, gint64 d, gint64 dv)
{
  gsize qk = (gsize)((skv + FMM_NR - 1) / FMM_NR) * (gsize)d * FMM_NR;
  gsize pv = (gsize)((dv + FMM_NR - 1) / FMM_NR) * (gsize)skv * FMM_NR;
  return MAX (qk, pv);
}

/* Batch items [begin, end): Q Kt into a score tile, masked softmax, times V. */
static void
attention_heads (gsize begin, gsize end, gpointer user_data)
{
  const AttnJob *j = user_data;
  const CpuSimdOps *simd = cpu_simd ();
  gint64 sq = j->sq, skv = j->skv, d = j->d, dv = j->dv;
  guint br = j->br;
  if (j->per_item)
    cpu_blas_set_threads (1);
  for (gsize b = begin; b < end; b++) {
    float *scores = j->per_item ? j->scores + b * (j->score_size / sizeof (float)) : j->scores;
    /* offsets of batch b in each operand */
    gsize rem = b, oq = 0, ok = 0, ov = 0, om = 0, oy = 0;
    for (gint i = (gint)br - 1; i >= 0; i--) {
      gsize idx = rem % (gsize)j->batch[i];
      rem /= (gsize)j->batch[i];
      oq += idx * j->qs[i];
      ok += idx * j->ks[i];
      ov += idx * j->vs[i];
      oy += idx * j->ys[i];
      if (j->md)
        om += idx * j->ms[i];
    }
    float *yb = j->yd + oy;
    if (skv == 0) {
      for (gint64 i = 0; i < sq; i++)
        memset (yb + i * j->ldy, 0, (gsize)dv * sizeof (float));
      continue;
    }
    float *pack = j->pack ? j->pack + (j->per_item ? b * j->pack_floats : 0) : NULL;
#ifdef FMM_HAVE_AVX512
    if (pack)
      attn_gemm (sq, skv, d, j->qd + oq, j->ldq, j->kd + ok, j->ldk, 1, j->scale, scores, skv,
                 pack);
    else
#endif
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int)sq, (int)skv, (int)d, j->scale,
                   j->qd + oq, (int)MAX (j->ldq, 1), j->kd + ok, (int)MAX (j->ldk, 1), 0.0f, scores,
                   (int)skv);
    for (gint64 i = 0; i < sq; i++) {
      float *row = scores + i * skv;
      if (j->md) {
        const float *mrow = j->md + om + i * j->ms[br];
        gint64 mstep = j->ms[br + 1];
        if (mstep == 1)
          simd->binary (CPU_SIMD_BIN_ADD, row, 1, mrow, 1, row, (gsize)skv);
        else
          for (gint64 c = 0; c < skv; c++)
            row[c] += mrow[c * mstep];
      }
      simd->softmax (row, row, (gsize)skv);
    }
#ifdef FMM_HAVE_AVX512
    if (pack)
      attn_gemm (sq, dv, skv, scores, skv, j->vd + ov, 1, j->ldv, 1.0f, yb, j->ldy, pack);
    else
#endif
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)sq, (int)dv, (int)skv, 1.0f,
                   scores, (int)skv, j->vd + ov, (int)MAX (j->ldv, 1), 0.0f, yb,
                   (int)MAX (j->ldy, 1));
  }
}

static gboolean
attention_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const AttentionState *s = state;
  const GliaTensorView *q = cpu_require_input (ctx, 0, error);
  const GliaTensorView *k = q ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *v = k ? cpu_require_input (ctx, 2, error) : NULL;
  if (v == NULL)
    return FALSE;
  const GliaTensorView *mask = cpu_optional_input (ctx, 3);
  const GliaTensorView *all[4] = { q, k, v, mask };
  for (guint i = 0; i < 4; i++)
    if (all[i] && !cpu_check_dtype (ctx, all[i], FLOAT_ONLY, NULL, error))
      return FALSE;
  if (q->rank < 2 || k->rank < 2 || v->rank < 2) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "Q, K and V need rank 2 or more");
    return FALSE;
  }
  /* Q, K and V as the products see them (through q_perm, k_perm, v_perm) */
  gint64 qdim[GLIA_MAX_RANK], kdim[GLIA_MAX_RANK], vdim[GLIA_MAX_RANK];
  gint64 qst[GLIA_MAX_RANK], kst[GLIA_MAX_RANK], vst[GLIA_MAX_RANK];
  if (!attn_view (q->rank, q->dims, s->perm_rank[0], s->perm[0], qdim, qst)
      || !attn_view (k->rank, k->dims, s->perm_rank[1], s->perm[1], kdim, kst)
      || !attn_view (v->rank, v->dims, s->perm_rank[2], s->perm[2], vdim, vst)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "q_perm, k_perm or v_perm does not match its input's rank");
    return FALSE;
  }
  gint64 sq = qdim[q->rank - 2], d = qdim[q->rank - 1];
  gint64 skv = kdim[k->rank - 2], dv = vdim[v->rank - 1];
  if (kdim[k->rank - 1] != d || vdim[v->rank - 2] != skv) {
    g_autofree char *a = cpu_dims_to_string (q->rank, qdim);
    g_autofree char *b = cpu_dims_to_string (k->rank, kdim);
    g_autofree char *c = cpu_dims_to_string (v->rank, vdim);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "Q %s, K %s and V %s do not fit [..., S, D], [..., S_kv, D], [..., S_kv, Dv]",
                      a, b, c);
    return FALSE;
  }
  /* batch dims: broadcast of Q's, K's and V's */
  guint br = 0;
  gint64 batch[GLIA_MAX_RANK], tmp[GLIA_MAX_RANK];
  guint tr;
  if (!cpu_broadcast_dims (q->rank - 2, qdim, k->rank - 2, kdim, &tr, tmp)
      || !cpu_broadcast_dims (tr, tmp, v->rank - 2, vdim, &br, batch)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "batch dimensions of Q, K and V cannot be broadcast");
    return FALSE;
  }
  /* element strides of each operand's batch (0 where broadcast) */
  gint64 qb[GLIA_MAX_RANK], kb[GLIA_MAX_RANK], vb[GLIA_MAX_RANK], mb[GLIA_MAX_RANK + 2];
  gint64 qs[GLIA_MAX_RANK], ks[GLIA_MAX_RANK], vs[GLIA_MAX_RANK], ms[GLIA_MAX_RANK + 2];
  align_dims (q->rank - 2, qdim, br, qb);
  align_dims (k->rank - 2, kdim, br, kb);
  align_dims (v->rank - 2, vdim, br, vb);
  for (guint i = 0; i < br; i++) {
    qs[i] = qb[i] == 1 ? 0 : qst[i - (br - (q->rank - 2))];
    ks[i] = kb[i] == 1 ? 0 : kst[i - (br - (k->rank - 2))];
    vs[i] = vb[i] == 1 ? 0 : vst[i - (br - (v->rank - 2))];
  }
  guint sr = br + 2;
  gint64 score_dims[GLIA_MAX_RANK + 2];
  memcpy (score_dims, batch, br * sizeof (gint64));
  score_dims[br] = sq;
  score_dims[br + 1] = skv;
  if (mask) {
    if (mask->rank > sr) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "the mask has too many axes");
      return FALSE;
    }
    align_dims (mask->rank, mask->dims, sr, mb);
    gint64 st = 1;
    for (gint i = (gint)sr - 1; i >= 0; i--) {
      if (mb[i] != 1 && mb[i] != score_dims[i]) {
        g_autofree char *dm = cpu_dims_to_string (mask->rank, mask->dims);
        g_autofree char *ds = cpu_dims_to_string (sr, score_dims);
        cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                          "the mask %s cannot be broadcast to the scores %s", dm, ds);
        return FALSE;
      }
      ms[i] = mb[i] == 1 ? 0 : st;
      st *= mb[i];
    }
  }
  gint64 out_dims[GLIA_MAX_RANK];
  memcpy (out_dims, batch, br * sizeof (gint64));
  out_dims[br] = sq;
  out_dims[br + 1] = dv;
  /* Y as written: through out_perm; its logical axis a is physical axis
   * inv[a] */
  guint yr = br + 2;
  gint64 phys[GLIA_MAX_RANK], pst[GLIA_MAX_RANK], ys[GLIA_MAX_RANK];
  guint inv[GLIA_MAX_RANK];
  if (s->perm_rank[3] && s->perm_rank[3] != yr) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "out_perm does not match the output's rank");
    return FALSE;
  }
  for (guint i = 0; i < yr; i++) {
    guint a = s->perm_rank[3] ? (guint)s->perm[3][i] : i;
    phys[i] = out_dims[a];
    inv[a] = i;
  }
  cpu_contiguous_strides (yr, phys, pst);
  for (guint a = 0; a < yr; a++)
    ys[a] = pst[inv[a]];
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_FLOAT, yr, phys, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  if (!cpu_fits_blas_int (sq) || !cpu_fits_blas_int (skv) || !cpu_fits_blas_int (d)
      || !cpu_fits_blas_int (dv)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "dimensions exceed the BLAS integer range");
    return FALSE;
  }
  float scale = isnan (s->scale) ? 1.0f / sqrtf ((float)MAX (d, 1)) : s->scale;
  gsize score_size;
  if (!g_size_checked_mul (&score_size, (gsize)sq * sizeof (float), (gsize)MAX (skv, 1))) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT, "the score matrix is too large");
    return FALSE;
  }
  gsize n_batch = cpu_numel (br, batch);
  AttnJob job = {
    .qd = q->data,
    .kd = k->data,
    .vd = v->data,
    .md = mask ? mask->data : NULL,
    .yd = y->data,
    .sq = sq,
    .skv = skv,
    .d = d,
    .dv = dv,
    .br = br,
    .scale = scale,
    .batch = batch,
    .qs = qs,
    .ks = ks,
    .vs = vs,
    .ms = ms,
    .ys = ys,
    .ldq = qst[q->rank - 2],
    .ldk = kst[k->rank - 2],
    .ldv = vst[v->rank - 2],
    .ldy = ys[br],
    .score_size = score_size,
  };
  /* heads run in parallel, each with its own score tile and one BLAS
   * thread, when the tiles fit a modest scratch; else one after the other
   * with the session's BLAS threads */
  guint n_threads = glia_kernel_context_get_n_threads (ctx);
  /* the AVX-512 products pack B per item (at most 4 MiB of it per item;
   * longer sequences keep OpenBLAS) behind the score tiles, 64-byte aligned */
  gsize pack_floats = attn_pack_floats (skv, d, dv);
  gboolean use_pack = FALSE;
#ifdef FMM_HAVE_AVX512
  use_pack = fmm_use_avx512 () && d > 0 && dv > 0 && pack_floats <= ((gsize)1 << 20);
#endif
  gsize pack_bytes = use_pack ? pack_floats * sizeof (float) : 0;
  gsize all_size;
  if (n_threads > 1 && n_batch > 1 && g_size_checked_mul (&all_size, score_size, n_batch)
      && all_size <= (gsize)64 << 20) {
    gsize packs = pack_bytes * n_batch;
    job.scores = glia_kernel_context_get_scratch (ctx, all_size + packs + 64, error);
    if (job.scores == NULL)
      return FALSE;
    if (use_pack) {
      guintptr at = ((guintptr)((char *)job.scores + all_size) + 63) & ~(guintptr)63;
      job.pack = (float *)at;
      job.pack_floats = pack_floats;
    }
    job.per_item = TRUE;
    cpu_blas_set_threads (1);
    glia_kernel_context_parallel_for (ctx, n_batch, 1, attention_heads, &job);
  } else {
    job.scores = glia_kernel_context_get_scratch (ctx, score_size + pack_bytes + 64, error);
    if (job.scores == NULL)
      return FALSE;
    if (use_pack) {
      guintptr at = ((guintptr)((char *)job.scores + score_size) + 63) & ~(guintptr)63;
      job.pack = (float *)at;
      job.pack_floats = pack_floats;
    }
    double flops = 4.0 * (double)sq * (double)skv * (double)MAX (d, dv);
    cpu_blas_set_threads (flops < 4e6 ? 1 : n_threads);
    attention_heads (0, n_batch, &job);
  }
  return TRUE;
}

/* ---- registration --------------------------------------------------------- */

#define GLIA_OP(NAME, INFER, CREATE, COMPUTE)                                                      \
  {                                                                                                \
    .struct_size = sizeof (GliaOpDef), .domain = "com.glia", .name = NAME, .since_version = 1,     \
    .until_version = G_MAXINT, .dtypes = FLOAT_ONLY, .infer_shapes = INFER, .create = CREATE,      \
    .compute = COMPUTE, .destroy = g_free,                                                         \
  }

static const GliaOpDef fused_ops[] = {
  GLIA_OP ("FusedGemm", fused_gemm_infer_shapes, fused_gemm_create, fused_gemm_compute),
  GLIA_OP ("Gelu", cpu_infer_same_as_input, gelu_create, gelu_compute),
  GLIA_OP ("Attention", attention_infer_shapes, attention_create, attention_compute),
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "com.glia",
      .name = "FusedMatMul",
      .since_version = 1,
      .until_version = G_MAXINT,
      .dtypes = FLOAT_ONLY,
      .infer_shapes = fused_matmul_infer_shapes,
      .create = fused_matmul_create,
      .compute = fused_matmul_compute,
      .destroy = fused_matmul_free,
  },
};

/* com.glia::LayerNormalization: cpu-norm.c's op def in this domain. */
static GliaOpDef layer_norm_alias;

void
cpu_fused_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (fused_ops); i++)
    glia_op_table_add (table, &fused_ops[i]);
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    const GliaOpDef *ln = glia_op_table_lookup (table, "", "LayerNormalization", 17);
    if (ln) {
      layer_norm_alias = *ln;
      layer_norm_alias.domain = "com.glia";
      layer_norm_alias.since_version = 1;
      layer_norm_alias.until_version = G_MAXINT;
    }
    g_once_init_leave (&once, 1);
  }
  if (layer_norm_alias.name)
    glia_op_table_add (table, &layer_norm_alias);
}
