{
  "targets": [
    {
      "target_name": "tensor_native",
      "sources": ["native/tensor.c"],
      "cflags": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-std=c11"],
      "libraries": ["-lopenblas", "-lm"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
