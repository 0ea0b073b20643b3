// Helpers shared by the GGUF reader and writer (not part of the public API).
#pragma once

#include <cstddef>
#include <string>

namespace ggml {

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): the byte index of
// the first invalid sequence in `s`, or std::string::npos when `s` is valid.
size_t utf8_invalid_at(const std::string& s);

}  // namespace ggml
