import { expect } from 'chai';

import {
  clusterCapacity,
  devicesPerReplica,
  formatMicro,
  inventoryCapacity,
  microFromNumber,
  microToNumber,
  numberText,
  parseMicro,
  replicaStdMicro,
  replicaTokensPerMin,
  stdPerMin,
  stdPerMinMicro,
  usageStdSql,
  usageStdTokens,
  workloadStdMicro,
  workloadStdSql,
} from '../../scheduler/capacity.js';
import type { InventoryCapacityRow } from '../../scheduler/capacity.js';
import { BUILTIN_DEVICE_PROFILES, BUILTIN_MODELS } from '../../server/catalog/builtin-catalog.js';

const micro = parseMicro;

function row(healthy: number, stdTokensPerSec: string | null, held?: number): InventoryCapacityRow {
  return { healthy, stdTokensPerSec: stdTokensPerSec === null ? null : micro(stdTokensPerSec), ...(held === undefined ? {} : { held }) };
}

describe('capacity', () => {
  describe('parseMicro', () => {
    const accepted: ReadonlyArray<readonly [string, number]> = [
      ['0', 0],
      ['1', 1_000_000],
      ['0.25', 250_000],
      ['3000', 3_000_000_000],
      ['0.000001', 1],
      ['0.1', 100_000],
      ['1.50', 1_500_000],
      ['0.333333', 333_333],
      ['123.456789', 123_456_789],
      ['9007199254.740991', Number.MAX_SAFE_INTEGER],
    ];
    for (const [text, micro] of accepted) {
      it(`reads "${text}" as ${micro} millionths`, () => {
        expect(parseMicro(text)).to.equal(micro);
      });
    }

    const rejected: readonly string[] = [
      '-1',
      '-0.5',
      '1.0000001',
      '0.1234567',
      '',
      'abc',
      '1e3',
      '1E3',
      '2.5e-3',
      '.5',
      '1.',
      '1,5',
      '+1',
      '0x10',
      '1 000',
      'NaN',
      'Infinity',
      '9007199254.740992',
      '99999999999999999999',
    ];
    for (const text of rejected) {
      it(`rejects ${JSON.stringify(text)} with a RangeError`, () => {
        expect(() => parseMicro(text)).to.throw(RangeError);
      });
    }
  });

  describe('formatMicro', () => {
    const cases: ReadonlyArray<readonly [number, string]> = [
      [0, '0'],
      [1, '0.000001'],
      [10, '0.00001'],
      [100_000, '0.1'],
      [250_000, '0.25'],
      [1_000_000, '1'],
      [1_500_000, '1.5'],
      [3_000_000_000, '3000'],
      [123_456_789, '123.456789'],
      [Number.MAX_SAFE_INTEGER, '9007199254.740991'],
    ];
    for (const [micro, text] of cases) {
      it(`writes ${micro} millionths as "${text}" and reads it back`, () => {
        expect(formatMicro(micro)).to.equal(text);
        expect(parseMicro(formatMicro(micro))).to.equal(micro);
      });
    }

    const canonical = ['0', '7', '0.5', '0.05', '0.000001', '12.3456', '3000', '0.333333'];
    for (const text of canonical) {
      it(`round-trips "${text}" unchanged`, () => {
        expect(formatMicro(parseMicro(text))).to.equal(text);
      });
    }

    const trimmed: ReadonlyArray<readonly [string, string]> = [
      ['1.50', '1.5'],
      ['0.250000', '0.25'],
      ['10.000000', '10'],
    ];
    for (const [text, shortest] of trimmed) {
      it(`writes "${text}" back in its shortest form "${shortest}"`, () => {
        expect(formatMicro(parseMicro(text))).to.equal(shortest);
      });
    }
  });

  describe('numberText and microFromNumber', () => {
    const texts: ReadonlyArray<readonly [number, string]> = [
      [0, '0'],
      [3000, '3000'],
      [0.25, '0.25'],
      [123.456, '123.456'],
      [1e-6, '0.000001'],
      [1e-7, '0.0000001'],
      [1.5e-7, '0.00000015'],
      [1e-21, '0.000000000000000000001'],
      [1e21, '1000000000000000000000'],
      [1.5e21, '1500000000000000000000'],
    ];
    for (const [value, text] of texts) {
      it(`writes ${value} as "${text}", without exponent`, () => {
        expect(numberText(value)).to.equal(text);
        expect(Number(numberText(value))).to.equal(value);
      });
    }

    const read: ReadonlyArray<readonly [number, number]> = [
      [0.1, 100_000],
      [0.25, 250_000],
      [1e-6, 1],
      [3000, 3_000_000_000],
      [4.5, 4_500_000],
    ];
    for (const [value, micro] of read) {
      it(`reads the JSON number ${value} as the decimal it shows (${micro} millionths)`, () => {
        expect(microFromNumber(value)).to.equal(micro);
      });
    }

    // A positive factor must never be read as zero, nor a huge one as anything at all.
    for (const value of [1e-7, 1e-21, 5e-324, 1e21, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      it(`rejects the JSON number ${value}`, () => {
        expect(() => microFromNumber(value)).to.throw(RangeError);
      });
    }
  });

  describe('devicesPerReplica', () => {
    const cases: ReadonlyArray<readonly [string, string, number | null, string]> = [
      ['72', '80', 1, 'exactly 0.9 × memory fits'],
      ['72.000001', '80', 2, 'a millionth above 0.9 × memory needs two'],
      ['64', '80', 1, 'well below 0.9 × memory'],
      ['144', '80', 2, 'exactly 2 × 0.9 × memory'],
      ['144.000001', '80', 4, 'just above two devices needs four, the next power of two'],
      ['160', '80', 4, '2 × 72 = 144 < 160'],
      ['288', '80', 4, 'exactly 4 × 72'],
      ['288.000001', '80', 8, 'just above four devices'],
      ['4608', '80', 64, 'exactly 64 × 72, the largest replica'],
      ['4608.000001', '80', null, 'more than 64 devices: incompatible'],
      ['160', '64', 4, '2 × 57.6 = 115.2 < 160 ≤ 230.4'],
      ['20', '24', 1, '21.6 ≥ 20'],
      ['21.6', '24', 1, 'exactly 0.9 × 24'],
      ['21.600001', '24', 2, 'just above 0.9 × 24'],
      ['0.9', '1', 1, 'fractional memory, exact'],
      ['0.900001', '1', 2, 'fractional memory, just above'],
      ['680', '96', 8, 'DeepSeek-V3 on H20: 8 × 86.4 = 691.2'],
      ['680', '80', 16, 'DeepSeek-V3 on 80 GiB: 8 × 72 = 576 < 680'],
      ['0.000001', '24', 1, 'the smallest model'],
      ['1', '0', null, 'a device without memory'],
    ];
    for (const [min, mem, expected, why] of cases) {
      it(`${min} GiB on ${mem} GiB → ${expected} (${why})`, () => {
        expect(devicesPerReplica(micro(min), micro(mem))).to.equal(expected);
      });
    }
  });

  describe('replicaTokensPerMin', () => {
    const cases: ReadonlyArray<readonly [number, string, string, number]> = [
      [4, '3000', '10', 72_000],
      [1, '3000', '1', 180_000],
      [16, '3000', '5', 576_000],
      [2, '1250', '4.5', 100_000 / 3],
      // Naive floats give 0.1 × 60 / 0.3 = 19.999999999999996.
      [1, '0.1', '0.3', 20],
      [8, '0.333333', '0.333333', 480],
    ];
    for (const [n, std, costFactor, expected] of cases) {
      it(`${n} × ${std} std/s × 60 ÷ ${costFactor} = ${expected} tokens/min`, () => {
        expect(replicaTokensPerMin(n, micro(std), micro(costFactor))).to.equal(expected);
      });
    }

    it('refuses a costFactor of zero', () => {
      expect(() => replicaTokensPerMin(1, micro('3000'), 0)).to.throw(RangeError);
    });
  });

  describe('stdPerMin', () => {
    const cases: ReadonlyArray<readonly [number, string, number]> = [
      // Naive floats give 3 × 0.1 × 60 = 18.000000000000004.
      [3, '0.1', 18],
      [8, '3000', 1_440_000],
      [0, '3000', 0],
      [7, '0.333333', 139.99986],
      [7, '0.002465', 1.0353],
      [1, '0.000001', 0.00006],
    ];
    for (const [devices, std, expected] of cases) {
      it(`${devices} devices × ${std} std/s × 60 = ${expected}`, () => {
        expect(stdPerMin(devices, micro(std))).to.equal(expected);
      });
    }

    it('is exact in millionths', () => {
      expect(stdPerMinMicro(3, micro('0.1'))).to.equal(18_000_000n);
      expect(stdPerMinMicro(100_000, micro('3000'))).to.equal(18_000_000_000_000_000n);
    });
  });

  describe('replicaStdMicro', () => {
    it('is stdPerMinMicro as a number', () => {
      for (const [devices, std] of [
        [1, '3000'],
        [8, '0.000001'],
        [64, '2300000.123457'],
        [0, '3000'],
      ] as const) {
        expect(replicaStdMicro(devices, micro(std)), `${devices} × ${std}`).to.equal(Number(stdPerMinMicro(devices, micro(std))));
      }
    });
  });

  describe('microToNumber', () => {
    const cases: ReadonlyArray<readonly [bigint, number]> = [
      [0n, 0],
      [1n, 0.000001],
      [1_035_300n, 1.0353],
      [1_003_691n, 1.003691],
      [1_064_280n, 1.06428],
      [18_000_000n, 18],
      [-1_500_000n, -1.5],
      [9_007_199_254_740_993_000_000n, Number('9007199254740993')],
    ];
    for (const [micro, expected] of cases) {
      it(`${micro} millionths → ${expected}, the double nearest the exact decimal`, () => {
        expect(microToNumber(micro)).to.equal(expected);
      });
    }
  });

  describe('clusterCapacity', () => {
    const cases: ReadonlyArray<readonly [string, readonly InventoryCapacityRow[], number]> = [
      ['an empty inventory', [], 0],
      ['one H100 node', [row(8, '3000')], 1_440_000],
      ['unprofiled rows add nothing', [row(8, '3000'), row(4, null)], 1_440_000],
      ['only unprofiled rows', [row(16, null)], 0],
      ['no healthy devices', [row(0, '3000'), row(0, '1250')], 0],
      // Naive floats give 18.000000000000004 + 84 = 102.00000000000001.
      ['fractional factors, summed exactly', [row(3, '0.1'), row(7, '0.2')], 102],
      ['a sum that float addition would miss', [row(7, '0.002465')], 1.0353],
      ['a mixed city cluster', [row(16, '1200'), row(8, '2600'), row(2, '200'), row(4, null)], 2_424_000],
    ];
    for (const [what, inventory, expected] of cases) {
      it(`${what} → ${expected} std/min`, () => {
        expect(clusterCapacity(inventory)).to.equal(expected);
      });
    }

    it('agrees with stdPerMin summed row by row when the rows are whole', () => {
      const inventory = [row(8, '3000'), row(6, '1250'), row(3, '450')];
      const bySum = inventory.reduce((sum, r) => sum + stdPerMin(r.healthy, r.stdTokensPerSec ?? 0), 0);
      expect(clusterCapacity(inventory)).to.equal(bySum);
    });
  });

  describe('inventoryCapacity', () => {
    // [what, rows, total, allocated, free] in std/min.
    const cases: ReadonlyArray<readonly [string, readonly InventoryCapacityRow[], number, number, number]> = [
      ['nothing held: all free', [row(8, '3000')], 1_440_000, 0, 1_440_000],
      ['half held', [row(8, '3000', 4)], 1_440_000, 720_000, 720_000],
      ['fully held', [row(8, '3000', 8)], 1_440_000, 1_440_000, 0],
      // Held beyond healthy (devices failed under placements) counts as allocated, frees nothing,
      // and takes nothing from the free devices of another model.
      ['over-held model beside a free one', [row(2, '3000', 6), row(4, '1000')], 600_000, 1_080_000, 240_000],
      ['unprofiled rows add nothing, held or not', [row(4, null, 2), row(1, '0.1')], 6, 0, 6],
      ['no healthy devices', [row(0, '3000', 0)], 0, 0, 0],
    ];
    for (const [what, rows, total, allocated, free] of cases) {
      it(`${what} → total ${total}, allocated ${allocated}, free ${free}`, () => {
        const c = inventoryCapacity(rows);
        expect([microToNumber(c.total), microToNumber(c.allocated), microToNumber(c.free)]).to.deep.equal([total, allocated, free]);
      });
    }

    it('is exact in millionths: Σ of fractional factors', () => {
      expect(inventoryCapacity([row(3, '0.1', 1), row(7, '0.2', 2)])).to.deep.equal({ total: 102_000_000n, allocated: 30_000_000n, free: 72_000_000n });
    });
  });

  describe('workloadStdMicro', () => {
    const cases: ReadonlyArray<readonly [number, string, number]> = [
      // [tokensPerMin, costFactor, std millionths per minute]
      [100_000, '10', 1_000_000_000_000],
      [1000, '4.5', 4_500_000_000],
      [3, '0.333333', 999_999],
      [1, '0.000001', 1],
      [0, '10', 0],
      [1_000_000_000, '0', 0],
      [9_007_199, '1000', 9_007_199_000_000_000],
    ];
    for (const [tokens, costFactor, expected] of cases) {
      it(`${tokens} tokens/min × ${costFactor} = ${expected} µstd/min`, () => {
        expect(workloadStdMicro(tokens, micro(costFactor))).to.equal(expected);
      });
    }

    it('answers a number that is not a safe integer once the product passes 2^53, so callers can refuse it', () => {
      expect(Number.isSafeInteger(workloadStdMicro(1_000_000_000, micro('1000000')))).to.equal(false);
      expect(Number.isSafeInteger(workloadStdMicro(9_007_200, micro('1000')))).to.equal(false);
    });
  });

  describe('SQL of the formulas', () => {
    it('writes each formula over the columns it is given', () => {
      expect(workloadStdSql('w.tokens_per_min', 'm.cost_factor')).to.equal('(w.tokens_per_min * m.cost_factor)');
      expect(
        usageStdSql({ inputTokens: 'e.input_tokens', outputTokens: 'e.output_tokens', costFactor: 'w.cost_factor', inputFactor: 'w.input_factor' }),
      ).to.equal('(w.cost_factor * (e.output_tokens + w.input_factor * e.input_tokens))');
    });

    it('refuses anything but a column reference (it is spliced into SQL as is)', () => {
      for (const bad of ['1); DROP TABLE models; --', 'w.cost_factor * 2', '"w"."cost_factor"', '', 'a.b.c', '$1']) {
        expect(() => workloadStdSql('tokens_per_min', bad), bad).to.throw(RangeError);
        expect(() => usageStdSql({ inputTokens: bad, outputTokens: 'o', costFactor: 'c', inputFactor: 'f' }), bad).to.throw(RangeError);
      }
    });
  });

  describe('usageStdTokens', () => {
    const cases: ReadonlyArray<readonly [number, number, string, string, string]> = [
      // [input, output, costFactor, inputFactor, std]
      [1200, 300, '10', '0.25', '6000'],
      [0, 0, '10', '0.25', '0'],
      [1000, 0, '1', '0.25', '250'],
      [1, 0, '1', '0.25', '0.25'],
      [1000, 10, '2', '0', '20'],
      [1200, 300, '4.5', '0.25', '2700'],
      [0, 1, '0.333333', '0.25', '0.333333'],
      [3, 1, '0.333333', '0.1', '0.4333329'],
      [1, 0, '0.333333', '0.333333', '0.111110888889'],
      [7, 3, '0.000001', '0.000001', '0.000003000007'],
      [0, Number.MAX_SAFE_INTEGER, '1', '0.25', '9007199254740991'],
      [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, '10', '0.25', '112589990684262387.5'],
    ];
    for (const [input, output, costFactor, inputFactor, expected] of cases) {
      it(`${costFactor} × (${output} + ${inputFactor} × ${input}) = "${expected}"`, () => {
        expect(usageStdTokens(input, output, micro(costFactor), micro(inputFactor))).to.equal(expected);
      });
    }
  });
});

describe('builtin catalog', () => {
  // [name, vendor, resourceName, aliases]: other code and the demo city depend on these.
  const expected: ReadonlyArray<readonly [string, string, string, readonly string[]]> = [
    ['NVIDIA-H100-80GB', 'nvidia', 'nvidia.com/gpu', ['NVIDIA-H100-80GB-HBM3']],
    ['NVIDIA-H800-80GB', 'nvidia', 'nvidia.com/gpu', ['NVIDIA-H800', 'NVIDIA-H800-80GB-HBM3']],
    ['NVIDIA-H20-96GB', 'nvidia', 'nvidia.com/gpu', ['NVIDIA-H20']],
    ['NVIDIA-A100-80GB', 'nvidia', 'nvidia.com/gpu', ['NVIDIA-A100-SXM4-80GB', 'NVIDIA-A100-80GB-PCIe']],
    ['NVIDIA-A800-80GB', 'nvidia', 'nvidia.com/gpu', ['NVIDIA-A800-SXM4-80GB', 'NVIDIA-A800-80GB-PCIe']],
    ['NVIDIA-L40S-48GB', 'nvidia', 'nvidia.com/gpu', ['NVIDIA-L40S']],
    ['NVIDIA-RTX-4090-24GB', 'nvidia', 'nvidia.com/gpu', ['NVIDIA-GeForce-RTX-4090']],
    ['Huawei-Ascend-910B-64GB', 'huawei', 'huawei.com/Ascend910', ['Ascend910B', 'huawei-Ascend910B']],
    ['Huawei-Ascend-910C-128GB', 'huawei', 'huawei.com/Ascend910', ['Ascend910C', 'huawei-Ascend910C']],
    ['Huawei-Ascend-310P-24GB', 'huawei', 'huawei.com/Ascend310P', ['Ascend310P', 'huawei-Ascend310P']],
    ['Cambricon-MLU370-X8-48GB', 'cambricon', 'cambricon.com/mlu', ['MLU370-X8', 'MLU370']],
    ['Cambricon-MLU590-80GB', 'cambricon', 'cambricon.com/mlu', ['MLU590']],
    ['Hygon-DCU-K100-64GB', 'hygon', 'hygon.com/dcu', ['K100', 'DCU-K100', 'K100_AI']],
    ['Kunlunxin-P800-96GB', 'kunlunxin', 'kunlunxin.com/xpu', ['P800']],
    ['MetaX-C500-64GB', 'metax', 'metax-tech.com/gpu', ['C500', 'MXC500']],
    ['Iluvatar-BI-V150-64GB', 'iluvatar', 'iluvatar.ai/gpu', ['BI-V150']],
    ['MooreThreads-S4000-48GB', 'mthreads', 'mthreads.com/gpu', ['MTT-S4000', 'S4000']],
  ];

  it('holds exactly the agreed profiles', () => {
    expect(BUILTIN_DEVICE_PROFILES.map((p) => p.name)).to.have.members(expected.map(([name]) => name));
    expect(BUILTIN_DEVICE_PROFILES).to.have.length(expected.length);
  });

  for (const [name, vendor, resourceName, aliases] of expected) {
    it(`${name}: vendor ${vendor}, resource ${resourceName}, aliases ${aliases.join(', ')}`, () => {
      const profile = BUILTIN_DEVICE_PROFILES.find((p) => p.name === name);
      expect(profile, name).to.not.equal(undefined);
      expect(profile?.vendor).to.equal(vendor);
      expect(profile?.resourceName).to.equal(resourceName);
      expect(profile?.aliases).to.deep.equal(aliases);
    });
  }

  it('anchors NVIDIA-H100-80GB at 80 GiB, 700 W and 3000 std/s', () => {
    const h100 = BUILTIN_DEVICE_PROFILES.find((p) => p.name === 'NVIDIA-H100-80GB');
    expect([h100?.memoryGiB, h100?.tdpWatts, h100?.stdTokensPerSec]).to.deep.equal(['80', '700', '3000']);
  });

  it('never gives two devices the same name or alias, in any letter case', () => {
    const names = BUILTIN_DEVICE_PROFILES.flatMap((p) => [p.name, ...p.aliases]);
    expect(new Set(names).size).to.equal(names.length);
    expect(new Set(names.map((n) => n.toLowerCase())).size).to.equal(names.length);
  });

  it('writes every device decimal as a positive decimal with at most six places', () => {
    for (const p of BUILTIN_DEVICE_PROFILES) {
      for (const [field, text] of [
        ['memoryGiB', p.memoryGiB],
        ['tdpWatts', p.tdpWatts],
        ['stdTokensPerSec', p.stdTokensPerSec],
      ] as const) {
        expect(parseMicro(text), `${p.name}.${field}`).to.be.greaterThan(0);
        expect(formatMicro(parseMicro(text)), `${p.name}.${field} is in shortest form`).to.equal(text);
      }
    }
  });

  it('names models uniquely', () => {
    const names = BUILTIN_MODELS.map((m) => m.name);
    expect(new Set(names).size).to.equal(names.length);
    expect(names).to.include.members(['qwen2.5-7b-instruct', 'qwen2.5-32b-instruct', 'qwen2.5-72b-instruct', 'deepseek-v3']);
  });

  it('keeps the reference model at costFactor 1 on any vendor', () => {
    const ref = BUILTIN_MODELS.find((m) => m.name === 'qwen2.5-7b-instruct');
    expect(ref?.costFactor).to.equal('1');
    expect(ref?.vendors).to.deep.equal([]);
  });

  it('keeps qwen2.5-72b-instruct as API.md shows it', () => {
    const m = BUILTIN_MODELS.find((x) => x.name === 'qwen2.5-72b-instruct');
    expect(m).to.deep.equal({
      name: 'qwen2.5-72b-instruct',
      minMemoryGiB: '160',
      costFactor: '10',
      inputFactor: '0.25',
      vendors: ['nvidia', 'huawei'],
    });
  });

  it('writes every model decimal as a positive decimal with at most six places, inputFactor ≤ 1', () => {
    for (const m of BUILTIN_MODELS) {
      for (const [field, text] of [
        ['minMemoryGiB', m.minMemoryGiB],
        ['costFactor', m.costFactor],
        ['inputFactor', m.inputFactor],
      ] as const) {
        expect(parseMicro(text), `${m.name}.${field}`).to.be.greaterThan(0);
        expect(formatMicro(parseMicro(text)), `${m.name}.${field} is in shortest form`).to.equal(text);
      }
      expect(parseMicro(m.inputFactor), `${m.name}.inputFactor`).to.be.at.most(parseMicro('1'));
    }
  });

  it('lists only vendors that the catalog has devices of', () => {
    const vendors = new Set(BUILTIN_DEVICE_PROFILES.map((p) => p.vendor));
    for (const m of BUILTIN_MODELS) {
      for (const v of m.vendors) expect(vendors, `${m.name} lists ${v}`).to.include(v);
    }
  });

  for (const m of BUILTIN_MODELS) {
    it(`${m.name} fits at least one built-in device of a vendor it allows`, () => {
      const fits = BUILTIN_DEVICE_PROFILES.filter(
        (p) => (m.vendors.length === 0 || m.vendors.includes(p.vendor)) && devicesPerReplica(parseMicro(m.minMemoryGiB), parseMicro(p.memoryGiB)) !== null,
      );
      expect(fits, m.name).to.not.be.empty;
    });
  }

  it('fits the reference model on one device of every built-in profile', () => {
    const ref = BUILTIN_MODELS.find((m) => m.name === 'qwen2.5-7b-instruct');
    for (const p of BUILTIN_DEVICE_PROFILES) {
      expect(devicesPerReplica(parseMicro(ref?.minMemoryGiB ?? ''), parseMicro(p.memoryGiB)), p.name).to.equal(1);
    }
  });
});
