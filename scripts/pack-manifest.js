// The published package.json carries no script npm runs, or warns about, on install. npm 11
// lists a dependency's `prepare` among the "install scripts not yet covered by allowScripts"
// although it never runs it for a tarball, so `prepare` (which builds a clone of the
// repository: `npm install && npm start`) is taken out while the tarball is made and put
// back after, as pinst does for postinstall:
//
//   prepack:     node scripts/pack-manifest.js strip
//   postpack:    node scripts/pack-manifest.js restore   (npm pack; npm publish waits:)
//   postpublish: node scripts/pack-manifest.js restore --after-publish
//
// npm publish reads package.json again after packing to send it to the registry, so there
// it is restored only once the upload is done. A pack that fails in between leaves the
// backup, .pack-manifest-backup.json; `node scripts/pack-manifest.js restore` puts it back.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = join(root, 'package.json');
const backup = join(root, '.pack-manifest-backup.json');
const [action, ...flags] = process.argv.slice(2);

if (action === 'strip') {
  const text = readFileSync(manifest, 'utf8');
  const pkg = JSON.parse(text);
  if (pkg.scripts?.prepare !== undefined) {
    if (!existsSync(backup)) writeFileSync(backup, text);
    delete pkg.scripts.prepare;
    // Written whole and renamed into place: a process reading package.json meanwhile (a
    // test running `npm start`) sees the old file or the new one, never half of one.
    const staged = `${manifest}.packing`;
    writeFileSync(staged, `${JSON.stringify(pkg, null, 2)}\n`);
    renameSync(staged, manifest);
  }
} else if (action === 'restore') {
  const publishing = process.env.npm_command === 'publish' && !flags.includes('--after-publish');
  if (!publishing && existsSync(backup)) renameSync(backup, manifest);
} else {
  console.error('usage: node scripts/pack-manifest.js strip|restore [--after-publish]');
  process.exit(2);
}
