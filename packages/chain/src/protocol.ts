import { getContract } from 'viem';
import {
  datanetRegistryAbi,
  inferenceEscrowAbi,
  modelRegistryAbi,
  openGovernorAbi,
  openTokenAbi,
  openVotesAbi,
  protocolParamsAbi,
  rewardDistributorAbi,
  stakingAbi,
  timelockControllerAbi,
} from './abi.gen.ts';
import type { ProtocolAddresses } from './deploy.ts';
import type { ChainPublicClient, ChainWalletClient } from './transactions.ts';

/** The typed ABI of every protocol contract, by contract name. */
export const protocolAbis = {
  OpenToken: openTokenAbi,
  OpenVotes: openVotesAbi,
  TimelockController: timelockControllerAbi,
  OpenGovernor: openGovernorAbi,
  ProtocolParams: protocolParamsAbi,
  Staking: stakingAbi,
  DatanetRegistry: datanetRegistryAbi,
  ModelRegistry: modelRegistryAbi,
  RewardDistributor: rewardDistributorAbi,
  InferenceEscrow: inferenceEscrowAbi,
} as const;

/**
 * Typed viem contract instances (`.read.*`, and `.write.*` / `.simulate.*` when a wallet client is
 * given) for every contract of a deployment's address book.
 */
export function getProtocol<wallet extends ChainWalletClient | undefined = undefined>(options: {
  addresses: ProtocolAddresses;
  publicClient: ChainPublicClient;
  walletClient?: wallet;
}) {
  const { addresses: a, publicClient: p } = options;
  const w = options.walletClient as wallet;
  return {
    openToken: getContract({ abi: openTokenAbi, address: a.OpenToken, client: { public: p, wallet: w } }),
    openVotes: getContract({ abi: openVotesAbi, address: a.OpenVotes, client: { public: p, wallet: w } }),
    timelock: getContract({
      abi: timelockControllerAbi,
      address: a.TimelockController,
      client: { public: p, wallet: w },
    }),
    governor: getContract({
      abi: openGovernorAbi,
      address: a.OpenGovernor,
      client: { public: p, wallet: w },
    }),
    params: getContract({
      abi: protocolParamsAbi,
      address: a.ProtocolParams,
      client: { public: p, wallet: w },
    }),
    staking: getContract({ abi: stakingAbi, address: a.Staking, client: { public: p, wallet: w } }),
    datanets: getContract({
      abi: datanetRegistryAbi,
      address: a.DatanetRegistry,
      client: { public: p, wallet: w },
    }),
    models: getContract({
      abi: modelRegistryAbi,
      address: a.ModelRegistry,
      client: { public: p, wallet: w },
    }),
    rewards: getContract({
      abi: rewardDistributorAbi,
      address: a.RewardDistributor,
      client: { public: p, wallet: w },
    }),
    escrow: getContract({
      abi: inferenceEscrowAbi,
      address: a.InferenceEscrow,
      client: { public: p, wallet: w },
    }),
  };
}

/** Contract instances with `.read` only. */
export type ProtocolReader = ReturnType<typeof getProtocol<undefined>>;
/** Contract instances with `.read`, `.write` and `.simulate`. */
export type Protocol = ReturnType<typeof getProtocol<ChainWalletClient>>;
