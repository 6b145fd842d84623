import { hash } from 'node:crypto';
import { hasEncodingDamage, normalizeText } from './text.ts';
import { type Hex32, type RowFields, type RowProblem, SCHEMA_FIELDS, type Schema } from './types.ts';

export interface RowCheckOptions {
  /** Fewer characters than this (all fields together) is `too_short`. Default 16. */
  minChars: number;
  /** More than this (all fields together) is `too_long`. Default 20,000. */
  maxChars: number;
}

export const DEFAULT_ROW_CHECKS: RowCheckOptions = { minChars: 16, maxChars: 20_000 };

export interface CheckedRow {
  fields: RowFields;
  /** Canonical JSON: schema fields in schema order, NFC, LF newlines, trimmed. */
  canonical: string;
  /** The text that near-duplicate detection compares. */
  text: string;
}

/** Canonical content of a row: the bytes its content hash is taken over. */
export function canonicalContent(schema: Schema, fields: Record<string, string>): string {
  const o: Record<string, string> = {};
  for (const f of SCHEMA_FIELDS[schema]) o[f] = fields[f];
  return JSON.stringify(o);
}

/** sha256 of the canonical content, 0x-hex. */
export function contentHashOf(schema: Schema, fields: Record<string, string>): Hex32 {
  return `0x${hash('sha256', canonicalContent(schema, fields))}` as Hex32;
}

const ROW_ID_DOMAIN = Buffer.from('openledger/datanet-row/v1', 'utf8');

/** Stable row id: sha256(domain ‖ uint64 datanetId ‖ contentHash). Same content in a datanet, same id. */
export function rowIdOf(datanetId: number, contentHash: Hex32 | Uint8Array): Hex32 {
  const buf = Buffer.allocUnsafe(ROW_ID_DOMAIN.length + 8 + 32);
  ROW_ID_DOMAIN.copy(buf, 0);
  buf.writeBigUInt64BE(BigInt(datanetId), ROW_ID_DOMAIN.length);
  if (typeof contentHash === 'string') buf.write(contentHash.slice(2), ROW_ID_DOMAIN.length + 8, 'hex');
  else buf.set(contentHash, ROW_ID_DOMAIN.length + 8);
  return `0x${hash('sha256', buf)}` as Hex32;
}

/** Applies schema, encoding and length checks to one parsed record. */
export function checkRecord(
  schema: Schema,
  record: Record<string, unknown>,
  source: string,
  opts: RowCheckOptions,
): CheckedRow | RowProblem {
  const fields = SCHEMA_FIELDS[schema];
  const keys = Object.keys(record);
  const extra = keys.filter((k) => !fields.includes(k));
  const missing = fields.filter((f) => !(f in record));
  if (extra.length > 0 || missing.length > 0) {
    return {
      code: 'schema_mismatch',
      message:
        `${source}: schema ${schema} needs exactly {${fields.join(', ')}}` +
        (missing.length ? `; missing ${missing.join(', ')}` : '') +
        (extra.length ? `; unexpected ${extra.join(', ')}` : ''),
    };
  }
  const out: Record<string, string> = {};
  let total = 0;
  for (const f of fields) {
    const v = record[f];
    if (typeof v !== 'string') {
      return {
        code: 'schema_mismatch',
        message: `${source}: field ${f} must be a string, got ${v === null ? 'null' : typeof v}`,
      };
    }
    const damage = hasEncodingDamage(v);
    if (damage) return { code: 'invalid_encoding', message: `${source}: field ${f} ${damage}` };
    const n = normalizeText(v);
    if (n.length === 0) return { code: 'empty', message: `${source}: field ${f} is empty` };
    out[f] = n;
    total += n.length;
  }
  if (total < opts.minChars) {
    return {
      code: 'too_short',
      message: `${source}: ${total} characters, the minimum is ${opts.minChars} (minRowChars)`,
    };
  }
  if (total > opts.maxChars) {
    return {
      code: 'too_long',
      message: `${source}: ${total} characters, the maximum is ${opts.maxChars} (maxRowChars)`,
    };
  }
  const text = schema === 'prompt_completion' ? `${out.prompt}\n${out.completion}` : out.text;
  return { fields: out as unknown as RowFields, canonical: canonicalContent(schema, out), text };
}

export function isProblem(x: CheckedRow | RowProblem): x is RowProblem {
  return (x as RowProblem).code !== undefined;
}
