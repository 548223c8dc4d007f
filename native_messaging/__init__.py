"""The native-messaging host the browser extension uses to find, start and pair with the daemon."""
