/** The mail itself is unusable (a recipient or subject that could inject headers, ...): nothing was sent. */
export class InvalidMailError extends Error {
  override name = 'InvalidMailError';
}

export interface MailDeliveryDetails {
  /** nodemailer's error code: EENVELOPE (refused recipient), ECONNECTION, ETIMEDOUT, EAUTH, EMESSAGE, ... */
  code?: string;
  /** The SMTP reply code, e.g. 550, when the server answered. */
  responseCode?: number;
  /** The full SMTP reply line, e.g. "550 5.1.1 No such user". */
  response?: string;
  /** The SMTP command that got the reply (RCPT TO, DATA, ...). */
  command?: string;
  /** True when retrying the same mail would be refused again (a 5xx reply). */
  permanent?: boolean;
  /**
   * True only when the mail certainly did not leave: the server answered with a refusal, or the
   * failure came before the message was handed over (no connection, no login). A timeout or a
   * dropped connection mid-transfer is not certain: the server may have accepted the mail anyway.
   */
  certainlyNotSent?: boolean;
}

/** The SMTP server refused the mail, or could not be reached in time. */
export class MailDeliveryError extends Error implements MailDeliveryDetails {
  override name = 'MailDeliveryError';
  // `declare`: fields the server did not report stay absent instead of showing up as undefined.
  declare readonly code?: string;
  declare readonly responseCode?: number;
  declare readonly response?: string;
  declare readonly command?: string;
  declare readonly permanent?: boolean;
  readonly certainlyNotSent: boolean;

  constructor(message: string, details: MailDeliveryDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    if (details.code !== undefined) this.code = details.code;
    if (details.responseCode !== undefined) this.responseCode = details.responseCode;
    if (details.response !== undefined) this.response = details.response;
    if (details.command !== undefined) this.command = details.command;
    if (details.permanent !== undefined) this.permanent = details.permanent;
    this.certainlyNotSent = details.certainlyNotSent ?? false;
  }

  /** The receiving side refused this recipient for good (a 5xx to RCPT TO): retrying will not help. */
  get recipientRefused(): boolean {
    return this.permanent === true && this.responseCode !== undefined && (this.command ?? '').toUpperCase().startsWith('RCPT');
  }
}

