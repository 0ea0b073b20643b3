# Script mode (cmake -P): turns one SPIR-V file into a C++ source holding it as a byte array.
#   -DSPV=<in.spv> -DOUT=<out.cpp> -DNAME=<module name>
# The array is 4-byte aligned because Vulkan takes SPIR-V as 32-bit words.
file(READ ${SPV} hex HEX)
string(LENGTH "${hex}" n_hex)
math(EXPR n_bytes "${n_hex} / 2")
if(n_bytes EQUAL 0 OR NOT n_bytes MATCHES "^[0-9]+$")
  message(FATAL_ERROR "GgmlEmbedSpirv: ${SPV} is empty")
endif()
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Line breaks every 16 bytes keep the generated file readable for compilers and editors.
string(REGEX REPLACE "((0x..,){16})" "\\1\n    " bytes "${bytes}")
file(WRITE ${OUT}
  "// Generated from ${NAME}.spv by GgmlEmbedSpirv.cmake.\n"
  "#include <cstddef>\n\n"
  "namespace ggml {\nnamespace vk {\n"
  "extern const unsigned char spv_${NAME}[];\nextern const size_t spv_${NAME}_size;\n"
  "alignas(4) const unsigned char spv_${NAME}[] = {\n    ${bytes}\n};\n"
  "const size_t spv_${NAME}_size = ${n_bytes};\n"
  "}  // namespace vk\n}  // namespace ggml\n")
