import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { keccak_256 } from '@noble/hashes/sha3';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import fc from 'fast-check';
import {
  type Address,
  bytesToHex,
  type Hex32,
  hexToBytes,
  keccakShort,
  MerkleTree,
  processProof,
  rowLeaf,
  rowLeafInto,
  rowsRoot,
  verifyProof,
  verifyRowProof,
} from '../src/index.ts';

const TYPES = ['bytes32', 'bytes32', 'address'];
const hex32 = (): Hex32 => `0x${randomBytes(32).toString('hex')}` as Hex32;
const addr = (): Address => `0x${randomBytes(20).toString('hex')}` as Address;

function randomRows(n: number) {
  return Array.from({ length: n }, () => ({ rowId: hex32(), contentHash: hex32(), contributor: addr() }));
}

function packLeaves(rows: { rowId: Hex32; contentHash: Hex32; contributor: Address }[]): Uint8Array {
  const out = new Uint8Array(rows.length * 32);
  rows.forEach((r, i) => {
    rowLeafInto(hexToBytes(r.rowId), hexToBytes(r.contentHash), hexToBytes(r.contributor), out, i * 32);
  });
  return out;
}

describe('keccak', () => {
  it('matches @noble/hashes keccak_256 for every single-block length 0..135', () => {
    for (let n = 0; n < 136; n++) {
      const a = randomBytes(n);
      assert.equal(bytesToHex(keccakShort(a)), bytesToHex(keccak_256(a)), `length ${n}`);
    }
    assert.equal(
      bytesToHex(keccakShort(new Uint8Array(0))),
      '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
    );
  });

  it('refuses inputs longer than one block', () => {
    assert.throws(() => keccakShort(new Uint8Array(136)), /exceeds one block/);
  });
});

describe('Merkle tree vs @openzeppelin/merkle-tree StandardMerkleTree', () => {
  it('computes the same leaves, root and proofs for 1..40 rows', () => {
    for (let n = 1; n <= 40; n++) {
      const rows = randomRows(n);
      const oz = StandardMerkleTree.of(
        rows.map((r) => [r.rowId, r.contentHash, r.contributor]),
        TYPES,
      );
      const ours = MerkleTree.fromLeaves(packLeaves(rows));
      assert.equal(ours.root, oz.root, `root for ${n} rows`);
      assert.equal(rowsRoot(rows), oz.root);
      for (let i = 0; i < n; i++) {
        const leaf = rowLeaf(rows[i].rowId, rows[i].contentHash, rows[i].contributor);
        assert.equal(leaf, oz.leafHash([rows[i].rowId, rows[i].contentHash, rows[i].contributor]));
        const k = ours.indexOf(leaf);
        assert.ok(k >= 0);
        assert.deepEqual(ours.proof(k), oz.getProof(i), `proof ${i} of ${n}`);
        assert.ok(verifyProof(ours.root, leaf, ours.proof(k)));
        assert.ok(
          StandardMerkleTree.verify(
            oz.root,
            TYPES,
            [rows[i].rowId, rows[i].contentHash, rows[i].contributor],
            ours.proof(k),
          ),
        );
      }
    }
  });

  it('sorts leaves whose first 4 bytes collide correctly', () => {
    const rows = randomRows(12);
    const leaves = packLeaves(rows);
    // force equal 32-bit prefixes on half the leaves
    for (let i = 0; i < 12; i += 2) leaves.set([1, 2, 3, 4], i * 32);
    const oz = StandardMerkleTree.of(
      Array.from({ length: 12 }, (_, i) => [bytesToHex(leaves.subarray(i * 32, i * 32 + 32))]),
      ['bytes32'],
      { sortLeaves: true },
    );
    // compare sorted order with a plain comparator sort
    const ours = MerkleTree.fromLeaves(leaves);
    const expected = Array.from({ length: 12 }, (_, i) =>
      bytesToHex(leaves.subarray(i * 32, i * 32 + 32)),
    ).sort();
    assert.deepEqual(
      Array.from({ length: 12 }, (_, k) => ours.leafAt(k)),
      expected,
    );
    assert.equal(oz.length, 12);
  });

  it('a single row tree has the leaf as root and an empty proof', () => {
    const rows = randomRows(1);
    const t = MerkleTree.fromLeaves(packLeaves(rows));
    assert.equal(t.root, rowLeaf(rows[0].rowId, rows[0].contentHash, rows[0].contributor));
    assert.deepEqual(t.proof(0), []);
    assert.throws(() => MerkleTree.fromLeaves(new Uint8Array(0)), /at least one/);
  });
});

describe('proof properties (fast-check)', () => {
  const rowArb = fc.record({
    rowId: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b)),
    contentHash: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b)),
    contributor: fc
      .uint8Array({ minLength: 20, maxLength: 20 })
      .map((b) => bytesToHex(b) as unknown as Address),
  });
  const setArb = fc.uniqueArray(rowArb, { minLength: 1, maxLength: 200, selector: (r) => r.rowId });

  it('every row of a random set has a proof that verifies against the root', () => {
    fc.assert(
      fc.property(setArb, (rows) => {
        const t = MerkleTree.fromLeaves(packLeaves(rows));
        for (const r of rows) {
          const leaf = rowLeaf(r.rowId, r.contentHash, r.contributor);
          const k = t.indexOf(leaf);
          if (k < 0 || !verifyProof(t.root, leaf, t.proof(k))) return false;
        }
        return true;
      }),
      { numRuns: 60 },
    );
  });

  it('a tampered row (id, content hash, contributor) or proof element fails', () => {
    fc.assert(
      fc.property(
        setArb,
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 255 }),
        (rows, pick, what, bit) => {
          const t = MerkleTree.fromLeaves(packLeaves(rows));
          const r = rows[pick % rows.length];
          const leaf = rowLeaf(r.rowId, r.contentHash, r.contributor);
          const proof = t.proof(t.indexOf(leaf));
          const flip = (h: string, len: number): `0x${string}` => {
            const b = hexToBytes(h);
            b[bit % len] ^= 1 << (bit % 8);
            return bytesToHex(b);
          };
          const p = {
            datanetId: 1,
            version: 1,
            root: t.root,
            rowId: r.rowId,
            contentHash: r.contentHash,
            contributor: r.contributor,
            leaf,
            proof,
          };
          if (!verifyRowProof(p)) return false;
          let tampered: typeof p;
          if (what === 0) tampered = { ...p, rowId: flip(r.rowId, 32) };
          else if (what === 1) tampered = { ...p, contentHash: flip(r.contentHash, 32) };
          else if (what === 2) tampered = { ...p, contributor: flip(r.contributor, 20) as Address };
          else {
            if (proof.length === 0) return true;
            const j = bit % proof.length;
            tampered = { ...p, proof: proof.map((x, i) => (i === j ? flip(x, 32) : x)) };
          }
          // the leaf is recomputed from the (tampered) fields, so the proof must fail
          return (
            !verifyRowProof(tampered) &&
            !verifyProof(
              t.root,
              rowLeaf(tampered.rowId, tampered.contentHash, tampered.contributor),
              tampered.proof,
            )
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it('processProof agrees with StandardMerkleTree.verify on random sets', () => {
    fc.assert(
      fc.property(setArb, (rows) => {
        const oz = StandardMerkleTree.of(
          rows.map((r) => [r.rowId, r.contentHash, r.contributor]),
          TYPES,
        );
        const i = rows.length - 1;
        const leaf = rowLeaf(rows[i].rowId, rows[i].contentHash, rows[i].contributor);
        return processProof(leaf, oz.getProof(i) as Hex32[]) === oz.root;
      }),
      { numRuns: 30 },
    );
  });
});
