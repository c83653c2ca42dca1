export { TokenBucket } from './token-bucket';
export { UserLimits, CONNECTION_LEASE_MS } from './user-limits';
