/* test-compare.c: tests of `glia compare` and of the benchmark options of
 * `glia bench` (--level, --json's latencies_ms and model_load_ms).
 *
 * The tool is spawned as a user runs it (its path is argv[1]; the test
 * plugins' folder, with the "testa" provider on a fake scrambling device, is
 * argv[2]). Each case checks the exit status, the numbers in the JSON report
 * and, for failures, that the message names what is wrong.
 */
#include <glia.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

static const char *glia_cli_path;
static const char *test_plugin_dir;

typedef struct
{
  int status;
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

/* Runs the tool with the NULL-terminated arguments that follow, with the
 * test plugins on the search path. */
static Result *
glia_cli (const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *)glia_cli_path);
  va_list args;
  va_start (args, first);
  for (const char *a = first; a != NULL; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *)a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_auto (GStrv) envp
      = g_environ_setenv (g_get_environ (), "GLIA_PLUGIN_PATH", test_plugin_dir, TRUE);

  Result *r = g_new0 (Result, 1);
  int wait_status = 0;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, (char **)argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL, &r->out, &r->err,
                &wait_status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (wait_status, &error)) {
    g_assert_true (g_error_matches (error, G_SPAWN_EXIT_ERROR, error->code));
    r->status = error->code;
  }
  if (g_test_verbose ())
    g_printerr ("status %d\n--- stdout\n%s--- stderr\n%s---\n", r->status, r->out, r->err);
  return r;
}

static char *
source_path (const char *relative)
{
  return g_build_filename (g_getenv ("GLIA_SOURCE_ROOT"), relative, NULL);
}

static char *
assignment (const char *name, const char *relative)
{
  g_autofree char *path = source_path (relative);
  return g_strconcat (name, "=", path, NULL);
}

/* Asserts exit @status and that stderr mentions every string of the
 * NULL-terminated list that follows. */
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

/* The row of the compare report for output @name: a configuration's
 * against the reference, or with @repeat the reference's later runs against
 * its first. */
static JsonObject *
output_row (JsonObject *report, const char *name, gboolean repeat)
{
  JsonArray *outputs = json_object_get_array_member (report, "outputs");
  for (guint i = 0; i < json_array_get_length (outputs); i++) {
    JsonObject *o = json_array_get_object_element (outputs, i);
    if (g_str_equal (json_object_get_string_member (o, "name"), name)
        && json_object_get_boolean_member (o, "repeat") == repeat)
      return o;
  }
  g_error ("no row for output '%s'", name);
}

static void
test_compare_same (void)
{
  g_autofree char *model = source_path ("models/digits/digits.onnx");
  g_autofree char *pixels = assignment ("pixels", "models/digits/heldout_pixels.npy");

  /* The same provider twice: identical outputs. */
  g_autoptr (Result) r
      = glia_cli ("compare", model, "--ep", "cpu", "--ep", "cpu", "-i", pixels, NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_true (
      g_regex_match_simple ("^probabilities +cpu +0 +0 +PASS$", r->out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^label +cpu +0 +0 +PASS$", r->out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_str_has_suffix (r->out, "\nPASS\n"));

  /* The fake device runs the Mul node on scrambled memory: only right if
   * the host copies to and from it, and then exactly the CPU's result. */
  g_autoptr (Result) j = glia_cli ("compare", model, "--ep", "testa,cpu", "--ep", "cpu", "-i",
                                   pixels, "--runs", "2", "--json", NULL);
  g_assert_cmpint (j->status, ==, 0);
  g_autoptr (JsonNode) root = parse_json (j->out);
  JsonObject *report = json_node_get_object (root);
  g_assert_true (json_object_get_boolean_member (report, "pass"));
  g_assert_cmpstr (json_object_get_string_member (report, "reference"), ==, "cpu");
  g_assert_cmpint (json_object_get_int_member (report, "runs"), ==, 2);
  JsonObject *probabilities = output_row (report, "probabilities", FALSE);
  g_assert_cmpstr (json_object_get_string_member (probabilities, "configuration"), ==, "testa,cpu");
  g_assert_cmpfloat (json_object_get_double_member (probabilities, "max_abs_diff"), ==, 0);
  g_assert_cmpfloat (json_object_get_double_member (probabilities, "max_rel_diff"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (probabilities, "elements"), ==, 3600);
  /* The reference's second run is compared with its first, and the other
   * configuration's rows come too: 2 outputs x 2. */
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (report, "outputs")), ==, 4);
  JsonObject *repeat = output_row (report, "label", TRUE);
  g_assert_cmpstr (json_object_get_string_member (repeat, "configuration"), ==, "cpu");
  g_assert_cmpfloat (json_object_get_double_member (repeat, "max_abs_diff"), ==, 0);

  /* Optimization levels, generated inputs. */
  g_autoptr (Result) levels
      = glia_cli ("compare", model, "--level", "0", "--level", "3", "--dim", "N=7", NULL);
  g_assert_cmpint (levels->status, ==, 0);
  g_assert_nonnull (strstr (levels->out, "pixels float32[7,64] (generated)"));
  g_assert_nonnull (strstr (levels->out, "reference: default (level 3)"));
}

static void
test_compare_reference (void)
{
  g_autofree char *model = source_path ("models/digits/digits.onnx");
  g_autofree char *pixels = assignment ("pixels", "models/digits/heldout_pixels.npy");
  g_autofree char *ref_probabilities
      = assignment ("probabilities", "models/digits/ref_probabilities.npy");
  g_autofree char *ref_label = assignment ("label", "models/digits/ref_label.npy");

  /* numpy's float32 arithmetic rounds differently from the CPU provider's
   * BLAS: a small, nonzero difference within the default tolerance. */
  g_autoptr (Result) r = glia_cli ("compare", model, "--ep", "cpu", "-i", pixels, "--reference",
                                   ref_probabilities, "--reference", ref_label, "--json", NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_autoptr (JsonNode) root = parse_json (r->out);
  JsonObject *report = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (report, "reference"), ==, "files");
  JsonObject *probabilities = output_row (report, "probabilities", FALSE);
  double max_abs = json_object_get_double_member (probabilities, "max_abs_diff");
  g_assert_cmpfloat (max_abs, >, 0);
  g_assert_cmpfloat (max_abs, <=, 1e-5);
  g_assert_cmpfloat (json_object_get_double_member (probabilities, "max_rel_diff"), >, 0);
  g_assert_cmpint (json_object_get_int_member (probabilities, "mismatches"), ==, 0);
  JsonObject *label = output_row (report, "label", FALSE);
  g_assert_cmpfloat (json_object_get_double_member (label, "max_abs_diff"), ==, 0);

  /* With no tolerance at all the same difference fails: status 1, and the
   * table says how many elements differ. */
  g_autoptr (Result) strict
      = glia_cli ("compare", model, "--ep", "cpu", "-i", pixels, "--reference", ref_probabilities,
                  "--atol", "0", "--rtol", "0", NULL);
  g_assert_cmpint (strict->status, ==, 1);
  g_assert_true (g_regex_match_simple (
      "^probabilities +cpu +[0-9.e-]+ +[0-9.e-]+ +FAIL: [0-9]+ of 3600 elements differ$",
      strict->out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_str_has_suffix (strict->out, "\nFAIL\n"));

  /* A reference of another dtype and shape fails without numbers. */
  g_autofree char *wrong = assignment ("label", "models/digits/ref_probabilities.npy");
  g_autoptr (Result) mismatch
      = glia_cli ("compare", model, "--ep", "cpu", "-i", pixels, "--reference", wrong, NULL);
  g_assert_cmpint (mismatch->status, ==, 1);
  g_assert_nonnull (strstr (mismatch->out, "FAIL: int64[360], the reference is float32[360,10]"));
}

static void
test_compare_errors (void)
{
  g_autofree char *model = source_path ("models/digits/digits.onnx");

  g_autoptr (Result) provider
      = glia_cli ("compare", model, "--ep", "nosuchep", "--ep", "cpu", NULL);
  assert_failure (provider, 1, "nosuchep", "available:", NULL);

  g_autoptr (Result) unplugged = glia_cli ("compare", model, "--ep", "testa,cpu", "--ep", "cpu",
                                           "--option", "ep.testa.fail=1", NULL);
  assert_failure (unplugged, 1, "testa", "unplugged", NULL);

  g_autoptr (Result) one = glia_cli ("compare", model, "--ep", "cpu", NULL);
  assert_failure (one, 2, "nothing to compare", NULL);

  g_autoptr (Result) counts = glia_cli ("compare", model, "--ep", "cpu", "--ep", "cpu", "--ep",
                                        "cpu", "--level", "1", "--level", "2", NULL);
  assert_failure (counts, 2, "--ep is given 3 times and --level 2 times", NULL);

  g_autoptr (Result) level = glia_cli ("compare", model, "--level", "4", "--level", "0", NULL);
  assert_failure (level, 2, "--level 4", NULL);

  g_autoptr (Result) runs
      = glia_cli ("compare", model, "--ep", "cpu", "--ep", "cpu", "--runs", "0", NULL);
  assert_failure (runs, 2, "--runs 0", NULL);

  g_autoptr (Result) tolerance
      = glia_cli ("compare", model, "--ep", "cpu", "--ep", "cpu", "--atol", "-1", NULL);
  assert_failure (tolerance, 2, "--atol", NULL);

  g_autoptr (Result) reference
      = glia_cli ("compare", model, "--ep", "cpu", "--reference", "nosuchoutput=x.npy", NULL);
  assert_failure (reference, 1, "'nosuchoutput'", "outputs: probabilities, label", NULL);

  g_autoptr (Result) no_model = glia_cli ("compare", NULL);
  assert_failure (no_model, 2, "no MODEL given", NULL);

  g_autoptr (Result) commands = glia_cli ("--help", NULL);
  g_assert_cmpint (commands->status, ==, 0);
  g_assert_true (
      g_regex_match_simple ("^  compare +Compare ", commands->out, G_REGEX_MULTILINE, 0));

  g_autoptr (Result) help = glia_cli ("compare", "--help", NULL);
  g_assert_cmpint (help->status, ==, 0);
  for (const char *const *o = (const char *const[]){ "--ep", "--level", "--reference", "--input",
                                                     "--atol", "--rtol", "--runs", NULL };
       *o; o++)
    g_assert_nonnull (strstr (help->out, *o));
}

static void
test_bench_benchmark_options (void)
{
  g_autofree char *model = source_path ("models/digits/digits.onnx");
  g_autoptr (Result) r = glia_cli ("bench", model, "--runs", "4", "--warmup", "1", "--level", "0",
                                   "--threads", "1", "--ep", "cpu", "--json", NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_autoptr (JsonNode) root = parse_json (r->out);
  JsonObject *o = json_node_get_object (root);
  g_assert_cmpint (json_object_get_int_member (o, "optimization_level"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (o, "threads"), ==, 1);
  g_assert_cmpfloat (json_object_get_double_member (o, "model_load_ms"), >, 0);
  JsonArray *latencies = json_object_get_array_member (o, "latencies_ms");
  g_assert_cmpint (json_array_get_length (latencies), ==, 4);
  /* The runs in order; their minimum is the reported one. */
  double min = INFINITY;
  for (guint i = 0; i < 4; i++)
    min = MIN (min, json_array_get_double_element (latencies, i));
  g_assert_cmpfloat (min, ==, json_object_get_double_member (o, "min_ms"));

  g_autoptr (Result) text = glia_cli ("bench", model, "--runs", "1", "--level", "3", NULL);
  g_assert_cmpint (text->status, ==, 0);
  g_assert_nonnull (strstr (text->out, "optimization:     level 3\n"));

  g_autoptr (Result) bad = glia_cli ("bench", model, "--level", "9", NULL);
  assert_failure (bad, 2, "--level", "9", NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (argc < 3) {
    g_printerr ("usage: %s PATH-OF-glia TEST-PLUGIN-DIR [TEST-OPTION…]\n", argv[0]);
    return 1;
  }
  glia_cli_path = argv[1];
  test_plugin_dir = argv[2];

  g_test_add_func ("/cli/compare/same", test_compare_same);
  g_test_add_func ("/cli/compare/reference", test_compare_reference);
  g_test_add_func ("/cli/compare/errors", test_compare_errors);
  g_test_add_func ("/cli/bench/benchmark-options", test_bench_benchmark_options);
  return g_test_run ();
}
