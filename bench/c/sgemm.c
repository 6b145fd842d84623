// OpenBLAS cblas_sgemm called from C: the baseline bench/engine-kernels.ts compares the Node backends
// against. Usage: sgemm M N K TRANS_B(0|1) MIN_SECONDS ROUNDS THREADS
// Prints one line "CPU WALL": the best GFLOP/s over ROUNDS rounds (each repeating the call for
// MIN_SECONDS of process CPU time), per CPU-second and per wall-second.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern void openblas_set_num_threads(int num_threads);

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: %s M N K TRANS_B MIN_SECONDS ROUNDS THREADS\n", argv[0]);
    return 2;
  }
  int m = atoi(argv[1]), n = atoi(argv[2]), k = atoi(argv[3]), tb = atoi(argv[4]);
  double minSeconds = atof(argv[5]);
  int rounds = atoi(argv[6]);
  openblas_set_num_threads(atoi(argv[7]));
  float *a = malloc(sizeof(float) * (size_t)m * k);
  float *b = malloc(sizeof(float) * (size_t)k * n);
  float *c = malloc(sizeof(float) * (size_t)m * n);
  unsigned s = 12345;
  for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f - 0.5f;
  for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f - 0.5f;
  int ldb = tb ? k : n;
  CBLAS_TRANSPOSE tB = tb ? CblasTrans : CblasNoTrans;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, tB, m, n, k, 1.0f, a, k, b, ldb, 0.0f, c, n);  // warm-up
  double flops = 2.0 * m * n * k, best = 0, bestWall = 0;
  for (int r = 0; r < rounds; r++) {
    int reps = 0;
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC), t;
    do {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, tB, m, n, k, 1.0f, a, k, b, ldb, 0.0f, c, n);
      reps++;
    } while ((t = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) < minSeconds);
    double w = clock_s(CLOCK_MONOTONIC) - w0;
    if (flops * reps / t / 1e9 > best) best = flops * reps / t / 1e9;
    if (flops * reps / w / 1e9 > bestWall) bestWall = flops * reps / w / 1e9;
  }
  printf("%.3f %.3f\n", best, bestWall);
  free(a);
  free(b);
  free(c);
  return 0;
}
