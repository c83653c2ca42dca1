export { RegionalPresence, NODE_LEASE_MS } from './presence';
export { PresenceService } from './service';
export { GlobalPresence, PRESENCE_EVENTS_CHANNEL } from './global-presence';
