import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeFee, exactWeights, largestRemainder, splitByWeights, splitNetFee } from '../src/index.ts';

// ---- an independent rational-arithmetic reference -----------------------------------------
function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
}
class Q {
  readonly n: bigint;
  readonly d: bigint;
  constructor(n: bigint, d = 1n) {
    if (d < 0n) [n, d] = [-n, -d];
    const g = gcd(n, d) || 1n;
    this.n = n / g;
    this.d = d / g;
  }
  add(o: Q) {
    return new Q(this.n * o.d + o.n * this.d, this.d * o.d);
  }
  mul(o: Q) {
    return new Q(this.n * o.n, this.d * o.d);
  }
  floor() {
    const q = this.n / this.d;
    return this.n < 0n && q * this.d !== this.n ? q - 1n : q;
  }
  ceil() {
    const f = this.floor();
    return f * this.d === this.n ? f : f + 1n;
  }
  frac() {
    return this.add(new Q(-this.floor()));
  }
  cmp(o: Q) {
    const l = this.n * o.d;
    const r = o.n * this.d;
    return l < r ? -1 : l > r ? 1 : 0;
  }
}

// deterministic PRNG
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const rand = rng(42);
const randBig = (bits: number) => {
  let x = 0n;
  for (let i = 0; i < bits; i += 16) x = (x << 16n) | BigInt(Math.floor(rand() * 65536));
  return x & ((1n << BigInt(bits)) - 1n);
};

test('fee = ceil(T_in·R_in/1000 + T_out·R_out/1000) + platform, against rational arithmetic', () => {
  for (let i = 0; i < 2000; i++) {
    const tIn = Math.floor(rand() * 100_000);
    const tOut = Math.floor(rand() * 10_000);
    const rIn = randBig(i % 3 === 0 ? 20 : 70);
    const rOut = randBig(i % 5 === 0 ? 10 : 70);
    const platform = randBig(60);
    const exact = new Q(BigInt(tIn)).mul(new Q(rIn, 1000n)).add(new Q(BigInt(tOut)).mul(new Q(rOut, 1000n)));
    const fee = computeFee(tIn, tOut, { pricePerKInput: rIn, pricePerKOutput: rOut }, platform);
    assert.equal(fee.usage, exact.ceil());
    assert.equal(fee.platform, platform);
    assert.equal(fee.total, exact.ceil() + platform);
    assert.ok(fee.usage - exact.floor() <= 1n);
  }
  // exact multiples are not rounded up
  assert.equal(computeFee(1000, 2000, { pricePerKInput: 7n, pricePerKOutput: 3n }, 0n).usage, 13n);
  assert.equal(computeFee(1, 0, { pricePerKInput: 1n, pricePerKOutput: 0n }, 0n).usage, 1n);
  assert.equal(computeFee(0, 0, { pricePerKInput: 1n, pricePerKOutput: 1n }, 5n).total, 5n);
});

test('fee input errors name the field', () => {
  const p = { pricePerKInput: 1n, pricePerKOutput: 1n };
  assert.throws(() => computeFee(-1, 0, p, 0n), /tokensIn/);
  assert.throws(() => computeFee(1.5, 0, p, 0n), /tokensIn/);
  assert.throws(() => computeFee(0, 0, { ...p, pricePerKOutput: -1n }, 0n), /pricePerKOutput/);
  assert.throws(() => computeFee(0, 0, p, -1n), /platformFee/);
});

test('net split equals the escrow rule (floor owner, floor stakers, remainder contributors)', () => {
  for (let i = 0; i < 2000; i++) {
    const o = Math.floor(rand() * 10_001);
    const s = Math.floor(rand() * (10_001 - o));
    const shares = { ownerBps: o, stakersBps: s, contributorsBps: 10_000 - o - s };
    const net = randBig(i % 2 ? 90 : 14);
    const r = splitNetFee(net, shares);
    assert.equal(r.owner, new Q(net * BigInt(o), 10_000n).floor());
    assert.equal(r.stakers, new Q(net * BigInt(s), 10_000n).floor());
    assert.equal(r.owner + r.stakers + r.contributors, net);
    assert.ok(r.contributors >= 0n);
  }
  assert.throws(() => splitNetFee(1n, { ownerBps: 5000, stakersBps: 5000, contributorsBps: 1 }), /10000/);
});

/** Reference: Hamilton's method with rational remainders, ties by key. */
function referenceApportion(amount: bigint, weights: bigint[], keys: string[]): bigint[] {
  const W = weights.reduce((a, b) => a + b, 0n);
  const quotas = weights.map((w) => new Q(amount * w, W));
  const parts = quotas.map((q) => q.floor());
  let left = amount - parts.reduce((a, b) => a + b, 0n);
  const idx = weights.map((_, i) => i).filter((i) => weights[i] > 0n);
  idx.sort((a, b) => -quotas[a].frac().cmp(quotas[b].frac()) || (keys[a] < keys[b] ? -1 : 1));
  for (const i of idx) {
    if (left === 0n) break;
    parts[i] += 1n;
    left -= 1n;
  }
  return parts;
}

test('largest remainder: sums exactly, equals the rational reference, deterministic under permutation', () => {
  for (let t = 0; t < 500; t++) {
    const n = 1 + Math.floor(rand() * 30);
    const weights = Array.from({ length: n }, () =>
      rand() < 0.15 ? 0n : randBig(1 + Math.floor(rand() * 60)),
    );
    if (t % 7 === 0) weights.fill(3n); // many ties
    const keys = Array.from({ length: n }, (_, i) => `k${String(i).padStart(3, '0')}`);
    const amount = randBig(1 + Math.floor(rand() * 80));
    const W = weights.reduce((a, b) => a + b, 0n);
    const parts = largestRemainder(amount, weights, keys);
    if (W === 0n) {
      assert.ok(parts.every((p) => p === 0n));
      continue;
    }
    assert.equal(
      parts.reduce((a, b) => a + b, 0n),
      amount,
    );
    assert.deepEqual(parts, referenceApportion(amount, weights, keys));
    parts.forEach((p, i) => {
      const q = new Q(amount * weights[i], W);
      assert.ok(p === q.floor() || p === q.floor() + 1n);
      if (weights[i] === 0n) assert.equal(p, 0n);
    });
    // permuting the input permutes the output (ties broken by key, not position)
    const perm = keys.map((_, i) => i).reverse();
    const parts2 = largestRemainder(
      amount,
      perm.map((i) => weights[i]),
      perm.map((i) => keys[i]),
    );
    assert.deepEqual(
      perm.map((_, j) => parts2[perm.indexOf(j)]),
      parts,
    );
  }
});

test('exact weights keep the proportions of doubles bit for bit', () => {
  assert.deepEqual(exactWeights([0.375, 0.5, -1, 0, Number.NaN]), [3n, 4n, 0n, 0n, 0n]);
  const [a, b] = exactWeights([1e-300, 1]);
  // 1 becomes a power of two 2^K and 1e-300 becomes 1e-300·2^K exactly
  const K = b.toString(2).length - 1;
  assert.equal(b, 1n << BigInt(K));
  assert.equal(Number(a) * 2 ** -(K - 100) * 2 ** -100, 1e-300);
  for (let i = 0; i < 200; i++) {
    const x = rand() * 10 ** Math.floor(rand() * 10 - 5);
    const y = rand() * 10 ** Math.floor(rand() * 10 - 5);
    const [wx, wy] = exactWeights([x, y]);
    // wx / wy must be exactly x / y: wx·y == wy·x in exact arithmetic ⇔ x == wx·2^k, y == wy·2^k
    const shift = Math.log2(x / Number(wx));
    assert.equal(Number(wx) * 2 ** shift, x);
    assert.equal(Number(wy) * 2 ** shift, y);
  }
});

test('receipt split: positive influence only, same contributor summed, parts sum exactly', () => {
  const A = '0x00000000000000000000000000000000000000AA';
  const B = '0x00000000000000000000000000000000000000bb';
  const C = '0x00000000000000000000000000000000000000cc';
  const m = splitByWeights(1000n, [
    { contributor: A, weight: 0.5 },
    { contributor: B, weight: 0.25 },
    { contributor: C, weight: -0.7 },
    { contributor: A.toLowerCase(), weight: 0.25 },
  ]);
  assert.deepEqual(
    [...m.entries()],
    [
      [A.toLowerCase(), 750n],
      [B, 250n],
    ],
  );
  // a negative entry offsets a positive one of the same contributor
  const m2 = splitByWeights(10n, [
    { contributor: A, weight: 0.5 },
    { contributor: A, weight: -0.5 },
    { contributor: B, weight: 1e-9 },
  ]);
  assert.deepEqual([...m2.entries()], [[B, 10n]]);
  assert.equal(splitByWeights(10n, [{ contributor: A, weight: -1 }]).size, 0);
  for (let t = 0; t < 200; t++) {
    const ws = Array.from({ length: 1 + Math.floor(rand() * 20) }, (_, i) => ({
      contributor: `0x${(i % 7).toString(16).padStart(40, '0')}`,
      weight: rand() - 0.3,
    }));
    const amount = randBig(64);
    const out = splitByWeights(amount, ws);
    const sum = [...out.values()].reduce((a, b) => a + b, 0n);
    assert.ok(out.size === 0 ? sum === 0n : sum === amount);
  }
});
