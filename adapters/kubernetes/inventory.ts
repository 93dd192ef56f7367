/**
 * A member cluster's accelerator inventory from its Node objects: per device model, total and
 * healthy devices.
 *
 * Only resource names some device profile of the platform carries are counted. Per node and
 * resource, `total` is the node's capacity and `healthy` its allocatable (device plugins take
 * unhealthy devices out of allocatable); every device of an unschedulable node, or of one whose
 * `Ready` condition is not `True`, counts as unhealthy.
 *
 * The device model reported for a node and resource is, in order:
 * 1. the label `tokenpool.io/device-model`, which an operator may set on any node (it wins);
 * 2. the vendor's feature-discovery label:
 *
 *    | vendor (resource)                     | label                        | example value              |
 *    |---------------------------------------|------------------------------|----------------------------|
 *    | NVIDIA (`nvidia.com/gpu`)             | `nvidia.com/gpu.product`     | `NVIDIA-H100-80GB-HBM3`    |
 *    | Huawei Ascend (`huawei.com/Ascend*`)  | `accelerator`                | `huawei-Ascend910B`        |
 *    | Cambricon (`cambricon.com/mlu`)       | `cambricon.com/mlu.model`    | `MLU590`                   |
 *    | Hygon (`hygon.com/dcu`)               | `hygon.com/dcu.model`        | `K100`                     |
 *    | Kunlunxin (`kunlunxin.com/xpu`)       | `kunlunxin.com/xpu.model`    | `P800`                     |
 *    | MetaX (`metax-tech.com/gpu`)          | `metax-tech.com/gpu.product` | `C500`                     |
 *    | Iluvatar (`iluvatar.ai/*`)            | `iluvatar.ai/gpu.product`    | `BI-V150`                  |
 *    | Moore Threads (`mthreads.com/*`)      | `mthreads.com/gpu.product`   | `MTT-S4000`                |
 *
 *    NVIDIA's GPU feature discovery and Ascend's device plugin set theirs; for the other vendors,
 *    which publish no such label, these are this project's convention (set them with node feature
 *    discovery rules, or use 1.);
 * 3. the name of the only profile with that resource name, if there is exactly one;
 * 4. the resource name itself (the platform then lists it as an unprofiled device).
 *
 * Devices virtualized by HAMi are counted physically: HAMi's device plugin makes capacity and
 * allocatable count slices (`deviceSplitCount`, one card as 10), and records the physical devices
 * in the node annotation `hami.io/node-<vendor>-register` (`nvidia`, `iluvatar`, `mthreads`, …).
 * Where that annotation names the resource's vendor, `total` is the number of devices in it and
 * `healthy` the number marked healthy. Both of its formats are read: a JSON array of
 * `{ id, count, devmem, devcore, type, numa, health }` (newer HAMi), and the older
 * `id,count,devmem,devcore,type,numa,health:` list. An annotation that cannot be read is ignored.
 */
import type { V1Node } from '@kubernetes/client-node';
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
  readonly inventory: InventoryReport[];
  readonly selectors: ReadonlyMap<string, DeviceSelector>;
}

export const DEVICE_MODEL_LABEL = 'tokenpool.io/device-model';

/** The feature-discovery label of each resource name's vendor, by resource-name prefix. */
const VENDOR_LABELS: readonly (readonly [prefix: string, label: string])[] = [
  ['nvidia.com/', 'nvidia.com/gpu.product'],
  ['huawei.com/', 'accelerator'],
  ['cambricon.com/', 'cambricon.com/mlu.model'],
  ['hygon.com/', 'hygon.com/dcu.model'],
  ['kunlunxin.com/', 'kunlunxin.com/xpu.model'],
  ['metax-tech.com/', 'metax-tech.com/gpu.product'],
  ['iluvatar.ai/', 'iluvatar.ai/gpu.product'],
  ['mthreads.com/', 'mthreads.com/gpu.product'],
];

/** Vendors as HAMi names them in `hami.io/node-<vendor>-register`, by resource-name prefix. */
const HAMI_VENDORS: readonly (readonly [prefix: string, vendor: string])[] = [
  ['nvidia.com/', 'nvidia'], ['iluvatar.ai/', 'iluvatar'], ['mthreads.com/', 'mthreads'], ['cambricon.com/', 'cambricon'],
  ['hygon.com/', 'hygon'], ['metax-tech.com/', 'metax'], ['huawei.com/', 'ascend'], ['kunlunxin.com/', 'kunlun'],
];

/** A Kubernetes quantity of whole devices ("8", "8k" never happens for devices); NaN-safe. */
function deviceCount(q: string | undefined): number {
  if (q === undefined) return 0;
  const n = Number.parseInt(q, 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function nodeUsable(node: V1Node): boolean {
  if (node.spec?.unschedulable) return false;
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True';
}

/** Physical devices HAMi registered on the node for the resource's vendor, if it says. */
export function hamiDevices(node: V1Node, resourceName: string): { total: number; healthy: number } | undefined {
  const vendor = HAMI_VENDORS.find(([prefix]) => resourceName.startsWith(prefix))?.[1];
  const raw = vendor && node.metadata?.annotations?.[`hami.io/node-${vendor}-register`];
  if (!raw) return undefined;
  const text = raw.trim();
  if (text.startsWith('[')) {
    try {
      const devices: unknown = JSON.parse(text);
      if (!Array.isArray(devices) || devices.some((d) => d === null || typeof d !== 'object')) return undefined;
      return { total: devices.length, healthy: devices.filter((d: { health?: unknown }) => d.health === true || d.health === 'true').length };
    } catch {
      return undefined;
    }
  }
  const devices = text.split(':').map((d) => d.trim()).filter((d) => d !== '');
  if (devices.length === 0 || devices.some((d) => d.split(',').length < 7)) return undefined;
  return { total: devices.length, healthy: devices.filter((d) => d.split(',')[6]!.trim() === 'true').length };
}

/** The device model name of a node's resource, and the label it came from if any. */
function deviceModel(node: V1Node, resourceName: string, profilesByResource: ReadonlyMap<string, readonly DeviceProfileInfo[]>): { model: string; label?: readonly [string, string] } {
  const labels = node.metadata?.labels ?? {};
  const override = labels[DEVICE_MODEL_LABEL];
  if (override) return { model: override, label: [DEVICE_MODEL_LABEL, override] };
  const vendorLabel = VENDOR_LABELS.find(([prefix]) => resourceName.startsWith(prefix))?.[1];
  const value = vendorLabel ? labels[vendorLabel] : undefined;
  if (vendorLabel && value) return { model: value, label: [vendorLabel, value] };
  const candidates = profilesByResource.get(resourceName) ?? [];
  return { model: candidates.length === 1 ? candidates[0]!.name : resourceName };
}

export function inventoryFromNodes(nodes: readonly V1Node[], profiles: readonly DeviceProfileInfo[]): NodeInventory {
  const profilesByResource = new Map<string, DeviceProfileInfo[]>();
  for (const p of profiles) profilesByResource.set(p.resourceName, [...(profilesByResource.get(p.resourceName) ?? []), p]);
  const totals = new Map<string, { total: number; healthy: number }>();
  const selectors = new Map<string, DeviceSelector>();
  for (const node of nodes) {
    const usable = nodeUsable(node);
    for (const resourceName of profilesByResource.keys()) {
      const capacity = deviceCount(node.status?.capacity?.[resourceName]);
      if (capacity === 0) continue;
      const physical = hamiDevices(node, resourceName);
      const total = physical?.total ?? capacity;
      const healthy = usable ? Math.min(total, physical?.healthy ?? deviceCount(node.status?.allocatable?.[resourceName])) : 0;
      const { model, label } = deviceModel(node, resourceName, profilesByResource);
      const sum = totals.get(model) ?? { total: 0, healthy: 0 };
      sum.total += total;
      sum.healthy += healthy;
      totals.set(model, sum);
      if (!selectors.has(model)) selectors.set(model, { resourceName, nodeSelector: label ? { [label[0]]: label[1] } : {} });
    }
  }
  const inventory = [...totals].map(([deviceModel, t]) => ({ deviceModel, total: t.total, healthy: t.healthy }))
    .sort((a, b) => (a.deviceModel < b.deviceModel ? -1 : a.deviceModel > b.deviceModel ? 1 : 0));
  return { inventory, selectors };
}
