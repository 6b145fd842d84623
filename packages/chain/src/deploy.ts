import { type Address, getAddress, keccak256, toHex, zeroAddress } from 'viem';
import { loadArtifact } from './artifacts.ts';
import { ChainError } from './errors.ts';
import {
  type DeployPresetName,
  type GovernanceSettings,
  governancePreset,
  type ProtocolParamsValues,
  paramsPreset,
} from './presets.ts';
import {
  type ChainPublicClient,
  type ChainWalletClient,
  deployContractAndWait,
  type WaitOptions,
  writeContractAndWait,
} from './transactions.ts';

/** The protocol contracts in deployment order (docs/protocol.md). */
export const PROTOCOL_CONTRACTS = [
  'OpenToken',
  'OpenVotes',
  'TimelockController',
  'OpenGovernor',
  'ProtocolParams',
  'Staking',
  'DatanetRegistry',
  'ModelRegistry',
  'RewardDistributor',
  'InferenceEscrow',
] as const;

export type ProtocolContractName = (typeof PROTOCOL_CONTRACTS)[number];

/** The address book of one deployment. */
export type ProtocolAddresses = Record<ProtocolContractName, Address>;

/** What `$OPENLEDGER_HOME/deployments/<chainId>.json` holds. */
export interface ProtocolDeployment {
  chainId: number;
  deployer: Address;
  treasury: Address;
  /** Block of the first deployment transaction (a lower bound for event scans). */
  blockNumber: number;
  contracts: ProtocolAddresses;
}

export interface DeployProtocolOptions {
  publicClient: ChainPublicClient;
  walletClient: ChainWalletClient;
  preset: DeployPresetName;
  /** Receives the whole OPEN supply and the platform/publish fees. Default: the deployer. */
  treasury?: Address;
  /** Overrides of the preset's initial ProtocolParams. */
  params?: Partial<ProtocolParamsValues>;
  /** Overrides of the preset's governance settings. */
  governance?: Partial<GovernanceSettings>;
  /** Progress lines (one per contract and wiring step). */
  log?: (line: string) => void;
  wait?: WaitOptions;
}

const PROPOSER_ROLE = keccak256(toHex('PROPOSER_ROLE'));
const CANCELLER_ROLE = keccak256(toHex('CANCELLER_ROLE'));
const DEFAULT_ADMIN_ROLE = `0x${'00'.repeat(32)}` as const;

/**
 * Deploys the ten protocol contracts in the order of docs/protocol.md and wires them:
 * `ProtocolParams.setEpochClock(rewardDistributor)`, `RewardDistributor.setEscrow(escrow)`,
 * `Staking.setSlasher(rewardDistributor)`, timelock PROPOSER + CANCELLER roles to the governor, and
 * finally the deployer renounces the timelock admin role (from then on only governance changes
 * anything). Returns the deployment record (not yet written to disk; see `ensureDeployment`).
 */
export async function deployProtocol(options: DeployProtocolOptions): Promise<ProtocolDeployment> {
  const { publicClient, walletClient } = options;
  const log = options.log ?? (() => {});
  const deployer = walletClient.account.address;
  const treasury = getAddress(options.treasury ?? deployer);
  if (treasury === zeroAddress)
    throw new ChainError('DEPLOYMENT_INVALID', 'treasury must not be the zero address');
  const governance = { ...governancePreset(options.preset), ...options.governance };
  const initialParams = { ...paramsPreset(options.preset, treasury), ...options.params };
  const chainId = await publicClient.getChainId();
  const wait = { ...options.wait, publicClient };

  const contracts: Partial<ProtocolAddresses> = {};
  let firstBlock: bigint | undefined;
  const deploy = async (name: ProtocolContractName, args: readonly unknown[]): Promise<Address> => {
    const artifact = loadArtifact(name);
    const { address, receipt } = await deployContractAndWait(
      walletClient,
      { abi: artifact.abi, bytecode: artifact.bytecode, args, name },
      wait,
    );
    firstBlock ??= receipt.blockNumber;
    contracts[name] = address;
    log(`${name.padEnd(18)} ${address}  (gas ${receipt.gasUsed})`);
    return address;
  };

  log(`deploying the OpenLedger protocol (preset ${options.preset}) to chain ${chainId} from ${deployer}`);
  const openToken = await deploy('OpenToken', [treasury]);
  const openVotes = await deploy('OpenVotes', [openToken]);
  const timelock = await deploy('TimelockController', [
    governance.timelockDelay,
    [],
    [zeroAddress],
    deployer,
  ]);
  const governor = await deploy('OpenGovernor', [
    openVotes,
    timelock,
    governance.votingDelay,
    governance.votingPeriod,
    governance.proposalThreshold,
    governance.quorumPercent,
  ]);
  const params = await deploy('ProtocolParams', [timelock, initialParams]);
  const staking = await deploy('Staking', [openToken, params, timelock]);
  const datanets = await deploy('DatanetRegistry', [openToken, params]);
  const models = await deploy('ModelRegistry', [datanets]);
  const rewards = await deploy('RewardDistributor', [openToken, params, staking, timelock]);
  const escrow = await deploy('InferenceEscrow', [openToken, params, staking, models, rewards]);

  const call = async (
    name: ProtocolContractName,
    address: Address,
    functionName: string,
    args: readonly unknown[],
  ) => {
    const { abi } = loadArtifact(name);
    await writeContractAndWait(walletClient, { address, abi, functionName, args } as never, wait);
    log(`${name}.${functionName}(${args.map(String).join(', ')})`);
  };
  await call('ProtocolParams', params, 'setEpochClock', [rewards]);
  await call('RewardDistributor', rewards, 'setEscrow', [escrow]);
  await call('Staking', staking, 'setSlasher', [rewards]);
  await call('TimelockController', timelock, 'grantRole', [PROPOSER_ROLE, governor]);
  await call('TimelockController', timelock, 'grantRole', [CANCELLER_ROLE, governor]);
  await call('TimelockController', timelock, 'renounceRole', [DEFAULT_ADMIN_ROLE, deployer]);

  return {
    chainId,
    deployer,
    treasury,
    blockNumber: Number(firstBlock ?? 0n),
    contracts: contracts as ProtocolAddresses,
  };
}

export const TIMELOCK_ROLES = { PROPOSER_ROLE, CANCELLER_ROLE, DEFAULT_ADMIN_ROLE } as const;
