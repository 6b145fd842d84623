// IEEE half (F16) and bfloat16 conversions, round-to-nearest-even, NaN and Inf preserved. The half
// conversions live in @openledger/tensor, whose kernels read half-width LoRA matrices.
import { f16BitsToF32, f32ToF16Bits } from '@openledger/tensor';

export { f16BitsToF32, f32ToF16Bits };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToBf16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40; // quiet NaN
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** Decodes n little-endian F16 values starting at byte `off`. */
export function decodeF16(bytes: Uint8Array, off: number, n: number): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + off, n * 2);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f16BitsToF32(dv.getUint16(i * 2, true));
  return out;
}

export function decodeBf16(bytes: Uint8Array, off: number, n: number): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + off, n * 2);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = bf16BitsToF32(dv.getUint16(i * 2, true));
  return out;
}

export function decodeF32(bytes: Uint8Array, off: number, n: number): Float32Array {
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(bytes.subarray(off, off + n * 4));
  return out;
}

export function encodeF16(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setUint16(i * 2, f32ToF16Bits(data[i]), true);
  return out;
}

export function encodeBf16(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setUint16(i * 2, f32ToBf16Bits(data[i]), true);
  return out;
}

export function encodeF32(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}
