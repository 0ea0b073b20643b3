// Umbrella header: everything a program needs to build, plan and run graphs.
#pragma once

#include "ggml/backend.h"
#include "ggml/context.h"
#include "ggml/graph.h"
#include "ggml/ops.h"
#include "ggml/plan.h"
#include "ggml/quant.h"
#include "ggml/tensor.h"
#include "ggml/types.h"
