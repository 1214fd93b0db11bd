/* glia.h: the public API of libglia-1.0. */
#pragma once

#include <glia-types.h>
#include "glia-version.h"
#include "glia-tensor.h"
#include "glia-sequence.h"
#include "glia-registry.h"
#include "glia-model.h"
#include "glia-session-options.h"
#include "glia-session.h"
