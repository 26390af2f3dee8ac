import { Code, ConnectError } from "@connectrpc/connect";
import { errors } from "jose";

/**
 * Maps every jose failure to Unauthenticated with a message that says what to
 * do. The one place jose errors are interpreted.
 */
export function joseErrorToConnect(err: unknown, what: string): ConnectError {
  if (err instanceof errors.JWTExpired) {
    return new ConnectError(`${what} expired: mint a new one`, Code.Unauthenticated);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return new ConnectError(
      `${what} is not valid here: claim "${err.claim}" ${err.reason === "missing" ? "is missing" : `failed check (${err.reason})`}`,
      Code.Unauthenticated,
    );
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new ConnectError(`${what} uses a signing algorithm this server does not accept`, Code.Unauthenticated);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new ConnectError(
      `${what} signature does not verify: it was not issued by this server's key`,
      Code.Unauthenticated,
    );
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new ConnectError(`${what} was signed by a key the server's JWKS does not hold`, Code.Unauthenticated);
  }
  if (err instanceof errors.JWKSTimeout || (err instanceof errors.JOSEError && err.code === "ERR_JOSE_GENERIC")) {
    return new ConnectError(`cannot check ${what} now: key set unavailable`, Code.Unavailable);
  }
  if (err instanceof errors.JOSEError) {
    return new ConnectError(`${what} is malformed (${err.code})`, Code.Unauthenticated);
  }
  return new ConnectError(`${what} could not be verified`, Code.Unauthenticated, undefined, undefined, err);
}
