/**
 * HTTP requests exactly as written: the headers given (no defaults beyond Host), the body as
 * bytes, in chunks or with a length, or left unfinished to see what a server answers before it.
 */
import { request, type Agent, type IncomingHttpHeaders } from 'node:http';

export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** Sent with Transfer-Encoding: chunked (in two writes) rather than a Content-Length. */
  readonly chunked?: boolean;
  /** Declares this Content-Length, sends `body` and waits for the answer without finishing the request. */
  readonly unfinished?: number;
  /** A kept-alive agent to reuse the connection; by default a connection of its own. */
  readonly agent?: Agent;
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export function rawRequest(base: string, r: RawRequest): Promise<RawAnswer> {
  return new Promise((done, fail) => {
    const headers: Record<string, string> = { ...r.headers };
    if (r.unfinished !== undefined) headers['content-length'] = String(r.unfinished);
    else if (r.body !== undefined && !r.chunked) headers['content-length'] = String(Buffer.byteLength(r.body));
    const req = request(base + r.path, { method: r.method ?? 'GET', headers, agent: r.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res
        .on('data', (c: Buffer) => chunks.push(c))
        .on('end', () => {
          done({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() });
          if (r.unfinished !== undefined) req.destroy();
        });
    });
    req.on('error', fail);
    if (r.unfinished !== undefined) {
      req.flushHeaders();
      if (r.body !== undefined) req.write(r.body);
    } else if (r.body !== undefined && r.chunked) {
      const b = Buffer.from(r.body);
      req.write(b.subarray(0, b.length >> 1));
      req.end(b.subarray(b.length >> 1));
    } else {
      req.end(r.body);
    }
  });
}
