/* glia-cmd-bench.c: `glia bench MODEL`, how long a session takes to create
 * and to run: warmup runs, then timed runs, reported as nearest-rank
 * percentiles, mean and minimum, with the process's peak resident memory.
 * --json also gives the time the model took to load and every run's latency
 * (latencies_ms, in run order), for benchmark drivers such as
 * tests/benchmarks/run-benchmark.py.
 *
 * Inputs not given with --input are generated deterministically
 * (glia_cli_make_input()), so a benchmark needs nothing but the model; their
 * symbolic dimensions come from --dim, else from a given input that has the
 * same symbol, else 1.
 */
#include "glia-cli.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct
{
  GliaCliSessionArgs session;
  gint runs;
  gint warmup;
  gboolean json;
  char **inputs;
  char **dims;
  char *profile;
} BenchArgs;

typedef struct
{
  double p50, p90, p99, mean, min, max;
} Latency;

/* Run latencies are often a few microseconds, finer than
 * g_get_monotonic_time() resolves, so runs are timed in nanoseconds. */
static gint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64)ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static Latency
summarize (double *ms, guint n)
{
  qsort (ms, n, sizeof (double), compare_doubles);
  double sum = 0;
  for (guint i = 0; i < n; i++)
    sum += ms[i];
  return (Latency){
    .p50 = glia_cli_percentile (ms, n, 50),
    .p90 = glia_cli_percentile (ms, n, 90),
    .p99 = glia_cli_percentile (ms, n, 99),
    .mean = sum / n,
    .min = ms[0],
    .max = ms[n - 1],
  };
}

static glong
peak_rss_kb (void)
{
  struct rusage usage;
  if (getrusage (RUSAGE_SELF, &usage) != 0)
    return -1;
  return usage.ru_maxrss; /* kilobytes on Linux */
}

/* What one benchmark measured, besides the latencies. */
typedef struct
{
  guint threads;
  guint level;
  double load_ms;   /* reading and parsing the model file */
  double create_ms; /* glia_session_new() */
  glong rss_kb;
  const double *run_ms; /* every timed run, in order */
} Measures;

static void
print_text (GliaModel *model, char **providers, GHashTable *inputs, GHashTable *generated,
            const BenchArgs *args, const Measures *m, const Latency *latency)
{
  g_autofree char *provider_list = g_strjoinv (", ", providers);
  g_auto (GStrv) names = glia_model_get_input_names (model);
  printf ("model:            %s\n", glia_model_get_path (model));
  printf ("providers:        %s\n", provider_list);
  printf ("threads:          %u\n", m->threads);
  printf ("optimization:     level %u\n", m->level);
  for (guint i = 0; names[i] != NULL; i++) {
    g_autofree char *description
        = glia_cli_describe_tensor (g_hash_table_lookup (inputs, names[i]));
    printf ("%-18s%s %s%s\n", i == 0 ? "inputs:" : "", names[i], description,
            g_hash_table_contains (generated, names[i]) ? " (generated)" : "");
  }
  printf ("model load:       %.3f ms\n", m->load_ms);
  printf ("session creation: %.3f ms\n", m->create_ms);
  printf ("runs:             %d (after %d warmup)\n", args->runs, args->warmup);
  printf ("latency (ms):     p50 %.4f  p90 %.4f  p99 %.4f  mean %.4f  min %.4f  max %.4f\n",
          latency->p50, latency->p90, latency->p99, latency->mean, latency->min, latency->max);
  printf ("peak RSS:         %ld kB\n", m->rss_kb);
}

static void
add_double (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
print_json (GliaModel *model, char **providers, GHashTable *inputs, GHashTable *generated,
            const BenchArgs *args, const Measures *m, const Latency *latency)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, glia_model_get_path (model));
  json_builder_set_member_name (b, "providers");
  json_builder_begin_array (b);
  for (guint i = 0; providers[i] != NULL; i++)
    json_builder_add_string_value (b, providers[i]);
  json_builder_end_array (b);
  add_int (b, "threads", m->threads);
  add_int (b, "optimization_level", m->level);
  add_int (b, "runs", args->runs);
  add_int (b, "warmup", args->warmup);
  add_double (b, "model_load_ms", m->load_ms);
  add_double (b, "session_create_ms", m->create_ms);
  add_double (b, "p50_ms", latency->p50);
  add_double (b, "p90_ms", latency->p90);
  add_double (b, "p99_ms", latency->p99);
  add_double (b, "mean_ms", latency->mean);
  add_double (b, "min_ms", latency->min);
  add_double (b, "max_ms", latency->max);
  add_int (b, "peak_rss_kb", m->rss_kb);
  json_builder_set_member_name (b, "latencies_ms");
  json_builder_begin_array (b);
  for (gint i = 0; i < args->runs; i++)
    json_builder_add_double_value (b, m->run_ms[i]);
  json_builder_end_array (b);

  json_builder_set_member_name (b, "inputs");
  json_builder_begin_array (b);
  g_auto (GStrv) names = glia_model_get_input_names (model);
  for (guint i = 0; names[i] != NULL; i++) {
    GliaTensor *tensor = g_hash_table_lookup (inputs, names[i]);
    guint rank = 0;
    const gint64 *shape = glia_tensor_get_shape (tensor, &rank);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, names[i]);
    json_builder_set_member_name (b, "dtype");
    json_builder_add_string_value (b, glia_data_type_get_name (glia_tensor_get_dtype (tensor)));
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (guint k = 0; k < rank; k++)
      json_builder_add_int_value (b, shape[k]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "generated");
    json_builder_add_boolean_value (b, g_hash_table_contains (generated, names[i]));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  glia_cli_print_json (root);
}

static int
bench (const char *model_path, BenchArgs *args)
{
  if (args->runs < 1)
    return glia_cli_usage_error ("bench", "--runs %d: must be 1 or more", args->runs);
  if (args->warmup < 0)
    return glia_cli_usage_error ("bench", "--warmup %d: must be 0 or more", args->warmup);
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSessionOptions) options = glia_cli_session_args_build (&args->session, &error);
  g_autoptr (GHashTable) dims = options ? glia_cli_parse_dims (args->dims, &error) : NULL;
  if (options == NULL || dims == NULL
      || !glia_cli_check_assignments (args->inputs, "--input", "NAME=FILE.npy", &error))
    return glia_cli_usage_error ("bench", "%s", error->message);

  gint64 load_start = g_get_monotonic_time ();
  g_autoptr (GliaModel) model = glia_cli_load_model (model_path, !args->json, &error);
  double load_ms = (g_get_monotonic_time () - load_start) / 1000.0;
  if (model == NULL)
    return glia_cli_fail (error);
  g_autoptr (GHashTable) generated = NULL;
  g_autoptr (GHashTable) inputs
      = glia_cli_prepare_inputs (model, args->inputs, dims, &generated, &error);
  if (inputs == NULL)
    return glia_cli_fail (error);

  if (args->profile)
    glia_session_options_set_profiling (options, TRUE);
  gint64 start = g_get_monotonic_time ();
  g_autoptr (GliaSession) session = glia_session_new (model, options, &error);
  double create_ms = (g_get_monotonic_time () - start) / 1000.0;
  if (session == NULL)
    return glia_cli_fail (error);

  /* on a terminal only, updated between runs, outside the timed region */
  g_autoptr (GliaCliProgress) progress
      = glia_cli_progress_new ("bench", args->warmup + args->runs, !args->json);
  for (gint i = 0; i < args->warmup; i++) {
    g_autoptr (GHashTable) outputs = glia_session_run (session, inputs, &error);
    if (outputs == NULL)
      return glia_cli_fail (error);
    glia_cli_progress_update (progress, i + 1);
  }
  g_autofree double *ms = g_new (double, args->runs);
  g_autofree double *sorted = g_new (double, args->runs);
  for (gint i = 0; i < args->runs; i++) {
    gint64 t0 = now_ns ();
    GHashTable *outputs = glia_session_run (session, inputs, &error);
    ms[i] = (now_ns () - t0) / 1e6;
    if (outputs == NULL)
      return glia_cli_fail (error);
    g_hash_table_unref (outputs);
    glia_cli_progress_update (progress, args->warmup + i + 1);
  }
  g_clear_pointer (&progress, glia_cli_progress_free);
  if (args->profile && !glia_session_write_profile (session, args->profile, &error)) {
    g_prefix_error (&error, "--profile: ");
    return glia_cli_fail (error);
  }
  memcpy (sorted, ms, args->runs * sizeof (double));
  Latency latency = summarize (sorted, args->runs);
  g_auto (GStrv) providers = glia_session_get_providers (session);
  Measures m = {
    .threads = glia_cli_session_args_get_threads (&args->session),
    .level = glia_session_options_get_optimization_level (options),
    .load_ms = load_ms,
    .create_ms = create_ms,
    .rss_kb = peak_rss_kb (),
    .run_ms = ms,
  };

  if (args->json)
    print_json (model, providers, inputs, generated, args, &m, &latency);
  else
    print_text (model, providers, inputs, generated, args, &m, &latency);
  return GLIA_CLI_EXIT_OK;
}

int
glia_cli_cmd_bench (int argc, char **argv)
{
  BenchArgs args = { .runs = 50, .warmup = 5 };
  const GOptionEntry entries[] = {
    { "runs", 'n', 0, G_OPTION_ARG_INT, &args.runs, "Timed runs (default: 50)", "N" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &args.warmup, "Untimed runs before them (default: 5)",
      "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &args.json,
      "Print one JSON object, with every run's latency in latencies_ms", NULL },
    { "input", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &args.inputs,
      "Feed model input NAME from an .npy file instead of generated data", "NAME=FILE.npy" },
    { "dim", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &args.dims,
      "Size of the symbolic dimension SYMBOL in generated inputs (default: 1)", "SYMBOL=VALUE" },
    { "profile", 0, 0, G_OPTION_ARG_FILENAME, &args.profile,
      "Write a Chrome trace-event JSON of every run, warmup included (one event per node; "
      "timing each node adds a little to the latencies)",
      "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = glia_cli_option_context_new (
      "bench", "MODEL",
      "Measures how long loading MODEL and creating a session for it take, then runs\n"
      "it --warmup times untimed and --runs times timed, and prints the p50, p90 and\n"
      "p99 latencies (nearest rank), the mean, minimum and maximum in milliseconds,\n"
      "and the peak resident memory of the process. --json adds every run's latency.\n"
      "\n"
      "Inputs not given with --input are generated, the same on every run: floats\n"
      "uniform in [-1, 1), integers in [0, 10), booleans alternating. A symbolic\n"
      "dimension takes its size from --dim, else from a given input with the same\n"
      "symbol, else 1.");
  g_option_context_add_main_entries (context, entries, NULL);
  glia_cli_session_args_add_entries (&args.session, context);

  int status;
  if (!glia_cli_option_context_parse (context, "bench", &argc, &argv))
    status = GLIA_CLI_EXIT_USAGE;
  else if (argc < 2)
    status = glia_cli_usage_error ("bench", "no MODEL given");
  else if (argc > 2)
    status = glia_cli_usage_error ("bench", "unexpected argument '%s'", argv[2]);
  else
    status = bench (argv[1], &args);
  glia_cli_session_args_clear (&args.session);
  g_strfreev (args.inputs);
  g_free (args.profile);
  g_strfreev (args.dims);
  return status;
}
