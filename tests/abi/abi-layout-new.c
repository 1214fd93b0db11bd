/* The same layouts against the current plugin-api headers. */
#include <glia-kernel.h>
#include <glia-loader.h>
#include <glia-module.h>
#include <glia-plugin.h>
#include <glia-provider.h>

#include "abi-layout.h"

#define ROWS_NAME glia_abi_layout_new
#include "abi-layout-rows.h"
