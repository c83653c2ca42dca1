import postgres from 'postgres';
import { afterAll, beforeAll } from 'vitest';
import { startPostgresCluster, type LocalPostgresCluster } from '../../harness/processes/postgres';
import { migrate } from '../../infra/migrate';
import { historyStoreConformance } from './history-store-conformance';
import { MemoryHistoryStore } from './memory-store';
import { ensurePartitionsAround } from './partitions';
import { PostgresHistoryStore } from './store';

historyStoreConformance('memory', async () => new MemoryHistoryStore());

let pg: LocalPostgresCluster;
let sql: postgres.Sql;
beforeAll(async () => {
  pg = await startPostgresCluster();
  await migrate(pg.primary.url);
  sql = postgres(pg.primary.url, { max: 2, onnotice: () => undefined });
  await ensurePartitionsAround(sql);
});
afterAll(async () => {
  await sql?.end();
  await pg?.destroy();
});

historyStoreConformance('postgres', async () => {
  await sql`TRUNCATE messages`;
  return new PostgresHistoryStore(sql);
});
