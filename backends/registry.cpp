// The backend registry: the only file that knows which backends were compiled in.
// Registration is explicit (one #ifdef per backend), with no static initialisers.
#include <thread>

#include "cpu/cpu_backend.h"
#include "ggml/backend.h"
#ifdef GGML_USE_CUDA
#include "cuda/cuda_backend.h"
#endif
#ifdef GGML_USE_VULKAN
#include "vulkan/vk_backend.h"
#endif

namespace ggml {

std::vector<std::string> available_backends() {
    std::vector<std::string> names = {"cpu"};
#ifdef GGML_USE_CUDA
    if (cuda_device_count(nullptr) > 0) names.push_back("cuda");
#endif
#ifdef GGML_USE_VULKAN
    if (vulkan_available(nullptr)) names.push_back("vulkan");
#endif
    return names;
}

std::vector<std::string> unavailable_backends() {
    std::vector<std::string> out;
#ifdef GGML_USE_CUDA
    std::string why;
    if (cuda_device_count(&why) == 0) out.push_back("cuda: no CUDA device (" + why + ")");
#endif
#ifdef GGML_USE_VULKAN
    std::string vk_why;
    if (!vulkan_available(&vk_why)) out.push_back(vk_why);  // "vulkan: <reason>"
#endif
    return out;
}

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& opt) {
    if (name == "cpu") {
        int n = opt.n_threads > 0 ? opt.n_threads : (int)std::thread::hardware_concurrency();
        return make_cpu_backend(n > 0 ? n : 1);
    }
#ifdef GGML_USE_CUDA
    if (name == "cuda") return make_cuda_backend(0);
#endif
#ifdef GGML_USE_VULKAN
    if (name == "vulkan") return make_vulkan_backend();  // throws ggml::Error with the reason
#endif
    throw Error("make_backend: unknown or unavailable backend '" + name + "'");
}

}  // namespace ggml
