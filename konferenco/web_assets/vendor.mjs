// Copies the few files the API docs pages need from node_modules to konferenco/static/api_docs.
// Each package's licence texts are written once, as LICENSE.<package>.txt beside the files; each
// file starts with a short header naming its package, version and licence file, then the notices
// of what its bundle contains.
// Run after `npm ci`: `npm run vendor`.  Only the copies are committed, never node_modules.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static", "api_docs");

const FILES = [
  // [package, file in the package, its licence files, bundled notices (already /*! … */ comments)]
  ["swagger-ui-dist", "swagger-ui-bundle.js", ["LICENSE", "NOTICE"], "swagger-ui-bundle.js.LICENSE.txt"],
  ["swagger-ui-dist", "swagger-ui-standalone-preset.js", ["LICENSE", "NOTICE"], "swagger-ui-standalone-preset.js.LICENSE.txt"],
  ["swagger-ui-dist", "swagger-ui.css", ["LICENSE", "NOTICE"], null],
  ["redoc", "bundles/redoc.standalone.js", ["LICENSE"], "bundles/redoc.standalone.js.LICENSE.txt"],
];

const comment = (text) => `/*!\n${text.replaceAll("*/", "* /").trimEnd()}\n*/\n`;

mkdirSync(out, { recursive: true });
const written = new Set();
for (const [pkg, file, licences, notices] of FILES) {
  const root = join(here, "node_modules", pkg);
  const { version, license, homepage, repository } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const source = homepage ?? repository?.url ?? repository ?? "";
  const licenceFile = `LICENSE.${pkg}.txt`;
  if (!written.has(pkg)) {
    const texts = licences.map((name) => readFileSync(join(root, name), "utf8").trimEnd());
    writeFileSync(join(out, licenceFile), `${pkg} ${version}\n\n` + texts.join("\n\n") + "\n");
    written.add(pkg);
  }
  let header = comment(
    `${pkg} ${version} (${license}, full text in ${licenceFile}) ${source}`.trimEnd() +
      "\nVendored by konferenco/web_assets (npm ci && npm run vendor); do not edit.",
  );
  if (notices) header += readFileSync(join(root, notices), "utf8").trimEnd() + "\n";
  const body = readFileSync(join(root, file), "utf8")
    .replace(/^\/\*! For license information please see [^*]*\*\/\n?/, "")
    .replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n")
    .replace(/\n?\/\*# sourceMappingURL=\S+\s*\*\/\s*$/, "\n");
  const name = file.split("/").pop();
  writeFileSync(join(out, name), header + body);
  console.log(`${name}: ${pkg} ${version}`);
}
