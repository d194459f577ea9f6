# transport/server over a real ipc:// socket with a test dispatcher and raw
# nng clients (tests may see the generated protobuf-c types).
psb_test(server_test LABEL integration PREFIX integration TIMEOUT 120
  LIBS psb_transport)
