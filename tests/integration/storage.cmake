# The database's filesystem full or made read-only (issue 12, item 5):
# the real daemon on the scripted runtime, as root in a mount namespace of
# the test's own.
if(TARGET podsandboxctl)
  add_test(NAME integration.storage
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/storage_test.sh
            $<TARGET_FILE:podsandboxd> $<TARGET_FILE:podsandboxctl>
            ${CMAKE_SOURCE_DIR}/tests/data/pod-config.json)
  math(EXPR t "90 * ${PSB_TEST_TIMEOUT_MULTIPLIER}")
  set_tests_properties(integration.storage PROPERTIES
    LABELS integration TIMEOUT ${t} SKIP_RETURN_CODE 77
    ENVIRONMENT "PSB_TEST_TMPDIR=${CMAKE_CURRENT_BINARY_DIR}")
else()
  message(STATUS "PSB_TOOLS=OFF: no podsandboxctl, integration.storage is "
    "not registered")
endif()
