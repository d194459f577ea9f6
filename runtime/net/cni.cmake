# CNI (runtime/net/cni.h): loading a network config list and running its
# plugins as child processes on the loop. cni.c is the config lists and
# results, cni_op.c the ADD/DEL chains, cni_exec.c one plugin process.
add_library(psb_cni STATIC
  ${CMAKE_CURRENT_LIST_DIR}/cni.c
  ${CMAKE_CURRENT_LIST_DIR}/cni_op.c
  ${CMAKE_CURRENT_LIST_DIR}/cni_exec.c)
target_link_libraries(psb_cni PUBLIC psb_base psb_libev PkgConfig::JANSSON)
