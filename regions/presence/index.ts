export type { PresenceChange, PresenceStore, PresenceTiming, RegionMembers } from './store';
export { RegionalPresence } from './presence';
export { MemoryPresence, memoryPresenceRegion, type MemoryPresenceRegion } from './memory-presence';
export { PresenceService } from './service';
export { GlobalPresence, PRESENCE_EVENTS_CHANNEL } from './global-presence';
