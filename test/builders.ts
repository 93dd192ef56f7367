/**
 * Fluent builders for test objects (after Kueue's `pkg/util/testing/wrappers.go`): a valid
 * default, and one method per fact a test cares about.
 */
import { parseMicro } from '../scheduler/capacity.js';
import type { ClusterFacts, ProfileIndex, ProfileRef, ReportedInventory } from '../server/services/cluster-view.js';

/** The instant builders use when a test names no time. */
export const T0 = new Date('2026-10-20T02:00:00Z');

let serial = 0;

export class ClusterBuilder {
  private facts: { -readonly [K in keyof ClusterFacts]: ClusterFacts[K] };

  constructor() {
    const n = ++serial;
    this.facts = {
      id: `cl_test${n}`,
      name: `cluster-${n}`,
      region: 'nansha',
      labels: {},
      cordoned: false,
      lastHeartbeatAt: null,
      createdAt: T0,
    };
  }

  id(id: string): this {
    this.facts.id = id;
    return this;
  }

  named(name: string): this {
    this.facts.name = name;
    return this;
  }

  region(region: string): this {
    this.facts.region = region;
    return this;
  }

  labels(labels: Record<string, string>): this {
    this.facts.labels = labels;
    return this;
  }

  cordoned(cordoned = true): this {
    this.facts.cordoned = cordoned;
    return this;
  }

  /** Last heartbeat at `at` (a Date, an RFC 3339 text, or epoch ms); null: never reported. */
  heartbeatAt(at: Date | string | number | null): this {
    this.facts.lastHeartbeatAt = at === null ? null : new Date(at);
    return this;
  }

  createdAt(at: Date | string): this {
    this.facts.createdAt = new Date(at);
    return this;
  }

  build(): ClusterFacts {
    return { ...this.facts };
  }
}

/** A pending, uncordoned cluster in `nansha` with a unique id and name. */
export function aCluster(): ClusterBuilder {
  return new ClusterBuilder();
}

export class ProfileBuilder {
  private ref: { -readonly [K in keyof ProfileRef]: ProfileRef[K] };
  private names: string[] = [];

  constructor(name: string) {
    this.ref = { id: `dp_${name}`, name, vendor: 'nvidia', stdTokensPerSec: parseMicro('1000') };
  }

  vendor(vendor: string): this {
    this.ref.vendor = vendor;
    return this;
  }

  /** Standard tokens per second of one device, as decimal text (`"3000"`, `"12.5"`). */
  stdTokensPerSec(decimal: string | number): this {
    this.ref.stdTokensPerSec = parseMicro(String(decimal));
    return this;
  }

  aliases(...names: string[]): this {
    this.names.push(...names);
    return this;
  }

  build(): ProfileRef {
    return { ...this.ref };
  }

  /** Every name an agent may report for this profile: its own and its aliases. */
  reportedNames(): readonly string[] {
    return [this.ref.name, ...this.names];
  }
}

/** A device profile named `name`: vendor nvidia, 1000 standard tokens per second. */
export function aProfile(name: string): ProfileBuilder {
  return new ProfileBuilder(name);
}

/** The profile index the catalog builds: every profile name and alias to its profile. */
export function profileIndex(...profiles: readonly ProfileBuilder[]): ProfileIndex {
  const index = new Map<string, ProfileRef>();
  for (const p of profiles) {
    const ref = p.build();
    for (const name of p.reportedNames()) index.set(name, ref);
  }
  return index;
}

/** One reported inventory row; `healthy` defaults to `total`. */
export function devices(deviceModel: string, total: number, healthy: number = total): ReportedInventory {
  return { deviceModel, total, healthy };
}
