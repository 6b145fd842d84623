// IEEE half conversions against properties that do not depend on how they are computed: every half
// survives a round trip, and float → half picks the nearest half (ties to the even one).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { f16BitsToF32, f32ToF16Bits, float32ToHalf, halfToFloat32 } from '../src/index.ts';
import { rng } from './helpers.ts';

test('known half values decode exactly', () => {
  assert.equal(f16BitsToF32(0x3c00), 1);
  assert.equal(f16BitsToF32(0xc000), -2);
  assert.equal(f16BitsToF32(0x0001), 2 ** -24);
  assert.equal(f16BitsToF32(0x0400), 2 ** -14);
  assert.equal(f16BitsToF32(0x7bff), 65504);
  assert.equal(f16BitsToF32(0x7c00), Number.POSITIVE_INFINITY);
  assert.equal(f16BitsToF32(0xfc00), Number.NEGATIVE_INFINITY);
  assert.ok(Number.isNaN(f16BitsToF32(0x7e00)));
  assert.ok(Object.is(f16BitsToF32(0x8000), -0));
});

test('every non-NaN half round-trips through float32, and the table decode equals the scalar one', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const wide = halfToFloat32(all);
  for (let h = 0; h < 65536; h++) {
    const v = f16BitsToF32(h);
    if (Number.isNaN(v)) {
      assert.ok(Number.isNaN(wide[h]));
      continue;
    }
    assert.ok(Object.is(wide[h], v), `0x${h.toString(16)}`);
    assert.equal(f32ToF16Bits(v), h, `0x${h.toString(16)}`);
  }
});

test('float32 → half is the nearest half, ties to even, overflow to infinity', () => {
  const r = rng(5);
  const values: number[] = [];
  for (let i = 0; i < 20000; i++) values.push(Math.fround(r() * 2 ** (Math.floor(r() * 40) - 26)));
  // exact midpoints between neighbouring halves
  for (const h of [0x0001, 0x3c00, 0x3c01, 0x0400, 0x7bfe])
    values.push((f16BitsToF32(h) + f16BitsToF32(h + 1)) / 2);
  const got = float32ToHalf(Float32Array.from(values));
  values.forEach((v, i) => {
    const h = got[i];
    const mag = h & 0x7fff;
    const err = Math.abs(f16BitsToF32(h) - v);
    // no neighbour of the chosen half is closer
    for (const n of [mag - 1, mag + 1]) {
      if (n < 0 || n > 0x7bff) continue;
      const other = Math.abs(f16BitsToF32((h & 0x8000) | n) - v);
      assert.ok(err < other || (err === other && (mag & 1) === 0), `${v} → 0x${h.toString(16)}`);
    }
  });
  assert.equal(f32ToF16Bits(65520), 0x7c00); // halfway past the largest half rounds to infinity
  assert.equal(f32ToF16Bits(-1e6), 0xfc00);
  assert.equal(f32ToF16Bits(2 ** -26), 0); // below half the smallest subnormal
});
