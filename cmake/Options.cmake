# Every build switch of podsandboxd lives here (STYLE.md practice 22).
option(PSB_TESTS "Build the unit, integration, crash and fuzz-replay tests" ON)
option(PSB_TOOLS "Build the tools (fsm doc generator, ...)" ON)
option(PSB_WERROR "Treat compiler warnings as errors" OFF)
option(PSB_COVERAGE "Instrument for gcov/llvm-cov coverage" OFF)
option(PSB_FUZZ "Build libFuzzer targets (needs clang); replay binaries are always built" OFF)
set(PSB_SANITIZER "none" CACHE STRING "Sanitizers to build with")
set_property(CACHE PSB_SANITIZER PROPERTY STRINGS
  none address undefined "address,undefined" thread)
