# The real daemon over ipc through libpodsandbox (scripted runtime).
add_executable(api_test ${CMAKE_CURRENT_SOURCE_DIR}/api_test.c)
target_link_libraries(api_test PRIVATE psb_testing podsandbox_static
  PkgConfig::JANSSON Threads::Threads)
math(EXPR t "180 * ${PSB_TEST_TIMEOUT_MULTIPLIER}")
add_test(NAME integration.api COMMAND api_test $<TARGET_FILE:podsandboxd>)
set_tests_properties(integration.api PROPERTIES
  LABELS integration TIMEOUT ${t}
  ENVIRONMENT "PSB_TEST_TMPDIR=${CMAKE_CURRENT_BINARY_DIR}")

# libpodsandbox installed and used through pkg-config (shared and static).
set(psb_user_cflags "")
if(NOT PSB_SANITIZER STREQUAL "none" AND NOT PSB_SANITIZER STREQUAL "")
  set(psb_user_cflags "-fsanitize=${PSB_SANITIZER}")
endif()
add_test(NAME integration.pkgconfig
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/pkgconfig_test.sh ${CMAKE_BINARY_DIR}
          "${psb_user_cflags}")
set_tests_properties(integration.pkgconfig PROPERTIES
  LABELS integration TIMEOUT ${t}
  ENVIRONMENT "PSB_TEST_TMPDIR=${CMAKE_CURRENT_BINARY_DIR}")

# The same daemon spoken to in raw protobuf bytes over a raw nng REQ/SUB
# socket: neither libpodsandbox nor protobuf-c on the client side.
add_executable(wire_test ${CMAKE_CURRENT_SOURCE_DIR}/wire_test.c)
target_link_libraries(wire_test PRIVATE psb_testing nng::nng)
math(EXPR t_wire "120 * ${PSB_TEST_TIMEOUT_MULTIPLIER}")
add_test(NAME integration.wire COMMAND wire_test $<TARGET_FILE:podsandboxd>)
set_tests_properties(integration.wire PROPERTIES
  LABELS integration TIMEOUT ${t_wire}
  ENVIRONMENT "PSB_TEST_TMPDIR=${CMAKE_CURRENT_BINARY_DIR}")
