import { OpenLedgerError } from '@openledger/store';
import { parse as parseCsv } from 'csv-parse/sync';
import { type ChunkOptions, chunkText } from './chunk.ts';
import { decodeUtf8, looksBinary } from './text.ts';
import { type FileFormat, type RowProblem, SCHEMA_FIELDS, type Schema } from './types.ts';

export const ACCEPTED_EXTENSIONS: readonly FileFormat[] = ['txt', 'md', 'jsonl', 'csv', 'pdf'];

/** One row as parsed from a file, before checks: a raw record or an early problem. */
export interface RawRow {
  index: number;
  source: string;
  /** The record: an object for JSONL/CSV, `{ text }` for chunked text. */
  record: Record<string, unknown> | null;
  problem?: RowProblem;
}

export interface ParseOptions extends ChunkOptions {
  maxBytes: number;
}

function fileError(code: string, message: string, status = 422, details: Record<string, unknown> = {}) {
  return new OpenLedgerError(code, `file: ${message}`, status, { field: 'file', ...details });
}

export function formatOf(fileName: string): FileFormat {
  const m = /\.([A-Za-z0-9]+)$/.exec(fileName);
  const ext = (m?.[1] ?? '').toLowerCase() as FileFormat;
  if (!ACCEPTED_EXTENSIONS.includes(ext)) {
    throw fileError(
      'unsupported_file_type',
      `'${fileName}' has an unsupported type; accepted: ${ACCEPTED_EXTENSIONS.map((e) => `.${e}`).join(' ')}`,
      415,
    );
  }
  return ext;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const human = n >= 1024 * 1024 ? `${+(n / (1024 * 1024)).toFixed(2)} MB` : `${+(n / 1024).toFixed(1)} KB`;
  return `${n} bytes (${human})`;
}

/** Size, type and emptiness checks that need no parsing. Throws before anything is stored. */
export function checkFile(bytes: Uint8Array, fileName: string, maxBytes: number): FileFormat {
  const format = formatOf(fileName);
  if (bytes.length > maxBytes) {
    throw fileError(
      'file_too_large',
      `${formatBytes(bytes.length)} exceeds the limit of ${formatBytes(maxBytes)} per submission (maxSubmissionBytes)`,
      413,
      { limit: maxBytes, size: bytes.length },
    );
  }
  if (bytes.length === 0) throw fileError('empty_file', `'${fileName}' is empty`);
  if (format === 'pdf') {
    if (Buffer.from(bytes.subarray(0, 1024)).indexOf('%PDF-') === -1) {
      throw fileError('invalid_pdf', `'${fileName}' is not a PDF (no %PDF- header)`, 415);
    }
  } else if (looksBinary(bytes)) {
    throw fileError(
      'binary_file',
      `'${fileName}' contains binary data (NUL or control bytes), not .${format} text`,
      415,
    );
  }
  return format;
}

function requireTextSchema(schema: Schema, format: FileFormat): void {
  if (schema !== 'text') {
    throw fileError(
      'schema_mismatch',
      `a .${format} file yields {text} rows but this datanet's schema is ${schema} {${SCHEMA_FIELDS[schema].join(', ')}}; upload .jsonl or .csv`,
    );
  }
}

async function pdfText(bytes: Uint8Array, fileName: string): Promise<string> {
  const { extractText, getDocumentProxy } = await import('unpdf');
  try {
    const doc = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
    const { text } = await extractText(doc, { mergePages: false });
    await doc.cleanup();
    return (text as string[]).join('\n\n');
  } catch (e) {
    throw fileError('invalid_pdf', `'${fileName}' could not be read as PDF: ${(e as Error).message}`);
  }
}

function textRows(text: string, opts: ChunkOptions): RawRow[] {
  return chunkText(text.replace(/\r\n?/g, '\n'), opts).map((t, i) => ({
    index: i,
    source: `chunk ${i + 1}`,
    record: { text: t },
  }));
}

function jsonlRows(text: string): RawRow[] {
  const rows: RawRow[] = [];
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln].trim();
    if (!line) continue;
    const index = rows.length;
    const source = `line ${ln + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      rows.push({
        index,
        source,
        record: null,
        problem: { code: 'schema_mismatch', message: `${source}: invalid JSON (${(e as Error).message})` },
      });
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      rows.push({
        index,
        source,
        record: null,
        problem: { code: 'schema_mismatch', message: `${source}: expected a JSON object` },
      });
      continue;
    }
    rows.push({ index, source, record: v as Record<string, unknown> });
  }
  return rows;
}

function csvRows(text: string, schema: Schema): RawRow[] {
  let records: string[][];
  try {
    records = parseCsv(text, { relax_column_count: true, skip_empty_lines: true, bom: true }) as string[][];
  } catch (e) {
    throw fileError('invalid_csv', `CSV could not be parsed: ${(e as Error).message}`);
  }
  if (records.length === 0) throw fileError('empty_file', 'CSV has no header row');
  const header = records[0].map((h) => h.trim().toLowerCase());
  const fields = SCHEMA_FIELDS[schema];
  const missing = fields.filter((f) => !header.includes(f));
  const extra = header.filter((h) => !fields.includes(h));
  if (missing.length > 0 || extra.length > 0) {
    throw fileError(
      'schema_mismatch',
      `CSV header [${header.join(', ')}] does not match schema ${schema}: needs exactly the columns ${fields.join(', ')}` +
        (missing.length ? `; missing ${missing.join(', ')}` : '') +
        (extra.length ? `; unexpected ${extra.join(', ')}` : ''),
    );
  }
  const rows: RawRow[] = [];
  for (let r = 1; r < records.length; r++) {
    const rec = records[r];
    const index = r - 1;
    const source = `record ${r}`;
    if (rec.length !== header.length) {
      rows.push({
        index,
        source,
        record: null,
        problem: {
          code: 'schema_mismatch',
          message: `${source}: has ${rec.length} columns, the header has ${header.length}`,
        },
      });
      continue;
    }
    const obj: Record<string, unknown> = {};
    header.forEach((h, i) => {
      obj[h] = rec[i];
    });
    rows.push({ index, source, record: obj });
  }
  return rows;
}

/**
 * Turns an uploaded file into raw rows for the datanet's schema. File-level problems (type, size,
 * binary content, encoding, unreadable PDF/CSV, a header or format that cannot fit the schema)
 * throw an OpenLedgerError; row-level problems come back on the rows.
 */
export async function parseFile(
  bytes: Uint8Array,
  fileName: string,
  schema: Schema,
  opts: ParseOptions,
): Promise<{ format: FileFormat; rows: RawRow[] }> {
  const format = checkFile(bytes, fileName, opts.maxBytes);
  let rows: RawRow[];
  switch (format) {
    case 'txt':
    case 'md':
      requireTextSchema(schema, format);
      rows = textRows(decodeUtf8(bytes), opts);
      break;
    case 'pdf': {
      requireTextSchema(schema, format);
      const text = await pdfText(bytes, fileName);
      rows = textRows(text, opts);
      if (rows.length === 0) throw fileError('empty_file', `'${fileName}' has no extractable text`);
      break;
    }
    case 'jsonl':
      rows = jsonlRows(decodeUtf8(bytes));
      break;
    case 'csv':
      rows = csvRows(decodeUtf8(bytes), schema);
      break;
  }
  if (rows.length === 0) throw fileError('empty_file', `'${fileName}' contains no rows`);
  return { format, rows };
}
