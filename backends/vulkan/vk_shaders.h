// The SPIR-V modules embedded at build time (GgmlShaders.cmake generates the table).
#pragma once

#include <cstddef>
#include <vector>

namespace ggml {
namespace vk {

struct ShaderModuleData {
    const char* name;           // "mul_mat", "mul_mat_fp16", ...
    const unsigned char* code;  // SPIR-V words, 4-byte aligned
    size_t size;                // bytes
};

const std::vector<ShaderModuleData>& shader_table();

}  // namespace vk
}  // namespace ggml
