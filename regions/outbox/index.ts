export {
  OUTBOX_GROUPS,
  OUTBOX_STREAM,
  RegionalOutbox,
  compareIds,
  decodeEnvelope,
  type IdClaim,
  type OutboxGroup,
} from './outbox';
