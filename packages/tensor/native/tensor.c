// Node-API addon: sgemm through OpenBLAS (cblas_sgemm) plus the elementwise / row kernels in C.
// Written against plain N-API (no node-addon-api) so it has no npm dependency. Argument sizes are
// checked in JS (src/checks.ts) before any function here runs; this file trusts them.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <node_api.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_INTRIN 1
#endif

extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);

#define MAX_ARGS 20

typedef struct {
  napi_env env;
  napi_value argv[MAX_ARGS];
  size_t argc;
  int failed;
} Args;

static int get_args(napi_env env, napi_callback_info info, Args *a, size_t want) {
  a->env = env;
  a->argc = MAX_ARGS;
  a->failed = 0;
  napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL);
  if (a->argc < want) {
    napi_throw_type_error(env, NULL, "tensor native: too few arguments");
    return 0;
  }
  return 1;
}

static void *arr(Args *a, size_t i, napi_typedarray_type want) {
  bool is_ta = false;
  napi_typedarray_type type;
  size_t length, offset;
  void *data = NULL;
  napi_value ab;
  if (a->failed) return NULL;
  napi_is_typedarray(a->env, a->argv[i], &is_ta);
  if (!is_ta) {
    a->failed = 1;
    napi_throw_type_error(a->env, NULL, "tensor native: expected a typed array");
    return NULL;
  }
  napi_get_typedarray_info(a->env, a->argv[i], &type, &length, &data, &ab, &offset);
  if (type != want) {
    a->failed = 1;
    napi_throw_type_error(a->env, NULL, "tensor native: wrong typed array type");
    return NULL;
  }
  return data;
}

static float *f32(Args *a, size_t i) { return (float *)arr(a, i, napi_float32_array); }
static int32_t *i32(Args *a, size_t i) { return (int32_t *)arr(a, i, napi_int32_array); }

static int is_nullish(Args *a, size_t i) {
  napi_valuetype t;
  if (i >= a->argc) return 1;
  napi_typeof(a->env, a->argv[i], &t);
  return t == napi_undefined || t == napi_null;
}

static double num(Args *a, size_t i) {
  double v = 0;
  napi_get_value_double(a->env, a->argv[i], &v);
  return v;
}

static int64_t inum(Args *a, size_t i) {
  int64_t v = 0;
  napi_get_value_int64(a->env, a->argv[i], &v);
  return v;
}

static int boolean(Args *a, size_t i) {
  bool v = false;
  napi_get_value_bool(a->env, a->argv[i], &v);
  return v;
}

static napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// ---- vectorisable elementwise math -----------------------------------------------------------
// Training a small model spends much of its time outside sgemm: exp in softmax, SiLU and the
// cross-entropy over the whole vocabulary. libm's expf/exp is a scalar call per element, so those
// loops ran at a few ns per element. fexp below is branch-free float arithmetic that GCC vectorises
// inside the loops that call it, and the hot loops are compiled twice (AVX2 and the baseline ISA,
// chosen once at load time through target_clones) so the addon still runs on any x86-64.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VEC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VEC_CLONES
#endif

// e^x in float: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r from a degree-7
// polynomial (the classic Cephes expf coefficients), 2^n applied as two exponent-bit factors so that
// every n in -126..128 is representable. Checked once against exp in double on every third float in
// [-87.3, 88.7] (with and without FMA contraction): under 1.1 ulp. Results below FLT_MIN (x below
// -87.33) are 0, so exp(-inf) = 0 as the causal mask needs; above 88.72 +inf; NaN stays NaN.
static inline float fexp(float x) {
  float xc = x < -87.33654475f ? -87.33654475f : x;
  xc = xc > 88.72283905f ? 88.72283905f : xc;
  float fn = xc * 1.44269504088896341f;
  fn = (fn + 12582912.0f) - 12582912.0f; // round to nearest (|fn| < 2^22)
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t n = (int32_t)fn, n1 = n / 2, n2 = n - n1;
  int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  float s1, s2;
  memcpy(&s1, &b1, sizeof s1);
  memcpy(&s2, &b2, sizeof s2);
  float y = p * s1 * s2;
  y = x < -87.33654475f ? 0.0f : y;
  return x > 88.72283905f ? INFINITY : y;
}

// Largest element of p[0..n); 8 independent lanes so the compiler can use vector max.
VEC_CLONES static float row_max(const float *p, int64_t n) {
  float m[8];
  for (int l = 0; l < 8; l++) m[l] = -INFINITY;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; l++) m[l] = p[j + l] > m[l] ? p[j + l] : m[l];
  float mx = -INFINITY;
  for (int l = 0; l < 8; l++) mx = m[l] > mx ? m[l] : mx;
  for (; j < n; j++) mx = p[j] > mx ? p[j] : mx;
  return mx;
}

// out[j] = e^(p[j] - shift); returns Σ out[j], summed in double over 8 lanes (the float terms are
// exact inputs to the sum, so the total does not depend on how the exp loop was vectorised).
VEC_CLONES static double exp_shift_sum(float *out, const float *p, float shift, int64_t n) {
  for (int64_t j = 0; j < n; j++) out[j] = fexp(p[j] - shift);
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; l++) s[l] += out[j + l];
  double sum = 0;
  for (int l = 0; l < 8; l++) sum += s[l];
  for (; j < n; j++) sum += out[j];
  return sum;
}

VEC_CLONES static void scale_row(float *p, float f, int64_t n) {
  for (int64_t j = 0; j < n; j++) p[j] *= f;
}

VEC_CLONES static void silu_loop(float *out, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = x[i] / (1.0f + fexp(-x[i]));
}

VEC_CLONES static void swiglu_loop(float *out, const float *g, const float *u, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = g[i] / (1.0f + fexp(-g[i])) * u[i];
}

VEC_CLONES static void swiglu_backward_loop(float *dg, float *du, const float *dout, const float *g, const float *u,
                                            int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i], sig = 1.0f / (1.0f + fexp(-gi)), d = dout[i], ui = u[i];
    du[i] = d * gi * sig;
    dg[i] = d * ui * sig * (1.0f + gi * (1.0f - sig));
  }
}

static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B,
                 int ldb, float beta, float *C, int ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    // BLAS with k = 0 still scales C; do it here so beta = 0 clears NaNs identically on every backend.
    for (int i = 0; i < m; i++) {
      float *c = C + (size_t)i * ldc;
      if (beta == 0.0f) memset(c, 0, sizeof(float) * n);
      else if (beta != 1.0f) for (int j = 0; j < n; j++) c[j] *= beta;
    }
    return;
  }
  // One row (or one column) of C is a matrix-vector product. sgemv streams the matrix once where
  // sgemm first packs it: token-by-token generation multiplies one row by every weight matrix, and
  // for the base model's shapes sgemv measured 3-7× faster than sgemm with m = 1. C is cleared first
  // when beta = 0 so NaNs in it never propagate (whatever the BLAS does with beta = 0).
  if (m == 1) {
    if (beta == 0.0f) memset(C, 0, sizeof(float) * n);
    int inca = ta ? lda : 1; // row 0 of op(A)
    if (tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, alpha, B, ldb, A, inca, beta, C, 1);
    else cblas_sgemv(CblasRowMajor, CblasTrans, k, n, alpha, B, ldb, A, inca, beta, C, 1);
    return;
  }
  if (n == 1) {
    if (beta == 0.0f) for (int i = 0; i < m; i++) C[(size_t)i * ldc] = 0.0f;
    int incb = tb ? 1 : ldb; // column 0 of op(B)
    if (ta) cblas_sgemv(CblasRowMajor, CblasTrans, k, m, alpha, A, lda, B, incb, beta, C, ldc);
    else cblas_sgemv(CblasRowMajor, CblasNoTrans, m, k, alpha, A, lda, B, incb, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, A,
              lda, B, ldb, beta, C, ldc);
}

// sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 13)) return NULL;
  float *A = f32(&a, 6), *B = f32(&a, 8), *C = f32(&a, 11);
  if (a.failed) return NULL;
  gemm(boolean(&a, 0), boolean(&a, 1), (int)inum(&a, 2), (int)inum(&a, 3), (int)inum(&a, 4), (float)num(&a, 5), A,
       (int)inum(&a, 7), B, (int)inum(&a, 9), (float)num(&a, 10), C, (int)inum(&a, 12));
  return undef(env);
}

// sgemmStridedBatched(tA, tB, m, n, k, alpha, a, lda, sA, b, ldb, sB, beta, c, ldc, sC, batch)
static napi_value SgemmStridedBatched(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 17)) return NULL;
  float *A = f32(&a, 6), *B = f32(&a, 9), *C = f32(&a, 13);
  if (a.failed) return NULL;
  int ta = boolean(&a, 0), tb = boolean(&a, 1);
  int m = (int)inum(&a, 2), n = (int)inum(&a, 3), k = (int)inum(&a, 4);
  float alpha = (float)num(&a, 5), beta = (float)num(&a, 12);
  int lda = (int)inum(&a, 7), ldb = (int)inum(&a, 10), ldc = (int)inum(&a, 14);
  int64_t sA = inum(&a, 8), sB = inum(&a, 11), sC = inum(&a, 15), batch = inum(&a, 16);
  for (int64_t i = 0; i < batch; i++) gemm(ta, tb, m, n, k, alpha, A + i * sA, lda, B + i * sB, ldb, beta, C + i * sC, ldc);
  return undef(env);
}

// softmaxRows(x, rows, cols)
static napi_value SoftmaxRows(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 3)) return NULL;
  float *x = f32(&a, 0);
  if (a.failed) return NULL;
  int64_t rows = inum(&a, 1), cols = inum(&a, 2);
  for (int64_t r = 0; r < rows; r++) {
    float *p = x + r * cols;
    float mx = row_max(p, cols);
    if (mx == -INFINITY) {
      memset(p, 0, sizeof(float) * cols);
      continue;
    }
    double sum = exp_shift_sum(p, p, mx, cols);
    scale_row(p, (float)(1.0 / sum), cols);
  }
  return undef(env);
}

// rmsnorm(out, x, weight, rows, dim, eps, inv)
static napi_value Rmsnorm(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 7)) return NULL;
  float *out = f32(&a, 0), *x = f32(&a, 1), *w = f32(&a, 2), *inv = f32(&a, 6);
  if (a.failed) return NULL;
  int64_t rows = inum(&a, 3), dim = inum(&a, 4);
  double eps = num(&a, 5);
  for (int64_t r = 0; r < rows; r++) {
    const float *p = x + r * dim;
    float *o = out + r * dim;
    double ss = 0;
    for (int64_t j = 0; j < dim; j++) ss += (double)p[j] * p[j];
    float s = (float)(1.0 / sqrt(ss / (double)dim + eps));
    inv[r] = s;
    for (int64_t j = 0; j < dim; j++) o[j] = p[j] * s * w[j];
  }
  return undef(env);
}

// Per-thread RoPE table: for position p, cos then sin of p·theta^(-2i/hd), i < hd/2, as floats.
// Worker threads load the same addon, hence _Thread_local rather than a shared static.
static _Thread_local float *rope_cs = NULL;
static _Thread_local int64_t rope_cs_positions = 0, rope_cs_hd = 0;
static _Thread_local double rope_cs_theta = 0;

static const float *rope_table(double theta, int64_t hd, int64_t positions) {
  if (rope_cs && rope_cs_theta == theta && rope_cs_hd == hd && rope_cs_positions >= positions) return rope_cs;
  int64_t half = hd / 2;
  int64_t want = positions < 256 ? 256 : positions;
  if (rope_cs_hd == hd && rope_cs_theta == theta && want < 2 * rope_cs_positions) want = 2 * rope_cs_positions;
  float *t = (float *)malloc(sizeof(float) * (size_t)want * 2 * half);
  if (!t) return NULL;
  for (int64_t p = 0; p < want; p++)
    for (int64_t i = 0; i < half; i++) {
      double ang = (double)p * pow(theta, (-2.0 * (double)i) / (double)hd);
      t[p * 2 * half + i] = (float)cos(ang);
      t[p * 2 * half + half + i] = (float)sin(ang);
    }
  free(rope_cs);
  rope_cs = t;
  rope_cs_positions = want;
  rope_cs_hd = hd;
  rope_cs_theta = theta;
  return t;
}

// ropeAt(x, positions, heads, headDim, theta, inverse)
static napi_value RopeAt(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 6)) return NULL;
  float *x = f32(&a, 0);
  int32_t *pos = i32(&a, 1);
  if (a.failed) return NULL;
  size_t seq;
  {
    napi_typedarray_type t;
    void *d;
    napi_value ab;
    size_t off;
    napi_get_typedarray_info(env, a.argv[1], &t, &seq, &d, &ab, &off);
  }
  int64_t heads = inum(&a, 2), hd = inum(&a, 3);
  double theta = num(&a, 4);
  double sign = boolean(&a, 5) ? -1.0 : 1.0;
  int64_t half = hd / 2;
  if (half == 0 || seq == 0) return undef(env);
  // cos/sin of every (position, frequency) are computed once per thread and reused: training applies
  // RoPE four times per layer and step to the same positions, and cos/sin in double cost more than
  // the rotation itself. The table holds exactly what the loop below used to compute inline.
  int32_t minPos = 0, maxPos = 0;
  for (size_t s = 0; s < seq; s++) {
    if (pos[s] < minPos) minPos = pos[s];
    if (pos[s] > maxPos) maxPos = pos[s];
  }
  // Negative or very large positions (not produced by the model) take the direct path.
  const float *cs = minPos >= 0 && maxPos < (1 << 16) ? rope_table(theta, hd, (int64_t)maxPos + 1) : NULL;
  for (size_t s = 0; s < seq; s++) {
    const float *row = cs ? cs + (size_t)pos[s] * 2 * half : NULL;
    for (int64_t i = 0; i < half; i++) {
      float c, sn;
      if (row) {
        c = row[i];
        sn = (float)sign * row[half + i];
      } else {
        double ang = (double)pos[s] * pow(theta, (-2.0 * (double)i) / (double)hd);
        c = (float)cos(ang);
        sn = (float)(sign * sin(ang));
      }
      for (int64_t h = 0; h < heads; h++) {
        float *p = x + ((int64_t)s * heads + h) * hd;
        float x1 = p[i], x2 = p[i + half];
        p[i] = x1 * c - x2 * sn;
        p[i + half] = x2 * c + x1 * sn;
      }
    }
  }
  return undef(env);
}

// silu(out, x, n)
static napi_value Silu(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 3)) return NULL;
  float *out = f32(&a, 0), *x = f32(&a, 1);
  if (a.failed) return NULL;
  int64_t n = inum(&a, 2);
  silu_loop(out, x, n);
  return undef(env);
}

// swiglu(out, gate, up, n)
static napi_value Swiglu(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 4)) return NULL;
  float *out = f32(&a, 0), *g = f32(&a, 1), *u = f32(&a, 2);
  if (a.failed) return NULL;
  int64_t n = inum(&a, 3);
  swiglu_loop(out, g, u, n);
  return undef(env);
}

// crossEntropy(logits, targets, rows, vocab, dlogits?) -> mean loss. dlogits may be the logits
// array itself (the trainer overwrites the logits with their gradient: no second vocab-wide buffer).
// One pass of exp per row: e^(z - max) is written straight into the gradient row, then scaled.
static napi_value CrossEntropy(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 4)) return NULL;
  float *lg = f32(&a, 0);
  int32_t *tg = i32(&a, 1);
  float *dl = is_nullish(&a, 4) ? NULL : f32(&a, 4);
  if (a.failed) return NULL;
  int64_t rows = inum(&a, 2), vocab = inum(&a, 3);
  int64_t count = 0;
  for (int64_t r = 0; r < rows; r++) if (tg[r] >= 0) count++;
  float *scratch = dl ? NULL : (float *)malloc(sizeof(float) * (vocab > 0 ? vocab : 1));
  if (!dl && !scratch) {
    napi_throw_error(env, NULL, "tensor native: out of memory");
    return NULL;
  }
  double loss = 0, inv = count == 0 ? 0.0 : 1.0 / (double)count;
  for (int64_t r = 0; r < rows; r++) {
    const float *p = lg + r * vocab;
    int32_t t = tg[r];
    if (t < 0) {
      if (dl) memset(dl + r * vocab, 0, sizeof(float) * vocab);
      continue;
    }
    float *e = dl ? dl + r * vocab : scratch;
    float pt = p[t]; // read before e (possibly the same row) is overwritten
    float mx = row_max(p, vocab);
    double sum = exp_shift_sum(e, p, mx, vocab);
    loss += (double)mx + log(sum) - (double)pt;
    if (dl) {
      scale_row(e, (float)(inv / sum), vocab);
      e[t] = (float)((double)e[t] - inv);
    }
  }
  free(scratch);
  napi_value ret;
  napi_create_double(env, count == 0 ? 0.0 : loss / (double)count, &ret);
  return ret;
}

// adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step)
static napi_value Adamw(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 11)) return NULL;
  float *p = f32(&a, 0), *g = f32(&a, 1), *m = f32(&a, 2), *v = f32(&a, 3);
  if (a.failed) return NULL;
  int64_t n = inum(&a, 4);
  double lr = num(&a, 5), b1 = num(&a, 6), b2 = num(&a, 7), eps = num(&a, 8), wd = num(&a, 9), step = num(&a, 10);
  double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step), decay = 1.0 - lr * wd;
  for (int64_t i = 0; i < n; i++) {
    double gi = g[i];
    float mi = (float)(b1 * m[i] + (1.0 - b1) * gi);
    float vi = (float)(b2 * v[i] + (1.0 - b2) * gi * gi);
    m[i] = mi;
    v[i] = vi;
    p[i] = (float)(p[i] * decay - (lr * (mi / bc1)) / (sqrt(vi / bc2) + eps));
  }
  return undef(env);
}

// softmaxRowsBackward(dx, y, dy, rows, cols)
static napi_value SoftmaxRowsBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 5)) return NULL;
  float *dx = f32(&a, 0), *y = f32(&a, 1), *dy = f32(&a, 2);
  if (a.failed) return NULL;
  int64_t rows = inum(&a, 3), cols = inum(&a, 4);
  for (int64_t r = 0; r < rows; r++) {
    int64_t o = r * cols;
    double dot = 0;
    for (int64_t j = 0; j < cols; j++) dot += (double)dy[o + j] * y[o + j];
    for (int64_t j = 0; j < cols; j++) dx[o + j] = (float)(y[o + j] * (dy[o + j] - dot));
  }
  return undef(env);
}

// rmsnormBackward(dx, dWeight, dout, x, weight, invRms, rows, dim)
static napi_value RmsnormBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 8)) return NULL;
  float *dx = f32(&a, 0), *dw = f32(&a, 1), *dout = f32(&a, 2), *x = f32(&a, 3), *w = f32(&a, 4), *inv = f32(&a, 5);
  if (a.failed) return NULL;
  int64_t rows = inum(&a, 6), dim = inum(&a, 7);
  for (int64_t r = 0; r < rows; r++) {
    int64_t o = r * dim;
    double s = inv[r], dot = 0;
    for (int64_t j = 0; j < dim; j++) dot += (double)dout[o + j] * w[j] * x[o + j];
    double coef = s * s * s * dot / (double)dim;
    for (int64_t j = 0; j < dim; j++) {
      double gj = dout[o + j], xj = x[o + j];
      dw[j] = (float)(dw[j] + gj * xj * s);
      dx[o + j] = (float)(s * gj * w[j] - xj * coef);
    }
  }
  return undef(env);
}

// swigluBackward(dgate, dup, dout, gate, up, n)
static napi_value SwigluBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 6)) return NULL;
  float *dg = f32(&a, 0), *du = f32(&a, 1), *dout = f32(&a, 2), *g = f32(&a, 3), *u = f32(&a, 4);
  if (a.failed) return NULL;
  int64_t n = inum(&a, 5);
  swiglu_backward_loop(dg, du, dout, g, u, n);
  return undef(env);
}

// ---- serving kernels ---------------------------------------------------------------------------
// A decode step of a small model with many sequences spent most of its time outside sgemm: per
// sequence and kv head two tiny strided-batched products plus a masked softmax for attention, two
// sgemv calls per LoRA segment, and the sampler's exp over the vocabulary in JS. Each is one call
// here. No BLAS routine fuses attention over a ragged KV cache or applies per-row adapters, hence
// these loops; src/js.ts holds the reference they are tested against.

static void prefetch_range(const void *p, size_t bytes) {
  const char *c = (const char *)p;
  for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 2);
}

// 8-lane float dot product; inlined into the VEC_CLONES callers, which vectorise the lanes.
static inline float dot8(const float *a, const float *b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; l++) s[l] += a[j + l] * b[j + l];
  float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; j < n; j++) t += a[j] * b[j];
  return t;
}

static inline void attend_scores(float *p, const float *q, const float *ks, int64_t L, int64_t kvDim, int64_t hd,
                                 int64_t group, float scale) {
  for (int64_t j = 0; j < L; j++) {
    const float *kj = ks + j * kvDim;
    for (int64_t h = 0; h < group; h++) p[h * L + j] = scale * dot8(q + h * hd, kj, hd);
  }
}

// Attention of one query position over L cached positions for the `group` query heads that share a
// kv head: p[h][j] = scale·q_h·k_j, softmax over j, o_h = Σ_j p[h][j]·v_j. p holds group·L floats.
VEC_CLONES static void attend_group(float *o, const float *q, const float *ks, const float *vs, int64_t L,
                                    int64_t kvDim, int64_t hd, int64_t group, float scale, float *p) {
  attend_scores(p, q, ks, L, kvDim, hd, group, scale);
  for (int64_t h = 0; h < group; h++) {
    float *ph = p + h * L;
    float mx = row_max(ph, L);
    float inv = (float)(1.0 / exp_shift_sum(ph, ph, mx, L));
    float *oh = o + h * hd;
    float acc[64];
    if (hd <= 64) {
      for (int64_t d = 0; d < hd; d++) acc[d] = 0.0f;
      for (int64_t j = 0; j < L; j++) {
        const float *vj = vs + j * kvDim;
        float w = ph[j];
        for (int64_t d = 0; d < hd; d++) acc[d] += w * vj[d];
      }
      for (int64_t d = 0; d < hd; d++) oh[d] = acc[d] * inv;
    } else {
      for (int64_t d = 0; d < hd; d++) oh[d] = 0.0f;
      for (int64_t j = 0; j < L; j++) {
        const float *vj = vs + j * kvDim;
        float w = ph[j] * inv;
        for (int64_t d = 0; d < hd; d++) oh[d] += w * vj[d];
      }
    }
  }
}

#ifdef HAVE_X86_INTRIN
__attribute__((target("avx2,fma"))) static inline __m256 hsum8x8(__m256 p0, __m256 p1, __m256 p2, __m256 p3,
                                                                 __m256 p4, __m256 p5, __m256 p6, __m256 p7);
static int have_avx2_fma(void);

// e^x for x ≤ 0 eight lanes at a time: fexp's range reduction and polynomial (with FMA, so the last
// bit may differ from fexp); 2^n is one exponent-bit factor since n ≥ −126 here; x below −87.34 → 0.
__attribute__((target("avx2,fma"))) static inline __m256 exp_nonpos_avx2(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654475f);
  __m256 xc = _mm256_max_ps(x, lo);
  __m256 fn = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 q = _mm256_set1_ps(1.9875691500e-4f);
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.3981999507e-3f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(8.3334519073e-3f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(4.1665795894e-2f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.6666665459e-1f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(5.0000001201e-1f));
  q = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(q, r), r, r), _mm256_set1_ps(1.0f));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fn), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(q, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);
}

// out[j] = e^(p[j] − shift) for p[j] ≤ shift, eight at a time; returns Σ out in double.
__attribute__((target("avx2,fma"))) static double exp_shift_sum_avx2(float *out, const float *p, float shift,
                                                                     int64_t n) {
  const __m256 m = _mm256_set1_ps(shift);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 e = exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(p + j), m));
    _mm256_storeu_ps(out + j, e);
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  double t[4];
  _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
  double sum = (t[0] + t[1]) + (t[2] + t[3]);
  for (; j < n; j++) sum += out[j] = fexp(p[j] - shift);
  return sum;
}

// attend_group for head sizes that are multiples of 8 (up to 64): scores of eight keys at a time
// (eight independent dot products reduced together), weighted sum of values in registers.
__attribute__((target("avx2,fma"))) static void attend_group_avx2(float *o, const float *q, const float *ks,
                                                                  const float *vs, int64_t L, int64_t kvDim,
                                                                  int64_t hd, int64_t group, float scale,
                                                                  float *p) {
  int64_t n8 = hd / 8;
  __m256 sv = _mm256_set1_ps(scale);
  for (int64_t h = 0; h < group; h++) {
    const float *qh = q + h * hd;
    float *ph = p + h * L;
    int64_t j = 0;
    for (; j + 8 <= L; j += 8) {
      const float *k0 = ks + j * kvDim;
      __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
      for (int64_t d = 0; d < hd; d += 8) {
        __m256 qv = _mm256_loadu_ps(qh + d);
        c0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + d), c0);
        c1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + kvDim + d), c1);
        c2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 2 * kvDim + d), c2);
        c3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 3 * kvDim + d), c3);
        c4 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 4 * kvDim + d), c4);
        c5 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 5 * kvDim + d), c5);
        c6 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 6 * kvDim + d), c6);
        c7 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 7 * kvDim + d), c7);
      }
      _mm256_storeu_ps(ph + j, _mm256_mul_ps(hsum8x8(c0, c1, c2, c3, c4, c5, c6, c7), sv));
    }
    for (; j < L; j++) {
      const float *kj = ks + j * kvDim;
      __m256 c = _mm256_setzero_ps();
      for (int64_t d = 0; d < hd; d += 8) c = _mm256_fmadd_ps(_mm256_loadu_ps(qh + d), _mm256_loadu_ps(kj + d), c);
      __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
      s4 = _mm_hadd_ps(s4, s4);
      s4 = _mm_hadd_ps(s4, s4);
      ph[j] = scale * _mm_cvtss_f32(s4);
    }
    float mx = row_max(ph, L);
    __m256 inv = _mm256_set1_ps((float)(1.0 / exp_shift_sum_avx2(ph, ph, mx, L)));
    __m256 acc[8];
    for (int64_t d = 0; d < n8; d++) acc[d] = _mm256_setzero_ps();
    for (j = 0; j < L; j++) {
      __m256 w = _mm256_set1_ps(ph[j]);
      const float *vj = vs + j * kvDim;
      for (int64_t d = 0; d < n8; d++) acc[d] = _mm256_fmadd_ps(w, _mm256_loadu_ps(vj + 8 * d), acc[d]);
    }
    float *oh = o + h * hd;
    for (int64_t d = 0; d < n8; d++) _mm256_storeu_ps(oh + 8 * d, _mm256_mul_ps(acc[d], inv));
  }
}

static int attend_group_fast(float *o, const float *q, const float *ks, const float *vs, int64_t L, int64_t kvDim,
                             int64_t hd, int64_t group, float scale, float *p) {
  if (hd % 8 != 0 || hd > 64 || !have_avx2_fma()) return 0;
  attend_group_avx2(o, q, ks, vs, L, kvDim, hd, group, scale, p);
  return 1;
}
#else
static int attend_group_fast(float *o, const float *q, const float *ks, const float *vs, int64_t L, int64_t kvDim,
                             int64_t hd, int64_t group, float scale, float *p) {
  (void)o, (void)q, (void)ks, (void)vs, (void)L, (void)kvDim, (void)hd, (void)group, (void)scale, (void)p;
  return 0;
}
#endif

// attentionCached(o, q, k, v, kCache, vCache, slots, past, counts, rows, maxSeq, nHeads, nKvHeads,
// headDim, scale). Row b has counts[b] new tokens (token rows of all rows back to back); they go to
// cache slot slots[b] at positions past[b]…past[b]+counts[b]-1 (keys already rotated); the query at
// position P then attends to the slot's positions 0..P (causal), query head h reading kv head
// h / (nHeads / nKvHeads). q, o: [tokens][nHeads·hd]; k, v: [tokens][nKvHeads·hd]; caches
// [slot][maxSeq][nKvHeads·hd].
static napi_value AttentionCached(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 15)) return NULL;
  float *o = f32(&a, 0), *q = f32(&a, 1), *k = f32(&a, 2), *v = f32(&a, 3), *kc = f32(&a, 4), *vc = f32(&a, 5);
  int32_t *slots = i32(&a, 6), *past = i32(&a, 7), *counts = i32(&a, 8);
  if (a.failed) return NULL;
  int64_t B = inum(&a, 9), maxSeq = inum(&a, 10), H = inum(&a, 11), KH = inum(&a, 12), hd = inum(&a, 13);
  float scale = (float)num(&a, 14);
  int64_t kvDim = KH * hd, qDim = H * hd, group = H / KH;
  for (int64_t b = 0, row = 0; b < B; row += counts[b], b++) {
    int64_t base = ((int64_t)slots[b] * maxSeq + past[b]) * kvDim;
    memcpy(kc + base, k + row * kvDim, sizeof(float) * counts[b] * kvDim);
    memcpy(vc + base, v + row * kvDim, sizeof(float) * counts[b] * kvDim);
  }
  float *p = (float *)malloc(sizeof(float) * (size_t)(group * (maxSeq > 0 ? maxSeq : 1)));
  if (!p) {
    napi_throw_error(env, NULL, "tensor native: out of memory");
    return NULL;
  }
  for (int64_t b = 0, row = 0; b < B; row += counts[b], b++) {
    int64_t slotBase = (int64_t)slots[b] * maxSeq * kvDim;
    for (int64_t t = 0; t < counts[b]; t++) {
      int64_t L = past[b] + t + 1, r = row + t;
      for (int64_t g = 0; g < KH; g++)
        if (!attend_group_fast(o + r * qDim + g * group * hd, q + r * qDim + g * group * hd, kc + slotBase + g * hd,
                               vc + slotBase + g * hd, L, kvDim, hd, group, scale, p))
          attend_group(o + r * qDim + g * group * hd, q + r * qDim + g * group * hd, kc + slotBase + g * hd,
                     vc + slotBase + g * hd, L, kvDim, hd, group, scale, p);
    }
  }
  free(p);
  return undef(env);
}

#define LORA_ROW_MAX_RANK 64
#define LORA_ROW_MAX_ROWS 4
#ifdef HAVE_X86_INTRIN
// Sum of each of eight vectors, as one vector (lane i = Σ p_i): a horizontal-add tree.
__attribute__((target("avx2,fma"))) static inline __m256 hsum8x8(__m256 p0, __m256 p1, __m256 p2, __m256 p3,
                                                                 __m256 p4, __m256 p5, __m256 p6, __m256 p7) {
  __m256 h0123 = _mm256_hadd_ps(_mm256_hadd_ps(p0, p1), _mm256_hadd_ps(p2, p3));
  __m256 h4567 = _mm256_hadd_ps(_mm256_hadd_ps(p4, p5), _mm256_hadd_ps(p6, p7));
  // h0123 = [p0..p3 partial sums | p0..p3 other halves]; likewise h4567
  return _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20), _mm256_permute2f128_ps(h0123, h4567, 0x31));
}

// Eight weights as floats: float32 loaded as they are, IEEE half widened by F16C.
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256 load8(const void *p, int64_t i,
                                                                                    int half) {
  if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
  return _mm256_loadu_ps((const float *)p + i);
}

// Rank-8 LoRA row (in a multiple of 8): t = scale·A·x with eight independent accumulators (one per
// rank, sharing each load of x), then y[j] += B[j]·t eight outputs at a time. A and B are float32 or
// IEEE half (`half`, a constant in each caller below, so each gets its own loop): half matrices
// are half the bytes, which is what a decode step over many adapters is bound by.
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
lora_row8_body(float *y, const float *x, const void *A, const void *B, int64_t in, int64_t out, float sc, int half) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (int64_t j = 0; j < in; j += 8) {
    __m256 xv = _mm256_loadu_ps(x + j);
    a0 = _mm256_fmadd_ps(xv, load8(A, j, half), a0);
    a1 = _mm256_fmadd_ps(xv, load8(A, in + j, half), a1);
    a2 = _mm256_fmadd_ps(xv, load8(A, 2 * in + j, half), a2);
    a3 = _mm256_fmadd_ps(xv, load8(A, 3 * in + j, half), a3);
    a4 = _mm256_fmadd_ps(xv, load8(A, 4 * in + j, half), a4);
    a5 = _mm256_fmadd_ps(xv, load8(A, 5 * in + j, half), a5);
    a6 = _mm256_fmadd_ps(xv, load8(A, 6 * in + j, half), a6);
    a7 = _mm256_fmadd_ps(xv, load8(A, 7 * in + j, half), a7);
  }
  __m256 tv = _mm256_mul_ps(hsum8x8(a0, a1, a2, a3, a4, a5, a6, a7), _mm256_set1_ps(sc));
  int64_t j = 0;
  for (; j + 8 <= out; j += 8) {
    int64_t b = j * 8;
    __m256 s = hsum8x8(_mm256_mul_ps(load8(B, b, half), tv), _mm256_mul_ps(load8(B, b + 8, half), tv),
                       _mm256_mul_ps(load8(B, b + 16, half), tv), _mm256_mul_ps(load8(B, b + 24, half), tv),
                       _mm256_mul_ps(load8(B, b + 32, half), tv), _mm256_mul_ps(load8(B, b + 40, half), tv),
                       _mm256_mul_ps(load8(B, b + 48, half), tv), _mm256_mul_ps(load8(B, b + 56, half), tv));
    _mm256_storeu_ps(y + j, _mm256_add_ps(_mm256_loadu_ps(y + j), s));
  }
  float t[8];
  _mm256_storeu_ps(t, tv);
  for (; j < out; j++) {
    float b[8];
    _mm256_storeu_ps(b, load8(B, j * 8, half));
    float acc = 0;
    for (int c = 0; c < 8; c++) acc += b[c] * t[c];
    y[j] += acc;
  }
}

__attribute__((target("avx2,fma,f16c"))) static void lora_row8_avx2(float *y, const float *x, const float *A,
                                                                    const float *B, int64_t in, int64_t out,
                                                                    float sc) {
  lora_row8_body(y, x, A, B, in, out, sc, 0);
}

__attribute__((target("avx2,fma,f16c"))) static void lora_row8_half_avx2(float *y, const float *x,
                                                                        const uint16_t *A, const uint16_t *B,
                                                                        int64_t in, int64_t out, float sc) {
  lora_row8_body(y, x, A, B, in, out, sc, 1);
}

static int have_avx2_fma(void) {
  static int ok = -1;
  if (ok < 0) {
    __builtin_cpu_init();
    ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return ok;
}

static int have_f16c(void) {
  static int ok = -1;
  if (ok < 0) {
    __builtin_cpu_init();
    ok = have_avx2_fma() && __builtin_cpu_supports("f16c");
  }
  return ok;
}

// (every AVX2 processor has F16C, which the shared row body is compiled for)
static int lora_row8(float *y, const float *x, const float *A, const float *B, int64_t in, int64_t out, float sc) {
  if (in % 8 != 0 || !have_f16c()) return 0;
  lora_row8_avx2(y, x, A, B, in, out, sc);
  return 1;
}

static int lora_row8_half(float *y, const float *x, const uint16_t *A, const uint16_t *B, int64_t in, int64_t out,
                          float sc) {
  if (in % 8 != 0 || !have_f16c()) return 0;
  lora_row8_half_avx2(y, x, A, B, in, out, sc);
  return 1;
}

__attribute__((target("avx2,f16c"))) static void widen_half_f16c(float *dst, const uint16_t *src, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
  for (; i < n; i++) dst[i] = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(src[i])));
}

static int widen_half_fast(float *dst, const uint16_t *src, int64_t n) {
  if (!have_f16c()) return 0;
  widen_half_f16c(dst, src, n);
  return 1;
}
#else
static int lora_row8_half(float *y, const float *x, const uint16_t *A, const uint16_t *B, int64_t in, int64_t out,
                          float sc) {
  (void)y, (void)x, (void)A, (void)B, (void)in, (void)out, (void)sc;
  return 0;
}

static int widen_half_fast(float *dst, const uint16_t *src, int64_t n) {
  (void)dst, (void)src, (void)n;
  return 0;
}
static int lora_row8(float *y, const float *x, const float *A, const float *B, int64_t in, int64_t out, float sc) {
  (void)y, (void)x, (void)A, (void)B, (void)in, (void)out, (void)sc;
  return 0;
}
#endif

// One row of a LoRA branch: y += B·(scale·A·x), A rank×inDim, B outDim×rank. A decode step has one
// or two rows per adapter, where two BLAS calls per segment cost more in overhead than the arithmetic;
// rank 8 (the common case) gets a fixed-width inner loop the compiler vectorises across outputs.
VEC_CLONES static void lora_row(float *yr, const float *xr, const float *A, const float *Bm, int64_t r, int64_t in,
                                int64_t out, float sc) {
  if (r == 8 && lora_row8(yr, xr, A, Bm, in, out, sc)) return;
  float t[LORA_ROW_MAX_RANK];
  for (int64_t c = 0; c < r; c++) {
    const float *ac = A + c * in;
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= in; j += 8)
      for (int l = 0; l < 8; l++) s[l] += xr[j + l] * ac[j + l];
    float tot = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; j < in; j++) tot += xr[j] * ac[j];
    t[c] = sc * tot;
  }
  if (r == 8) {
    float t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7];
    for (int64_t j = 0; j < out; j++) {
      const float *b = Bm + j * 8;
      yr[j] += ((b[0] * t0 + b[1] * t1) + (b[2] * t2 + b[3] * t3)) + ((b[4] * t4 + b[5] * t5) + (b[6] * t6 + b[7] * t7));
    }
  } else {
    for (int64_t j = 0; j < out; j++) {
      const float *b = Bm + j * r;
      float acc = 0;
      for (int64_t c = 0; c < r; c++) acc += b[c] * t[c];
      yr[j] += acc;
    }
  }
}

// IEEE half bits → float (exact; subnormals, ±Inf and NaN included).
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0x1f) bits = sign | 0x7f800000u | (mant << 13);
  else if (exp != 0) bits = sign | ((exp + 112) << 23) | (mant << 13);
  else if (mant == 0) bits = sign;
  else {
    // subnormal half: normalise into a float exponent
    int e = -1;
    do {
      mant <<= 1;
      e++;
    } while (!(mant & 0x400));
    bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static void widen_half(float *dst, const uint16_t *src, int64_t n) {
  if (widen_half_fast(dst, src, n)) return;
  for (int64_t i = 0; i < n; i++) dst[i] = half_to_float(src[i]);
}

// loraSegmented(y, x, inDim, outDim, bounds, ranks, scales, mats, count): segment s covers rows
// bounds[2s]..bounds[2s+1]-1 with A = mats[2s] (rank×inDim) and B = mats[2s+1] (outDim×rank), each a
// Float32Array or a Uint16Array of IEEE half bits; y[row] += scale·B·(A·x[row]). Short segments (a
// decode step has one or two rows per adapter) go row by row, where two BLAS calls per segment cost
// more in call overhead than the arithmetic, rank-8 half matrices without widening them first; a
// prompt's segment goes through BLAS (half matrices widened into scratch). The next segment's
// matrices are prefetched meanwhile.
static napi_value LoraSegmented(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 9)) return NULL;
  float *y = f32(&a, 0), *x = f32(&a, 1), *scales = f32(&a, 6);
  int32_t *bounds = i32(&a, 4), *ranks = i32(&a, 5);
  if (a.failed) return NULL;
  int64_t inDim = inum(&a, 2), outDim = inum(&a, 3), count = inum(&a, 8);
  if (count <= 0) return undef(env);
  napi_value mats = a.argv[7];
  // every segment's matrices first, so that the next segment's can be prefetched while one computes:
  // with many adapters their weights come from memory, not cache
  const void **ptrs = (const void **)malloc(sizeof(void *) * 2 * (size_t)count);
  unsigned char *half = (unsigned char *)malloc(2 * (size_t)count);
  if (!ptrs || !half) {
    free(ptrs);
    free(half);
    napi_throw_error(env, NULL, "tensor native: out of memory");
    return NULL;
  }
  for (int64_t s = 0; s < 2 * count; s++) {
    napi_value m, ab;
    void *pm = NULL;
    napi_typedarray_type ty;
    size_t len, off;
    if (napi_get_element(env, mats, (uint32_t)s, &m) != napi_ok ||
        napi_get_typedarray_info(env, m, &ty, &len, &pm, &ab, &off) != napi_ok ||
        (ty != napi_float32_array && ty != napi_uint16_array)) {
      free(ptrs);
      free(half);
      napi_throw_type_error(env, NULL, "tensor native: loraSegmented expects Float32Array or Uint16Array matrices");
      return NULL;
    }
    ptrs[s] = pm;
    half[s] = ty == napi_uint16_array;
  }
  float *t = NULL, *wide = NULL;
  int64_t tcap = 0, wcap = 0;
  int failed = 0;
  for (int64_t s = 0; s < count && !failed; s++) {
    int64_t r = ranks[s];
    if (s + 1 < count && ranks[s + 1] > 0) {
      prefetch_range(ptrs[2 * s + 2], (half[2 * s + 2] ? 2 : 4) * (size_t)(ranks[s + 1] * inDim));
      prefetch_range(ptrs[2 * s + 3], (half[2 * s + 3] ? 2 : 4) * (size_t)(ranks[s + 1] * outDim));
    }
    if (r <= 0 || scales[s] == 0.0f) continue;
    int64_t r0 = bounds[2 * s], len = bounds[2 * s + 1] - r0;
    if (len <= 0) continue;
    int rowwise = len <= LORA_ROW_MAX_ROWS && r <= LORA_ROW_MAX_RANK;
    if (rowwise && r == 8 && half[2 * s] && half[2 * s + 1]) {
      int64_t row = r0;
      for (; row < r0 + len; row++)
        if (!lora_row8_half(y + row * outDim, x + row * inDim, (const uint16_t *)ptrs[2 * s],
                            (const uint16_t *)ptrs[2 * s + 1], inDim, outDim, scales[s]))
          break;
      if (row == r0 + len) continue;
    }
    // float32 views of A and B, widening half matrices into scratch
    const float *A = (const float *)ptrs[2 * s], *Bm = (const float *)ptrs[2 * s + 1];
    if (half[2 * s] || half[2 * s + 1]) {
      int64_t need = r * (inDim + outDim);
      if (need > wcap) {
        float *grown = (float *)realloc(wide, sizeof(float) * (size_t)need);
        if (!grown) {
          failed = 1;
          break;
        }
        wide = grown;
        wcap = need;
      }
      if (half[2 * s]) {
        widen_half(wide, (const uint16_t *)ptrs[2 * s], r * inDim);
        A = wide;
      }
      if (half[2 * s + 1]) {
        widen_half(wide + r * inDim, (const uint16_t *)ptrs[2 * s + 1], r * outDim);
        Bm = wide + r * inDim;
      }
    }
    if (rowwise) {
      for (int64_t row = r0; row < r0 + len; row++)
        lora_row(y + row * outDim, x + row * inDim, A, Bm, r, inDim, outDim, scales[s]);
      continue;
    }
    if (len * r > tcap) {
      float *grown = (float *)realloc(t, sizeof(float) * (size_t)(len * r));
      if (!grown) {
        failed = 1;
        break;
      }
      t = grown;
      tcap = len * r;
    }
    // longer segments (a prompt): t = scale·x·Aᵀ (len×r), then y += t·Bᵀ through BLAS
    gemm(0, 1, (int)len, (int)r, (int)inDim, scales[s], x + r0 * inDim, (int)inDim, A, (int)inDim, 0.0f, t, (int)r);
    gemm(0, 1, (int)len, (int)outDim, (int)r, 1.0f, t, (int)r, Bm, (int)r, 1.0f, y + r0 * outDim, (int)outDim);
  }
  free(t);
  free(wide);
  free(ptrs);
  free(half);
  if (failed) {
    napi_throw_error(env, NULL, "tensor native: out of memory");
    return NULL;
  }
  return undef(env);
}

// Index of the first element equal to the row's maximum (the first largest logit): the maximum
// through vector compares, then the first block of eight that holds it.
VEC_CLONES static int64_t first_argmax(const float *z, int64_t V) {
  float mx = row_max(z, V);
  int64_t i = 0;
  for (; i + 8 <= V; i += 8) {
    int hit = 0;
    for (int l = 0; l < 8; l++) hit |= z[i + l] == mx;
    if (hit) break;
  }
  for (; i < V; i++)
    if (z[i] == mx) return i;
  return 0; // NaN-only rows
}

// p[i] = e^((z[i] − mx)·f); returns Σ p in double over 8 lanes (one pass for exp and sum).
VEC_CLONES static double exp_scaled_sum(float *p, const float *z, float mx, float f, int64_t n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; l++) {
      float e = fexp((z[j + l] - mx) * f);
      p[j + l] = e;
      s[l] += e;
    }
  double t = 0;
  for (int l = 0; l < 8; l++) t += s[l];
  for (; j < n; j++) {
    p[j] = fexp((z[j] - mx) * f);
    t += p[j];
  }
  return t;
}

// Σ p[0..n) in double over 8 lanes.
VEC_CLONES static double block_sum(const float *p, int64_t n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; l++) s[l] += p[j + l];
  double t = 0;
  for (int l = 0; l < 8; l++) t += s[l];
  for (; j < n; j++) t += p[j];
  return t;
}

enum { SAMPLE_BLOCK = 64 };

// p[i] = e^((z[i] − mx)·f) and the sum of each whole block of SAMPLE_BLOCK entries into blocks[];
// returns Σ p (the blocks, then the tail), in double.
static double exp_blocks_scalar(float *p, const float *z, float mx, float f, int64_t n, double *blocks) {
  double total = 0;
  int64_t i = 0, b = 0;
  for (; i + SAMPLE_BLOCK <= n; i += SAMPLE_BLOCK, b++) {
    exp_scaled_sum(p + i, z + i, mx, f, SAMPLE_BLOCK);
    blocks[b] = block_sum(p + i, SAMPLE_BLOCK);
    total += blocks[b];
  }
  if (i < n) total += exp_scaled_sum(p + i, z + i, mx, f, n - i);
  return total;
}

#ifdef HAVE_X86_INTRIN
// exp_blocks_scalar with the exponentials and sums eight lanes at a time (sums in double).
__attribute__((target("avx2,fma"))) static double exp_blocks_avx2(float *p, const float *z, float mx, float f,
                                                                  int64_t n, double *blocks) {
  const __m256 m = _mm256_set1_ps(mx), fv = _mm256_set1_ps(f);
  double total = 0;
  int64_t i = 0, b = 0;
  for (; i + SAMPLE_BLOCK <= n; i += SAMPLE_BLOCK, b++) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    for (int64_t j = i; j < i + SAMPLE_BLOCK; j += 8) {
      __m256 e = exp_nonpos_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(z + j), m), fv));
      _mm256_storeu_ps(p + j, e);
      s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
      s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
    blocks[b] = (t[0] + t[1]) + (t[2] + t[3]);
    total += blocks[b];
  }
  if (i < n) total += exp_scaled_sum(p + i, z + i, mx, f, n - i);
  return total;
}

static double exp_blocks(float *p, const float *z, float mx, float f, int64_t n, double *blocks) {
  if (have_avx2_fma()) return exp_blocks_avx2(p, z, mx, f, n, blocks);
  return exp_blocks_scalar(p, z, mx, f, n, blocks);
}
#else
static double exp_blocks(float *p, const float *z, float mx, float f, int64_t n, double *blocks) {
  return exp_blocks_scalar(p, z, mx, f, n, blocks);
}
#endif

// sampleRows(logits, rows, vocab, temperature, uniform, out): per row, temperature 0 takes the
// first largest logit; otherwise p_i = e^((z_i − max)/temperature) and the token is the first i whose
// running sum of p exceeds uniform[r]·Σp (inverse-CDF sampling with the caller's seeded uniform).
// The exp pass leaves the sum of every 64 entries, so the CDF walk goes a block at a time, then
// inside the block where it crosses.
static napi_value SampleRows(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 6)) return NULL;
  float *lg = f32(&a, 0);
  double *temp = (double *)arr(&a, 3, napi_float64_array), *u = (double *)arr(&a, 4, napi_float64_array);
  int32_t *out = i32(&a, 5);
  if (a.failed) return NULL;
  int64_t rows = inum(&a, 1), V = inum(&a, 2);
  float *p = (float *)malloc(sizeof(float) * (size_t)(V > 0 ? V : 1));
  double *blocks = (double *)malloc(sizeof(double) * (size_t)(V / SAMPLE_BLOCK + 1));
  if (!p || !blocks) {
    free(p);
    free(blocks);
    napi_throw_error(env, NULL, "tensor native: out of memory");
    return NULL;
  }
  for (int64_t r = 0; r < rows; r++) {
    const float *z = lg + r * V;
    int64_t best = first_argmax(z, V);
    out[r] = (int32_t)best;
    if (temp[r] == 0.0 || V == 0 || z[best] == -INFINITY || z[best] != z[best]) continue;
    double total = exp_blocks(p, z, z[best], (float)(1.0 / temp[r]), V, blocks);
    double left = u[r] * total;
    // walk the CDF a block at a time (the sums the exp pass left), then inside the block where it
    // crosses u·total
    int64_t i = 0;
    for (int64_t b = 0; i + SAMPLE_BLOCK <= V; i += SAMPLE_BLOCK, b++) {
      if (left - blocks[b] < 0) break;
      left -= blocks[b];
    }
    int64_t pick = -1;
    for (; i < V; i++) {
      left -= p[i];
      if (left < 0) {
        pick = i;
        break;
      }
    }
    if (pick < 0) {
      // rounding left a sliver past the last token: the last token that has probability
      pick = best;
      for (int64_t j = V - 1; j >= 0; j--)
        if (p[j] > 0.0f) {
          pick = j;
          break;
        }
    }
    out[r] = (int32_t)pick;
  }
  free(p);
  free(blocks);
  return undef(env);
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, &a, 1)) return NULL;
  openblas_set_num_threads((int)inum(&a, 0));
  return undef(env);
}

static napi_value GetThreads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value ret;
  napi_create_int32(env, openblas_get_num_threads(), &ret);
  return ret;
}

static napi_value Config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value ret;
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &ret);
  return ret;
}

static napi_value Init(napi_env env, napi_value exports) {
  const char *t = getenv("OPENLEDGER_TENSOR_THREADS");
  int threads = t ? atoi(t) : 1;
  openblas_set_num_threads(threads > 0 ? threads : 1);
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"sgemmStridedBatched", NULL, SgemmStridedBatched, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxRows", NULL, SoftmaxRows, NULL, NULL, NULL, napi_default, NULL},
      {"rmsnorm", NULL, Rmsnorm, NULL, NULL, NULL, napi_default, NULL},
      {"ropeAt", NULL, RopeAt, NULL, NULL, NULL, napi_default, NULL},
      {"silu", NULL, Silu, NULL, NULL, NULL, napi_default, NULL},
      {"swiglu", NULL, Swiglu, NULL, NULL, NULL, napi_default, NULL},
      {"crossEntropy", NULL, CrossEntropy, NULL, NULL, NULL, napi_default, NULL},
      {"adamw", NULL, Adamw, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxRowsBackward", NULL, SoftmaxRowsBackward, NULL, NULL, NULL, napi_default, NULL},
      {"rmsnormBackward", NULL, RmsnormBackward, NULL, NULL, NULL, napi_default, NULL},
      {"swigluBackward", NULL, SwigluBackward, NULL, NULL, NULL, napi_default, NULL},
      {"attentionCached", NULL, AttentionCached, NULL, NULL, NULL, napi_default, NULL},
      {"loraSegmented", NULL, LoraSegmented, NULL, NULL, NULL, napi_default, NULL},
      {"sampleRows", NULL, SampleRows, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"getThreads", NULL, GetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"config", NULL, Config, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
