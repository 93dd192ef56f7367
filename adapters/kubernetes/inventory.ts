/**
 * A member cluster's accelerator inventory from its Node objects: per device model, total and
 * healthy devices, and the node selector that reaches each model. Pure: Nodes in, report out.
 *
 * Counted. Only extended resources that some device profile names as its `resourceName`. For each
 * node and such resource with capacity > 0, `total` is the capacity and `healthy` the allocatable
 * (device plugins take unhealthy devices out of allocatable), at most `total`. Every device of a
 * node that is unschedulable (cordoned) or whose `Ready` condition is not `True` counts as
 * unhealthy. Quantities are read as Kubernetes quantities ("8", "1k") and floored.
 *
 * Device model. The name reported for a node and resource (`InventoryReport.deviceModel`) is the
 * first of:
 * 1. the label `tokenpool.io/device-model`, an override any operator may set on any node;
 * 2. the vendor's model label, chosen by the resource name's domain:
 *
 *    | vendor (resources)               | label                        | example value           | set by                   |
 *    |----------------------------------|------------------------------|-------------------------|--------------------------|
 *    | NVIDIA (`nvidia.com/*`)          | `nvidia.com/gpu.product`     | `NVIDIA-H100-80GB-HBM3` | GPU feature discovery    |
 *    | Huawei Ascend (`huawei.com/*`)   | `accelerator`                | `huawei-Ascend910B`     | Ascend MindX DL setup    |
 *    | MetaX (`metax-tech.com/*`)       | `metax-tech.com/gpu.product` | `MXC500`                | MetaX device plugin stack|
 *    | Hygon (`hygon.com/*`)            | `hygon.com/dcu.name`         | `K100_AI`               | Hygon DCU node labels    |
 *    | Cambricon (`cambricon.com/*`)    | `cambricon.com/mlu.model`    | `MLU590`                | convention               |
 *    | Kunlunxin (`kunlunxin.com/*`)    | `kunlunxin.com/xpu.model`    | `P800`                  | convention               |
 *    | Iluvatar (`iluvatar.ai/*`)       | `iluvatar.ai/gpu.product`    | `BI-V150`               | convention               |
 *    | Moore Threads (`mthreads.com/*`) | `mthreads.com/gpu.product`   | `MTT-S4000`             | convention               |
 *    | Enflame (`enflame.com/*`)        | `enflame.com/gcu.model`      | `S60`                   | convention               |
 *
 *    Rows marked "convention" are this project's choice where the vendor publishes no model label:
 *    set them by hand or with node-feature-discovery rules, or use the override of 1., which wins
 *    over any of them. The value is reported as the label has it; profiles carry such values as
 *    aliases;
 * 3. the name of the only profile with that resource name, if exactly one has it;
 * 4. the resource name itself (the platform lists it as an unprofiled device).
 *
 * Selectors. A model named by a label (1. or 2.) is selected by that label (`key=value`); one named
 * by 3. or 4. by an empty node selector. Two models sharing a resource keep their own label
 * selectors. Should one model name come from different sources on different nodes, the selector of
 * the highest-ranked source wins (1. over 2. over 3./4.; ties by resource name, then label key), so
 * the result does not depend on the order of the nodes and pods never land on an unlabelled node of
 * another model.
 *
 * HAMi. With HAMi's device plugins capacity and allocatable count virtual slices
 * (`deviceSplitCount`: one card can show as 10), so where HAMi registered the node's physical
 * devices in a node annotation, `total` is the number of devices listed there and `healthy` the
 * number marked healthy (still 0 on an unschedulable or NotReady node). The annotations read, in
 * order, are `hami.io/node-<vendor>-register` for the vendor of each profile with the resource
 * (e.g. `hami.io/node-nvidia-register`), then the keys HAMi actually writes for resources whose
 * vendor name differs: `hami.io/node-dcu-register` (Hygon), `hami.io/node-register-xpu`
 * (Kunlunxin), `hami.io/node-register-<chip>` for `huawei.com/<chip>` (Ascend) and
 * `hami.io/node-<chip>-register` for `iluvatar.ai/<chip>-vgpu`. Both of HAMi's formats are read:
 * a JSON array of `{ id, count, devmem, devcore, type, numa, health }` (newer HAMi; `health` is
 * omitted when false), and the older `id,count,devmem,devcore,type,numa,health[,index,mode]`
 * list, devices separated by `:` (a trailing one allowed). An annotation that is empty or cannot be
 * read is ignored and capacity/allocatable count instead; this module never throws on node data.
 * (HAMi writes no such annotation for Cambricon, Moore Threads or MetaX; their slices are separate
 * resources such as `cambricon.com/vmlu`, which profiles name only if an operator adds them.)
 */
import type { V1Container, V1Node, V1Pod } from '@kubernetes/client-node';
import type { InventoryReport } from '../platform-client.js';

/** A device profile as the agent reads it from `GET /api/v1/device-profiles`. */
export interface DeviceProfileInfo {
  readonly name: string;
  readonly vendor: string;
  readonly resourceName: string;
  readonly aliases: readonly string[];
}

/** How to select the nodes of one reported device model. */
export interface DeviceSelector {
  readonly resourceName: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
}

export interface NodeInventory {
  /** One entry per device model, sorted by `deviceModel` (code-unit order). */
  readonly inventory: InventoryReport[];
  /** By `deviceModel`: the resource its devices are requested as, and the nodes that have them. */
  readonly selectors: ReadonlyMap<string, DeviceSelector>;
}

/** The override label: its value is the device model of every counted resource of the node. */
export const DEVICE_MODEL_LABEL = 'tokenpool.io/device-model';

/** The vendor's model label, by the resource name's domain (the table above). */
export const VENDOR_MODEL_LABELS: Readonly<Record<string, string>> = {
  'nvidia.com': 'nvidia.com/gpu.product',
  'huawei.com': 'accelerator',
  'metax-tech.com': 'metax-tech.com/gpu.product',
  'hygon.com': 'hygon.com/dcu.name',
  'cambricon.com': 'cambricon.com/mlu.model',
  'kunlunxin.com': 'kunlunxin.com/xpu.model',
  'iluvatar.ai': 'iluvatar.ai/gpu.product',
  'mthreads.com': 'mthreads.com/gpu.product',
  'enflame.com': 'enflame.com/gcu.model',
};

const domainOf = (resourceName: string) => resourceName.split('/', 1)[0]!;

const SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const QUANTITY = /^\+?(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/;

/** Whole devices in a Kubernetes quantity ("8", "1k", or a number); 0 for anything unreadable. */
export function deviceCount(q: unknown): number {
  if (typeof q === 'number') return Number.isFinite(q) && q > 0 ? Math.floor(q) : 0;
  if (typeof q !== 'string') return 0;
  const m = QUANTITY.exec(q.trim());
  if (!m) return 0;
  const n = Number(m[1]) * (m[2] !== undefined ? 10 ** Number(m[2]) : SUFFIX[m[3] ?? '']!);
  return Number.isFinite(n) ? Math.floor(n + 1e-9) : 0;
}

function nodeUsable(node: V1Node): boolean {
  if (node.spec?.unschedulable === true) return false;
  return node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

/** Node annotations in which HAMi may list the physical devices behind a resource, in order. */
export function hamiAnnotationKeys(resourceName: string, vendors: readonly string[] = []): string[] {
  const keys = vendors.map((v) => `hami.io/node-${v.toLowerCase()}-register`);
  const [domain, name = ''] = resourceName.split('/', 2);
  if (domain === 'nvidia.com') keys.push('hami.io/node-nvidia-register');
  if (domain === 'hygon.com') keys.push('hami.io/node-dcu-register');
  if (domain === 'kunlunxin.com') keys.push('hami.io/node-register-xpu');
  if (domain === 'huawei.com' && name) keys.push(`hami.io/node-register-${name}`);
  if (domain === 'iluvatar.ai' && name.endsWith('-vgpu')) keys.push(`hami.io/node-${name.slice(0, -'-vgpu'.length)}-register`);
  return [...new Set(keys)];
}

interface Devices {
  readonly total: number;
  readonly healthy: number;
}

const GO_TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const GO_BOOL = new Set([...GO_TRUE, '0', 'f', 'F', 'false', 'FALSE', 'False']);

/** The devices of one HAMi register annotation; undefined when it lists none or is malformed. */
export function parseHamiRegister(value: string): Devices | undefined {
  const text = value.trim();
  if (text.startsWith('[')) {
    let devices: unknown;
    try {
      devices = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!Array.isArray(devices) || devices.length === 0) return undefined;
    if (devices.some((d) => d === null || typeof d !== 'object' || Array.isArray(d))) return undefined;
    return { total: devices.length, healthy: devices.filter((d: { health?: unknown }) => d.health === true).length };
  }
  const devices = text
    .split(':')
    .map((d) => d.trim())
    .filter((d) => d !== '')
    .map((d) => d.split(','));
  if (devices.length === 0 || devices.some((f) => f.length < 7 || !GO_BOOL.has(f[6]!.trim()))) return undefined;
  return { total: devices.length, healthy: devices.filter((f) => GO_TRUE.has(f[6]!.trim())).length };
}

/** Physical devices HAMi registered on the node for the resource, if it did (see the module doc). */
export function hamiDevices(node: V1Node, resourceName: string, vendors: readonly string[] = []): Devices | undefined {
  const annotations = node.metadata?.annotations ?? {};
  for (const key of hamiAnnotationKeys(resourceName, vendors)) {
    const value = annotations[key];
    const devices = value === undefined ? undefined : parseHamiRegister(value);
    if (devices) return devices;
  }
  return undefined;
}

/** Where a model name came from: 0 override label, 1 vendor label, 2 profile or resource name. */
interface Source {
  readonly model: string;
  readonly rank: 0 | 1 | 2;
  readonly resourceName: string;
  readonly label?: readonly [key: string, value: string];
}

function sourceOf(labels: Readonly<Record<string, string>>, resourceName: string, profiles: readonly DeviceProfileInfo[]): Source {
  const override = labels[DEVICE_MODEL_LABEL];
  if (override) return { model: override, rank: 0, resourceName, label: [DEVICE_MODEL_LABEL, override] };
  const key = VENDOR_MODEL_LABELS[domainOf(resourceName)];
  const value = key === undefined ? undefined : labels[key];
  if (key !== undefined && value) return { model: value, rank: 1, resourceName, label: [key, value] };
  return { model: profiles.length === 1 ? profiles[0]!.name : resourceName, rank: 2, resourceName };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function better(a: Source, b: Source): boolean {
  return (a.rank - b.rank || cmp(a.resourceName, b.resourceName) || cmp(a.label?.[0] ?? '', b.label?.[0] ?? '')) < 0;
}

export function inventoryFromNodes(nodes: readonly V1Node[], profiles: readonly DeviceProfileInfo[]): NodeInventory {
  const byResource = new Map<string, DeviceProfileInfo[]>();
  for (const p of profiles) byResource.set(p.resourceName, [...(byResource.get(p.resourceName) ?? []), p]);
  const sums = new Map<string, { total: number; healthy: number }>();
  const sources = new Map<string, Source>();
  for (const node of nodes) {
    const usable = nodeUsable(node);
    const labels = node.metadata?.labels ?? {};
    for (const [resourceName, resourceProfiles] of byResource) {
      const capacity = deviceCount(node.status?.capacity?.[resourceName]);
      if (capacity === 0) continue;
      const vendors = [...new Set(resourceProfiles.map((p) => p.vendor))];
      const physical = hamiDevices(node, resourceName, vendors);
      const total = physical?.total ?? capacity;
      const available = physical?.healthy ?? deviceCount(node.status?.allocatable?.[resourceName]);
      const healthy = usable ? Math.min(total, available) : 0;
      const source = sourceOf(labels, resourceName, resourceProfiles);
      const sum = sums.get(source.model) ?? { total: 0, healthy: 0 };
      sums.set(source.model, { total: sum.total + total, healthy: sum.healthy + healthy });
      const kept = sources.get(source.model);
      if (!kept || better(source, kept)) sources.set(source.model, source);
    }
  }
  const inventory = [...sums]
    .map(([deviceModel, s]) => ({ deviceModel, total: s.total, healthy: s.healthy }))
    .sort((a, b) => cmp(a.deviceModel, b.deviceModel));
  const selectors = new Map<string, DeviceSelector>();
  for (const { deviceModel } of inventory) {
    const s = sources.get(deviceModel)!;
    selectors.set(deviceModel, { resourceName: s.resourceName, nodeSelector: s.label ? { [s.label[0]]: s.label[1] } : {} });
  }
  return { inventory, selectors };
}

/** One node's devices of one model, as the heartbeat reports them (`nodes`). */
export interface NodeDevices {
  readonly name: string;
  readonly deviceModel: string;
  /** Allocatable devices of the model on the node (at most {@link MAX_NODE_DEVICES}). */
  readonly total: number;
  /** `total` less what the node's pods that have not terminated request, never below 0. */
  readonly free: number;
}

/** The most entries one report carries (the platform refuses more). */
export const MAX_NODE_ENTRIES = 5_000;
/** The most devices of one model one node reports (the platform refuses more). */
export const MAX_NODE_DEVICES = 4_096;

/** The devices of `resourceName` a pod asks for: the larger of its containers' sum and any init container's. */
export function podDevices(pod: V1Pod, resourceName: string): number {
  const of = (c: V1Container) => deviceCount(c.resources?.requests?.[resourceName] ?? c.resources?.limits?.[resourceName]);
  let sum = 0;
  for (const c of pod.spec?.containers ?? []) sum += of(c);
  for (const c of pod.spec?.initContainers ?? []) sum = Math.max(sum, of(c));
  return sum;
}

/**
 * Free devices per node and device model: for each node and counted resource (as
 * {@link inventoryFromNodes} counts them, under the same device model names), `total` is the
 * node's allocatable and `free` that less the devices requested by the pods bound to the node
 * that have not terminated (phase neither Succeeded nor Failed), whoever runs them. A node that
 * is unschedulable or not Ready has nothing free. With HAMi the counts are its virtual slices, in
 * the units pods request. Sorted by node name then device model; at most {@link MAX_NODE_ENTRIES}
 * entries, keeping those with the most free devices (a longer report would be refused whole).
 */
export function nodeDevices(nodes: readonly V1Node[], pods: readonly V1Pod[], profiles: readonly DeviceProfileInfo[]): NodeDevices[] {
  const byResource = new Map<string, DeviceProfileInfo[]>();
  for (const p of profiles) byResource.set(p.resourceName, [...(byResource.get(p.resourceName) ?? []), p]);
  const requested = new Map<string, Map<string, number>>();
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    const phase = pod.status?.phase;
    if (!node || phase === 'Succeeded' || phase === 'Failed') continue;
    for (const resourceName of byResource.keys()) {
      const n = podDevices(pod, resourceName);
      if (n === 0) continue;
      let onNode = requested.get(node);
      if (!onNode) requested.set(node, (onNode = new Map<string, number>()));
      onNode.set(resourceName, (onNode.get(resourceName) ?? 0) + n);
    }
  }
  const out = new Map<string, { name: string; deviceModel: string; total: number; free: number }>();
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name) continue;
    const usable = nodeUsable(node);
    const labels = node.metadata?.labels ?? {};
    for (const [resourceName, resourceProfiles] of byResource) {
      if (deviceCount(node.status?.capacity?.[resourceName]) === 0) continue;
      const total = Math.min(MAX_NODE_DEVICES, deviceCount(node.status?.allocatable?.[resourceName]));
      const free = usable ? Math.max(0, total - (requested.get(name)?.get(resourceName) ?? 0)) : 0;
      const deviceModel = sourceOf(labels, resourceName, resourceProfiles).model;
      const key = `${name}\u0000${deviceModel}`;
      const kept = out.get(key);
      if (kept) {
        kept.total = Math.min(MAX_NODE_DEVICES, kept.total + total);
        kept.free = Math.min(kept.total, kept.free + free);
      } else out.set(key, { name, deviceModel, total, free });
    }
  }
  let list = [...out.values()];
  if (list.length > MAX_NODE_ENTRIES) list = list.sort((a, b) => b.free - a.free || cmp(a.name, b.name)).slice(0, MAX_NODE_ENTRIES);
  return list.sort((a, b) => cmp(a.name, b.name) || cmp(a.deviceModel, b.deviceModel));
}
