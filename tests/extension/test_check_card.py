"""The options page's "Check a posted picture": the artist drops the picture saved from the site and sees a
card (kept N %, what the site did, what to try), for the uploads this extension protected only."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from ext_harness import SHADE_TIMEOUT_S, Daemon, ExtensionBrowser, SiteServer, b64, decode, make_image

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ART = make_image("PNG", seed=21, size=256)


def jpeg(data: bytes, quality: int) -> bytes:
    out = io.BytesIO()
    decode(data).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def check_as_artist(daemon: Daemon, posted: bytes) -> tuple[int, dict[str, Any]]:
    """The daemon's own answer for ``posted`` to the artist at the machine (who may check any job)."""
    request = urllib.request.Request(f"{daemon.url}/v1/check", data=posted, method="POST",
                                     headers={"Content-Type": "image/jpeg",
                                              "Authorization": f"Bearer {daemon.token}"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=SHADE_TIMEOUT_S) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def drop_file(page: Any, selector: str, data: bytes, name: str, media_type: str) -> None:
    """Drop a file on ``selector`` as the artist would from the file manager (a real DataTransfer)."""
    page.evaluate(
        """([selector, data, name, type]) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], name, { type }));
          const target = document.querySelector(selector);
          const how = { dataTransfer: transfer, bubbles: true, cancelable: true };
          target.dispatchEvent(new DragEvent('dragover', how));
          target.dispatchEvent(new DragEvent('drop', how));
        }""",
        [selector, b64(data), name, media_type],
    )


def test_check_card_for_a_picture_saved_from_the_site(
    tab: Any, ready: ExtensionBrowser, site_server: SiteServer, real_daemon: Daemon, artifacts: Path
) -> None:
    tab.goto(site_server.url("editor.html"))
    tab.evaluate("(b) => uploadEdited(b, 'image/png')", b64(ART))
    [upload] = site_server.wait_for("raw")
    shaded = upload.parts[0].data
    assert shaded != ART
    posted = jpeg(shaded, 75)  # what a site serves: re-encoded at quality 75, its size kept

    options = ready.context.new_page()
    try:
        options.goto(ready.page_url("options.html"))
        options.wait_for_selector("body[data-ready=true]")
        drop_file(options, "#check-drop", posted, "from-the-site.jpg", "image/jpeg")
        options.wait_for_selector("#check-card:not([hidden])", timeout=SHADE_TIMEOUT_S * 1000)
        headline = options.locator("#check-headline").inner_text()
        facts = options.locator("#check-facts li").all_inner_texts()
        options.locator("#check").screenshot(path=str(artifacts / "check-card.png"))
        tips = options.locator("#check-tips li").all_inner_texts()

        status, expected = check_as_artist(real_daemon, posted)
        assert status == 200, expected
        if expected["protection_found"] and expected["kept"] is not None:
            assert headline == f"Kept {round(100 * expected['kept'])} % of its pull"
        else:
            assert headline in ("No protection found", "Protection found")
        assert facts[:3] == ["Kept its size (256 x 256)", "JPEG quality ≈ 75", "Not cropped"], facts
        # the site re-encoded at Instagram's quality while the site's profile was "none": the card says so
        assert "The site fits the instagram profile (protected for none)" in facts, facts
        assert "Use the instagram platform profile for this site (Sites, above)" in tips, tips
        assert options.locator("#check-error").inner_text() == ""

        # a picture this extension never protected: one line, no card
        before = options.evaluate("document.body.dataset.checked")
        other = make_image("JPEG", seed=99, size=256)
        options.set_input_files(
            "#check-file", files=[{"name": "someone-else.jpg", "mimeType": "image/jpeg", "buffer": other}]
        )
        options.wait_for_function("(b) => document.body.dataset.checked !== b", arg=before,
                                  timeout=SHADE_TIMEOUT_S * 1000)  # fmt: skip
        assert options.locator("#check-card").is_hidden()
        assert "no recent protected upload of yours" in options.locator("#check-error").inner_text()

        # not a picture at all: refused before anything is sent
        options.set_input_files("#check-file", files=[{"name": "notes.jpg", "mimeType": "image/jpeg",
                                                       "buffer": b"hello"}])  # fmt: skip
        options.wait_for_function(
            "() => document.querySelector('#check-error').textContent.includes('not a')"
        )
    finally:
        options.close()
