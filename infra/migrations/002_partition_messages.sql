-- History that can grow for years: `messages` becomes a table partitioned by day, on its id.
--
-- The partition key is the id itself: a UUIDv7 starts with its millisecond timestamp, so a day is a
-- range of ids, and the primary key stays `id` alone (a partitioned table's unique keys must hold
-- the partition key): `ON CONFLICT (id) DO NOTHING` keeps writing every envelope once. Partitions
-- are named messages_pYYYYMMDD (UTC days) and created ahead by `npm run migrate` and by the nodes;
-- retention (HISTORY_RETENTION_DAYS) drops whole partitions, never DELETEs rows.

-- The first id of a UTC day: its 48-bit millisecond prefix, every other bit zero.
CREATE FUNCTION messages_day_floor(d date) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-0000-0000-000000000000')::uuid
  FROM (SELECT lpad(to_hex((extract(epoch FROM d::timestamp) * 1000)::bigint), 12, '0') AS h) AS t
$$;

-- The UTC day of an id's UUIDv7 time.
CREATE FUNCTION messages_id_day(id uuid) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (to_timestamp(('x' || lpad(replace(left(id::text, 13), '-', ''), 16, '0'))::bit(64)::bigint / 1000.0)
          AT TIME ZONE 'UTC')::date
$$;

-- Creates the missing daily partitions from first_day to last_day (inclusive); returns how many.
-- Serialized by an advisory lock: every node of every region may call it at the same time.
CREATE FUNCTION messages_ensure_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  d date := first_day;
  created integer := 0;
  part text;
BEGIN
  PERFORM pg_advisory_xact_lock(7301943);
  WHILE d <= last_day LOOP
    part := 'messages_p' || to_char(d, 'YYYYMMDD');
    IF to_regclass(part) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF messages FOR VALUES FROM (%L) TO (%L)',
        part, messages_day_floor(d), messages_day_floor(d + 1));
      created := created + 1;
    END IF;
    d := d + 1;
  END LOOP;
  RETURN created;
END
$$;

-- Drops every daily partition of a day before `cutoff`; returns their names.
CREATE FUNCTION messages_drop_partitions_before(cutoff date) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  part text;
BEGIN
  PERFORM pg_advisory_xact_lock(7301943);
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'messages'::regclass AND c.relname ~ '^messages_p[0-9]{8}$'
      AND to_date(substr(c.relname, 11), 'YYYYMMDD') < cutoff
    ORDER BY c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', part);
    RETURN NEXT part;
  END LOOP;
END
$$;

ALTER TABLE messages RENAME TO messages_unpartitioned;
ALTER INDEX messages_pkey RENAME TO messages_unpartitioned_pkey;
ALTER INDEX messages_room_ts_id RENAME TO messages_unpartitioned_room_ts_id;

CREATE TABLE messages (
  id uuid NOT NULL,
  room text NOT NULL,
  data jsonb NOT NULL,
  "user" text NOT NULL,
  origin text NOT NULL,
  -- Milliseconds since the epoch, set by the accepting node (Envelope.ts).
  ts bigint NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id)
) PARTITION BY RANGE (id);

-- Per-room keyset pagination, in every partition.
CREATE INDEX messages_room_ts_id ON messages (room, ts, id);

-- A partition for each day that holds a row, and for yesterday to two days ahead; then every row.
SELECT messages_ensure_partitions(d, d)
FROM (SELECT DISTINCT messages_id_day(id) AS d FROM messages_unpartitioned) AS days;
SELECT messages_ensure_partitions(
  (now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date + 2);
INSERT INTO messages (id, room, data, "user", origin, ts, stored_at)
  SELECT id, room, data, "user", origin, ts, stored_at FROM messages_unpartitioned;
DROP TABLE messages_unpartitioned;
