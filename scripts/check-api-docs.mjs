#!/usr/bin/env node
// Every public export has a doc comment: walks the exports of the package entries (src/index.ts,
// src/node/index.ts), into the namespaces they export (wt.nn, wt.optim, wt.data, ...), and lists each
// exported function, class, interface, type, enum or constant whose declaration has no /** ... */
// comment. Exit 1 when any is missing. `--list` prints them and exits 0.
import ts from 'typescript';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = ['src/index.ts', 'src/node/index.ts'].map((f) => join(root, f));
const listOnly = process.argv.includes('--list');

const cfgPath = join(root, 'tsconfig.build.json');
const cfg = ts.getParsedCommandLineOfConfigFile(cfgPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
const program = ts.createProgram(entries, { ...cfg.options, noEmit: true });
const checker = program.getTypeChecker();

/** A declaration counts as documented when it has the JSDoc comment TypeDoc shows for it: its own,
 * or for `export const x = ...` its statement's. */
function documented(decl) {
  // `export const { a, b } = ...`: TypeDoc reads each name's comment from just before that name
  // (`{ /** doc */ a, ... }`), never from the statement, and TypeScript attaches no JSDoc to a
  // binding element, so look for a leading /** */ comment in the source text.
  if (ts.isBindingElement(decl)) {
    const text = decl.getSourceFile().text;
    return (ts.getLeadingCommentRanges(text, decl.pos) ?? []).some(
      (r) => r.kind === ts.SyntaxKind.MultiLineCommentTrivia && text.startsWith('/**', r.pos) && !text.startsWith('/**/', r.pos),
    );
  }
  const hosts = [decl];
  // a variable's comment sits on its statement
  for (let n = decl; n && !ts.isSourceFile(n) && (ts.isVariableDeclaration(n) || ts.isVariableDeclarationList(n)); n = n.parent)
    hosts.push(n.parent);
  return hosts.some((n) => ts.getJSDocCommentsAndTags(n).length > 0 || (n.jsDoc?.length ?? 0) > 0);
}

const missing = new Map(); // "path.name" -> "file:line kind"
const seenNs = new Set();

function visitExports(moduleSymbol, prefix) {
  for (const exp of checker.getExportsOfModule(moduleSymbol)) {
    const sym = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
    const name = `${prefix}${exp.getName()}`;
    const decls = sym.getDeclarations() ?? [];
    // `export * as ns from './x.ts'`: a module; document its members instead
    const mod = decls.find((d) => ts.isSourceFile(d) || ts.isModuleDeclaration(d));
    if (mod) {
      if (!seenNs.has(sym)) {
        seenNs.add(sym);
        visitExports(sym, `${name}.`);
      }
      continue;
    }
    if (!decls.length) continue;
    if (decls.some(documented)) continue;
    const d = decls[0];
    const sf = d.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(d.getStart());
    const kind = ts.SyntaxKind[d.kind].replace(/Declaration$/, '');
    missing.set(name, `${relative(root, sf.fileName)}:${line + 1} ${kind}`);
  }
}

for (const e of entries) {
  const sf = program.getSourceFile(e);
  const sym = sf && checker.getSymbolAtLocation(sf);
  if (!sym) throw new Error(`check-api-docs: cannot load ${e}`);
  visitExports(sym, '');
}

const rows = [...missing].sort((a, b) => a[1].localeCompare(b[1]));
for (const [name, where] of rows) console.log(`${where}  ${name}`);
if (rows.length) {
  console.log(`\n${rows.length} public exports have no doc comment`);
  if (!listOnly) process.exit(1);
} else console.log('every public export has a doc comment');
