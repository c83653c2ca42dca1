-- Every room envelope, keyed by its id (a UUIDv7, the idempotency key everywhere).
-- Written by each region's history writer with INSERT ... ON CONFLICT (id) DO NOTHING.
CREATE TABLE messages (
  id uuid PRIMARY KEY,
  room text NOT NULL,
  data jsonb NOT NULL,
  "user" text NOT NULL,
  origin text NOT NULL,
  -- Milliseconds since the epoch, set by the accepting node (Envelope.ts).
  ts bigint NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now()
);

-- Per-room keyset pagination: WHERE room = $1 AND (ts, id) < ($2, $3) ORDER BY ts DESC, id DESC.
CREATE INDEX messages_room_ts_id ON messages (room, ts, id);
