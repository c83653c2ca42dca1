/**
 * Socket.IO session ids made by region nodes have the form `{region}~{node}~{random}`, so the edge
 * and a region's load balancer can pin every long-polling request of a session (query `sid`) to the
 * region and node that hold it, without cookies.
 */
export const SESSION_ID_SEPARATOR = '~';

export function formatSessionId(region: string, node: string, random: string): string {
  return [region, node, random].join(SESSION_ID_SEPARATOR);
}

/** The region and node a session id names, or undefined when it is not one of ours. */
export function parseSessionId(sid: string | null | undefined): { region: string; node: string } | undefined {
  if (!sid) return undefined;
  const [region, node, random, extra] = sid.split(SESSION_ID_SEPARATOR);
  return region && node && random && extra === undefined ? { region, node } : undefined;
}
