import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A TCP relay in front of a server (Redis, in the tests), which a test can freeze or cut. */
export interface TcpRelay {
  /** The target's URL with the relay's port. */
  readonly url: string;
  /** Stops passing bytes on, connections kept open: the server looks alive and never answers. */
  freeze(): void;
  /** Drops every connection and stops accepting: the server looks gone. */
  cut(): Promise<void>;
}

export async function tcpRelay(target: URL): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('close', () => sockets.delete(from));
      from.on('error', () => {});
      from.on('data', (chunk: Buffer) => {
        if (!frozen) to.write(chunk);
      });
    }
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = new URL(target.href);
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.href,
    freeze: () => {
      frozen = true;
    },
    cut: async () => {
      const closed = new Promise((r) => server.close(r));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/**
 * A load balancer in front of several servers (platform processes, in the tests): each connection goes to one target,
 * picked by `pick` (at random, as a balancer without session affinity would); a test can drop the
 * connections that went to one target.
 */
export async function balancer(
  targets: readonly string[],
  pick: () => number,
): Promise<{ url: string; sent: () => number[]; drop(target: number): void; close(): Promise<void> }> {
  const sockets = new Map<Socket, number>();
  const sent = targets.map(() => 0);
  const server = createServer((client) => {
    const i = pick();
    sent[i]! += 1;
    const to = new URL(targets[i]!);
    const upstream = connect(Number(to.port), to.hostname);
    for (const s of [client, upstream]) {
      sockets.set(s, i);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent: () => [...sent],
    drop: (target) => {
      for (const [s, i] of sockets) if (i === target) s.destroy();
    },
    close: async () => {
      for (const s of sockets.keys()) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
