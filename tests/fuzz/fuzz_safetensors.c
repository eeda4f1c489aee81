/* libFuzzer target: cn_st_read (host/io/safetensors.c) on arbitrary bytes; see tests/fuzz/readers.c for what is checked. */
#include "readers.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_safetensors(data, size);
    return 0;
}
