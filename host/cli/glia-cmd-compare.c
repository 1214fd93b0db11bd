/* glia-cmd-compare.c: `glia compare MODEL --ep A --ep B`, whether two (or
 * more) session configurations compute the same outputs on the same inputs,
 * so that a user can trust a swap of execution providers or optimization
 * levels.
 *
 * Each configuration is an --ep provider list and an optimization level
 * (--level, given once for all or once per configuration). The last
 * configuration is the reference; every other one is run on the same inputs
 * and each of its outputs is compared with the reference's, element by
 * element, in double precision:
 *
 *   abs diff = |x - ref|,  rel diff = |x - ref| / |ref| (elements with ref != 0)
 *
 * An output passes when its dtype and shape are the reference's and every
 * element has |x - ref| <= atol + rtol * |ref| (numpy.allclose), NaN matching
 * only NaN and an infinity only the same infinity. Integer, boolean and
 * string outputs must be equal. With --reference OUTPUT=FILE.npy the
 * reference is read from files instead, and every configuration is compared
 * with them.
 *
 * Inputs not given with --input are generated deterministically, as `glia
 * bench` does. With --runs N every configuration runs N times and the
 * largest differences over the runs are reported, so a nondeterministic
 * provider shows up too.
 */
#include "glia-cli.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  char **eps;    /* --ep, repeatable */
  char **levels; /* --level, repeatable */
  gint threads;
  gboolean no_fallback;
  char **options;
  char **inputs;
  char **dims;
  char **references;
  gint runs;
  double atol, rtol;
  gboolean json;
} CompareArgs;

/* One session configuration. */
typedef struct
{
  char *label;
  char *providers; /* NULL: the default providers */
  gint level;      /* -1: the default level */
} Config;

/* How one output of one configuration compares with the reference. */
typedef struct
{
  char *output;
  guint config;
  double max_abs, max_rel;
  gsize n_mismatches; /* elements outside the tolerance */
  gsize n_elements;
  char *problem;   /* a dtype or shape mismatch, else NULL */
  gboolean repeat; /* the reference's later runs against its first */
} Diff;

static void
diff_clear (gpointer data)
{
  Diff *d = data;
  g_free (d->output);
  g_free (d->problem);
}

static void
config_clear (gpointer data)
{
  Config *c = data;
  g_free (c->label);
  g_free (c->providers);
}

/* ---- element access ---------------------------------------------------- */

static double
half_to_double (guint16 h)
{
  int exponent = (h >> 10) & 0x1f;
  int mantissa = h & 0x3ff;
  double value;
  if (exponent == 0)
    value = ldexp (mantissa, -24);
  else if (exponent == 31)
    value = mantissa ? NAN : INFINITY;
  else
    value = ldexp (mantissa | 0x400, exponent - 25);
  return (h & 0x8000) ? -value : value;
}

static double
bfloat16_to_double (guint16 b)
{
  guint32 bits = (guint32)b << 16;
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

static gboolean
is_float_type (GliaDataType dtype)
{
  return dtype == GLIA_DATA_TYPE_FLOAT || dtype == GLIA_DATA_TYPE_DOUBLE
         || dtype == GLIA_DATA_TYPE_FLOAT16 || dtype == GLIA_DATA_TYPE_BFLOAT16
         || dtype == GLIA_DATA_TYPE_COMPLEX64 || dtype == GLIA_DATA_TYPE_COMPLEX128;
}

/* Scalars per element: complex numbers compare their two parts. */
static guint
scalars_per_element (GliaDataType dtype)
{
  return dtype == GLIA_DATA_TYPE_COMPLEX64 || dtype == GLIA_DATA_TYPE_COMPLEX128 ? 2 : 1;
}

/* Scalar @i of @data, of @dtype (not a string type), as a double. */
static double
scalar_at (GliaDataType dtype, const guint8 *data, gsize i)
{
  switch (dtype) {
  case GLIA_DATA_TYPE_FLOAT:
  case GLIA_DATA_TYPE_COMPLEX64: {
    float v;
    memcpy (&v, data + 4 * i, 4);
    return v;
  }
  case GLIA_DATA_TYPE_DOUBLE:
  case GLIA_DATA_TYPE_COMPLEX128: {
    double v;
    memcpy (&v, data + 8 * i, 8);
    return v;
  }
  case GLIA_DATA_TYPE_FLOAT16:
  case GLIA_DATA_TYPE_BFLOAT16: {
    guint16 v;
    memcpy (&v, data + 2 * i, 2);
    return dtype == GLIA_DATA_TYPE_FLOAT16 ? half_to_double (v) : bfloat16_to_double (v);
  }
  case GLIA_DATA_TYPE_BOOL:
  case GLIA_DATA_TYPE_UINT8:
    return data[i];
  case GLIA_DATA_TYPE_INT8:
    return (gint8)data[i];
  case GLIA_DATA_TYPE_UINT16: {
    guint16 v;
    memcpy (&v, data + 2 * i, 2);
    return v;
  }
  case GLIA_DATA_TYPE_INT16: {
    gint16 v;
    memcpy (&v, data + 2 * i, 2);
    return v;
  }
  case GLIA_DATA_TYPE_UINT32: {
    guint32 v;
    memcpy (&v, data + 4 * i, 4);
    return v;
  }
  case GLIA_DATA_TYPE_INT32: {
    gint32 v;
    memcpy (&v, data + 4 * i, 4);
    return v;
  }
  case GLIA_DATA_TYPE_UINT64: {
    guint64 v;
    memcpy (&v, data + 8 * i, 8);
    return (double)v;
  }
  case GLIA_DATA_TYPE_INT64: {
    gint64 v;
    memcpy (&v, data + 8 * i, 8);
    return (double)v;
  }
  case GLIA_DATA_TYPE_STRING:
  case GLIA_DATA_TYPE_UNDEFINED:
    break;
  }
  return NAN;
}

static gboolean
same_shape (GliaTensor *a, GliaTensor *b)
{
  guint rank_a = 0, rank_b = 0;
  const gint64 *shape_a = glia_tensor_get_shape (a, &rank_a);
  const gint64 *shape_b = glia_tensor_get_shape (b, &rank_b);
  return rank_a == rank_b && memcmp (shape_a, shape_b, rank_a * sizeof (gint64)) == 0;
}

/* Folds the comparison of @x with @ref into @d (which may already hold
 * those of earlier runs). */
static void
compare_tensors (GliaTensor *x, GliaTensor *ref, double atol, double rtol, Diff *d)
{
  if (d->problem != NULL)
    return;
  GliaDataType dtype = glia_tensor_get_dtype (ref);
  if (glia_tensor_get_dtype (x) != dtype || !same_shape (x, ref)) {
    g_autofree char *got = glia_cli_describe_tensor (x);
    g_autofree char *want = glia_cli_describe_tensor (ref);
    d->problem = g_strdup_printf ("%s, the reference is %s", got, want);
    return;
  }
  gsize n = glia_tensor_get_n_elements (ref);
  d->n_elements = n;

  if (dtype == GLIA_DATA_TYPE_STRING) {
    g_auto (GStrv) a = glia_tensor_get_strings (x);
    g_auto (GStrv) b = glia_tensor_get_strings (ref);
    gsize mismatches = 0;
    for (gsize i = 0; i < n && a != NULL && b != NULL; i++)
      mismatches += !g_str_equal (a[i], b[i]);
    d->n_mismatches = MAX (d->n_mismatches, mismatches);
    if (mismatches > 0)
      d->max_abs = d->max_rel = INFINITY;
    return;
  }

  gsize size_x = 0, size_ref = 0;
  const guint8 *a = glia_tensor_peek_data (x, &size_x);
  const guint8 *b = glia_tensor_peek_data (ref, &size_ref);
  gsize n_scalars = n * scalars_per_element (dtype);
  gboolean exact = !is_float_type (dtype);
  gsize mismatches = 0;
  for (gsize i = 0; i < n_scalars; i++) {
    double u = scalar_at (dtype, a, i), v = scalar_at (dtype, b, i);
    double abs_diff, rel_diff;
    gboolean ok;
    if (isnan (u) || isnan (v)) {
      ok = isnan (u) && isnan (v);
      abs_diff = rel_diff = ok ? 0 : INFINITY;
    } else if (isinf (u) || isinf (v)) {
      ok = u == v;
      abs_diff = rel_diff = ok ? 0 : INFINITY;
    } else {
      abs_diff = fabs (u - v);
      rel_diff = v != 0 ? abs_diff / fabs (v) : 0;
      ok = exact ? abs_diff == 0 : abs_diff <= atol + rtol * fabs (v);
    }
    d->max_abs = MAX (d->max_abs, abs_diff);
    d->max_rel = MAX (d->max_rel, rel_diff);
    mismatches += !ok;
  }
  d->n_mismatches = MAX (d->n_mismatches, mismatches);
}

static gboolean
diff_passes (const Diff *d)
{
  return d->problem == NULL && d->n_mismatches == 0;
}

/* ---- configurations and inputs ----------------------------------------- */

static gboolean
parse_level (const char *text, gint *level, GError **error)
{
  guint64 value;
  if (!g_ascii_string_to_unsigned (text, 10, 0, 3, &value, NULL)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "--level %s: must be a whole number from 0 to 3", text);
    return FALSE;
  }
  *level = (gint)value;
  return TRUE;
}

/* The configurations that @args describe; %NULL with @error set if their
 * number does not add up. */
static GArray *
make_configs (const CompareArgs *args, GError **error)
{
  guint n_eps = args->eps ? g_strv_length (args->eps) : 0;
  guint n_levels = args->levels ? g_strv_length (args->levels) : 0;
  guint n = MAX (MAX (n_eps, n_levels), 1);
  if ((n_eps > 1 && n_eps != n) || (n_levels > 1 && n_levels != n)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "--ep is given %u times and --level %u times: give each once for every "
                 "configuration, or once for all",
                 n_eps, n_levels);
    return NULL;
  }
  if (n < 2 && args->references == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "nothing to compare: give --ep (or --level) at least twice, e.g. --ep onednn "
                 "--ep cpu, or the reference outputs with --reference");
    return NULL;
  }

  g_autoptr (GArray) configs = g_array_new (FALSE, TRUE, sizeof (Config));
  g_array_set_clear_func (configs, config_clear);
  for (guint i = 0; i < n; i++) {
    Config c = { .level = -1 };
    if (n_eps > 0)
      c.providers = g_strdup (args->eps[n_eps == 1 ? 0 : i]);
    if (n_levels > 0 && !parse_level (args->levels[n_levels == 1 ? 0 : i], &c.level, error))
      return NULL;
    if (n_levels > 1)
      c.label = g_strdup_printf ("%s (level %d)", c.providers ? c.providers : "default", c.level);
    else
      c.label = g_strdup (c.providers ? c.providers : "default");
    g_array_append_val (configs, c);
  }
  return g_steal_pointer (&configs);
}

static GliaSessionOptions *
config_build_options (const CompareArgs *args, const Config *config, GError **error)
{
  GliaCliSessionArgs session = {
    .providers = config->providers,
    .threads = args->threads,
    .no_fallback = args->no_fallback,
    .options = args->options,
  };
  GliaSessionOptions *options = glia_cli_session_args_build (&session, error);
  if (options != NULL && config->level >= 0)
    glia_session_options_set_optimization_level (options, (guint)config->level);
  return options;
}

/* Reads --reference OUTPUT=FILE.npy into a table output name → tensor. */
static GHashTable *
read_references (GliaModel *model, char **specs, GError **error)
{
  g_autoptr (GHashTable) refs
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  g_auto (GStrv) outputs = glia_model_get_output_names (model);
  for (guint i = 0; specs != NULL && specs[i] != NULL; i++) {
    g_autofree char *name = NULL, *path = NULL;
    if (!glia_cli_split_assignment (specs[i], "--reference", "OUTPUT=FILE.npy", &name, &path,
                                    error))
      return NULL;
    if (!g_strv_contains ((const char *const *)outputs, name)) {
      g_autofree char *list = g_strjoinv (", ", outputs);
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_NOT_FOUND,
                   "--reference %s: the model has no output '%s' (outputs: %s)", specs[i], name,
                   list);
      return NULL;
    }
    GliaTensor *tensor = glia_tensor_new_from_npy_file (path, error);
    if (tensor == NULL) {
      g_prefix_error (error, "reference '%s': ", name);
      return NULL;
    }
    g_hash_table_replace (refs, g_steal_pointer (&name), tensor);
  }
  return g_steal_pointer (&refs);
}

/* Runs @config @runs times and folds each run's outputs into @diffs against
 * @reference (when @reference is NULL the first run becomes it, returned in
 * @first_outputs, and later runs are compared with it). */
static gboolean
run_config (GliaModel *model, const CompareArgs *args, const Config *config, guint index,
            GHashTable *inputs, GHashTable *reference, GHashTable **first_outputs, GArray *diffs,
            GError **error)
{
  g_autoptr (GliaSessionOptions) options = config_build_options (args, config, error);
  if (options == NULL)
    return FALSE;
  g_autoptr (GliaSession) session = glia_session_new (model, options, error);
  if (session == NULL) {
    g_prefix_error (error, "--ep %s: ", config->label);
    return FALSE;
  }
  g_auto (GStrv) names = glia_model_get_output_names (model);
  for (gint run = 0; run < args->runs; run++) {
    g_autoptr (GHashTable) outputs = glia_session_run (session, inputs, error);
    if (outputs == NULL) {
      g_prefix_error (error, "--ep %s: ", config->label);
      return FALSE;
    }
    for (guint k = 0; names[k] != NULL; k++) {
      GliaTensor *x = g_hash_table_lookup (outputs, names[k]);
      if (x != NULL && glia_tensor_get_device (x) != GLIA_DEVICE_TYPE_CPU) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE,
                     "--ep %s: output '%s' is in device memory", config->label, names[k]);
        return FALSE;
      }
    }
    GHashTable *against = reference;
    if (against == NULL && run == 0) {
      *first_outputs = g_hash_table_ref (outputs);
      continue;
    }
    if (against == NULL)
      against = *first_outputs;
    for (guint k = 0; names[k] != NULL; k++) {
      GliaTensor *ref = g_hash_table_lookup (against, names[k]);
      GliaTensor *x = g_hash_table_lookup (outputs, names[k]);
      if (ref == NULL || x == NULL)
        continue; /* an output with no --reference file */
      Diff *d = NULL;
      for (guint j = 0; j < diffs->len && d == NULL; j++) {
        Diff *e = &g_array_index (diffs, Diff, j);
        if (e->config == index && g_str_equal (e->output, names[k]))
          d = e;
      }
      if (d == NULL) {
        Diff fresh
            = { .output = g_strdup (names[k]), .config = index, .repeat = reference == NULL };
        g_array_append_val (diffs, fresh);
        d = &g_array_index (diffs, Diff, diffs->len - 1);
      }
      compare_tensors (x, ref, args->atol, args->rtol, d);
    }
  }
  return TRUE;
}

/* ---- printing ----------------------------------------------------------- */

/* What a row of the table compares. */
static char *
row_label (GArray *configs, const Diff *d)
{
  const char *label = g_array_index (configs, Config, d->config).label;
  return d->repeat ? g_strdup_printf ("%s (runs 2+)", label) : g_strdup (label);
}

static void
print_text (GliaModel *model, GHashTable *inputs, GHashTable *generated, GArray *configs,
            gboolean from_files, GArray *diffs, const CompareArgs *args, gboolean pass)
{
  printf ("model:     %s\n", glia_model_get_path (model));
  g_auto (GStrv) names = glia_model_get_input_names (model);
  for (guint i = 0; names[i] != NULL; i++) {
    g_autofree char *description
        = glia_cli_describe_tensor (g_hash_table_lookup (inputs, names[i]));
    printf ("%-11s%s %s%s\n", i == 0 ? "inputs:" : "", names[i], description,
            g_hash_table_contains (generated, names[i]) ? " (generated)" : "");
  }
  if (from_files)
    printf ("reference: --reference files\n");
  else
    printf ("reference: %s\n", g_array_index (configs, Config, configs->len - 1).label);
  printf ("runs:      %d per configuration\n", args->runs);
  printf ("tolerance: |x - ref| <= %g + %g * |ref|\n\n", args->atol, args->rtol);

  guint width_output = strlen ("output"), width_config = strlen ("configuration");
  for (guint i = 0; i < diffs->len; i++) {
    const Diff *d = &g_array_index (diffs, Diff, i);
    width_output = MAX (width_output, g_utf8_strlen (d->output, -1));
    g_autofree char *label = row_label (configs, d);
    width_config = MAX (width_config, g_utf8_strlen (label, -1));
  }
  printf ("%-*s  %-*s  %12s  %12s  %s\n", width_output, "output", width_config, "configuration",
          "max abs diff", "max rel diff", "result");
  for (guint i = 0; i < diffs->len; i++) {
    const Diff *d = &g_array_index (diffs, Diff, i);
    g_autofree char *label = row_label (configs, d);
    if (d->problem != NULL) {
      printf ("%-*s  %-*s  %12s  %12s  FAIL: %s\n", width_output, d->output, width_config, label,
              "-", "-", d->problem);
      continue;
    }
    printf ("%-*s  %-*s  %12.4g  %12.4g  ", width_output, d->output, width_config, label,
            d->max_abs, d->max_rel);
    if (diff_passes (d))
      printf ("PASS\n");
    else
      printf ("FAIL: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " elements differ\n", d->n_mismatches,
              d->n_elements);
  }
  printf ("\n%s\n", pass ? "PASS" : "FAIL");
}

/* JSON has no infinities: those are written as null. */
static void
add_number (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  if (isfinite (value))
    json_builder_add_double_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
print_json (GliaModel *model, GArray *configs, gboolean from_files, GArray *diffs,
            const CompareArgs *args, gboolean pass)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, glia_model_get_path (model));
  json_builder_set_member_name (b, "configurations");
  json_builder_begin_array (b);
  for (guint i = 0; i < configs->len; i++) {
    const Config *c = &g_array_index (configs, Config, i);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "label");
    json_builder_add_string_value (b, c->label);
    json_builder_set_member_name (b, "providers");
    if (c->providers)
      json_builder_add_string_value (b, c->providers);
    else
      json_builder_add_null_value (b);
    json_builder_set_member_name (b, "level");
    if (c->level >= 0)
      json_builder_add_int_value (b, c->level);
    else
      json_builder_add_null_value (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "reference");
  if (from_files)
    json_builder_add_string_value (b, "files");
  else
    json_builder_add_string_value (b, g_array_index (configs, Config, configs->len - 1).label);
  json_builder_set_member_name (b, "runs");
  json_builder_add_int_value (b, args->runs);
  add_number (b, "atol", args->atol);
  add_number (b, "rtol", args->rtol);
  json_builder_set_member_name (b, "outputs");
  json_builder_begin_array (b);
  for (guint i = 0; i < diffs->len; i++) {
    const Diff *d = &g_array_index (diffs, Diff, i);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, d->output);
    json_builder_set_member_name (b, "configuration");
    json_builder_add_string_value (b, g_array_index (configs, Config, d->config).label);
    json_builder_set_member_name (b, "repeat");
    json_builder_add_boolean_value (b, d->repeat);
    add_number (b, "max_abs_diff", d->problem ? NAN : d->max_abs);
    add_number (b, "max_rel_diff", d->problem ? NAN : d->max_rel);
    json_builder_set_member_name (b, "mismatches");
    json_builder_add_int_value (b, d->n_mismatches);
    json_builder_set_member_name (b, "elements");
    json_builder_add_int_value (b, d->n_elements);
    json_builder_set_member_name (b, "problem");
    if (d->problem)
      json_builder_add_string_value (b, d->problem);
    else
      json_builder_add_null_value (b);
    json_builder_set_member_name (b, "pass");
    json_builder_add_boolean_value (b, diff_passes (d));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "pass");
  json_builder_add_boolean_value (b, pass);
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  glia_cli_print_json (root);
}

/* ---- the command -------------------------------------------------------- */

static int
compare (const char *model_path, CompareArgs *args)
{
  if (args->runs < 1)
    return glia_cli_usage_error ("compare", "--runs %d: must be 1 or more", args->runs);
  if (!(args->atol >= 0) || !(args->rtol >= 0))
    return glia_cli_usage_error ("compare", "--atol and --rtol must be 0 or more");
  if (args->threads < 0)
    return glia_cli_usage_error ("compare", "--threads %d: must be 0 (one per core) or more",
                                 args->threads);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) configs = make_configs (args, &error);
  g_autoptr (GHashTable) dims = configs ? glia_cli_parse_dims (args->dims, &error) : NULL;
  if (configs == NULL || dims == NULL
      || !glia_cli_check_assignments (args->inputs, "--input", "NAME=FILE.npy", &error)
      || !glia_cli_check_assignments (args->references, "--reference", "OUTPUT=FILE.npy", &error))
    return glia_cli_usage_error ("compare", "%s", error->message);
  /* Malformed provider lists and options are usage errors, found before
   * anything runs. */
  for (guint i = 0; i < configs->len; i++) {
    g_autoptr (GliaSessionOptions) options
        = config_build_options (args, &g_array_index (configs, Config, i), &error);
    if (options == NULL)
      return glia_cli_usage_error ("compare", "%s", error->message);
  }

  g_autoptr (GliaModel) model = glia_model_new_from_file (model_path, &error);
  if (model == NULL)
    return glia_cli_fail (error);
  g_autoptr (GHashTable) generated = NULL;
  g_autoptr (GHashTable) inputs
      = glia_cli_prepare_inputs (model, args->inputs, dims, &generated, &error);
  if (inputs == NULL)
    return glia_cli_fail (error);

  gboolean from_files = args->references != NULL;
  g_autoptr (GHashTable) reference = NULL;
  if (from_files) {
    reference = read_references (model, args->references, &error);
    if (reference == NULL)
      return glia_cli_fail (error);
  }

  g_autoptr (GArray) diffs = g_array_new (FALSE, TRUE, sizeof (Diff));
  g_array_set_clear_func (diffs, diff_clear);
  /* The reference configuration runs first; its later runs are compared
   * with its first. */
  guint last = configs->len - 1;
  if (!from_files) {
    if (!run_config (model, args, &g_array_index (configs, Config, last), last, inputs, NULL,
                     &reference, diffs, &error))
      return glia_cli_fail (error);
  }
  for (guint i = 0; i < (from_files ? configs->len : last); i++) {
    g_autoptr (GHashTable) first = NULL;
    if (!run_config (model, args, &g_array_index (configs, Config, i), i, inputs, reference, &first,
                     diffs, &error))
      return glia_cli_fail (error);
  }
  if (diffs->len == 0) {
    glia_cli_print_error ("no output was compared");
    return GLIA_CLI_EXIT_ERROR;
  }

  gboolean pass = TRUE;
  for (guint i = 0; i < diffs->len; i++)
    pass = pass && diff_passes (&g_array_index (diffs, Diff, i));
  if (args->json)
    print_json (model, configs, from_files, diffs, args, pass);
  else
    print_text (model, inputs, generated, configs, from_files, diffs, args, pass);
  return pass ? GLIA_CLI_EXIT_OK : GLIA_CLI_EXIT_ERROR;
}

int
glia_cli_cmd_compare (int argc, char **argv)
{
  CompareArgs args = { .runs = 1, .atol = 1e-5, .rtol = 1e-5 };
  const GOptionEntry entries[] = {
    { "ep", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args.eps,
      "A configuration's execution providers, comma-separated, preferred first (repeat: one "
      "per configuration; the last is the reference)",
      "LIST" },
    { "level", 'O', 0, G_OPTION_ARG_STRING_ARRAY, &args.levels,
      "Graph optimization level 0 to 3, once for all configurations or once for each", "N" },
    { "reference", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &args.references,
      "Compare with reference outputs read from .npy files instead of the last configuration",
      "OUTPUT=FILE.npy" },
    { "input", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &args.inputs,
      "Feed model input NAME from an .npy file instead of generated data", "NAME=FILE.npy" },
    { "dim", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &args.dims,
      "Size of the symbolic dimension SYMBOL in generated inputs (default: 1)", "SYMBOL=VALUE" },
    { "runs", 'n', 0, G_OPTION_ARG_INT, &args.runs,
      "Runs per configuration, every one compared (default: 1)", "N" },
    { "atol", 0, 0, G_OPTION_ARG_DOUBLE, &args.atol, "Absolute tolerance (default: 1e-5)", "X" },
    { "rtol", 0, 0, G_OPTION_ARG_DOUBLE, &args.rtol, "Relative tolerance (default: 1e-5)", "X" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &args.json, "Print one JSON object", NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &args.threads,
      "Threads for intra-op parallelism (default: one per core)", "N" },
    { "no-fallback", 0, 0, G_OPTION_ARG_NONE, &args.no_fallback,
      "Fail instead of running unclaimed nodes on the CPU provider", NULL },
    { "option", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args.options,
      "Set a provider option ep.<provider>.<key> (repeatable)", "KEY=VALUE" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = glia_cli_option_context_new (
      "compare", "MODEL",
      "Runs MODEL with each configuration (an --ep provider list and an optimization\n"
      "--level) on the same inputs and compares every output with the reference's,\n"
      "the last configuration's or the --reference files': the largest absolute\n"
      "difference |x - ref| and relative difference |x - ref| / |ref| (over elements\n"
      "with ref != 0). An output passes when every element has\n"
      "|x - ref| <= atol + rtol * |ref|, NaN matching only NaN; integer, boolean and\n"
      "string outputs must be equal. Exit status 0 when every output passes, 1 when\n"
      "one fails or a configuration cannot run, 2 on a usage error.\n"
      "\n"
      "Example: glia compare model.onnx --ep onednn,cpu --ep cpu\n"
      "\n"
      "Inputs not given with --input are generated, the same on every run, as\n"
      "'glia bench' does.");
  g_option_context_add_main_entries (context, entries, NULL);

  int status;
  if (!glia_cli_option_context_parse (context, "compare", &argc, &argv))
    status = GLIA_CLI_EXIT_USAGE;
  else if (argc < 2)
    status = glia_cli_usage_error ("compare", "no MODEL given");
  else if (argc > 2)
    status = glia_cli_usage_error ("compare", "unexpected argument '%s'", argv[2]);
  else
    status = compare (argv[1], &args);
  g_strfreev (args.eps);
  g_strfreev (args.levels);
  g_strfreev (args.options);
  g_strfreev (args.inputs);
  g_strfreev (args.dims);
  g_strfreev (args.references);
  return status;
}
