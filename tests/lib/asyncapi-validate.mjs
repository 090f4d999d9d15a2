#!/usr/bin/env node
// Validate AsyncAPI documents with @asyncapi/parser (the engine behind `asyncapi validate`).
//
//   node tests/lib/asyncapi-validate.mjs schemas/asyncapi.yaml [more.yaml ...]
//
// Prints every diagnostic (error, warning, info, hint) with its location; exits 1 if any document
// has a diagnostic of severity error or fails to parse, 0 otherwise. The parser is loaded from
// the npm prefix that deploy/install fills: $SMS_NPM_PREFIX, else ${SMS_CACHE:-~/.cache/sms}/npm.
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const prefix = process.env.SMS_NPM_PREFIX
  || join(process.env.SMS_CACHE || join(homedir(), '.cache', 'sms'), 'npm');
let parserModule;
try {
  const require = createRequire(join(prefix, 'node_modules', '.sms-resolve-anchor.js'));
  parserModule = await import(pathToFileURL(require.resolve('@asyncapi/parser')).href);
} catch (e) {
  console.error(`asyncapi-validate: cannot load @asyncapi/parser from ${prefix} (run deploy/install): ${e.message}`);
  process.exit(2);
}
const { Parser, fromFile } = parserModule.default?.Parser ? parserModule.default : parserModule;

const SEVERITY = ['error', 'warning', 'info', 'hint'];
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: asyncapi-validate.mjs FILE...');
  process.exit(2);
}

const parser = new Parser();
let failed = false;
for (const file of files) {
  const path = resolve(file);
  let document, diagnostics;
  try {
    ({ document, diagnostics } = await fromFile(parser, path).parse());
  } catch (e) {
    console.log(`${file}: cannot be read or parsed: ${e.message}`);
    failed = true;
    continue;
  }
  const counts = [0, 0, 0, 0];
  for (const d of diagnostics) {
    counts[d.severity] = (counts[d.severity] || 0) + 1;
    const where = d.range ? `${d.range.start.line + 1}:${d.range.start.character + 1}` : '-';
    const at = d.path && d.path.length ? ` at ${d.path.join('.')}` : '';
    console.log(`${file}:${where} ${SEVERITY[d.severity] ?? d.severity} ${d.code}: ${d.message}${at}`);
  }
  const bad = counts[0] > 0 || !document;
  if (bad) failed = true;
  console.log(`${file}: ${bad ? 'INVALID' : 'valid'} (${counts[0]} errors, ${counts[1]} warnings, ${counts[2]} infos, ${counts[3]} hints)`);
}
process.exit(failed ? 1 : 0);
