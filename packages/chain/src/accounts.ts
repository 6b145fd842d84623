import { pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Hex, isHex } from 'viem';
import {
  type HDAccount,
  HDKey,
  hdKeyToAccount,
  type PrivateKeyAccount,
  privateKeyToAccount,
} from 'viem/accounts';
import { ChainError } from './errors.ts';

/**
 * anvil's / Hardhat's well-known TEST mnemonic. Its keys are public: they are for the local
 * development chain only and must never hold real funds.
 */
export const DEV_MNEMONIC = 'test test test test test test test test test test test junk';

/** Label used wherever a dev account is shown, so nobody mistakes it for a real key. */
export const DEV_ACCOUNT_LABEL = 'anvil well-known TEST key (public, local chain only)';

export const PRIVATE_KEY_ENV = 'OPENLEDGER_PRIVATE_KEY';

let devRootKey: HDKey | undefined;
const devAccountCache = new Map<number, HDAccount>();

/**
 * Dev account `index` of the TEST mnemonic (0 = deployer and treasury of the local chain), at
 * m/44'/60'/0'/0/index as anvil derives them. The BIP-39 seed is computed once with node's native
 * PBKDF2 (viem's pure-JS `mnemonicToAccount` takes ~2 s per call here).
 */
export function devAccount(index = 0): HDAccount {
  const cached = devAccountCache.get(index);
  if (cached) return cached;
  devRootKey ??= HDKey.fromMasterSeed(
    pbkdf2Sync(DEV_MNEMONIC.normalize('NFKD'), 'mnemonic', 2048, 64, 'sha512'),
  );
  const account = hdKeyToAccount(devRootKey, { addressIndex: index });
  devAccountCache.set(index, account);
  return account;
}

/** The first `count` dev accounts of the TEST mnemonic. */
export function devAccounts(count = 10): HDAccount[] {
  return Array.from({ length: count }, (_, i) => devAccount(i));
}

function normalisePrivateKey(raw: string, source: string): Hex {
  const trimmed = raw.trim();
  const key = (trimmed.startsWith('0x') ? trimmed : `0x${trimmed}`) as Hex;
  if (!isHex(key) || key.length !== 66) {
    // Never echo the value: it may be (most of) a real key.
    throw new ChainError('INVALID_KEY', `${source} is not a 32-byte hex private key`);
  }
  return key;
}

/** An account from a hex private key; the key never appears in errors. */
export function accountFromPrivateKey(privateKey: string, source = 'private key'): PrivateKeyAccount {
  return privateKeyToAccount(normalisePrivateKey(privateKey, source));
}

/** The account whose key is in `$OPENLEDGER_PRIVATE_KEY`; a clear error when it is unset. */
export function accountFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  variable = PRIVATE_KEY_ENV,
): PrivateKeyAccount {
  const raw = env[variable];
  if (!raw || raw.trim() === '') {
    throw new ChainError(
      'MISSING_KEY',
      `no signing key: set ${variable} to a hex private key or pass an encrypted keystore file`,
    );
  }
  return accountFromPrivateKey(raw, variable);
}

/**
 * Decrypts a Web3 Secret Storage (v3) keystore — geth/Foundry `cast wallet` and ethers keystores,
 * scrypt or pbkdf2 — with ethers' maintained implementation (MAC checked before use).
 */
export async function accountFromKeystore(path: string, password: string): Promise<PrivateKeyAccount> {
  let json: string;
  try {
    json = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ChainError('KEYSTORE_FAILED', `cannot read keystore file ${path}: ${(error as Error).message}`);
  }
  // ethers is large; load it only when a keystore is actually used.
  const { decryptKeystoreJson, isKeystoreJson } = await import('ethers');
  if (!isKeystoreJson(json)) {
    throw new ChainError('KEYSTORE_FAILED', `${path} is not an encrypted JSON keystore (version 3)`);
  }
  try {
    const decrypted = await decryptKeystoreJson(json, password);
    return privateKeyToAccount(decrypted.privateKey as Hex);
  } catch {
    throw new ChainError(
      'KEYSTORE_FAILED',
      `cannot decrypt keystore ${path}: wrong password or corrupted file`,
    );
  }
}

export interface EncryptKeystoreOptions {
  /** scrypt cost parameter N (power of two). Default 2^18 as geth; tests may use less. */
  scryptN?: number;
}

/** Encrypts a private key into a v3 JSON keystore (scrypt), e.g. for `$OPENLEDGER_HOME/keys/`. */
export async function encryptKeystore(
  privateKey: Hex,
  password: string,
  options: EncryptKeystoreOptions = {},
): Promise<string> {
  const account = privateKeyToAccount(normalisePrivateKey(privateKey, 'private key'));
  const { encryptKeystoreJson } = await import('ethers');
  return encryptKeystoreJson({ address: account.address, privateKey }, password, {
    scrypt: { N: options.scryptN ?? 2 ** 18 },
  });
}

export type SignerSource =
  | { kind: 'dev'; index?: number }
  | { kind: 'env'; variable?: string; env?: NodeJS.ProcessEnv }
  | { kind: 'privateKey'; privateKey: string }
  | { kind: 'keystore'; path: string; password: string };

/** Loads a signing account from one of the supported sources. */
export async function loadAccount(source: SignerSource): Promise<HDAccount | PrivateKeyAccount> {
  switch (source.kind) {
    case 'dev':
      return devAccount(source.index ?? 0);
    case 'env':
      return accountFromEnv(source.env ?? process.env, source.variable ?? PRIVATE_KEY_ENV);
    case 'privateKey':
      return accountFromPrivateKey(source.privateKey);
    case 'keystore':
      return accountFromKeystore(source.path, source.password);
  }
}
