// Runs the extension's pure modules under node: argv[2] = path of extension/src/js, argv[3] = JSON cases.
// Prints JSON results for the Python test to check.
const [, , jsDir, casesJson] = process.argv;
const sites = await import(`${jsDir}/common/sites.js`);
const bytes = await import(`${jsDir}/common/bytes.js`);
const loopback = await import(`${jsDir}/background/loopback.js`);
const cases = JSON.parse(casesJson);

const out = {
  normalise: cases.normalise.map((s) => sites.normaliseSite(s)),
  siteFor: cases.siteFor.map(([host, list]) => sites.siteForHost(host, new Set(list))),
  patterns: cases.patterns.map((s) => sites.patternsFor(s)),
  rename: cases.rename.map(([name, type]) => bytes.renameFor(name, type)),
  sniff: cases.sniff.map((b64) => bytes.sniffImage(bytes.fromBase64(b64))),
  roundTrip: cases.sniff.map((b64) => bytes.toBase64(bytes.fromBase64(b64)) === b64),
  loopback: (cases.loopback ?? []).map((u) => loopback.loopbackOrigin(u)),
  sha256: await bytes.sha256Hex(new TextEncoder().encode('artshade')),
};
console.log(JSON.stringify(out));
