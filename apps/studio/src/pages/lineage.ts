// Reads a model's lineage (GET /api/models/:id) into graph nodes, whatever the exact field names.
import { ApiError, api, seg, shortHex } from '../api.ts';
import type { GraphNode } from '../charts.tsx';
import { asList, pick } from '../ui.tsx';

export type Model = Record<string, unknown>;

export interface Lineage {
  base: { id: string; hash?: string };
  datanets: { id: string; version?: number; root?: string; name?: string }[];
  adapter: { id: string; hash?: string; configHash?: string };
}

export function readLineage(m: Model): Lineage {
  const lin = (pick<Record<string, unknown>>(m, 'lineage') ?? m) as Record<string, unknown>;
  const base = pick(lin, 'base', 'baseModel');
  const adapter = pick(lin, 'adapter');
  return {
    base: {
      id: String(
        typeof base === 'object' ? (pick(base, 'id', 'name') ?? '?') : (base ?? pick(m, 'baseModel') ?? '?'),
      ),
      hash:
        String(
          (typeof base === 'object' ? pick(base, 'hash') : undefined) ??
            pick(lin, 'baseHash', 'baseModelHash') ??
            '',
        ) || undefined,
    },
    datanets: asList<Record<string, unknown>>(pick(lin, 'datanets', 'datanetVersions')).map((d) => ({
      id: String(pick(d, 'id', 'datanetId') ?? '?'),
      version: pick<number>(d, 'version'),
      root: pick<string>(d, 'root'),
      name: pick<string>(d, 'name'),
    })),
    adapter: {
      id: String(
        (typeof adapter === 'object' ? pick(adapter, 'id') : adapter) ?? pick(m, 'adapterId', 'id') ?? '?',
      ),
      hash:
        String(
          (typeof adapter === 'object' ? pick(adapter, 'hash') : undefined) ?? pick(lin, 'adapterHash') ?? '',
        ) || undefined,
      configHash:
        pick<string>(lin, 'trainingConfigHash', 'configHash') ??
        pick<string>(m, 'trainingConfigHash', 'configHash'),
    },
  };
}

export function lineageGraph(
  m: Model,
  names: Record<string, string> = {},
): { nodes: GraphNode[]; edges: [string, string][] } {
  const l = readLineage(m);
  const nodes: GraphNode[] = [
    {
      id: 'base',
      label: l.base.id,
      sub: l.base.hash ? shortHex(l.base.hash, 4) : 'base model',
      kind: 'base',
    },
  ];
  const edges: [string, string][] = [];
  l.datanets.forEach((d, i) => {
    const id = `dn${i}`;
    nodes.push({
      id,
      label: d.name ?? names[d.id] ?? `Datanet ${d.id}`,
      sub: `v${d.version ?? '?'} · ${d.root ? shortHex(d.root, 4) : 'root ?'}`,
      kind: 'datanet',
      href: `#/datanets/${seg(d.id)}/versions`,
    });
    edges.push(['base', id], [id, 'adapter']);
  });
  nodes.push({
    id: 'adapter',
    label: String(pick(m, 'name') ?? l.adapter.id),
    sub: l.adapter.hash ? `adapter ${shortHex(l.adapter.hash, 4)}` : 'adapter',
    kind: 'adapter',
  });
  if (l.datanets.length === 0) edges.push(['base', 'adapter']);
  return { nodes, edges };
}

export async function buildReport(modelId: string): Promise<Record<string, unknown>> {
  const model = await loadModel(modelId);
  const lineage = readLineage(model);
  const datanets = await Promise.all(
    lineage.datanets.map(async (d) => {
      try {
        const [info, versions] = await Promise.all([
          api.get(`/api/datanets/${seg(d.id)}`),
          api.get(`/api/datanets/${seg(d.id)}/versions`).then((r) => asList(r, 'versions')),
        ]);
        const v = versions.find((x) => Number(pick(x, 'version')) === Number(d.version));
        return {
          id: d.id,
          name: pick(pick(info, 'datanet') ?? info, 'name'),
          license: pick(pick(info, 'datanet') ?? info, 'license', 'licence'),
          version: d.version,
          root: d.root ?? pick(v, 'root'),
          rowCount: pick(v, 'rowCount'),
          txHash: pick(v, 'txHash'),
        };
      } catch (e) {
        return { id: d.id, version: d.version, root: d.root, error: (e as Error).message };
      }
    }),
  );
  let chain: unknown;
  try {
    chain = await api.get('/api/chain/status');
  } catch {
    chain = undefined;
  }
  return {
    kind: 'openledger.audit-report',
    generatedAt: new Date().toISOString(),
    chain: chain
      ? {
          chainId: pick(chain, 'chainId'),
          blockNumber: pick(chain, 'blockNumber'),
          contracts: pick(chain, 'contracts'),
        }
      : null,
    model,
    lineage: { ...lineage, datanets },
  };
}

export function downloadJson(name: string, data: unknown): void {
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A published model as the factory job that produced it describes it (when /api/models is absent). */
function modelFromJob(job: Record<string, unknown>): Model {
  const spec = (pick<Record<string, unknown>>(job, 'spec') ?? {}) as Record<string, unknown>;
  const id = pick(job, 'modelId');
  return {
    id,
    name: String(pick(spec, 'name') || `Model ${String(id)}`),
    owner: pick(job, 'owner'),
    baseModel: pick(spec, 'baseModel'),
    jobId: pick(job, 'id'),
    createdAt: pick(job, 'finishedAt', 'createdAt'),
    lineage: {
      base: { id: pick(spec, 'baseModel'), hash: pick(job, 'baseModelHash') },
      datanets: asList<Record<string, unknown>>(pick(spec, 'datanets')).map((d) => ({
        datanetId: pick(d, 'id', 'datanetId'),
        version: pick(d, 'version'),
      })),
      dataHash: pick(job, 'dataHash'),
    },
    source: 'factory-job',
  };
}

const isMissing = (e: unknown) => e instanceof ApiError && e.missingRoute;

/** GET /api/models, or the published factory jobs when that route is not on the node yet. */
export async function loadModels(signal?: AbortSignal): Promise<Model[]> {
  try {
    return asList<Model>(await api.get('/api/models', signal), 'models');
  } catch (e) {
    if (!isMissing(e)) throw e;
    const jobs = asList<Record<string, unknown>>(await api.get('/api/factory/jobs', signal), 'jobs');
    const published = jobs.filter((j) => pick(j, 'modelId') !== undefined);
    if (published.length === 0) throw e;
    return published.map(modelFromJob);
  }
}

/** Fills each lineage datanet's Merkle root from its versions (the registry records only ids). */
async function withRoots(model: Model, signal?: AbortSignal): Promise<Model> {
  const lin = (pick<Record<string, unknown>>(model, 'lineage') ?? {}) as Record<string, unknown>;
  const refs = asList<Record<string, unknown>>(pick(lin, 'datanets', 'datanetVersions'));
  if (refs.length === 0 || refs.every((d) => pick(d, 'root'))) return model;
  const filled = await Promise.all(
    refs.map(async (d) => {
      if (pick(d, 'root')) return d;
      const dn = pick(d, 'id', 'datanetId');
      try {
        const versions = asList(
          await api.get(`/api/datanets/${seg(String(dn))}/versions`, signal),
          'versions',
        );
        const v = versions.find((x) => Number(pick(x, 'version')) === Number(pick(d, 'version')));
        return { ...d, root: pick(v, 'root') };
      } catch {
        return d;
      }
    }),
  );
  return { ...model, lineage: { ...lin, datanets: filled } };
}

/** Price and adapter hash of a model as served (GET /v1/models), for the job-based fallback. */
async function withServing(model: Model, signal?: AbortSignal): Promise<Model> {
  try {
    const list = asList<Record<string, unknown>>(await api.get('/v1/models', signal), 'data');
    const info = list
      .map((m) => pick<Record<string, unknown>>(m, 'openledger'))
      .find((o) => String(pick(o, 'modelId')) === String(pick(model, 'id')));
    if (!info) return model;
    const lin = (pick<Record<string, unknown>>(model, 'lineage') ?? {}) as Record<string, unknown>;
    return {
      ...model,
      pricePerKInput: pick(info, 'pricePerKInput'),
      pricePerKOutput: pick(info, 'pricePerKOutput'),
      lineage: { ...lin, adapterHash: pick(info, 'adapterHash') },
    };
  } catch {
    return model;
  }
}

/** GET /api/models/:id, or the factory job that published it. */
export async function loadModel(id: string, signal?: AbortSignal): Promise<Model> {
  try {
    const raw = await api.get<Model>(`/api/models/${seg(id)}`, signal);
    return withRoots((pick<Model>(raw, 'model') ?? raw) as Model, signal);
  } catch (e) {
    if (!isMissing(e)) throw e;
    const jobs = asList<Record<string, unknown>>(await api.get('/api/factory/jobs', signal), 'jobs');
    const job = jobs.find((j) => String(pick(j, 'modelId')) === id);
    if (!job) throw e;
    return withRoots(await withServing(modelFromJob(job), signal), signal);
  }
}
