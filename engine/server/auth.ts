// Who may talk to the server. On loopback with no token, only pages served from loopback
// itself (Host and Origin checked: this blocks DNS rebinding and cross-site WebSockets). With a
// token, every HTTP and WebSocket request must carry it: `Authorization: Bearer <token>`,
// `?token=<token>`, or the cookie the server sets when a page is opened with `?token=`.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const TOKEN_COOKIE = "maskflow_token";

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
}

/** A fresh random token: 32 bytes, URL-safe. */
export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

/** The token a request carries, and where it came from. */
export function presentedToken(req: IncomingMessage): { token: string; via: "header" | "query" | "cookie" } | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith("Bearer ")) return { token: auth.slice(7).trim(), via: "header" };
  const query = new URL(req.url ?? "/", "http://x").searchParams.get("token");
  if (query) return { token: query, via: "query" };
  const cookie = cookieValue(req.headers.cookie, TOKEN_COOKIE);
  if (cookie) return { token: cookie, via: "cookie" };
  return null;
}

function hostName(hostHeader: string): string {
  // "[::1]:8188" -> "[::1]", "127.0.0.1:8188" -> "127.0.0.1"
  if (hostHeader.startsWith("[")) return hostHeader.slice(0, hostHeader.indexOf("]") + 1);
  return hostHeader.split(":")[0];
}

export type AccessCheck = { ok: true; via?: "header" | "query" | "cookie" } | { ok: false; status: 401 | 403; reason: string };

/**
 * Decides whether a request may proceed. `token` null means an open loopback server.
 * `checkOrigin`: state-changing requests and WebSocket upgrades from another site are refused
 * (a browser sends Origin on those; same-origin pages and non-browser clients pass).
 */
export function checkAccess(req: IncomingMessage, token: string | null, checkOrigin: boolean): AccessCheck {
  const host = req.headers.host ?? "";
  const origin = req.headers.origin;
  if (checkOrigin && origin) {
    let originHost = "";
    try {
      originHost = new URL(origin).host;
    } catch {
      // unparsable: refused below
    }
    if (originHost !== host) return { ok: false, status: 403, reason: `cross-origin request from ${origin} refused` };
  }
  if (token === null) {
    if (!isLoopbackHost(hostName(host))) return { ok: false, status: 403, reason: `host "${host}" refused: this server only answers on loopback` };
    return { ok: true };
  }
  const presented = presentedToken(req);
  if (!presented) return { ok: false, status: 401, reason: "this server needs a token (Authorization: Bearer <token> or ?token=)" };
  if (!sameSecret(presented.token, token)) return { ok: false, status: 401, reason: "wrong token" };
  return { ok: true, via: presented.via };
}
