export { RoomDelivery, type DeliveryObserver, type RegionIo } from './delivery';
export {
  answerRetry,
  checkIdWindow,
  claimTtlMs,
  type AcceptOptions,
  type AcceptResult,
  type AcceptStore,
  type PublishAck,
  type PublishLog,
  type PublishLogRules,
} from './log';
export { MemoryPublishLog } from './memory-log';
export { ClusterAcceptStore } from './cluster-accept';
export { RedisPublishLog, ServerAcceptStore } from './redis-log';
export { Publisher, type PublishRequest } from './publisher';
