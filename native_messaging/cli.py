"""``artshade install-browser-host`` and the hidden ``artshade native-host`` the browser launches."""

from __future__ import annotations

import argparse

from . import install


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this part's subcommands to the ``artshade`` parser."""
    inst = sub.add_parser(
        "install-browser-host",
        help="let the browser extension find and start artshade (native messaging)",
        description="Register the artshade native-messaging host with your browsers (per user, no admin "
        "rights), so the extension pairs with the daemon and starts it by itself.",
    )
    inst.add_argument(
        "--browser",
        choices=(*install.BROWSERS, "all"),
        default="all",
        help="which browser to register with (default: all)",
    )
    inst.add_argument("--uninstall", action="store_true", help="remove what an earlier install wrote")
    inst.add_argument(
        "--user-data-dir",
        "--chromium-user-data-dir",
        dest="user_data_dir",
        metavar="DIR",
        help="Chrome family on Linux/macOS: write into DIR/NativeMessagingHosts, for a browser "
        "started with --user-data-dir=DIR",
    )
    inst.set_defaults(func=_install)

    host = sub.add_parser("native-host", add_help=False)
    host.add_argument("caller", nargs=argparse.REMAINDER)
    host.set_defaults(func=_native_host)
    _hide(sub, "native-host")


def _hide(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    """Keep a subcommand out of ``artshade --help`` (the browser runs it, people don't)."""
    sub._choices_actions = [a for a in sub._choices_actions if a.dest != name]


def _install(args: argparse.Namespace) -> int:
    browsers = install.BROWSERS if args.browser == "all" else (args.browser,)
    if args.uninstall:
        removed, kept = install.uninstall(browsers)
        for line in removed:
            print(f"removed {line}")
        for line in kept:
            print(f"kept {line}")
        if not removed and not kept:
            print(f"nothing to remove: artshade has no browser host installed for {', '.join(browsers)}")
        return 0
    written = install.install(browsers, user_data_dir=args.user_data_dir)
    for line in written:
        print(f"wrote {line}")
    print("Restart the browser (or reload the artshade extension) to use it.")
    return 0


def _native_host(args: argparse.Namespace) -> int:
    from .host import run

    return run(args.caller)
