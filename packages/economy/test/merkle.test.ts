import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { REWARD_LEAF_ENCODING, RewardTree, rewardLeafHash, verifyRewardProof } from '../src/index.ts';

const ENCODING = ['uint256', 'address', 'uint256'];

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

/** The reference: leaves sorted by account, index = position, built by the library itself. */
function libraryTree(values: [string, bigint][]) {
  const sorted = values
    .map(([a, v]) => [a.toLowerCase(), v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    sorted,
    lib: StandardMerkleTree.of(
      sorted.map(([a, v], i) => [i.toString(), a, v.toString()]),
      ENCODING,
    ),
  };
}

test('RewardTree is byte-for-byte StandardMerkleTree(["uint256","address","uint256"]) of [index, account, amount]', () => {
  assert.deepEqual([...REWARD_LEAF_ENCODING], ENCODING);
  for (const n of [1, 2, 3, 4, 5, 7, 16, 33, 100]) {
    const values = entries(n, n * 7 + 1);
    const mine = RewardTree.of(values);
    const { sorted, lib } = libraryTree(values);
    assert.equal(mine.root, lib.root, `root n=${n}`);
    assert.deepEqual(mine.dump(), lib.dump(), `dump n=${n}`);
    for (const [i, [a, v]] of sorted.entries()) {
      const p = mine.proof(a);
      assert.equal(p.index, i, 'index = position in the list sorted by account');
      assert.equal(mine.indexOf(a), i);
      assert.equal(p.amount, v);
      assert.deepEqual(p.proof, lib.getProof(i));
      assert.ok(verifyRewardProof(mine.root, i, a, v, p.proof));
      assert.ok(StandardMerkleTree.verify(lib.root, ENCODING, [i.toString(), a, v.toString()], p.proof));
      assert.equal(verifyRewardProof(mine.root, i, a, v + 1n, p.proof), false);
      if (n > 1) assert.equal(verifyRewardProof(mine.root, (i + 1) % n, a, v, p.proof), false);
    }
    assert.deepEqual(
      [...mine.values()].map((e) => [e.index, e.account, e.amount]),
      sorted.map(([a, v], i) => [i, a, v]),
    );
    // both directions of dump/load
    assert.equal(StandardMerkleTree.load(mine.dump() as never).root, mine.root);
    assert.equal(RewardTree.load(lib.dump() as never).root, mine.root);
    assert.equal(
      mine.total,
      values.reduce((s, [, v]) => s + v, 0n),
    );
  }
});

test('RewardTree does not depend on the input order; the leaf hash is the abi.encode(index, account, amount) one', () => {
  const values = entries(20, 11);
  const a = RewardTree.of(values);
  const b = RewardTree.of([...values].reverse());
  assert.equal(a.root, b.root);
  assert.deepEqual(a.dump(), b.dump());
  // single leaf: the root is the leaf hash
  const one = RewardTree.of([['0x00000000000000000000000000000000000000aa', 5n]]);
  assert.equal(
    one.root,
    `0x${Buffer.from(rewardLeafHash(0, '0x00000000000000000000000000000000000000aa', 5n)).toString('hex')}`,
  );
  assert.equal(
    one.root,
    StandardMerkleTree.of([['0', '0x00000000000000000000000000000000000000aa', '5']], ENCODING).root,
  );
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
  d.values[0].value[2] = (BigInt(d.values[0].value[2]) + 1n).toString();
  assert.throws(() => RewardTree.load(d), /not the tree/);
  const e = RewardTree.of(entries(5, 3)).dump();
  e.values[1].value[0] = e.values[0].value[0];
  assert.throws(() => RewardTree.load(e), /duplicate index/);
  const old = { ...RewardTree.of(entries(2, 3)).dump(), leafEncoding: ['address', 'uint256'] };
  assert.throws(() => RewardTree.load(old), /leafEncoding/);
  assert.throws(() => RewardTree.of([['0x1234', 1n]]), /account/);
  assert.throws(() => RewardTree.of([[a, -1n]]), /amount/);
});
