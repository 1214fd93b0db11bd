/* glia-cli.h: what the subcommands of the `glia` tool share.
 *
 * Each subcommand lives in its own glia-cmd-<name>.c and is entered through a
 * GliaCliCommand entry point with the arguments that follow its name. The
 * helpers here turn the common session options (--ep, --threads,
 * --no-fallback, --option) into a GliaSessionOptions, read and generate
 * inputs, and print errors the same way everywhere.
 */
#pragma once

#include <glia.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Exit statuses of the tool. */
typedef enum
{
  GLIA_CLI_EXIT_OK = 0,
  GLIA_CLI_EXIT_ERROR = 1, /* the operation failed */
  GLIA_CLI_EXIT_USAGE = 2, /* the command line is wrong */
} GliaCliExit;

/* A subcommand: @argv[0] is its name, the rest its arguments. */
typedef int (*GliaCliCommand) (int argc, char **argv);

int glia_cli_cmd_plugins (int argc, char **argv);
int glia_cli_cmd_inspect (int argc, char **argv);
int glia_cli_cmd_run (int argc, char **argv);
int glia_cli_cmd_bench (int argc, char **argv);
int glia_cli_cmd_compare (int argc, char **argv);

/* ---- errors ------------------------------------------------------------ */

/* Prints "glia: <message>" on stderr. */
void glia_cli_print_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Prints "glia: <message>" and a hint at `glia <command> --help`; returns
 * GLIA_CLI_EXIT_USAGE. */
int glia_cli_usage_error (const char *command, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Prints @error as "glia: <message>" and returns GLIA_CLI_EXIT_ERROR. */
int glia_cli_fail (const GError *error);

/* ---- command-line parsing ---------------------------------------------- */

/* Makes the option context of subcommand @command: its usage line reads
 * "glia <command> [OPTION…] <parameters>". */
GOptionContext *glia_cli_option_context_new (const char *command, const char *parameters,
                                             const char *summary);

/* Parses @argv (argv[0] being the command name) with @context; on failure
 * prints the usage error and returns FALSE. */
gboolean glia_cli_option_context_parse (GOptionContext *context, const char *command, int *argc,
                                        char ***argv);

/* The options every model subcommand takes. */
typedef struct
{
  char *providers; /* --ep */
  gint threads;    /* --threads, 0: one per core */
  gboolean no_fallback;
  char **options; /* --option KEY=VALUE, repeatable */
  char *level;    /* --level, NULL: the session default */
} GliaCliSessionArgs;

void glia_cli_session_args_add_entries (GliaCliSessionArgs *args, GOptionContext *context);
void glia_cli_session_args_clear (GliaCliSessionArgs *args);

/* Builds session options from @args; %NULL with @error set (an
 * %GLIA_ERROR_INVALID_ARGUMENT naming the bad argument) if one is malformed. */
GliaSessionOptions *glia_cli_session_args_build (const GliaCliSessionArgs *args, GError **error);

/* The thread count a session made from @args uses. */
guint glia_cli_session_args_get_threads (const GliaCliSessionArgs *args);

/* Splits "NAME=VALUE"; FALSE with @error naming @option and the expected
 * @form ("KEY=VALUE") if there is no '=' or the name is empty. */
gboolean glia_cli_split_assignment (const char *arg, const char *option, const char *form,
                                    char **name, char **value, GError **error);

/* ---- models and inputs ------------------------------------------------- */

/* Reads the --input NAME=FILE.npy arguments into a new table name → tensor.
 * A NAME that is not an input of @model is an error listing the inputs. */
GHashTable *glia_cli_read_inputs (GliaModel *model, char **specs, GError **error);

/* Fails with an error naming the first input of @model missing from @inputs. */
gboolean glia_cli_check_inputs_complete (GliaModel *model, GHashTable *inputs, GError **error);

/* Checks that every one of @specs (arguments of @option) has the NAME=VALUE
 * @form. */
gboolean glia_cli_check_assignments (char **specs, const char *option, const char *form,
                                     GError **error);

/* Parses --dim SYMBOL=VALUE arguments into a new table symbol →
 * GSIZE_TO_POINTER (value). */
GHashTable *glia_cli_parse_dims (char **specs, GError **error);

/* Fails with an error naming the first symbol of @dims that no input of
 * @model has, and listing those it has. */
gboolean glia_cli_check_dims (GliaModel *model, GHashTable *dims, GError **error);

/* Adds to @dims the size of every symbolic dimension that a tensor of
 * @inputs fixes and @dims does not name yet. */
void glia_cli_bind_dims_from_inputs (GliaModel *model, GHashTable *inputs, GHashTable *dims);

/* Makes a tensor for input @name of @model with deterministic contents
 * (see glia_cli_fill_deterministic()). Unknown dimensions are taken from
 * @dims by symbol, or 1. */
GliaTensor *glia_cli_make_input (GliaModel *model, const char *name, guint index, GHashTable *dims,
                                 GError **error);

/* "float32[2,3]": a tensor's element type and shape, for messages. */
char *glia_cli_describe_tensor (GliaTensor *tensor);

/* Prints @root as indented JSON and a newline on stdout (--json output). */
void glia_cli_print_json (JsonNode *root);

/* Reads the --input NAME=FILE.npy @specs and completes them with generated
 * tensors (glia_cli_make_input()) for every other model input, after
 * checking @dims and binding the symbolic dims the given tensors fix.
 * @generated receives the names of the generated inputs. Returns a table
 * name → GliaTensor. */
GHashTable *glia_cli_prepare_inputs (GliaModel *model, char **specs, GHashTable *dims,
                                     GHashTable **generated, GError **error);

/* Fills @n_elements of @dtype at @data from a generator seeded with @seed:
 * floats uniform in [-1, 1), integers in [0, 10), booleans alternating. */
void glia_cli_fill_deterministic (GliaDataType dtype, gpointer data, gsize n_elements,
                                  guint32 seed);

/* IEEE half and bfloat16 bit patterns of @value (round to nearest even). */
guint16 glia_cli_float_to_half (float value);
guint16 glia_cli_float_to_bfloat16 (float value);

/* ---- outputs ------------------------------------------------------------ */

/* A file name stem for output @name: every character outside [A-Za-z0-9._-]
 * becomes '_'; "", "." and ".." become "_", "_" and "__"; names longer
 * than a file name may be are cut. */
char *glia_cli_sanitize_file_name (const char *name);

/* ---- statistics --------------------------------------------------------- */

/* Nearest-rank percentile @p (0 < p <= 100) of @n sorted values. */
double glia_cli_percentile (const double *sorted, guint n, double p);

/* ---- progress ----------------------------------------------------------- */

/* A one-line progress display on stderr for long work (a large model load, a
 * benchmark). It is drawn only when stderr is a terminal and @enabled is
 * TRUE (callers pass FALSE for --json), and only once the work has taken
 * half a second; otherwise every call does nothing, so what goes to files,
 * pipes and tests never changes. With @total > 0 it is a bar updated by
 * glia_cli_progress_update(); with @total 0 it is an activity line with the
 * elapsed time, redrawn by a thread, for work that reports no progress. */
typedef struct _GliaCliProgress GliaCliProgress;

GliaCliProgress *glia_cli_progress_new (const char *label, guint64 total, gboolean enabled);
void glia_cli_progress_update (GliaCliProgress *progress, guint64 done);
/* Erases the line, if one was drawn, and frees @progress (%NULL is fine). */
void glia_cli_progress_free (GliaCliProgress *progress);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GliaCliProgress, glia_cli_progress_free)

/* The line drawn for @done of @total (0: unknown) after @elapsed_s seconds,
 * at most @width columns: "label [#####     ]  12/50  1.2 s" or, for an
 * unknown total, "label ...  1.2 s". */
char *glia_cli_progress_format (const char *label, guint64 done, guint64 total, double elapsed_s,
                                guint width);

/* glia_model_new_from_file() showing an activity line while a slow load
 * (a large model) runs, when @progress is TRUE and stderr is a terminal. */
GliaModel *glia_cli_load_model (const char *path, gboolean progress, GError **error);

G_END_DECLS
