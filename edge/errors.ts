import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HTTP_STATUS, type ErrorCode } from '../shared/errors';

/** The contract's error body `{ error: { code, message } }`, with the code's status unless given. */
export function errorResponse(c: Context, code: ErrorCode, message: string, status?: number): Response {
  return c.json({ error: { code, message } }, (status ?? HTTP_STATUS[code]) as ContentfulStatusCode);
}

/** One JSON log line (Workers Logs and `wrangler tail` show console output). */
export function logEvent(level: 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
  console.error(JSON.stringify({ level, msg, ...fields }));
}
