/**
 * The agents' tunnel (README "Tunnel"): `GET /api/v1/agent/tunnel` with `Connection: Upgrade` and
 * `Upgrade: tokenpool-tunnel`, authenticated by the agent token like every agent route, answers
 * 101 and becomes the cluster's tunnel (server/tunnel/tunnels.ts). Without the upgrade: 426.
 * The 101 names this process (`tokenpool-process`) and the live ones (`tokenpool-processes`,
 * comma-separated, this one first): the agent keeps a tunnel to each (server/tunnel/processes.ts).
 */
import { AppError } from '../errors.js';
import type { LiveProcesses } from '../tunnel/processes.js';
import { TUNNEL_PROTOCOL, type Tunnels } from '../tunnel/tunnels.js';
import { route, type AnyRoute } from './route.js';

export function tunnelRoutes(tunnels: Pick<Tunnels, 'accept'>, processes: Pick<LiveProcesses, 'self' | 'list'>): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/agent/tunnel',
      tag: 'Agents',
      summary:
        "Open the cluster's tunnel: the connection is upgraded to tokenpool-tunnel (HTTP/2, the platform as client), and the gateway's calls to the cluster's tunnel:// endpoints travel over it",
      auth: ['agent'],
      upgrade: TUNNEL_PROTOCOL,
      headers: [
        { name: 'Connection', description: 'Must be `Upgrade`' },
        { name: 'Upgrade', description: `Must be \`${TUNNEL_PROTOCOL}\`` },
      ],
      responses: {
        101: {
          description: `Switching Protocols: the connection speaks ${TUNNEL_PROTOCOL} from here on. Header \`tokenpool-process\` names the platform process that holds this tunnel, \`tokenpool-processes\` the live ones (comma-separated, at most 64): an agent keeps one tunnel to each`,
        },
        426: { description: `Upgrade Required: the request did not ask for \`Upgrade: ${TUNNEL_PROTOCOL}\`` },
      },
      handler: async ({ principal }) => {
        if (principal.kind !== 'agent') throw new AppError('forbidden', 'Only agents open tunnels.');
        const clusterId = principal.clusterId;
        const live = await processes.list();
        return {
          status: 101,
          headers: { 'tokenpool-process': processes.self, 'tokenpool-processes': live.join(',') },
          upgrade: (socket, head) => tunnels.accept(clusterId, socket, head),
        };
      },
    }),
  ];
}
