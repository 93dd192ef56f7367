import { expect } from 'chai';

import { isValidUscc, organizationCheckCharacter, usccCheckCharacter, usccProblem, type UsccProblem } from '../../../server/billing/uscc.js';

/** A valid code from its first 16 characters: the organization check character, then the code's. */
function complete(first16: string): string {
  const first17 = first16 + organizationCheckCharacter(first16.slice(8, 16));
  return first17 + usccCheckCharacter(first17);
}

describe('unified social credit code (GB 32100-2015)', () => {
  // Published codes: the standard's own example, and codes printed on business licences.
  for (const code of ['91350100M000100Y43', '91440300708461136T', '91110108551385082Q', '53100000500021676K']) {
    it(`accepts ${code}`, () => {
      expect(usccProblem(code)).to.equal(null);
      expect(isValidUscc(code)).to.equal(true);
    });
  }

  // Constructed: every authority with one of its types, check characters computed.
  const constructed: ReadonlyArray<readonly [string, string]> = [
    ['an enterprise in Guangzhou', '91440101MA59ABCD'],
    ['an individual business', '92440106L1234567'],
    ['a public institution', '12440000455858EF'],
    ['a social group', '51440000MJ000123'],
    ['a foundation', '53440000TUWXY012'],
    ['a village collective', 'N3440112MF000001'],
    ['an other organization', 'Y1440104GHJKLMNP'],
  ];
  for (const [what, first16] of constructed) {
    it(`accepts ${what} (${complete(first16)})`, () => expect(usccProblem(complete(first16))).to.equal(null));
  }

  it('computes the check characters the standard gives (31 read as 0, organization 10 as X, 11 as 0)', () => {
    expect(usccCheckCharacter('91350100M000100Y4')).to.equal('3');
    expect(organizationCheckCharacter('M000100Y')).to.equal('4');
    // Bodies whose GB 11714 sums leave 1 (→ 10 → X) and 0 (→ 11 → 0).
    expect(organizationCheckCharacter('00000006')).to.equal('X'); // 6 × 2 = 12 ≡ 1: 11 − 1 = 10
    expect(organizationCheckCharacter('00000000')).to.equal('0'); // 0: 11 − 0 = 11
    expect(organizationCheckCharacter('00000005')).to.equal('1'); // 5 × 2 = 10: 11 − 10 = 1
  });

  const invalid: ReadonlyArray<readonly [string, string, UsccProblem]> = [
    ['17 characters', '91350100M000100Y4', 'length'],
    ['19 characters', '91350100M000100Y433', 'length'],
    ['empty', '', 'length'],
    ['lower case', '91350100m000100Y43', 'alphabet'],
    ['the letter O', '91350100O000100Y43', 'alphabet'],
    ['the letter I', '9135010I0000100Y43', 'alphabet'],
    ['the letters S, V, Z', '91350100S000100V4Z', 'alphabet'],
    ['a full-width digit', '９1350100M000100Y43', 'alphabet'],
    ['an unknown authority B', 'B1350100M000100Y43', 'authority'],
    ['market regulation with type 5', '95350100M000100Y43', 'type'],
    ['civil affairs with type 4', '54350100M000100Y43', 'type'],
    ['a letter in the division', '9135A100M000100Y43', 'division'],
    ['a wrong organization check character', '91350100M000100Y53', 'organization_check'],
    ['a wrong check character', '91350100M000100Y44', 'check'],
    ['two characters swapped', '91530100M000100Y43', 'check'],
    ['one character changed', '91350100M000200Y43', 'organization_check'],
  ];
  for (const [what, code, problem] of invalid) {
    it(`refuses ${what}: ${problem}`, () => {
      expect(usccProblem(code)).to.equal(problem);
      expect(isValidUscc(code)).to.equal(false);
    });
  }

  it('catches every single-character change of the check character', () => {
    const good = '91440300708461136T';
    for (const ch of '0123456789ABCDEFGHJKLMNPQRTUWXY') {
      if (ch === 'T') continue;
      expect(usccProblem(good.slice(0, 17) + ch), ch).to.equal('check');
    }
  });
});
