/* glia-loader.h: the model-format loader interface.
 *
 * A loader is asked to probe a file by its content (the first bytes, plus the
 * path for formats that need a sidecar) and answers with a score; the best
 * scorer loads the file into a GliaGraph. Loaders must treat every byte as
 * hostile: bounds-check, never trust sizes, fail with a GError.
 */
#pragma once

#include "glia-graph.h"

G_BEGIN_DECLS

#define GLIA_LOADER_SCORE_NONE    0
#define GLIA_LOADER_SCORE_MAYBE   50
#define GLIA_LOADER_SCORE_CERTAIN 100

typedef struct _GliaLoaderInfo GliaLoaderInfo;

/**
 * GliaLoaderInfo:
 * @struct_size: sizeof (GliaLoaderInfo) as compiled by the plugin
 * @name: short name ("onnx")
 * @description: one line for `glia plugins`
 * @extensions: NULL-terminated list of usual file extensions, without dot (a hint only)
 * @probe: scores @head (the first @head_len bytes of the file at @path) from
 *   0 (not mine) to 100 (certainly mine)
 * @load: loads the file at @path into a new graph
 */
struct _GliaLoaderInfo
{
  gsize struct_size;
  const char *name;
  const char *description;
  const char *const *extensions;
  guint (*probe) (const char *path, const guint8 *head, gsize head_len);
  GliaGraph *(*load) (const char *path, GError **error);
  /*< private >*/
  gpointer _reserved[8];
};

G_END_DECLS
