"""Names that several parts must agree on (extension, native host, daemon)."""

#: the daemon's fixed default port on 127.0.0.1 / ::1 (``artshade serve --port`` changes it).
DEFAULT_PORT = 47815

#: native-messaging host name registered with the browsers.
NATIVE_HOST_NAME = "app.artshade.host"

#: the Chromium extension id, fixed by the public ``key`` in extension/manifest (see extension/README).
CHROME_EXTENSION_ID = "hfjekkcajkojojeolblablapffemhhli"

#: the public key that fixes CHROME_EXTENSION_ID (public half only; there is no private key to keep).
CHROME_EXTENSION_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAslQwUPxuMf9z0X8j3B/+Op+e5/oCpQfcsDFCqRVzJRAhOTzDKIXWkGt1"
    "x93/43izwDkwsLcMSKn4hV0TbHVwNs/+L8kBQ709A9tkcXmJQzkPsNIuh3UzHKxMMU8Qd+hYFcAVY2AE0PYddrnFPmzCbcgNb9jL"
    "ByTiL32PP6EX2o6FHfKW9Fy7vbOk3H7oubAuSsLqVaKTXi0SdcRVPauRb1sdhesAVJzyryu2txa9MKILlvKCWHEevX5e8mvpM/vY"
    "BZQ/urntl5wICk+TvnWqP1J2r5jJ+5tWXYbzM9z9GszZoVtSAiFgX5UEWSi2oZP4VNf+id56WgSZo18Q4Fyy2QIDAQAB"
)

#: the Firefox (gecko) extension id.
GECKO_EXTENSION_ID = "artshade@artshade"

#: a browser-extension origin as a regular expression, without the trailing slash (group 1: the id).
#: Chromium: the 32-letter id; Firefox: the random per-install UUID.  The daemon's Origin check, the
#: paired-origins file and the native host's caller check all use these two (``daemon/http/openapi.yaml``
#: spells them too; a test compares).  Plain strings: ``extension/build.py`` reads this file's literals.
CHROME_ORIGIN = r"chrome-extension://([a-p]{32})"
FIREFOX_ORIGIN = r"moz-extension://([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
