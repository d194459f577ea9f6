# External libraries, all from Debian packages (scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)

# libev ships neither a pkg-config file nor a CMake config.
find_path(LIBEV_INCLUDE_DIR ev.h REQUIRED)
find_library(LIBEV_LIBRARY ev REQUIRED)
add_library(psb_libev INTERFACE)
target_include_directories(psb_libev INTERFACE ${LIBEV_INCLUDE_DIR})
target_link_libraries(psb_libev INTERFACE ${LIBEV_LIBRARY})

find_package(Threads REQUIRED)
pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET libprotobuf-c)
# nng ships a CMake config (nng::nng) but no pkg-config file.
find_package(nng CONFIG REQUIRED)

if(PSB_TESTS)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
