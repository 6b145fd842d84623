// Server-Sent Events over fetch + ReadableStream: unlike EventSource this can POST a body and send
// an Authorization header (needed for /v1/chat/completions and authenticated job streams).
import { authHeaders, networkError, toApiError } from './api.ts';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** Incremental parser: feed it text chunks, get complete events back. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const line = this.buffer.slice(0, nl);
      const sep = this.buffer.startsWith('\r\n', nl) ? 2 : 1;
      this.buffer = this.buffer.slice(nl + sep);
      if (line === '') {
        if (this.data.length > 0)
          out.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id') this.id = value;
    }
    return out;
  }

  /** Flush a final event that was not followed by a blank line. */
  end(): SseEvent[] {
    const out = this.push('\n\n');
    return out;
  }
}

export interface StreamOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  onEvent: (e: SseEvent) => void;
}

/** Opens an SSE stream and calls onEvent for each event until the server closes it. */
export async function streamSse(path: string, opts: StreamOptions): Promise<void> {
  const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
  const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders(), ...opts.headers };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') return;
    throw networkError(method, path, e);
  }
  if (!res.ok) throw await toApiError(res, method, path);
  const type = res.headers.get('content-type') ?? '';
  if (!res.body || !type.includes('text/event-stream')) {
    // A server that answered with plain JSON instead of a stream: hand it over as one event.
    const text = await res.text();
    opts.onEvent({ event: 'message', data: text });
    return;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  for (;;) {
    let chunk: ReadableStreamReadResult<string>;
    try {
      chunk = await reader.read();
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      throw networkError(method, path, e);
    }
    if (chunk.done) break;
    for (const e of parser.push(chunk.value)) opts.onEvent(e);
  }
  for (const e of parser.end()) opts.onEvent(e);
}
