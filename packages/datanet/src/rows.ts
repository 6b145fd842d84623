import { hash } from 'node:crypto';
import { hasEncodingDamage, isPlainAscii, normalizeText } from './text.ts';
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

/**
 * Hashes row ids of one datanet: the preimage domain ‖ uint64 datanetId ‖ contentHash is kept in
 * one buffer whose last 32 bytes are overwritten per row (ingest computes one id per row).
 */
export class RowIdHasher {
  private readonly buf: Buffer;

  constructor(datanetId: number) {
    this.buf = Buffer.alloc(ROW_ID_DOMAIN.length + 8 + 32);
    ROW_ID_DOMAIN.copy(this.buf, 0);
    this.buf.writeBigUInt64BE(BigInt(datanetId), ROW_ID_DOMAIN.length);
  }

  /** The row id's 32 bytes for a 32-byte content hash. */
  digest(contentHash: Uint8Array): Buffer {
    this.buf.set(contentHash, ROW_ID_DOMAIN.length + 8);
    return hash('sha256', this.buf, 'buffer') as unknown as Buffer;
  }

  /** The row id as 64 hex digits for a content hash given as 64 hex digits (no Buffer per row). */
  digestHex(contentHashHex: string): string {
    this.buf.write(contentHashHex, ROW_ID_DOMAIN.length + 8, 32, 'hex');
    return hash('sha256', this.buf, 'hex');
  }
}

/** Stable row id: sha256(domain ‖ uint64 datanetId ‖ contentHash). Same content in a datanet, same id. */
export function rowIdOf(datanetId: number, contentHash: Hex32 | Uint8Array): Hex32 {
  const bytes = typeof contentHash === 'string' ? Buffer.from(contentHash.slice(2), 'hex') : contentHash;
  if (bytes.length !== 32) throw new TypeError('rowIdOf: contentHash must be 32 bytes');
  return `0x${new RowIdHasher(datanetId).digest(bytes).toString('hex')}` as Hex32;
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
  // (the common case, exactly the schema's keys, without the two filtered arrays)
  let exact = keys.length === fields.length;
  for (let i = 0; exact && i < fields.length; i++) exact = keys.includes(fields[i]);
  const extra = exact ? [] : keys.filter((k) => !fields.includes(k));
  const missing = exact ? [] : fields.filter((f) => !(f in record));
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
    const plain = isPlainAscii(v);
    const damage = plain ? null : hasEncodingDamage(v);
    if (damage) return { code: 'invalid_encoding', message: `${source}: field ${f} ${damage}` };
    const n = plain ? v.trim() : normalizeText(v);
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
  // `out` holds exactly the schema's fields in schema order: its JSON is canonicalContent's
  return { fields: out as unknown as RowFields, canonical: JSON.stringify(out), text };
}

export function isProblem(x: CheckedRow | RowProblem): x is RowProblem {
  return (x as RowProblem).code !== undefined;
}
