# Who may include what (DESIGN.md §2; scripts/check-layers.sh checks the
# same arrows in the sources).
#
# Includes are written from the top of the tree ("base/log.h",
# "runtime/runtime.h"), but no target sees the whole tree: psb_expose
# gives a target an include root that holds only its own folder (a link
# in the build tree), PUBLIC, so a target can include a folder's headers
# only if it links a library of that folder. An include against the
# arrows then fails to compile, not just the layer check.

# psb_expose(TARGET FOLDER [PRIVATE]): TARGET may include FOLDER's
# headers, and so may what links it (unless PRIVATE, or an executable).
function(psb_expose target folder)
  string(REPLACE "/" "_" name ${folder})
  set(root ${PROJECT_BINARY_DIR}/include/${name})
  get_filename_component(parent ${root}/${folder} DIRECTORY)
  if(NOT EXISTS ${root}/${folder})
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder} ${root}/${folder}
      SYMBOLIC)
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE" OR "${ARGN}" STREQUAL "PRIVATE")
    target_include_directories(${target} PRIVATE ${root})
  else()
    target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${root}>)
  endif()
endfunction()

# The layers, bottom up: each may include the ones its targets link.
#   base        <- everything; uses nothing
#   fsm         -> base
#   api         -> fsm, base
#   persistence -> fsm, base
#   runtime     -> fsm, base
#   transport   -> api, fsm, base
#   core        -> all of the above
#   tools       -> the client library (transport/client) and base
psb_expose(psb_base base)
psb_expose(psb_fsm fsm)
psb_expose(psb_api api)
psb_expose(psb_store persistence)
foreach(t psb_runtime psb_grpc psb_ctrd psb_spec psb_cni psb_netns)
  if(TARGET ${t})
    psb_expose(${t} runtime)
  endif()
endforeach()
foreach(t psb_proto psb_transport)
  psb_expose(${t} transport)
endforeach()
psb_expose(psb_core core)
psb_expose(podsandboxd core)
# The client library compiles transport's JSON mapping in and its method
# table from api/methods.def; its users see only podsandbox.h.
foreach(t podsandbox podsandbox_static)
  psb_expose(${t} transport PRIVATE)
  psb_expose(${t} api PRIVATE)
endforeach()
