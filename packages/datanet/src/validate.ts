import { OpenLedgerError } from '@openledger/store';
import type { Address, ContributionPolicy, Schema, Visibility } from './types.ts';

export const LIMITS = {
  name: 80,
  summary: 280,
  description: 20_000,
  tags: 16,
  tag: 32,
  license: 64,
  reason: 1_000,
  fileName: 255,
  batch: 10_000,
} as const;

export function bad(field: string, message: string, code = 'invalid_input'): OpenLedgerError {
  return new OpenLedgerError(code, `${field}: ${message}`, 400, { field });
}

export function normalizeAddress(value: unknown, field = 'actor'): Address {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(value)) {
    throw new OpenLedgerError('invalid_address', `${field}: must be a 0x-prefixed 20-byte hex address`, 400, {
      field,
    });
  }
  return value.toLowerCase() as Address;
}

export function checkString(
  value: unknown,
  field: string,
  max: number,
  opts: { required?: boolean } = {},
): string {
  if (value === undefined || value === null) {
    if (opts.required) throw bad(field, 'is required');
    return '';
  }
  if (typeof value !== 'string') throw bad(field, 'must be a string');
  const v = value.normalize('NFC');
  if (opts.required && v.trim().length === 0) throw bad(field, 'must not be empty');
  if (v.length > max) throw bad(field, `is ${v.length} characters, the limit is ${max}`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(v))
    throw bad(field, 'must not contain control characters');
  return v;
}

export function checkName(value: unknown): string {
  const v = checkString(value, 'name', LIMITS.name, { required: true }).trim();
  if (/[\n\r\t]/.test(v)) throw bad('name', 'must be a single line');
  return v;
}

export function checkTags(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw bad('tags', 'must be an array of strings');
  if (value.length > LIMITS.tags) throw bad('tags', `has ${value.length} tags, the limit is ${LIMITS.tags}`);
  const out: string[] = [];
  for (const [i, t] of value.entries()) {
    if (typeof t !== 'string') throw bad(`tags[${i}]`, 'must be a string');
    const tag = t.trim().toLowerCase();
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(tag)) {
      throw bad(`tags[${i}]`, `'${t}' must be lowercase letters, digits, '.', '_' or '-'`);
    }
    if (tag.length > LIMITS.tag)
      throw bad(`tags[${i}]`, `is ${tag.length} characters, the limit is ${LIMITS.tag}`);
    if (!out.includes(tag)) out.push(tag);
  }
  return out;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[], dflt: T): T {
  if (value === undefined || value === null) return dflt;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw bad(field, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export const checkVisibility = (v: unknown): Visibility =>
  oneOf(v, 'visibility', ['public', 'permissioned'] as const, 'public');
export const checkPolicy = (v: unknown): ContributionPolicy =>
  oneOf(v, 'policy', ['open', 'allowlist', 'owner'] as const, 'open');
export const checkSchema = (v: unknown): Schema =>
  oneOf(v, 'schema', ['text', 'prompt_completion', 'text_label'] as const, 'text');

export function checkDatanetId(value: unknown): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw new OpenLedgerError('invalid_input', 'datanetId: must be a positive integer', 400, {
      field: 'datanetId',
    });
  }
  return n;
}

export function checkRowId(value: unknown, field = 'rowId'): `0x${string}` {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(value)) {
    throw new OpenLedgerError('invalid_input', `${field}: must be a 0x-prefixed 32-byte hex id`, 400, {
      field,
    });
  }
  return value.toLowerCase() as `0x${string}`;
}
