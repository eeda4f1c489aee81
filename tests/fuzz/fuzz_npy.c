/* libFuzzer target: cn_npy_read (host/io/npy.c) on arbitrary bytes; see tests/fuzz/readers.c for what is checked. */
#include "readers.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_npy(data, size);
    return 0;
}
