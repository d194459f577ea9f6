# PSB_SANITIZER=address,undefined etc. applies to every target, tests included.
if(NOT PSB_SANITIZER STREQUAL "none" AND NOT PSB_SANITIZER STREQUAL "")
  add_compile_options(-fsanitize=${PSB_SANITIZER} -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${PSB_SANITIZER})
endif()
