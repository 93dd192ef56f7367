/**
 * The API's routes with fixed paths answered on plain node:http; everything else by `fallback`
 * (Express: paths with parameters, health, metrics, the console's files, unknown paths).
 *
 * Express adds 130–180 µs of CPU to a request on the project's 2-core machine (it swaps the
 * prototypes of every request and response, then walks its routes): a trivial JSON POST costs
 * 80–145 µs answered here and 210–330 µs through Express, more than a create or a heartbeat costs
 * otherwise. Both ways end in the same pipeline (pipeline.ts), so an answer does not depend on
 * which router found the route; test/integration/dispatch.test.ts checks it.
 */
import type { RequestListener } from 'node:http';
import type { Pipeline } from './pipeline.js';
import type { AnyRoute } from './route.js';

export interface DispatchOptions {
  readonly routes: readonly AnyRoute[];
  readonly pipeline: Pipeline;
  /** Everything this module does not answer itself; it calls `pipeline.begin` itself. */
  readonly fallback: RequestListener;
}

/** The methods a path takes, as OPTIONS answers them in `allow` (HEAD with GET). */
export function allowedMethods(routes: readonly AnyRoute[], path: string): string[] {
  const methods = new Set(routes.filter((r) => r.path === path).map((r) => r.method.toUpperCase()));
  if (methods.has('GET')) methods.add('HEAD');
  methods.add('OPTIONS');
  return [...methods].sort();
}

export function dispatcher(opts: DispatchOptions): RequestListener {
  const { pipeline } = opts;
  // Path → method → route; HEAD is answered by the GET route.
  const byPath = new Map<string, { readonly methods: Map<string, AnyRoute>; readonly allow: readonly string[] }>();
  for (const r of opts.routes) {
    if (r.path.includes(':')) continue;
    let entry = byPath.get(r.path);
    if (!entry) byPath.set(r.path, (entry = { methods: new Map(), allow: allowedMethods(opts.routes, r.path) }));
    entry.methods.set(r.method.toUpperCase(), r);
  }

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const entry = byPath.get(q < 0 ? url : url.slice(0, q));
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
    const spec = entry?.methods.get(method);
    if (spec) {
      pipeline.begin(req, res, () => spec.path);
      void pipeline.run(spec, req, res, {});
    } else if (entry && method === 'OPTIONS') {
      const path = [...entry.methods.values()][0]!.path;
      pipeline.begin(req, res, () => path);
      pipeline.allow(req, res, entry.allow);
    } else {
      opts.fallback(req, res);
    }
  };
}
