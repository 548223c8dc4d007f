"""The watch folder: pictures dropped into an inbox come back shaded in an outbox.  It runs on its own
(``artshade watch``) or inside the daemon, where its pictures go through the job queue."""
