// Loader of the optional Node-API addon (native/sais.c: SA-IS in C), built at install by
// scripts/build-native.mjs. Absent addon, failed load or OPENLEDGER_ATTRIBUTION_SKIP_NATIVE set:
// null, and src/sais.ts uses its TypeScript SA-IS.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Symbol arrays the addon reads in place (no copy). */
export type NativeText = Uint8Array | Uint16Array | Uint32Array | Int32Array;

export interface NativeSais {
  /** Fills `out` (length = text length) with the suffix array; throws RangeError on a bad symbol. */
  buildSuffixArray(text: NativeText, alphabetSize: number, out: Int32Array): void;
}

export const nativeSaisPath = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'build',
  'Release',
  'attribution_native.node',
);

let addon: NativeSais | null | undefined;
let failure: string | undefined;

/** The addon, or null when it is not built, does not load, or is disabled by the environment. */
export function loadNativeSais(): NativeSais | null {
  if (process.env.OPENLEDGER_ATTRIBUTION_SKIP_NATIVE) {
    failure = 'disabled by OPENLEDGER_ATTRIBUTION_SKIP_NATIVE';
    return null;
  }
  if (addon !== undefined) return addon;
  addon = null;
  if (!existsSync(nativeSaisPath)) {
    failure = `addon not built (${nativeSaisPath}); run \`npm run build:native -w @openledger/attribution\``;
  } else {
    try {
      addon = createRequire(import.meta.url)(nativeSaisPath) as NativeSais;
    } catch (e) {
      failure = `addon failed to load: ${(e as Error).message}`;
    }
  }
  return addon;
}

/** Why the addon is not in use (undefined when it is, or was never asked for). */
export function nativeSaisFailure(): string | undefined {
  return loadNativeSais() ? undefined : failure;
}
