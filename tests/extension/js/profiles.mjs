// Loads a built extension's settings module under node: argv[2] = path of dist/<browser>/js.
// Prints the sites, platforms and shading choices the extension offers, as JSON, for the Python test to compare.
const [, , jsDir] = process.argv;
const storage = await import(`${jsDir}/common/storage.js`);
const { PLATFORMS } = await import(`${jsDir}/common/profiles.js`);
const settings = await import(`${jsDir}/common/settings.js`);

console.log(JSON.stringify({
  platforms: PLATFORMS,
  choices: storage.CHOICES,
  defaults: settings.DEFAULTS,
  defaultPlatform: storage.DEFAULT_PLATFORM,
  defaultSites: storage.DEFAULT_SITES,
  offeredSites: storage.OFFERED_SITES,
  platformForSite: storage.PLATFORM_FOR_SITE,
  described: Object.fromEntries(Object.keys(PLATFORMS).map((name) => [name, storage.describePlatform(name)])),
}));
