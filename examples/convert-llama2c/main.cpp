// ggml-convert-llama2c: converts a legacy llama2.c checkpoint into a llama-architecture GGUF
// (f32 weights, llama.cpp's metadata keys and tensor names), so the same model loads in
// ggml-llama and in llama.cpp.
//
//   ggml-convert-llama2c IN.bin OUT.gguf
#include <cstdio>
#include <exception>

#include "ggml/llama.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s IN.bin OUT.gguf\n", argv[0]);
        return 1;
    }
    try {
        auto model = ggml::llama::Model::load_llama2c(argv[1]);
        ggml::llama::save_gguf(*model, argv[2]);
        std::fprintf(stderr, "%s -> %s: %s, %s classifier, placeholder vocabulary\n", argv[1],
                     argv[2], model->hp.to_string().c_str(),
                     model->tied_output() ? "tied" : "separate");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
