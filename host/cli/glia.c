/* glia.c: the `glia` command line tool: global options and dispatch to the
 * subcommands, each of which lives in its own glia-cmd-<name>.c and parses
 * its own options.
 */
#include "glia-cli.h"

#include <locale.h>
#include <stdio.h>

typedef struct
{
  const char *name;
  GliaCliCommand run;
  const char *summary;
} Command;

static const Command commands[] = {
  { "plugins", glia_cli_cmd_plugins, "List the plugins found and the features they provide" },
  { "inspect", glia_cli_cmd_inspect, "Describe a model and how a session assigns its nodes" },
  { "run", glia_cli_cmd_run, "Run a model once on inputs read from .npy files" },
  { "bench", glia_cli_cmd_bench, "Measure session creation time and run latency" },
  { "compare", glia_cli_cmd_compare, "Compare the outputs of providers on the same inputs" },
};

static void
print_help (FILE *out)
{
  fprintf (out,
           "Usage:\n  glia COMMAND [OPTION…] [ARGUMENT…]\n\n"
           "Glia %s: run and inspect ML models.\n\nCommands:\n",
           glia_get_version ());
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "  %-9s %s\n", "help", "Show this help, or a command's help: glia help COMMAND");
  fprintf (out, "\nOptions:\n"
                "  -h, --help   Show this help\n"
                "  --version    Print the version of Glia\n"
                "\n"
                "Run 'glia COMMAND --help' for the options of a command.\n"
                "\n"
                "Environment:\n"
                "  GLIA_PLUGIN_PATH     directories searched for plugins first, ':'-separated\n"
                "  GLIA_REGISTRY_CACHE  plugin metadata cache file (empty: no cache)\n"
                "  G_MESSAGES_DEBUG     'all' (or a domain such as Glia-CPU) for debug logs\n");
}

static const Command *
find_command (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];
  return NULL;
}

static int
unknown_command (const char *name)
{
  glia_cli_print_error ("unknown command '%s'", name);
  fprintf (stderr, "Run 'glia --help' for the list of commands.\n");
  return GLIA_CLI_EXIT_USAGE;
}

int
main (int argc, char **argv)
{
  /* Messages follow the user's locale; numbers are printed the C way, as
   * scripts that read them expect. */
  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C");
  g_set_prgname ("glia");

  if (argc < 2) {
    print_help (stderr);
    return GLIA_CLI_EXIT_USAGE;
  }
  const char *first = argv[1];
  if (g_str_equal (first, "--version")) {
    printf ("glia %s\n", glia_get_version ());
    return GLIA_CLI_EXIT_OK;
  }
  if (g_str_equal (first, "--help") || g_str_equal (first, "-h") || g_str_equal (first, "help")) {
    if (argc > 2 && g_str_equal (first, "help")) {
      const Command *command = find_command (argv[2]);
      if (command == NULL)
        return unknown_command (argv[2]);
      /* The command's option context prints its help and exits. */
      char *help_argv[] = { (char *)command->name, (char *)"--help", NULL };
      return command->run (2, help_argv);
    }
    print_help (stdout);
    return GLIA_CLI_EXIT_OK;
  }
  if (first[0] == '-')
    return glia_cli_usage_error (NULL, "unknown option %s", first);

  const Command *command = find_command (first);
  if (command == NULL)
    return unknown_command (first);
  return command->run (argc - 1, argv + 1);
}
