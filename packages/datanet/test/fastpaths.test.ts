// The ingest and Merkle fast paths against the general code they shortcut (or an outside
// reference): the same results, not merely plausible ones.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { keccak_256 } from '@noble/hashes/sha3';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import fc from 'fast-check';
import { keccakBlockInto } from '../src/keccak.ts';
import { MerkleTree, rowLeafFromHexInto, rowLeafInto } from '../src/merkle.ts';
import { minhash, minhashInto, shingleHashes } from '../src/minhash.ts';
import { checkRecord, RowIdHasher, rowIdOf } from '../src/rows.ts';
import { hasEncodingDamage, isPlainAscii, normalizeText } from '../src/text.ts';

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
