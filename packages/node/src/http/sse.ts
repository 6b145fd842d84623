import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Opens a Server-Sent Events stream on a request. Returns `send(event, data)` and `close()`;
 * `onClose` runs once when the client goes away or the stream is closed.
 */
export function openSse(
  request: FastifyRequest,
  reply: FastifyReply,
  onClose: () => void,
): { send: (event: string, data: unknown) => void; close: () => void } {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let closed = false;
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    onClose();
  };
  request.raw.on('close', finish);
  return {
    send(event, data) {
      if (closed) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close() {
      finish();
      res.end();
    },
  };
}
