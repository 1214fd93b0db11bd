/* The ABI 1.0 layouts, compiled against the frozen headers only
 * (tests/plugins/abi-1.0). */
#include <glia-kernel.h>
#include <glia-loader.h>
#include <glia-module.h>
#include <glia-plugin.h>
#include <glia-provider.h>

#include "abi-layout.h"

#define ROWS_NAME glia_abi_layout_old
#include "abi-layout-rows.h"
