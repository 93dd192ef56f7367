/**
 * A stand-in for the power exporters a cluster runs: pages in the format NVIDIA's DCGM exporter
 * and Huawei's NPU exporter write (Prometheus text, their metric and label names), and a small
 * HTTP server that serves whatever page the test sets.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One GPU as the DCGM exporter shows it, with the pod that holds it when pod mapping is on. */
export interface FakeGpu {
  readonly gpu: number;
  readonly uuid: string;
  readonly watts: number;
  /** DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, millijoules; absent: not exported. */
  readonly totalEnergyMj?: number;
  readonly pod?: { readonly name: string; readonly namespace: string };
}

/** A DCGM exporter page for `gpus` on `hostname`. */
export function dcgmPage(hostname: string, gpus: readonly FakeGpu[]): string {
  const labels = (g: FakeGpu) =>
    `gpu="${g.gpu}",UUID="${g.uuid}",pci_bus_id="00000000:${(0x10 + g.gpu).toString(16).toUpperCase()}:00.0",device="nvidia${g.gpu}",modelName="NVIDIA H100 80GB HBM3",Hostname="${hostname}"` +
    (g.pod ? `,container="serving",namespace="${g.pod.namespace}",pod="${g.pod.name}"` : '');
  const lines = [
    '# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).',
    '# TYPE DCGM_FI_DEV_GPU_TEMP gauge',
    ...gpus.map((g) => `DCGM_FI_DEV_GPU_TEMP{${labels(g)}} 41`),
    '# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).',
    '# TYPE DCGM_FI_DEV_POWER_USAGE gauge',
    ...gpus.map((g) => `DCGM_FI_DEV_POWER_USAGE{${labels(g)}} ${g.watts.toFixed(3)}`),
  ];
  const counted = gpus.filter((g) => g.totalEnergyMj !== undefined);
  if (counted.length > 0) {
    lines.push(
      '# HELP DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION Total energy consumption since boot (in mJ).',
      '# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter',
      ...counted.map((g) => `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{${labels(g)}} ${g.totalEnergyMj}`),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** An Ascend NPU exporter (v6) page: `npu_chip_info_power` per chip, with the pod when container mapping is on. */
export function npuPage(chips: readonly { id: number; watts: number; pod?: { name: string; namespace: string } }[]): string {
  return [
    '# HELP npu_chip_info_power the npu power',
    '# TYPE npu_chip_info_power gauge',
    ...chips.map(
      (c) =>
        `npu_chip_info_power{id="${c.id}",model_name="Ascend910B3",vdie_id="a1b2c3d4-${c.id}",pcie_bus_info="0000:C1:00.${c.id}",namespace="${c.pod?.namespace ?? ''}",pod_name="${c.pod?.name ?? ''}",container_name="${c.pod ? 'serving' : ''}"} ${c.watts}`,
    ),
    '',
  ].join('\n');
}

/** An HTTP server answering `/metrics` with the page last set. */
export class FakeExporter {
  #page = '';
  #server: Server | undefined;
  /** Requests it answered. */
  scrapes = 0;

  set(page: string): void {
    this.#page = page;
  }

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.scrapes += 1;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.#page);
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/metrics`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
