# Generates the bundled sample clip (caspnet make-sample) into ${CMAKE_BINARY_DIR}/sample at build time; skipped with a warning when ffmpeg is missing.
find_program(CASPNET_FFMPEG ffmpeg)
set(CASPNET_SAMPLE_DIR ${CMAKE_BINARY_DIR}/sample)
if(CASPNET_FFMPEG)
  # make-sample writes into a temporary folder and renames, so the outputs are
  # either all new or untouched; --force because a rebuild replaces the last sample
  add_custom_command(
    OUTPUT ${CASPNET_SAMPLE_DIR}/sample.mp4 ${CASPNET_SAMPLE_DIR}/audio.wav
           ${CASPNET_SAMPLE_DIR}/frames/000001.png
    COMMAND $<TARGET_FILE:caspnet_cli> make-sample --force ${CASPNET_SAMPLE_DIR}
    DEPENDS caspnet_cli
    COMMENT "Generating the sample clip in ${CASPNET_SAMPLE_DIR}"
    VERBATIM)
  add_custom_target(sample ALL DEPENDS ${CASPNET_SAMPLE_DIR}/sample.mp4)
else()
  message(WARNING "ffmpeg not found: the sample clip (target 'sample') is not generated; "
                  "install ffmpeg (Debian: apt-get install ffmpeg) and re-run CMake")
endif()
