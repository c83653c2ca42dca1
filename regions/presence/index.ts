export { RegionalPresence, NODE_LEASE_MS } from './presence';
export { PresenceService } from './service';
