# libFuzzer targets (tests/fuzz/fuzz_*.c) and their seed generator, built only with -DCASPNET_FUZZ=ON and clang; cmake/fuzz.sh drives them.
option(CASPNET_FUZZ "Build the libFuzzer targets in tests/fuzz (clang only; see cmake/fuzz.sh)" OFF)

if(CASPNET_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang" OR NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # gcc has no libFuzzer: fail at configure time rather than at link time
    message(FATAL_ERROR "CASPNET_FUZZ=ON needs clang (CC=clang CXX=clang++ cmake ...); the compilers are ${CMAKE_C_COMPILER_ID} and ${CMAKE_CXX_COMPILER_ID}")
  endif()
  set(CASPNET_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer -g -Wno-unknown-warning-option)
  # The library gets coverage instrumentation (fuzzer-no-link) so that the
  # fuzzer is guided by the readers' branches, and ASan/UBSan so that a bad
  # read inside them is caught where it happens. PUBLIC link options carry the
  # sanitizer runtimes to everything that links libcaspnet (tests, program).
  foreach(lib caspnet caspnet_io)
    target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link ${CASPNET_FUZZ_SAN})
    target_link_options(${lib} PUBLIC -fsanitize=address,undefined)
  endforeach()
  # stb_image (compiled into video_frames.c) computes NULL + 0 on a PNG whose
  # first IDAT chunk is empty (and memcpy(NULL, p, 0) after it): undefined in C,
  # harmless in practice, and in
  # Debian's copy, which we do not patch; every other check stays on.
  set_source_files_properties(${CMAKE_SOURCE_DIR}/host/io/video_frames.c PROPERTIES
    COMPILE_OPTIONS -fno-sanitize=pointer-overflow,nonnull-attribute)

  file(GLOB CASPNET_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
  foreach(src IN LISTS CASPNET_FUZZ_SOURCES)
    get_filename_component(name ${src} NAME_WE)
    # the WAV and frame targets go through host/io/audio.h and host/io/video.h;
    # without them there is nothing to fuzz yet
    if(name STREQUAL "fuzz_wav" AND NOT EXISTS ${CMAKE_SOURCE_DIR}/host/io/audio.h)
      message(STATUS "fuzz: host/io/audio.h not found, skipping fuzz_wav")
      continue()
    endif()
    if(name STREQUAL "fuzz_image" AND NOT EXISTS ${CMAKE_SOURCE_DIR}/host/io/video.h)
      message(STATUS "fuzz: host/io/video.h not found, skipping fuzz_image")
      continue()
    endif()
    add_executable(${name} ${src})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer ${CASPNET_FUZZ_SAN})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE caspnet_io caspnet m)
    list(APPEND CASPNET_FUZZ_TARGETS ${name})
  endforeach()

  # Plain program (no fuzzer runtime, no sanitizers needed): writes the seeds.
  add_executable(fuzz_make_corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/make_corpus.c)
  target_include_directories(fuzz_make_corpus PRIVATE ${STB_INCLUDE_DIR})
  target_compile_options(fuzz_make_corpus PRIVATE -Wno-unknown-warning-option)
  target_link_libraries(fuzz_make_corpus PRIVATE m)
  add_custom_target(fuzz DEPENDS ${CASPNET_FUZZ_TARGETS} fuzz_make_corpus)
endif()
