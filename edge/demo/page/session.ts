import { RealtimeClient } from '@edge-realtime/client';
import type { City } from './cities';

/** `GET /v1/route`: the region this caller gets, and why. */
export interface RouteAnswer {
  region: string;
  distanceKm: number;
  reason: string;
  failover: string[];
  health: string;
}

/** What the page asks the edge for before it connects. */
export interface SessionRequest {
  name: string;
  /** In the simulation: where the user says they are (`geo=LAT,LON`); elsewhere the edge uses `request.cf`. */
  city?: City | undefined;
  /** A pasted access token; without one the simulation's `/dev/token` mints one. */
  token?: string | undefined;
}

/** The edge's `/healthz`: whether it runs in the simulation (which has `/dev/token` and `geo=`). */
export async function edgeIsSimulation(): Promise<boolean> {
  try {
    const response = await fetch('/healthz', { cache: 'no-store' });
    return ((await response.json()) as { sim?: boolean }).sim === true;
  } catch {
    return false;
  }
}

/** The route this caller would get (from the city in the simulation). */
export async function routeFor(city: City | undefined): Promise<RouteAnswer | undefined> {
  const response = await fetch(`/v1/route${city ? `?geo=${geoOf(city)}` : ''}`, { cache: 'no-store' });
  return response.ok ? ((await response.json()) as RouteAnswer) : undefined;
}

/**
 * A client connected through this page's own host (the edge). Without a pasted token, the first one
 * comes from `/dev/token` now (so a refusal shows at once), and every reconnect asks for a fresh one,
 * keeping the last when that fails.
 */
export async function openClient(request: SessionRequest): Promise<RealtimeClient> {
  const { city, token, name } = request;
  let current = token ?? (await devToken(name));
  let first = true;
  const refresh = async () => {
    if (!token && !first) current = await devToken(name).catch(() => current);
    first = false;
    return current;
  };
  return new RealtimeClient({
    url: location.origin,
    token: refresh,
    socketOptions: city ? { query: { geo: geoOf(city) } } : {},
  });
}

/** The `sub` of a JWT (what others see as the user), read without verifying: the region verifies. */
export function subjectOf(token: string): string | undefined {
  try {
    const payload = token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    const sub = (JSON.parse(atob(payload)) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

async function devToken(name: string): Promise<string> {
  const response = await fetch(`/dev/token?${new URLSearchParams({ sub: name, rooms: '*' })}`, {
    cache: 'no-store',
  });
  const body = (await response.json()) as { token?: string; error?: { message: string } };
  if (!response.ok || !body.token)
    throw new Error(body.error?.message ?? `/dev/token answered ${response.status}`);
  return body.token;
}

function geoOf(city: City): string {
  return `${city.lat},${city.lon}`;
}
