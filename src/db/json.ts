/** JSON kept in TEXT columns, checked on the way out: a hand-edited row fails loudly, not later. */

export function parseStringList(text: string): string[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new TypeError(`expected a JSON list of strings in the database, got ${text.slice(0, 80)}`);
  }
  return value;
}

export function parseObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`expected a JSON object in the database, got ${text.slice(0, 80)}`);
  }
  return value as Record<string, unknown>;
}
