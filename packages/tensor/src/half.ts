// IEEE-754 half precision (binary16) ⇄ float32. Serving holds LoRA matrices at half width: a decode
// step with many adapters is bound by the bytes of adapter weights it reads, and half of them is
// half the time. Rounding is to nearest, ties to even; NaN and ±Inf are preserved.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToF16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is correct rounding
  return sign | h;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let table: Float32Array | undefined;

/** Every half value as a float32 (256 KiB, built on first use). */
function halfTable(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16BitsToF32(h);
  }
  return table;
}

/** Half bits → float32 values (exact: every half is a float32). */
export function halfToFloat32(
  src: Uint16Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  const t = halfTable();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]];
  return out;
}

/**
 * float32 → half bits, rounded to nearest even (values beyond ±65504 become ±Inf). Values in half's
 * normal range (nearly all weights) are converted inline from the float's bits, read as int32 (a
 * uint32 view would hand V8 doubles for negative weights).
 */
export function float32ToHalf(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const bits = new Int32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i];
    const e = (x >>> 23) & 0xff;
    if (e > 112 && e < 143) {
      // half exponent e − 112 in 1..30; a carry out of the mantissa is correct rounding
      const m = x & 0x7fffff;
      let h = ((x >>> 16) & 0x8000) | ((e - 112) << 10) | (m >>> 13);
      const rem = m & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
      out[i] = h;
    } else out[i] = f32ToF16Bits(src[i]);
  }
  return out;
}

/** A LoRA matrix as float32 values, decoding half bits (the reference and BLAS-backed backends). */
export function loraMatrixF32(m: Float32Array | Uint16Array): Float32Array {
  return m instanceof Uint16Array ? halfToFloat32(m) : m;
}
