import type { SlotFilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unresolvable } from '../framework/status.js';

const WRONG_VENDOR = unresolvable('no_compatible_device', "the model's runtime does not serve this vendor");

/** Keeps devices whose vendor the model's runtime serves; an empty `model.vendors` allows any. Unresolvable. */
export const vendorCompatible: SlotFilterPlugin = {
  name: 'vendor-compatible',
  reason: 'no_compatible_device',
  level: 'slot',
  static: true,
  filter: (ctx, c) => (ctx.model.vendors.length === 0 || ctx.model.vendors.includes(c.slot.profile.vendor) ? SUCCESS : WRONG_VENDOR),
};
