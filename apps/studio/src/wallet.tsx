// Wallet: the local test accounts of the embedded chain (GET /api/dev/accounts, anvil's well-known
// keys) or an injected EIP-1193 wallet (window.ethereum) on real chains. Signing in is SIWE
// (EIP-4361): nonce → message → signature → bearer token, kept per account in sessionStorage.
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { ApiError, api, errorMessage, setTokenProvider, setUnauthenticatedHandler } from './api.ts';

export interface LocalAccount {
  label: string;
  address: `0x${string}`;
  privateKey?: `0x${string}`;
}

interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

declare global {
  interface Window {
    ethereum?: Eip1193;
  }
}

interface Session {
  token: string;
  expiresAt?: string | number;
}

export interface WalletState {
  accounts: LocalAccount[];
  accountsError?: string;
  accountsLoading: boolean;
  address?: `0x${string}`;
  label?: string;
  token?: string;
  signedIn: boolean;
  busy: boolean;
  error?: string;
  injected: boolean;
  select(address: `0x${string}`): void;
  signIn(): Promise<boolean>;
  signOut(): void;
  connectInjected(): Promise<void>;
  /** An API key for /v1 bound to the signed-in wallet (POST /api/keys), cached per account. */
  apiKey(fresh?: boolean): Promise<string>;
}

const WalletContext = createContext<WalletState | null>(null);

const SELECTED = 'openledger.account';
const tokenKey = (a: string) => `openledger.token.${a.toLowerCase()}`;
const apiKeyKey = (a: string) => `openledger.apikey.${a.toLowerCase()}`;

function readSession(address?: string): Session | undefined {
  if (!address) return undefined;
  try {
    const raw = sessionStorage.getItem(tokenKey(address));
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Session;
    if (s.expiresAt) {
      const t =
        typeof s.expiresAt === 'number'
          ? s.expiresAt * (s.expiresAt < 1e12 ? 1000 : 1)
          : Date.parse(s.expiresAt);
      if (Number.isFinite(t) && t < Date.now()) return undefined;
    }
    return s;
  } catch {
    return undefined;
  }
}

export function WalletProvider({ children }: { children: ReactNode }) {
  const [accounts, setAccounts] = useState<LocalAccount[]>([]);
  const [accountsError, setAccountsError] = useState<string>();
  const [accountsLoading, setAccountsLoading] = useState(true);
  const [address, setAddress] = useState<`0x${string}` | undefined>(
    () => (sessionStorage.getItem(SELECTED) as `0x${string}` | null) ?? undefined,
  );
  const [injectedAddress, setInjectedAddress] = useState<`0x${string}`>();
  const [version, setVersion] = useState(0); // bumps when a session changes
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const injected = typeof window !== 'undefined' && !!window.ethereum;

  useEffect(() => {
    let live = true;
    api
      .get<LocalAccount[] | { accounts: LocalAccount[] }>('/api/dev/accounts')
      .then((res) => {
        if (!live) return;
        const list = Array.isArray(res) ? res : (res.accounts ?? []);
        setAccounts(list);
        setAddress((cur) =>
          cur && list.some((a) => a.address.toLowerCase() === cur.toLowerCase()) ? cur : list[0]?.address,
        );
      })
      .catch((e) => {
        if (!live) return;
        setAccountsError(
          e instanceof ApiError && e.status === 404
            ? 'No local test accounts on this node (not an embedded chain). Connect a browser wallet instead.'
            : errorMessage(e),
        );
      })
      .finally(() => live && setAccountsLoading(false));
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    if (address) sessionStorage.setItem(SELECTED, address);
  }, [address]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: version re-reads sessionStorage
  const session = useMemo(() => readSession(address), [address, version]);
  const token = session?.token;

  useEffect(() => {
    setTokenProvider(() => token);
  }, [token]);
  // Set synchronously too, so the first render's requests already carry the token.
  setTokenProvider(() => token);

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      if (!address) return;
      sessionStorage.removeItem(tokenKey(address));
      sessionStorage.removeItem(apiKeyKey(address));
      setVersion((v) => v + 1);
      setError('Your session has expired or is unknown to this node: sign in again.');
    });
  }, [address]);

  const select = useCallback((a: `0x${string}`) => {
    setAddress(a);
    setError(undefined);
  }, []);

  const signWith = useCallback(
    async (addr: `0x${string}`, sign: (message: string) => Promise<`0x${string}`>) => {
      setBusy(true);
      setError(undefined);
      try {
        const [{ createSiweMessage }, { getAddress }] = await Promise.all([
          import('viem/siwe'),
          import('viem'),
        ]);
        const health = await api.get<{ chainId?: number }>('/api/health');
        const { nonce } = await api.post<{ nonce: string }>('/api/auth/nonce', { address: addr });
        const message = createSiweMessage({
          address: getAddress(addr),
          chainId: Number(health.chainId ?? 31337),
          domain: window.location.host,
          uri: window.location.origin,
          nonce,
          version: '1',
          statement: 'Sign in to OpenLedger Studio.',
          issuedAt: new Date(),
        });
        const signature = await sign(message);
        const res = await api.post<{ token: string; address?: string; expiresAt?: string | number }>(
          '/api/auth/verify',
          { message, signature },
        );
        sessionStorage.setItem(
          tokenKey(addr),
          JSON.stringify({ token: res.token, expiresAt: res.expiresAt }),
        );
        setVersion((v) => v + 1);
        return true;
      } catch (e) {
        setError(`Sign-in failed: ${errorMessage(e)}`);
        return false;
      } finally {
        setBusy(false);
      }
    },
    [],
  );

  const signIn = useCallback(async () => {
    if (!address) {
      setError('Choose an account first.');
      return false;
    }
    const local = accounts.find((a) => a.address.toLowerCase() === address.toLowerCase());
    if (local?.privateKey) {
      const pk = local.privateKey;
      return signWith(address, async (message) => {
        const { privateKeyToAccount } = await import('viem/accounts');
        return privateKeyToAccount(pk).signMessage({ message });
      });
    }
    if (window.ethereum && injectedAddress) {
      const eth = window.ethereum;
      return signWith(
        address,
        async (message) =>
          (await eth.request({ method: 'personal_sign', params: [message, address] })) as `0x${string}`,
      );
    }
    setError('This account has no key here: connect a browser wallet.');
    return false;
  }, [accounts, address, injectedAddress, signWith]);

  const connectInjected = useCallback(async () => {
    if (!window.ethereum) {
      setError('No browser wallet (window.ethereum) found.');
      return;
    }
    try {
      const list = (await window.ethereum.request({ method: 'eth_requestAccounts' })) as `0x${string}`[];
      if (!list[0]) throw new Error('the wallet returned no account');
      setInjectedAddress(list[0]);
      setAddress(list[0]);
    } catch (e) {
      setError(`Wallet connection failed: ${errorMessage(e)}`);
    }
  }, []);

  const signOut = useCallback(() => {
    if (address) {
      sessionStorage.removeItem(tokenKey(address));
      sessionStorage.removeItem(apiKeyKey(address));
    }
    setVersion((v) => v + 1);
  }, [address]);

  const apiKey = useCallback(
    async (fresh = false) => {
      if (!address || !token) throw new Error('Sign in first: answers are paid by the signed-in wallet.');
      const cached = fresh ? null : sessionStorage.getItem(apiKeyKey(address));
      if (cached) return cached;
      const res = await api.post<{ key?: string; apiKey?: string; token?: string }>('/api/keys', {
        label: 'OpenLedger Studio',
      });
      const key = res.key ?? res.apiKey ?? res.token;
      if (!key) throw new Error('POST /api/keys returned no key');
      sessionStorage.setItem(apiKeyKey(address), key);
      return key;
    },
    [address, token],
  );

  const label =
    accounts.find((a) => a.address.toLowerCase() === address?.toLowerCase())?.label ??
    (injectedAddress ? 'Browser wallet' : undefined);

  const value: WalletState = {
    accounts,
    accountsError,
    accountsLoading,
    address,
    label,
    token,
    signedIn: !!token,
    busy,
    error,
    injected,
    select,
    signIn,
    signOut,
    connectInjected,
    apiKey,
  };
  return <WalletContext.Provider value={value}>{children}</WalletContext.Provider>;
}

export function useWallet(): WalletState {
  const w = useContext(WalletContext);
  if (!w) throw new Error('useWallet outside WalletProvider');
  return w;
}
