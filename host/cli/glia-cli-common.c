/* glia-cli-common.c: helpers the `glia` subcommands share: error printing,
 * option contexts, session options from the command line, inputs read from
 * .npy files or generated, output file names, percentiles, and the progress
 * line long work shows on a terminal.
 *
 * Generated inputs must be the same on every run and every machine, so that
 * two benchmarks of one model compute the same thing: they come from a
 * xorshift32 generator seeded by a constant and the input's index, never from
 * the clock or g_random.
 */
#include "glia-cli.h"

#include <glia-graph.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The longest stem kept, so that "<stem>.npy" fits the 255 bytes most file
 * systems allow in a name. */
#define MAX_FILE_STEM 240

void
glia_cli_print_error (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "glia: %s\n", message);
}

int
glia_cli_usage_error (const char *command, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "glia: %s\nTry 'glia %s%s--help' for more information.\n", message,
           command ? command : "", command ? " " : "");
  return GLIA_CLI_EXIT_USAGE;
}

int
glia_cli_fail (const GError *error)
{
  glia_cli_print_error ("%s", error->message);
  return GLIA_CLI_EXIT_ERROR;
}

GOptionContext *
glia_cli_option_context_new (const char *command, const char *parameters, const char *summary)
{
  /* The usage line is "<prgname> [OPTION…] <parameters>". */
  g_autofree char *prgname = g_strdup_printf ("glia %s", command);
  g_set_prgname (prgname);
  GOptionContext *context = g_option_context_new (parameters);
  g_option_context_set_summary (context, summary);
  return context;
}

gboolean
glia_cli_option_context_parse (GOptionContext *context, const char *command, int *argc,
                               char ***argv)
{
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, argc, argv, &error)) {
    glia_cli_usage_error (command, "%s", error->message);
    return FALSE;
  }
  return TRUE;
}

void
glia_cli_session_args_add_entries (GliaCliSessionArgs *args, GOptionContext *context)
{
  const GOptionEntry entries[] = {
    { "ep", 0, 0, G_OPTION_ARG_STRING, &args->providers,
      "Execution providers to use, comma-separated, preferred first (e.g. cuda,cpu)", "LIST" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &args->threads,
      "Threads for intra-op parallelism (default: one per core)", "N" },
    { "no-fallback", 0, 0, G_OPTION_ARG_NONE, &args->no_fallback,
      "Fail instead of running unclaimed nodes on the CPU provider", NULL },
    { "option", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args->options,
      "Set a provider option ep.<provider>.<key> (repeatable)", "KEY=VALUE" },
    { "level", 0, 0, G_OPTION_ARG_STRING, &args->level,
      "Graph optimization level, 0 (none) to 3 (all passes) (default: the session's default)",
      "N" },
    G_OPTION_ENTRY_NULL,
  };
  g_option_context_add_main_entries (context, entries, NULL);
}

void
glia_cli_session_args_clear (GliaCliSessionArgs *args)
{
  g_clear_pointer (&args->providers, g_free);
  g_clear_pointer (&args->options, g_strfreev);
  g_clear_pointer (&args->level, g_free);
}

gboolean
glia_cli_split_assignment (const char *arg, const char *option, const char *form, char **name,
                           char **value, GError **error)
{
  const char *eq = strchr (arg, '=');
  if (eq == NULL || eq == arg) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "%s '%s': expected %s", option,
                 arg, form);
    return FALSE;
  }
  *name = g_strndup (arg, eq - arg);
  *value = g_strdup (eq + 1);
  return TRUE;
}

GliaSessionOptions *
glia_cli_session_args_build (const GliaCliSessionArgs *args, GError **error)
{
  g_autoptr (GliaSessionOptions) options = glia_session_options_new ();
  if (args->threads < 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "--threads %d: must be 0 (one per core) or more", args->threads);
    return NULL;
  }
  glia_session_options_set_threads (options, (guint)args->threads);
  if (args->providers != NULL
      && !glia_session_options_set_providers_from_string (options, args->providers, error)) {
    g_prefix_error (error, "--ep: ");
    return NULL;
  }
  if (args->no_fallback)
    glia_session_options_set_allow_fallback (options, FALSE);
  if (args->level != NULL) {
    guint64 level;
    if (!g_ascii_string_to_unsigned (args->level, 10, 0, 3, &level, NULL)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "--level '%s': must be 0, 1, 2 or 3", args->level);
      return NULL;
    }
    glia_session_options_set_optimization_level (options, (guint)level);
  }
  for (guint i = 0; args->options != NULL && args->options[i] != NULL; i++) {
    g_autofree char *key = NULL, *value = NULL;
    if (!glia_cli_split_assignment (args->options[i], "--option", "KEY=VALUE", &key, &value, error))
      return NULL;
    if (!glia_session_options_set_option (options, key, value, error))
      return NULL;
  }
  return g_steal_pointer (&options);
}

guint
glia_cli_session_args_get_threads (const GliaCliSessionArgs *args)
{
  /* As glia_session_new() decides: 0 means one thread per core. */
  return args->threads > 0 ? (guint)args->threads : g_get_num_processors ();
}

static gboolean
model_has_input (GliaModel *model, const char *name)
{
  g_auto (GStrv) inputs = glia_model_get_input_names (model);
  return g_strv_contains ((const char *const *)inputs, name);
}

static char *
model_input_list (GliaModel *model)
{
  g_auto (GStrv) inputs = glia_model_get_input_names (model);
  if (inputs[0] == NULL)
    return g_strdup ("none");
  return g_strjoinv (", ", inputs);
}

GHashTable *
glia_cli_read_inputs (GliaModel *model, char **specs, GError **error)
{
  g_autoptr (GHashTable) inputs
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  for (guint i = 0; specs != NULL && specs[i] != NULL; i++) {
    g_autofree char *name = NULL, *path = NULL;
    if (!glia_cli_split_assignment (specs[i], "--input", "NAME=FILE.npy", &name, &path, error))
      return NULL;
    if (!model_has_input (model, name)) {
      g_autofree char *list = model_input_list (model);
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_NOT_FOUND,
                   "--input %s: the model has no input '%s' (inputs: %s)", specs[i], name, list);
      return NULL;
    }
    if (g_hash_table_contains (inputs, name)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "input '%s' is given twice with --input", name);
      return NULL;
    }
    GliaTensor *tensor = glia_tensor_new_from_npy_file (path, error);
    if (tensor == NULL) {
      g_prefix_error (error, "input '%s': ", name);
      return NULL;
    }
    g_hash_table_insert (inputs, g_steal_pointer (&name), tensor);
  }
  return g_steal_pointer (&inputs);
}

gboolean
glia_cli_check_inputs_complete (GliaModel *model, GHashTable *inputs, GError **error)
{
  g_auto (GStrv) names = glia_model_get_input_names (model);
  for (guint i = 0; names[i] != NULL; i++)
    if (!g_hash_table_contains (inputs, names[i])) {
      g_autofree char *description = glia_model_describe_value (model, names[i]);
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "missing input '%s' (%s): give it with --input %s=FILE.npy", names[i],
                   description ? description : "unknown type", names[i]);
      return FALSE;
    }
  return TRUE;
}

/* Symbolic name of dimension @axis of model input @name, or NULL. */
static const char *
input_dim_param (GliaModel *model, const char *name, guint axis)
{
  const GliaGraph *graph = glia_model_get_graph (model);
  gint value = glia_graph_lookup_value (graph, name);
  if (value < 0 || (gint)axis >= glia_graph_value_get_rank (graph, value))
    return NULL;
  return glia_graph_value_get_dim_param (graph, value, axis);
}

/* Every symbolic dimension name of @model's inputs, in order, without repeats. */
static GPtrArray *
input_dim_params (GliaModel *model)
{
  GPtrArray *params = g_ptr_array_new ();
  g_auto (GStrv) names = glia_model_get_input_names (model);
  for (guint i = 0; names[i] != NULL; i++) {
    gint rank = -1;
    g_autofree gint64 *shape = glia_model_get_value_shape (model, names[i], &rank);
    for (gint axis = 0; axis < rank; axis++) {
      const char *param = input_dim_param (model, names[i], axis);
      if (param != NULL && !g_ptr_array_find_with_equal_func (params, param, g_str_equal, NULL))
        g_ptr_array_add (params, (gpointer)param);
    }
  }
  return params;
}

gboolean
glia_cli_check_assignments (char **specs, const char *option, const char *form, GError **error)
{
  for (guint i = 0; specs != NULL && specs[i] != NULL; i++) {
    g_autofree char *name = NULL, *value = NULL;
    if (!glia_cli_split_assignment (specs[i], option, form, &name, &value, error))
      return FALSE;
  }
  return TRUE;
}

GHashTable *
glia_cli_parse_dims (char **specs, GError **error)
{
  g_autoptr (GHashTable) dims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; specs != NULL && specs[i] != NULL; i++) {
    g_autofree char *symbol = NULL, *text = NULL;
    if (!glia_cli_split_assignment (specs[i], "--dim", "SYMBOL=VALUE", &symbol, &text, error))
      return NULL;
    guint64 size;
    if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT32, &size, NULL)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "--dim %s: the size must be a whole number from 1 to %d", specs[i], G_MAXINT32);
      return NULL;
    }
    g_hash_table_insert (dims, g_steal_pointer (&symbol), GSIZE_TO_POINTER ((gsize)size));
  }
  return g_steal_pointer (&dims);
}

gboolean
glia_cli_check_dims (GliaModel *model, GHashTable *dims, GError **error)
{
  g_autoptr (GPtrArray) params = input_dim_params (model);
  GHashTableIter it;
  gpointer symbol, size;
  g_hash_table_iter_init (&it, dims);
  while (g_hash_table_iter_next (&it, &symbol, &size)) {
    if (g_ptr_array_find_with_equal_func (params, symbol, g_str_equal, NULL))
      continue;
    g_autoptr (GString) list = g_string_new (NULL);
    for (guint k = 0; k < params->len; k++)
      g_string_append_printf (list, "%s%s", k ? ", " : "",
                              (const char *)g_ptr_array_index (params, k));
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_NOT_FOUND,
                 "--dim %s=%" G_GSIZE_FORMAT ": no input of the model has a dimension named "
                 "'%s' (%s%s)",
                 (const char *)symbol, GPOINTER_TO_SIZE (size), (const char *)symbol,
                 params->len ? "symbolic dimensions: " : "it has no symbolic dimensions",
                 list->str);
    return FALSE;
  }
  return TRUE;
}

void
glia_cli_bind_dims_from_inputs (GliaModel *model, GHashTable *inputs, GHashTable *dims)
{
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, inputs);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    guint rank = 0;
    const gint64 *shape = glia_tensor_get_shape (value, &rank);
    for (guint axis = 0; axis < rank; axis++) {
      const char *param = input_dim_param (model, key, axis);
      if (param != NULL && shape[axis] > 0 && !g_hash_table_contains (dims, param))
        g_hash_table_insert (dims, g_strdup (param), GSIZE_TO_POINTER ((gsize)shape[axis]));
    }
  }
}

static guint32
xorshift32 (guint32 *state)
{
  guint32 x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *state = x;
}

/* A float in [-1, 1) with 24 random bits, exact in float32. */
static float
next_unit (guint32 *state)
{
  return (float)(xorshift32 (state) >> 8) * (1.0f / 8388608.0f) - 1.0f;
}

guint16
glia_cli_float_to_half (float value)
{
  guint32 f;
  memcpy (&f, &value, sizeof f);
  guint32 sign = (f >> 16) & 0x8000;
  guint32 exponent = (f >> 23) & 0xff;
  guint32 mantissa = f & 0x7fffff;
  if (exponent == 0xff)
    return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  gint32 e = (gint32)exponent - 127 + 15;
  if (e >= 31)
    return sign | 0x7c00;
  if (e <= 0) {
    /* A half subnormal: m * 2^-24. Rounding may carry into the exponent,
     * which gives the right smallest normal. */
    if (e < -10)
      return sign;
    mantissa |= 0x800000;
    guint32 shift = 14 - e;
    guint32 half = mantissa >> shift;
    guint32 rest = mantissa & ((1u << shift) - 1);
    guint32 halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1)))
      half++;
    return sign | half;
  }
  guint32 half = sign | ((guint32)e << 10) | (mantissa >> 13);
  guint32 rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    half++; /* a carry into the exponent rounds up to the next binade or to inf */
  return half;
}

guint16
glia_cli_float_to_bfloat16 (float value)
{
  guint32 f;
  memcpy (&f, &value, sizeof f);
  if ((f & 0x7fffffff) > 0x7f800000)
    return (f >> 16) | 0x40; /* keep NaN a quiet NaN */
  f += 0x7fff + ((f >> 16) & 1);
  return f >> 16;
}

void
glia_cli_fill_deterministic (GliaDataType dtype, gpointer data, gsize n_elements, guint32 seed)
{
  guint32 state = seed ? seed : 1;
  for (gsize i = 0; i < n_elements; i++)
    switch (dtype) {
    case GLIA_DATA_TYPE_FLOAT:
      ((float *)data)[i] = next_unit (&state);
      break;
    case GLIA_DATA_TYPE_DOUBLE:
      ((double *)data)[i] = next_unit (&state);
      break;
    case GLIA_DATA_TYPE_FLOAT16:
      ((guint16 *)data)[i] = glia_cli_float_to_half (next_unit (&state));
      break;
    case GLIA_DATA_TYPE_BFLOAT16:
      ((guint16 *)data)[i] = glia_cli_float_to_bfloat16 (next_unit (&state));
      break;
    case GLIA_DATA_TYPE_COMPLEX64:
      ((float *)data)[2 * i] = next_unit (&state);
      ((float *)data)[2 * i + 1] = next_unit (&state);
      break;
    case GLIA_DATA_TYPE_COMPLEX128:
      ((double *)data)[2 * i] = next_unit (&state);
      ((double *)data)[2 * i + 1] = next_unit (&state);
      break;
    case GLIA_DATA_TYPE_BOOL:
      ((guint8 *)data)[i] = i & 1;
      break;
    case GLIA_DATA_TYPE_UINT8:
      ((guint8 *)data)[i] = xorshift32 (&state) % 10;
      break;
    case GLIA_DATA_TYPE_INT8:
      ((gint8 *)data)[i] = xorshift32 (&state) % 10;
      break;
    case GLIA_DATA_TYPE_UINT16:
      ((guint16 *)data)[i] = xorshift32 (&state) % 10;
      break;
    case GLIA_DATA_TYPE_INT16:
      ((gint16 *)data)[i] = xorshift32 (&state) % 10;
      break;
    case GLIA_DATA_TYPE_UINT32:
      ((guint32 *)data)[i] = xorshift32 (&state) % 10;
      break;
    case GLIA_DATA_TYPE_INT32:
      ((gint32 *)data)[i] = xorshift32 (&state) % 10;
      break;
    case GLIA_DATA_TYPE_UINT64:
      ((guint64 *)data)[i] = xorshift32 (&state) % 10;
      break;
    case GLIA_DATA_TYPE_INT64:
      ((gint64 *)data)[i] = xorshift32 (&state) % 10;
      break;
    case GLIA_DATA_TYPE_STRING:
    case GLIA_DATA_TYPE_UNDEFINED:
      return;
    }
}

GliaTensor *
glia_cli_make_input (GliaModel *model, const char *name, guint index, GHashTable *dims,
                     GError **error)
{
  GliaDataType dtype = glia_model_get_value_dtype (model, name);
  gint rank = -1;
  g_autofree gint64 *declared = glia_model_get_value_shape (model, name, &rank);
  if (dtype == GLIA_DATA_TYPE_UNDEFINED || rank < 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "input '%s' has no declared %s to generate data from: give it with --input "
                 "%s=FILE.npy",
                 name, dtype == GLIA_DATA_TYPE_UNDEFINED ? "type" : "rank", name);
    return NULL;
  }

  g_autofree gint64 *shape = g_new (gint64, MAX (rank, 1));
  gsize n_elements = 1;
  for (gint axis = 0; axis < rank; axis++) {
    shape[axis] = declared[axis];
    if (shape[axis] < 0) {
      const char *param = input_dim_param (model, name, axis);
      gpointer size = param ? g_hash_table_lookup (dims, param) : NULL;
      shape[axis] = size ? (gint64)GPOINTER_TO_SIZE (size) : 1;
    }
    if (!g_size_checked_mul (&n_elements, n_elements, (gsize)shape[axis])) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_RESOURCE_LIMIT,
                   "input '%s' would be too large to generate", name);
      return NULL;
    }
  }

  /* Distinct inputs get distinct streams; the same input the same one. */
  guint32 seed = 0x2545f491u ^ ((index + 1) * 0x9e3779b9u);

  if (dtype == GLIA_DATA_TYPE_STRING) {
    g_autoptr (GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
    guint32 state = seed;
    for (gsize i = 0; i < n_elements; i++)
      g_ptr_array_add (strings, g_strdup_printf ("%u", xorshift32 (&state) % 10));
    return glia_tensor_new_from_strings (shape, rank, (const char *const *)strings->pdata,
                                         n_elements, error);
  }

  gsize n_bytes;
  if (!g_size_checked_mul (&n_bytes, n_elements, glia_data_type_get_size (dtype))) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_RESOURCE_LIMIT,
                 "input '%s' would be too large to generate", name);
    return NULL;
  }
  gpointer data = g_try_malloc (MAX (n_bytes, 1));
  if (data == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_RESOURCE_LIMIT,
                 "out of memory generating input '%s' (%" G_GSIZE_FORMAT " bytes)", name, n_bytes);
    return NULL;
  }
  glia_cli_fill_deterministic (dtype, data, n_elements, seed);
  g_autoptr (GBytes) bytes = g_bytes_new_take (data, n_bytes);
  return glia_tensor_new (dtype, shape, rank, bytes, error);
}

char *
glia_cli_sanitize_file_name (const char *name)
{
  if (name[0] == '\0' || g_str_equal (name, "."))
    return g_strdup ("_");
  if (g_str_equal (name, ".."))
    return g_strdup ("__");

  GString *stem = g_string_new (NULL);
  gboolean utf8 = g_utf8_validate (name, -1, NULL);
  for (const char *p = name; *p != '\0' && stem->len < MAX_FILE_STEM;
       p = utf8 ? g_utf8_next_char (p) : p + 1) {
    char c = *p;
    gboolean safe = g_ascii_isalnum (c) || c == '.' || c == '_' || c == '-';
    g_string_append_c (stem, safe ? c : '_');
  }
  return g_string_free (stem, FALSE);
}

double
glia_cli_percentile (const double *sorted, guint n, double p)
{
  g_return_val_if_fail (n > 0, 0.0);
  /* Nearest rank: the smallest value with at least p % of the values at or
   * below it. */
  double rank = ceil (p * n / 100.0);
  guint index = rank < 1.0 ? 0 : rank > n ? n - 1 : (guint)rank - 1;
  return sorted[index];
}

/* ---- progress -------------------------------------------------------------
 *
 * One line on stderr, rewritten in place with "\r" and cleared with the
 * terminal's erase-to-end-of-line. A determinate bar redraws from the caller's
 * updates (at most every 50 ms); an activity line has no updates, so a thread
 * redraws its elapsed time every 100 ms until the work ends. */

#define PROGRESS_DELAY_US  (G_USEC_PER_SEC / 2)
#define PROGRESS_REDRAW_US (G_USEC_PER_SEC / 20)
#define PROGRESS_TICK_US   (G_USEC_PER_SEC / 10)

struct _GliaCliProgress
{
  char *label;
  guint64 total;
  gint64 start_us;
  gint64 last_draw_us;
  gboolean drawn;
  GMutex lock; /* the activity thread and the caller both draw */
  GCond cond;
  gboolean stop;
  GThread *thread;
};

static guint
terminal_width (void)
{
  struct winsize ws;
  if (ioctl (fileno (stderr), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
    return ws.ws_col;
  return 80;
}

char *
glia_cli_progress_format (const char *label, guint64 done, guint64 total, double elapsed_s,
                          guint width)
{
  g_autofree char *tail = NULL;
  GString *line = g_string_new (label);
  if (total == 0) {
    tail = g_strdup_printf ("  %.1f s", elapsed_s);
    g_string_append (line, " ...");
  } else {
    done = MIN (done, total);
    tail = g_strdup_printf ("  %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "  %.1f s", done, total,
                            elapsed_s);
    /* the bar takes what the label and the counts leave, 10 to 40 columns */
    glong room = (glong)width - (glong)line->len - (glong)strlen (tail) - 3;
    guint bar = (guint)CLAMP (room, 10, 40);
    guint filled = (guint)(bar * done / total);
    g_string_append (line, " [");
    for (guint i = 0; i < bar; i++)
      g_string_append_c (line, i < filled ? '#' : ' ');
    g_string_append_c (line, ']');
  }
  g_string_append (line, tail);
  if (width > 0 && line->len > width)
    g_string_truncate (line, width);
  return g_string_free (line, FALSE);
}

/* With @progress->lock held. */
static void
progress_draw (GliaCliProgress *progress, guint64 done, gint64 now)
{
  g_autofree char *line
      = glia_cli_progress_format (progress->label, done, progress->total,
                                  (now - progress->start_us) / 1e6, terminal_width () - 1);
  fprintf (stderr, "\r%s\033[K", line);
  fflush (stderr);
  progress->drawn = TRUE;
  progress->last_draw_us = now;
}

static gpointer
progress_thread (gpointer data)
{
  GliaCliProgress *progress = data;
  g_mutex_lock (&progress->lock);
  while (!progress->stop) {
    g_cond_wait_until (&progress->cond, &progress->lock,
                       g_get_monotonic_time () + PROGRESS_TICK_US);
    gint64 now = g_get_monotonic_time ();
    if (!progress->stop && now - progress->start_us >= PROGRESS_DELAY_US)
      progress_draw (progress, 0, now);
  }
  g_mutex_unlock (&progress->lock);
  return NULL;
}

GliaCliProgress *
glia_cli_progress_new (const char *label, guint64 total, gboolean enabled)
{
  if (!enabled || !isatty (fileno (stderr)))
    return NULL;
  GliaCliProgress *progress = g_new0 (GliaCliProgress, 1);
  progress->label = g_strdup (label);
  progress->total = total;
  progress->start_us = g_get_monotonic_time ();
  g_mutex_init (&progress->lock);
  g_cond_init (&progress->cond);
  if (total == 0)
    progress->thread = g_thread_new ("glia-progress", progress_thread, progress);
  return progress;
}

void
glia_cli_progress_update (GliaCliProgress *progress, guint64 done)
{
  if (progress == NULL)
    return;
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&progress->lock);
  if (now - progress->start_us >= PROGRESS_DELAY_US
      && (now - progress->last_draw_us >= PROGRESS_REDRAW_US || done >= progress->total))
    progress_draw (progress, done, now);
  g_mutex_unlock (&progress->lock);
}

void
glia_cli_progress_free (GliaCliProgress *progress)
{
  if (progress == NULL)
    return;
  if (progress->thread) {
    g_mutex_lock (&progress->lock);
    progress->stop = TRUE;
    g_cond_signal (&progress->cond);
    g_mutex_unlock (&progress->lock);
    g_thread_join (progress->thread);
  }
  if (progress->drawn) {
    fputs ("\r\033[K", stderr);
    fflush (stderr);
  }
  g_mutex_clear (&progress->lock);
  g_cond_clear (&progress->cond);
  g_free (progress->label);
  g_free (progress);
}

GliaModel *
glia_cli_load_model (const char *path, gboolean progress, GError **error)
{
  g_autoptr (GliaCliProgress) activity = NULL;
  if (progress) {
    g_autofree char *base = g_path_get_basename (path);
    g_autofree char *label = g_strdup_printf ("loading %s", base);
    GStatBuf st;
    if (g_stat (path, &st) == 0) {
      g_free (label);
      label = g_strdup_printf ("loading %s (%.1f MB)", base, st.st_size / 1e6);
    }
    activity = glia_cli_progress_new (label, 0, TRUE);
  }
  return glia_model_new_from_file (path, error);
}

GHashTable *
glia_cli_prepare_inputs (GliaModel *model, char **specs, GHashTable *dims, GHashTable **generated,
                         GError **error)
{
  if (!glia_cli_check_dims (model, dims, error))
    return NULL;
  g_autoptr (GHashTable) inputs = glia_cli_read_inputs (model, specs, error);
  if (inputs == NULL)
    return NULL;
  glia_cli_bind_dims_from_inputs (model, inputs, dims);

  g_autoptr (GHashTable) gen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto (GStrv) names = glia_model_get_input_names (model);
  for (guint i = 0; names[i] != NULL; i++) {
    if (g_hash_table_contains (inputs, names[i]))
      continue;
    GliaTensor *tensor = glia_cli_make_input (model, names[i], i, dims, error);
    if (tensor == NULL)
      return NULL;
    g_hash_table_insert (inputs, g_strdup (names[i]), tensor);
    g_hash_table_add (gen, g_strdup (names[i]));
  }
  *generated = g_steal_pointer (&gen);
  return g_steal_pointer (&inputs);
}

char *
glia_cli_describe_tensor (GliaTensor *tensor)
{
  guint rank = 0;
  const gint64 *shape = glia_tensor_get_shape (tensor, &rank);
  GString *s = g_string_new (glia_data_type_get_name (glia_tensor_get_dtype (tensor)));
  g_string_append_c (s, '[');
  for (guint i = 0; i < rank; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

void
glia_cli_print_json (JsonNode *root)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, root);
  g_autofree char *text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);
}
