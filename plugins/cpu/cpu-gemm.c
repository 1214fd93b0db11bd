/* cpu-gemm.c: MatMul (numpy matmul semantics, batched with broadcasting) and
 * Gemm (alpha * A' B' + beta * C, C broadcast to the output).
 *
 * float and double go to OpenBLAS (cblas_sgemm / cblas_dgemm), which
 * threads internally (with the session's thread count, see cpu-blas.h), so
 * large batches are issued one after the other; many small matrices instead
 * split over parallel_for with single-threaded BLAS calls. Batches are read
 * in place through the broadcast strides, never copied. When B has no batch
 * dims the batches of A are contiguous rows and fold into one call with
 * M * batch rows. Integer MatMul is a plain i-k-j loop split over output
 * rows.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include "cpu-blas.h"

#include <cblas.h>
#include <string.h>

#define DTYPES_BLAS (GLIA_DTYPE_BIT (GLIA_DATA_TYPE_FLOAT) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_DOUBLE))
#define DTYPES_MATMUL                                                                              \
  (DTYPES_BLAS | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64))

/* ---- MatMul --------------------------------------------------------------- */

typedef struct
{
  guint rank;
  gint64 dims[GLIA_MAX_RANK];
  gint64 m, k, n;
  guint batch_rank;
  gint64 batch[GLIA_MAX_RANK];
} MatMulShape;

/* numpy matmul shape rules; -1 dims are unknown. */
static gboolean
matmul_shape (guint ra, const gint64 *a, guint rb, const gint64 *b, MatMulShape *s, char **why)
{
  if (ra == 0 || rb == 0) {
    *why = g_strdup ("inputs must have rank 1 or more");
    return FALSE;
  }
  gint64 ka = a[ra - 1];
  gint64 kb = rb == 1 ? b[0] : b[rb - 2];
  s->m = ra == 1 ? 1 : a[ra - 2];
  s->n = rb == 1 ? 1 : b[rb - 1];
  s->k = ka >= 0 ? ka : kb;
  if (ka >= 0 && kb >= 0 && ka != kb) {
    g_autofree char *da = cpu_dims_to_string (ra, a);
    g_autofree char *db = cpu_dims_to_string (rb, b);
    *why = g_strdup_printf ("inner dimensions of %s and %s differ (%" G_GINT64_FORMAT
                            " and %" G_GINT64_FORMAT ")",
                            da, db, ka, kb);
    return FALSE;
  }
  guint ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
  if (!cpu_broadcast_dims (ba, a, bb, b, &s->batch_rank, s->batch)) {
    g_autofree char *da = cpu_dims_to_string (ra, a);
    g_autofree char *db = cpu_dims_to_string (rb, b);
    *why = g_strdup_printf ("batch dimensions of %s and %s cannot be broadcast", da, db);
    return FALSE;
  }
  s->rank = s->batch_rank;
  memcpy (s->dims, s->batch, s->batch_rank * sizeof (gint64));
  if (ra > 1)
    s->dims[s->rank++] = s->m;
  if (rb > 1)
    s->dims[s->rank++] = s->n;
  return TRUE;
}

static gboolean
matmul_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  gint ra = glia_shape_context_get_input_rank (ctx, 0);
  gint rb = glia_shape_context_get_input_rank (ctx, 1);
  if (ra < 0 || rb < 0) {
    glia_shape_context_set_output (ctx, 0, dtype, -1, NULL);
    return TRUE;
  }
  MatMulShape s;
  g_autofree char *why = NULL;
  if (!matmul_shape ((guint)ra, glia_shape_context_get_input_dims (ctx, 0), (guint)rb,
                     glia_shape_context_get_input_dims (ctx, 1), &s, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, (gint)s.rank, s.dims);
  return TRUE;
}

static void
blas_gemm (GliaDataType dtype, gboolean ta, gboolean tb, gint m, gint n, gint k, double alpha,
           gconstpointer a, gint lda, gconstpointer b, gint ldb, double beta, gpointer c, gint ldc)
{
  if (dtype == GLIA_DATA_TYPE_FLOAT)
    cblas_sgemm (CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                 n, k, (float)alpha, a, lda, b, ldb, (float)beta, c, ldc);
  else
    cblas_dgemm (CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                 n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

typedef struct
{
  GliaDataType dtype;
  const guint8 *a, *b;
  guint8 *c;
  gint64 m, k, n;
  /* Per output row r (over batch * m): offsets of A's row and B's matrix. */
  CpuBroadcast bc;
} IntMatMulJob;

#define INT_MATMUL_ROWS(T)                                                                         \
  {                                                                                                \
    const T *a = (const T *)job->a;                                                                \
    const T *b = (const T *)job->b;                                                                \
    T *c = (T *)job->c;                                                                            \
    for (gsize r = begin; r < end; r++) {                                                          \
      gsize batch = r / (gsize)job->m, i = r % (gsize)job->m;                                      \
      CpuBroadcastPos pos;                                                                         \
      cpu_broadcast_seek (&job->bc, batch / job->bc.row_len, &pos);                                \
      gsize col = batch % job->bc.row_len;                                                         \
      gsize ma = pos.offset[0] + col * (gsize)job->bc.strides[0][job->bc.rank - 1];                \
      gsize mb = pos.offset[1] + col * (gsize)job->bc.strides[1][job->bc.rank - 1];                \
      const T *arow = a + (ma * (gsize)job->m + i) * (gsize)job->k;                                \
      const T *bmat = b + mb * (gsize)job->k * (gsize)job->n;                                      \
      T *crow = c + r * (gsize)job->n;                                                             \
      for (gint64 j = 0; j < job->n; j++)                                                          \
        crow[j] = 0;                                                                               \
      for (gint64 p = 0; p < job->k; p++) {                                                        \
        T av = arow[p];                                                                            \
        const T *brow = bmat + p * job->n;                                                         \
        for (gint64 j = 0; j < job->n; j++)                                                        \
          crow[j] = (T)(crow[j] + av * brow[j]);                                                   \
      }                                                                                            \
    }                                                                                              \
  }

static void
int_matmul_rows (gsize begin, gsize end, gpointer user_data)
{
  const IntMatMulJob *job = user_data;
  if (job->dtype == GLIA_DATA_TYPE_INT32)
    INT_MATMUL_ROWS (gint32)
  else
    INT_MATMUL_ROWS (gint64)
}

typedef struct
{
  const CpuBroadcast *bc;
  GliaDataType dtype;
  const guint8 *a, *b;
  guint8 *c;
  gint m, n, k;
  gsize a_bytes, b_bytes, c_bytes; /* per matrix */
} BatchJob;

/* Matrices [begin, end) of a batched MatMul, one single-threaded BLAS call
 * each. */
static void
matmul_batches (gsize begin, gsize end, gpointer user_data)
{
  const BatchJob *job = user_data;
  const CpuBroadcast *bc = job->bc;
  CpuBroadcastPos pos;
  gsize row = begin / bc->row_len, j = begin % bc->row_len;
  cpu_broadcast_seek (bc, row, &pos);
  for (gsize i = begin; i < end; i++) {
    gsize ia = pos.offset[0] + j * (gsize)bc->strides[0][bc->rank - 1];
    gsize ib = pos.offset[1] + j * (gsize)bc->strides[1][bc->rank - 1];
    blas_gemm (job->dtype, FALSE, FALSE, job->m, job->n, job->k, 1.0, job->a + ia * job->a_bytes,
               job->k, job->b + ib * job->b_bytes, job->n, 0.0, job->c + i * job->c_bytes, job->n);
    if (++j == bc->row_len) {
      j = 0;
      cpu_broadcast_next_row (bc, &pos);
    }
  }
}

static gboolean
matmul_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *a = cpu_require_input (ctx, 0, error);
  const GliaTensorView *b = a ? cpu_require_input (ctx, 1, error) : NULL;
  if (b == NULL)
    return FALSE;
  if (a->dtype != b->dtype || !(DTYPES_MATMUL & GLIA_DTYPE_BIT (a->dtype))) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "unsupported element types %s and %s", glia_data_type_get_name (a->dtype),
                      glia_data_type_get_name (b->dtype));
    return FALSE;
  }

  MatMulShape s;
  g_autofree char *why = NULL;
  if (!matmul_shape (a->rank, a->dims, b->rank, b->dims, &s, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  GliaTensorView *c = glia_kernel_context_allocate_output (ctx, 0, a->dtype, s.rank, s.dims, error);
  if (c == NULL)
    return FALSE;
  if (c->n_elements == 0)
    return TRUE;
  if (s.k == 0) {
    memset (c->data, 0, c->n_bytes);
    return TRUE;
  }

  /* Batch broadcasting over the matrices of A and B (each one "element"). */
  guint ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
  const guint ranks[2] = { ba, bb };
  const gint64 *bdims[2] = { a->dims, b->dims };
  CpuBroadcast bc;
  cpu_broadcast_init (&bc, s.batch_rank, s.batch, 2, ranks, bdims);
  gsize n_batch = cpu_numel (s.batch_rank, s.batch);

  if (!(DTYPES_BLAS & GLIA_DTYPE_BIT (a->dtype))) {
    IntMatMulJob job = { a->dtype, a->data, b->data, c->data, s.m, s.k, s.n, bc };
    glia_kernel_context_parallel_for (
        ctx, n_batch * (gsize)s.m, MAX (1, CPU_GRAIN / (gsize)(s.k * s.n)), int_matmul_rows, &job);
    return TRUE;
  }

  gsize esize = glia_data_type_get_size (a->dtype);
  gsize a_mat = (gsize)(s.m * s.k), b_mat = (gsize)(s.k * s.n), c_mat = (gsize)(s.m * s.n);
  gboolean b_shared = cpu_numel (bb, b->dims) == 1;
  gint64 rows = s.m;
  if (b_shared && cpu_numel (ba, a->dims) == n_batch) {
    /* A's batches are consecutive rows: one call. */
    rows = s.m * (gint64)n_batch;
    n_batch = 1;
  }
  if (!cpu_fits_blas_int (rows) || !cpu_fits_blas_int (s.k) || !cpu_fits_blas_int (s.n)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "matrix dimensions exceed the BLAS integer range");
    return FALSE;
  }

  guint n_threads = glia_kernel_context_get_n_threads (ctx);
  if (n_threads > 1 && n_batch >= n_threads && (double)rows * (double)s.n * (double)s.k < 1 << 21) {
    BatchJob job = { &bc,       a->dtype,  a->data,       b->data,       c->data,      (gint)rows,
                     (gint)s.n, (gint)s.k, a_mat * esize, b_mat * esize, c_mat * esize };
    cpu_blas_set_threads (1);
    glia_kernel_context_parallel_for (ctx, n_batch, 1, matmul_batches, &job);
    return TRUE;
  }
  cpu_blas_set_threads (n_threads);

  CpuBroadcastPos pos;
  cpu_broadcast_seek (&bc, 0, &pos);
  gsize done = 0;
  for (gsize r = 0; r < bc.n_rows && done < n_batch; r++) {
    for (gsize j = 0; j < bc.row_len && done < n_batch; j++, done++) {
      gsize ia = pos.offset[0] + j * (gsize)bc.strides[0][bc.rank - 1];
      gsize ib = pos.offset[1] + j * (gsize)bc.strides[1][bc.rank - 1];
      blas_gemm (a->dtype, FALSE, FALSE, (gint)rows, (gint)s.n, (gint)s.k, 1.0,
                 (const guint8 *)a->data + ia * a_mat * esize, (gint)s.k,
                 (const guint8 *)b->data + ib * b_mat * esize, (gint)s.n, 0.0,
                 (guint8 *)c->data + done * c_mat * esize, (gint)s.n);
    }
    cpu_broadcast_next_row (&bc, &pos);
  }
  return TRUE;
}

/* ---- Gemm ------------------------------------------------------------------ */

typedef struct
{
  double alpha;
  double beta;
  gboolean trans_a;
  gboolean trans_b;
} GemmState;

static gpointer
gemm_create (const GliaGraph *graph, gint node, GError **error)
{
  GemmState s;
  s.alpha = glia_graph_node_get_attr_float (graph, node, "alpha", 1.0f);
  s.beta = glia_graph_node_get_attr_float (graph, node, "beta", 1.0f);
  if (!cpu_parse_flag (graph, node, "transA", 0, &s.trans_a, error)
      || !cpu_parse_flag (graph, node, "transB", 0, &s.trans_b, error))
    return NULL;
  if (glia_graph_node_has_attr (graph, node, "broadcast")) {
    cpu_node_error (error, graph, node, "attribute 'broadcast' (before opset 7) is not supported");
    return NULL;
  }
  return g_memdup2 (&s, sizeof s);
}

/* M, K (from A) and K, N (from B) of a Gemm; -1 unknown. */
static gboolean
gemm_dims (const GemmState *s, const gint64 *a, const gint64 *b, gint64 *m, gint64 *k, gint64 *n,
           char **why)
{
  *m = s->trans_a ? a[1] : a[0];
  gint64 ka = s->trans_a ? a[0] : a[1];
  gint64 kb = s->trans_b ? b[1] : b[0];
  *n = s->trans_b ? b[0] : b[1];
  *k = ka >= 0 ? ka : kb;
  if (ka >= 0 && kb >= 0 && ka != kb) {
    g_autofree char *da = cpu_dims_to_string (2, a);
    g_autofree char *db = cpu_dims_to_string (2, b);
    *why = g_strdup_printf ("A %s and B %s (transA=%d, transB=%d) disagree on K (%" G_GINT64_FORMAT
                            " and %" G_GINT64_FORMAT ")",
                            da, db, s->trans_a, s->trans_b, ka, kb);
    return FALSE;
  }
  return TRUE;
}

static gboolean
gemm_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  const GliaGraph *graph = glia_shape_context_get_graph (ctx);
  gint node = glia_shape_context_get_node (ctx);
  GliaDataType dtype = glia_shape_context_get_input_dtype (ctx, 0);
  GemmState st = { 1, 1, glia_graph_node_get_attr_int (graph, node, "transA", 0) != 0,
                   glia_graph_node_get_attr_int (graph, node, "transB", 0) != 0 };
  gint ra = glia_shape_context_get_input_rank (ctx, 0);
  gint rb = glia_shape_context_get_input_rank (ctx, 1);
  gint64 a_unknown[2] = { -1, -1 }, b_unknown[2] = { -1, -1 };

  if ((ra >= 0 && ra != 2) || (rb >= 0 && rb != 2)) {
    cpu_shape_error (error, ctx, "A and B must be matrices, got ranks %d and %d", ra, rb);
    return FALSE;
  }
  const gint64 *a = ra == 2 ? glia_shape_context_get_input_dims (ctx, 0) : a_unknown;
  const gint64 *b = rb == 2 ? glia_shape_context_get_input_dims (ctx, 1) : b_unknown;
  gint64 dims[2], k;
  g_autofree char *why = NULL;
  if (!gemm_dims (&st, a, b, &dims[0], &k, &dims[1], &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, dtype, 2, dims);
  return TRUE;
}

typedef struct
{
  GliaDataType dtype;
  CpuBroadcast bc;
  const guint8 *c;
  guint8 *y;
  double beta;
} FillJob;

static void
gemm_fill_chunk (gsize begin, gsize end, gpointer user_data)
{
  const FillJob *job = user_data;
  const CpuBroadcast *bc = &job->bc;
  gsize sc = (gsize)bc->strides[0][bc->rank - 1];
  CpuBroadcastPos pos;
  gsize row = begin / bc->row_len, col = begin % bc->row_len;

  cpu_broadcast_seek (bc, row, &pos);
  while (begin < end) {
    gsize n = MIN (bc->row_len - col, end - begin);
    gsize off = pos.offset[0] + col * sc;
    if (job->dtype == GLIA_DATA_TYPE_FLOAT) {
      const float *c = (const float *)job->c + off;
      float *y = (float *)job->y + begin;
      float beta = (float)job->beta;
      for (gsize i = 0; i < n; i++)
        y[i] = beta * c[i * sc];
    } else {
      const double *c = (const double *)job->c + off;
      double *y = (double *)job->y + begin;
      for (gsize i = 0; i < n; i++)
        y[i] = job->beta * c[i * sc];
    }
    begin += n;
    col = 0;
    cpu_broadcast_next_row (bc, &pos);
  }
}

static gboolean
gemm_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GemmState *s = state;
  const GliaTensorView *a = cpu_require_input (ctx, 0, error);
  const GliaTensorView *b = a ? cpu_require_input (ctx, 1, error) : NULL;
  const GliaTensorView *c = NULL;
  if (b == NULL)
    return FALSE;
  if (glia_kernel_context_get_n_inputs (ctx) > 2)
    c = glia_kernel_context_get_input (ctx, 2);

  if (a->dtype != b->dtype || (c && c->dtype != a->dtype)
      || !(DTYPES_BLAS & GLIA_DTYPE_BIT (a->dtype))) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "unsupported element types %s, %s%s%s", glia_data_type_get_name (a->dtype),
                      glia_data_type_get_name (b->dtype), c ? ", " : "",
                      c ? glia_data_type_get_name (c->dtype) : "");
    return FALSE;
  }
  if (a->rank != 2 || b->rank != 2) {
    g_autofree char *da = cpu_dims_to_string (a->rank, a->dims);
    g_autofree char *db = cpu_dims_to_string (b->rank, b->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "A and B must be matrices, got %s and %s", da, db);
    return FALSE;
  }

  gint64 dims[2], k;
  g_autofree char *why = NULL;
  if (!gemm_dims (s, a->dims, b->dims, &dims[0], &k, &dims[1], &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  if (c) {
    guint r;
    gint64 bd[GLIA_MAX_RANK];
    if (c->rank > 2 || !cpu_broadcast_dims (c->rank, c->dims, 2, dims, &r, bd) || bd[0] != dims[0]
        || bd[1] != dims[1]) {
      g_autofree char *dc = cpu_dims_to_string (c->rank, c->dims);
      g_autofree char *dy = cpu_dims_to_string (2, dims);
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "C %s cannot be broadcast to the output shape %s", dc, dy);
      return FALSE;
    }
  }
  if (!cpu_fits_blas_int (dims[0]) || !cpu_fits_blas_int (dims[1]) || !cpu_fits_blas_int (k)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_RESOURCE_LIMIT,
                      "matrix dimensions exceed the BLAS integer range");
    return FALSE;
  }

  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, a->dtype, 2, dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;

  /* beta = 0 ignores C entirely (even its NaNs), like the reference. */
  gboolean use_c = c != NULL && s->beta != 0.0;
  if (use_c) {
    FillJob job = { a->dtype, { 0 }, c->data, y->data, s->beta };
    const guint ranks[1] = { c->rank };
    const gint64 *cdims[1] = { c->dims };
    cpu_broadcast_init (&job.bc, 2, dims, 1, ranks, cdims);
    glia_kernel_context_parallel_for (ctx, y->n_elements, CPU_GRAIN, gemm_fill_chunk, &job);
  } else
    memset (y->data, 0, y->n_bytes);

  cpu_blas_set_threads (glia_kernel_context_get_n_threads (ctx));
  if (k > 0 && s->alpha != 0.0)
    blas_gemm (a->dtype, s->trans_a, s->trans_b, (gint)dims[0], (gint)dims[1], (gint)k, s->alpha,
               a->data, (gint)a->dims[1], b->data, (gint)b->dims[1], use_c ? 1.0 : 0.0, y->data,
               (gint)dims[1]);
  return TRUE;
}

static const GliaOpDef gemm_ops[] = {
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "MatMul",
      .since_version = 1,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_MATMUL,
      .infer_shapes = matmul_infer_shapes,
      .compute = matmul_compute,
  },
  /* Opset 7 replaced the 'broadcast' attribute with unidirectional
   * broadcasting of C; C is optional since 11 (accepted omitted in all). */
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "Gemm",
      .since_version = 7,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_BLAS,
      .infer_shapes = gemm_infer_shapes,
      .create = gemm_create,
      .compute = gemm_compute,
      .destroy = g_free,
  },
};

void
cpu_gemm_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (gemm_ops); i++)
    glia_op_table_add (table, &gemm_ops[i]);
}
