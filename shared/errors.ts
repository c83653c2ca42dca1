/**
 * The contract's error codes and the error type that carries them to clients. No zod here: the
 * browser SDK imports this module.
 */

/** Error codes of the public contract; every error a client sees carries one of these. */
export const ERROR_CODES = [
  'unauthorized',
  'forbidden',
  'invalid',
  'too_large',
  'rate_limited',
  'unavailable',
  'not_found',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

/** HTTP status for each error code (the same on the edge and on region nodes). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
};

/** An error meant for the client: its code and message are shown as they are. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}
