// ggml-quantize: rewrites a GGUF model with its weight matrices in q8_0 or q4_0 (GGUF's block
// formats, so llama.cpp reads the result too); metadata and 1-D tensors are copied unchanged.
//
//   ggml-quantize IN.gguf OUT.gguf q8_0|q4_0
#include <cstdio>
#include <exception>
#include <string>

#include "ggml/gguf.h"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s IN.gguf OUT.gguf q8_0|q4_0\n", argv[0]);
        return 1;
    }
    const std::string kind = argv[3];
    if (kind != "q8_0" && kind != "q4_0") {
        std::fprintf(stderr, "error: type '%s' is not q8_0 or q4_0\n", argv[3]);
        return 1;
    }
    try {
        const ggml::DType type = kind == "q8_0" ? ggml::DType::Q8_0 : ggml::DType::Q4_0;
        const ggml::GgufFile in = ggml::GgufFile::open(argv[1]);
        ggml::QuantizeReport rep;
        ggml::quantize_gguf(in, type, &rep).write(argv[2]);
        std::fprintf(stderr,
                     "%s -> %s (%s): %zu tensors quantized, %zu copied; tensor data %.2f MB -> "
                     "%.2f MB\n",
                     argv[1], argv[2], argv[3], rep.n_quantized, rep.n_kept, rep.bytes_in / 1e6,
                     rep.bytes_out / 1e6);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
