/* libFuzzer target: cn_audio_read (host/io/audio.c: libsndfile, mono mix, resampling) on arbitrary bytes; see tests/fuzz/readers.c. */
#include "readers.c"

#ifndef FZ_HAVE_AUDIO
#error "host/io/audio.h is missing: fuzz.cmake builds this target only when it exists"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_audio(data, size);
    return 0;
}
