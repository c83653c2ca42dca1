export { RoomDelivery, type RegionIo } from './delivery';
export { PublishIdempotency, type PublishRecord } from './idempotency';
export { Publisher, type PublishAck, type PublishRequest } from './publisher';
