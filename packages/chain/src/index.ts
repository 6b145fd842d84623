// @openledger/chain — compiled protocol contracts, the embedded anvil chain, viem clients,
// accounts, deployment and the address book.
export * from './abi.gen.ts';
export {
  accountFromEnv,
  accountFromKeystore,
  accountFromPrivateKey,
  DEV_ACCOUNT_LABEL,
  DEV_MNEMONIC,
  devAccount,
  devAccounts,
  type EncryptKeystoreOptions,
  encryptKeystore,
  loadAccount,
  PRIVATE_KEY_ENV,
  type SignerSource,
} from './accounts.ts';
export {
  type AnvilHandle,
  anvilBinaryPath,
  findFreePort,
  type StartAnvilOptions,
  startAnvil,
} from './anvil.ts';
export { ensureArtifacts, loadArtifact } from './artifacts.ts';
export {
  type ChainPresetName,
  chainForId,
  chainPreset,
  LOCAL_CHAIN_ID,
  localChain,
  OPENLEDGER_MAINNET_CHAIN_ID,
  OPENLEDGER_TESTNET_CHAIN_ID,
  openledgerMainnet,
  openledgerTestnet,
} from './chains.ts';
export {
  type ChainClients,
  type ChainClientsOptions,
  type ConnectChainOptions,
  connectChain,
  createChainClients,
  probeChainId,
  redactRpcUrl,
} from './clients.ts';
export {
  type Artifact,
  type CompileContractsOptions,
  type CompileContractsResult,
  compileContracts,
  DEFAULT_LIBRARY_CONTRACTS,
  SOLC_SETTINGS,
} from './compile.ts';
export {
  type DeployProtocolOptions,
  deployProtocol,
  PROTOCOL_CONTRACTS,
  type ProtocolAddresses,
  type ProtocolContractName,
  type ProtocolDeployment,
  TIMELOCK_ROLES,
} from './deploy.ts';
export {
  deploymentPath,
  type EnsureDeploymentOptions,
  type EnsureDeploymentResult,
  ensureDeployment,
  missingContracts,
  readDeployment,
  writeDeployment,
} from './deployment.ts';
export { ChainError, type ChainErrorCode, isChainError } from './errors.ts';
export { type LocalChain, startLocalChain } from './localChain.ts';
export { artifactsDir, contractsSourceDir, resolveHome } from './paths.ts';
export {
  type DeployPresetName,
  type GovernanceSettings,
  governancePreset,
  LOCAL_GOVERNANCE,
  MAINNET_GOVERNANCE,
  type ProtocolParamsValues,
  paramsPreset,
} from './presets.ts';
export { getProtocol, type Protocol, type ProtocolReader, protocolAbis } from './protocol.ts';
export { type ChainStatus, type ChainStatusOptions, getChainStatus } from './status.ts';
export { type AnvilTestClient, advanceTime, createAnvilTestClient } from './testClient.ts';
export {
  type ChainPublicClient,
  type ChainWalletClient,
  deployContractAndWait,
  pollTransactionReceipt,
  sendTransactionAndWait,
  type WaitOptions,
  writeContractAndWait,
} from './transactions.ts';
