// The Vulkan kernel table: for every op in ops.def, whether a shader can run the node
// (supports) and the dispatches that compute it (prepare). Both live side by side per op so
// "can run" and "how to run" never drift apart.
#pragma once

#include <string>
#include <vector>

#include "ggml/tensor.h"
#include "vk_device.h"

namespace ggml {
namespace vk {

// Device limits the kernels' grids and bindings must respect.
struct Limits {
    uint32_t max_groups[3];
    size_t max_range;  // bytes one binding may cover
};

// One compute dispatch. The backend resolves the bound tensors into buffers and fills the
// tensor descriptors of `params`; the op fills everything else.
struct Dispatch {
    std::string module;          // embedded shader module, without the _fp16 suffix
    bool has_fp16 = false;       // a 16-bit-storage variant "<module>_fp16" exists
    const Tensor* bind[6] = {};  // dst, src[0..4] (null: a dummy buffer is bound)
    ShaderParams params{};
    PushConsts pc{};
    // Workgroups. When `fold` is set, groups[0] counts a 1-D grid that the backend folds into
    // x/y so it never exceeds maxComputeWorkGroupCount[0] (the shader uses group_index()).
    uint32_t groups[3] = {1, 1, 1};
    bool fold = false;
};

bool op_supported(const Tensor* node, const Limits& lim);
// Appends the dispatches computing `node` (none for leaves and views).
void op_prepare(const Tensor* node, std::vector<Dispatch>& out);

}  // namespace vk
}  // namespace ggml
