/* glia-cmd-run.c: `glia run MODEL --input NAME=FILE.npy ...`, one run of a
 * model on inputs read from .npy files, with a one-line summary per output
 * and, with --output-dir, each output written as DIR/<name>.npy.
 *
 * Output names come from the model file, so they are not trusted as file
 * names: they are sanitized (glia_cli_sanitize_file_name()) and made unique
 * within the run, ignoring case for the file systems that do.
 */
#include "glia-cli.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>

typedef struct
{
  GliaCliSessionArgs session;
  char **inputs;
  char *output_dir;
  char *profile;
} RunArgs;

/* A file name in @dir for output @name that no other output of this run
 * took; @taken holds the lower-cased names already given out. */
static char *
output_path (const char *dir, const char *name, GHashTable *taken)
{
  g_autofree char *stem = glia_cli_sanitize_file_name (name);
  g_autofree char *file = g_strconcat (stem, ".npy", NULL);
  char *key = g_ascii_strdown (file, -1);
  for (guint k = 1; g_hash_table_contains (taken, key); k++) {
    g_free (file);
    g_free (key);
    file = g_strdup_printf ("%s_%u.npy", stem, k);
    key = g_ascii_strdown (file, -1);
  }
  g_hash_table_add (taken, key);
  return g_build_filename (dir, file, NULL);
}

static int
run_model (const char *model_path, RunArgs *args)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GliaSessionOptions) options = glia_cli_session_args_build (&args->session, &error);
  if (options == NULL
      || !glia_cli_check_assignments (args->inputs, "--input", "NAME=FILE.npy", &error))
    return glia_cli_usage_error ("run", "%s", error->message);

  g_autoptr (GliaModel) model = glia_cli_load_model (model_path, TRUE, &error);
  if (model == NULL)
    return glia_cli_fail (error);
  g_autoptr (GHashTable) inputs = glia_cli_read_inputs (model, args->inputs, &error);
  if (inputs == NULL || !glia_cli_check_inputs_complete (model, inputs, &error))
    return glia_cli_fail (error);

  if (args->output_dir != NULL && g_mkdir_with_parents (args->output_dir, 0777) != 0) {
    int saved = errno;
    g_autofree char *display = g_filename_display_name (args->output_dir);
    glia_cli_print_error ("cannot create output directory '%s': %s", display, g_strerror (saved));
    return GLIA_CLI_EXIT_ERROR;
  }

  if (args->profile)
    glia_session_options_set_profiling (options, TRUE);
  g_autoptr (GliaSession) session = glia_session_new (model, options, &error);
  if (session == NULL)
    return glia_cli_fail (error);
  g_autoptr (GHashTable) outputs = glia_session_run (session, inputs, &error);
  if (outputs == NULL)
    return glia_cli_fail (error);
  if (args->profile && !glia_session_write_profile (session, args->profile, &error)) {
    g_prefix_error (&error, "--profile: ");
    return glia_cli_fail (error);
  }

  g_auto (GStrv) names = glia_model_get_output_names (model);
  g_autoptr (GHashTable) taken = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) written = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; names[i] != NULL; i++) {
    gpointer value = NULL;
    if (!g_hash_table_lookup_extended (outputs, names[i], NULL, &value)) {
      glia_cli_print_error ("the run did not produce output '%s'", names[i]);
      return GLIA_CLI_EXIT_ERROR;
    }
    if (value == NULL) {
      printf ("%s: (empty optional)\n", names[i]);
      continue;
    }
    if (GLIA_IS_SEQUENCE (value)) {
      /* sequences: one line and one file per item, NAME_<k> */
      GliaSequence *seq = value;
      printf ("%s: sequence of %u %s tensors\n", names[i], glia_sequence_get_length (seq),
              glia_data_type_get_name (glia_sequence_get_dtype (seq)));
      for (guint k = 0; k < glia_sequence_get_length (seq); k++) {
        g_autofree char *item_name = g_strdup_printf ("%s_%u", names[i], k);
        g_autofree char *summary = glia_tensor_to_string (glia_sequence_get_item (seq, k), 8);
        printf ("  [%u]: %s\n", k, summary);
        if (args->output_dir == NULL)
          continue;
        g_autofree char *path = output_path (args->output_dir, item_name, taken);
        if (!glia_tensor_save_npy (glia_sequence_get_item (seq, k), path, &error)) {
          g_prefix_error (&error, "output '%s' item %u: ", names[i], k);
          return glia_cli_fail (error);
        }
        g_ptr_array_add (written, g_filename_display_name (path));
      }
      continue;
    }
    GliaTensor *tensor = value;
    g_autofree char *summary = glia_tensor_to_string (tensor, 8);
    printf ("%s: %s\n", names[i], summary);
    if (args->output_dir == NULL)
      continue;
    g_autofree char *path = output_path (args->output_dir, names[i], taken);
    if (!glia_tensor_save_npy (tensor, path, &error)) {
      g_prefix_error (&error, "output '%s': ", names[i]);
      return glia_cli_fail (error);
    }
    g_ptr_array_add (written, g_filename_display_name (path));
  }
  for (guint i = 0; i < written->len; i++)
    printf ("wrote %s\n", (const char *)g_ptr_array_index (written, i));
  return GLIA_CLI_EXIT_OK;
}

int
glia_cli_cmd_run (int argc, char **argv)
{
  RunArgs args = { { 0 } };
  const GOptionEntry entries[] = {
    { "input", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &args.inputs,
      "Feed model input NAME from an .npy file (one per input)", "NAME=FILE.npy" },
    { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &args.output_dir,
      "Write each output to DIR/<output name>.npy (DIR is created if needed)", "DIR" },
    { "profile", 0, 0, G_OPTION_ARG_FILENAME, &args.profile,
      "Write a Chrome trace-event JSON of the run (one event per node; opens in Perfetto)",
      "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = glia_cli_option_context_new (
      "run", "MODEL",
      "Runs MODEL once on inputs read from .npy files and prints, for each output, its\n"
      "type, shape and first values. With --output-dir, also writes each output as\n"
      "DIR/<output name>.npy; characters other than A-Z a-z 0-9 . _ - in an output name\n"
      "become '_'.\n"
      "\n"
      "Example:\n"
      "  glia run models/digits/digits.onnx --input pixels=heldout_pixels.npy -o out/");
  g_option_context_add_main_entries (context, entries, NULL);
  glia_cli_session_args_add_entries (&args.session, context);

  int status;
  if (!glia_cli_option_context_parse (context, "run", &argc, &argv))
    status = GLIA_CLI_EXIT_USAGE;
  else if (argc < 2)
    status = glia_cli_usage_error ("run", "no MODEL given");
  else if (argc > 2)
    status = glia_cli_usage_error ("run", "unexpected argument '%s'", argv[2]);
  else
    status = run_model (argv[1], &args);
  glia_cli_session_args_clear (&args.session);
  g_strfreev (args.inputs);
  g_free (args.output_dir);
  g_free (args.profile);
  return status;
}
