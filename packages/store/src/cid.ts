// CIDv1 (raw codec 0x55, sha2-256 multihash 0x12) in multibase base32 ("b…"), the form IPFS uses for
// a raw block. A blob's canonical id here is its SHA-256 hex digest; the CID is the same digest in
// the self-describing form, so either can be used to look a blob up.

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const PREFIX = Uint8Array.from([0x01, 0x55, 0x12, 0x20]);
const HEX64 = /^[0-9a-f]{64}$/;

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Uint8Array | null {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return null;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return Uint8Array.from(out);
}

/** CIDv1 raw sha2-256 for a SHA-256 hex digest. */
export function cidFromSha256(hex: string): string {
  if (!HEX64.test(hex)) throw new TypeError('cidFromSha256: expected 64 lowercase hex characters');
  const bytes = new Uint8Array(36);
  bytes.set(PREFIX, 0);
  bytes.set(Buffer.from(hex, 'hex'), 4);
  return `b${base32(bytes)}`;
}

/** The SHA-256 hex digest inside a CIDv1 raw sha2-256, or null if `cid` is not one. */
export function sha256FromCid(cid: string): string | null {
  if (!cid.startsWith('b')) return null;
  const bytes = unbase32(cid.slice(1));
  if (bytes?.length !== 36) return null;
  for (let i = 0; i < 4; i++) if (bytes[i] !== PREFIX[i]) return null;
  return Buffer.from(bytes.subarray(4)).toString('hex');
}

/** Accepts a hex digest or a CID and returns the hex digest, or null. */
export function normalizeBlobId(id: string): string | null {
  const lower = id.toLowerCase();
  if (HEX64.test(lower)) return lower;
  return sha256FromCid(id);
}
