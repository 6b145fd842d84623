/** Where a registered adapter's two files (PEFT: weights + config) can be read from. */
export interface AdapterLocation {
  /** content ids (sha256 hex) in the node's own blob store */
  blobs?: { weights: string; config: string };
  /** http(s) locations, read through the disk cache */
  remote?: RemoteAdapterUrls;
}

export interface RemoteAdapterUrls {
  weightsUrl: string;
  configUrl: string;
  /** sha256 hex of adapter_config.json when the URI is content-addressed; the download is checked against it */
  configSha256?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const WEIGHTS = 'adapter_model.safetensors';
const CONFIG = 'adapter_config.json';

/**
 * Reads a ModelRegistry `uri`:
 * - `openledger://blobs/<weights-sha256>?config=<config-sha256>` — content-addressed blobs; read from
 *   the local blob store and, when `baseUrl` is set (a hub or bucket serving blobs by hash as
 *   `<baseUrl>/<sha256>`), also fetchable from there;
 * - `http(s)://…/adapter_model.safetensors` — the weights file, with `adapter_config.json` beside it;
 * - `http(s)://…/dir/` (any other http(s) URL) — a PEFT directory holding both files.
 * Returns null for a URI naming nothing this node can read.
 */
export function adapterLocation(uri: string, options: { baseUrl?: string } = {}): AdapterLocation | null {
  const blobs = /^openledger:\/\/blobs\/([0-9a-f]{64})(?:\?(.*))?$/.exec(uri);
  if (blobs) {
    const config = new URLSearchParams(blobs[2] ?? '').get('config');
    if (!config || !HEX64.test(config)) return null;
    const location: AdapterLocation = { blobs: { weights: blobs[1], config } };
    if (options.baseUrl) {
      const base = options.baseUrl.replace(/\/+$/, '');
      location.remote = {
        weightsUrl: `${base}/${blobs[1]}`,
        configUrl: `${base}/${config}`,
        configSha256: config,
      };
    }
    return location;
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.pathname.endsWith('.safetensors')) {
    return { remote: { weightsUrl: url.href, configUrl: new URL(CONFIG, url).href } };
  }
  const dir = new URL(url.href);
  dir.search = '';
  dir.hash = '';
  if (!dir.pathname.endsWith('/')) dir.pathname += '/';
  return { remote: { weightsUrl: new URL(WEIGHTS, dir).href, configUrl: new URL(CONFIG, dir).href } };
}
