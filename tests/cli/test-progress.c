/* test-progress.c: the CLI's progress line (glia-cli-common.c): its format,
 * that nothing at all is written when stderr is not a terminal or the
 * caller disables it (--json), and what a terminal receives: the line, then
 * its erasure. The terminal is a pseudo-terminal this test opens. */
#define _GNU_SOURCE
#include "glia-cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static guint
count_char (const char *s, char c)
{
  guint n = 0;
  for (; *s; s++)
    n += *s == c;
  return n;
}

static void
test_format_bar (void)
{
  g_autofree char *line = glia_cli_progress_format ("bench", 5, 10, 1.04, 60);
  /* "bench [" + 39-column bar + "]  5/10  1.0 s" */
  g_assert_cmpuint (strlen (line), ==, 60);
  g_assert_true (g_str_has_prefix (line, "bench ["));
  g_assert_true (g_str_has_suffix (line, "]  5/10  1.0 s"));
  g_assert_cmpuint (count_char (line, '#'), ==, 19);

  g_autofree char *full = glia_cli_progress_format ("bench", 12, 10, 0, 60);
  g_assert_true (g_str_has_suffix (full, "]  10/10  0.0 s"));
  g_assert_cmpuint (count_char (full, '#'), ==, 38);
  g_assert_null (strstr (full, "# "));

  /* a narrow terminal: the bar keeps 10 columns and the line is cut */
  g_autofree char *narrow
      = glia_cli_progress_format ("a long label for a narrow terminal", 1, 2, 3.0, 30);
  g_assert_cmpuint (strlen (narrow), ==, 30);
  g_assert_true (g_str_has_prefix (narrow, "a long label for a narrow term"));
}

static void
test_format_activity (void)
{
  g_autofree char *line = glia_cli_progress_format ("loading m.onnx (97.8 MB)", 0, 0, 2.31, 80);
  g_assert_cmpstr (line, ==, "loading m.onnx (97.8 MB) ...  2.3 s");
}

/* Replaces stderr with @fd; returns a descriptor of what was there. */
static int
swap_stderr (int fd)
{
  fflush (stderr);
  int saved = dup (STDERR_FILENO);
  g_assert_cmpint (dup2 (fd, STDERR_FILENO), ==, STDERR_FILENO);
  return saved;
}

static void
restore_stderr (int saved)
{
  fflush (stderr);
  g_assert_cmpint (dup2 (saved, STDERR_FILENO), ==, STDERR_FILENO);
  close (saved);
}

static char *
read_available (int fd)
{
  GString *s = g_string_new (NULL);
  char buf[4096];
  ssize_t n;
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (s, buf, n);
  return g_string_free (s, FALSE);
}

/* Not a terminal, or disabled: no object, no byte written. */
static void
test_quiet_off_terminal (void)
{
  int pipe_fds[2];
  g_assert_cmpint (pipe (pipe_fds), ==, 0);
  g_assert_cmpint (fcntl (pipe_fds[0], F_SETFL, O_NONBLOCK), ==, 0);
  int saved = swap_stderr (pipe_fds[1]);
  GliaCliProgress *bar = glia_cli_progress_new ("bench", 10, TRUE);
  GliaCliProgress *activity = glia_cli_progress_new ("loading", 0, TRUE);
  for (guint i = 0; i <= 10; i++)
    glia_cli_progress_update (bar, i);
  glia_cli_progress_free (bar);
  glia_cli_progress_free (activity);
  restore_stderr (saved);
  close (pipe_fds[1]);
  g_assert_null (bar);
  g_assert_null (activity);
  g_autofree char *written = read_available (pipe_fds[0]);
  g_assert_cmpstr (written, ==, "");
  close (pipe_fds[0]);
}

static int
open_pty (int *slave)
{
  int master = posix_openpt (O_RDWR | O_NOCTTY);
  g_assert_cmpint (master, >=, 0);
  g_assert_cmpint (grantpt (master), ==, 0);
  g_assert_cmpint (unlockpt (master), ==, 0);
  *slave = open (ptsname (master), O_RDWR | O_NOCTTY);
  g_assert_cmpint (*slave, >=, 0);
  g_assert_cmpint (fcntl (master, F_SETFL, O_NONBLOCK), ==, 0);
  return master;
}

/* On a terminal: nothing in the first half second, then the line, and at
 * the end the line erased; disabled (--json) still writes nothing. */
static void
test_terminal (void)
{
  int slave, master = open_pty (&slave);
  int saved = swap_stderr (slave);

  GliaCliProgress *disabled = glia_cli_progress_new ("json", 4, FALSE);
  g_assert_null (disabled);

  GliaCliProgress *bar = glia_cli_progress_new ("bench", 4, TRUE);
  g_assert_nonnull (bar);
  glia_cli_progress_update (bar, 1); /* too early to draw */
  g_usleep (G_USEC_PER_SEC * 6 / 10);
  glia_cli_progress_update (bar, 4); /* done: always drawn */
  glia_cli_progress_free (bar);

  GliaCliProgress *activity = glia_cli_progress_new ("loading", 0, TRUE);
  g_usleep (G_USEC_PER_SEC); /* the thread redraws from 0.5 s on */
  glia_cli_progress_free (activity);

  GliaCliProgress *quick = glia_cli_progress_new ("quick", 0, TRUE);
  glia_cli_progress_free (quick); /* finished before the delay: nothing */

  restore_stderr (saved);
  close (slave);
  g_autofree char *written = read_available (master);
  close (master);

  g_auto (GStrv) parts = g_strsplit (written, "\r", -1);
  /* "", the bar at 4/4, its erasure, activity lines, their erasure */
  g_assert_cmpuint (g_strv_length (parts), >=, 5);
  g_assert_cmpstr (parts[0], ==, "");
  g_assert_true (g_str_has_prefix (parts[1], "bench ["));
  g_assert_nonnull (strstr (parts[1], "]  4/4  "));
  g_assert_true (g_str_has_suffix (parts[1], "\033[K"));
  g_assert_cmpstr (parts[2], ==, "\033[K");
  guint n = g_strv_length (parts);
  for (guint i = 3; i < n - 1; i++)
    g_assert_true (g_str_has_prefix (parts[i], "loading ...  "));
  g_assert_cmpstr (parts[n - 1], ==, "\033[K");
  g_assert_null (strstr (written, "quick"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/progress/format-bar", test_format_bar);
  g_test_add_func ("/cli/progress/format-activity", test_format_activity);
  g_test_add_func ("/cli/progress/quiet-off-terminal", test_quiet_off_terminal);
  g_test_add_func ("/cli/progress/terminal", test_terminal);
  return g_test_run ();
}
