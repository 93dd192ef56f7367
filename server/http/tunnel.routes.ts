/**
 * The agents' tunnel (README "Tunnel"): `GET /api/v1/agent/tunnel` with `Connection: Upgrade` and
 * `Upgrade: tokenpool-tunnel`, authenticated by the agent token like every agent route, answers
 * 101 and becomes the cluster's tunnel (server/tunnel/tunnels.ts). Without the upgrade: 426.
 */
import { AppError } from '../errors.js';
import { TUNNEL_PROTOCOL, type Tunnels } from '../tunnel/tunnels.js';
import { route, type AnyRoute } from './route.js';

export function tunnelRoutes(tunnels: Pick<Tunnels, 'accept'>): AnyRoute[] {
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
        101: { description: `Switching Protocols: the connection speaks ${TUNNEL_PROTOCOL} from here on` },
        426: { description: `Upgrade Required: the request did not ask for \`Upgrade: ${TUNNEL_PROTOCOL}\`` },
      },
      handler: async ({ principal }) => {
        if (principal.kind !== 'agent') throw new AppError('forbidden', 'Only agents open tunnels.');
        const clusterId = principal.clusterId;
        return { status: 101, upgrade: (socket, head) => tunnels.accept(clusterId, socket, head) };
      },
    }),
  ];
}
