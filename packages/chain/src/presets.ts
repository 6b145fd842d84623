import { type Address, parseEther } from 'viem';

export type DeployPresetName = 'local' | 'mainnet';

/** Constructor arguments of OpenGovernor and the timelock delay (all times in seconds). */
export interface GovernanceSettings {
  votingDelay: number;
  votingPeriod: number;
  /** wei of vOPEN needed to propose. */
  proposalThreshold: bigint;
  quorumPercent: bigint;
  timelockDelay: bigint;
}

/** `ProtocolParams.Params`, field for field (uint16/uint32 as number, wider integers as bigint). */
export interface ProtocolParamsValues {
  ownerBps: number;
  stakersBps: number;
  contributorsBps: number;
  platformFee: bigint;
  treasury: Address;
  epochLength: bigint;
  challengeWindow: bigint;
  unbondingPeriod: bigint;
  withdrawNotice: bigint;
  slashBps: number;
  penaltyThreshold: number;
  penaltyRewardBps: number;
  minOperatorStake: bigint;
  minSettlerStake: bigint;
  publishFeeBase: bigint;
  publishFeePerRow: bigint;
  challengeBond: bigint;
}

/** docs/protocol.md: local delay 1 s, period 300 s, threshold 0, quorum 4 %, timelock 60 s. */
export const LOCAL_GOVERNANCE: GovernanceSettings = {
  votingDelay: 1,
  votingPeriod: 300,
  proposalThreshold: 0n,
  quorumPercent: 4n,
  timelockDelay: 60n,
};

/** docs/protocol.md: mainnet 1 day, 1 week, 10,000 votes, 5 %, 2 days. */
export const MAINNET_GOVERNANCE: GovernanceSettings = {
  votingDelay: 86_400,
  votingPeriod: 604_800,
  proposalThreshold: parseEther('10000'),
  quorumPercent: 5n,
  timelockDelay: 172_800n,
};

export function governancePreset(preset: DeployPresetName): GovernanceSettings {
  return preset === 'local' ? LOCAL_GOVERNANCE : MAINNET_GOVERNANCE;
}

/**
 * Initial economic parameters. The fee shares, fees, windows and stakes are not published by
 * OpenLedger; these are this project's documented choices, and every one of them is governed
 * (changeable by a proposal through ProtocolParams.setParams).
 * - fee split of the net fee: model owner 30 %, stakers 10 %, contributors 60 %;
 * - platform fee 0.001 OPEN per request; publish fee 1 OPEN + 0.001 OPEN per row;
 * - slashing 10 % of stake; penalty threshold 100 with rewards halved above it;
 * - a reward-root challenge bonds 100 OPEN (refunded if the root is judged invalid).
 * Local: short windows (epoch 1 h, challenge/unbonding/withdraw notice 10 min) and 1,000 OPEN stakes.
 * Mainnet: epoch 1 day, challenge window 1 day, unbonding 7 days, withdraw notice 1 day,
 * operator stake 10,000 OPEN, settler stake 50,000 OPEN.
 */
export function paramsPreset(preset: DeployPresetName, treasury: Address): ProtocolParamsValues {
  const common = {
    ownerBps: 3_000,
    stakersBps: 1_000,
    contributorsBps: 6_000,
    platformFee: parseEther('0.001'),
    treasury,
    slashBps: 1_000,
    penaltyThreshold: 100,
    penaltyRewardBps: 5_000,
    publishFeeBase: parseEther('1'),
    publishFeePerRow: parseEther('0.001'),
    challengeBond: parseEther('100'),
  };
  if (preset === 'local') {
    return {
      ...common,
      epochLength: 3_600n,
      challengeWindow: 600n,
      unbondingPeriod: 600n,
      withdrawNotice: 600n,
      minOperatorStake: parseEther('1000'),
      minSettlerStake: parseEther('1000'),
    };
  }
  return {
    ...common,
    epochLength: 86_400n,
    challengeWindow: 86_400n,
    unbondingPeriod: 604_800n,
    withdrawNotice: 86_400n,
    minOperatorStake: parseEther('10000'),
    minSettlerStake: parseEther('50000'),
  };
}
