import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  booleanWord,
  got,
  integerIn,
  isSingleMailbox,
  mailbox,
  mustBeIntegerBetween,
  mustBeTrueOrFalse,
  oneOf,
} from '../../src/lib/validation.ts';

/** The value, or the first problem's message. */
function check(schema: z.ZodType, input: unknown): unknown {
  const result = schema.safeParse(input);
  return result.success ? result.data : result.error.issues[0]?.message;
}

describe('got', () => {
  it('quotes text on one line and writes other JSON values as they are', () => {
    expect(got('abc')).toBe('got "abc"');
    expect(got('a\nb')).toBe('got "a\\nb"');
    expect(got(-1)).toBe('got -1');
    expect(got(true)).toBe('got true');
    expect(got(undefined)).toBe('got undefined');
    expect(got('x'.repeat(500)).length).toBeLessThan(120);
  });
});

describe('integerIn', () => {
  const port = (given: 'number' | 'text' | 'either') => integerIn(1, 65535, mustBeIntegerBetween('PORT', 1, 65535), given);

  it('reads decimal digits from text, surrounding spaces ignored', () => {
    expect(check(port('text'), '3001')).toBe(3001);
    expect(check(port('text'), ' 25 ')).toBe(25);
    for (const bad of ['abc', '0', '70000', '-1', '1.5', '1e3', '0x10', '', '99999999999999999999']) {
      expect(check(port('text'), bad)).toBe(`PORT must be an integer between 1 and 65535, got ${JSON.stringify(bad.trim())}`);
    }
  });

  it('takes only JSON numbers for stored settings', () => {
    expect(check(port('number'), 587)).toBe(587);
    expect(check(port('number'), -1)).toBe('PORT must be an integer between 1 and 65535, got -1');
    expect(check(port('number'), 2.5)).toBe('PORT must be an integer between 1 and 65535, got 2.5');
    expect(check(port('number'), '587')).toBe('PORT must be an integer between 1 and 65535, got "587"');
  });

  it('takes either in a pasted config, with a fixed message', () => {
    const schema = integerIn(1, 65535, 'must be an integer between 1 and 65535', 'either');
    expect(check(schema, 587)).toBe(587);
    expect(check(schema, ' 587')).toBe(587);
    for (const bad of [0, 65536, 2.5, '25x', null, true]) expect(check(schema, bad)).toBe('must be an integer between 1 and 65535');
  });
});

describe('booleanWord', () => {
  it('loose: true/false, yes/no, 1/0 in any case', () => {
    const schema = booleanWord(mustBeTrueOrFalse('SMTP_SECURE'));
    for (const yes of ['true', 'TRUE', ' yes ', '1']) expect(check(schema, yes)).toBe(true);
    for (const no of ['false', 'No', '0']) expect(check(schema, no)).toBe(false);
    expect(check(schema, 'maybe')).toBe('SMTP_SECURE must be true or false, got "maybe"');
  });

  it('strict: exactly true or false', () => {
    const schema = booleanWord(mustBeTrueOrFalse('--reject-common-passwords'), 'strict');
    expect(check(schema, 'true')).toBe(true);
    expect(check(schema, 'false')).toBe(false);
    for (const bad of ['yes', '1', 'True', '']) {
      expect(check(schema, bad)).toBe(`--reject-common-passwords must be true or false, got ${JSON.stringify(bad)}`);
    }
  });
});

describe('oneOf', () => {
  it('names the field, the choices and what it got', () => {
    const schema = oneOf('NODE_ENV', ['development', 'production', 'test']);
    expect(check(schema, 'test')).toBe('test');
    expect(check(schema, 'prod')).toBe('NODE_ENV must be one of development, production, test, got "prod"');
    expect(check(schema, 3)).toBe('NODE_ENV must be one of development, production, test, got 3');
  });
});

describe('mailbox', () => {
  it('accepts one address, with or without a display name, and nothing that could add a header or a recipient', () => {
    for (const ok of ['no-reply@example.com', 'Sesame <no-reply@example.com>', '"Books, Inc." <a@example.com>', 'Relay <a@localhost>']) {
      expect(isSingleMailbox(ok)).toBe(true);
    }
    for (const bad of ['nobody', 'a@example.com, b@example.com', 'a@example.com\r\nBcc: x@example.com', '@example.com', 'a@', 'Group: a@b.c;']) {
      expect(isSingleMailbox(bad)).toBe(false);
    }
  });

  it('trims, and refuses text and non-text with their own messages', () => {
    const schema = mailbox('must be one email address', { notText: 'must be a string' });
    expect(check(schema, ' a@example.com ')).toBe('a@example.com');
    expect(check(schema, 'nope')).toBe('must be one email address');
    expect(check(schema, 3)).toBe('must be a string');
    expect(check(schema, '')).toBe('must be one email address');
    expect(check(mailbox('x', { allowEmpty: true }), '  ')).toBe('');
  });
});
