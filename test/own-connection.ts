/** A request on a connection of its own, for suites that test a server of several processes on one port. */
import * as http from 'node:http';

/** One request on a connection of its own, so that the primary hands it to any worker. */
export function call(base: string, method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((done, fail) => {
    const req = http.request(
      base + path,
      {
        method,
        agent: false,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (text += c))
          .on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            done({ status: res.statusCode ?? 0, body: parsed, text });
          });
      },
    );
    req.on('error', fail);
    req.end(payload);
  });
}
