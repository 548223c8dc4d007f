// Loads a built extension's settings module under node: argv[2] = path of dist/<browser>/js.
// Prints the sites and platforms the extension offers, as JSON, for the Python test to compare.
const [, , jsDir] = process.argv;
const storage = await import(`${jsDir}/common/storage.js`);
const { PLATFORMS } = await import(`${jsDir}/common/profiles.js`);

console.log(JSON.stringify({
  platforms: PLATFORMS,
  choices: storage.CHOICES.platform,
  defaultSites: storage.DEFAULT_SITES,
  offeredSites: storage.OFFERED_SITES,
  platformForSite: storage.PLATFORM_FOR_SITE,
  described: Object.fromEntries(Object.keys(PLATFORMS).map((name) => [name, storage.describePlatform(name)])),
}));
