// libFuzzer target for the GGUF reader: GgufFile::parse over arbitrary bytes, then every
// accessor a loader would touch (metadata values, tensor infos, dequantization, the tokenizer
// tables). The contract under test: malformed input gives a ggml::Error and nothing else, no
// out-of-bounds read (ASan), no undefined behaviour (UBSan), no other exception type and no
// allocation sized by an unchecked file field.
//
//   tools/fuzz.sh [SECONDS]     builds this with clang and runs it over tests/fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ggml/context.h"
#include "ggml/gguf.h"
#include "ggml/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const ggml::GgufFile f = ggml::GgufFile::parse(data, size);
        size_t sink = f.version() + f.alignment() + f.data_offset();
        for (const ggml::GgufKv& kv : f.kvs()) {
            sink += kv.value.to_string().size();
            if (kv.value.is_array()) sink += kv.value.array_size();
            sink += f.find(kv.key) != nullptr;
        }
        ggml::Context ctx;
        for (const ggml::GgufTensorInfo& t : f.tensors()) {
            sink += t.shape_str().size() + t.nbytes;
            // Dequantize small tensors only: the data is in bounds by contract, and big ones
            // would only slow the fuzzer down.
            if (t.nelements() <= 4096) {
                try {
                    sink += ggml::dequantize(t).size();
                } catch (const ggml::Error&) {
                }
            }
            try {
                sink += f.new_tensor(ctx, t.name)->nbytes();
            } catch (const ggml::Error&) {
            }
        }
        try {
            sink += ggml::TokenizerData::from_gguf(f).tokens.size();
        } catch (const ggml::Error&) {
        }
        volatile size_t keep = sink;
        (void)keep;
    } catch (const ggml::Error&) {
        // Rejected with a message: the expected outcome for malformed input.
    }
    return 0;
}
