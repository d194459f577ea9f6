# libpodsandbox and podsandboxctl: the client unit tests (against an
# in-test nng server) and the CLI against the real daemon.
psb_test(client_test
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/client_test.c
  LABEL unit PREFIX unit
  LIBS podsandbox_static psb_proto nng::nng Threads::Threads)
target_compile_definitions(client_test PRIVATE
  PSB_TEST_DATA="${CMAKE_SOURCE_DIR}/tests/data")

if(TARGET podsandboxctl)
add_test(NAME integration.cli
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_test.sh
          $<TARGET_FILE:podsandboxctl> $<TARGET_FILE:podsandboxd>
          ${CMAKE_SOURCE_DIR}/tests/data/pod-config.json)
math(EXPR t "90 * ${PSB_TEST_TIMEOUT_MULTIPLIER}")
set_tests_properties(integration.cli PROPERTIES
  LABELS integration TIMEOUT ${t}
  ENVIRONMENT "PSB_TEST_TMPDIR=${CMAKE_CURRENT_BINARY_DIR}")
else()
  message(STATUS "PSB_TOOLS=OFF: no podsandboxctl, integration.cli is "
    "not registered")
endif()
