# Pinned network namespaces (netns.h), made and removed on the threads of a
# small worker pool (worker.h) whose completions come back to the loop.
# Included by runtime/net/CMakeLists.txt.
find_package(Threads REQUIRED)
add_library(psb_netns STATIC netns.c worker.c)
target_link_libraries(psb_netns PUBLIC psb_base psb_libev Threads::Threads)
