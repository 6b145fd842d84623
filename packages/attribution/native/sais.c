/*
 * Node-API addon of @openledger/attribution: suffix-array construction by SA-IS in C.
 *
 * Why our own C and not a library: the span index sorts suffixes of token-id texts (16- or 32-bit
 * symbols); libdivsufsort and its relatives sort bytes only, and no packaged library builds suffix
 * arrays over integer alphabets. src/sais.ts has the same algorithm in TypeScript; it is the fallback
 * when this addon cannot be built and the independent reference the tests compare against.
 *
 * JS signature: buildSuffixArray(text, alphabetSize, out)
 *   text: Uint8Array | Uint16Array | Uint32Array | Int32Array, n < 2^31 symbols in [0, alphabetSize)
 *   alphabetSize: integer in [1, 2^32]; out: Int32Array of length n, receives the suffix array.
 * Suffixes compare with a virtual sentinel smaller than every symbol (a proper prefix sorts first).
 * Written against plain N-API (no node-addon-api) so it has no npm dependency.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int32_t idx_t;

/* Slots of look-ahead for the text prefetch in the induction scans. */
#define SAIS_PREFETCH 32

static void bucket_starts(const idx_t *C, idx_t *B, idx_t K) {
  idx_t sum = 0;
  for (idx_t c = 0; c < K; c++) {
    B[c] = sum;
    sum += C[c];
  }
}

static void bucket_ends(const idx_t *C, idx_t *B, idx_t K) {
  idx_t sum = 0;
  for (idx_t c = 0; c < K; c++) {
    sum += C[c];
    B[c] = sum;
  }
}

static int sais_u32(const uint32_t *T, idx_t *SA, idx_t n, idx_t K, idx_t *fs, idx_t fs_len);

#define CHR uint32_t
#define SUFFIX u32
#include "sais_core.h"
#undef CHR
#undef SUFFIX

#define CHR uint16_t
#define SUFFIX u16
#include "sais_core.h"
#undef CHR
#undef SUFFIX

#define CHR uint8_t
#define SUFFIX u8
#include "sais_core.h"
#undef CHR
#undef SUFFIX

/* LSD radix sort of n 32-bit keys (two 16-bit passes) with scratch tmp[n]; result in a. */
static int radix_sort_u32(uint32_t *a, uint32_t *tmp, size_t n) {
  size_t *cnt = malloc(65536 * sizeof *cnt);
  if (!cnt) return -1;
  for (int shift = 0; shift < 32; shift += 16) {
    memset(cnt, 0, 65536 * sizeof *cnt);
    for (size_t i = 0; i < n; i++) cnt[(a[i] >> shift) & 0xffff]++;
    size_t sum = 0;
    for (size_t d = 0; d < 65536; d++) {
      size_t c = cnt[d];
      cnt[d] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++) tmp[cnt[(a[i] >> shift) & 0xffff]++] = a[i];
    uint32_t *x = a;
    a = tmp;
    tmp = x;
  }
  /* Two passes: the sorted keys are back in the caller's a. */
  free(cnt);
  return 0;
}

/*
 * Rank-reduces a text whose largest symbol is far above its length (e.g. sparse 32-bit ids): each
 * symbol becomes its rank among the distinct symbols, which keeps the order of every suffix pair and
 * bounds the bucket tables by n. Returns the new text (malloc'd) and sets *K, or NULL on no memory.
 */
static uint32_t *rank_reduce(const uint32_t *T, size_t n, idx_t *K) {
  uint32_t *sorted = malloc(n * sizeof *sorted);
  uint32_t *out = malloc(n * sizeof *out);
  if (!sorted || !out) {
    free(sorted);
    free(out);
    return NULL;
  }
  memcpy(sorted, T, n * sizeof *T);
  if (radix_sort_u32(sorted, out, n) != 0) {
    free(sorted);
    free(out);
    return NULL;
  }
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (m == 0 || sorted[m - 1] != sorted[i]) sorted[m++] = sorted[i];
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t v = T[i];
    size_t lo = 0, hi = m;
    while (lo < hi) {
      size_t mid = (lo + hi) >> 1;
      if (sorted[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    out[i] = (uint32_t)lo;
  }
  free(sorted);
  *K = (idx_t)m;
  return out;
}

static napi_value undefined_value(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

static napi_value BuildSuffixArray(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char msg[200];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "buildSuffixArray(text, alphabetSize, out): too few arguments");
    return NULL;
  }
  bool is_ta = false;
  napi_typedarray_type type, out_type;
  size_t n = 0, out_len = 0;
  void *text = NULL, *out = NULL;
  napi_is_typedarray(env, argv[0], &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, argv[0], &type, &n, &text, NULL, NULL) != napi_ok ||
      (type != napi_uint8_array && type != napi_uint16_array && type != napi_uint32_array &&
       type != napi_int32_array)) {
    napi_throw_type_error(env, NULL, "text must be a Uint8Array, Uint16Array, Uint32Array or Int32Array");
    return NULL;
  }
  double k_arg = 0;
  if (napi_get_value_double(env, argv[1], &k_arg) != napi_ok || !(k_arg >= 1 && k_arg <= 4294967296.0) ||
      k_arg != (double)(int64_t)k_arg) {
    snprintf(msg, sizeof msg, "alphabetSize must be an integer in [1, 2^32], got %g", k_arg);
    return throw_range(env, msg);
  }
  is_ta = false;
  napi_is_typedarray(env, argv[2], &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, argv[2], &out_type, &out_len, &out, NULL, NULL) != napi_ok ||
      out_type != napi_int32_array || out_len != n) {
    napi_throw_type_error(env, NULL, "out must be an Int32Array as long as text");
    return NULL;
  }
  if (n > 0x7fffffffu) {
    snprintf(msg, sizeof msg, "text length must be < 2^31 for an in-memory build, got %zu", n);
    return throw_range(env, msg);
  }
  if (n == 0) return undefined_value(env);
  uint64_t K = (uint64_t)k_arg;
  idx_t *SA = out;

  /* The largest symbol of an unsigned text, and the first outside [0, K) (bad = n if none). */
#define SCAN_UNSIGNED(T)                                      \
  do {                                                        \
    const T *t = text;                                        \
    T m = 0;                                                  \
    for (size_t i = 0; i < n; i++) m = t[i] > m ? t[i] : m;   \
    max = m;                                                  \
    if (max >= K)                                             \
      for (bad = 0; t[bad] < K; bad++) {}                     \
    if (bad < n) bad_value = t[bad];                          \
  } while (0)
  /* One pass: every symbol in [0, K), and the largest, which sizes the bucket tables. */
  uint64_t max = 0;
  size_t bad = n;
  int64_t bad_value = 0;
  switch (type) {
    case napi_uint8_array:
      SCAN_UNSIGNED(uint8_t);
      break;
    case napi_uint16_array:
      SCAN_UNSIGNED(uint16_t);
      break;
    case napi_uint32_array:
      SCAN_UNSIGNED(uint32_t);
      break;
    default: {
      /* Int32Array: read as unsigned, so a negative symbol shows up as >= 2^31 > any valid one. */
      const int32_t *t = text;
      uint32_t m = 0;
      for (size_t i = 0; i < n; i++) m = (uint32_t)t[i] > m ? (uint32_t)t[i] : m;
      max = m;
      if (max >= K || max > 0x7fffffffu)
        for (bad = 0; t[bad] >= 0 && (uint64_t)t[bad] < K; bad++) {}
      if (bad < n) bad_value = t[bad];
      break;
    }
  }
#undef SCAN_UNSIGNED
  if (bad < n) {
    snprintf(msg, sizeof msg, "text[%zu] = %lld is outside the alphabet [0, %llu)", bad,
             (long long)bad_value, (unsigned long long)K);
    return throw_range(env, msg);
  }

  int rc;
  idx_t nn = (idx_t)n;
  if (type == napi_uint8_array) {
    rc = sais_u8(text, SA, nn, (idx_t)max + 1, NULL, 0);
  } else if (type == napi_uint16_array) {
    rc = sais_u16(text, SA, nn, (idx_t)max + 1, NULL, 0);
  } else if (max < n || max < 65536) {
    /* Int32Array symbols are non-negative here, so the same bits read as uint32_t. */
    rc = sais_u32(text, SA, nn, (idx_t)max + 1, NULL, 0);
  } else {
    idx_t k2 = 0;
    uint32_t *t2 = rank_reduce(text, n, &k2);
    if (!t2) {
      rc = -1;
    } else {
      rc = sais_u32(t2, SA, nn, k2, NULL, 0);
      free(t2);
    }
  }
  if (rc != 0) {
    napi_throw_error(env, "OUT_OF_MEMORY", "buildSuffixArray: out of memory");
    return NULL;
  }
  return undefined_value(env);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "buildSuffixArray", NAPI_AUTO_LENGTH, BuildSuffixArray, NULL, &fn);
  napi_set_named_property(env, exports, "buildSuffixArray", fn);
  return exports;
}
