/**
 * The unified social credit code (统一社会信用代码) of a Chinese legal person or other organization,
 * as GB 32100-2015 defines it: 18 characters from a 31-character alphabet (digits and upper-case
 * letters without I, O, Z, S, V):
 *
 * | position | part |
 * |---|---|
 * | 1 | registration authority (登记管理部门码): `1` establishment, `5` civil affairs, `9` market regulation, … |
 * | 2 | organization type within that authority (机构类别码): `9`+`1` an enterprise, `5`+`1` a social group, … |
 * | 3–8 | administrative division of the registering authority (GB/T 2260), six digits |
 * | 9–17 | the organization code (主体标识码, GB 11714): eight characters and their own check character |
 * | 18 | the check character over positions 1–17 |
 *
 * Pure: no I/O. Providers' and tenants' codes are checked by it (`usccCode`, server/http/schemas.ts).
 */

/** The code's alphabet in value order: a character's index is its value (0…30). */
export const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** GB 32100-2015's weights for positions 1–17 (3^(i−1) mod 31). */
const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;

/** GB 11714's weights for the eight body characters of an organization code. */
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2] as const;

/**
 * Registration authorities and the organization types each may assign (GB 32100-2015, table 1, with
 * the authorities the State Administration for Market Regulation added since: foreign affairs,
 * justice, culture, tourism, religion, trade unions, the military and agriculture).
 */
export const USCC_AUTHORITIES: Readonly<Record<string, { readonly name: string; readonly types: string }>> = {
  '1': { name: 'institutional establishment (机构编制)', types: '1239' },
  '2': { name: 'foreign affairs (外交)', types: '19' },
  '3': { name: 'justice administration (司法行政)', types: '1234569' },
  '4': { name: 'culture (文化)', types: '19' },
  '5': { name: 'civil affairs (民政)', types: '1239' },
  '6': { name: 'tourism (旅游)', types: '129' },
  '7': { name: 'religious affairs (宗教)', types: '129' },
  '8': { name: 'trade unions (工会)', types: '19' },
  '9': { name: 'market regulation (工商)', types: '123' },
  A: { name: 'military establishment (中央军委改革和编制办公室)', types: '19' },
  N: { name: 'agriculture (农业)', types: '1239' },
  Y: { name: 'other (其他)', types: '1' },
};

/** Why a code is refused; `null` from `usccProblem` when it is valid. */
export type UsccProblem = 'length' | 'alphabet' | 'authority' | 'type' | 'division' | 'organization_check' | 'check';

const MESSAGES: Readonly<Record<UsccProblem, string>> = {
  length: 'must be 18 characters',
  alphabet: 'may hold only digits and the upper-case letters A–Y without I, O, S, V (and no Z)',
  authority: 'has an unknown registration authority (its first character)',
  type: 'has an organization type (its second character) its registration authority does not assign',
  division: 'must have a six-digit administrative division code in characters 3–8',
  organization_check: 'has a wrong organization code check character (character 17, GB 11714)',
  check: 'has a wrong check character (character 18)',
};

/** A human-readable reason for a problem, for API errors (`"must be 18 characters"`). */
export function usccMessage(problem: UsccProblem): string {
  return MESSAGES[problem];
}

/**
 * The check character (position 18) of the first 17 characters of a code: `31 − (Σ value × weight
 * mod 31)`, 31 read as 0, written in the code's alphabet.
 * @throws RangeError if `first17` is not 17 characters of the alphabet.
 */
export function usccCheckCharacter(first17: string): string {
  if (first17.length !== 17) throw new RangeError(`usccCheckCharacter needs 17 characters, got ${first17.length}`);
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = USCC_ALPHABET.indexOf(first17[i]!);
    if (v < 0) throw new RangeError(`${JSON.stringify(first17[i])} is not in the code's alphabet`);
    sum += v * WEIGHTS[i]!;
  }
  return USCC_ALPHABET[(31 - (sum % 31)) % 31]!;
}

/**
 * The GB 11714 check character of an organization code's eight body characters (digits 0–9,
 * letters A=10 … Z=35): `11 − (Σ value × weight mod 11)`, written `X` for 10 and `0` for 11.
 * @throws RangeError if `body` is not eight digits or upper-case letters.
 */
export function organizationCheckCharacter(body: string): string {
  if (!/^[0-9A-Z]{8}$/.test(body)) throw new RangeError(`An organization code body is 8 digits or upper-case letters, got ${JSON.stringify(body)}`);
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += parseInt(body[i]!, 36) * ORG_WEIGHTS[i]!;
  const c = 11 - (sum % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/**
 * What is wrong with `code` as a unified social credit code, or `null` if it is valid. Checked in
 * order: length, alphabet, registration authority, organization type, division, the organization
 * code's check character, the code's check character. No normalization: lower case is refused
 * (callers may upper-case first if they choose).
 */
export function usccProblem(code: string): UsccProblem | null {
  if (code.length !== 18) return 'length';
  for (const ch of code) if (!USCC_ALPHABET.includes(ch)) return 'alphabet';
  const authority = USCC_AUTHORITIES[code[0]!];
  if (!authority) return 'authority';
  if (!authority.types.includes(code[1]!)) return 'type';
  if (!/^\d{6}$/.test(code.slice(2, 8))) return 'division';
  if (organizationCheckCharacter(code.slice(8, 16)) !== code[16]) return 'organization_check';
  if (usccCheckCharacter(code.slice(0, 17)) !== code[17]) return 'check';
  return null;
}

/** Whether `code` is a valid unified social credit code (`usccProblem` is null). */
export function isValidUscc(code: string): boolean {
  return usccProblem(code) === null;
}
