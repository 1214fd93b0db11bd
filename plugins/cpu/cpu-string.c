/* cpu-string.c: operators over string tensors: StringNormalizer,
 * TfIdfVectorizer, and Cast to and from strings.
 *
 * A string tensor's data is an array of `char *` (UTF-8); outputs are filled
 * with g_strdup'ed strings the host frees. The string Cast is a separate def
 * from the numeric one (cpu-elementwise.c) and claims only nodes where a
 * string is involved (supports()). It writes what CastLike (cpu-index.c)
 * writes, numpy's str(): the shortest decimal that reads back to the same
 * value, positional between 1e-4 and 1e16 ("0.039187793", "123.0") and
 * scientific outside ("1e-05"), "nan", "inf", "-inf", "True" and "False".
 * It reads ONNX's literals ("NaN", "+INF", "-INF", any case) and "true" /
 * "false" besides numbers, and fails on other text.
 *
 * TfIdfVectorizer keeps one hash table per n-gram length, keyed by the
 * n-gram's items (8 bytes per integer, or each string with its NUL), and
 * counts, per row, every n-gram of lengths min_gram_length..max_gram_length
 * at every skip 0..max_skip_count (items 1 + skip apart), unigrams once.
 */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-private.h"

#include <math.h>
#include <string.h>

#define DTYPE_STRING_BIT GLIA_DTYPE_BIT (GLIA_DATA_TYPE_STRING)
#define DTYPES_TFIDF                                                                               \
  (DTYPE_STRING_BIT | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT32) | GLIA_DTYPE_BIT (GLIA_DATA_TYPE_INT64))

static gboolean
check_strings (GliaKernelContext *ctx, const GliaTensorView *x, GError **error)
{
  const char *const *s = x->data;
  for (gsize i = 0; i < x->n_elements; i++)
    if (s[i] == NULL || !g_utf8_validate (s[i], -1, NULL)) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "element %" G_GSIZE_FORMAT " is not a valid UTF-8 string", i);
      return FALSE;
    }
  return TRUE;
}

/* ======================================================================== */
/* StringNormalizer                                                          */
/* ======================================================================== */

typedef enum
{
  CASE_NONE,
  CASE_LOWER,
  CASE_UPPER,
} CaseAction;

typedef struct
{
  CaseAction action;
  gboolean case_sensitive;
  /* Turkish and Azeri map i <-> U+0130 and U+0131 <-> I */
  gboolean turkic;
  /* stop words, lowercased when matching is case-insensitive */
  GHashTable *stopwords;
} NormalizerState;

/* Per-character Unicode case mapping (one character to one, so German sharp s
 * stays as it is), with the Turkic dotted and dotless i. */
static char *
change_case (const char *s, gboolean upper, gboolean turkic)
{
  GString *out = g_string_sized_new (strlen (s));
  for (const char *p = s; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (turkic && upper && c == 'i')
      c = 0x130;
    else if (turkic && !upper && c == 'I')
      c = 0x131;
    else
      c = upper ? g_unichar_toupper (c) : g_unichar_tolower (c);
    g_string_append_unichar (out, c);
  }
  return g_string_free (out, FALSE);
}

/* "", "C", "POSIX" or language[_territory][.codeset][@modifier]. */
static gboolean
parse_locale (const char *locale, gboolean *turkic)
{
  *turkic = FALSE;
  if (*locale == '\0' || g_str_equal (locale, "C") || g_str_equal (locale, "POSIX"))
    return TRUE;
  gsize n = 0;
  while (g_ascii_isalpha (locale[n]))
    n++;
  if (n < 2 || n > 3 || (locale[n] && !strchr ("_-.@", locale[n])))
    return FALSE;
  for (const char *p = locale + n; *p; p++)
    if (!g_ascii_isgraph (*p))
      return FALSE;
  *turkic = n == 2
            && (g_ascii_strncasecmp (locale, "tr", 2) == 0
                || g_ascii_strncasecmp (locale, "az", 2) == 0);
  return TRUE;
}

static void
normalizer_destroy (gpointer state)
{
  NormalizerState *s = state;
  if (s == NULL)
    return;
  g_clear_pointer (&s->stopwords, g_hash_table_unref);
  g_free (s);
}

static gpointer
normalizer_create (const GliaGraph *graph, gint node, GError **error)
{
  const char *action
      = glia_graph_node_get_attr_string (graph, node, "case_change_action", "NONE", NULL);
  const char *locale = glia_graph_node_get_attr_string (graph, node, "locale", "", NULL);
  gint64 sensitive = glia_graph_node_get_attr_int (graph, node, "is_case_sensitive", 0);
  gboolean turkic;
  CaseAction a;

  if (g_str_equal (action, "NONE"))
    a = CASE_NONE;
  else if (g_str_equal (action, "LOWER"))
    a = CASE_LOWER;
  else if (g_str_equal (action, "UPPER"))
    a = CASE_UPPER;
  else {
    cpu_node_error (error, graph, node,
                    "attribute 'case_change_action' must be NONE, LOWER or UPPER, got '%s'",
                    action);
    return NULL;
  }
  if (sensitive != 0 && sensitive != 1) {
    cpu_node_error (error, graph, node,
                    "attribute 'is_case_sensitive' must be 0 or 1, got %" G_GINT64_FORMAT,
                    sensitive);
    return NULL;
  }
  if (!parse_locale (locale, &turkic)) {
    cpu_node_error (error, graph, node, "attribute 'locale' = '%s' is not a locale name", locale);
    return NULL;
  }

  NormalizerState *s = g_new0 (NormalizerState, 1);
  s->action = a;
  s->case_sensitive = sensitive == 1;
  s->turkic = turkic;
  s->stopwords = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint n = 0;
  const char *const *words = glia_graph_node_get_attr_strings (graph, node, "stopwords", &n);
  for (guint i = 0; i < n; i++) {
    if (!g_utf8_validate (words[i], -1, NULL)) {
      cpu_node_error (error, graph, node, "attribute 'stopwords' value %u is not valid UTF-8", i);
      normalizer_destroy (s);
      return NULL;
    }
    g_hash_table_add (s->stopwords, s->case_sensitive ? g_strdup (words[i])
                                                      : change_case (words[i], FALSE, s->turkic));
  }
  return s;
}

static gboolean
normalizer_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 dims[2] = { 1, -1 };
  if (rank == 1)
    glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_STRING, 1, dims + 1);
  else if (rank == 2)
    glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_STRING, 2, dims);
  else if (rank < 0)
    glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_STRING, -1, NULL);
  else {
    cpu_shape_error (error, ctx, "the input must be 1-D or [1, C], its rank is %d", rank);
    return FALSE;
  }
  return TRUE;
}

static gboolean
normalizer_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const NormalizerState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL)
    return FALSE;
  if (x->dtype != GLIA_DATA_TYPE_STRING || x->rank < 1 || x->rank > 2
      || (x->rank == 2 && x->dims[0] != 1)) {
    g_autofree char *d = cpu_dims_to_string (x->rank, x->dims);
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the input must be a [C] or [1, C] string tensor, got %s %s",
                      glia_data_type_get_name (x->dtype), d);
    return FALSE;
  }
  if (!check_strings (ctx, x, error))
    return FALSE;

  const char *const *in = x->data;
  g_autofree gboolean *keep = g_new0 (gboolean, MAX (x->n_elements, 1));
  gsize n_keep = 0;
  for (gsize i = 0; i < x->n_elements; i++) {
    if (s->case_sensitive)
      keep[i] = !g_hash_table_contains (s->stopwords, in[i]);
    else {
      g_autofree char *lower = change_case (in[i], FALSE, s->turkic);
      keep[i] = !g_hash_table_contains (s->stopwords, lower);
    }
    n_keep += keep[i];
  }

  /* everything dropped: one empty string */
  gint64 dims[2] = { 1, (gint64)MAX (n_keep, 1) };
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_STRING, x->rank,
                                                           x->rank == 2 ? dims : dims + 1, error);
  if (y == NULL)
    return FALSE;
  char **out = y->data;
  if (n_keep == 0) {
    out[0] = g_strdup ("");
    return TRUE;
  }
  gsize o = 0;
  for (gsize i = 0; i < x->n_elements; i++) {
    if (!keep[i])
      continue;
    switch (s->action) {
    case CASE_NONE:
      out[o++] = g_strdup (in[i]);
      break;
    case CASE_LOWER:
    case CASE_UPPER:
      out[o++] = change_case (in[i], s->action == CASE_UPPER, s->turkic);
      break;
    }
  }
  return TRUE;
}

/* ======================================================================== */
/* TfIdfVectorizer                                                           */
/* ======================================================================== */

typedef enum
{
  TFIDF_TF,
  TFIDF_IDF,
  TFIDF_TFIDF,
} TfIdfMode;

/* An n-gram's bytes as a hash key; pool keys own theirs. */
typedef struct
{
  gsize len;
  const guint8 *data;
} NgramKey;

static guint
ngram_key_hash (gconstpointer p)
{
  const NgramKey *k = p;
  guint32 h = 2166136261u; /* FNV-1a */
  for (gsize i = 0; i < k->len; i++)
    h = (h ^ k->data[i]) * 16777619u;
  return h;
}

static gboolean
ngram_key_equal (gconstpointer a, gconstpointer b)
{
  const NgramKey *x = a, *y = b;
  return x->len == y->len && memcmp (x->data, y->data, x->len) == 0;
}

typedef struct
{
  TfIdfMode mode;
  gint64 min_n, max_n, max_skip;
  gboolean strings;
  /* pools[n - 1]: the n-grams of length n -> their index + 1 */
  guint n_levels;
  GHashTable **pools;
  gsize n_ngrams;
  gint64 *out_index;
  float *weights;
  gint64 out_size;
} TfIdfState;

static void
tfidf_destroy (gpointer state)
{
  TfIdfState *s = state;
  if (s == NULL)
    return;
  for (guint i = 0; i < s->n_levels; i++)
    if (s->pools[i])
      g_hash_table_unref (s->pools[i]);
  g_free (s->pools);
  g_free (s->out_index);
  g_free (s->weights);
  g_free (s);
}

static void
append_int_item (GByteArray *key, gint64 v)
{
  g_byte_array_append (key, (const guint8 *)&v, sizeof v);
}

static void
append_string_item (GByteArray *key, const char *v)
{
  g_byte_array_append (key, (const guint8 *)v, strlen (v) + 1);
}

static gboolean
tfidf_get_required_int (const GliaGraph *graph, gint node, const char *name, gint64 min,
                        gint64 *out, GError **error)
{
  if (glia_graph_node_get_attr_type (graph, node, name) != GLIA_ATTR_INT) {
    cpu_node_error (error, graph, node, "attribute '%s' (an int) is required", name);
    return FALSE;
  }
  *out = glia_graph_node_get_attr_int (graph, node, name, 0);
  if (*out < min) {
    cpu_node_error (error, graph, node,
                    "attribute '%s' = %" G_GINT64_FORMAT " is below %" G_GINT64_FORMAT, name, *out,
                    min);
    return FALSE;
  }
  return TRUE;
}

static gpointer
tfidf_create (const GliaGraph *graph, gint node, GError **error)
{
  g_autoptr (GByteArray) key = g_byte_array_new ();
  const char *mode = glia_graph_node_get_attr_string (graph, node, "mode", NULL, NULL);
  TfIdfState *s = g_new0 (TfIdfState, 1);

  if (mode && g_str_equal (mode, "TF"))
    s->mode = TFIDF_TF;
  else if (mode && g_str_equal (mode, "IDF"))
    s->mode = TFIDF_IDF;
  else if (mode && g_str_equal (mode, "TFIDF"))
    s->mode = TFIDF_TFIDF;
  else {
    cpu_node_error (error, graph, node, "attribute 'mode' must be TF, IDF or TFIDF, got '%s'",
                    mode ? mode : "(none)");
    goto fail;
  }
  if (!tfidf_get_required_int (graph, node, "min_gram_length", 1, &s->min_n, error)
      || !tfidf_get_required_int (graph, node, "max_gram_length", s->min_n, &s->max_n, error)
      || !tfidf_get_required_int (graph, node, "max_skip_count", 0, &s->max_skip, error))
    goto fail;

  guint n_ints = 0, n_strs = 0, n_counts = 0, n_indexes = 0, n_weights = 0;
  const gint64 *pool_ints = glia_graph_node_get_attr_ints (graph, node, "pool_int64s", &n_ints);
  const char *const *pool_strs
      = glia_graph_node_get_attr_strings (graph, node, "pool_strings", &n_strs);
  const gint64 *counts = glia_graph_node_get_attr_ints (graph, node, "ngram_counts", &n_counts);
  const gint64 *indexes = glia_graph_node_get_attr_ints (graph, node, "ngram_indexes", &n_indexes);
  const float *weights = glia_graph_node_get_attr_floats (graph, node, "weights", &n_weights);
  gboolean has_ints = glia_graph_node_has_attr (graph, node, "pool_int64s");
  gboolean has_strs = glia_graph_node_has_attr (graph, node, "pool_strings");

  if (has_ints == has_strs) {
    cpu_node_error (error, graph, node,
                    "exactly one of the attributes 'pool_int64s' and 'pool_strings' is required");
    goto fail;
  }
  s->strings = has_strs;
  gsize pool_size = has_strs ? n_strs : n_ints;
  if (n_counts == 0 || counts[0] != 0) {
    cpu_node_error (error, graph, node,
                    "attribute 'ngram_counts' must start with 0 (where the 1-grams begin)");
    goto fail;
  }

  /* count the n-grams of each length and check the layout */
  s->n_levels = n_counts;
  for (guint l = 0; l < n_counts; l++) {
    gint64 begin = counts[l], end = l + 1 < n_counts ? counts[l + 1] : (gint64)pool_size;
    if (end < begin || end > (gint64)pool_size || (end - begin) % (l + 1) != 0) {
      cpu_node_error (error, graph, node,
                      "attribute 'ngram_counts' does not describe the pool: the %u-grams span "
                      "[%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ") of %" G_GSIZE_FORMAT " items",
                      l + 1, begin, end, pool_size);
      goto fail;
    }
    s->n_ngrams += (gsize)(end - begin) / (l + 1);
  }
  if (n_indexes != s->n_ngrams) {
    cpu_node_error (error, graph, node,
                    "attribute 'ngram_indexes' has %u values for %" G_GSIZE_FORMAT " n-grams",
                    n_indexes, s->n_ngrams);
    goto fail;
  }
  if (weights && n_weights != s->n_ngrams) {
    cpu_node_error (error, graph, node,
                    "attribute 'weights' has %u values for %" G_GSIZE_FORMAT " n-grams", n_weights,
                    s->n_ngrams);
    goto fail;
  }
  s->out_index = g_new (gint64, MAX (s->n_ngrams, 1));
  for (gsize i = 0; i < s->n_ngrams; i++) {
    if (indexes[i] < 0 || indexes[i] >= G_MAXINT32) {
      cpu_node_error (error, graph, node,
                      "attribute 'ngram_indexes' value %" G_GINT64_FORMAT " is out of range",
                      indexes[i]);
      goto fail;
    }
    s->out_index[i] = indexes[i];
    s->out_size = MAX (s->out_size, indexes[i] + 1);
  }
  if (weights)
    s->weights = g_memdup2 (weights, s->n_ngrams * sizeof (float));

  s->pools = g_new0 (GHashTable *, s->n_levels);
  gsize id = 0;
  for (guint l = 0; l < s->n_levels; l++) {
    gint64 begin = counts[l], end = l + 1 < n_counts ? counts[l + 1] : (gint64)pool_size;
    s->pools[l] = g_hash_table_new_full (ngram_key_hash, ngram_key_equal, g_free, NULL);
    for (gint64 i = begin; i < end; i += l + 1, id++) {
      g_byte_array_set_size (key, 0);
      for (guint k = 0; k <= l; k++) {
        if (s->strings)
          append_string_item (key, pool_strs[i + k]);
        else
          append_int_item (key, pool_ints[i + k]);
      }
      NgramKey *stored = g_malloc (sizeof (NgramKey) + key->len);
      memcpy (stored + 1, key->data, key->len);
      stored->len = key->len;
      stored->data = (const guint8 *)(stored + 1);
      if (!g_hash_table_insert (s->pools[l], stored, GSIZE_TO_POINTER (id + 1))) {
        cpu_node_error (error, graph, node, "the pool holds the same %u-gram twice", l + 1);
        goto fail;
      }
    }
  }
  return s;

fail:
  tfidf_destroy (s);
  return NULL;
}

static gboolean
tfidf_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  TfIdfState *s
      = tfidf_create (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), error);
  if (s == NULL)
    return FALSE;
  gint rank = glia_shape_context_get_input_rank (ctx, 0);
  gint64 dims[2] = { -1, s->out_size };
  if (rank == 2)
    dims[0] = glia_shape_context_get_input_dims (ctx, 0)[0];
  if (rank == 1 || rank == 2)
    glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_FLOAT, rank, rank == 2 ? dims : dims + 1);
  else
    glia_shape_context_set_output (ctx, 0, GLIA_DATA_TYPE_FLOAT, -1, NULL);
  tfidf_destroy (s);
  return TRUE;
}

typedef struct
{
  const TfIdfState *s;
  const GliaTensorView *x;
  gsize row_len;
  float *y;
} TfIdfJob;

static void
tfidf_append_item (const TfIdfJob *job, GByteArray *key, gsize at)
{
  switch (job->x->dtype) {
  case GLIA_DATA_TYPE_STRING:
    append_string_item (key, ((const char *const *)job->x->data)[at]);
    break;
  case GLIA_DATA_TYPE_INT32:
    append_int_item (key, ((const gint32 *)job->x->data)[at]);
    break;
  default:
    append_int_item (key, ((const gint64 *)job->x->data)[at]);
  }
}

static void
tfidf_rows (gsize begin, gsize end, gpointer user_data)
{
  const TfIdfJob *job = user_data;
  const TfIdfState *s = job->s;
  gsize c = job->row_len;
  g_autoptr (GByteArray) key = g_byte_array_new ();
  g_autofree gint64 *count = g_new (gint64, MAX (s->n_ngrams, 1));
  gint64 max_n = MIN (s->max_n, (gint64)s->n_levels);

  for (gsize row = begin; row < end; row++) {
    gsize base = row * c;
    memset (count, 0, MAX (s->n_ngrams, 1) * sizeof (gint64));
    for (gint64 skip = 0; skip <= s->max_skip; skip++) {
      /* unigrams do not depend on the skip: only count them once */
      if (skip > 0 && max_n < 2)
        break;
      gsize step = (gsize)skip + 1;
      for (gsize start = 0; start < c; start++) {
        g_byte_array_set_size (key, 0);
        for (gint64 n = 1; n <= max_n; n++) {
          gsize at = start + (gsize)(n - 1) * step;
          if (at >= c)
            break;
          tfidf_append_item (job, key, base + at);
          if (n < s->min_n || (n == 1 && skip > 0))
            continue;
          NgramKey k = { key->len, key->data };
          gsize id = GPOINTER_TO_SIZE (g_hash_table_lookup (s->pools[n - 1], &k));
          if (id)
            count[id - 1]++;
        }
      }
    }
    float *y = job->y + row * (gsize)s->out_size;
    memset (y, 0, (gsize)s->out_size * sizeof (float));
    for (gsize i = 0; i < s->n_ngrams; i++) {
      if (count[i] == 0)
        continue;
      double w = s->weights ? s->weights[i] : 1.0;
      double v = s->mode == TFIDF_TF    ? (double)count[i]
                 : s->mode == TFIDF_IDF ? w
                                        : (double)count[i] * w;
      y[s->out_index[i]] += (float)v;
    }
  }
}

static gboolean
tfidf_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const TfIdfState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  if (x == NULL)
    return FALSE;
  gboolean is_string = x->dtype == GLIA_DATA_TYPE_STRING;
  if (!cpu_dtype_in (x->dtype, DTYPES_TFIDF) || is_string != s->strings) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the input is %s but the pool holds %s", glia_data_type_get_name (x->dtype),
                      s->strings ? "strings" : "integers");
    return FALSE;
  }
  if (x->rank < 1 || x->rank > 2) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "the input must be 1-D or 2-D, its rank is %u", x->rank);
    return FALSE;
  }
  if (is_string && !check_strings (ctx, x, error))
    return FALSE;

  gint64 dims[2] = { x->rank == 2 ? x->dims[0] : 1, s->out_size };
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, GLIA_DATA_TYPE_FLOAT, x->rank,
                                                           x->rank == 2 ? dims : dims + 1, error);
  if (y == NULL)
    return FALSE;
  if (y->n_elements == 0)
    return TRUE;
  TfIdfJob job = { s, x, (gsize)x->dims[x->rank - 1], y->data };
  glia_kernel_context_parallel_for (ctx, (gsize)dims[0], 1, tfidf_rows, &job);
  return TRUE;
}

/* ======================================================================== */
/* Cast to and from strings                                                  */
/* ======================================================================== */

typedef struct
{
  GliaDataType to;
} StringCastState;

static gboolean
string_cast_supports (const GliaGraph *graph, gint node)
{
  gint x = glia_graph_node_get_n_inputs (graph, node) ? glia_graph_node_get_input (graph, node, 0)
                                                      : -1;
  if (x >= 0 && glia_graph_value_get_dtype (graph, x) == GLIA_DATA_TYPE_STRING)
    return TRUE;
  return glia_graph_node_get_attr_type (graph, node, "to") == GLIA_ATTR_INT
         && glia_graph_node_get_attr_int (graph, node, "to", 0) == GLIA_DATA_TYPE_STRING;
}

static gboolean
string_cast_parse (const GliaGraph *graph, gint node, StringCastState *s, GError **error)
{
  if (glia_graph_node_get_attr_type (graph, node, "to") != GLIA_ATTR_INT) {
    cpu_node_error (error, graph, node, "attribute 'to' (an element type) is required");
    return FALSE;
  }
  gint64 to = glia_graph_node_get_attr_int (graph, node, "to", 0);
  if (to != GLIA_DATA_TYPE_STRING
      && (to <= 0 || to > GLIA_DATA_TYPE_LAST
          || !cpu_dtype_in ((GliaDataType)to, CPU_DTYPES_NUMERIC))) {
    cpu_node_error (error, graph, node,
                    "attribute 'to' = %" G_GINT64_FORMAT " is not a string or numeric element type",
                    to);
    return FALSE;
  }
  s->to = (GliaDataType)to;
  return TRUE;
}

static gpointer
string_cast_create (const GliaGraph *graph, gint node, GError **error)
{
  StringCastState s;
  if (!string_cast_parse (graph, node, &s, error))
    return NULL;
  return g_memdup2 (&s, sizeof s);
}

static gboolean
string_cast_infer_shapes (GliaShapeContext *ctx, GError **error)
{
  StringCastState s;
  if (!string_cast_parse (glia_shape_context_get_graph (ctx), glia_shape_context_get_node (ctx), &s,
                          error))
    return FALSE;
  cpu_infer_like_input (ctx, 0, 0, s.to);
  return TRUE;
}

/* Converts @v to @dtype's representation in @out (8 bytes). */
static void
store_one (GliaDataType dtype, double v, guint8 *out)
{
  cpu_store_doubles (dtype, &v, out, 1);
}

/* The shortest "d.ddde+XX" that reads back to the element @bits of @dtype. */
static void
shortest_digits (GliaDataType dtype, double v, const guint8 *bits, char *sci, gsize size)
{
  gsize elem = glia_data_type_get_size (dtype);
  int max_digits = dtype == GLIA_DATA_TYPE_DOUBLE ? 17 : 9;
  for (int p = 1; p <= max_digits; p++) {
    char fmt[16];
    guint8 back[8];
    g_snprintf (fmt, sizeof fmt, "%%.%de", p - 1);
    g_ascii_formatd (sci, (gint)size, fmt, v);
    store_one (dtype, g_ascii_strtod (sci, NULL), back);
    if (memcmp (back, bits, elem) == 0)
      return;
  }
}

/* Formats element @i of a float-type tensor (see the file comment). */
static char *
format_float (GliaDataType dtype, gconstpointer data, gsize i)
{
  gsize elem = glia_data_type_get_size (dtype);
  const guint8 *bits = (const guint8 *)data + i * elem;
  double v;
  cpu_load_doubles (dtype, bits, &v, 1);
  if (isnan (v))
    return g_strdup ("nan");
  if (isinf (v))
    return g_strdup (v < 0 ? "-inf" : "inf");
  if (v == 0)
    return g_strdup (signbit (v) ? "-0.0" : "0.0");

  char sci[64];
  shortest_digits (dtype, v, bits, sci, sizeof sci);
  /* split "-d.ddde+XX" into sign, digits and exponent */
  const char *p = sci;
  gboolean negative = *p == '-';
  if (negative)
    p++;
  char digits[32];
  gsize n = 0;
  for (; *p && *p != 'e' && n < sizeof digits - 1; p++)
    if (g_ascii_isdigit (*p))
      digits[n++] = *p;
  while (n > 1 && digits[n - 1] == '0')
    n--;
  digits[n] = '\0';
  gint64 exp = *p == 'e' ? g_ascii_strtoll (p + 1, NULL, 10) : 0;

  GString *s = g_string_new (negative ? "-" : "");
  if (fabs (v) >= 1e-4 && fabs (v) < 1e16) {
    if (exp >= 0) {
      for (gint64 k = 0; k <= exp; k++)
        g_string_append_c (s, (gsize)k < n ? digits[k] : '0');
      g_string_append_c (s, '.');
      if ((gsize)exp + 1 < n)
        g_string_append (s, digits + exp + 1);
      else
        g_string_append_c (s, '0');
    } else {
      g_string_append (s, "0.");
      for (gint64 k = 0; k < -exp - 1; k++)
        g_string_append_c (s, '0');
      g_string_append (s, digits);
    }
  } else {
    g_string_append_c (s, digits[0]);
    if (n > 1) {
      g_string_append_c (s, '.');
      g_string_append (s, digits + 1);
    }
    g_string_append_printf (s, "e%c%02" G_GINT64_FORMAT, exp < 0 ? '-' : '+', ABS (exp));
  }
  return g_string_free (s, FALSE);
}

static char *
format_element (GliaDataType dtype, gconstpointer data, gsize i)
{
  switch (dtype) {
  case GLIA_DATA_TYPE_INT8:
    return g_strdup_printf ("%d", ((const gint8 *)data)[i]);
  case GLIA_DATA_TYPE_INT16:
    return g_strdup_printf ("%d", ((const gint16 *)data)[i]);
  case GLIA_DATA_TYPE_INT32:
    return g_strdup_printf ("%" G_GINT32_FORMAT, ((const gint32 *)data)[i]);
  case GLIA_DATA_TYPE_INT64:
    return g_strdup_printf ("%" G_GINT64_FORMAT, ((const gint64 *)data)[i]);
  case GLIA_DATA_TYPE_UINT8:
    return g_strdup_printf ("%u", ((const guint8 *)data)[i]);
  case GLIA_DATA_TYPE_UINT16:
    return g_strdup_printf ("%u", ((const guint16 *)data)[i]);
  case GLIA_DATA_TYPE_UINT32:
    return g_strdup_printf ("%" G_GUINT32_FORMAT, ((const guint32 *)data)[i]);
  case GLIA_DATA_TYPE_UINT64:
    return g_strdup_printf ("%" G_GUINT64_FORMAT, ((const guint64 *)data)[i]);
  case GLIA_DATA_TYPE_BOOL:
    return g_strdup (((const guint8 *)data)[i] ? "True" : "False");
  default:
    return format_float (dtype, data, i);
  }
}

static gboolean
only_space (const char *p)
{
  while (g_ascii_isspace (*p))
    p++;
  return *p == '\0';
}

static gboolean
parse_double (const char *str, double *out)
{
  char *end = NULL;
  while (g_ascii_isspace (*str))
    str++;
  if (*str == '\0')
    return FALSE;
  *out = g_ascii_strtod (str, &end);
  return end != str && only_space (end);
}

/* Integers parse exactly and saturate at the type's range; a string that is
 * not an integer but a number ("100.5", "1e3") truncates toward zero. */
static gboolean
parse_element (const char *str, GliaDataType dtype, guint8 *out)
{
  double d;
  if (cpu_dtype_in (dtype, GLIA_DTYPES_FLOATS)) {
    if (!parse_double (str, &d))
      return FALSE;
    store_one (dtype, d, out);
    return TRUE;
  }
  if (dtype == GLIA_DATA_TYPE_BOOL) {
    const char *p = str;
    while (g_ascii_isspace (*p))
      p++;
    if (g_ascii_strncasecmp (p, "true", 4) == 0 && only_space (p + 4))
      d = 1;
    else if (g_ascii_strncasecmp (p, "false", 5) == 0 && only_space (p + 5))
      d = 0;
    else if (!parse_double (str, &d))
      return FALSE;
    *out = d != 0;
    return TRUE;
  }

  char *end = NULL;
  const char *p = str;
  while (g_ascii_isspace (*p))
    p++;
  if (dtype == GLIA_DATA_TYPE_UINT64 && *p != '-') {
    guint64 u = g_ascii_strtoull (p, &end, 10);
    if (end != p && only_space (end)) {
      memcpy (out, &u, sizeof u);
      return TRUE;
    }
  } else {
    gint64 v = g_ascii_strtoll (p, &end, 10);
    if (end != p && only_space (end)) {
      /* exact for every integer type but uint64 (where it is negative: 0) */
      d = (double)v;
      if (dtype == GLIA_DATA_TYPE_INT64)
        memcpy (out, &v, sizeof v);
      else
        store_one (dtype, d, out);
      return TRUE;
    }
  }
  if (!parse_double (str, &d))
    return FALSE;
  store_one (dtype, trunc (d), out);
  return TRUE;
}

static gboolean
string_cast_compute (gpointer state, GliaKernelContext *ctx, GError **error)
{
  const StringCastState *s = state;
  const GliaTensorView *x = cpu_require_input (ctx, 0, error);
  GliaDataType to = s->to;
  if (x == NULL)
    return FALSE;
  gboolean from_string = x->dtype == GLIA_DATA_TYPE_STRING;
  gboolean to_string = to == GLIA_DATA_TYPE_STRING;
  if ((!from_string && !cpu_dtype_in (x->dtype, CPU_DTYPES_NUMERIC))
      || (!to_string && !cpu_dtype_in (to, CPU_DTYPES_NUMERIC)) || (!from_string && !to_string)) {
    cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                      "cannot cast %s to %s here (string casts only)",
                      glia_data_type_get_name (x->dtype), glia_data_type_get_name (to));
    return FALSE;
  }

  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, 0, to, x->rank, x->dims, error);
  if (y == NULL)
    return FALSE;
  if (to_string) {
    char **out = y->data;
    for (gsize i = 0; i < x->n_elements; i++)
      out[i] = from_string ? g_strdup (((const char *const *)x->data)[i])
                           : format_element (x->dtype, x->data, i);
    return TRUE;
  }

  const char *const *in = x->data;
  gsize size = glia_data_type_get_size (to);
  for (gsize i = 0; i < x->n_elements; i++) {
    guint8 v[8];
    if (in[i] == NULL || !parse_element (in[i], to, v)) {
      cpu_kernel_error (error, ctx, GLIA_ERROR_INVALID_ARGUMENT,
                        "element %" G_GSIZE_FORMAT " (\"%.40s\") is not a number", i,
                        in[i] ? in[i] : "");
      return FALSE;
    }
    memcpy ((guint8 *)y->data + i * size, v, size);
  }
  return TRUE;
}

/* ======================================================================== */

static const GliaOpDef string_ops[] = {
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "StringNormalizer",
      .since_version = 10,
      .until_version = G_MAXINT,
      .dtypes = DTYPE_STRING_BIT,
      .infer_shapes = normalizer_infer_shapes,
      .create = normalizer_create,
      .compute = normalizer_compute,
      .destroy = normalizer_destroy,
  },
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "TfIdfVectorizer",
      .since_version = 9,
      .until_version = G_MAXINT,
      .dtypes = DTYPES_TFIDF,
      .infer_shapes = tfidf_infer_shapes,
      .create = tfidf_create,
      .compute = tfidf_compute,
      .destroy = tfidf_destroy,
  },
  /* Casts involving strings (since opset 9); numeric ones are cpu-elementwise.c's, and
   * CastLike (any types) is cpu-index.c's. */
  {
      .struct_size = sizeof (GliaOpDef),
      .domain = "",
      .name = "Cast",
      .since_version = 9,
      .until_version = G_MAXINT,
      .supports = string_cast_supports,
      .infer_shapes = string_cast_infer_shapes,
      .create = string_cast_create,
      .compute = string_cast_compute,
      .destroy = g_free,
  },
};

void
cpu_string_register (GliaOpTable *table)
{
  for (guint i = 0; i < G_N_ELEMENTS (string_ops); i++)
    glia_op_table_add (table, &string_ops[i]);
}
