export {
  OUTBOX_GROUPS,
  OUTBOX_STREAM,
  OutboxReader,
  RegionalOutbox,
  compareIds,
  decodeEnvelope,
  type OutboxEntry,
  type OutboxGroup,
} from './outbox';
