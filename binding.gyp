{
  "targets": [
    {
      "target_name": "sockengine",
      "sources": [
        "native/addon/bindings.cc",
        "native/addon/engine.cc",
        "native/addon/host_poll.cc",
        "native/addon/workers.cc",
        "native/framing.cc",
        "native/handlers/echo.cc",
        "native/handlers/handler.cc",
        "native/handlers/reply.cc",
        "native/handlers/uppercase.cc",
        "native/loop.cc",
        "native/poller_epoll.cc",
        "native/proxy.cc",
        "native/sys.cc",
        "native/tcp.cc",
        "native/threads.cc",
        "native/udp.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-O3",
        "-Wall",
        "-Wextra",
        "-fvisibility=hidden"
      ],
      "cflags_cc!": [
        "-std=gnu++17"
      ],
      "libraries": [
        "-lpthread"
      ]
    }
  ],
  "variables": {
    "with_bench": "<!(node -p \"require('fs').existsSync('bench/loadgen.cc') ? 1 : 0\")"
  },
  "conditions": [
    [
      "with_bench==1",
      {
        "targets": [
          {
            "target_name": "sockengine_bench",
            "sources": [
              "native/addon/measure.cc",
              "native/handlers/uppercase.cc"
            ],
            "include_dirs": [
              "<!(node -p \"require('node-addon-api').include_dir\")"
            ],
            "defines": [
              "NAPI_VERSION=8",
              "NAPI_DISABLE_CPP_EXCEPTIONS"
            ],
            "cflags_cc": [
              "-std=c++17",
              "-O3",
              "-Wall",
              "-Wextra",
              "-fvisibility=hidden"
            ],
            "cflags_cc!": [
              "-std=gnu++17"
            ],
            "libraries": [
              "-lpthread"
            ]
          },
          {
            "target_name": "loadgen",
            "type": "executable",
            "sources": [
              "bench/loadgen.cc"
            ],
            "cflags_cc": [
              "-std=c++17",
              "-O2",
              "-Wall",
              "-Wextra"
            ],
            "cflags_cc!": [
              "-std=gnu++17",
              "-fno-exceptions"
            ]
          },
          {
            "target_name": "uppercase_server",
            "type": "executable",
            "sources": [
              "bench/reference/uppercase_server.c"
            ],
            "cflags": [
              "-O2",
              "-Wall",
              "-Wextra"
            ]
          }
        ]
      }
    ]
  ]
}
