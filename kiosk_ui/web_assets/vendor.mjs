// Copies what the kiosk pages need from node_modules to kiosk_ui/static/vendor: htmx, mqtt.js for
// the room signs, and
// zxing-wasm's reader build (its ES module, the chunk it imports, and the .wasm), for kiosks whose
// browser has no BarcodeDetector.  Each package's licence is written once as LICENSE.<package>.txt;
// each JS file starts with a short header naming its package, version and licence file.
// Run after `npm ci`: `npm run vendor`.  Only the copies are committed, never node_modules.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static", "vendor");

const FILES = [
  // [package, file in the package, where it goes under vendor/, its licence files]
  ["htmx.org", "dist/htmx.min.js", "htmx.min.js", ["LICENSE"]],
  // The reader imports "../share.js": keep the layout so the relative import resolves.
  ["zxing-wasm", "dist/es/reader/index.js", "zxing-wasm/reader/index.js", ["LICENSE"]],
  ["zxing-wasm", "dist/es/share.js", "zxing-wasm/share.js", ["LICENSE"]],
  ["zxing-wasm", "dist/reader/zxing_reader.wasm", "zxing-wasm/reader/zxing_reader.wasm", ["LICENSE"]],
  // The room signs' MQTT client over WebSockets (an ES module with no imports of its own).
  ["mqtt", "dist/mqtt.esm.js", "mqtt/mqtt.esm.js", ["LICENSE.md"]],
];

const comment = (text) => `/*!\n${text.replaceAll("*/", "* /").trimEnd()}\n*/\n`;

const written = new Set();
for (const [pkg, file, target, licences] of FILES) {
  const root = join(here, "node_modules", pkg);
  const { version, license, homepage, repository } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const source = homepage ?? repository?.url ?? repository ?? "";
  const licenceFile = `LICENSE.${pkg}.txt`;
  mkdirSync(out, { recursive: true });
  if (!written.has(pkg)) {
    const texts = licences.map((name) => readFileSync(join(root, name), "utf8").trimEnd());
    writeFileSync(join(out, licenceFile), `${pkg} ${version}\n\n` + texts.join("\n\n") + "\n");
    written.add(pkg);
  }
  const dest = join(out, target);
  mkdirSync(dirname(dest), { recursive: true });
  if (!file.endsWith(".js")) {
    copyFileSync(join(root, file), dest);
  } else {
    const header = comment(
      `${pkg} ${version} (${license}, full text in ${licenceFile}) ${source}`.trimEnd() +
        "\nVendored by kiosk_ui/web_assets (npm ci && npm run vendor); do not edit.",
    );
    const body = readFileSync(join(root, file), "utf8").replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
    writeFileSync(dest, header + body);
  }
  console.log(`${target}: ${pkg} ${version}`);
}
