"""Every upload flow on an enabled site sends shaded bytes, never the original (real Chromium, real daemon).

The pages imitate real sites: a hidden file input with a delegated (React-style) change handler, an input
in an open shadow root, a drag-and-drop zone posting with XHR, paste into a composer posting a raw body,
and an in-page editor that hands a Blob straight to fetch / XHR.  Each posts to a sink that records bytes.
Two test images are shaded for real; later uploads of the same image are answered from the daemon's cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ext_harness import (
    EXTENSION_ORIGIN,
    TEXT_IN_REQUEST,
    TEXT_IN_REQUEST_WAYS,
    Daemon,
    ExtensionBrowser,
    SiteServer,
    assert_no_original,
    assert_shaded,
    b64,
    make_image,
    picture_in_text,
    record_overlay,
    recorded_overlay,
    wait_overlay,
    wait_status,
)

from artshade import ids

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PNG = make_image("PNG", seed=1)
JPEG = make_image("JPEG", seed=2)
TEXT = b"notes that are not an image\n"


def never_original(server: SiteServer) -> None:
    sent = server.all_bytes()
    assert PNG not in sent and JPEG not in sent


def test_extension_has_the_fixed_id(browser: ExtensionBrowser) -> None:
    assert browser.id == ids.CHROME_EXTENSION_ID
    assert EXTENSION_ORIGIN.endswith(browser.id)


def test_hidden_input_with_delegated_handler(
    tab: Any, site_server: SiteServer, real_daemon: Daemon, artifacts: Path
) -> None:
    tab.goto(site_server.url("input.html"))
    record_overlay(tab)
    tab.set_input_files("#file", files=[{"name": "painting.png", "mimeType": "image/png", "buffer": PNG}])
    wait_overlay(tab, "done")
    tab.screenshot(path=str(artifacts / "overlay-protected.png"))
    states = recorded_overlay(tab)
    assert states[0] == ("working", "Protecting your image…")  # shown while the upload is held
    assert states[-1][0] == "done" and "Protected" in states[-1][1]
    assert {s for s, _ in states} <= {"working", "done"}
    [upload] = site_server.wait_for("input")
    [part] = upload.files()
    assert part.filename == "painting.png" and part.content_type == "image/png"
    assert_shaded(part.data, PNG, real_daemon, "image/png", site_server.host)
    assert wait_status(tab, "uploaded") == "uploaded 1"
    never_original(site_server)


def test_several_files_at_once_and_non_images_untouched(
    tab: Any, site_server: SiteServer, real_daemon: Daemon
) -> None:
    tab.goto(site_server.url("input.html"))
    tab.set_input_files(
        "#file",
        files=[
            {"name": "a.png", "mimeType": "image/png", "buffer": PNG},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": TEXT},
            {"name": "b.jpg", "mimeType": "image/jpeg", "buffer": JPEG},
        ],
    )
    [upload] = site_server.wait_for("input")
    parts = upload.files()
    assert [p.filename for p in parts] == ["a.png", "notes.txt", "b.jpg"]
    assert_shaded(parts[0].data, PNG, real_daemon, "image/png", site_server.host)
    assert parts[1].data == TEXT
    assert_shaded(parts[2].data, JPEG, real_daemon, "image/jpeg", site_server.host)
    assert "2 images" in wait_overlay(tab, "done")
    never_original(site_server)


def test_input_inside_an_open_shadow_root(tab: Any, site_server: SiteServer, real_daemon: Daemon) -> None:
    tab.goto(site_server.url("input.html"))
    tab.locator("shadow-uploader #inner").set_input_files(
        files=[{"name": "c.png", "mimeType": "image/png", "buffer": PNG}]
    )
    [upload] = site_server.wait_for("shadow")
    assert_shaded(upload.files()[0].data, PNG, real_daemon, "image/png", site_server.host)
    never_original(site_server)


def test_drag_and_drop_with_xhr_multipart(tab: Any, site_server: SiteServer, real_daemon: Daemon) -> None:
    tab.goto(site_server.url("drop.html"))
    tab.evaluate(
        "([items, text]) => dropFiles(items, text)", [[[b64(JPEG), "drop.jpg", "image/jpeg"]], "Night sky"]
    )
    [upload] = site_server.wait_for("drop")
    fields = {p.name: p for p in upload.parts}
    assert fields["title"].data == b"Night sky"  # the drop's other data survives
    assert fields["artwork"].filename == "drop.jpg"
    assert_shaded(fields["artwork"].data, JPEG, real_daemon, "image/jpeg", site_server.host)
    assert wait_status(tab, "uploaded") == "uploaded 1"
    never_original(site_server)


def test_paste_with_raw_fetch(tab: Any, site_server: SiteServer, real_daemon: Daemon) -> None:
    tab.goto(site_server.url("paste.html"))
    tab.evaluate("(items) => pasteFiles(items)", [[b64(PNG), "image.png", "image/png"]])
    [upload] = site_server.wait_for("paste")
    [part] = upload.parts
    assert part.content_type == "image/png"
    assert_shaded(part.data, PNG, real_daemon, "image/png", site_server.host)
    never_original(site_server)


def test_raw_body_fetch_keeps_length_headers_consistent(
    tab: Any, site_server: SiteServer, real_daemon: Daemon
) -> None:
    tab.goto(site_server.url("editor.html"))
    tab.evaluate("(b) => uploadEdited(b, 'image/jpeg')", b64(JPEG))
    [upload] = site_server.wait_for("raw")
    [part] = upload.parts
    assert_shaded(part.data, JPEG, real_daemon, "image/jpeg", site_server.host)
    assert upload.headers["X-Entity-Length"] == str(len(part.data)) == upload.headers["Content-Length"]
    assert upload.headers["X-Entity-Type"] == "image/jpeg" and upload.headers["Offset"] == "0"
    assert wait_status(tab, "uploaded") == "uploaded 1"
    never_original(site_server)


def test_xhr_multipart_from_an_editor(tab: Any, site_server: SiteServer, real_daemon: Daemon) -> None:
    tab.goto(site_server.url("editor.html"))
    status = tab.evaluate(
        "(items) => uploadXhr(items, 'my caption')",
        [[b64(PNG), "art.png", "image/png"], [b64(TEXT), "notes.txt", "text/plain"]],
    )
    assert status == 200
    [upload] = site_server.received("xhr")
    fields = [(p.name, p.filename) for p in upload.parts]
    assert fields == [("caption", None), ("media", "art.png"), ("media", "notes.txt")]
    assert upload.parts[0].data == b"my caption"
    assert_shaded(upload.parts[1].data, PNG, real_daemon, "image/png", site_server.host)
    assert upload.parts[2].data == TEXT
    assert upload.headers["X-Media-Count"] == "2"
    never_original(site_server)


def test_upload_inside_an_iframe(tab: Any, site_server: SiteServer, real_daemon: Daemon) -> None:
    tab.goto(site_server.url("frame.html"))
    frame = tab.frame_locator("iframe")
    frame.locator("#file").set_input_files(files=[{"name": "f.png", "mimeType": "image/png", "buffer": PNG}])
    [upload] = site_server.wait_for("input")
    assert_shaded(upload.files()[0].data, PNG, real_daemon, "image/png", site_server.host)
    never_original(site_server)


def test_upload_fired_while_the_page_loads(tab: Any, site_server: SiteServer, real_daemon: Daemon) -> None:
    # The MAIN-world script must hold an upload even before it has heard whether the site is protected.
    site_server.images["early.jpg"] = (JPEG, "image/jpeg")
    tab.goto(site_server.url("auto/early.jpg"))
    uploads = site_server.wait_for("auto", count=3)
    for upload in uploads:
        assert_shaded(upload.parts[0].data, JPEG, real_daemon, "image/jpeg", site_server.host)
    never_original(site_server)


@pytest.mark.parametrize(("how", "seed"), [("click", 81), ("requestSubmit", 82), ("submit", 83)])
def test_a_plain_form_sent_while_its_pick_is_shaded_sends_the_shaded_image(
    tab: Any, site_server: SiteServer, real_daemon: Daemon, how: str, seed: int
) -> None:
    """A picture never shaded before, and the form sent at once (its button, requestSubmit(), or submit(),
    which fires no submit event): meanwhile the input holds nothing the page can read, and the form goes
    once the shaded picture is in, never with the original."""
    original = make_image("PNG", seed=seed)
    tab.goto(site_server.url("form.html"))
    tab.set_input_files("#file", files=[{"name": "new.png", "mimeType": "image/png", "buffer": original}])
    assert tab.evaluate("() => document.querySelector('#file').files.length") == 0  # nothing to read
    tab.evaluate("(how) => sendForm(how)", how)
    [upload] = site_server.wait_for("form")
    fields = {p.name: p for p in upload.parts}
    assert fields["title"].data == b"my painting"
    assert fields["picture"].filename == "new.png"
    assert_shaded(fields["picture"].data, original, real_daemon, "image/png", site_server.host)
    assert_no_original(site_server, original)


GIF = make_image("GIF", seed=5)
BMP = make_image("BMP", seed=6)
AVIF = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(200)  # an AVIF file's first box


def test_a_format_the_engine_cannot_shade_is_blocked_saying_so(
    tab: Any, site_server: SiteServer, real_daemon: Daemon
) -> None:
    """GIF, BMP, HEIC and AVIF pictures used to pass silently; on a site whose policy is block (the
    default) they are stopped with "not protected: this format", by the input and by page code alike."""
    tab.goto(site_server.url("input.html"))
    tab.set_input_files("#file", files=[{"name": "anim.gif", "mimeType": "image/gif", "buffer": GIF}])
    message = wait_overlay(tab, "error", timeout=60)
    assert "not protected: this format (GIF)" in message and "nothing was sent" in message
    assert tab.locator("#status").inner_text() == "idle"
    tab.goto(site_server.url("editor.html"))
    for data, media_type in ((BMP, "image/bmp"), (AVIF, "image/avif")):
        tab.evaluate("([b, t]) => uploadEdited(b, t)", [b64(data), media_type])
        assert wait_status(tab, "failed", timeout=60).startswith("failed: artshade blocked this upload")
    assert_no_original(site_server, GIF, BMP, AVIF)
    assert site_server.uploads == []


def test_images_written_into_text_bodies_are_shaded(
    tab: Any, site_server: SiteServer, real_daemon: Daemon
) -> None:
    """A data: URL in a JSON body and a base64 field of a URLSearchParams body: the picture in the text is
    shaded and written back in its place; the rest of the text is untouched."""
    import base64
    import json
    from urllib.parse import parse_qs

    tab.goto(site_server.url("editor.html"))
    tab.evaluate(
        """(b) => fetch('/sink/json', { method: 'POST', headers: { 'Content-Type': 'application/json' },
             body: JSON.stringify({ caption: 'hi', image: 'data:image/png;base64,' + b }) })
           .then((r) => report('uploaded ' + r.status))""",
        b64(PNG),
    )
    [upload] = site_server.wait_for("json")
    sent = json.loads(upload.parts[0].data)
    assert sent["caption"] == "hi"
    prefix, _, data = sent["image"].partition(",")
    assert prefix == "data:image/png;base64"
    assert_shaded(base64.b64decode(data), PNG, real_daemon, "image/png", site_server.host)
    tab.evaluate(
        """(b) => fetch('/sink/params', {
             method: 'POST', body: new URLSearchParams({ title: 't', image: b }) })
           .then((r) => report('uploaded ' + r.status))""",
        b64(JPEG),
    )
    [upload] = site_server.wait_for("params")
    fields = parse_qs(upload.parts[0].data.decode())
    assert fields["title"] == ["t"]
    assert_shaded(base64.b64decode(fields["image"][0]), JPEG, real_daemon, "image/jpeg", site_server.host)
    assert b64(PNG).encode() not in b"".join(site_server.all_bytes())


@pytest.mark.parametrize("how", TEXT_IN_REQUEST_WAYS)
def test_pictures_written_into_request_bodies_are_shaded(
    tab: Any, site_server: SiteServer, real_daemon: Daemon, how: str
) -> None:
    """The same text bodies inside a ``Request`` object (its own body, with or without an init beside
    it) or a FormData text field: shaded in place, never sent as the original."""
    tab.goto(site_server.url("editor.html"))
    assert tab.evaluate(TEXT_IN_REQUEST, [b64(PNG), how]) == 200
    [upload] = site_server.wait_for(f"text-{how}")
    assert_shaded(picture_in_text(upload, how), PNG, real_daemon, "image/png", site_server.host)
    assert b64(PNG).encode() not in b"".join(site_server.all_bytes())


POST_THROUGH = """async ([b, how]) => {
  const file = fileFrom(b, 'p.png', 'image/png');
  const got = await new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error('the message never arrived (60 s)')), 60000);
    if (how === 'port') {
      const channel = new MessageChannel();
      channel.port2.onmessage = (e) => resolve(e.data);
      channel.port1.postMessage({ picture: file });
    } else {
      const [from, to] = [new BroadcastChannel('art'), new BroadcastChannel('art')];
      to.onmessage = (e) => resolve(e.data);
      from.postMessage({ picture: file });
    }
  });
  const bytes = new Uint8Array(await got.picture.arrayBuffer());
  let s = '';
  for (const x of bytes) s += String.fromCharCode(x);
  return btoa(s);
}"""


@pytest.mark.parametrize("how", ["port", "broadcast"])
def test_an_image_posted_over_a_message_port_or_broadcast_channel_is_shaded(
    tab: Any, site_server: SiteServer, real_daemon: Daemon, how: str
) -> None:
    """Whatever receives the message (a frame, a worker, another tab) gets the shaded picture."""
    import base64

    tab.goto(site_server.url("editor.html"))
    received = base64.b64decode(tab.evaluate(POST_THROUGH, [b64(PNG), how]))
    assert_shaded(received, PNG, real_daemon, "image/png", site_server.host)


CLIPBOARD_ROUND_TRIP = """async (b) => {
  const blob = fileFrom(b, 'c.png', 'image/png');
  const item0 = new ClipboardItem({ 'image/png': new Blob([blob], { type: 'image/png' }) });
  await navigator.clipboard.write([item0]);
  const [item] = await navigator.clipboard.read();
  const got = new Uint8Array(await (await item.getType('image/png')).arrayBuffer());
  let s = '';
  for (const x of got) s += String.fromCharCode(x);
  return btoa(s);
}"""


def test_a_picture_read_from_the_clipboard_comes_out_shaded(
    tab: Any, site_server: SiteServer, real_daemon: Daemon
) -> None:
    import base64

    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site_server.url("")[:-1])
    tab.goto(site_server.url("editor.html"))
    tab.bring_to_front()
    received = base64.b64decode(tab.evaluate(CLIPBOARD_ROUND_TRIP, b64(PNG)))
    assert_shaded(received, PNG, real_daemon, "image/png", site_server.host)
