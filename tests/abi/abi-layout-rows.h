/* abi-layout-rows.h: defines ROWS_NAME[] (and ROWS_NAME_len) from
 * abi-layout.inc against whichever plugin headers the including file saw. */
#include <stddef.h>

#define STRUCT(T, FIXED) { #T, NULL, sizeof (T), 0, FIXED },
#define FIELD(T, F)      { #T, #F, offsetof (T, F), sizeof (((T *)0)->F), FALSE },
const GliaAbiRow ROWS_NAME[] = {
#include "abi-layout.inc"
};
#undef STRUCT
#undef FIELD
#define ROWS_LEN_(n) n##_len
#define ROWS_LEN(n)  ROWS_LEN_ (n)
const gsize ROWS_LEN (ROWS_NAME) = G_N_ELEMENTS (ROWS_NAME);
