// Shared building blocks: data loading with loading / empty / error states, form fields, notices.
import {
  type ButtonHTMLAttributes,
  type DependencyList,
  type ReactNode,
  useCallback,
  useEffect,
  useId,
  useRef,
  useState,
} from 'react';
import { ApiError, errorMessage } from './api.ts';
import { useWallet } from './wallet.tsx';

export interface Loaded<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs an async loader when deps change; never lets a rejection escape to the console. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  // biome-ignore lint/correctness/useExhaustiveDependencies: deps are the caller's
  useEffect(() => {
    const ctrl = new AbortController();
    setState((s) => ({ data: s.data, loading: true }));
    loadRef
      .current(ctrl.signal)
      .then((data) => !ctrl.signal.aborted && setState({ data, loading: false }))
      .catch((error) => !ctrl.signal.aborted && setState({ error, loading: false }));
    return () => ctrl.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorBox({
  error,
  onRetry,
  title,
}: {
  error: unknown;
  onRetry?: () => void;
  title?: string;
}) {
  const missing = error instanceof ApiError && error.missingRoute;
  const offline = error instanceof ApiError && error.code === 'network';
  const heading =
    title ??
    (missing
      ? 'Not available on this node yet'
      : offline
        ? 'The node is unreachable'
        : 'Something went wrong');
  return (
    <div className={`notice ${missing ? 'notice-warn' : 'notice-error'}`} role="alert">
      <strong>{heading}</strong>
      <p>{errorMessage(error)}</p>
      {error instanceof ApiError && error.field && (
        <p className="muted">
          Field: <code>{error.field}</code>
        </p>
      )}
      {onRetry && (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children, action }: { children: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      <p>{children}</p>
      {action}
    </div>
  );
}

/** Renders loading / error / data, and `empty` when isEmpty(data). */
export function Async<T>({
  state,
  children,
  empty,
  isEmpty,
  label,
}: {
  state: Loaded<T>;
  children: (data: T) => ReactNode;
  empty?: ReactNode;
  isEmpty?: (d: T) => boolean;
  label?: string;
}) {
  if (state.error !== undefined && state.data === undefined)
    return <ErrorBox error={state.error} onRetry={state.reload} />;
  if (state.data === undefined) return <Spinner label={label} />;
  if (
    empty !== undefined &&
    (isEmpty ? isEmpty(state.data) : Array.isArray(state.data) && state.data.length === 0)
  )
    return <Empty>{empty}</Empty>;
  return (
    <>
      {state.error !== undefined && <ErrorBox error={state.error} onRetry={state.reload} />}
      {children(state.data)}
    </>
  );
}

/** A button that runs an async action, shows progress, and reports the result (never throws). */
export function ActionButton({
  action,
  children,
  onDone,
  onError,
  className = 'btn',
  busyLabel,
  ...rest
}: {
  action: () => Promise<unknown>;
  onDone?: (result: unknown) => void;
  onError?: (e: unknown) => void;
  busyLabel?: string;
} & Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'onClick' | 'onError'>) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      className={className}
      disabled={busy || rest.disabled}
      aria-busy={busy}
      {...rest}
      onClick={async () => {
        setBusy(true);
        try {
          const r = await action();
          onDone?.(r);
        } catch (e) {
          onError?.(e);
        } finally {
          setBusy(false);
        }
      }}
    >
      {busy ? (busyLabel ?? 'Working…') : children}
    </button>
  );
}

export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: ReactNode;
  error?: string;
  children: (id: string, describedBy?: string) => ReactNode;
}) {
  const id = useId();
  const hintId = hint || error ? `${id}-hint` : undefined;
  return (
    <div className={`field${error ? ' field-error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children(id, hintId)}
      {(hint || error) && (
        <div id={hintId} className={error ? 'field-msg error-text' : 'field-msg muted'}>
          {error ?? hint}
        </div>
      )}
    </div>
  );
}

export function Notice({
  kind = 'info',
  children,
}: {
  kind?: 'info' | 'ok' | 'warn' | 'error';
  children: ReactNode;
}) {
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function PageHeader({
  title,
  lead,
  actions,
}: {
  title: string;
  lead?: ReactNode;
  actions?: ReactNode;
}) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · OpenLedger Studio`;
  }, [title]);
  return (
    <header className="page-header">
      <div>
        <h1 ref={ref} tabIndex={-1} id="page-title">
          {title}
        </h1>
        {lead && <p className="lead">{lead}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </header>
  );
}

/** Shown in place of a write action when nobody is signed in. */
export function SignInHint({ what }: { what: string }) {
  const w = useWallet();
  if (w.signedIn) return null;
  return (
    <Notice kind="warn">
      Sign in to {what}.{' '}
      {w.address && (
        <button type="button" className="btn btn-small" onClick={() => void w.signIn()} disabled={w.busy}>
          {w.busy ? 'Signing in…' : 'Sign in'}
        </button>
      )}
    </Notice>
  );
}

export function Tabs<K extends string>({
  tabs,
  active,
  onChange,
  label,
}: {
  tabs: { key: K; label: string; badge?: number }[];
  active: K;
  onChange: (k: K) => void;
  label: string;
}) {
  return (
    <div className="tabs" role="tablist" aria-label={label}>
      {tabs.map((t) => (
        <button
          key={t.key}
          type="button"
          role="tab"
          id={`tab-${t.key}`}
          aria-selected={active === t.key}
          className={active === t.key ? 'tab active' : 'tab'}
          onClick={() => onChange(t.key)}
        >
          {t.label}
          {t.badge !== undefined && t.badge > 0 && <span className="badge">{t.badge}</span>}
        </button>
      ))}
    </div>
  );
}

export function Hash({ value, n = 6 }: { value: unknown; n?: number }) {
  const s = String(value ?? '');
  if (!s) return <span className="muted">—</span>;
  const short = s.length > 2 * n + 2 ? `${s.slice(0, n + 2)}…${s.slice(-n)}` : s;
  return (
    <code className="hash" title={s}>
      {short}
    </code>
  );
}

export function Progress({ value, label }: { value: number; label: string }) {
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <div className="progress-wrap">
      <div
        className="progress"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
      >
        <div className="progress-bar" style={{ width: `${pct}%` }} />
      </div>
      <span className="muted small">{pct}%</span>
    </div>
  );
}

/** Picks the first defined field among several possible names (the API grows while we build). */
export function pick<T = unknown>(o: unknown, ...keys: string[]): T | undefined {
  if (!o || typeof o !== 'object') return undefined;
  for (const k of keys) {
    const v = (o as Record<string, unknown>)[k];
    if (v !== undefined && v !== null) return v as T;
  }
  return undefined;
}

/** Lists arrive bare or wrapped ({ items }, { data }, { datanets } …). */
export function asList<T = Record<string, unknown>>(v: unknown, ...keys: string[]): T[] {
  if (Array.isArray(v)) return v as T[];
  for (const k of [...keys, 'items', 'data', 'results']) {
    const inner = pick(v, k);
    if (Array.isArray(inner)) return inner as T[];
  }
  return [];
}

/** Pairs items with unique React keys derived from a label (suffixing repeats). */
export function withKeys<T>(items: T[], label: (t: T) => string): { item: T; key: string }[] {
  const seen = new Map<string, number>();
  return items.map((item) => {
    const base = label(item);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return { item, key: n ? `${base}#${n}` : base };
  });
}

export function when(t: unknown): string {
  if (t === undefined || t === null || t === '') return '—';
  const n = typeof t === 'number' ? (t < 1e12 ? t * 1000 : t) : Date.parse(String(t));
  if (!Number.isFinite(n)) return String(t);
  return new Date(n).toLocaleString();
}

/** Shortens text to n characters with an ellipsis. */
export function clip(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1).trimEnd()}…` : text;
}
