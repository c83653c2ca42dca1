export { RoomDelivery, type DeliveryObserver, type RegionIo } from './delivery';
export {
  answerRetry,
  checkIdWindow,
  claimTtlMs,
  type AcceptOptions,
  type AcceptResult,
  type PublishAck,
  type PublishLog,
  type PublishLogRules,
} from './log';
export { MemoryPublishLog } from './memory-log';
export { ClusterAcceptStore } from './cluster-accept';
export { RedisPublishLog } from './redis-log';
export { ServerAcceptStore, type AcceptStore } from './accept-store';
export { Publisher, type PublishRequest } from './publisher';
