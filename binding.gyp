# fog8 native addon. Each ISA path is its own static library compiled with its own flags; the
# addon picks one at load time (__builtin_cpu_supports). ISA translation units define
# FOG8_ISA_NAMESPACE so shared inline helpers get distinct symbols per ISA.
# fog8_avx512_emulated=1 (node-gyp rebuild -- -Dfog8_avx512_emulated=1 -Dfog8_simde_include=DIR;
# scripts/test-avx512-emulated.mjs does it) builds the avx512bf16 path on SIMDe for AVX2 CPUs, so
# that its code runs in the tests of a machine without AVX-512; its speed means nothing.
# fog8_mpi is the data-parallel communicator (native/src/mpi/): linked to libmpi when
# scripts/find-mpi.mjs finds Open MPI, else built without it (it then names the package to install).
{
  "variables": {
    "fog8_avx512_emulated%": 0,
    "fog8_simde_include%": "/usr/include",
    "fog8_mpi_found%": "<!(node scripts/find-mpi.mjs found)",
    "fog8_common_cflags": ["-O3", "-std=c++17", "-fPIC", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function", "-Wno-uninitialized", "-Wno-psabi"]
  },
  "targets": [
    {
      "target_name": "fog8_isa_avx2",
      "type": "static_library",
      "sources": [
        "native/src/gemm/gemm_avx2.cpp",
        "native/src/casts/casts_avx2.cpp",
        "bench/microbench/peak_avx2.cpp"
      ],
      "include_dirs": ["native/src"],
      "cflags_cc": ["<@(fog8_common_cflags)", "-mavx2", "-mfma", "-mf16c", "-DFOG8_ISA_NAMESPACE=isa_avx2"],
      "cflags_cc!": ["-fno-exceptions", "-O2", "-O0"]
    },
    {
      "target_name": "fog8_isa_avx512bf16",
      "type": "static_library",
      "sources": [
        "native/src/gemm/gemm_avx512bf16.cpp",
        "native/src/casts/casts_avx512.cpp",
        "bench/microbench/peak_avx512.cpp"
      ],
      "include_dirs": ["native/src"],
      "cflags_cc!": ["-fno-exceptions", "-O2", "-O0"],
      "conditions": [
        ["fog8_avx512_emulated==1", {
          "include_dirs": ["<(fog8_simde_include)"],
          "cflags_cc": ["<@(fog8_common_cflags)", "-mavx2", "-mfma", "-mf16c", "-DFOG8_AVX512_EMULATED=1", "-DFOG8_ISA_NAMESPACE=isa_avx512bf16"]
        }, {
          "cflags_cc": ["<@(fog8_common_cflags)", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512bf16", "-mavx2", "-mfma", "-mf16c", "-DFOG8_ISA_NAMESPACE=isa_avx512bf16"]
        }]
      ]
    },
    {
      "target_name": "fog8_mpi",
      "sources": ["native/src/mpi/mpi_addon.cpp"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["<@(fog8_common_cflags)", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions", "-O2", "-O0"],
      "conditions": [
        ["fog8_mpi_found==1", {
          "defines": ["FOG8_HAVE_MPI=1"],
          "cflags_cc": ["<!@(node scripts/find-mpi.mjs cflags)"],
          "libraries": ["<!@(node scripts/find-mpi.mjs libs)", "-ldl"]
        }, {
          "defines": ["FOG8_HAVE_MPI=0"]
        }]
      ]
    },
    {
      "target_name": "fog8_native",
      "dependencies": ["fog8_isa_avx2", "fog8_isa_avx512bf16"],
      "sources": [
        "native/src/addon.cpp",
        "native/src/bind_casts_gemm.cpp",
        "native/src/common/threads.cpp",
        "native/src/common/isa.cpp",
        "native/src/casts/casts.cpp",
        "native/src/gemm/gemm.cpp",
        "native/src/gemm/gemm_scalar.cpp",
        "bench/microbench/peak.cpp",
        "native/src/bind_fused.cpp",
        "native/src/fused/rmsnorm.cpp",
        "native/src/fused/rope.cpp",
        "native/src/fused/cross_entropy.cpp",
        "native/src/fused/attention.cpp",
        "native/src/fused/activations.cpp",
        "native/src/fused/adamw.cpp",
        "native/src/fused/moments.cpp",
        "native/src/fused/elementwise.cpp",
        "native/src/fused/embedding.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/src"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["<@(fog8_common_cflags)", "-fexceptions", "-pthread"],
      "cflags_cc!": ["-fno-exceptions", "-O2", "-O0"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["fog8_avx512_emulated==1", {"defines": ["FOG8_AVX512_EMULATED=1"]}]
      ]
    }
  ]
}
