import { createTestClient, http } from 'viem';

/** viem test actions (`increaseTime`, `mine`, `setBalance`, snapshots…) for an anvil RPC URL. */
export function createAnvilTestClient(rpcUrl: string) {
  return createTestClient({ mode: 'anvil', transport: http(rpcUrl) });
}

export type AnvilTestClient = ReturnType<typeof createAnvilTestClient>;

/** Moves anvil's clock forward by `seconds` and mines one block at the new time. */
export async function advanceTime(testClient: AnvilTestClient, seconds: number | bigint): Promise<void> {
  await testClient.increaseTime({ seconds: Number(seconds) });
  await testClient.mine({ blocks: 1 });
}
