import type { Command } from 'commander';
import { registerAttributionCommands } from './attribution.ts';
import { registerChainCommands } from './chain.ts';
import { registerDatanetCommands } from './datanet.ts';
import { registerFactoryCommands } from './factory.ts';
import { registerGovCommands } from './gov.ts';
import { registerModelCommands } from './model.ts';
import { registerRewardsCommands } from './rewards.ts';
import { registerStartCommand } from './start.ts';

/** Every command group of the CLI. Each group lives in its own file and documents its own --help. */
export function registerCommands(program: Command): void {
  registerStartCommand(program);
  registerChainCommands(program);
  registerDatanetCommands(program);
  registerFactoryCommands(program);
  registerAttributionCommands(program);
  registerRewardsCommands(program);
  registerModelCommands(program);
  registerGovCommands(program);
}
