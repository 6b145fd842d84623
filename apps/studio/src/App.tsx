import { Component, type ErrorInfo, type ReactNode, useEffect, useRef, useState } from 'react';
import { api, errorMessage, shortHex } from './api.ts';
import { DatanetCreate } from './pages/DatanetCreate.tsx';
import { DatanetPage } from './pages/DatanetPage.tsx';
import { Datanets } from './pages/Datanets.tsx';
import { Explorer } from './pages/Explorer.tsx';
import { Factory } from './pages/Factory.tsx';
import { Governance } from './pages/Governance.tsx';
import { Home } from './pages/Home.tsx';
import { JobPage } from './pages/JobPage.tsx';
import { Playground } from './pages/Playground.tsx';
import { Report } from './pages/Report.tsx';
import { Rewards } from './pages/Rewards.tsx';
import { RowPage } from './pages/RowPage.tsx';
import { Link, type Route, useRoute } from './router.tsx';
import { ErrorBox } from './ui.tsx';
import { useWallet, WalletProvider } from './wallet.tsx';

const NAV = [
  { to: '/datanets', label: 'Datanets' },
  { to: '/factory', label: 'ModelFactory' },
  { to: '/playground', label: 'Playground' },
  { to: '/rewards', label: 'Rewards' },
  { to: '/governance', label: 'Governance' },
  { to: '/explorer', label: 'Explorer' },
];

interface Health {
  ok?: boolean;
  chainId?: number;
  block?: number | string;
}

function Network() {
  const [health, setHealth] = useState<Health>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    const poll = () =>
      api
        .get<Health>('/api/health')
        .then((h) => {
          if (!live) return;
          setHealth(h);
          setError(undefined);
        })
        .catch((e) => live && setError(errorMessage(e)));
    poll();
    const t = setInterval(poll, 5000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  const chainName = (id?: number) =>
    id === 1612
      ? 'OpenLedger'
      : id === 161201
        ? 'OpenLedger testnet'
        : id === 31337
          ? 'Local chain'
          : 'Chain';
  if (error)
    return (
      <span className="net net-down" title={error} role="status">
        <span className="dot" aria-hidden="true" /> Node offline
      </span>
    );
  if (!health)
    return (
      <span className="net" role="status">
        <span className="dot dot-wait" aria-hidden="true" /> Connecting…
      </span>
    );
  return (
    <span className="net" title={`chain id ${health.chainId}, block ${health.block}`}>
      <span className="dot dot-ok" aria-hidden="true" />
      <span className="net-name">{chainName(health.chainId)}</span>
      <span className="muted">
        id <span data-testid="chain-id">{health.chainId ?? '?'}</span> · block{' '}
        <span data-testid="block">{String(health.block ?? '?')}</span>
      </span>
    </span>
  );
}

/** "Local account 1 — anvil well-known TEST key (…)" → "Local account 1". */
function shortLabel(label: string): string {
  return label.split(/\s+[—–-]\s+|\s+\(/)[0] || label;
}

function WalletSwitcher() {
  const w = useWallet();
  return (
    <div className="wallet">
      {w.accounts.length > 0 ? (
        <>
          <label className="sr-only" htmlFor="account-select">
            Account
          </label>
          <select
            id="account-select"
            value={w.address ?? ''}
            onChange={(e) => w.select(e.target.value as `0x${string}`)}
            title="Local test accounts (anvil's well-known keys)"
          >
            {w.accounts.map((a) => (
              <option key={a.address} value={a.address} title={a.label}>
                {shortLabel(a.label)} · {shortHex(a.address, 4)}
              </option>
            ))}
          </select>
        </>
      ) : w.injected ? (
        <button type="button" className="btn btn-small" onClick={() => void w.connectInjected()}>
          {w.address ? shortHex(w.address, 4) : 'Connect wallet'}
        </button>
      ) : (
        <span className="muted small" title={w.accountsError}>
          {w.accountsLoading ? 'Loading accounts…' : 'No wallet'}
        </span>
      )}
      {w.address &&
        (w.signedIn ? (
          <button
            type="button"
            className="btn btn-small btn-ghost"
            onClick={w.signOut}
            data-testid="sign-out"
          >
            <span className="dot dot-ok" aria-hidden="true" /> Signed in · Sign out
          </button>
        ) : (
          <button
            type="button"
            className="btn btn-small btn-primary"
            onClick={() => void w.signIn()}
            disabled={w.busy}
            data-testid="sign-in"
          >
            {w.busy ? 'Signing…' : 'Sign in'}
          </button>
        ))}
    </div>
  );
}

function Page({ route }: { route: Route }) {
  const [a, b, c] = route.parts;
  switch (a) {
    case undefined:
      return <Home />;
    case 'datanets':
      if (b === 'new') return <DatanetCreate />;
      if (b) return <DatanetPage id={b} tab={c} query={route.query} />;
      return <Datanets />;
    case 'rows':
      return b ? <RowPage rowId={b} /> : <NotFound path={route.path} />;
    case 'factory':
      if (b === 'jobs' && c) return <JobPage id={c} />;
      return <Factory />;
    case 'playground':
      return <Playground initialModel={route.query.get('model') ?? undefined} />;
    case 'rewards':
      return <Rewards />;
    case 'governance':
      return <Governance />;
    case 'explorer':
      return (
        <Explorer
          modelId={b === 'models' ? c : undefined}
          receiptId={route.query.get('receipt') ?? undefined}
        />
      );
    case 'report':
      return b ? <Report modelId={b} /> : <NotFound path={route.path} />;
    default:
      return <NotFound path={route.path} />;
  }
}

function NotFound({ path }: { path: string }) {
  return (
    <section>
      <h1 tabIndex={-1} id="page-title">
        Page not found
      </h1>
      <p>
        There is no page at <code>{path}</code>. <Link to="/">Go to the start page</Link>.
      </p>
    </section>
  );
}

class Boundary extends Component<{ children: ReactNode; resetKey: string }, { error?: unknown }> {
  override state: { error?: unknown } = {};
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override componentDidUpdate(prev: { resetKey: string }) {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: undefined });
  }
  override componentDidCatch(_e: unknown, _info: ErrorInfo) {
    // The message is shown on the page; nothing to log.
  }
  override render() {
    if (this.state.error)
      return (
        <ErrorBox
          title="This page failed to render"
          error={this.state.error}
          onRetry={() => this.setState({ error: undefined })}
        />
      );
    return this.props.children;
  }
}

function Shell() {
  const route = useRoute();
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each route change
  useEffect(() => {
    // Move focus to the new page's heading so keyboard and screen-reader users land on it.
    if (first.current) {
      first.current = false;
      return;
    }
    const h = document.getElementById('page-title');
    (h ?? mainRef.current)?.focus({ preventScroll: false });
    window.scrollTo(0, 0);
  }, [route.path]);
  const section = `/${route.parts[0] ?? ''}`;
  return (
    <>
      <button type="button" className="skip" onClick={() => mainRef.current?.focus()}>
        Skip to content
      </button>
      <header className="topbar">
        <div className="topbar-row">
          <Link to="/" className="brand" aria-label="OpenLedger Studio home">
            <span className="logo" aria-hidden="true">
              ◆
            </span>{' '}
            OpenLedger <span className="brand-sub">Studio</span>
          </Link>
          <Network />
          <WalletSwitcher />
        </div>
        <nav aria-label="Main" className="nav">
          {NAV.map((n) => (
            <Link
              key={n.to}
              to={n.to}
              className={
                section === n.to || (n.to === '/explorer' && section === '/report') ? 'active' : undefined
              }
              aria-current={section === n.to ? 'page' : undefined}
            >
              {n.label}
            </Link>
          ))}
        </nav>
      </header>
      <WalletError />
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Boundary resetKey={route.path}>
          <Page route={route} />
        </Boundary>
      </main>
      <footer className="footer muted small">
        OpenLedger Studio · local test accounts use anvil's well-known keys — never use them on a real chain ·{' '}
        <a href="/docs">API docs</a>
      </footer>
    </>
  );
}

function WalletError() {
  const w = useWallet();
  if (!w.error) return null;
  return (
    <div className="wallet-error notice notice-error" role="alert">
      {w.error}
    </div>
  );
}

export function App() {
  return (
    <WalletProvider>
      <Shell />
    </WalletProvider>
  );
}
