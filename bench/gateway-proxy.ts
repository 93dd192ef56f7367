/**
 * The gateway benchmark's bare pass-through proxy: the floor of any Node proxy here. Each request's
 * body is read whole and sent to one upstream with undici (kept-alive connections, at most 1,024, as
 * the gateway's), with the serving key as its `Authorization`; the answer's status and content type
 * are passed back and its body streamed through. No auth, no limits, no routing, no metering.
 *
 * Arguments: the upstream's origin and its serving key. Prints `listening <port>`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';

const [origin, servingKey] = process.argv.slice(2);
if (!origin || !servingKey) {
  process.stderr.write('usage: gateway-proxy.ts <upstream origin> <serving key>\n');
  process.exit(2);
}
const upstream = new Pool(origin, { connections: 1024, keepAliveTimeout: 4_000 });
const authorization = `Bearer ${servingKey}`;

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    upstream
      .request({
        path: req.url ?? '/',
        method: req.method === 'POST' ? 'POST' : 'GET',
        headers: { 'content-type': 'application/json', authorization },
        body: Buffer.concat(parts),
      })
      .then(async (answer) => {
        res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
        await pipeline(answer.body, res);
      })
      .catch(() => {
        if (res.headersSent) res.destroy();
        else res.writeHead(502).end();
      });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
