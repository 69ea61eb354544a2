/**
 * A `fetch` over HTTPS that trusts a given CA (and may present a client certificate), for the
 * CLI talking to a control gateway served with `--ctl-server-certificate`: Node's global `fetch`
 * takes no `ca` option. Enough of `fetch` for `CtlClient`: method, headers, a string body, an
 * abort signal, and a streamed response body (`config apply --wait` reads NDJSON).
 */
import { request } from 'node:https';
import { Readable } from 'node:stream';
import type { Pem } from './http-server.js';

export interface TlsClientOptions {
  /** CAs to trust instead of the system's (PEM). @default the system's */
  ca?: Pem | undefined;
  /** A client certificate chain and its key, for a gateway that requires one. */
  cert?: Pem | undefined;
  key?: Pem | undefined;
  /** The name to check the server's certificate against. @default the URL's host */
  servername?: string | undefined;
}

export function tlsFetch(options: TlsClientOptions): typeof fetch {
  const buf = (p: Pem | undefined): Buffer | string | undefined => (p === undefined || typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => (headers[k] = v));
      const body = init.body;
      if (body !== undefined && body !== null && typeof body !== 'string') {
        reject(new TypeError('tlsFetch sends string bodies only'));
        return;
      }
      if (body !== undefined && body !== null) headers['content-length'] = String(Buffer.byteLength(body));
      const req = request(
        url,
        {
          method: init.method ?? 'GET',
          headers,
          ca: buf(options.ca),
          cert: buf(options.cert),
          key: buf(options.key),
          ...(options.servername !== undefined ? { servername: options.servername } : {}),
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          const responseHeaders = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) responseHeaders.set(k, Array.isArray(v) ? v.join(', ') : v);
          }
          const status = res.statusCode ?? 500;
          const stream = status === 204 || status === 304 || init.method === 'HEAD' ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
          if (!stream) res.resume();
          resolve(new Response(stream, { status, headers: responseHeaders }));
        },
      );
      // As `fetch` does: the network error is the `cause` of a TypeError.
      req.on('error', (err) => {
        const reason: unknown = init.signal?.reason;
        reject(err.name === 'AbortError' ? (reason instanceof Error ? reason : err) : new TypeError('fetch failed', { cause: err }));
      });
      req.end(body ?? undefined);
    });
}
