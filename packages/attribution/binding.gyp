{
  "targets": [
    {
      "target_name": "attribution_native",
      "sources": ["native/sais.c"],
      "cflags": ["-O3", "-std=c11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
