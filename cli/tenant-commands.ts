/**
 * `tenants create`: an operator command. There is no tenant API (tenants own API
 * keys, so creating one is not something a tenant's key may do); it writes to the
 * database named by DATABASE_URL, as `npm run tenant:create` does.
 */
import { loadConfig } from '../config.js';
import { createSql } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { setHttpAllowHosts } from '../db/tenant-settings.js';
import { insertApiKey, insertTenant } from '../db/tenants.js';
import type { Io } from './batch-commands.js';
import { ExitCode, UsageError } from './exit-codes.js';

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export async function createTenant(io: Io, a: { name: string; allowHosts: string[]; json: boolean }): Promise<number> {
  if (!NAME.test(a.name)) throw new UsageError('a tenant name is lowercase letters, digits, - and _ (up to 63 characters)');
  const config = loadConfig();
  await migrate(config.databaseUrl);
  const sql = createSql(config.databaseUrl, { max: 1 });
  try {
    const created = await sql.begin(async (tx) => {
      const tenant = await insertTenant(tx, a.name);
      const key = await insertApiKey(tx, tenant.id, 'cli');
      const settings = a.allowHosts.length > 0 ? await setHttpAllowHosts(tx, tenant.id, a.allowHosts) : { httpAllowHosts: [] };
      return { id: tenant.id, name: tenant.name, apiKey: key.key, httpAllowHosts: settings.httpAllowHosts };
    });
    if (a.json) io.out(JSON.stringify(created));
    else {
      io.out(created.apiKey);
      io.err(`tenant '${created.name}' created (id ${created.id}); the API key above is shown only now, store it`);
      if (created.httpAllowHosts.length) io.err(`http.request may reach: ${created.httpAllowHosts.join(', ')}`);
    }
    return ExitCode.completed;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
