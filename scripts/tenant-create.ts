/** `npm run tenant:create -- <name>`: a new tenant and its first API key (shown once). */
import { loadConfig } from '../config.js';
import { createSql } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { insertApiKey, insertTenant } from '../db/tenants.js';
import { toError } from '../lib/errors.js';

const name = process.argv[2];
if (!name || !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) {
  console.error('usage: npm run tenant:create -- <name>   (lowercase letters, digits, - and _; up to 63 characters)');
  process.exit(2);
}
const config = loadConfig();
await migrate(config.databaseUrl);
const sql = createSql(config.databaseUrl, { max: 1 });
try {
  const tenant = await insertTenant(sql, name);
  const key = await insertApiKey(sql, tenant.id);
  console.log(`Tenant '${tenant.name}' created (id ${tenant.id}).`);
  console.log(`API key (shown only now; store it): ${key.key}`);
} catch (err) {
  console.error(toError(err).message);
  process.exitCode = 1;
} finally {
  await sql.end();
}
