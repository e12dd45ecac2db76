// The floor of a JavaScript handler inside Node, for docs/design.md section 15: one TCP
// connection in libuv's own poll set, and per message one recv, one Buffer and one
// napi_make_callback; the handler answers with write(), one send. The same for UDP: one
// socket, per datagram one recvfrom, one Buffer, one callback, and send() answers the last
// sender with one sendto; after the callbacks it reads again until the socket is empty (at
// most 32 datagrams per wake-up), as libuv's UDP reader does. No engine, no batches, no
// checks beyond what the measurement needs: a measuring tool, not a server.
// Three more TCP modes take the handler apart: `tcp-call` uppercases and answers in C, then
// makes the same napi_make_callback into a JavaScript function that does nothing (no
// arguments, no Buffer): the price of one call into JavaScript per message and nothing
// else; `tcp-call-first` makes that call before the answer, on the reply's path;
// `tcp-none` answers in C and calls nothing: libuv's loop turn alone.
// Build: npx node-gyp rebuild -C bench/floor; run: node bench/floor/server.mjs MODE,
// then point the load generator at the port it prints.
#include <node_api.h>
#include <uv.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <fcntl.h>
#include <cstring>
static napi_env g_env; static napi_ref g_cb; static napi_async_context g_ctx; static int g_fd = -1; static int g_listen = -1;
static uv_poll_t g_poll, g_lpoll; static char g_buf[65536]; static int g_mode = 0;  // 0 handler, 1 call, 2 none, 3 call first
static void onData(uv_poll_t*, int, int) {
  ssize_t n = recv(g_fd, g_buf, sizeof g_buf, 0);
  if (n <= 0) { if (n == 0) { uv_poll_stop(&g_poll); close(g_fd); } return; }
  if (g_mode != 0) {
    for (ssize_t i = 0; i < n; i++) if (g_buf[i] >= 'a' && g_buf[i] <= 'z') g_buf[i] -= 0x20;
    if (g_mode != 3) send(g_fd, g_buf, n, MSG_NOSIGNAL);
    if (g_mode == 2) return;
    napi_handle_scope scope; napi_open_handle_scope(g_env, &scope);
    napi_value cb, global, result;
    napi_get_reference_value(g_env, g_cb, &cb); napi_get_global(g_env, &global);
    napi_make_callback(g_env, g_ctx, global, cb, 0, nullptr, &result);
    napi_close_handle_scope(g_env, scope);
    if (g_mode == 3) send(g_fd, g_buf, n, MSG_NOSIGNAL);
    return;
  }
  napi_handle_scope scope; napi_open_handle_scope(g_env, &scope);
  napi_value buf, cb, global, result; void* data;
  napi_create_buffer_copy(g_env, n, g_buf, &data, &buf);
  napi_get_reference_value(g_env, g_cb, &cb); napi_get_global(g_env, &global);
  napi_make_callback(g_env, g_ctx, global, cb, 1, &buf, &result);
  napi_close_handle_scope(g_env, scope);
}
static void onAccept(uv_poll_t*, int, int) {
  int fd = accept4(g_listen, nullptr, nullptr, SOCK_NONBLOCK);
  if (fd < 0) return;
  int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  g_fd = fd; uv_loop_t* loop; napi_get_uv_event_loop(g_env, &loop);
  uv_poll_init(loop, &g_poll, fd); uv_poll_start(&g_poll, UV_READABLE, onData);
}
static napi_value Listen(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2]; napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc > 1) napi_get_value_int32(env, argv[1], &g_mode);
  g_env = env; napi_create_reference(env, argv[0], 1, &g_cb);
  napi_value name; napi_create_string_utf8(env, "floor", NAPI_AUTO_LENGTH, &name); napi_async_init(env, nullptr, name, &g_ctx);
  g_listen = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{}; a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(0x7f000001); a.sin_port = 0;
  bind(g_listen, (sockaddr*)&a, sizeof a); listen(g_listen, 16);
  socklen_t len = sizeof a; getsockname(g_listen, (sockaddr*)&a, &len);
  uv_loop_t* loop; napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &g_lpoll, g_listen); uv_poll_start(&g_lpoll, UV_READABLE, onAccept);
  napi_value port; napi_create_int32(env, ntohs(a.sin_port), &port); return port;
}
static napi_value Write(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* data; size_t len; napi_get_buffer_info(env, argv[0], &data, &len);
  send(g_fd, data, len, MSG_NOSIGNAL); return nullptr;
}
static int g_udp = -1; static uv_poll_t g_upoll; static sockaddr_storage g_peer; static socklen_t g_peerLen;
static void onDatagram(uv_poll_t*, int, int) {
  for (int i = 0; i < 32; i++) {
    g_peerLen = sizeof g_peer;
    ssize_t n = recvfrom(g_udp, g_buf, sizeof g_buf, 0, (sockaddr*)&g_peer, &g_peerLen);
    if (n < 0) return;
    napi_handle_scope scope; napi_open_handle_scope(g_env, &scope);
    napi_value buf, cb, global, result; void* data;
    napi_create_buffer_copy(g_env, n, g_buf, &data, &buf);
    napi_get_reference_value(g_env, g_cb, &cb); napi_get_global(g_env, &global);
    napi_make_callback(g_env, g_ctx, global, cb, 1, &buf, &result);
    napi_close_handle_scope(g_env, scope);
  }
}
static napi_value ListenUdp(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  g_env = env; napi_create_reference(env, argv[0], 1, &g_cb);
  napi_value name; napi_create_string_utf8(env, "floor", NAPI_AUTO_LENGTH, &name); napi_async_init(env, nullptr, name, &g_ctx);
  g_udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{}; a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(0x7f000001); a.sin_port = 0;
  bind(g_udp, (sockaddr*)&a, sizeof a);
  socklen_t len = sizeof a; getsockname(g_udp, (sockaddr*)&a, &len);
  uv_loop_t* loop; napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &g_upoll, g_udp); uv_poll_start(&g_upoll, UV_READABLE, onDatagram);
  napi_value port; napi_create_int32(env, ntohs(a.sin_port), &port); return port;
}
static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* data; size_t len; napi_get_buffer_info(env, argv[0], &data, &len);
  sendto(g_udp, data, len, MSG_NOSIGNAL, (sockaddr*)&g_peer, g_peerLen); return nullptr;
}
NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "listenUdp", NAPI_AUTO_LENGTH, ListenUdp, nullptr, &f); napi_set_named_property(env, exports, "listenUdp", f);
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, Send, nullptr, &f); napi_set_named_property(env, exports, "send", f);
  napi_create_function(env, "listen", NAPI_AUTO_LENGTH, Listen, nullptr, &f); napi_set_named_property(env, exports, "listen", f);
  napi_create_function(env, "write", NAPI_AUTO_LENGTH, Write, nullptr, &f); napi_set_named_property(env, exports, "write", f);
  return exports;
}
