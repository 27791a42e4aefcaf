/** Finds the Temporal CLI or builds the pinned version into the cache; prints its path. */
import { loadConfig } from '../config.js';
import { resolveTemporalCli, TEMPORAL_CLI_VERSION } from '../temporal/cli.js';

const config = loadConfig();
if (config.temporalAddress) {
  console.log(`TEMPORAL_ADDRESS=${config.temporalAddress}: using that server; no Temporal CLI needed.`);
} else {
  const cli = await resolveTemporalCli({ cliPath: config.temporalCliPath, cacheDir: config.cacheDir, log: (m) => console.log(m) });
  if (cli) {
    console.log(`Temporal CLI: ${cli.path} (from ${cli.source})`);
  } else {
    console.log(`No Temporal CLI and no Go toolchain to build ${TEMPORAL_CLI_VERSION}: the SDK will try to download one (needs the internet).`);
  }
}
