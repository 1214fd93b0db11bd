/* test-abi-layout.c: every struct that crosses the plugin boundary keeps
 * its ABI 1.0 layout. abidiff (abi-check) sees only libglia's exported
 * functions; a plugin's GliaPluginDesc, GliaProviderInfo or GliaOpDef never
 * passes through one, so a field moved in plugin-api/ would go unnoticed
 * there. Here each 1.0 field must keep its offset and size, structs without
 * struct_size (GliaPluginDesc, views, GliaKernel) their whole size, and the
 * versioned ones may only grow. */
#include "abi-layout.h"

static void
test_layout (void)
{
  g_assert_cmpuint (glia_abi_layout_old_len, ==, glia_abi_layout_new_len);
  for (gsize i = 0; i < glia_abi_layout_old_len; i++) {
    const GliaAbiRow *o = &glia_abi_layout_old[i], *n = &glia_abi_layout_new[i];
    g_assert_cmpstr (o->type, ==, n->type);
    g_assert_cmpstr (o->field, ==, n->field);
    if (o->field) {
      if (o->offset != n->offset || o->size != n->size)
        g_error ("%s.%s moved: offset %" G_GSIZE_FORMAT " size %" G_GSIZE_FORMAT
                 " in ABI 1.0, offset %" G_GSIZE_FORMAT " size %" G_GSIZE_FORMAT " now",
                 o->type, o->field, o->offset, o->size, n->offset, n->size);
    } else if (o->fixed ? n->offset != o->offset : n->offset < o->offset)
      g_error ("sizeof (%s) is %" G_GSIZE_FORMAT " now, %" G_GSIZE_FORMAT " in ABI 1.0%s", o->type,
               n->offset, o->offset,
               o->fixed ? " (it has no struct_size: it must not change)" : "");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/abi/struct-layout", test_layout);
  return g_test_run ();
}
