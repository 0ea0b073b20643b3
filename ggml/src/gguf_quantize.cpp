// quantize_gguf: the model quantizer behind ggml-quantize. Which tensors are quantized follows
// llama.cpp's rule for its plain q8_0 / q4_0 file types: 2-D weight matrices; 1-D tensors
// (norm gains, biases) stay as they are because element-wise ops read them as f32.
#include <string>
#include <vector>

#include "ggml/gguf.h"
#include "ggml/quant.h"

namespace ggml {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

GgufWriter quantize_gguf(const GgufFile& in, DType type, QuantizeReport* report) {
    if (type != DType::Q8_0 && type != DType::Q4_0)
        throw Error(std::string("quantize_gguf: target type ") + dtype_name(type) +
                    " is not q8_0 or q4_0");
    QuantizeReport rep;
    GgufWriter out;
    for (const GgufKv& kv : in.kvs()) out.set(kv.key, kv.value);
    out.set_u32("general.file_type", type == DType::Q8_0 ? 7u : 2u);
    out.set_u32("general.quantization_version", 2u);

    std::vector<float> row;
    for (const GgufTensorInfo& t : in.tensors()) {
        const std::optional<DType> dt = ggml_type_to_dtype(t.type);
        const bool is_float = dt && (*dt == DType::F32 || *dt == DType::F16 || *dt == DType::BF16);
        const bool quantize =
            is_float && t.n_dims == 2 && ends_with(t.name, ".weight") && t.ne[0] % 32 == 0;
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        rep.bytes_in += t.nbytes;
        if (!quantize) {
            out.add_tensor(t.name, t.type, ne, t.data, t.nbytes);
            rep.bytes_out += t.nbytes;
            ++rep.n_kept;
            continue;
        }
        const int64_t K = t.ne[0], rows = t.nelements() / K;
        const size_t in_row = t.nbytes / (size_t)rows, out_row = row_bytes(type, K);
        std::vector<uint8_t> q((size_t)rows * out_row);
        row.resize((size_t)K);
        for (int64_t r = 0; r < rows; ++r) {
            to_float_row(*dt, t.data + (size_t)r * in_row, row.data(), K);
            from_float_row(type, row.data(), q.data() + (size_t)r * out_row, K);
        }
        out.add_tensor(t.name, (uint32_t)dtype_to_ggml_type(type), ne, q.data(), q.size());
        rep.bytes_out += q.size();
        ++rep.n_quantized;
    }
    if (report) *report = rep;
    return out;
}

}  // namespace ggml
