# psb_test(NAME SOURCES... [LABEL label] [TIMEOUT s] [LIBS libs...])
# One line registers a test: it is built against psb_testing and added to
# ctest with a folder prefix, a label, a timeout and skip code 77
# (STYLE.md practice 19; a cmocka main() returns psb_test_run_group(),
# which exits 77 when a test skipped: docs/testing.md).
# PSB_TEST_TIMEOUT_MULTIPLIER scales timeouts for sanitizer runs.
set(PSB_TEST_TIMEOUT_MULTIPLIER "$ENV{PSB_TEST_TIMEOUT_MULTIPLIER}")
if(NOT PSB_TEST_TIMEOUT_MULTIPLIER)
  set(PSB_TEST_TIMEOUT_MULTIPLIER 1)
endif()

function(psb_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT;PREFIX" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  if(NOT T_PREFIX)
    set(T_PREFIX ${T_LABEL})
  endif()
  if(NOT T_SOURCES)
    set(T_SOURCES ${name}.c)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE psb_testing ${T_LIBS})
  math(EXPR t "${T_TIMEOUT} * ${PSB_TEST_TIMEOUT_MULTIPLIER}")
  add_test(NAME ${T_PREFIX}.${name} COMMAND ${name})
  set_tests_properties(${T_PREFIX}.${name} PROPERTIES
    LABELS ${T_LABEL} TIMEOUT ${t} SKIP_RETURN_CODE 77
    ENVIRONMENT "PSB_TEST_TMPDIR=${CMAKE_CURRENT_BINARY_DIR}")
endfunction()
