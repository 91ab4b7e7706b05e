/** Codes of the errors the example's own services throw (riverlog's are `RiverlogError`s). */
export type RetailErrorCode = 'REGISTRY_BEHIND' | 'SETTLE_TIMEOUT';

/**
 * An error of the example's services, with a stable code to match on, like
 * riverlog's own errors (whose codes are riverlog's alone).
 *
 * @example
 * if (error instanceof RetailError && error.code === 'REGISTRY_BEHIND') startTheRegistry();
 */
export class RetailError extends Error {
  readonly code: RetailErrorCode;
  constructor(code: RetailErrorCode, message: string) {
    super(message);
    this.name = 'RetailError';
    this.code = code;
  }
}
