// Node-API addon: sgemm through OpenBLAS (cblas_sgemm) plus the elementwise / row kernels in C.
// Written against plain N-API (no node-addon-api) so it has no npm dependency. Argument sizes are
// checked in JS (src/checks.ts) before any function here runs; this file trusts them.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <node_api.h>

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
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"getThreads", NULL, GetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"config", NULL, Config, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
