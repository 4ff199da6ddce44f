import { InvalidInputError } from './applications.ts';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../lib/validation.ts';

/** Custom data is kept small: it travels in every userinfo response. */
export const MAX_CUSTOM_DATA_BYTES = 16 * 1024;

/**
 * The rules for a user's custom_data, for every caller (the CLI today, the management API later):
 * a JSON object, nested at most MAX_JSON_DEPTH levels, at most MAX_CUSTOM_DATA_BYTES as compact
 * JSON. Depth is checked first and without recursion: JSON.parse accepts a value nested thousands
 * deep, and JSON.stringify (to measure or store it) would then throw a RangeError.
 */
export function validateCustomData(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError('custom data must be a JSON object, such as {"plan":"pro"}');
  }
  if (nestedDeeperThan(value, MAX_JSON_DEPTH)) {
    throw new InvalidInputError(`custom data must be nested at most ${MAX_JSON_DEPTH} levels deep`);
  }
  if (Buffer.byteLength(JSON.stringify(value)) > MAX_CUSTOM_DATA_BYTES) {
    throw new InvalidInputError(`custom data must be at most ${MAX_CUSTOM_DATA_BYTES} bytes (16 KiB) as JSON`);
  }
  return value as Record<string, unknown>;
}
