// The package's install step: builds the addon with node-gyp. When no compiler is at hand
// the package still installs and `backend: 'auto'` falls back to node:net with a warning;
// set SOCKENGINE_REQUIRE_NATIVE=1 to make a failed build fail the install instead.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function nodeGypScript() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return process.env.npm_config_node_gyp; // npm's own copy, set for lifecycle scripts
  }
}

const script = nodeGypScript();
const result = script
  ? spawnSync(process.execPath, [script, 'rebuild'], { stdio: 'inherit' })
  : { status: 1, error: new Error('node-gyp not found') };

if (result.status !== 0) {
  const reason = result.error ? result.error.message : `node-gyp exited with status ${result.status}`;
  if (process.env.SOCKENGINE_REQUIRE_NATIVE === '1') {
    console.error(`sockengine: building the native addon failed: ${reason}`);
    process.exit(1);
  }
  console.warn(`sockengine: native addon not built (${reason}); the node backend will be used`);
}
