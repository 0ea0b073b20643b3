/* Compiles ggml_c.h on its own as strict C99 (-pedantic -Werror); nothing runs. */
#include "ggml/ggml_c.h"

int ggml_c_header_check(void);
int ggml_c_header_check(void) {
    return (int)GGML_C_OK;
}
