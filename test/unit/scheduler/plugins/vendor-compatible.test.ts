import { expect } from 'chai';

import type { ModelSnap, ProfileSnap } from '../../../../scheduler/framework/types.js';
import type { StatusCode } from '../../../../scheduler/framework/status.js';
import { vendorCompatible } from '../../../../scheduler/plugins/vendor-compatible.js';
import { aCluster, aSnapshot, ascend910b, candidateOf, filterContext, h100, mlu590, qwen72b, qwen7b } from '../builders.js';

describe('plugin vendor-compatible', () => {
  const cases: ReadonlyArray<{ model: ModelSnap; profile: ProfileSnap; code: StatusCode }> = [
    { model: qwen7b, profile: h100, code: 'Success' },
    { model: qwen7b, profile: mlu590, code: 'Success' },
    { model: qwen72b, profile: h100, code: 'Success' },
    { model: qwen72b, profile: ascend910b, code: 'Success' },
    { model: qwen72b, profile: mlu590, code: 'UnschedulableAndUnresolvable' },
  ];
  for (const c of cases) {
    it(`${c.model.name} (vendors ${JSON.stringify(c.model.vendors)}) on ${c.profile.vendor}: ${c.code}`, () => {
      const snapshot = aSnapshot()
        .cluster(aCluster('c1').slot('dev', c.profile, 8))
        .build();
      const ctx = filterContext(snapshot, c.model);
      const status = vendorCompatible.filter(ctx, candidateOf(ctx.state, 'c1', 'dev'));
      expect(status.code).to.equal(c.code);
      if (c.code !== 'Success') expect(status.reason).to.equal('no_compatible_device');
    });
  }
});
