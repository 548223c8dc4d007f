"""The style catalogue for ``--mode cloak``: named styles and the prompts that render them.

The cloak re-renders the artwork in one of these styles.  With no ``--style`` the catalogue style whose
CLIP text embedding is farthest from the artwork's CLIP image embedding is used, so a model fine-tuned on
the protected images learns a style far from the artist's own.  ``--style NAME`` picks a catalogue style by
name; any other ``--style "..."`` text is used verbatim as the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    name: str
    prompt: str


#: what a cloak re-rendering should not look like
NEGATIVE_PROMPT = "photo, photograph, blurry, low quality, watermark, text, signature"

STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style("cubist oil painting",
              "a cubist oil painting, fragmented geometric planes, muted ochre palette, Picasso and Braque"),
        Style("ukiyo-e woodblock print", "an ukiyo-e woodblock print, flat colours, bold outlines, Hokusai"),
        Style("pixel art", "pixel art, 16-bit video game sprite, limited palette, hard pixel edges"),
        Style("charcoal sketch", "a rough charcoal sketch on grey paper, smudged shading, loose strokes"),
        Style("impressionist painting",
              "an impressionist oil painting, visible dabs of paint, dappled light, Monet"),
        Style("pop art",
              "pop art screen print, halftone dots, saturated primary colours, Warhol and Lichtenstein"),
        Style("art nouveau poster",
              "an art nouveau poster, flowing ornamental lines, decorative border, Mucha"),
        Style("stained glass", "a stained glass window, thick black lead lines, glowing jewel colours"),
        Style("watercolour", "a loose watercolour painting, soft wet edges, paper texture, pale washes"),
        Style("pointillism", "a pointillist painting made of tiny dots of pure colour, Seurat"),
        Style("expressionist painting",
              "an expressionist painting, distorted forms, violent brush strokes, Munch"),
        Style("low-poly 3d render", "a low-poly 3D render, flat-shaded triangles, isometric lighting"),
        Style("art deco", "an art deco illustration, geometric symmetry, gold and black, streamlined shapes"),
        Style("mosaic", "a Roman tile mosaic, small square tesserae, grout lines"),
        Style("byzantine icon", "a byzantine icon painting, gold leaf background, flat stylised figures"),
        Style("psychedelic poster",
              "a 1960s psychedelic poster, swirling neon colours, warped lettering shapes"),
        Style("blueprint", "a technical blueprint drawing, white lines on blue paper, measurements"),
        Style("cross-stitch", "a cross-stitch embroidery, visible fabric grid, coloured thread stitches"),
        Style("graffiti", "a street graffiti mural, spray paint, drips, bold outlines on brick wall"),
        Style("claymation", "a claymation scene, plasticine figures, fingerprints in clay, stop-motion"),
        Style("baroque oil painting",
              "a baroque oil painting, dramatic chiaroscuro, dark background, Caravaggio"),
        Style("anime cel", "an anime cel illustration, clean line art, flat cel shading, bright colours"),
    )
}  # fmt: skip


def resolve(text: str) -> tuple[Style, str]:
    """``--style`` text -> (style, how): a catalogue name (any case) gives its prompt, else verbatim."""
    key = " ".join(text.split()).lower()
    if key in STYLES:
        return STYLES[key], "given (catalogue name)"
    return Style(name=" ".join(text.split()), prompt=" ".join(text.split())), "given (verbatim prompt)"
