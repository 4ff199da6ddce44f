import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

/**
 * RFC 6238 as every authenticator app reads it: HMAC-SHA-1, 6 digits, 30-second steps (the only
 * parameters Google Authenticator and most others honour, whatever the otpauth:// URI says).
 */
const PERIOD_SECONDS = 30;
const PARAMETERS = { algorithm: 'SHA1', digits: 6, period: PERIOD_SECONDS } as const;
/** Codes one step either side of now are accepted: clocks drift, and people type slowly. */
const WINDOW = 1;
/** 160 bits, the HMAC-SHA-1 key size RFC 4226 recommends. */
const SECRET_BYTES = 20;

export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

/** The otpauth:// URI an authenticator app scans: "issuer: account" as its label. */
export function totpUri(secret: string, issuer: string, account: string): string {
  return new TOTP({ issuer, label: account, secret: Secret.fromBase32(secret), ...PARAMETERS }).toString();
}

/** The QR code of `uri` as an SVG document, made here (no image service sees the secret). */
export async function qrSvg(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2, color: { dark: '#000000', light: '#ffffff' } });
}

/** The secret in groups of four, as people type it into an app that cannot scan. */
export function groupedSecret(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

/** The time step a code typed at `now` (ms) belongs to, if it is right within the window; else undefined. */
export function matchingStep(secret: string, token: string, now: number): number | undefined {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), ...PARAMETERS });
  const delta = totp.validate({ token, timestamp: now, window: WINDOW });
  if (delta === null) return undefined;
  return totp.counter({ timestamp: now }) + delta;
}
