/* cpu-linalg.c: Einsum and Det. Both accumulate floats in double; Einsum
 * accumulates integers in 64-bit values that wrap like the element type does.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <string.h>

#define DTYPES_FLOAT GLIA_DTYPES_FLOATS
#define DTYPES_NUM   (GLIA_DTYPES_FLOATS | GLIA_DTYPES_INTS)

/* ======================================================================== */
/* Einsum                                                                    */
/* ======================================================================== */

/* Labels: 'A'-'Z' are 0-25 and 'a'-'z' 26-51 (so codes sort as ASCII does),
 * the dims an ellipsis stands for are 52 on, counted from the left of the
 * widest ellipsis; numpy broadcasting applies among those. */
#define EINSUM_LETTERS      52
#define EINSUM_N_LABELS     (EINSUM_LETTERS + GLIA_MAX_RANK)
#define EINSUM_ELLIPSIS     (-1)
#define EINSUM_MAX_OPERANDS 16

typedef struct
{
  guint n_terms;
  guint term_len[EINSUM_MAX_OPERANDS];
  gint8 terms[EINSUM_MAX_OPERANDS][GLIA_MAX_RANK + 1];
  gboolean explicit_output;
  guint out_len;
  gint8 out[EINSUM_N_LABELS];
} EinsumState;

static gboolean
einsum_parse (const GliaGraph *graph, gint node, EinsumState *s, GError **error)
{
  gsize len = 0;
  const char *eq = glia_graph_node_get_attr_string (graph, node, "equation", NULL, &len);
  const char *why = NULL;
  gint8 *term;
  guint *term_len;
  gboolean output = FALSE, ellipsis = FALSE;

  memset (s, 0, sizeof *s);
  if (eq == NULL) {
    cpu_node_error (error, graph, node, "attribute 'equation' is required");
    return FALSE;
  }
  s->n_terms = 1;
  term = s->terms[0];
  term_len = &s->term_len[0];
  for (gsize i = 0; i < len && why == NULL; i++) {
    char c = eq[i];
    guint max_len = output ? EINSUM_N_LABELS : GLIA_MAX_RANK + 1;
    if (g_ascii_isspace (c))
      continue;
    if (c == ',' && !output) {
      if (s->n_terms == EINSUM_MAX_OPERANDS)
        why = "has too many operands";
      else {
        term = s->terms[s->n_terms];
        term_len = &s->term_len[s->n_terms++];
        ellipsis = FALSE;
      }
    } else if (c == '-' && !output) {
      if (i + 1 >= len || eq[i + 1] != '>')
        why = "has a '-' without '>'";
      else {
        i++;
        output = TRUE;
        s->explicit_output = TRUE;
        term = s->out;
        term_len = &s->out_len;
        ellipsis = FALSE;
      }
    } else if (c == '.') {
      if (i + 2 >= len || eq[i + 1] != '.' || eq[i + 2] != '.')
        why = "has a '.' outside an ellipsis";
      else if (ellipsis)
        why = "has two ellipses in one term";
      else if (*term_len >= max_len)
        why = "has a term with too many dims";
      else {
        i += 2;
        ellipsis = TRUE;
        term[(*term_len)++] = EINSUM_ELLIPSIS;
      }
    } else if (g_ascii_isalpha (c)) {
      if (*term_len >= max_len)
        why = "has a term with too many dims";
      else
        term[(*term_len)++] = (gint8)(g_ascii_isupper (c) ? c - 'A' : 26 + c - 'a');
    } else
      why = "has an invalid character";
  }
  if (why == NULL && glia_graph_node_get_n_inputs (graph, node) != s->n_terms)
    why = "does not have one term per input";
  if (why) {
    g_autofree char *shown = g_strndup (eq, len);
    cpu_node_error (error, graph, node, "attribute 'equation' = '%s' %s", shown, why);
    return FALSE;
  }
  return TRUE;
}

static gpointer
einsum_create (const GliaGraph *graph, gint node, GError **error)
{
  EinsumState s;
  if (!einsum_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

/* The equation resolved for operand shapes: every label's size, which label
 * each operand dim carries, the output labels and the summed ones. */
typedef struct
{
  gint64 label_dim[EINSUM_N_LABELS]; /* -2 unused, -1 unknown */
  guint8 dim_label[EINSUM_MAX_OPERANDS][GLIA_MAX_RANK];
  guint n_out;
  guint8 out[GLIA_MAX_RANK];
  gint64 out_dims[GLIA_MAX_RANK];
  guint n_sum;
  guint8 sum[EINSUM_N_LABELS];
} EinsumPlan;

static char *
einsum_label_name (guint label)
{
  if (label >= EINSUM_LETTERS)
    return g_strdup_printf ("ellipsis dim %u", label - EINSUM_LETTERS);
  return g_strdup_printf ("'%c'", label < 26 ? 'A' + label : 'a' + label - 26);
}

/* @dims may hold -1 (unknown) at shape inference. */
static gboolean
einsum_resolve (const EinsumState *s, const guint *ranks, const gint64 *const *dims, EinsumPlan *p,
                char **why)
{
  guint ell_rank[EINSUM_MAX_OPERANDS], max_ell = 0, count[EINSUM_N_LABELS] = { 0 };

  for (guint l = 0; l < EINSUM_N_LABELS; l++)
    p->label_dim[l] = -2;
  for (guint k = 0; k < s->n_terms; k++) {
    gboolean has_ell = memchr (s->terms[k], EINSUM_ELLIPSIS, s->term_len[k]) != NULL;
    guint letters = s->term_len[k] - (has_ell ? 1 : 0);
    if (has_ell ? ranks[k] < letters : ranks[k] != letters) {
      *why = g_strdup_printf ("operand %u has rank %u but its term has %u labels%s", k, ranks[k],
                              letters, has_ell ? " and an ellipsis" : "");
      return FALSE;
    }
    ell_rank[k] = ranks[k] - letters;
    max_ell = MAX (max_ell, ell_rank[k]);
  }
  for (guint k = 0; k < s->n_terms; k++) {
    guint d = 0;
    for (guint t = 0; t < s->term_len[k]; t++) {
      if (s->terms[k][t] != EINSUM_ELLIPSIS) {
        p->dim_label[k][d++] = (guint8)s->terms[k][t];
        count[s->terms[k][t]]++;
        continue;
      }
      for (guint e = 0; e < ell_rank[k]; e++)
        p->dim_label[k][d++] = (guint8)(EINSUM_LETTERS + max_ell - ell_rank[k] + e);
    }
    for (guint i = 0; i < ranks[k]; i++) {
      guint l = p->dim_label[k][i];
      gint64 have = p->label_dim[l], d = dims[k][i];
      if (have == -2 || have == -1)
        p->label_dim[l] = d;
      else if (d == -1 || d == have)
        continue;
      else if (l >= EINSUM_LETTERS && (have == 1 || d == 1))
        p->label_dim[l] = MAX (have, d);
      else {
        g_autofree char *name = einsum_label_name (l);
        *why = g_strdup_printf ("label %s has size %" G_GINT64_FORMAT
                                " in operand %u but %" G_GINT64_FORMAT " before",
                                name, d, k, have);
        return FALSE;
      }
    }
  }

  /* Output: as written, or (implicit) the ellipsis dims then the letters
   * used exactly once, in order. */
  gboolean in_out[EINSUM_N_LABELS] = { FALSE };
  p->n_out = 0;
  for (guint t = 0; t < (s->explicit_output ? s->out_len : 1); t++) {
    gint8 code = s->explicit_output ? s->out[t] : EINSUM_ELLIPSIS;
    guint first = code == EINSUM_ELLIPSIS ? EINSUM_LETTERS : (guint)code;
    guint n = code == EINSUM_ELLIPSIS ? max_ell : 1;
    for (guint l = first; l < first + n; l++) {
      g_autofree char *name = einsum_label_name (l);
      if (p->label_dim[l] == -2) {
        *why = g_strdup_printf ("output label %s is not in any input", name);
        return FALSE;
      }
      if (in_out[l]) {
        *why = g_strdup_printf ("output label %s appears twice", name);
        return FALSE;
      }
      if (p->n_out == GLIA_MAX_RANK) {
        *why = g_strdup ("the output has too many dims");
        return FALSE;
      }
      in_out[l] = TRUE;
      p->out[p->n_out++] = (guint8)l;
    }
  }
  if (!s->explicit_output)
    for (guint l = 0; l < EINSUM_LETTERS; l++)
      if (count[l] == 1) {
        if (p->n_out == GLIA_MAX_RANK) {
          *why = g_strdup ("the output has too many dims");
          return FALSE;
        }
        in_out[l] = TRUE;
        p->out[p->n_out++] = (guint8)l;
      }
  for (guint i = 0; i < p->n_out; i++)
    p->out_dims[i] = p->label_dim[p->out[i]];
  p->n_sum = 0;
  for (guint l = 0; l < EINSUM_N_LABELS; l++)
    if (p->label_dim[l] != -2 && !in_out[l])
      p->sum[p->n_sum++] = (guint8)l;
  return TRUE;
}

static gboolean
einsum_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  EinsumState s;
  g_autoptr (GError) local = NULL;
  if (!einsum_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s,
                     &local)) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  GliaDataType t = glia_shape_context_get_input_dtype (ctx, 0);
  guint ranks[EINSUM_MAX_OPERANDS];
  const gint64 *dims[EINSUM_MAX_OPERANDS];
  for (guint k = 0; k < s.n_terms; k++) {
    gint r = glia_shape_context_get_input_rank (ctx, k);
    if (r < 0) {
      glia_shape_context_set_output (ctx, 0, t, -1, NULL);
      return TRUE;
    }
    ranks[k] = (guint)r;
    dims[k] = glia_shape_context_get_input_dims (ctx, k);
  }
  EinsumPlan p;
  g_autofree char *why = NULL;
  if (!einsum_resolve (&s, ranks, dims, &p, &why)) {
    cpu_shape_error (error, ctx, "%s", why);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, t, (gint)p.n_out, p.out_dims);
  return TRUE;
}

/* Operands are converted to double (float types) or 64-bit integers first.
 * The output is computed a row (its last dim) at a time: for every
 * combination of the summed labels the row accumulates the product of the
 * operands along that dim, a loop that is contiguous in the output and
 * usually in one operand (the i-k-j order of a matrix product). */
typedef struct
{
  gboolean is_float;
  guint n_ops;
  gconstpointer ops[EINSUM_MAX_OPERANDS];
  guint n_prefix; /* output dims before the row */
  gint64 out_dims[GLIA_MAX_RANK];
  gint64 out_stride[EINSUM_MAX_OPERANDS][GLIA_MAX_RANK];
  gsize row_len;
  gint64 row_stride[EINSUM_MAX_OPERANDS];
  guint n_sum;
  gint64 sum_dims[EINSUM_N_LABELS];
  gint64 sum_stride[EINSUM_MAX_OPERANDS][EINSUM_N_LABELS];
  gpointer y; /* doubles or 64-bit integers */
} EinsumJob;

#define EINSUM_ROWS(T)                                                                             \
  for (gsize row = begin; row < end; row++) {                                                      \
    gsize off[EINSUM_MAX_OPERANDS] = { 0 }, rest = row, len = job->row_len;                        \
    for (gint i = (gint)job->n_prefix - 1; i >= 0; i--) {                                          \
      gsize idx = rest % (gsize)job->out_dims[i];                                                  \
      rest /= (gsize)job->out_dims[i];                                                             \
      for (guint k = 0; k < n_ops; k++)                                                            \
        off[k] += idx * (gsize)job->out_stride[k][i];                                              \
    }                                                                                              \
    const T *a = job->ops[0], *b = job->ops[n_ops > 1 ? 1 : 0];                                    \
    gsize sa = (gsize)job->row_stride[0], sb = (gsize)job->row_stride[n_ops > 1 ? 1 : 0];          \
    T *y = (T *)job->y + row * len;                                                                \
    gint64 idx[EINSUM_N_LABELS] = { 0 };                                                           \
    for (gsize l = 0; l < len; l++)                                                                \
      y[l] = 0;                                                                                    \
    for (;;) {                                                                                     \
      if (n_ops == 1)                                                                              \
        for (gsize l = 0; l < len; l++)                                                            \
          y[l] += a[off[0] + l * sa];                                                              \
      else if (n_ops == 2)                                                                         \
        for (gsize l = 0; l < len; l++)                                                            \
          y[l] += a[off[0] + l * sa] * b[off[1] + l * sb];                                         \
      else                                                                                         \
        for (gsize l = 0; l < len; l++) {                                                          \
          T prod = 1;                                                                              \
          for (guint k = 0; k < n_ops; k++)                                                        \
            prod *= ((const T *)job->ops[k])[off[k] + l * (gsize)job->row_stride[k]];              \
          y[l] += prod;                                                                            \
        }                                                                                          \
      gint j = (gint)job->n_sum - 1;                                                               \
      for (; j >= 0; j--) {                                                                        \
        for (guint k = 0; k < n_ops; k++)                                                          \
          off[k] += (gsize)job->sum_stride[k][j];                                                  \
        if (++idx[j] < job->sum_dims[j])                                                           \
          break;                                                                                   \
        for (guint k = 0; k < n_ops; k++)                                                          \
          off[k] -= (gsize)(job->sum_stride[k][j] * job->sum_dims[j]);                             \
        idx[j] = 0;                                                                                \
      }                                                                                            \
      if (j < 0)                                                                                   \
        break;                                                                                     \
    }                                                                                              \
  }

static void
einsum_rows (gsize begin, gsize end, gpointer user_data)
{
  const EinsumJob *job = user_data;
  guint n_ops = job->n_ops;
  if (job->is_float)
    EINSUM_ROWS (double)
  else
    EINSUM_ROWS (guint64)
}

static gboolean
einsum_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const EinsumState *s = state;
  const GliaTensorView *in[EINSUM_MAX_OPERANDS];
  guint ranks[EINSUM_MAX_OPERANDS];
  const gint64 *dims[EINSUM_MAX_OPERANDS];
  gsize total = 0;

  for (guint k = 0; k < s->n_terms; k++) {
    if ((in[k] = cpu_require_input (ctx, k, error)) == NULL)
      return FALSE;
    if (!cpu_check_dtype (ctx, in[k], DTYPES_NUM, "Inputs", error))
      return FALSE;
    if (in[k]->dtype != in[0]->dtype) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "input %u is %s but input 0 is %s",
                        k, glia_data_type_get_name (in[k]->dtype),
                        glia_data_type_get_name (in[0]->dtype));
      return FALSE;
    }
    ranks[k] = in[k]->rank;
    dims[k] = in[k]->dims;
    total += in[k]->n_elements;
  }
  EinsumPlan p;
  g_autofree char *why = NULL;
  if (!einsum_resolve (s, ranks, dims, &p, &why)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT, "%s", why);
    return FALSE;
  }
  GliaDataType t = in[0]->dtype;
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, t, p.n_out, p.out_dims, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;

  EinsumJob job = { 0 };
  job.is_float = cpu_dtype_in (t, DTYPES_FLOAT);
  job.n_ops = s->n_terms;
  job.n_prefix = p.n_out > 0 ? p.n_out - 1 : 0;
  job.row_len = p.n_out > 0 ? (gsize)p.out_dims[p.n_out - 1] : 1;
  memcpy (job.out_dims, p.out_dims, sizeof job.out_dims);
  job.n_sum = p.n_sum;
  gsize n_sum_total = 1;
  for (guint j = 0; j < p.n_sum; j++) {
    job.sum_dims[j] = p.label_dim[p.sum[j]];
    n_sum_total *= (gsize)job.sum_dims[j];
  }

  /* 8 bytes per operand element, then the result before conversion */
  guint64 *scratch
      = glia_kernel_context_get_scratch (ctx, (total + y->n_elements) * sizeof (guint64), error);
  if (scratch == NULL)
    return FALSE;
  guint64 *next = scratch;
  for (guint k = 0; k < job.n_ops; k++) {
    gint64 label_stride[EINSUM_N_LABELS] = { 0 }, stride = 1;
    for (gint i = (gint)in[k]->rank - 1; i >= 0; i--) {
      guint l = p.dim_label[k][i];
      if (!(in[k]->dims[i] == 1 && p.label_dim[l] != 1))
        label_stride[l] += stride;
      stride *= in[k]->dims[i];
    }
    for (guint j = 0; j < p.n_out; j++)
      job.out_stride[k][j] = label_stride[p.out[j]];
    job.row_stride[k] = p.n_out > 0 ? job.out_stride[k][p.n_out - 1] : 0;
    for (guint j = 0; j < p.n_sum; j++)
      job.sum_stride[k][j] = label_stride[p.sum[j]];
    if (job.is_float)
      cpu_load_doubles (t, in[k]->data, (double *)next, in[k]->n_elements);
    else
      for (gsize i = 0; i < in[k]->n_elements; i++)
        next[i] = cpu_load_wrapping_at (t, in[k]->data, i);
    job.ops[k] = next;
    next += in[k]->n_elements;
  }
  job.y = next;
  if (n_sum_total == 0)
    memset (job.y, 0, y->n_elements * sizeof (guint64)); /* 0.0 as well */
  else
    glia_kernel_context_parallel_for (ctx, y->n_elements / job.row_len,
                                      MAX (1, CPU_GRAIN / (n_sum_total * job.row_len)), einsum_rows,
                                      &job);
  if (job.is_float)
    cpu_store_doubles (t, job.y, y->data, y->n_elements);
  else
    for (gsize i = 0; i < y->n_elements; i++)
      cpu_store_wrapping_at (t, y->data, i, ((const guint64 *)job.y)[i]);
  return TRUE;
}

/* ======================================================================== */
/* Det                                                                       */
/* ======================================================================== */

static gboolean
det_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  GliaDataType t = glia_shape_context_get_input_dtype (ctx, 0);
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  if (rank < 0) {
    glia_shape_context_set_output (ctx, 0, t, -1, NULL);
    return TRUE;
  }
  const gint64 *dims = glia_shape_context_get_input_dims (ctx, 0);
  if (rank < 2
      || (dims[rank - 1] >= 0 && dims[rank - 2] >= 0 && dims[rank - 1] != dims[rank - 2])) {
    g_autofree char *d = cpu_dims_to_string ((guint)rank, dims);
    cpu_shape_error (error, ctx, "X %s is not a (batch of) square matrices", d);
    return FALSE;
  }
  glia_shape_context_set_output (ctx, 0, t, rank - 2, dims);
  return TRUE;
}

typedef struct
{
  GliaDataType dtype;
  gconstpointer x;
  gpointer y;
  gsize m;
} DetJob;

/* Gaussian elimination with partial pivoting: the determinant is the product
 * of the pivots, negated once per row swap. */
static double
det_lu (double *a, gsize m)
{
  double det = 1.0;
  for (gsize c = 0; c < m; c++) {
    gsize p = c;
    for (gsize r = c + 1; r < m; r++)
      if (fabs (a[r * m + c]) > fabs (a[p * m + c]))
        p = r;
    if (a[p * m + c] == 0.0)
      return 0.0;
    if (p != c) {
      for (gsize j = c; j < m; j++) {
        double tmp = a[c * m + j];
        a[c * m + j] = a[p * m + j];
        a[p * m + j] = tmp;
      }
      det = -det;
    }
    double pivot = a[c * m + c];
    det *= pivot;
    for (gsize r = c + 1; r < m; r++) {
      double f = a[r * m + c] / pivot;
      for (gsize j = c + 1; j < m; j++)
        a[r * m + j] -= f * a[c * m + j];
    }
  }
  return det;
}

static void
det_matrices (gsize begin, gsize end, gpointer user_data)
{
  const DetJob *job = user_data;
  gsize mm = job->m * job->m;
  gsize es = glia_data_type_get_size (job->dtype);
  g_autofree double *a = g_new (double, MAX (mm, 1));
  for (gsize b = begin; b < end; b++) {
    cpu_load_doubles (job->dtype, (const guint8 *)job->x + b * mm * es, a, mm);
    cpu_store_float_at (job->dtype, job->y, b, det_lu (a, job->m));
  }
}

static gboolean
det_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL || !cpu_check_dtype (ctx, x, DTYPES_FLOAT, "X", error))
    return FALSE;
  if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2]) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "X %s is not a (batch of) square matrices", d);
    return FALSE;
  }
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, 0, x->dtype, x->rank - 2, x->dims, error);
  if (y == NULL)
    return FALSE;
  DetJob job = { x->dtype, x->data, y->data, (gsize)x->dims[x->rank - 1] };
  if (y->n_elements > 0)
    glia_kernel_context_parallel_for (ctx, y->n_elements,
                                      MAX (1, CPU_GRAIN / MAX (job.m * job.m * job.m, 1)),
                                      det_matrices, &job);
  return TRUE;
}

/* ======================================================================== */

static const GliaOpDef linalg_ops[] = {
  CPU_OP_DEF ("Einsum", 12, G_MAXINT, DTYPES_NUM, einsum_infer_shapes, einsum_create,
              einsum_compute),
  CPU_OP_DEF ("Det", 11, G_MAXINT, DTYPES_FLOAT, det_infer_shapes, NULL, det_compute),
};

void
cpu_linalg_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (linalg_ops); i++)
    glia_op_table_add (table, &linalg_ops[i]);
}
