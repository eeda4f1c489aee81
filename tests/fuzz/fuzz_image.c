/* libFuzzer target: a one-frame folder through cn_video_open/cn_video_read (host/io/video_frames.c: stb_image); see tests/fuzz/readers.c. */
#include "readers.c"

#ifndef FZ_HAVE_VIDEO
#error "host/io/video.h is missing: fuzz.cmake builds this target only when it exists"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_frame(data, size);
    return 0;
}
