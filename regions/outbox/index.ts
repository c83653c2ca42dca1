export {
  OUTBOX_GROUPS,
  OUTBOX_STREAM,
  OutboxReader,
  RegionalOutbox,
  compareIds,
  decodeEnvelope,
  outboxStreams,
  type OutboxEntry,
  type OutboxGroup,
} from './outbox';
