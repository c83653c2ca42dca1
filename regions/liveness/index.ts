export { MemoryNodeRegistry, RedisNodeRegistry, type NodeRegistry } from './registry';
export { NodeLiveness, type NodeLivenessOptions } from './liveness';
