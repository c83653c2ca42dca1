export {
  OUTBOX_GROUPS,
  OUTBOX_STREAM,
  RegionalOutbox,
  compareIds,
  decodeEnvelope,
  type OutboxGroup,
} from './outbox';
