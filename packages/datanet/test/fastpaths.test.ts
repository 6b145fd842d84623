// The ingest and Merkle fast paths against the general code they shortcut (or an outside
// reference): the same results, not merely plausible ones.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { keccak_256 } from '@noble/hashes/sha3';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import fc from 'fast-check';
import { RowIdFilter } from '../src/idfilter.ts';
import { keccakBlockInto } from '../src/keccak.ts';
import { LshIndex } from '../src/lsh.ts';
import { MerkleTree, rowLeafFromHexInto, rowLeafInto } from '../src/merkle.ts';
import { MINHASH_KERNEL, minhash, minhashInto, shingleHashes } from '../src/minhash.ts';
import { KERNEL_MAX_SHINGLES } from '../src/minhashkernel.ts';
import { computeRowChecks, packRecords, type RowCheckJob } from '../src/rowchecks.ts';
import { checkRecord, RowIdHasher, rowIdOf } from '../src/rows.ts';
import { decodeUtf8, hasEncodingDamage, isPlainAscii, normalizeText } from '../src/text.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('keccak over WebAssembly', () => {
  it('matches @noble/hashes when message lengths change from call to call (padding is cached per length)', () => {
    const out = new Uint8Array(32);
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 135 }), { minLength: 1, maxLength: 20 }),
        (msgs) => {
          for (const m of msgs) {
            keccakBlockInto(m, 0, m.length, out, 0);
            assert.equal(hex(out), hex(keccak_256(m)));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('hashes a slice of a larger buffer into an offset of another', () => {
    const src = randomBytes(300);
    const out = new Uint8Array(100);
    keccakBlockInto(src, 17, 64, out, 40);
    assert.equal(hex(out.subarray(40, 72)), hex(keccak_256(src.subarray(17, 81))));
    assert.equal(hex(out.subarray(0, 40)), '00'.repeat(40));
  });
});

describe('Merkle leaves and trees', () => {
  it('rowLeafFromHexInto equals rowLeafInto and StandardMerkleTree.leafHash, between other hashes', () => {
    for (let i = 0; i < 50; i++) {
      const id = randomBytes(32);
      const ch = randomBytes(32);
      const who = randomBytes(20);
      const a = new Uint8Array(32);
      const b = new Uint8Array(64);
      keccakBlockInto(randomBytes(64), 0, 64, new Uint8Array(32), 0); // another length in between
      rowLeafInto(id, ch, who, a, 0);
      rowLeafFromHexInto(hex(id), hex(ch), hex(who), b, 32);
      assert.equal(hex(b.subarray(32)), hex(a));
      const oz = StandardMerkleTree.of(
        [[`0x${hex(id)}`, `0x${hex(ch)}`, `0x${hex(who)}`]],
        ['bytes32', 'bytes32', 'address'],
      );
      assert.equal(`0x${hex(a)}`, oz.root);
    }
    assert.throws(() => rowLeafFromHexInto('ab', 'cd', 'ef', new Uint8Array(32)), /64, 64 and 40 hex digits/);
  });

  it('builds the same root as StandardMerkleTree over 3,001 rows', () => {
    const n = 3001;
    const values: string[][] = [];
    const leaves = new Uint8Array(n * 32);
    for (let i = 0; i < n; i++) {
      const id = randomBytes(32);
      const ch = randomBytes(32);
      const who = randomBytes(20);
      values.push([`0x${hex(id)}`, `0x${hex(ch)}`, `0x${hex(who)}`]);
      rowLeafInto(id, ch, who, leaves, i * 32);
    }
    const oz = StandardMerkleTree.of(values, ['bytes32', 'bytes32', 'address']);
    const ours = MerkleTree.fromLeaves(leaves);
    assert.equal(ours.root, oz.root);
    // and from leaves at an unaligned offset of a larger buffer (as read back from a blob)
    const shifted = new Uint8Array(n * 32 + 3);
    shifted.set(leaves, 3);
    assert.equal(MerkleTree.fromLeaves(shifted.subarray(3)).root, oz.root);
  });
});

describe('MinHash fast path', () => {
  const asciiText = fc.string({
    unit: fc.constantFrom(
      ...'abcXYZ019 ,.;:!?-\'"()[]\n\t\f_~`@#'.split(''),
      'Word',
      'ALPHA',
      'beta7',
      'Ünï',
      'ß',
    ),
    maxLength: 400,
  });

  it('ASCII shingles equal the Unicode-regex shingles, and non-ASCII text takes the regex path', () => {
    fc.assert(
      fc.property(asciiText, (t) => {
        assert.deepEqual(shingleHashes(t), shingleHashes(t, true));
      }),
      { numRuns: 500 },
    );
  });

  it('minhashInto writes the signature minhash returns, at an offset', () => {
    const big = new Int32Array(64 * 3);
    fc.assert(
      fc.property(asciiText, (t) => {
        const sig = minhash(t);
        const wrote = minhashInto(t, big, 64);
        assert.equal(wrote, sig !== null);
        if (sig) assert.deepEqual(big.subarray(64, 128), sig);
      }),
      { numRuns: 300 },
    );
  });
});

describe('MinHash WebAssembly SIMD kernel', () => {
  const words = fc.array(fc.constantFrom('alpha', 'Beta', 'gamma9', 'x', 'ÿes', 'über', '42', 'delta'), {
    maxLength: 300,
  });

  it('runs here (Node has WebAssembly SIMD) and gives the JavaScript loop signature, bit for bit', () => {
    assert.ok(MINHASH_KERNEL, 'the kernel is in use');
    const a = new Int32Array(64);
    const b = new Int32Array(64);
    fc.assert(
      fc.property(words, fc.constantFrom(' ', ', ', '\n'), (w, sep) => {
        const t = w.join(sep);
        const x = minhashInto(t, a, 0);
        const y = minhashInto(t, b, 0, true);
        assert.equal(x, y);
        if (x) assert.deepEqual(a, b);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps the signatures of before (stored ones stay comparable)', () => {
    // sha256 of the signatures these texts had before the kernel (the JavaScript-only version)
    const texts = [
      'The quick brown fox jumps over the lazy dog.',
      'a b',
      'Ünïcode wörds and ASCII words, mixed: 42 times!',
      'one two three four five six seven eight nine ten '.repeat(50),
    ];
    const h = createHash('sha256');
    for (const t of texts) h.update(Buffer.from((minhash(t) as Int32Array).buffer));
    assert.equal(h.digest('hex'), '404e6d2e541bd78038d3adeb3c56dbbab716a369eaf63649651c47cd1ce7ae7a');
  });

  it('falls back to the JavaScript loop for more shingles than the kernel holds, with the same result', () => {
    const n = KERNEL_MAX_SHINGLES + 50;
    const t = Array.from({ length: n + 2 }, (_, i) => `w${i.toString(36)}`).join(' ');
    const a = new Int32Array(64);
    const b = new Int32Array(64);
    assert.equal(shingleHashes(t).length, n);
    assert.ok(minhashInto(t, a, 0));
    assert.ok(minhashInto(t, b, 0, true));
    assert.deepEqual(a, b);
    // and the kernel is used again afterwards
    const short = 'after the long one comes a short text';
    minhashInto(short, a, 0);
    minhashInto(short, b, 0, true);
    assert.deepEqual(a, b);
  });
});

describe('LSH index and row-id filter', () => {
  it('LshIndex returns every ref added under a key, across growth, and nothing for absent keys', () => {
    const idx = new LshIndex(4);
    const ref = new Map<number, Set<number>>();
    let x = 7;
    const next = () => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x;
    };
    const keys: number[] = [];
    for (let i = 0; i < 5000; i++) {
      // band in the high bits, as bandKeys makes them; some keys repeat with other refs
      const key =
        i % 3 === 0 && keys.length > 0 ? keys[next() % keys.length] : (i % 16) * 4294967296 + next();
      keys.push(key);
      const r = next() % 100000;
      idx.add(key, r);
      if (!ref.has(key)) ref.set(key, new Set());
      ref.get(key)?.add(r);
    }
    for (const [key, refs] of ref) {
      const out: number[] = [];
      idx.collect(key, out);
      for (const r of refs) assert.ok(out.includes(r));
    }
    let extra = 0;
    for (let i = 0; i < 2000; i++) {
      const out: number[] = [];
      idx.collect(15 * 4294967296 + next(), out);
      extra += out.length;
    }
    assert.ok(extra <= 2, 'absent keys find (almost) nothing: a folded-key collision is only a candidate');
  });

  it('RowIdFilter has no false negatives and few false positives', () => {
    const f = new RowIdFilter();
    const ids = Array.from({ length: 3000 }, () => `0x${randomBytes(32).toString('hex')}`);
    for (const id of ids) f.add(id);
    for (const id of ids) assert.ok(f.mayContain(id));
    let hits = 0;
    for (let i = 0; i < 3000; i++) if (f.mayContain(`0x${randomBytes(32).toString('hex')}`)) hits++;
    assert.ok(hits <= 3, `${hits} false positives`);
  });
});

describe('packed records for the check workers', () => {
  it('computeRowChecks of a packed job equals that of the records (ASCII, non-ASCII, lone surrogates, odd records)', () => {
    const value = fc.string({
      unit: fc.constantFrom(
        ...'ab Z9.\t\n\r'.split(''),
        'é',
        'e\u0301',
        '\uD800',
        '\uDC00',
        '😀',
        'word ',
        '\uFFFD',
      ),
      maxLength: 80,
    });
    const record = fc.oneof(
      value.map((text) => ({ text }) as Record<string, unknown>),
      fc.record({ text: value, extra: value }) as fc.Arbitrary<Record<string, unknown>>,
      fc.constant({ text: 5 } as Record<string, unknown>),
      fc.constant({} as Record<string, unknown>),
      fc.constant(null),
    );
    fc.assert(
      fc.property(fc.array(fc.array(record, { maxLength: 12 }), { minLength: 1, maxLength: 4 }), (slices) => {
        const packed = packRecords('text', slices, (n) => new Uint8Array(new SharedArrayBuffer(n + 7), 3, n));
        slices.forEach((records, k) => {
          const base = {
            datanetId: 3,
            schema: 'text' as const,
            contributorHex: '11'.repeat(20),
            opts: { minChars: 2, maxChars: 60 },
          };
          const a = computeRowChecks({ ...base, records } as RowCheckJob);
          const b = computeRowChecks({ ...base, packed: packed[k] } as RowCheckJob);
          assert.deepEqual(b, a);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('packs prompt_completion records field by field', () => {
    const records = [
      { prompt: 'What is two plus two?', completion: 'Four, écrit « quatre ».' },
      { prompt: 'p', completion: 'c', label: 'x' },
      { completion: 'order does not matter here', prompt: 'and this is the prompt' },
    ];
    const [p] = packRecords('prompt_completion', [records], (n) => new Uint8Array(new SharedArrayBuffer(n)));
    const base = { datanetId: 9, schema: 'prompt_completion' as const, contributorHex: 'ab'.repeat(20) };
    const opts = { minChars: 2, maxChars: 1000 };
    assert.deepEqual(
      computeRowChecks({ ...base, opts, packed: p }),
      computeRowChecks({ ...base, opts, records }),
    );
  });
});

describe('UTF-8 decoding', () => {
  it('decodes ASCII (the Latin-1 copy) and other text like the strict TextDecoder, BOM dropped', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.boolean(), (t, bom) => {
        const bytes = Buffer.concat([
          bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0),
          Buffer.from(t),
        ]);
        if (/[\uD800-\uDFFF]/.test(t)) return; // lone surrogates do not survive Buffer.from
        assert.equal(decodeUtf8(bytes), strict.decode(bytes));
      }),
      { numRuns: 500 },
    );
    assert.throws(() => decodeUtf8(Buffer.from([0x61, 0xff])), /offset 1/);
  });
});

describe('row checks fast path', () => {
  it('isPlainAscii strings need neither the damage check nor NFC/CR normalisation', () => {
    const chars = fc.constantFrom(...'ab Z9.\t\n\f\r\u0000\u0001\u007f\u00e9\u0301\uFFFD\uD800'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 60 }), (s) => {
        if (isPlainAscii(s)) {
          assert.equal(hasEncodingDamage(s), null);
          assert.equal(normalizeText(s), s.trim());
        }
        const r = checkRecord('text', { text: s }, 'l', { minChars: 1, maxChars: 1000 });
        const damage = hasEncodingDamage(s);
        if (damage) assert.equal((r as { code: string }).code, 'invalid_encoding');
        else if (normalizeText(s).length > 0)
          assert.equal((r as { fields: { text: string } }).fields.text, normalizeText(s));
      }),
      { numRuns: 1000 },
    );
  });

  it('RowIdHasher (bytes and hex) and rowIdOf give sha256(domain ‖ uint64 id ‖ contentHash)', () => {
    for (const id of [1, 2, 77, 2 ** 40]) {
      const h = new RowIdHasher(id);
      const be = Buffer.alloc(8);
      be.writeBigUInt64BE(BigInt(id));
      for (let i = 0; i < 5; i++) {
        const ch = randomBytes(32);
        const expected = `0x${createHash('sha256').update('openledger/datanet-row/v1').update(be).update(ch).digest('hex')}`;
        assert.equal(rowIdOf(id, `0x${hex(ch)}`), expected);
        assert.equal(`0x${h.digestHex(hex(ch))}`, expected);
        assert.equal(`0x${hex(h.digest(ch))}`, expected);
      }
    }
  });
});
