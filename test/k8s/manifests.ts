import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml, type KubernetesObject } from '@kubernetes/client-node';

/** Every document of the files a kustomization lists, in the kustomization's namespace where it names one. */
export function manifests(dir: string): KubernetesObject[] {
  const kustomization = loadAllYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0] as { resources: string[]; namespace?: string };
  return kustomization.resources
    .flatMap((file) => loadAllYaml(readFileSync(join(dir, file), 'utf8')) as KubernetesObject[])
    .filter((o) => o && o.kind)
    .map((o) =>
      kustomization.namespace && o.kind !== 'Namespace' && !o.metadata?.namespace
        ? { ...o, metadata: { ...o.metadata, namespace: kustomization.namespace } }
        : o,
    );
}
