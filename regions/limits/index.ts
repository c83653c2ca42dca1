export { TokenBucket } from './token-bucket';
export {
  CONNECTION_LEASE_MS,
  type UserConnection,
  type UserLimitRules,
  type UserLimits,
} from './user-limits';
export { RedisUserLimits } from './redis-user-limits';
export { MemoryUserLimits, type MemoryConnectionLeases } from './memory-user-limits';
