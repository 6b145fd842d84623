// Inline SVG charts: a loss curve and a lineage graph. Small enough not to need a chart library.

export interface LossPoint {
  step: number;
  loss?: number;
  valLoss?: number;
}

function niceTicks(min: number, max: number, count = 4, integer = false): number[] {
  if (!(max > min)) return [min];
  const raw = Math.max((max - min) / count, integer ? 1 : 0);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-12; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

export function LossChart({ points, totalSteps }: { points: LossPoint[]; totalSteps?: number }) {
  const W = 640;
  const H = 260;
  const pad = { l: 48, r: 16, t: 14, b: 32 };
  const values = points
    .flatMap((p) => [p.loss, p.valLoss])
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const maxStep = Math.max(totalSteps ?? 0, ...points.map((p) => p.step), 1);
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const span = hi - lo || Math.abs(hi) * 0.1 || 1;
  const yMin = Math.max(0, lo - span * 0.08);
  const yMax = hi + span * 0.08;
  const x = (s: number) => pad.l + (s / maxStep) * (W - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (v - yMin) / (yMax - yMin)) * (H - pad.t - pad.b);
  const path = (key: 'loss' | 'valLoss') =>
    points
      .filter((p) => typeof p[key] === 'number' && Number.isFinite(p[key]))
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.step).toFixed(1)},${y(p[key] as number).toFixed(1)}`)
      .join(' ');
  const last = points[points.length - 1];
  const summary = last
    ? `Loss curve: ${points.length} points, step ${last.step} of ${maxStep}, latest training loss ${last.loss?.toFixed(4) ?? 'n/a'}${
        last.valLoss !== undefined ? `, validation loss ${last.valLoss.toFixed(4)}` : ''
      }.`
    : 'Loss curve: waiting for the first training step.';
  return (
    <figure style={{ margin: 0 }}>
      <svg
        className="chart"
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={summary}
        data-testid="loss-chart"
      >
        {niceTicks(yMin, yMax).map((t) => (
          <g key={`y${t}`}>
            <line x1={pad.l} x2={W - pad.r} y1={y(t)} y2={y(t)} stroke="#e6e9ef" />
            <text x={pad.l - 6} y={y(t) + 4} textAnchor="end">
              {t}
            </text>
          </g>
        ))}
        {niceTicks(0, maxStep, 5, true).map((t) => (
          <text key={`x${t}`} x={x(t)} y={H - 10} textAnchor="middle">
            {t}
          </text>
        ))}
        <line x1={pad.l} x2={W - pad.r} y1={H - pad.b} y2={H - pad.b} stroke="#c9ced8" />
        <path d={path('loss')} fill="none" stroke="#2b59c3" strokeWidth={2} />
        <path d={path('valLoss')} fill="none" stroke="#d97706" strokeWidth={2} strokeDasharray="5 4" />
        {points.map((p) => (
          <g key={p.step}>
            {typeof p.loss === 'number' && Number.isFinite(p.loss) && points.length <= 60 && (
              <circle cx={x(p.step)} cy={y(p.loss)} r={3} fill="#2b59c3" />
            )}
            {typeof p.valLoss === 'number' && Number.isFinite(p.valLoss) && (
              <circle cx={x(p.step)} cy={y(p.valLoss)} r={3.5} fill="#d97706" />
            )}
          </g>
        ))}
        {points.length === 0 && (
          <text x={W / 2} y={H / 2} textAnchor="middle">
            waiting for the first step…
          </text>
        )}
      </svg>
      <figcaption className="legend">
        <span>
          <span className="swatch" style={{ background: '#2b59c3' }} />
          training loss
        </span>
        <span>
          <span className="swatch" style={{ background: '#d97706' }} />
          validation loss
        </span>
        <span>step</span>
      </figcaption>
    </figure>
  );
}

export interface GraphNode {
  id: string;
  label: string;
  sub?: string;
  kind: 'base' | 'datanet' | 'adapter' | 'other';
  href?: string;
}

const COLORS: Record<GraphNode['kind'], string> = {
  base: '#eef2f8',
  datanet: '#e6f4ec',
  adapter: '#e8eefb',
  other: '#f1f3f7',
};

/** Three columns: base model → datanet versions → adapter; edges drawn as curves. */
export function LineageGraph({ nodes, edges }: { nodes: GraphNode[]; edges: [string, string][] }) {
  const cols: GraphNode['kind'][] = ['base', 'datanet', 'adapter'];
  const byCol = cols.map((k) => nodes.filter((n) => n.kind === k || (k === 'datanet' && n.kind === 'other')));
  const rows = Math.max(1, ...byCol.map((c) => c.length));
  const W = 720;
  const NW = 190;
  const NH = 54;
  const gap = 22;
  const H = rows * (NH + gap) + gap;
  const pos = new Map<string, { x: number; y: number }>();
  byCol.forEach((col, ci) => {
    const x = 10 + ci * ((W - NW - 20) / 2);
    const top = (H - col.length * (NH + gap) + gap) / 2;
    col.forEach((n, ri) => {
      pos.set(n.id, { x, y: top + ri * (NH + gap) });
    });
  });
  const desc = `Lineage: ${byCol[0].map((n) => n.label).join(', ') || 'unknown base'} → ${
    byCol[1].map((n) => `${n.label} ${n.sub ?? ''}`).join(', ') || 'no datanets'
  } → ${byCol[2].map((n) => n.label).join(', ') || 'adapter'}.`;
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={desc} data-testid="lineage-graph">
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M0,0 L10,5 L0,10 z" fill="#8a93a3" />
        </marker>
      </defs>
      {edges.map(([a, b]) => {
        const p = pos.get(a);
        const q = pos.get(b);
        if (!p || !q) return null;
        const x1 = p.x + NW;
        const y1 = p.y + NH / 2;
        const x2 = q.x;
        const y2 = q.y + NH / 2;
        const mx = (x1 + x2) / 2;
        return (
          <path
            key={`${a}->${b}`}
            d={`M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 2},${y2}`}
            fill="none"
            stroke="#8a93a3"
            strokeWidth={1.5}
            markerEnd="url(#arrow)"
          />
        );
      })}
      {nodes.map((n) => {
        const p = pos.get(n.id);
        if (!p) return null;
        const body = (
          <g key={n.id}>
            <rect x={p.x} y={p.y} width={NW} height={NH} rx={8} fill={COLORS[n.kind]} stroke="#c9ced8" />
            <text x={p.x + 10} y={p.y + 22} style={{ fontSize: 13, fill: '#1b1f27', fontWeight: 600 }}>
              {n.label.length > 24 ? `${n.label.slice(0, 23)}…` : n.label}
            </text>
            <text x={p.x + 10} y={p.y + 40}>
              {(n.sub ?? n.kind).slice(0, 30)}
            </text>
          </g>
        );
        return n.href ? (
          <a key={n.id} href={n.href}>
            {body}
          </a>
        ) : (
          <g key={n.id}>{body}</g>
        );
      })}
    </svg>
  );
}
