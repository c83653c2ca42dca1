export * from './bus';
export { MemoryBus } from './memory-bus';
export { RedisStreamsBus, busStreamKey } from './redis-bus';
