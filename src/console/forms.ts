import type { ApiAnswer, ApiProblem } from './api.ts';

/** Field name -> the message shown next to it. */
export type FieldErrors = Record<string, string>;

/** A form field's text from a urlencoded body (absent or repeated fields read as ''). */
export const text = (body: unknown, name: string): string => {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
};

/** A `?page=` number from 1 (anything else reads as the first page). */
export const pageNumber = (value: unknown) => {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 100_000 ? n : 1;
};

/** True when the form has no error to show. */
export const clean = (errors: FieldErrors) => Object.keys(errors).length === 0;

/** One URI per line, blank lines dropped. */
export const lines = (value: string): string[] =>
  value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);

export function checkUris(value: string, field: string, label: string, errors: FieldErrors): string[] {
  const uris = lines(value);
  for (const uri of uris) {
    let ok = false;
    try {
      const url = new URL(uri);
      ok = (url.protocol === 'http:' || url.protocol === 'https:') && !url.hash;
    } catch {
      ok = false;
    }
    if (!ok) {
      errors[field] = `Each ${label} must be an absolute http(s) URL without a #fragment; "${uri.slice(0, 80)}" is not.`;
      break;
    }
  }
  if (uris.length > 100) errors[field] = `At most 100 ${label}s.`;
  return uris;
}

/** A message for a person: first letter capitalised, the API's "body.x: " prefix dropped, a full stop. */
export function sentence(message: string): string {
  const bare = message.replace(/^(body|query|params)(\.[\w[\]]+)*: /, '');
  const capital = `${bare[0]?.toUpperCase() ?? ''}${bare.slice(1)}`;
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/**
 * Puts the API's refusal next to the form field it is about: its data.field when it names one
 * (validation, 400), else the field its message names (the domain's checks and 422 conflicts), else
 * the form as a whole (`_form`).
 */
export function apiErrors(answer: ApiAnswer, fields: Record<string, RegExp>): FieldErrors {
  const problem = answer.body as ApiProblem;
  const where = `${problem?.data?.field ?? ''} ${problem?.message ?? ''}`;
  for (const [field, pattern] of Object.entries(fields)) {
    if (pattern.test(where)) return { [field]: sentence(problem.message) };
  }
  return { _form: sentence(problem?.message ?? `The request was refused (${answer.status}).`) };
}
