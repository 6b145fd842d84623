/**
 * A real local chain for the economy's on-chain tests and the settlement benchmark: anvil (in
 * memory, random port), the protocol deployed with the local preset, an operator and a settler
 * staked, a datanet version and a priced model registered, a consumer with OPEN.
 * All keys are anvil's well-known TEST keys (public; local chain only).
 */
import {
  type AnvilHandle,
  type ChainPublicClient,
  type ChainWalletClient,
  connectChain,
  createChainClients,
  datanetRegistryAbi,
  deployProtocol,
  devAccount,
  inferenceEscrowAbi,
  LOCAL_GOVERNANCE,
  modelRegistryAbi,
  openGovernorAbi,
  openTokenAbi,
  openVotesAbi,
  type ProtocolDeployment,
  type ProtocolParamsValues,
  protocolParamsAbi,
  stakingAbi,
  startAnvil,
  writeContractAndWait,
} from '@openledger/chain';
import { type Address, createTestClient, encodeFunctionData, http, keccak256, parseEther, toHex } from 'viem';
import type { EconomyChain } from '../src/index.ts';

export interface EconomyTestChain {
  anvil: AnvilHandle;
  publicClient: ChainPublicClient;
  deployment: ProtocolDeployment;
  chain: EconomyChain;
  treasury: ChainWalletClient;
  operator: ChainWalletClient;
  settler: ChainWalletClient;
  consumer: ChainWalletClient;
  modelOwner: ChainWalletClient;
  modelId: bigint;
  price: { pricePerKInput: bigint; pricePerKOutput: bigint };
  wallet(index: number): ChainWalletClient;
  /** move anvil's clock forward and mine a block */
  advance(seconds: number): Promise<void>;
  /**
   * ProtocolParams.setParams through the real Governor + Timelock: the treasury wraps OPEN into
   * vOPEN, delegates, proposes, votes, and (moving anvil's clock) queues and executes.
   */
  setParamsThroughGovernance(p: ProtocolParamsValues, description: string): Promise<void>;
  openBalance(a: Address): Promise<bigint>;
  close(): Promise<void>;
}

export const STAKE = parseEther('1000');

export async function startEconomyChain(
  opts: { deposit?: bigint; price?: { pricePerKInput: bigint; pricePerKOutput: bigint } } = {},
): Promise<EconomyTestChain> {
  const anvil = await startAnvil({});
  try {
    const { publicClient, walletClient } = await connectChain({
      rpcUrl: anvil.rpcUrl,
      expectedChainId: 31337,
      account: devAccount(0),
    });
    const treasury = walletClient!;
    const deployment = await deployProtocol({ publicClient, walletClient: treasury, preset: 'local' });
    const c = deployment.contracts;
    const wallet = (i: number) =>
      createChainClients({ rpcUrl: anvil.rpcUrl, account: devAccount(i) }).walletClient!;
    const operator = wallet(1);
    const settler = wallet(2);
    const consumer = wallet(3);
    const modelOwner = wallet(4);
    const w = { publicClient };
    const send = (wc: ChainWalletClient, p: Parameters<typeof writeContractAndWait>[1]) =>
      writeContractAndWait(wc, p as never, w);
    for (const [who, amount] of [
      [operator, parseEther('2000')],
      [settler, parseEther('2000')],
      [consumer, parseEther('10000')],
      [modelOwner, parseEther('100')],
    ] as const) {
      await send(treasury, {
        address: c.OpenToken,
        abi: openTokenAbi,
        functionName: 'transfer',
        args: [who.account.address, amount],
      });
    }
    for (const [who, role] of [
      [operator, 0],
      [settler, 1],
    ] as const) {
      await send(who, {
        address: c.OpenToken,
        abi: openTokenAbi,
        functionName: 'approve',
        args: [c.Staking, STAKE],
      });
      await send(who, { address: c.Staking, abi: stakingAbi, functionName: 'stake', args: [role, STAKE] });
    }
    await send(modelOwner, {
      address: c.OpenToken,
      abi: openTokenAbi,
      functionName: 'approve',
      args: [c.DatanetRegistry, parseEther('100')],
    });
    await send(modelOwner, {
      address: c.DatanetRegistry,
      abi: datanetRegistryAbi,
      functionName: 'createDatanet',
      args: ['blob:sha256:meta', keccak256(toHex('meta')), 'CC-BY-4.0', false, 0],
    });
    await send(modelOwner, {
      address: c.DatanetRegistry,
      abi: datanetRegistryAbi,
      functionName: 'publishVersion',
      args: [1n, keccak256(toHex('rows')), 10n, 'blob:sha256:rows'],
    });
    const price = opts.price ?? {
      pricePerKInput: parseEther('0.002') + 7n,
      pricePerKOutput: parseEther('0.006') + 3n,
    };
    await send(modelOwner, {
      address: c.ModelRegistry,
      abi: modelRegistryAbi,
      functionName: 'registerModel',
      args: [
        {
          baseModelHash: keccak256(toHex('base')),
          adapterHash: keccak256(toHex('adapter')),
          trainingConfigHash: keccak256(toHex('config')),
          attributionIndexHash: keccak256(toHex('index')),
          pricePerKInput: price.pricePerKInput,
          pricePerKOutput: price.pricePerKOutput,
          uri: 'blob:sha256:model',
          datanets: [{ datanetId: 1n, version: 1 }],
        },
      ],
    });
    const deposit = opts.deposit ?? parseEther('100');
    await send(consumer, {
      address: c.OpenToken,
      abi: openTokenAbi,
      functionName: 'approve',
      args: [c.InferenceEscrow, deposit],
    });
    await send(consumer, {
      address: c.InferenceEscrow,
      abi: inferenceEscrowAbi,
      functionName: 'deposit',
      args: [deposit],
    });
    const testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) });
    const advance = async (seconds: number) => {
      await testClient.increaseTime({ seconds });
      await testClient.mine({ blocks: 1 });
    };
    return {
      anvil,
      publicClient,
      deployment,
      chain: { publicClient, chainId: deployment.chainId, contracts: c },
      treasury,
      operator,
      settler,
      consumer,
      modelOwner,
      modelId: 1n,
      price,
      wallet,
      advance,
      setParamsThroughGovernance: async (p, description) => {
        const votes = parseEther('1000000');
        await send(treasury, {
          address: c.OpenToken,
          abi: openTokenAbi,
          functionName: 'approve',
          args: [c.OpenVotes, votes],
        });
        await send(treasury, {
          address: c.OpenVotes,
          abi: openVotesAbi,
          functionName: 'depositFor',
          args: [treasury.account.address, votes],
        });
        await send(treasury, {
          address: c.OpenVotes,
          abi: openVotesAbi,
          functionName: 'delegate',
          args: [treasury.account.address],
        });
        await advance(2);
        const targets = [c.ProtocolParams] as const;
        const values = [0n] as const;
        const calldatas = [
          encodeFunctionData({ abi: protocolParamsAbi, functionName: 'setParams', args: [p] }),
        ] as const;
        const descriptionHash = keccak256(toHex(description));
        const gov = { address: c.OpenGovernor, abi: openGovernorAbi } as const;
        await send(treasury, {
          ...gov,
          functionName: 'propose',
          args: [targets, values, calldatas, description],
        });
        const id = await publicClient.readContract({
          ...gov,
          functionName: 'hashProposal',
          args: [targets, values, calldatas, descriptionHash],
        });
        await advance(LOCAL_GOVERNANCE.votingDelay + 1);
        await send(treasury, { ...gov, functionName: 'castVote', args: [id, 1] });
        await advance(LOCAL_GOVERNANCE.votingPeriod + 1);
        await send(treasury, {
          ...gov,
          functionName: 'queue',
          args: [targets, values, calldatas, descriptionHash],
        });
        await advance(Number(LOCAL_GOVERNANCE.timelockDelay) + 1);
        await send(treasury, {
          ...gov,
          functionName: 'execute',
          args: [targets, values, calldatas, descriptionHash],
        });
      },
      openBalance: (a) =>
        publicClient.readContract({
          address: c.OpenToken,
          abi: openTokenAbi,
          functionName: 'balanceOf',
          args: [a],
        }),
      close: () => anvil.stop(),
    };
  } catch (e) {
    await anvil.stop();
    throw e;
  }
}
