import { isAscii } from 'node:buffer';
import { OpenLedgerError } from '@openledger/store';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Offset of the first byte that breaks UTF-8, or -1 if the whole buffer is valid. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= n) return i;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * Decodes strict UTF-8 (a leading BOM is dropped) or throws naming the byte offset. All-ASCII
 * bytes (the common case, and valid UTF-8 without a BOM) are copied as Latin-1 instead: the same
 * characters, a one-byte string, several times quicker than the validating decoder.
 */
export function decodeUtf8(b: Uint8Array, field = 'file'): string {
  if (isAscii(b)) return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
  try {
    return decoder.decode(b);
  } catch {
    const at = firstInvalidUtf8(b);
    throw new OpenLedgerError(
      'invalid_encoding',
      `${field}: is not valid UTF-8 (first invalid byte at offset ${at}); text uploads must be UTF-8`,
      422,
      { field, offset: at },
    );
  }
}

/**
 * True when the bytes look like a binary file rather than text: any NUL byte, or more than 10% of
 * the first 8 KiB being control characters other than tab, newline, carriage return and form feed.
 */
export function looksBinary(b: Uint8Array): boolean {
  if (Buffer.from(b.buffer, b.byteOffset, b.length).indexOf(0) !== -1) return true;
  const n = Math.min(b.length, 8192);
  let ctrl = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i];
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13 && c !== 12) || c === 0x7f) ctrl++;
  }
  return n > 0 && ctrl / n > 0.1;
}

/**
 * True when `s` is printable ASCII plus tab, LF and form feed: then `hasEncodingDamage` is null
 * and `normalizeText` is just `trim` (no CR to convert, already NFC), so callers can skip their
 * regular-expression and ICU passes. One pass over the char codes, cheaper than any of those.
 */
export function isPlainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 ? c >= 0x7f : c !== 10 && c !== 9 && c !== 12) return false;
  }
  return true;
}

/** Newlines to LF, Unicode NFC, outer whitespace trimmed. */
export function normalizeText(s: string): string {
  return s.replace(/\r\n?/g, '\n').normalize('NFC').trim();
}

/** True when a decoded string carries signs of a broken encoding: U+FFFD, lone surrogates, NUL/C0 controls. */
export function hasEncodingDamage(s: string): string | null {
  if (s.includes('\uFFFD')) return 'contains U+FFFD replacement characters (text was mis-decoded)';
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s))
    return 'contains unpaired UTF-16 surrogates';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point
  if (/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(s)) return 'contains control characters';
  return null;
}
