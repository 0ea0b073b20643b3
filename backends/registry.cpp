// The backend registry: the only file that knows which backends were compiled in.
// Registration is explicit (one #ifdef per backend), with no static initialisers.
#include <thread>

#include "cpu/cpu_backend.h"
#include "ggml/backend.h"

namespace ggml {

std::vector<std::string> available_backends() {
    std::vector<std::string> names = {"cpu"};
    return names;
}

std::vector<std::string> unavailable_backends() {
    std::vector<std::string> out;
    return out;
}

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& opt) {
    if (name == "cpu") {
        int n = opt.n_threads > 0 ? opt.n_threads : (int)std::thread::hardware_concurrency();
        return make_cpu_backend(n > 0 ? n : 1);
    }
    throw Error("make_backend: unknown or unavailable backend '" + name + "'");
}

}  // namespace ggml
