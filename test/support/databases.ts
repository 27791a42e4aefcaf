import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../config.js';
import { createDatabaseFromTemplate, withDatabaseName } from '../../db/databases.js';

/** One template per test run, so runs from several checkouts never collide. */
export const templateDbName = (): string => `batchworks_test_template_${randomBytes(4).toString('hex')}`;

/** The configured server's URL with another database name. */
export const testDatabaseUrl = (name: string): string => withDatabaseName(loadConfig().databaseUrl, name);

/** A fresh database for one test file, copied from the migrated template. */
export async function createTestDatabase(template: string): Promise<string> {
  const url = testDatabaseUrl(`batchworks_test_${randomBytes(6).toString('hex')}`);
  await createDatabaseFromTemplate(url, template);
  return url;
}
