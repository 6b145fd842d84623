/*
 * Reference suffix-array build for bench/attribution.ts: reads a byte string from a file, sorts its
 * suffixes with libdivsufsort (Debian libdivsufsort-dev), prints the build time in milliseconds (wall
 * and process CPU) and a checksum of the suffix array so the bench can check both builds agree.
 * Usage: divsufsort_bench INPUT [OUTPUT_SA]   (OUTPUT_SA: raw little-endian int32 suffix array)
 * libdivsufsort sorts bytes (alphabet 256), so the bench compares ours on the same byte string.
 */
#include <divsufsort.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s INPUT [OUTPUT_SA]\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror("open input"); return 1; }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  sauchar_t *text = malloc(n > 0 ? n : 1);
  saidx_t *sa = malloc(sizeof(saidx_t) * (n > 0 ? n : 1));
  if (!text || !sa) { fprintf(stderr, "out of memory\n"); return 1; }
  if ((long)fread(text, 1, n, f) != n) { fprintf(stderr, "short read\n"); return 1; }
  fclose(f);
  struct timespec t0, t1, c0, c1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (divsufsort(text, sa, (saidx_t)n) != 0) { fprintf(stderr, "divsufsort failed\n"); return 1; }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  double cpu_ms = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6;
  uint32_t h = 2166136261u;
  for (long i = 0; i < n; i++) { h ^= (uint32_t)sa[i]; h *= 16777619u; }
  if (argc > 2) {
    FILE *o = fopen(argv[2], "wb");
    if (!o) { perror("open output"); return 1; }
    fwrite(sa, sizeof(saidx_t), n, o);
    fclose(o);
  }
  printf("{\"n\":%ld,\"ms\":%.3f,\"cpu_ms\":%.3f,\"fnv\":%u}\n", n, ms, cpu_ms, h);
  free(text);
  free(sa);
  return 0;
}
