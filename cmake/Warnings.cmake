# Baseline flags for every target (STYLE.md practice 22).
add_compile_options(
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wvla -Wno-unused-parameter -fno-omit-frame-pointer)
if(PSB_WERROR)
  add_compile_options(-Werror)
endif()
if(PSB_COVERAGE)
  add_compile_options(--coverage -O0)
  add_link_options(--coverage)
endif()
