# Runs the op tests, test_engine, test_parity and test_determinism once per OpenCL implementation: the registered tests on PoCL (label pocl), and a copy of each, NAME_intel, on Intel's CPU runtime (label intel). Included at the end of tests/CMakeLists.txt.
#
# The device is chosen through CASPNET_DEVICE in each test's ENVIRONMENT. The
# copies run through cmake/on-implementation.sh, which decides at test time
# whether the implementation is present and otherwise exits 77: CTest then lists
# the test as skipped, with the reason in its output. PoCL is a required
# dependency (cmake/install-deps.sh), so the tests pinned to it fail when it is
# missing rather than being skipped.
#
# The copies repeat the registration rules of tests/CMakeLists.txt (CTest cannot
# read a test's command back): test_ops_<op> runs `test_ops <op>`, another C test
# runs its own program, a shell test runs `bash tests/<name>.sh caspnet src build`.

# Sanitizer builds run the suite on PoCL only (cmake/sanitize.sh): a second
# runtime's own allocations would be leak reports about code that is not ours.
if(CASPNET_SANITIZE)
  return()
endif()

set(CASPNET_IMPL_POCL "Portable Computing Language" CACHE STRING
    "CASPNET_DEVICE substring that selects PoCL for the per-implementation tests")
set(CASPNET_IMPL_INTEL "Intel(R) OpenCL" CACHE STRING
    "CASPNET_DEVICE substring that selects Intel's OpenCL CPU runtime for the *_intel tests")

get_property(caspnet_all_tests DIRECTORY PROPERTY TESTS)
set(caspnet_impl_tests "")
foreach(t IN LISTS caspnet_all_tests)
  if(t MATCHES "^test_ops_" OR t MATCHES "^test_(engine|parity|determinism)$")
    list(APPEND caspnet_impl_tests ${t})
  endif()
endforeach()
foreach(t test_engine test_parity test_determinism)
  if(NOT t IN_LIST caspnet_impl_tests)
    message(FATAL_ERROR "tests/implementations.cmake: ${t} is not registered; update the list of per-implementation tests")
  endif()
endforeach()

foreach(t IN LISTS caspnet_impl_tests)
  if(t MATCHES "^test_ops_(.+)$" AND TARGET test_ops)
    set(cmd $<TARGET_FILE:test_ops> ${CMAKE_MATCH_1})
  elseif(TARGET ${t})
    set(cmd $<TARGET_FILE:${t}>)
  elseif(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${t}.sh)
    set(cmd bash ${CMAKE_CURRENT_SOURCE_DIR}/${t}.sh $<TARGET_FILE:caspnet_cli> ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
  else()
    message(FATAL_ERROR "tests/implementations.cmake: cannot tell how test ${t} is run")
  endif()
  get_test_property(${t} LABELS labels)
  get_test_property(${t} TIMEOUT timeout)
  get_test_property(${t} ENVIRONMENT env)
  get_test_property(${t} FIXTURES_REQUIRED fixtures)
  if(NOT labels)
    set(labels "")
  endif()
  if(NOT env)
    set(env "")
  endif()
  # the copy keeps the original's environment but gets its own program cache
  list(FILTER env EXCLUDE REGEX "^CASPNET_CACHE_DIR=")
  list(APPEND labels intel)
  list(APPEND env "CASPNET_CACHE_DIR=${CMAKE_BINARY_DIR}/test-cache/${t}_intel"
       "CASPNET_DEVICE=${CASPNET_IMPL_INTEL}" "CASPNET_IMPL=intel")

  # labels is now the copy's: the original gets pocl appended to its own
  set_property(TEST ${t} APPEND PROPERTY LABELS pocl)
  set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT
               "CASPNET_DEVICE=${CASPNET_IMPL_POCL}" "CASPNET_IMPL=pocl")

  set(copy ${t}_intel)
  add_test(NAME ${copy}
           COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/on-implementation.sh $<TARGET_FILE:caspnet_cli> ${cmd})
  set_tests_properties(${copy} PROPERTIES
    ENVIRONMENT "${env}"
    LABELS "${labels}"
    SKIP_RETURN_CODE 77)
  if(timeout)
    set_tests_properties(${copy} PROPERTIES TIMEOUT ${timeout})
  endif()
  if(fixtures)
    set_tests_properties(${copy} PROPERTIES FIXTURES_REQUIRED "${fixtures}")
  endif()
endforeach()

# The shared parity fixture calibrates its weights with the engine: on PoCL, so
# that every implementation is judged on the same file.
set_property(TEST test_parity_reference APPEND PROPERTY ENVIRONMENT "CASPNET_DEVICE=${CASPNET_IMPL_POCL}")
