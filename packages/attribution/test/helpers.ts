import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CorpusDocument } from '../src/index.ts';

export function tempDir(): { dir: string; file: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ol-attr-'));
  return {
    dir,
    file: (name) => join(dir, name),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Brute-force occurrence count of `pat` inside documents (matches never cross documents). */
export function bruteCount(docs: readonly CorpusDocument[], pat: readonly number[]): number {
  if (pat.length === 0) return docs.reduce((a, d) => a + d.tokens.length + 1, 0);
  let c = 0;
  for (const d of docs) {
    const t = d.tokens;
    for (let i = 0; i + pat.length <= t.length; i++) {
      let ok = true;
      for (let k = 0; k < pat.length && ok; k++) ok = t[i + k] === pat[k];
      if (ok) c++;
    }
  }
  return c;
}

/** Brute-force documents (index → occurrences) containing `pat`. */
export function bruteDocs(docs: readonly CorpusDocument[], pat: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  docs.forEach((d, di) => {
    const c = bruteCount([d], pat);
    if (c > 0) out.set(di, c);
  });
  return out;
}

export function bruteLongest(docs: readonly CorpusDocument[], q: readonly number[], i: number): number {
  let L = 0;
  while (i + L < q.length && bruteCount(docs, q.slice(i, i + L + 1)) > 0) L++;
  return L;
}

export function makeDocs(tokenLists: number[][]): CorpusDocument[] {
  return tokenLists.map((tokens, i) => ({
    tokens,
    rowId: `row-${i}`,
    contributionId: `c-${i}`,
    contributor: `0x${(i % 3).toString(16).padStart(40, '0')}`,
  }));
}

/**
 * Corpora of the version-2 fixture files in test/fixtures (written by the version-2 writer before
 * version 3 existed; see span-index.test.ts). A self-contained LCG, so the corpora never change.
 */
export function fixtureCorpus(kind: 'small' | 'wide'): number[][] {
  let s = kind === 'small' ? 12345 : 67890;
  const next = (m: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % m;
  };
  const passage = Array.from({ length: 40 }, () => next(6));
  return Array.from({ length: kind === 'small' ? 14 : 10 }, (_, d) => {
    const t = Array.from({ length: 20 + next(50) }, () =>
      kind === 'small' ? next(6) : next(2) ? next(4) : 1000 + next(9),
    );
    if (d % 3 === 0) t.splice(next(t.length), 0, ...passage.slice(next(8), 30 + next(10)));
    return t;
  });
}

/** Bits needed for v ≥ 0 (at least 1). */
export function bitLength(v: number): number {
  let b = 1;
  while (2 ** b <= v) b++;
  return b;
}
