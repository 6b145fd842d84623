// safetensors reader / writer: 8-byte little-endian header length, JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}, then raw
// little-endian tensor bytes. F32, F16 and BF16 are decoded to Float32Array.
import { ModelFormatError } from '../errors.ts';
import { decodeBf16, decodeF16, decodeF32, encodeBf16, encodeF16, encodeF32 } from './half.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface SafeTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

const MAX_HEADER = 100 * 1024 * 1024;

export function readSafetensors(bytes: Uint8Array, what = 'safetensors file'): SafetensorsFile {
  if (bytes.length < 8)
    throw new ModelFormatError(`${what}: truncated (${bytes.length} bytes, header length needs 8)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen > MAX_HEADER || headerLen + 8 > bytes.length)
    throw new ModelFormatError(
      `${what}: header length ${headerLen} exceeds the file (${bytes.length} bytes) or the ${MAX_HEADER}-byte limit`,
    );
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new ModelFormatError(`${what}: header is not valid JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header))
    throw new ModelFormatError(`${what}: header must be a JSON object`);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const info = raw as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    const dtype = info?.dtype as SafetensorsDtype;
    if (!(dtype in BYTES))
      throw new ModelFormatError(
        `${what}: tensor ${name} has unsupported dtype ${String(info?.dtype)} (F32, F16, BF16)`,
      );
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new ModelFormatError(`${what}: tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0))
      throw new ModelFormatError(`${what}: tensor ${name} has invalid data_offsets`);
    const [begin, end] = offs as [number, number];
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== n * BYTES[dtype])
      throw new ModelFormatError(
        `${what}: tensor ${name} spans ${end - begin} bytes, shape ${JSON.stringify(shape)} ${dtype} needs ${n * BYTES[dtype]}`,
      );
    if (end > dataLen)
      throw new ModelFormatError(
        `${what}: tensor ${name} ends at byte ${end} past the data (${dataLen} bytes): file truncated`,
      );
    const off = dataStart + begin;
    const data =
      dtype === 'F32'
        ? decodeF32(bytes, off, n)
        : dtype === 'F16'
          ? decodeF16(bytes, off, n)
          : decodeBf16(bytes, off, n);
    tensors.set(name, { name, dtype, shape: shape as number[], data });
  }
  return { tensors, metadata };
}

/** Writes tensors in the given order, each converted to its dtype. */
export function writeSafetensors(tensors: SafeTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let off = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length)
      throw new RangeError(
        `tensor ${t.name}: shape ${JSON.stringify(t.shape)} needs ${n} values, got ${t.data.length}`,
      );
    const enc =
      t.dtype === 'F32' ? encodeF32(t.data) : t.dtype === 'F16' ? encodeF16(t.data) : encodeBf16(t.data);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + enc.length] };
    chunks.push(enc);
    off += enc.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}
