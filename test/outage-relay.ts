/**
 * A TCP relay to a server that a test can take down (new connections refused, open ones cut) and
 * bring back, as an outage of the platform looks to an agent. (tcp-relay.ts freezes or cuts for good.)
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class Relay {
  down = false;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  url = '';

  async start(target: URL): Promise<void> {
    this.server = createServer((client) => {
      if (this.down) return void client.destroy();
      const upstream = connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Refuses new connections and cuts the open ones. */
  takeDown(): void {
    this.down = true;
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.takeDown();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
