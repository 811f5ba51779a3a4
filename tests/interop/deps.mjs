// Imports the npm packages that setup.sh installed into the git-ignored .deps/js, from scripts
// that live beside this file (ES modules ignore NODE_PATH and look only in node_modules folders
// above the importing file). Resolves like node's own ESM resolver for what these packages use:
// the `exports` map's "import"/"default" condition (exact subpaths and one `*` pattern), else
// the file under the package folder.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const modules = fileURLToPath(new URL('./.deps/js/node_modules/', import.meta.url));

function pick(target) {
  if (typeof target === 'string') return target;
  return target?.import ?? target?.default;
}

function resolveDep(specifier) {
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  const rest = specifier.slice(name.length); // '' or '/sub/path'
  const dir = join(modules, name);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const subpath = `.${rest}`;
  const { exports } = manifest;
  if (exports) {
    const map = typeof exports === 'string' || exports.import || exports.default ? { '.': exports } : exports;
    if (map[subpath]) return join(dir, pick(map[subpath]));
    for (const [key, target] of Object.entries(map)) {
      const star = key.indexOf('*');
      if (star < 0) continue;
      const [prefix, suffix] = [key.slice(0, star), key.slice(star + 1)];
      if (subpath.startsWith(prefix) && subpath.endsWith(suffix)) {
        const matched = subpath.slice(prefix.length, subpath.length - suffix.length);
        return join(dir, pick(target).replace('*', matched));
      }
    }
    throw new Error(`${specifier}: not exported by ${name}`);
  }
  return join(dir, rest ? rest.slice(1) : manifest.main ?? 'index.js');
}

/** `await importDep('oidc-provider')`, `await importDep('@modelcontextprotocol/sdk/client/index.js')`. */
export function importDep(specifier) {
  return import(pathToFileURL(resolveDep(specifier)).href);
}
