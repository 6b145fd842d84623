import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { RewardTree, verifyRewardProof } from '../src/index.ts';

function entries(n: number, seed: number): [string, bigint][] {
  const out: [string, bigint][] = [];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const addr = `0x${s.toString(16).padStart(8, '0')}${i.toString(16).padStart(32, '0')}`;
    out.push([addr, BigInt(s) * 10n ** 12n + BigInt(i)]);
  }
  return out;
}

test('RewardTree is byte-for-byte StandardMerkleTree(["address","uint256"])', () => {
  for (const n of [1, 2, 3, 4, 5, 7, 16, 33, 100]) {
    const values = entries(n, n * 7 + 1);
    const mine = RewardTree.of(values);
    const lib = StandardMerkleTree.of(
      values.map(([a, v]) => [a, v.toString()]),
      ['address', 'uint256'],
    );
    assert.equal(mine.root, lib.root, `root n=${n}`);
    assert.deepEqual(mine.dump(), lib.dump(), `dump n=${n}`);
    for (const [i, [a, v]] of values.entries()) {
      const proof = mine.proof(a);
      assert.deepEqual(proof, lib.getProof(i));
      assert.ok(verifyRewardProof(mine.root, a, v, proof));
      assert.ok(StandardMerkleTree.verify(lib.root, ['address', 'uint256'], [a, v.toString()], proof));
      assert.equal(verifyRewardProof(mine.root, a, v + 1n, proof), false);
    }
    // both directions of dump/load
    assert.equal(StandardMerkleTree.load(mine.dump() as never).root, mine.root);
    assert.equal(RewardTree.load(lib.dump() as never).root, mine.root);
    assert.equal(
      mine.total,
      values.reduce((s, [, v]) => s + v, 0n),
    );
  }
});

test('RewardTree refuses duplicates, empty input and a dump whose nodes do not match its values', () => {
  assert.throws(() => RewardTree.of([]), /at least one leaf/);
  const a = '0x00000000000000000000000000000000000000aa';
  assert.throws(
    () =>
      RewardTree.of([
        [a, 1n],
        [a.toUpperCase().replace('0X', '0x'), 2n],
      ]),
    /duplicate/,
  );
  const d = RewardTree.of(entries(5, 3)).dump();
  d.values[0].value[1] = (BigInt(d.values[0].value[1]) + 1n).toString();
  assert.throws(() => RewardTree.load(d), /not the tree/);
  assert.throws(() => RewardTree.of([['0x1234', 1n]]), /account/);
  assert.throws(() => RewardTree.of([[a, -1n]]), /amount/);
});
