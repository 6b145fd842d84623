// GGUF (llama.cpp's file format, version 3) reader and writer.
//   magic "GGUF", u32 version, u64 tensor_count, u64 kv_count, kv pairs, tensor infos, padding to
//   general.alignment (default 32), tensor data (each tensor at an aligned offset).
// Tensor dims are stored innermost first (ne[0] = row length), i.e. reversed PyTorch shape.
// Supported tensor types: F32, F16, BF16 and Q8_0 (blocks of 32: f16 scale + 32 int8), dequantised
// to Float32Array on read. Every read is bounds-checked: a truncated or corrupt file raises
// ModelFormatError naming what was being read.
import { ModelFormatError } from '../errors.ts';
import {
  decodeBf16,
  decodeF16,
  decodeF32,
  encodeF16,
  encodeF32,
  f16BitsToF32,
  f32ToF16Bits,
} from './half.ts';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian

export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
  BF16 = 30,
}

export type GgufScalar = number | bigint | boolean | string;
export type GgufValue =
  | { type: Exclude<GgufType, GgufType.ARRAY>; value: GgufScalar }
  | { type: GgufType.ARRAY; itemType: Exclude<GgufType, GgufType.ARRAY>; value: GgufScalar[] };

export interface GgufTensorInfo {
  name: string;
  /** ne order (innermost first). */
  dims: number[];
  type: GgmlType;
  /** Offset relative to the data section. */
  offset: number;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  dataOffset: number;
  bytes: Uint8Array;
}

const SCALAR_SIZE: Partial<Record<GgufType, number>> = {
  [GgufType.UINT8]: 1,
  [GgufType.INT8]: 1,
  [GgufType.UINT16]: 2,
  [GgufType.INT16]: 2,
  [GgufType.UINT32]: 4,
  [GgufType.INT32]: 4,
  [GgufType.FLOAT32]: 4,
  [GgufType.BOOL]: 1,
  [GgufType.UINT64]: 8,
  [GgufType.INT64]: 8,
  [GgufType.FLOAT64]: 8,
};

class Reader {
  pos = 0;
  private readonly dv: DataView;
  private readonly dec = new TextDecoder('utf-8', { fatal: false });
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, field: string): void {
    if (n < 0 || this.pos + n > this.bytes.length)
      throw new ModelFormatError(
        `${this.what}: truncated at byte ${this.pos} reading ${field} (needs ${n} bytes, ${this.bytes.length - this.pos} left)`,
      );
  }
  u8(f: string) {
    this.need(1, f);
    return this.dv.getUint8(this.pos++);
  }
  u32(f: string) {
    this.need(4, f);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(f: string): number {
    this.need(8, f);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new ModelFormatError(`${this.what}: ${f} = ${v} is out of range`);
    return Number(v);
  }
  str(f: string): string {
    const n = this.u64(`${f} length`);
    this.need(n, f);
    const s = this.dec.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  scalar(type: GgufType, f: string): GgufScalar {
    const size = SCALAR_SIZE[type];
    if (type === GgufType.STRING) return this.str(f);
    if (size === undefined) throw new ModelFormatError(`${this.what}: ${f} has unknown value type ${type}`);
    this.need(size, f);
    const p = this.pos;
    this.pos += size;
    switch (type) {
      case GgufType.UINT8:
        return this.dv.getUint8(p);
      case GgufType.INT8:
        return this.dv.getInt8(p);
      case GgufType.UINT16:
        return this.dv.getUint16(p, true);
      case GgufType.INT16:
        return this.dv.getInt16(p, true);
      case GgufType.UINT32:
        return this.dv.getUint32(p, true);
      case GgufType.INT32:
        return this.dv.getInt32(p, true);
      case GgufType.FLOAT32:
        return this.dv.getFloat32(p, true);
      case GgufType.BOOL:
        return this.dv.getUint8(p) !== 0;
      case GgufType.UINT64:
        return this.dv.getBigUint64(p, true);
      case GgufType.INT64:
        return this.dv.getBigInt64(p, true);
      default:
        return this.dv.getFloat64(p, true);
    }
  }
}

/** Parses the header and tensor table; tensor data is read lazily with ggufTensor. */
export function readGguf(bytes: Uint8Array, what = 'GGUF file'): GgufFile {
  const r = new Reader(bytes, what);
  if (bytes.length < 4 || r.u32('magic') !== GGUF_MAGIC)
    throw new ModelFormatError(`${what}: not a GGUF file (bad magic)`);
  const version = r.u32('version');
  if (version !== 2 && version !== 3)
    throw new ModelFormatError(`${what}: GGUF version ${version} is not supported (2, 3)`);
  const nTensors = r.u64('tensor_count');
  const nKv = r.u64('metadata_kv_count');
  if (nTensors > bytes.length / 24 || nKv > bytes.length / 12)
    throw new ModelFormatError(
      `${what}: header claims ${nTensors} tensors and ${nKv} metadata entries, more than the file can hold`,
    );
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = r.str(`metadata key #${i}`);
    const type = r.u32(`type of ${key}`) as GgufType;
    if (type === GgufType.ARRAY) {
      const itemType = r.u32(`array item type of ${key}`) as Exclude<GgufType, GgufType.ARRAY>;
      const n = r.u64(`array length of ${key}`);
      const minSize = itemType === GgufType.STRING ? 8 : (SCALAR_SIZE[itemType] ?? 1);
      r.need(n * minSize, `${key} (${n} items)`);
      const items: GgufScalar[] = new Array(n);
      for (let j = 0; j < n; j++) items[j] = r.scalar(itemType, `${key}[${j}]`);
      metadata.set(key, { type, itemType, value: items });
    } else {
      metadata.set(key, { type, value: r.scalar(type, key) } as GgufValue);
    }
  }
  const alignEntry = metadata.get('general.alignment');
  const alignment = alignEntry ? Number(alignEntry.value) : 32;
  if (
    !Number.isInteger(alignment) ||
    alignment < 1 ||
    alignment > 1 << 20 ||
    (alignment & (alignment - 1)) !== 0
  )
    throw new ModelFormatError(`${what}: general.alignment ${alignment} must be a power of two`);
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = r.str(`tensor name #${i}`);
    const nd = r.u32(`dims of ${name}`);
    if (nd < 1 || nd > 4) throw new ModelFormatError(`${what}: tensor ${name} has ${nd} dims (1..4)`);
    const dims: number[] = [];
    for (let d = 0; d < nd; d++) dims.push(r.u64(`dim ${d} of ${name}`));
    const type = r.u32(`type of ${name}`) as GgmlType;
    if (!(type in GgmlType))
      throw new ModelFormatError(
        `${what}: tensor ${name} has unsupported type ${type} (F32, F16, BF16, Q8_0)`,
      );
    const offset = r.u64(`offset of ${name}`);
    tensors.push({ name, dims, type, offset });
  }
  const dataOffset = Math.ceil(r.pos / alignment) * alignment;
  const dataLen = bytes.length - dataOffset;
  for (const t of tensors) {
    const size = tensorBytes(t.type, t.dims, `${what}: tensor ${t.name}`);
    if (t.offset % alignment !== 0)
      throw new ModelFormatError(
        `${what}: tensor ${t.name} offset ${t.offset} is not aligned to ${alignment}`,
      );
    if (t.offset + size > dataLen)
      throw new ModelFormatError(
        `${what}: tensor ${t.name} ends at byte ${dataOffset + t.offset + size}, file has ${bytes.length}: truncated`,
      );
  }
  return { version, metadata, tensors, alignment, dataOffset, bytes };
}

export function tensorBytes(type: GgmlType, dims: number[], what = 'tensor'): number {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (type) {
    case GgmlType.F32:
      return n * 4;
    case GgmlType.F16:
    case GgmlType.BF16:
      return n * 2;
    case GgmlType.Q8_0:
      if (dims[0] % 32 !== 0)
        throw new ModelFormatError(`${what}: Q8_0 needs a row length divisible by 32, got ${dims[0]}`);
      return (n / 32) * 34;
  }
  throw new ModelFormatError(`${what}: unsupported type ${type}`);
}

/** Dequantised values of a tensor (row-major, PyTorch order = reversed dims). */
export function ggufTensor(file: GgufFile, name: string): Float32Array {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) throw new ModelFormatError(`GGUF: missing tensor ${name}`);
  const n = t.dims.reduce((a, b) => a * b, 1);
  const off = file.dataOffset + t.offset;
  switch (t.type) {
    case GgmlType.F32:
      return decodeF32(file.bytes, off, n);
    case GgmlType.F16:
      return decodeF16(file.bytes, off, n);
    case GgmlType.BF16:
      return decodeBf16(file.bytes, off, n);
    case GgmlType.Q8_0: {
      const out = new Float32Array(n);
      const dv = new DataView(file.bytes.buffer, file.bytes.byteOffset + off, (n / 32) * 34);
      for (let blk = 0; blk < n / 32; blk++) {
        const d = f16BitsToF32(dv.getUint16(blk * 34, true));
        for (let j = 0; j < 32; j++) out[blk * 32 + j] = d * dv.getInt8(blk * 34 + 2 + j);
      }
      return out;
    }
  }
}

/** Q8_0 quantisation as ggml does it: d = max|x|/127, q = round(x/d). */
export function quantizeQ8_0(data: Float32Array): Uint8Array {
  if (data.length % 32 !== 0) throw new RangeError(`Q8_0 needs a multiple of 32 values, got ${data.length}`);
  const out = new Uint8Array((data.length / 32) * 34);
  const dv = new DataView(out.buffer);
  for (let blk = 0; blk < data.length / 32; blk++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(data[blk * 32 + j]));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    dv.setUint16(blk * 34, f32ToF16Bits(d), true);
    for (let j = 0; j < 32; j++) dv.setInt8(blk * 34 + 2 + j, Math.round(data[blk * 32 + j] * id));
  }
  return out;
}

export interface GgufTensorOut {
  name: string;
  /** ne order (innermost first). */
  dims: number[];
  type: GgmlType;
  data: Float32Array;
}

class Writer {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  pos = 0;
  private readonly enc = new TextEncoder();
  private grow(n: number) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
    this.dv = new DataView(nb.buffer);
  }
  u32(v: number) {
    this.grow(4);
    this.dv.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  u64(v: number | bigint) {
    this.grow(8);
    this.dv.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
  }
  bytes(b: Uint8Array) {
    this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  str(s: string) {
    const b = this.enc.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  scalar(type: GgufType, v: GgufScalar) {
    const size = SCALAR_SIZE[type] ?? 0;
    if (type === GgufType.STRING) return this.str(String(v));
    this.grow(size);
    const p = this.pos;
    this.pos += size;
    switch (type) {
      case GgufType.UINT8:
        return this.dv.setUint8(p, Number(v));
      case GgufType.INT8:
        return this.dv.setInt8(p, Number(v));
      case GgufType.UINT16:
        return this.dv.setUint16(p, Number(v), true);
      case GgufType.INT16:
        return this.dv.setInt16(p, Number(v), true);
      case GgufType.UINT32:
        return this.dv.setUint32(p, Number(v), true);
      case GgufType.INT32:
        return this.dv.setInt32(p, Number(v), true);
      case GgufType.FLOAT32:
        return this.dv.setFloat32(p, Number(v), true);
      case GgufType.BOOL:
        return this.dv.setUint8(p, v ? 1 : 0);
      case GgufType.UINT64:
        return this.dv.setBigUint64(p, BigInt(v), true);
      case GgufType.INT64:
        return this.dv.setBigInt64(p, BigInt(v), true);
      case GgufType.FLOAT64:
        return this.dv.setFloat64(p, Number(v), true);
    }
    throw new RangeError(`unknown GGUF value type ${type}`);
  }
  pad(alignment: number) {
    const n = (alignment - (this.pos % alignment)) % alignment;
    this.grow(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }
  result() {
    return this.buf.slice(0, this.pos);
  }
}

function encodeTensor(t: GgufTensorOut): Uint8Array {
  switch (t.type) {
    case GgmlType.F32:
      return encodeF32(t.data);
    case GgmlType.F16:
      return encodeF16(t.data);
    case GgmlType.Q8_0:
      return quantizeQ8_0(t.data);
    default:
      throw new RangeError(`writing GGML type ${t.type} is not supported (F32, F16, Q8_0)`);
  }
}

/** Serialises metadata and tensors (in the given order) to GGUF v3 bytes. */
export function writeGguf(
  metadata: Map<string, GgufValue> | [string, GgufValue][],
  tensors: GgufTensorOut[],
): Uint8Array {
  const entries = [...metadata];
  const alignEntry = entries.find(([k]) => k === 'general.alignment');
  const alignment = alignEntry ? Number(alignEntry[1].value) : 32;
  const w = new Writer();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  w.u64(entries.length);
  for (const [key, v] of entries) {
    w.str(key);
    w.u32(v.type);
    if (v.type === GgufType.ARRAY) {
      w.u32(v.itemType);
      w.u64(v.value.length);
      for (const item of v.value) w.scalar(v.itemType, item);
    } else w.scalar(v.type, v.value);
  }
  const blobs = tensors.map((t) => {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n !== t.data.length)
      throw new RangeError(
        `tensor ${t.name}: dims ${JSON.stringify(t.dims)} need ${n} values, got ${t.data.length}`,
      );
    return encodeTensor(t);
  });
  let off = 0;
  tensors.forEach((t, i) => {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(off);
    off += Math.ceil(blobs[i].length / alignment) * alignment;
  });
  w.pad(alignment);
  for (const b of blobs) {
    w.bytes(b);
    w.pad(alignment);
  }
  return w.result();
}

// Small constructors for metadata values.
export const gguf = {
  u32: (v: number): GgufValue => ({ type: GgufType.UINT32, value: v }),
  i32: (v: number): GgufValue => ({ type: GgufType.INT32, value: v }),
  f32: (v: number): GgufValue => ({ type: GgufType.FLOAT32, value: v }),
  bool: (v: boolean): GgufValue => ({ type: GgufType.BOOL, value: v }),
  str: (v: string): GgufValue => ({ type: GgufType.STRING, value: v }),
  strs: (v: string[]): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.STRING, value: v }),
  i32s: (v: number[]): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.INT32, value: v }),
  f32s: (v: number[]): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value: v }),
};

/** A metadata value as a JS number / string (throws naming the key when missing or mistyped). */
export function metaNumber(file: GgufFile, key: string, dflt?: number): number {
  const v = file.metadata.get(key);
  if (!v) {
    if (dflt !== undefined) return dflt;
    throw new ModelFormatError(`GGUF: missing metadata ${key}`);
  }
  if (v.type === GgufType.ARRAY || v.type === GgufType.STRING || v.type === GgufType.BOOL)
    throw new ModelFormatError(`GGUF: metadata ${key} must be a number`);
  const n = Number(v.value);
  if (v.type !== GgufType.FLOAT32) return n;
  // float32 metadata (rope.freq_base, rms eps): recover the short decimal it was written from
  const short = Number(n.toPrecision(7));
  return Math.fround(short) === n ? short : n;
}

export function metaString(file: GgufFile, key: string, dflt?: string): string {
  const v = file.metadata.get(key);
  if (!v) {
    if (dflt !== undefined) return dflt;
    throw new ModelFormatError(`GGUF: missing metadata ${key}`);
  }
  if (v.type !== GgufType.STRING) throw new ModelFormatError(`GGUF: metadata ${key} must be a string`);
  return v.value as string;
}

export function metaArray(file: GgufFile, key: string): GgufScalar[] | undefined {
  const v = file.metadata.get(key);
  if (!v) return undefined;
  if (v.type !== GgufType.ARRAY) throw new ModelFormatError(`GGUF: metadata ${key} must be an array`);
  return v.value;
}
