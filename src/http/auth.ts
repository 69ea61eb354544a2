/**
 * Habitat's optional gateway token (reference §5): when `HAB_SUP_GATEWAY_AUTH_TOKEN` is set at
 * start, every request must carry `Authorization: Bearer <token>`, or gets a 401 with an empty
 * body. The comparison takes the same time whatever the guess: both sides are hashed to SHA-256
 * first, so that neither their contents nor their lengths leak through `timingSafeEqual`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { emptyReply, type Middleware } from '../core/http-router.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** `Bearer` is matched without regard to case (RFC 6750 §2.1); the token exactly. */
const BEARER = /^Bearer +(.*)$/i;

/** True when `header` is `Bearer <token>`. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = BEARER.exec(header ?? '')?.[1];
  // Compare even when the header is missing, so that a missing header takes as long as a bad one.
  const same = timingSafeEqual(digest(presented ?? ''), digest(token));
  return presented !== undefined && same;
}

/** A middleware that answers 401 with an empty body unless the request carries `token`. */
export function requireBearer(token: string): Middleware {
  return (req, next) => (bearerMatches(req.header('authorization'), token) ? next() : emptyReply(401));
}
