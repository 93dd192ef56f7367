import { expect } from 'chai';

import { EventBus } from '../../server/events.js';
import type { Logger } from '../../server/log.js';

/** A logger that keeps what was logged at error level. */
function recordingLog(): Logger & { errors: { msg: string; fields: any }[] } {
  const errors: { msg: string; fields: any }[] = [];
  return { info: () => {}, warn: () => {}, error: (msg, fields) => void errors.push({ msg, fields }), errors };
}

describe('EventBus', () => {
  it('calls every listener of the event, in the order they subscribed, before emit returns', () => {
    const bus = new EventBus(recordingLog());
    const heard: string[] = [];
    bus.on('workload.changed', (e) => heard.push(`first ${e.workloadId} ${e.change}`));
    bus.on('inventory.changed', (e) => heard.push(`inventory ${e.clusterId}`));
    bus.on('workload.changed', (e) => heard.push(`second ${e.workloadId} ${e.change}`));
    bus.emit('workload.changed', { workloadId: 'wl_1', tenantId: 'tn_1', change: 'created' });
    expect(heard).to.deep.equal(['first wl_1 created', 'second wl_1 created']);
  });

  it('an event nobody listens to is a no-op', () => {
    const bus = new EventBus(recordingLog());
    expect(() => bus.emit('heartbeat.recorded', { clusterId: 'cl_1' })).to.not.throw();
  });

  it('a listener that throws is logged, the others still run, and the emitter does not fail', () => {
    const log = recordingLog();
    const bus = new EventBus(log);
    const heard: number[] = [];
    bus.on('usage.recorded', () => {
      throw new Error('listener broke');
    });
    bus.on('usage.recorded', (e) => heard.push(e.accepted));
    expect(() => bus.emit('usage.recorded', { clusterId: 'cl_1', accepted: 3, duplicates: 0, rejected: 1 })).to.not.throw();
    expect(heard).to.deep.equal([3]);
    expect(log.errors).to.have.length(1);
    expect(log.errors[0]!.msg).to.equal('event listener failed');
    expect(log.errors[0]!.fields.event).to.equal('usage.recorded');
    expect(log.errors[0]!.fields.error).to.include('listener broke');
  });

  it('a listener whose promise rejects is logged, not left unhandled', async () => {
    const log = recordingLog();
    const bus = new EventBus(log);
    bus.on('cluster.changed', async () => {
      throw new Error('async listener broke');
    });
    bus.emit('cluster.changed', { clusterIds: ['cl_1'], change: 'removed' });
    await new Promise(setImmediate);
    expect(log.errors.map((e) => e.fields.error)).to.have.length(1);
    expect(log.errors[0]!.fields.error).to.include('async listener broke');
  });

  it('an unsubscribed listener hears nothing more; the others still do', () => {
    const bus = new EventBus(recordingLog());
    const heard: string[] = [];
    const off = bus.on('credential.revoked', () => heard.push('a'));
    bus.on('credential.revoked', () => heard.push('b'));
    bus.emit('credential.revoked', { kind: 'agent', clusterId: 'cl_1' });
    off();
    off();
    bus.emit('credential.revoked', { kind: 'api_key', apiKeyId: 'key_1' });
    expect(heard).to.deep.equal(['a', 'b', 'b']);
  });
});
