/*
 * One level of SA-IS (Nong, Zhang & Chan 2009) over a text of CHR symbols. sais.c includes this file
 * once per symbol width (8, 16, 32 bits) so every level reads the caller's text in place: a byte or
 * 16-bit text is never widened to 32 bits, which would multiply the memory traffic of the random
 * reads that dominate the run time. The reduced problem of every level is a 32-bit text.
 *
 * No L/S type array is kept. A suffix's type follows from two adjacent symbols once the type of its
 * successor is known, and the induction scans always know it: a suffix induced in the L scan is
 * L-type, one induced in the S scan is S-type. So when a suffix k is written into its bucket we
 * also decide whether its predecessor k-1 must be induced by the L scan (entry stored as k) or by
 * the S scan (entry stored as ~k, negative). 0 marks an empty slot: suffix 0 has no predecessor,
 * so whether it is "present" never matters to the scans; it is written like any other suffix.
 *
 * Before including: CHR (symbol type), SUFFIX (name suffix); idx_t, bucket_starts, bucket_ends,
 * SAIS_PREFETCH and the forward declaration of sais_u32 come from sais.c.
 */
#define SAIS_CAT2(a, b) a##_##b
#define SAIS_CAT(a, b) SAIS_CAT2(a, b)
#define FN(name) SAIS_CAT(name, SUFFIX)

static void FN(count_symbols)(const CHR *T, idx_t n, idx_t *C, idx_t K) {
  memset(C, 0, (size_t)K * sizeof *C);
  for (idx_t i = 0; i < n; i++) C[T[i]]++;
}

/*
 * L scan, left to right. Entry p > 0 means "p-1 is L-type and still to be placed": place it at the
 * front of its bucket. With erase (stage 1) each processed entry is cleared, so that after both
 * scans only the LMS positions remain positive.
 */
static inline __attribute__((always_inline)) void FN(induce_l)(const CHR *T, idx_t *SA, idx_t n,
                                                               const idx_t *C, idx_t *B, idx_t K,
                                                               int erase) {
  bucket_starts(C, B, K);
  /* The virtual sentinel (position n, smallest) induces n-1, which is L-type. */
  {
    idx_t k = n - 1;
    SA[B[T[k]]++] = (k > 0 && T[k - 1] < T[k]) ? ~k : k;
  }
  for (idx_t i = 0; i < n; i++) {
    /* The text reads are random; fetch the symbols of an entry a few slots ahead. The entry may not
       be final yet, which only costs a useless prefetch. */
    if (i + SAIS_PREFETCH < n) {
      idx_t q = SA[i + SAIS_PREFETCH];
      if (q > 1) __builtin_prefetch(&T[q - 2]);
    }
    idx_t p = SA[i];
    if (p > 0) {
      if (erase) SA[i] = 0;
      idx_t k = p - 1;
      CHR c = T[k];
      /* k is L-type; k-1 is S-type exactly when T[k-1] < T[k]. */
      SA[B[c]++] = (k > 0 && T[k - 1] < c) ? ~k : k;
    }
  }
}

/*
 * S scan, right to left. Entry ~k (k > 0) means "k-1 is S-type and still to be placed": place it at
 * the back of its bucket. Without erase (final stage) the entry is restored to k; at the end every
 * entry is a non-negative suffix index.
 */
static inline __attribute__((always_inline)) void FN(induce_s)(const CHR *T, idx_t *SA, idx_t n,
                                                               const idx_t *C, idx_t *B, idx_t K,
                                                               int erase) {
  bucket_ends(C, B, K);
  for (idx_t i = n - 1; i >= 0; i--) {
    if (i >= SAIS_PREFETCH) {
      idx_t q = ~SA[i - SAIS_PREFETCH];
      if (q > 1) __builtin_prefetch(&T[q - 2]);
    }
    idx_t p = SA[i];
    if (p < 0) {
      idx_t k = ~p;
      SA[i] = erase ? 0 : k;
      k--;
      CHR c = T[k];
      /* k is S-type; k-1 is S-type exactly when T[k-1] <= T[k]; otherwise k is an LMS position. */
      SA[--B[c]] = (k > 0 && T[k - 1] <= c) ? ~k : k;
    }
  }
}

/*
 * Sorts the suffixes of T[0, n) (symbols in [0, K), n >= 1) into SA[0, n). fs/fs_len: scratch space
 * the caller does not need during this call (the bucket tables go there when they fit). Returns 0,
 * or -1 when memory ran out.
 */
static int FN(sais)(const CHR *T, idx_t *SA, idx_t n, idx_t K, idx_t *fs, idx_t fs_len) {
  if (n == 1) {
    SA[0] = 0;
    return 0;
  }
  idx_t *C;
  int own = 0;
  if ((int64_t)fs_len >= 2 * (int64_t)K) {
    C = fs;
  } else {
    C = malloc(2 * (size_t)K * sizeof *C);
    if (!C) return -1;
    own = 1;
  }
  idx_t *B = C + K;
  FN(count_symbols)(T, n, C, K);

  /* Stage 1: seed the LMS positions at their bucket ends, induce; the LMS positions come out sorted
     by their LMS substrings. Types are found right to left (n-1 is L-type: the sentinel is smaller). */
  memset(SA, 0, (size_t)n * sizeof *SA);
  bucket_ends(C, B, K);
  idx_t n1 = 0;
  {
    int t1 = 0; /* type of i+1: 1 = S */
    CHR c1 = T[n - 1];
    for (idx_t i = n - 2; i >= 0; i--) {
      CHR c0 = T[i];
      int t0 = c0 < c1 || (c0 == c1 && t1);
      if (t1 && !t0) {
        SA[--B[c1]] = i + 1;
        n1++;
      }
      t1 = t0;
      c1 = c0;
    }
  }
  FN(induce_l)(T, SA, n, C, B, K, 1);
  FN(induce_s)(T, SA, n, C, B, K, 1);
  {
    idx_t m = 0;
    for (idx_t i = 0; i < n; i++) {
      idx_t p = SA[i];
      if (p > 0) SA[m++] = p;
    }
  }

  /* Name the LMS substrings. LMS positions are at least 2 apart and n1 <= n/2, so SA[n1 + p/2]
     gives each one a private slot: first its LMS substring's length, then its name (1-based, so 0
     still means empty). Two LMS substrings are equal when lengths and symbols agree: both end at
     an S-type position, so equal symbols imply equal types. The last one ends at the sentinel
     (p + len = n + 1) and equals no other. */
  memset(SA + n1, 0, (size_t)(n - n1) * sizeof *SA);
  {
    idx_t next = n;
    int t1 = 0;
    CHR c1 = T[n - 1];
    for (idx_t i = n - 2; i >= 0; i--) {
      CHR c0 = T[i];
      int t0 = c0 < c1 || (c0 == c1 && t1);
      if (t1 && !t0) {
        idx_t p = i + 1;
        SA[n1 + (p >> 1)] = next - p + 1;
        next = p;
      }
      t1 = t0;
      c1 = c0;
    }
  }
  idx_t names = 0;
  {
    idx_t prev = 0, prev_len = 0;
    for (idx_t i = 0; i < n1; i++) {
      idx_t p = SA[i];
      idx_t len = SA[n1 + (p >> 1)];
      int diff = 1;
      if (len == prev_len && p + len <= n && prev + len <= n)
        diff = memcmp(T + p, T + prev, (size_t)len * sizeof *T) != 0;
      if (diff) {
        names++;
        prev = p;
        prev_len = len;
      }
      SA[n1 + (p >> 1)] = names;
    }
  }
  /* Reduced string: the names in text order, packed at the end of SA. */
  for (idx_t i = n - 1, j = n - 1; i >= n1; i--) {
    if (SA[i] != 0) SA[j--] = SA[i] - 1;
  }
  idx_t *s1 = SA + n - n1;

  /* Stage 2: sort the reduced suffixes into SA[0, n1); recurse only when names repeat. The gap
     SA[n1, n - n1) is free meanwhile and holds the next level's bucket tables when they fit. */
  if (names < n1) {
    if (sais_u32((const uint32_t *)s1, SA, n1, names, SA + n1, n - 2 * n1) != 0) {
      if (own) free(C);
      return -1;
    }
  } else {
    for (idx_t i = 0; i < n1; i++) SA[s1[i]] = i;
  }

  /* Stage 3: reduced ranks -> LMS positions (text order, rebuilt in s1's place), seeded at bucket
     ends in sorted order, then one L scan and one S scan sort every suffix. */
  {
    idx_t j = n - 1;
    int t1 = 0;
    CHR c1 = T[n - 1];
    for (idx_t i = n - 2; i >= 0; i--) {
      CHR c0 = T[i];
      int t0 = c0 < c1 || (c0 == c1 && t1);
      if (t1 && !t0) SA[j--] = i + 1;
      t1 = t0;
      c1 = c0;
    }
  }
  for (idx_t i = 0; i < n1; i++) SA[i] = s1[SA[i]];
  memset(SA + n1, 0, (size_t)(n - n1) * sizeof *SA);
  bucket_ends(C, B, K);
  /* The i-th smallest LMS suffix lands at or after slot i, so moving from the largest down never
     overwrites one still to be moved. */
  for (idx_t i = n1 - 1; i >= 0; i--) {
    idx_t p = SA[i];
    SA[i] = 0;
    SA[--B[T[p]]] = p;
  }
  FN(induce_l)(T, SA, n, C, B, K, 0);
  FN(induce_s)(T, SA, n, C, B, K, 0);
  if (own) free(C);
  return 0;
}

#undef FN
#undef SAIS_CAT
#undef SAIS_CAT2
