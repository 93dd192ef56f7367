import { expect } from 'chai';

import { thresholdsReached } from '../../../server/billing/budgets.js';

describe('budget thresholds', () => {
  const cases: ReadonlyArray<readonly [string, string, readonly number[], string, readonly number[]]> = [
    ['nothing spent', '100.00', [80, 100], '0.00', []],
    ['one fen short of 80%', '100.00', [80, 100], '79.99', []],
    ['exactly 80%', '100.00', [80, 100], '80.00', [80]],
    ['past both', '100.00', [80, 100], '105.00', [80, 100]],
    ['past 100% of a budget over 1000%', '0.01', [100, 1000], '0.10', [100, 1000]],
    // 33% of ¥0.10 is ¥0.033: ¥0.03 is short of it, compared exactly rather than rounded.
    ['a share of a fen, not rounded', '0.10', [33], '0.03', []],
    // 99% of ¥99,999,999,999,999,999.99 is ¥98,999,999,999,999,999.9901, which a binary float cannot tell from ¥99e15.
    ['a budget past 2^53 fen', '99999999999999999.99', [99], '99000000000000000.00', [99]],
    ['a budget past 2^53 fen, short by a hundredth of a fen', '99999999999999999.99', [99], '98999999999999999.99', []],
    ['thresholds in the order given', '10.00', [100, 50], '10.00', [100, 50]],
  ];
  for (const [name, budget, thresholds, cost, reached] of cases) {
    it(`${name}: ¥${cost} of ¥${budget} reaches [${reached.join(', ')}]`, () => {
      expect(thresholdsReached(budget, thresholds, cost)).to.deep.equal(reached);
    });
  }
});
