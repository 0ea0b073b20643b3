# ggml_target_warnings(target): the project's warning set, applied to every target we own.
function(ggml_target_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX,C>:-Wall -Wextra -Wshadow=local -Wno-unused-parameter>)
endfunction()
