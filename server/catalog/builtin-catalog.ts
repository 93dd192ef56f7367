/**
 * The built-in catalog of accelerators and models, seeded at first start. These are starting
 * values: operators edit them through the catalog API, and measurements reported by cluster
 * agents may refine them later. Decimals are strings with at most six places (API.md "Catalog").
 *
 * Standard tokens. `stdTokensPerSec` is the decode throughput, in tokens per second, of ONE device
 * serving a dense 7B-class reference model (Qwen2.5-7B-Instruct / Llama-2-7B in FP16/BF16, with a
 * vLLM-class engine doing continuous batching at high concurrency). NVIDIA-H100-80GB is the
 * anchor at 3000.
 *
 * Method. Decode at high concurrency is bound partly by memory bandwidth (weights and KV cache are
 * read for every step) and partly by compute (batched matmuls). Each device is scaled from the
 * H100 SXM (3.35 TB/s HBM3, 989 dense BF16 TFLOPS) by the geometric mean of the two ratios and
 * rounded to the nearest 50:
 *
 *     stdTokensPerSec = 3000 × √( (bandwidth / 3.35 TB/s) × (dense FP16/BF16 TFLOPS / 989) )
 *
 * Dense means without 2:4 sparsity. Figures are the vendors' published peaks where a datasheet
 * exists; several Chinese accelerators have no public datasheet, and their figures are press or
 * vendor-presentation numbers marked "unverified". The formula ignores software maturity, which
 * today favours NVIDIA; treat the non-NVIDIA values as upper bounds until measured.
 *
 * `memoryGiB` is the memory of one device as Kubernetes counts it (one unit of `resourceName`).
 * Some packages hold two dies that the device plugin may expose separately (Ascend 910C on
 * Atlas A3, Iluvatar BI-V150); where an agent reports dies, the operator should halve memory and
 * throughput of that profile.
 */

import type { DeviceProfileValues, ModelValues } from '../repositories/catalog.repository.js';

/** A built-in profile has exactly the values an operator gives when adding one. */
export type BuiltinDeviceProfile = DeviceProfileValues;

/** A built-in model has exactly the values an operator gives when adding one. */
export type BuiltinModel = ModelValues;

/** Common accelerators by vendor, valued by the method above. */
export const BUILTIN_DEVICE_PROFILES: readonly BuiltinDeviceProfile[] = [
  // NVIDIA (resource nvidia.com/gpu; names as GPU feature discovery reports nvidia.com/gpu.product).
  {
    // Anchor: H100 SXM5, 3.35 TB/s HBM3, 989 TFLOPS dense BF16.
    name: 'NVIDIA-H100-80GB',
    vendor: 'nvidia',
    memoryGiB: '80',
    tdpWatts: '700',
    stdTokensPerSec: '3000',
    resourceName: 'nvidia.com/gpu',
    aliases: ['NVIDIA-H100-80GB-HBM3'],
  },
  {
    // H800 SXM: the H100 die and memory (3.35 TB/s, 989 TFLOPS) with NVLink cut to 400 GB/s,
    // which does not matter for a single-device replica → same as H100.
    name: 'NVIDIA-H800-80GB',
    vendor: 'nvidia',
    memoryGiB: '80',
    tdpWatts: '700',
    stdTokensPerSec: '3000',
    resourceName: 'nvidia.com/gpu',
    aliases: ['NVIDIA-H800', 'NVIDIA-H800-80GB-HBM3'],
  },
  {
    // H20: 4.0 TB/s HBM3, 148 TFLOPS dense BF16 → √(1.194 × 0.150) = 0.42 → 1268.
    name: 'NVIDIA-H20-96GB',
    vendor: 'nvidia',
    memoryGiB: '96',
    tdpWatts: '400',
    stdTokensPerSec: '1250',
    resourceName: 'nvidia.com/gpu',
    aliases: ['NVIDIA-H20'],
  },
  {
    // A100 80GB SXM4: 2.039 TB/s HBM2e, 312 TFLOPS dense BF16 → √(0.609 × 0.315) = 0.44 → 1315.
    // (The PCIe card, 1.935 TB/s and 300 W, is a few percent slower.)
    name: 'NVIDIA-A100-80GB',
    vendor: 'nvidia',
    memoryGiB: '80',
    tdpWatts: '400',
    stdTokensPerSec: '1300',
    resourceName: 'nvidia.com/gpu',
    aliases: ['NVIDIA-A100-SXM4-80GB', 'NVIDIA-A100-80GB-PCIe'],
  },
  {
    // A800 80GB SXM4: A100 silicon and memory (2.039 TB/s, 312 TFLOPS), NVLink cut to 400 GB/s → 1315.
    name: 'NVIDIA-A800-80GB',
    vendor: 'nvidia',
    memoryGiB: '80',
    tdpWatts: '400',
    stdTokensPerSec: '1300',
    resourceName: 'nvidia.com/gpu',
    aliases: ['NVIDIA-A800-SXM4-80GB', 'NVIDIA-A800-80GB-PCIe'],
  },
  {
    // L40S: 864 GB/s GDDR6, 362 TFLOPS dense BF16 → √(0.258 × 0.366) = 0.31 → 922.
    name: 'NVIDIA-L40S-48GB',
    vendor: 'nvidia',
    memoryGiB: '48',
    tdpWatts: '350',
    stdTokensPerSec: '900',
    resourceName: 'nvidia.com/gpu',
    aliases: ['NVIDIA-L40S'],
  },
  {
    // RTX 4090: 1.008 TB/s GDDR6X, 165 TFLOPS dense FP16 with FP32 accumulate (GeForce rate)
    // → √(0.301 × 0.167) = 0.22 → 672. Only ~7 GiB is left for KV cache beside 7B weights.
    name: 'NVIDIA-RTX-4090-24GB',
    vendor: 'nvidia',
    memoryGiB: '24',
    tdpWatts: '450',
    stdTokensPerSec: '650',
    resourceName: 'nvidia.com/gpu',
    aliases: ['NVIDIA-GeForce-RTX-4090'],
  },

  // Huawei Ascend (Ascend device plugin resources; nodes labelled accelerator=huawei-Ascend910 …).
  {
    // 910B (Atlas 800I/T A2 class): 1.6 TB/s HBM2e, ~320 TFLOPS FP16 (910B3 313, 910B2 ~376)
    // → √(0.478 × 0.324) = 0.39 → 1179.
    name: 'Huawei-Ascend-910B-64GB',
    vendor: 'huawei',
    memoryGiB: '64',
    tdpWatts: '400',
    stdTokensPerSec: '1200',
    resourceName: 'huawei.com/Ascend910',
    aliases: ['Ascend910B', 'huawei-Ascend910B'],
  },
  {
    // 910C: two 910B-class dies, 3.2 TB/s HBM2e, ~780 TFLOPS BF16 (press figures; TDP unverified)
    // → √(0.955 × 0.789) = 0.87 → 2604. On Atlas A3 each die may be a separate device (see top).
    name: 'Huawei-Ascend-910C-128GB',
    vendor: 'huawei',
    memoryGiB: '128',
    tdpWatts: '750',
    stdTokensPerSec: '2600',
    resourceName: 'huawei.com/Ascend910',
    aliases: ['Ascend910C', 'huawei-Ascend910C'],
  },
  {
    // 310P (one chip, as in Atlas 300I Pro; the 300I Duo card holds two): 204.8 GB/s LPDDR4X,
    // 70 TFLOPS FP16, 72 W → √(0.061 × 0.071) = 0.066 → 197.
    name: 'Huawei-Ascend-310P-24GB',
    vendor: 'huawei',
    memoryGiB: '24',
    tdpWatts: '72',
    stdTokensPerSec: '200',
    resourceName: 'huawei.com/Ascend310P',
    aliases: ['Ascend310P', 'huawei-Ascend310P'],
  },

  // Cambricon.
  {
    // MLU370-X8 (dual-chiplet card): 614.4 GB/s LPDDR5, 96 TFLOPS FP16/BF16, 250 W
    // → √(0.183 × 0.097) = 0.13 → 400.
    name: 'Cambricon-MLU370-X8-48GB',
    vendor: 'cambricon',
    memoryGiB: '48',
    tdpWatts: '250',
    stdTokensPerSec: '400',
    resourceName: 'cambricon.com/mlu',
    aliases: ['MLU370-X8', 'MLU370'],
  },
  {
    // MLU590: no public datasheet (unverified). Press reports: 80 GB HBM2e at ~2.4 TB/s and
    // ~256 TFLOPS FP16, "80–90% of an A100" → √(0.716 × 0.259) = 0.43 → 1292; 1100 follows
    // the reported A100 comparison (0.85 × 1300) as the more conservative of the two.
    name: 'Cambricon-MLU590-80GB',
    vendor: 'cambricon',
    memoryGiB: '80',
    tdpWatts: '350',
    stdTokensPerSec: '1100',
    resourceName: 'cambricon.com/mlu',
    aliases: ['MLU590'],
  },

  // Hygon.
  {
    // DCU K100: 100 TFLOPS FP16 and 64 GB HBM2e at 896 GB/s (Hygon's K100 / K100-AI figures;
    // TDP unverified) → √(0.267 × 0.101) = 0.16 → 493. A K100-AI (196 TFLOPS) scores ~700.
    name: 'Hygon-DCU-K100-64GB',
    vendor: 'hygon',
    memoryGiB: '64',
    tdpWatts: '350',
    stdTokensPerSec: '500',
    resourceName: 'hygon.com/dcu',
    aliases: ['K100', 'DCU-K100', 'K100_AI'],
  },

  // Kunlunxin (Baidu).
  {
    // P800: no public datasheet (unverified). ~345 TFLOPS FP16 reported; bandwidth taken as
    // A100-class ~2.0 TB/s → √(0.597 × 0.349) = 0.46 → 1369.
    name: 'Kunlunxin-P800-96GB',
    vendor: 'kunlunxin',
    memoryGiB: '96',
    tdpWatts: '400',
    stdTokensPerSec: '1350',
    resourceName: 'kunlunxin.com/xpu',
    aliases: ['P800'],
  },

  // MetaX.
  {
    // C500: 1.8 TB/s HBM2e, 280 TFLOPS FP16/BF16, 350 W (MetaX product page)
    // → √(0.537 × 0.283) = 0.39 → 1170.
    name: 'MetaX-C500-64GB',
    vendor: 'metax',
    memoryGiB: '64',
    tdpWatts: '350',
    stdTokensPerSec: '1150',
    resourceName: 'metax-tech.com/gpu',
    aliases: ['C500', 'MXC500'],
  },

  // Iluvatar CoreX.
  {
    // BI-V150: two dies of 32 GB each (unverified card figures: ~1.6 TB/s, ~192 TFLOPS FP16)
    // → √(0.478 × 0.194) = 0.30 → 913. ixsmi shows each die as a GPU (see top).
    name: 'Iluvatar-BI-V150-64GB',
    vendor: 'iluvatar',
    memoryGiB: '64',
    tdpWatts: '350',
    stdTokensPerSec: '900',
    resourceName: 'iluvatar.ai/gpu',
    aliases: ['BI-V150'],
  },

  // Moore Threads.
  {
    // MTT S4000: 768 GB/s GDDR6, 100 TFLOPS FP16/BF16, 450 W → √(0.229 × 0.101) = 0.15 → 457.
    name: 'MooreThreads-S4000-48GB',
    vendor: 'mthreads',
    memoryGiB: '48',
    tdpWatts: '450',
    stdTokensPerSec: '450',
    resourceName: 'mthreads.com/gpu',
    aliases: ['MTT-S4000', 'S4000'],
  },
];

/**
 * minMemoryGiB: weights (BF16 unless stated) plus KV-cache headroom; the placement rule compares
 * it with 90% of the replica's device memory, which leaves room for activations.
 * costFactor: standard tokens per output token, about active parameters ÷ 7.6B (Qwen2.5-7B),
 * nudged by the KV bytes read per token. inputFactor: prefill runs as large compute-bound matmuls
 * and costs a fraction of a decode step per token; 0.25 is also DeepSeek's own API price ratio
 * (¥2 input on a cache miss ÷ ¥8 output per million tokens).
 */
export const BUILTIN_MODELS: readonly BuiltinModel[] = [
  {
    // The reference. 7.6B params = 14.2 GiB in BF16 + ~6 GiB KV cache (56 KiB/token, ~110k tokens);
    // fits one device of every built-in profile (24 GiB × 0.9 = 21.6).
    name: 'qwen2.5-7b-instruct',
    minMemoryGiB: '20',
    costFactor: '1',
    inputFactor: '0.25',
    vendors: [],
  },
  {
    // 32.8B params = 61 GiB in BF16 + ~19 GiB KV (256 KiB/token, ~78k tokens). 4.3× the weights
    // and 4.6× the KV bytes of the 7B per token → 4.5. Served by every vendor's vLLM port.
    name: 'qwen2.5-32b-instruct',
    minMemoryGiB: '80',
    costFactor: '4.5',
    inputFactor: '0.25',
    vendors: [],
  },
  {
    // 72.7B params = 135 GiB in BF16 + ~25 GiB KV (320 KiB/token). 9.5× the weights, 5.7× the KV
    // → 10. Four 80 GiB or 64 GiB devices.
    name: 'qwen2.5-72b-instruct',
    minMemoryGiB: '160',
    costFactor: '10',
    inputFactor: '0.25',
    vendors: ['nvidia', 'huawei'],
  },
  {
    // MoE, 671B total / 37B active, FP8 weights: ~630 GiB checkpoint (MTP layer not loaded) +
    // ~50 GiB MLA KV cache (~69 KiB/token, ~750k tokens). Shapes: 8× H20, P800 or 910C;
    // 16× 80 GiB or 64 GiB devices. 37B / 7.6B = 4.9 → 5 (large expert-parallel deployments
    // do better; measurements may lower it). Vendors with a public serving stack for it:
    // NVIDIA (vLLM/SGLang FP8), Huawei (MindIE / vLLM-Ascend W8A8), Hygon (DCU adaptation,
    // Feb 2025), Kunlunxin (single 8×P800 node), MetaX (C500 deployments announced Feb 2025).
    name: 'deepseek-v3',
    minMemoryGiB: '680',
    costFactor: '5',
    inputFactor: '0.25',
    vendors: ['nvidia', 'huawei', 'hygon', 'kunlunxin', 'metax'],
  },
  {
    // Qwen2.5-32B architecture distilled from R1: same memory and cost per token as
    // qwen2.5-32b-instruct (it emits more tokens, which usage counts, not the factor).
    name: 'deepseek-r1-distill-qwen-32b',
    minMemoryGiB: '80',
    costFactor: '4.5',
    inputFactor: '0.25',
    vendors: [],
  },
];
