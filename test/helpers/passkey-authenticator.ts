import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

/**
 * A software WebAuthn authenticator for tests without a browser: ES256 keys from node:crypto, the
 * authenticator data and attestation ('none') built byte by byte as the WebAuthn spec lays them out,
 * CBOR from @simplewebauthn/server's helpers. It plays the browser too (clientDataJSON with the
 * origin), so a test can answer Sesame's challenges exactly as a browser would, or get them wrong
 * on purpose (another origin, an old counter, a changed flag).
 */
export interface SoftCredential {
  id: string;
  privateKey: KeyObject;
  userHandle: string;
  counter: number;
  backupEligible: boolean;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();

export class SoftAuthenticator {
  readonly credentials = new Map<string, SoftCredential>();

  constructor(
    readonly origin: string,
    readonly rpId = new URL(origin).hostname,
  ) {}

  private authData(flags: number, counter: number, attested?: Buffer): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter >>> 0);
    return Buffer.concat([sha256(this.rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  }

  create(
    options: PublicKeyCredentialCreationOptionsJSON,
    how: { userVerified?: boolean; backupEligible?: boolean; backedUp?: boolean; origin?: string; counter?: number } = {},
  ): RegistrationResponseJSON {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
        [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
      ]),
    );
    const credentialId = randomBytes(16);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLength, credentialId, Buffer.from(cose)]);
    const backupEligible = how.backupEligible ?? false;
    const flags = FLAG_UP | FLAG_AT | (how.userVerified === false ? 0 : FLAG_UV) | (backupEligible ? FLAG_BE : 0) | (how.backedUp ? FLAG_BS : 0);
    const counter = how.counter ?? 0;
    const authData = this.authData(flags, counter, attested);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Map<string, string> | Uint8Array>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', new Uint8Array(authData)],
      ]),
    );
    const clientDataJSON = JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: how.origin ?? this.origin, crossOrigin: false });
    const id = credentialId.toString('base64url');
    this.credentials.set(id, { id, privateKey, userHandle: options.user.id, counter, backupEligible });
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: Buffer.from(clientDataJSON).toString('base64url'),
        attestationObject: Buffer.from(attestationObject).toString('base64url'),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /**
   * An assertion with `credentialId` (the only one when not given). `counter`: the signature counter
   * to send (default: one more than the last); `flagsBackupEligible` overrides the BE flag.
   */
  get(
    options: PublicKeyCredentialRequestOptionsJSON,
    how: { credentialId?: string; userVerified?: boolean; counter?: number; backupEligible?: boolean; origin?: string; userHandle?: string | null } = {},
  ): AuthenticationResponseJSON {
    const credential = how.credentialId ? this.credentials.get(how.credentialId) : [...this.credentials.values()][0];
    if (!credential) throw new Error('the soft authenticator has no such credential');
    const counter = how.counter ?? credential.counter + 1;
    credential.counter = Math.max(credential.counter, counter);
    const backupEligible = how.backupEligible ?? credential.backupEligible;
    const flags = FLAG_UP | (how.userVerified === false ? 0 : FLAG_UV) | (backupEligible ? FLAG_BE | FLAG_BS : 0);
    const authData = this.authData(flags, counter);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: how.origin ?? this.origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey);
    const userHandle = how.userHandle === undefined ? credential.userHandle : how.userHandle;
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'),
        authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'),
        ...(userHandle !== null && { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}
