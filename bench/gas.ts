// Gas of the protocol's everyday transactions, measured on a fresh in-memory anvil with the whole
// protocol deployed (local preset). Prints a table, then `BENCH {...}`, and writes
// bench/results/gas.json. Run: npm run bench:gas
import { mkdirSync, writeFileSync } from 'node:fs';
import {
  type ChainWalletClient,
  connectChain,
  createChainClients,
  deployProtocol,
  devAccount,
  ensureArtifacts,
  getProtocol,
  PROTOCOL_CONTRACTS,
  startAnvil,
  writeContractAndWait,
} from '@openledger/chain';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { type Address, createTestClient, type Hex, http, keccak256, parseEther, toHex } from 'viem';

const OPERATOR = 0;
const SETTLER = 1;
const CLAIM_LIMIT = 90_000n;

ensureArtifacts({ log: (line) => console.log(`[chain] ${line}`) });
const anvil = await startAnvil();
try {
  const { publicClient, walletClient } = await connectChain({
    rpcUrl: anvil.rpcUrl,
    expectedChainId: 31337,
    account: devAccount(0),
  });
  const treasury = walletClient!;
  const wallet = (index: number): ChainWalletClient =>
    createChainClients({ rpcUrl: anvil.rpcUrl, account: devAccount(index) }).walletClient!;
  const testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) });
  const deployment = await deployProtocol({ publicClient, walletClient: treasury, preset: 'local' });
  const c = deployment.contracts;
  const p = getProtocol({ addresses: c, publicClient });
  const params = await p.params.read.params();

  const owner = wallet(1);
  const operator = wallet(2);
  const consumer = wallet(3);
  const settler = wallet(4);
  const modelOwner = wallet(5);

  const rows: Array<{ operation: string; gas: bigint; note: string }> = [];
  type Send = Parameters<typeof writeContractAndWait>[1];
  const send = async (client: ChainWalletClient, call: Send): Promise<bigint> =>
    (await writeContractAndWait(client, call as never)).gasUsed;
  const measure = async (operation: string, client: ChainWalletClient, call: Send, note = '') => {
    const gas = await send(client, call);
    rows.push({ operation, gas, note });
    return gas;
  };
  const fund = async (to: ChainWalletClient, amount: bigint, spender: Address) => {
    await send(treasury, {
      address: c.OpenToken,
      abi: p.openToken.abi,
      functionName: 'transfer',
      args: [to.account.address, amount],
    });
    await send(to, {
      address: c.OpenToken,
      abi: p.openToken.abi,
      functionName: 'approve',
      args: [spender, amount],
    });
  };

  // Staking: an operator (needed to redeem) and a settler (needed to post roots).
  await fund(operator, params.minOperatorStake * 2n, c.Staking);
  await measure('stake (operator, first)', operator, {
    address: c.Staking,
    abi: p.staking.abi,
    functionName: 'stake',
    args: [OPERATOR, params.minOperatorStake * 2n],
  });
  await fund(settler, params.minSettlerStake, c.Staking);
  await send(settler, {
    address: c.Staking,
    abi: p.staking.abi,
    functionName: 'stake',
    args: [SETTLER, params.minSettlerStake],
  });
  await measure('unstake (operator, partial)', operator, {
    address: c.Staking,
    abi: p.staking.abi,
    functionName: 'unstake',
    args: [OPERATOR, params.minOperatorStake / 2n],
  });

  // Datanet: create, publish a version (pays the publish fee), record contributions.
  await fund(owner, parseEther('10000'), c.DatanetRegistry);
  await send(owner, {
    address: c.DatanetRegistry,
    abi: p.datanets.abi,
    functionName: 'createDatanet',
    args: ['ipfs://datanet-meta', keccak256(toHex('meta')), 'CC-BY-4.0', false, 0],
  });
  await measure(
    'publish version',
    owner,
    {
      address: c.DatanetRegistry,
      abi: p.datanets.abi,
      functionName: 'publishVersion',
      args: [1n, keccak256(toHex('rows v1')), 1_000n, 'ipfs://datanet-v1'],
    },
    '1,000 rows, fee paid in OPEN',
  );
  const contribution = (i: number) => ({
    contributor: devAccount(10 + (i % 10)).address,
    contentHash: keccak256(toHex(`row ${i}`)),
  });
  await measure(
    'record contribution',
    owner,
    {
      address: c.DatanetRegistry,
      abi: p.datanets.abi,
      functionName: 'recordContributions',
      args: [1n, 1, [contribution(0)]],
    },
    '1 contribution per call',
  );
  const batchGas = await send(owner, {
    address: c.DatanetRegistry,
    abi: p.datanets.abi,
    functionName: 'recordContributions',
    args: [1n, 1, Array.from({ length: 100 }, (_, i) => contribution(i + 1))],
  });
  rows.push({
    operation: 'record contribution (batched)',
    gas: batchGas / 100n,
    note: 'per contribution, 100 per call',
  });

  // Model: register with lineage to the datanet version.
  const h = (s: string): Hex => keccak256(toHex(s));
  await measure(
    'register model',
    modelOwner,
    {
      address: c.ModelRegistry,
      abi: p.models.abi,
      functionName: 'registerModel',
      args: [
        {
          baseModelHash: h('base'),
          adapterHash: h('adapter'),
          trainingConfigHash: h('config'),
          attributionIndexHash: h('index'),
          pricePerKInput: parseEther('0.01'),
          pricePerKOutput: parseEther('0.02'),
          uri: 'ipfs://model-1',
          datanets: [{ datanetId: 1n, version: 1 }],
        },
      ],
    },
    '1 datanet version in lineage',
  );

  // Escrow: deposit, then redeem cumulative vouchers (first and a later one).
  await fund(consumer, parseEther('1000000'), c.InferenceEscrow);
  await send(consumer, {
    address: c.InferenceEscrow,
    abi: p.escrow.abi,
    functionName: 'deposit',
    args: [parseEther('1000000')],
  });
  const chainId = await publicClient.getChainId();
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 365 * 86_400);
  const voucher = (cumulativeAmount: bigint, cumulativePlatformFee: bigint) => ({
    consumer: consumer.account.address,
    operator: operator.account.address,
    modelId: 1n,
    cumulativeAmount,
    cumulativePlatformFee,
    deadline,
  });
  const redeem = async (label: string, v: ReturnType<typeof voucher>, note: string) => {
    const signature = await consumer.signTypedData({
      domain: {
        name: 'OpenLedger InferenceEscrow',
        version: '1',
        chainId,
        verifyingContract: c.InferenceEscrow,
      },
      types: {
        Voucher: [
          { name: 'consumer', type: 'address' },
          { name: 'operator', type: 'address' },
          { name: 'modelId', type: 'uint256' },
          { name: 'cumulativeAmount', type: 'uint256' },
          { name: 'cumulativePlatformFee', type: 'uint256' },
          { name: 'deadline', type: 'uint256' },
        ],
      },
      primaryType: 'Voucher',
      message: v,
    });
    await measure(
      label,
      operator,
      {
        address: c.InferenceEscrow,
        abi: p.escrow.abi,
        functionName: 'redeem',
        args: [v, signature],
      },
      note,
    );
  };
  await redeem(
    'redeem voucher (first)',
    voucher(parseEther('50000'), parseEther('1')),
    'cold (consumer, operator, model)',
  );
  await redeem('redeem voucher', voucher(parseEther('100000'), parseEther('2')), 'running total raised');

  // Reward trees: 10 and 10,000 contributors. Post both roots, then claim from the big tree.
  // Leaves are (index, account, amount), index = position in the list (the claimed-bitmap bit).
  const leaves = (n: number): [bigint, Address, bigint][] =>
    Array.from({ length: n }, (_, i) => [
      BigInt(i),
      `0x${(BigInt(i + 1) * 0x9e3779b97f4a7c15n).toString(16).padStart(40, '0').slice(-40)}` as Address,
      parseEther('1') + BigInt(i),
    ]);
  const encoding = ['uint256', 'address', 'uint256'];
  const started = Date.now();
  const small = StandardMerkleTree.of(leaves(10), encoding);
  const bigLeaves = leaves(10_000);
  const big = StandardMerkleTree.of(bigLeaves, encoding);
  const treeMs = Date.now() - started;
  const total = (values: [bigint, Address, bigint][]) =>
    values.reduce((sum, [, , amount]) => sum + amount, 0n);

  const post = async (tree: StandardMerkleTree<[bigint, Address, bigint]>, amount: bigint) => {
    const epoch = await p.rewards.read.currentEpoch();
    return send(settler, {
      address: c.RewardDistributor,
      abi: p.rewards.abi,
      functionName: 'postRoot',
      args: [epoch, tree.root as Hex, amount, `ipfs://rewards/epoch-${epoch}`],
    });
  };
  // Epoch 1 is a warm-up (its post pays the first-ever writes of shared slots such as the carry);
  // epochs 2 and 3 compare 10 against 10,000 contributors; epoch 4 pays the same 10,000 again.
  // Each later epoch is funded by a further redeem, so every pool covers its tree.
  let cumulative = parseEther('100000');
  let cumulativePlatform = parseEther('2');
  const fundEpoch = async () => {
    cumulative += parseEther('100000');
    cumulativePlatform += parseEther('1');
    await redeem('funding redeem', voucher(cumulative, cumulativePlatform), '');
    rows.pop();
  };
  await post(small, total(leaves(10)));
  await fundEpoch();
  const post10 = await post(small, total(leaves(10)));
  await fundEpoch();
  const post10k = await post(big, total(bigLeaves));
  await fundEpoch();
  await post(big, total(bigLeaves));
  rows.push({ operation: 'post epoch root', gas: post10, note: '10 contributors' });
  rows.push({ operation: 'post epoch root', gas: post10k, note: '10,000 contributors' });
  const lastEpoch = (await p.rewards.read.currentEpoch()) - 1n;
  const bigEpoch = lastEpoch - 1n;
  // After posting, the settler prepares the claimed-flag words (255 leaves each) so that no claim
  // takes a word from zero to nonzero. Word 39 of the big epoch (leaves 9,945..9,999) is left
  // unprepared to show the cost without it.
  const words = Math.ceil(bigLeaves.length / 255);
  const prepare = (epoch: bigint, first: number, count: number) =>
    send(settler, {
      address: c.RewardDistributor,
      abi: p.rewards.abi,
      functionName: 'prepareClaims',
      args: [epoch, BigInt(first), BigInt(count)],
    });
  const prepareBig = await prepare(bigEpoch, 0, words - 1);
  await prepare(lastEpoch, 0, words);
  const preparePerLeaf = Number(prepareBig) / ((words - 1) * 255);
  rows.push({
    operation: 'prepare claims',
    gas: prepareBig,
    note: `${words - 1} words of 255 leaves (${preparePerLeaf.toFixed(0)} gas per contributor)`,
  });

  await testClient.increaseTime({ seconds: Number(params.challengeWindow) + 1 });
  await testClient.mine({ blocks: 1 });
  const claimer = wallet(6); // anyone may submit a claim; the OPEN goes to the leaf's account
  const claim = (epoch: bigint, index: number) => {
    const [leafIndex, account, amount] = bigLeaves[index];
    return send(claimer, {
      address: c.RewardDistributor,
      abi: p.rewards.abi,
      functionName: 'claim',
      args: [epoch, leafIndex, account, amount, big.getProof(index) as Hex[]],
    });
  };
  const proofLength = big.getProof(0).length;
  // The worst claim: the first of its (prepared) word, to an account that never held OPEN (its
  // OPEN balance goes from zero to nonzero).
  const claimFirstOfWord = await claim(bigEpoch, 0);
  // A later claim of the same word, also to a new account.
  const claimFresh = await claim(bigEpoch, 1);
  // Without preparation: the first claim of word 39 also writes a fresh storage slot.
  const claimUnprepared = await claim(bigEpoch, (words - 1) * 255);
  // An account that already holds OPEN, first claim.
  await send(treasury, {
    address: c.OpenToken,
    abi: p.openToken.abi,
    functionName: 'transfer',
    args: [bigLeaves[2][1], 1n],
  });
  const claimHolder = await claim(bigEpoch, 2);
  // A returning contributor (claimed the epoch before, holds OPEN), after another claim of its word.
  await claim(lastEpoch, 0);
  const claimReturning = await claim(lastEpoch, 1);
  rows.push({
    operation: 'claim',
    gas: claimFresh,
    note: `10,000 leaves (proof ${proofLength}); new account, first OPEN`,
  });
  rows.push({
    operation: 'claim',
    gas: claimFirstOfWord,
    note: '10,000 leaves; new account, first claim of its prepared word (worst case)',
  });
  rows.push({
    operation: 'claim (unprepared word)',
    gas: claimUnprepared,
    note: '10,000 leaves; new account, first claim of a word nobody prepared',
  });
  rows.push({ operation: 'claim', gas: claimHolder, note: '10,000 leaves; account already holds OPEN' });
  rows.push({ operation: 'claim', gas: claimReturning, note: '10,000 leaves; returning contributor' });

  // Table.
  console.log(
    `\nGas on anvil (cancun, solc optimizer 200 runs), ${PROTOCOL_CONTRACTS.length} contracts deployed`,
  );
  console.log(`${'operation'.padEnd(32)} ${'gas'.padStart(9)}  note`);
  console.log(`${'-'.repeat(32)} ${'-'.repeat(9)}  ${'-'.repeat(40)}`);
  for (const row of rows)
    console.log(`${row.operation.padEnd(32)} ${row.gas.toString().padStart(9)}  ${row.note}`);
  console.log(`(built both reward trees in ${treeMs} ms)`);

  const find = (operation: string, note?: string) =>
    Number(rows.find((r) => r.operation === operation && (note === undefined || r.note === note))?.gas ?? 0n);
  const result = {
    name: 'gas',
    record_contribution: find('record contribution'),
    record_contribution_batched_per_item: find('record contribution (batched)'),
    publish_version: find('publish version'),
    register_model: find('register model'),
    redeem_voucher_first: find('redeem voucher (first)'),
    redeem_voucher: find('redeem voucher'),
    post_root_10: Number(post10),
    post_root_10000: Number(post10k),
    post_root_growth_ratio: Number(post10k) / Number(post10),
    claim_10000_leaves_new_account: Number(claimFresh),
    claim_10000_leaves_new_account_first_of_word: Number(claimFirstOfWord),
    claim_10000_leaves_new_account_first_of_unprepared_word: Number(claimUnprepared),
    claim_worst: Math.max(
      Number(claimFirstOfWord),
      Number(claimFresh),
      Number(claimHolder),
      Number(claimReturning),
    ),
    prepare_claims_per_word: Math.round(Number(prepareBig) / (words - 1)),
    prepare_claims_per_contributor: Math.round(preparePerLeaf),
    claim_10000_leaves_holder: Number(claimHolder),
    claim_10000_leaves_returning: Number(claimReturning),
    claim_proof_length: proofLength,
    claim_holder_under_90k: claimHolder < CLAIM_LIMIT,
    claim_new_account_under_90k: claimFresh < CLAIM_LIMIT,
    claim_worst_under_90k:
      Math.max(Number(claimFirstOfWord), Number(claimFresh), Number(claimHolder), Number(claimReturning)) <
      CLAIM_LIMIT,
    stake: find('stake (operator, first)'),
    unstake: find('unstake (operator, partial)'),
  };
  for (const [label, gas] of [
    ['new account, first of its word', claimFirstOfWord],
    ['new account', claimFresh],
    ['holder', claimHolder],
  ] as const) {
    if (gas >= CLAIM_LIMIT)
      console.log(`NOTE: claim (${label}) uses ${gas} gas, above the ${CLAIM_LIMIT} target`);
  }
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/gas.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`BENCH ${JSON.stringify(result)}`);
} finally {
  await anvil.stop();
}
