/* test-cli.c: tests of the `glia` command line tool.
 *
 * The tool is spawned as a user would run it (its path is argv[1]) and its
 * exit status, stdout and stderr are checked: real outputs of the digits
 * model compared with the references numpy computed, JSON parsed with
 * json-glib, and each error case checked for the status and for naming what
 * is wrong. The helpers of glia-cli-common.c (file name sanitizing,
 * percentiles, generated inputs) are compiled in and tested directly.
 */
#include "glia-cli.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

static const char *glia_cli_path;

typedef struct
{
  int status; /* exit status */
  char *out;
  char *err;
} Result;

static void
result_free (Result *r)
{
  g_free (r->out);
  g_free (r->err);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Result, result_free)

static Result *
glia_cli_valist (char **envp, const char *first, va_list args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *)glia_cli_path);
  for (const char *a = first; a != NULL; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *)a);
  g_ptr_array_add (argv, NULL);

  Result *r = g_new0 (Result, 1);
  int wait_status = 0;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, (char **)argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL, &r->out, &r->err,
                &wait_status, &error);
  g_assert_no_error (error);
  /* A crash is a test failure, not an exit status. */
  if (!g_spawn_check_wait_status (wait_status, &error)) {
    g_assert_true (g_error_matches (error, G_SPAWN_EXIT_ERROR, error->code));
    r->status = error->code;
  }
  if (g_test_verbose ())
    g_printerr ("status %d\n--- stdout\n%s--- stderr\n%s---\n", r->status, r->out, r->err);
  return r;
}

/* Runs the tool with the NULL-terminated arguments that follow. */
static Result *
glia_cli (const char *first, ...)
{
  va_list args;
  va_start (args, first);
  Result *r = glia_cli_valist (NULL, first, args);
  va_end (args);
  return r;
}

/* The same, with environment @envp. */
static Result *
glia_cli_env (char **envp, const char *first, ...)
{
  va_list args;
  va_start (args, first);
  Result *r = glia_cli_valist (envp, first, args);
  va_end (args);
  return r;
}

static char *
source_path (const char *relative)
{
  return g_build_filename (g_getenv ("GLIA_SOURCE_ROOT"), relative, NULL);
}

static char *
digits_model (void)
{
  return source_path ("models/digits/digits.onnx");
}

static char *
digits_pixels_arg (void)
{
  g_autofree char *pixels = source_path ("models/digits/heldout_pixels.npy");
  return g_strconcat ("pixels=", pixels, NULL);
}

/* Asserts a failure with @status whose single "glia: " message on stderr
 * mentions every string of the NULL-terminated list that follows. */
static void
assert_failure (Result *r, int status, const char *first, ...)
{
  g_assert_cmpint (r->status, ==, status);
  g_assert_true (g_str_has_prefix (r->err, "glia: "));
  va_list args;
  va_start (args, first);
  for (const char *s = first; s != NULL; s = va_arg (args, const char *))
    if (strstr (r->err, s) == NULL)
      g_error ("stderr does not mention '%s':\n%s", s, r->err);
  va_end (args);
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr (GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static char *
make_tmp_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("glia-test-cli-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir != NULL) {
    const char *name;
    while ((name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      remove_tree (child);
    }
    g_dir_close (dir);
  }
  g_remove (path);
}

/* ---- the tool ------------------------------------------------------------ */

static void
test_version (void)
{
  g_autoptr (Result) r = glia_cli ("--version", NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_autofree char *expected = g_strdup_printf ("glia %s\n", glia_get_version ());
  g_assert_cmpstr (r->out, ==, expected);
}

static void
test_help (void)
{
  const char *const commands[] = { "plugins", "inspect", "run", "bench" };
  g_autoptr (Result) help = glia_cli ("--help", NULL);
  g_assert_cmpint (help->status, ==, 0);
  g_autoptr (Result) help_command = glia_cli ("help", NULL);
  g_assert_cmpint (help_command->status, ==, 0);
  g_assert_cmpstr (help->out, ==, help_command->out);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_assert_nonnull (strstr (help->out, commands[i]));

  g_autoptr (Result) run_help = glia_cli ("run", "--help", NULL);
  g_assert_cmpint (run_help->status, ==, 0);
  g_assert_true (g_str_has_prefix (run_help->out, "Usage:\n  glia run [OPTION"));
  for (const char *const *o = (const char *const[]){ "--input", "--output-dir", "--ep", "--threads",
                                                     "--no-fallback", "--option", NULL };
       *o; o++)
    g_assert_nonnull (strstr (run_help->out, *o));
  g_autoptr (Result) help_run = glia_cli ("help", "run", NULL);
  g_assert_cmpint (help_run->status, ==, 0);
  g_assert_cmpstr (help_run->out, ==, run_help->out);

  g_autoptr (Result) bench_help = glia_cli ("bench", "--help", NULL);
  g_assert_cmpint (bench_help->status, ==, 0);
  for (const char *const *o = (const char *const[]){ "--runs", "--warmup", "--json", "--input",
                                                     "--dim", "--profile", NULL };
       *o; o++)
    g_assert_nonnull (strstr (bench_help->out, *o));
}

static void
test_usage_errors (void)
{
  g_autoptr (Result) none = glia_cli (NULL, NULL);
  g_assert_cmpint (none->status, ==, 2);
  g_assert_nonnull (strstr (none->err, "Usage:"));

  g_autoptr (Result) unknown = glia_cli ("frobnicate", NULL);
  assert_failure (unknown, 2, "frobnicate", NULL);
  g_autoptr (Result) unknown_help = glia_cli ("help", "frobnicate", NULL);
  assert_failure (unknown_help, 2, "frobnicate", NULL);
  g_autoptr (Result) option = glia_cli ("run", "--frobnicate", NULL);
  assert_failure (option, 2, "--frobnicate", "glia run --help", NULL);
  g_autoptr (Result) no_model = glia_cli ("inspect", NULL);
  assert_failure (no_model, 2, "MODEL", NULL);
  g_autoptr (Result) extra = glia_cli ("bench", "a.onnx", "b.onnx", NULL);
  assert_failure (extra, 2, "b.onnx", NULL);

  g_autofree char *model = digits_model ();
  g_autoptr (Result) threads = glia_cli ("bench", model, "--threads", "-3", NULL);
  assert_failure (threads, 2, "--threads", NULL);
  g_autoptr (Result) runs = glia_cli ("bench", model, "--runs", "0", NULL);
  assert_failure (runs, 2, "--runs", NULL);
  g_autoptr (Result) dim = glia_cli ("bench", model, "--dim", "N=many", NULL);
  assert_failure (dim, 2, "N=many", NULL);
  g_autoptr (Result) input = glia_cli ("run", model, "--input", "pixels", NULL);
  assert_failure (input, 2, "pixels", "NAME=FILE.npy", NULL);
  g_autoptr (Result) ep = glia_cli ("run", model, "--ep", ",", NULL);
  assert_failure (ep, 2, "--ep", NULL);
}

static void
test_plugins (void)
{
  g_autoptr (Result) r = glia_cli ("plugins", NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (strstr (r->out, "provider:cpu"));
  g_assert_nonnull (strstr (r->out, "loader:onnx"));
  /* GLIA_REGISTRY_CACHE is empty: no cache, so plugins are loaded to be known. */
  g_assert_nonnull (strstr (r->out, "status:      loaded"));
  g_assert_nonnull (strstr (r->out, "plugin ABI:  1."));

  g_autoptr (Result) j = glia_cli ("plugins", "--json", NULL);
  g_assert_cmpint (j->status, ==, 0);
  g_autoptr (JsonNode) root = parse_json (j->out);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));
  JsonArray *plugins = json_node_get_array (root);
  gboolean have_cpu = FALSE, have_onnx = FALSE;
  for (guint i = 0; i < json_array_get_length (plugins); i++) {
    JsonObject *p = json_array_get_object_element (plugins, i);
    JsonArray *features = json_object_get_array_member (p, "features");
    g_assert_nonnull (json_object_get_string_member (p, "path"));
    g_assert_true (json_object_has_member (p, "abi_major"));
    for (guint k = 0; k < json_array_get_length (features); k++) {
      const char *f = json_array_get_string_element (features, k);
      if (g_str_equal (f, "provider:cpu") || g_str_equal (f, "loader:onnx")) {
        g_assert_cmpstr (json_object_get_string_member (p, "status"), ==, "loaded");
        *(g_str_equal (f, "provider:cpu") ? &have_cpu : &have_onnx) = TRUE;
      }
    }
  }
  g_assert_true (have_cpu);
  g_assert_true (have_onnx);

  g_autoptr (Result) extra = glia_cli ("plugins", "cpu", NULL);
  assert_failure (extra, 2, "cpu", NULL);
}

static void
test_plugins_rejected (void)
{
  /* A file that looks like a plugin but is not a shared object. */
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *junk = g_build_filename (tmp, "libglia-junk.so", NULL);
  g_assert_true (g_file_set_contents (junk, "not an ELF file", -1, NULL));
  g_auto (GStrv) envp = g_environ_setenv (g_get_environ (), "GLIA_PLUGIN_PATH", tmp, TRUE);

  g_autoptr (Result) r = glia_cli_env (envp, "plugins", NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_autofree char *block = g_strdup_printf ("libglia-junk.so\n"
                                            "  status:      rejected\n"
                                            "  reason:      %s",
                                            junk);
  g_assert_nonnull (strstr (r->out, block));
  g_assert_nonnull (strstr (r->out, "provider:cpu")); /* the others are still there */

  g_autoptr (Result) j = glia_cli_env (envp, "plugins", "--json", NULL);
  g_assert_cmpint (j->status, ==, 0);
  g_autoptr (JsonNode) root = parse_json (j->out);
  JsonArray *plugins = json_node_get_array (root);
  gboolean found = FALSE;
  for (guint i = 0; i < json_array_get_length (plugins); i++) {
    JsonObject *p = json_array_get_object_element (plugins, i);
    if (g_strcmp0 (json_object_get_string_member (p, "path"), junk) != 0)
      continue;
    found = TRUE;
    g_assert_cmpstr (json_object_get_string_member (p, "status"), ==, "rejected");
    g_assert_nonnull (strstr (json_object_get_string_member (p, "error"), junk));
    g_assert_true (json_object_get_null_member (p, "abi_major"));
  }
  g_assert_true (found);
  remove_tree (tmp);
}

static void
compare_npy (const char *path, const char *reference, double tolerance)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaTensor) got = glia_tensor_new_from_npy_file (path, &error);
  g_assert_no_error (error);
  g_autoptr (GliaTensor) want = glia_tensor_new_from_npy_file (reference, &error);
  g_assert_no_error (error);

  g_assert_cmpint (glia_tensor_get_dtype (got), ==, glia_tensor_get_dtype (want));
  guint got_rank, want_rank;
  const gint64 *got_shape = glia_tensor_get_shape (got, &got_rank);
  const gint64 *want_shape = glia_tensor_get_shape (want, &want_rank);
  g_assert_cmpmem (got_shape, got_rank * sizeof (gint64), want_shape, want_rank * sizeof (gint64));

  if (tolerance == 0) {
    g_assert_true (glia_tensor_equal (got, want));
    return;
  }
  g_assert_cmpint (glia_tensor_get_dtype (got), ==, GLIA_DATA_TYPE_FLOAT);
  gsize n = glia_tensor_get_n_elements (got);
  const float *a = glia_tensor_peek_data (got, NULL);
  const float *b = glia_tensor_peek_data (want, NULL);
  double max_diff = 0;
  for (gsize i = 0; i < n; i++)
    max_diff = MAX (max_diff, fabs ((double)a[i] - b[i]));
  g_assert_cmpfloat (max_diff, <=, tolerance);
}

static void
test_run_digits (void)
{
  g_autofree char *model = digits_model ();
  g_autofree char *pixels = digits_pixels_arg ();
  g_autofree char *tmp = make_tmp_dir ();
  /* A folder that does not exist yet, two levels down. */
  g_autofree char *out_dir = g_build_filename (tmp, "out", "digits", NULL);

  g_autoptr (Result) r
      = glia_cli ("run", model, "--input", pixels, "--output-dir", out_dir, "--threads", "2", NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_true (g_str_has_prefix (r->out, "probabilities: float32[360,10] {"));
  g_assert_nonnull (strstr (r->out, "\nlabel: int64[360] {"));

  g_autofree char *probabilities = g_build_filename (out_dir, "probabilities.npy", NULL);
  g_autofree char *label = g_build_filename (out_dir, "label.npy", NULL);
  g_autofree char *ref_probabilities = source_path ("models/digits/ref_probabilities.npy");
  g_autofree char *ref_label = source_path ("models/digits/ref_label.npy");
  compare_npy (probabilities, ref_probabilities, 1e-5);
  compare_npy (label, ref_label, 0);

  /* Without --output-dir, nothing but the summary. */
  g_autoptr (Result) summary = glia_cli ("run", model, "-i", pixels, "--ep", "cpu", NULL);
  g_assert_cmpint (summary->status, ==, 0);
  g_assert_null (strstr (summary->out, "wrote"));
  g_assert_true (g_str_has_prefix (summary->out, "probabilities: float32[360,10] {"));

  remove_tree (tmp);
}

static void
test_inspect (void)
{
  g_autofree char *model = digits_model ();
  /* --level 0: the session runs the graph as loaded (no Gemm + Relu fusion) */
  g_autoptr (Result) r = glia_cli ("inspect", model, "--level", "0", NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (strstr (r->out, "Loader:  onnx"));
  g_assert_nonnull (strstr (r->out, "producer_name: "));
  g_assert_true (
      g_regex_match_simple ("^  pixels +float32\\[N,64\\]$", r->out, G_REGEX_MULTILINE, 0));
  g_assert_true (
      g_regex_match_simple ("^  probabilities +float32\\[N,10\\]$", r->out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^  label +int64\\[N\\]$", r->out, G_REGEX_MULTILINE, 0));
  /* The histogram is sorted by count: the two Gemms come first. */
  g_assert_true (g_regex_match_simple ("^Operators \\(6 nodes, 5 types\\):\n +2  Gemm\n", r->out,
                                       G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^  cpu +6$", r->out, G_REGEX_MULTILINE, 0));
  g_assert_nonnull (strstr (r->out, "  copies:    0\n"));
  /* Every node is listed with its provider. */
  for (const char *const *op
       = (const char *const[]){ "Mul", "Gemm", "Relu", "Softmax", "ArgMax", NULL };
       *op; op++) {
    g_autofree char *pattern = g_strdup_printf ("^ +[0-9]+  \\S+ +%s +cpu$", *op);
    g_assert_true (g_regex_match_simple (pattern, r->out, G_REGEX_MULTILINE, 0));
  }

  g_autoptr (Result) j = glia_cli ("inspect", model, "--json", "--ep", "cpu", "--level", "0", NULL);
  g_assert_cmpint (j->status, ==, 0);
  g_autoptr (JsonNode) root = parse_json (j->out);
  JsonObject *o = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (o, "loader"), ==, "onnx");
  JsonObject *input = json_array_get_object_element (json_object_get_array_member (o, "inputs"), 0);
  g_assert_cmpstr (json_object_get_string_member (input, "name"), ==, "pixels");
  g_assert_cmpstr (json_object_get_string_member (input, "dtype"), ==, "float32");
  JsonArray *shape = json_object_get_array_member (input, "shape");
  g_assert_cmpstr (json_array_get_string_element (shape, 0), ==, "N");
  g_assert_cmpint (json_array_get_int_element (shape, 1), ==, 64);
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (o, "outputs")), ==, 2);
  JsonObject *top
      = json_array_get_object_element (json_object_get_array_member (o, "operators"), 0);
  g_assert_cmpstr (json_object_get_string_member (top, "op"), ==, "Gemm");
  g_assert_cmpint (json_object_get_int_member (top, "count"), ==, 2);

  JsonObject *session = json_object_get_object_member (o, "session");
  g_assert_cmpint (json_object_get_int_member (session, "n_copies"), ==, 0);
  JsonArray *nodes = json_object_get_array_member (session, "nodes");
  g_assert_cmpint (json_array_get_length (nodes), ==, 6);
  for (guint i = 0; i < json_array_get_length (nodes); i++)
    g_assert_cmpstr (
        json_object_get_string_member (json_array_get_object_element (nodes, i), "provider"), ==,
        "cpu");
  g_assert_cmpint (json_object_get_int_member (
                       json_object_get_object_member (session, "nodes_per_provider"), "cpu"),
                   ==, 6);

  /* Without a session, the model part still comes, and the reason. */
  g_autoptr (Result) failed = glia_cli ("inspect", model, "--json", "--ep", "nosuchep", NULL);
  assert_failure (failed, 1, "nosuchep", NULL);
  g_autoptr (JsonNode) failed_root = parse_json (failed->out);
  JsonObject *f = json_node_get_object (failed_root);
  g_assert_cmpstr (json_object_get_string_member (f, "loader"), ==, "onnx");
  g_assert_true (json_object_get_null_member (f, "session"));
  g_assert_nonnull (strstr (json_object_get_string_member (f, "session_error"), "nosuchep"));
}

/* Output names that are not file names: files are named safely and do not
 * overwrite each other. */
static void
test_run_odd_names (void)
{
  g_autofree char *model = g_test_build_filename (G_TEST_BUILT, "cli", "odd-names.onnx", NULL);
  if (!g_file_test (model, G_FILE_TEST_EXISTS)) {
    g_test_skip ("odd-names.onnx was not generated (Python lacks onnx)");
    return;
  }
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *input = g_build_filename (tmp, "in.npy", NULL);
  const float values[] = { 1.5f, -2.0f, 0.25f };
  const gint64 shape[] = { 3 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaTensor) in = glia_tensor_new_from_data (
      GLIA_DATA_TYPE_FLOAT, shape, 1, (const guint8 *)values, sizeof values, &error);
  g_assert_no_error (error);
  g_assert_true (glia_tensor_save_npy (in, input, &error));
  g_autofree char *input_arg = g_strconcat ("in:0=", input, NULL);
  g_autofree char *out_dir = g_build_filename (tmp, "out", NULL);

  g_autoptr (Result) r
      = glia_cli ("run", model, "--input", input_arg, "--output-dir", out_dir, NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (strstr (r->out, "a/b: float32[3] {-1.5, 2, -0.25}"));

  const char *const files[] = { "a_b.npy", "A_B_1.npy", "__.npy", "x_y.npy" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *path = g_build_filename (out_dir, files[i], NULL);
    g_autoptr (GliaTensor) t = glia_tensor_new_from_npy_file (path, &error);
    g_assert_no_error (error);
    const float *v = glia_tensor_peek_data (t, NULL);
    for (guint k = 0; k < G_N_ELEMENTS (values); k++)
      g_assert_cmpfloat (v[k], ==, -values[k]);
  }
  /* Nothing else, and nothing outside DIR. */
  g_autoptr (GDir) dir = g_dir_open (out_dir, 0, &error);
  g_assert_no_error (error);
  guint n = 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (files));
  remove_tree (tmp);
}

/* --profile writes a Chrome trace with one event per node. */
static void
test_run_profile (void)
{
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *trace = g_build_filename (tmp, "trace.json", NULL);
  g_autofree char *model = source_path ("models/digits/digits.onnx");
  g_autofree char *pixels = source_path ("models/digits/heldout_pixels.npy");
  g_autofree char *input_arg = g_strconcat ("pixels=", pixels, NULL);
  /* --level 0: the graph as loaded, no Gemm + Relu fusion */
  g_autoptr (Result) r
      = glia_cli ("run", model, "--input", input_arg, "--profile", trace, "--level", "0", NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_file (parser, trace, &error));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  JsonArray *events = json_object_get_array_member (root, "traceEvents");
  /* digits: Mul, Gemm, Relu, Gemm, Softmax, ArgMax */
  g_assert_cmpuint (json_array_get_length (events), ==, 6);
  gboolean saw_gemm = FALSE;
  for (guint i = 0; i < json_array_get_length (events); i++) {
    JsonObject *e = json_array_get_object_element (events, i);
    g_assert_cmpstr (json_object_get_string_member (e, "ph"), ==, "X");
    g_assert_cmpint (json_object_get_int_member (e, "dur"), >=, 0);
    JsonObject *a = json_object_get_object_member (e, "args");
    g_assert_cmpstr (json_object_get_string_member (a, "provider"), ==, "cpu");
    if (g_str_equal (json_object_get_string_member (a, "op"), "Gemm")
        && strstr (json_object_get_string_member (a, "shapes"), "float32[360,64]"))
      saw_gemm = TRUE;
  }
  g_assert_true (saw_gemm);

  /* bench --profile: every run, warmup included (1 + 3 runs of 6 nodes);
   * an unwritable path is an error after the runs */
  g_autofree char *bench_trace = g_build_filename (tmp, "bench.json", NULL);
  g_autoptr (Result) b = glia_cli ("bench", model, "--runs", "3", "--warmup", "1", "--level", "0",
                                   "--profile", bench_trace, NULL);
  g_assert_cmpint (b->status, ==, 0);
  g_autoptr (JsonParser) bench_parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (bench_parser, bench_trace, &error));
  root = json_node_get_object (json_parser_get_root (bench_parser));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "traceEvents")), ==,
                    4 * 6);
  g_autofree char *bad = g_build_filename (tmp, "no-such-dir", "t.json", NULL);
  g_autoptr (Result) bad_r = glia_cli ("bench", model, "--runs", "1", "--profile", bad, NULL);
  assert_failure (bad_r, 1, "--profile", NULL);
  remove_tree (tmp);
}

/* A model with an operator no provider has: the error names op, domain and
 * opset. */
static void
test_run_unknown_op (void)
{
  g_autofree char *model = g_test_build_filename (G_TEST_BUILT, "cli", "unknown-op.onnx", NULL);
  if (!g_file_test (model, G_FILE_TEST_EXISTS)) {
    g_test_skip ("unknown-op.onnx was not generated (Python lacks onnx)");
    return;
  }
  g_autofree char *tmp = make_tmp_dir ();
  g_autofree char *input = g_build_filename (tmp, "x.npy", NULL);
  const float values[] = { 1, 2 };
  const gint64 shape[] = { 2 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaTensor) in = glia_tensor_new_from_data (
      GLIA_DATA_TYPE_FLOAT, shape, 1, (const guint8 *)values, sizeof values, &error);
  g_assert_no_error (error);
  g_assert_true (glia_tensor_save_npy (in, input, &error));
  g_autofree char *input_arg = g_strconcat ("x=", input, NULL);
  g_autoptr (Result) r = glia_cli ("run", model, "--input", input_arg, NULL);
  g_assert_cmpint (r->status, ==, 1);
  g_assert_nonnull (strstr (r->err, "com.example:Frob (opset 3)"));
  remove_tree (tmp);
}

static double
json_positive (JsonObject *o, const char *key)
{
  JsonNode *node = json_object_get_member (o, key);
  if (node == NULL)
    g_error ("bench JSON lacks '%s'", key);
  g_assert_true (JSON_NODE_HOLDS_VALUE (node));
  double v = json_node_get_double (node);
  g_assert_cmpfloat (v, >, 0);
  return v;
}

static void
test_bench_json (void)
{
  g_autofree char *model = digits_model ();
  g_autoptr (Result) r = glia_cli ("bench", model, "--runs", "5", "--warmup", "1", "--json", NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_autoptr (JsonNode) root = parse_json (r->out);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  JsonObject *o = json_node_get_object (root);

  double p50 = json_positive (o, "p50_ms");
  double p90 = json_positive (o, "p90_ms");
  double p99 = json_positive (o, "p99_ms");
  double min = json_positive (o, "min_ms");
  double mean = json_positive (o, "mean_ms");
  json_positive (o, "session_create_ms");
  json_positive (o, "peak_rss_kb");
  g_assert_cmpfloat (min, <=, p50);
  g_assert_cmpfloat (p50, <=, p90);
  g_assert_cmpfloat (p90, <=, p99);
  g_assert_cmpfloat (min, <=, mean);
  g_assert_cmpint (json_object_get_int_member (o, "runs"), ==, 5);
  g_assert_cmpint (json_object_get_int_member (o, "threads"), >=, 1);
  JsonArray *providers = json_object_get_array_member (o, "providers");
  g_assert_cmpstr (json_array_get_string_element (providers, 0), ==, "cpu");

  /* The generated input: float32, symbolic N taken as 1. */
  JsonObject *input = json_array_get_object_element (json_object_get_array_member (o, "inputs"), 0);
  g_assert_true (json_object_get_boolean_member (input, "generated"));
  JsonArray *shape = json_object_get_array_member (input, "shape");
  g_assert_cmpint (json_array_get_int_element (shape, 0), ==, 1);
  g_assert_cmpint (json_array_get_int_element (shape, 1), ==, 64);

  /* --dim sets it; the text report names it. */
  g_autoptr (Result) t
      = glia_cli ("bench", model, "--runs", "3", "--dim", "N=7", "--threads", "1", NULL);
  g_assert_cmpint (t->status, ==, 0);
  g_assert_nonnull (strstr (t->out, "pixels float32[7,64] (generated)"));
  g_assert_true (g_regex_match_simple ("^threads: +1$", t->out, G_REGEX_MULTILINE, 0));
  g_assert_true (
      g_regex_match_simple ("^latency \\(ms\\): +p50 [0-9.]+  p90 ", t->out, G_REGEX_MULTILINE, 0));

  /* A given input fixes N for the rest. */
  g_autofree char *pixels = digits_pixels_arg ();
  g_autoptr (Result) given = glia_cli ("bench", model, "--runs", "1", "--input", pixels, NULL);
  g_assert_cmpint (given->status, ==, 0);
  g_assert_nonnull (strstr (given->out, "pixels float32[360,64]\n"));
}

static void
test_errors (void)
{
  g_autofree char *model = digits_model ();
  g_autofree char *pixels = digits_pixels_arg ();
  g_autofree char *tmp = make_tmp_dir ();

  g_autoptr (Result) missing = glia_cli ("run", model, NULL);
  assert_failure (missing, 1, "missing input 'pixels'", NULL);

  g_autoptr (Result) unknown = glia_cli ("run", model, "--input", "bogus=x.npy", NULL);
  assert_failure (unknown, 1, "'bogus'", "inputs: pixels", NULL);
  g_autoptr (Result) unknown_bench = glia_cli ("bench", model, "--input", "bogus=x.npy", NULL);
  assert_failure (unknown_bench, 1, "'bogus'", "inputs: pixels", NULL);

  g_autofree char *absent = g_build_filename (tmp, "absent.onnx", NULL);
  g_autoptr (Result) no_file = glia_cli ("run", absent, "--input", pixels, NULL);
  assert_failure (no_file, 1, absent, NULL);
  g_autoptr (Result) no_file_inspect = glia_cli ("inspect", absent, NULL);
  assert_failure (no_file_inspect, 1, absent, NULL);

  g_autofree char *corrupt = g_build_filename (tmp, "corrupt.onnx", NULL);
  static const guint8 garbage[] = { 0x08, 0x08, 0x12, 0x7f, 'g',  'a',  'r',  'b',  'a',  'g',
                                    'e',  0xff, 0xfe, 0x00, 0x01, 0x93, 0x42, 0x13, 0x37, 0x00 };
  g_assert_true (g_file_set_contents (corrupt, (const char *)garbage, sizeof garbage, NULL));
  g_autoptr (Result) bad_model = glia_cli ("run", corrupt, "--input", pixels, NULL);
  assert_failure (bad_model, 1, corrupt, NULL);
  g_autoptr (Result) bad_model_bench = glia_cli ("bench", corrupt, NULL);
  assert_failure (bad_model_bench, 1, corrupt, NULL);

  g_autofree char *not_npy = g_build_filename (tmp, "pixels.npy", NULL);
  g_assert_true (g_file_set_contents (not_npy, "not npy", -1, NULL));
  g_autofree char *not_npy_arg = g_strconcat ("pixels=", not_npy, NULL);
  g_autoptr (Result) bad_input = glia_cli ("run", model, "--input", not_npy_arg, NULL);
  assert_failure (bad_input, 1, "pixels", not_npy, NULL);

  g_autoptr (Result) ep_run = glia_cli ("run", model, "--input", pixels, "--ep", "nosuchep", NULL);
  assert_failure (ep_run, 1, "nosuchep", NULL);
  g_autoptr (Result) ep_inspect = glia_cli ("inspect", model, "--ep", "nosuchep,cpu", NULL);
  assert_failure (ep_inspect, 1, "nosuchep", NULL);
  g_autoptr (Result) ep_bench = glia_cli ("bench", model, "--ep", "nosuchep", NULL);
  assert_failure (ep_bench, 1, "nosuchep", NULL);

  g_autoptr (Result) option_form = glia_cli ("run", model, "--option", "novalue", NULL);
  assert_failure (option_form, 2, "novalue", "KEY=VALUE", NULL);
  g_autoptr (Result) option_key = glia_cli ("bench", model, "--option", "threads=4", NULL);
  assert_failure (option_key, 2, "threads", "ep.<provider>.<key>", NULL);
  g_autoptr (Result) option_unknown
      = glia_cli ("bench", model, "--option", "ep.cpu.nosuchkey=1", NULL);
  assert_failure (option_unknown, 1, "nosuchkey", NULL);
  g_autoptr (Result) option_provider
      = glia_cli ("inspect", model, "--option", "ep.nosuchep.key=1", NULL);
  assert_failure (option_provider, 1, "nosuchep", NULL);

  g_autoptr (Result) dim = glia_cli ("bench", model, "--dim", "M=3", NULL);
  assert_failure (dim, 1, "'M'", "N", NULL);

  /* An output folder that cannot be made (a file is in the way). */
  g_autofree char *blocked = g_build_filename (not_npy, "out", NULL);
  g_autoptr (Result) out_dir = glia_cli ("run", model, "-i", pixels, "-o", blocked, NULL);
  assert_failure (out_dir, 1, blocked, NULL);

  remove_tree (tmp);
}

/* ---- the helpers ----------------------------------------------------------- */

static void
test_sanitize_file_name (void)
{
  static const struct
  {
    const char *name, *stem;
  } cases[] = {
    { "probabilities", "probabilities" },
    { "ok-Name_1.2", "ok-Name_1.2" },
    { "a/b", "a_b" },
    { "x:y", "x_y" },
    { "../../etc/passwd", ".._.._etc_passwd" },
    { "a\\b c", "a_b_c" },
    { "..", "__" },
    { ".", "_" },
    { "", "_" },
    { "...", "..." },
    { "caf\xc3\xa9", "caf_" }, /* one character, one '_' */
    { "bad\xff", "bad_" },     /* not UTF-8: one byte, one '_' */
    { "tab\there\n", "tab_here_" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *stem = glia_cli_sanitize_file_name (cases[i].name);
    g_assert_cmpstr (stem, ==, cases[i].stem);
  }

  g_autofree char *long_name = g_strnfill (1000, 'x');
  g_autofree char *long_stem = glia_cli_sanitize_file_name (long_name);
  g_assert_cmpuint (strlen (long_stem) + strlen (".npy"), <=, 255);
  g_assert_cmpuint (strlen (long_stem), >, 0);
}

static void
test_percentile (void)
{
  double five[] = { 1, 2, 3, 4, 5 };
  g_assert_cmpfloat (glia_cli_percentile (five, 5, 50), ==, 3);
  g_assert_cmpfloat (glia_cli_percentile (five, 5, 90), ==, 5);
  g_assert_cmpfloat (glia_cli_percentile (five, 5, 99), ==, 5);
  g_assert_cmpfloat (glia_cli_percentile (five, 5, 20), ==, 1);
  g_assert_cmpfloat (glia_cli_percentile (five, 5, 21), ==, 2);

  double fifty[50];
  for (guint i = 0; i < 50; i++)
    fifty[i] = i + 1;
  g_assert_cmpfloat (glia_cli_percentile (fifty, 50, 50), ==, 25);
  g_assert_cmpfloat (glia_cli_percentile (fifty, 50, 90), ==, 45);
  g_assert_cmpfloat (glia_cli_percentile (fifty, 50, 99), ==, 50);
  g_assert_cmpfloat (glia_cli_percentile (fifty, 50, 100), ==, 50);

  double one[] = { 7.5 };
  g_assert_cmpfloat (glia_cli_percentile (one, 1, 50), ==, 7.5);
  g_assert_cmpfloat (glia_cli_percentile (one, 1, 99), ==, 7.5);
}

static void
test_half_conversion (void)
{
  g_assert_cmphex (glia_cli_float_to_half (0.0f), ==, 0x0000);
  g_assert_cmphex (glia_cli_float_to_half (-0.0f), ==, 0x8000);
  g_assert_cmphex (glia_cli_float_to_half (1.0f), ==, 0x3c00);
  g_assert_cmphex (glia_cli_float_to_half (-2.0f), ==, 0xc000);
  g_assert_cmphex (glia_cli_float_to_half (0.5f), ==, 0x3800);
  g_assert_cmphex (glia_cli_float_to_half (65504.0f), ==, 0x7bff);
  g_assert_cmphex (glia_cli_float_to_half (65520.0f), ==, 0x7c00); /* rounds up to inf */
  g_assert_cmphex (glia_cli_float_to_half (INFINITY), ==, 0x7c00);
  g_assert_cmphex (glia_cli_float_to_half (ldexpf (1, -24)), ==, 0x0001); /* smallest subnormal */
  g_assert_cmphex (glia_cli_float_to_half (ldexpf (1, -25)), ==, 0x0000); /* tie to even */
  g_assert_cmphex (glia_cli_float_to_half (ldexpf (1, -14)), ==, 0x0400); /* smallest normal */
  g_assert_cmphex (glia_cli_float_to_half (1.0f + ldexpf (1, -11)), ==, 0x3c00); /* tie to even */
  g_assert_cmphex (glia_cli_float_to_half (1.0f + ldexpf (3, -11)), ==, 0x3c02);
  g_assert_cmphex (glia_cli_float_to_half (NAN) & 0x7c00, ==, 0x7c00);
  g_assert_cmphex (glia_cli_float_to_half (NAN) & 0x03ff, !=, 0);

  g_assert_cmphex (glia_cli_float_to_bfloat16 (1.0f), ==, 0x3f80);
  g_assert_cmphex (glia_cli_float_to_bfloat16 (-2.0f), ==, 0xc000);
  g_assert_cmphex (glia_cli_float_to_bfloat16 (1.0f + ldexpf (1, -8)), ==,
                   0x3f80); /* tie to even */
  g_assert_cmphex (glia_cli_float_to_bfloat16 (1.0f + ldexpf (3, -8)), ==, 0x3f82);
  g_assert_cmphex (glia_cli_float_to_bfloat16 (NAN) & 0x7f80, ==, 0x7f80);
  g_assert_cmphex (glia_cli_float_to_bfloat16 (NAN) & 0x007f, !=, 0);
}

static void
test_fill_deterministic (void)
{
  float a[1000], b[1000];
  glia_cli_fill_deterministic (GLIA_DATA_TYPE_FLOAT, a, 1000, 42);
  glia_cli_fill_deterministic (GLIA_DATA_TYPE_FLOAT, b, 1000, 42);
  g_assert_cmpmem (a, sizeof a, b, sizeof b);
  double sum = 0;
  gboolean negative = FALSE, positive = FALSE;
  for (guint i = 0; i < 1000; i++) {
    g_assert_cmpfloat (a[i], >=, -1.0f);
    g_assert_cmpfloat (a[i], <, 1.0f);
    negative |= a[i] < 0;
    positive |= a[i] > 0;
    sum += a[i];
  }
  g_assert_true (negative && positive);
  g_assert_cmpfloat (fabs (sum / 1000), <, 0.1); /* roughly centred */
  glia_cli_fill_deterministic (GLIA_DATA_TYPE_FLOAT, b, 1000, 43);
  g_assert_true (memcmp (a, b, sizeof a) != 0);

  gint64 ints[1000];
  glia_cli_fill_deterministic (GLIA_DATA_TYPE_INT64, ints, 1000, 7);
  guint seen = 0;
  for (guint i = 0; i < 1000; i++) {
    g_assert_cmpint (ints[i], >=, 0);
    g_assert_cmpint (ints[i], <, 10);
    seen |= 1u << ints[i];
  }
  g_assert_cmphex (seen, ==, 0x3ff);

  guint8 bools[6];
  glia_cli_fill_deterministic (GLIA_DATA_TYPE_BOOL, bools, 6, 7);
  g_assert_cmpmem (bools, 6, ((guint8[]){ 0, 1, 0, 1, 0, 1 }), 6);

  guint16 halves[100];
  glia_cli_fill_deterministic (GLIA_DATA_TYPE_FLOAT16, halves, 100, 42);
  for (guint i = 0; i < 100; i++)
    g_assert_cmphex (halves[i], ==, glia_cli_float_to_half (a[i]));
  guint16 bf16[100];
  glia_cli_fill_deterministic (GLIA_DATA_TYPE_BFLOAT16, bf16, 100, 42);
  for (guint i = 0; i < 100; i++)
    g_assert_cmphex (bf16[i], ==, glia_cli_float_to_bfloat16 (a[i]));
}

static void
test_make_input (void)
{
  g_autofree char *path = digits_model ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaModel) model = glia_model_new_from_file (path, &error);
  g_assert_no_error (error);

  char *specs[] = { (char *)"N=3", NULL };
  g_autoptr (GHashTable) dims = glia_cli_parse_dims (specs, &error);
  g_assert_no_error (error);
  g_assert_true (glia_cli_check_dims (model, dims, &error));
  g_autoptr (GliaTensor) a = glia_cli_make_input (model, "pixels", 0, dims, &error);
  g_assert_no_error (error);
  g_autoptr (GliaTensor) b = glia_cli_make_input (model, "pixels", 0, dims, &error);
  g_assert_no_error (error);
  g_assert_cmpint (glia_tensor_get_dtype (a), ==, GLIA_DATA_TYPE_FLOAT);
  g_assert_cmpint (glia_tensor_get_dim (a, 0), ==, 3);
  g_assert_cmpint (glia_tensor_get_dim (a, 1), ==, 64);
  g_assert_true (glia_tensor_equal (a, b));

  g_autoptr (GHashTable) no_dims = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GliaTensor) c = glia_cli_make_input (model, "pixels", 0, no_dims, &error);
  g_assert_no_error (error);
  g_assert_cmpint (glia_tensor_get_dim (c, 0), ==, 1);

  char *bad_specs[] = { (char *)"batch=3", NULL };
  g_autoptr (GHashTable) bad = glia_cli_parse_dims (bad_specs, &error);
  g_assert_no_error (error);
  g_assert_false (glia_cli_check_dims (model, bad, &error));
  g_assert_error (error, GLIA_ERROR, GLIA_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "batch"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (argc < 2) {
    g_printerr ("usage: %s PATH-OF-glia [TEST-OPTION…]\n", argv[0]);
    return 1;
  }
  glia_cli_path = argv[1];

  g_test_add_func ("/cli/version", test_version);
  g_test_add_func ("/cli/help", test_help);
  g_test_add_func ("/cli/usage-errors", test_usage_errors);
  g_test_add_func ("/cli/plugins", test_plugins);
  g_test_add_func ("/cli/plugins-rejected", test_plugins_rejected);
  g_test_add_func ("/cli/run-digits", test_run_digits);
  g_test_add_func ("/cli/run-odd-names", test_run_odd_names);
  g_test_add_func ("/cli/run-unknown-op", test_run_unknown_op);
  g_test_add_func ("/cli/run-profile", test_run_profile);
  g_test_add_func ("/cli/inspect", test_inspect);
  g_test_add_func ("/cli/bench-json", test_bench_json);
  g_test_add_func ("/cli/errors", test_errors);
  g_test_add_func ("/cli/sanitize-file-name", test_sanitize_file_name);
  g_test_add_func ("/cli/percentile", test_percentile);
  g_test_add_func ("/cli/half-conversion", test_half_conversion);
  g_test_add_func ("/cli/fill-deterministic", test_fill_deterministic);
  g_test_add_func ("/cli/make-input", test_make_input);
  return g_test_run ();
}
