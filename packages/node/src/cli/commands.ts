import type { Command } from 'commander';
import { registerChainCommands } from './chain.ts';
import { registerStartCommand } from './start.ts';

/** Every command group of the CLI. Each group lives in its own file and documents its own --help. */
export function registerCommands(program: Command): void {
  registerStartCommand(program);
  registerChainCommands(program);
}
