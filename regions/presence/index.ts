export { RegionalPresence, type PresenceTiming } from './presence';
export { PresenceService } from './service';
export { GlobalPresence, PRESENCE_EVENTS_CHANNEL } from './global-presence';
