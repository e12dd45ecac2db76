{ "targets": [ { "target_name": "floor", "sources": ["floor.cc"], "cflags_cc": ["-O3"] } ] }
