import { createHash } from 'node:crypto';
import { AttributionError } from './errors.ts';

/**
 * Canonical JSON (in the spirit of RFC 8785 / JCS): object keys sorted by UTF-16 code units, no
 * whitespace, members whose value is `undefined` omitted, numbers in ECMAScript shortest round-trip
 * form, non-finite numbers rejected. Equal values serialise to equal bytes.
 */
export function canonicalJson(value: unknown): string {
  return ser(value, '$');
}

function ser(v: unknown, path: string): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new AttributionError('INVALID_JSON', `${path}: non-finite number ${v}`);
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x, i) => ser(x, `${path}[${i}]`)).join(',')}]`;
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${ser(obj[k], `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new AttributionError('INVALID_JSON', `${path}: cannot serialise a ${typeof v}`);
  }
}

/** 0x-prefixed SHA-256 of a string (UTF-8) or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return `0x${createHash('sha256').update(data).digest('hex')}`;
}
