"""Cloak and poison targets, made by diffusion models (``--mode cloak | poison | cloak+poison``).

- **cloak** (Glaze-like): the artwork re-rendered by Stable Diffusion image-to-image at moderate strength
  in a style far from its own (the catalogue style CLIP finds farthest, or ``--style``).  Pulling the
  artwork's encoding toward it teaches a model fine-tuned on the protected images the wrong style.
- **poison** (Nightshade-like): the image's concept (CLIP zero-shot, or ``--concept``) is mapped to a far
  concept (``--poison-target`` or the defaults in ``concepts``); anchor image(s) of that concept come from
  Stable Diffusion text-to-image; the artwork's encoding is pulled toward an anchor's.
- **cloak+poison**: both, weighted (``cloak_weight``, default 0.5).

Every result is cached on disk (``diffusion_cache``): the same image again, or another image of the same
concept, does not run the diffusion model again, and a cached CLIP analysis means CLIP is not loaded either.
Models load only when something is not cached, and are freed before the optimiser runs.

Tunables (``DEFAULTS``, checked by ``Params``): ``strength``, ``cloak_steps``, ``anchor_steps``,
``guidance``, ``anchors``, ``cloak_weight``; which models make the targets: see ``diffusion_models``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from ..errors import SettingsError
from . import concepts, diffusion_clip
from . import diffusion_models as dm
from . import styles as style_catalogue
from .base import Target, TargetRequest
from .diffusion_cache import TargetCache, image_hash, make_key

#: bump when generation changes in a way the key does not capture, so old cache entries are not reused
CACHE_VERSION = 1

DEFAULTS: dict[str, Any] = {
    "strength": 0.55,
    "cloak_steps": 30,  # img2img runs int(steps * strength) of them
    "anchor_steps": 25,
    "guidance": 7.5,
    "anchors": 1,
    "cloak_weight": 0.5,
}

#: aspect ratios (w/h) anchors are generated at; an image uses the nearest, so images of the same concept
#: and similar shape share anchors
ASPECTS: tuple[float, ...] = (1.0, 3 / 4, 4 / 3)


def make_cloak_targets(request: TargetRequest) -> list[Target]:
    return _Maker(request).run(cloak=True, poison=False)


def make_poison_targets(request: TargetRequest) -> list[Target]:
    return _Maker(request).run(cloak=False, poison=True)


def make_cloak_poison_targets(request: TargetRequest) -> list[Target]:
    return _Maker(request).run(cloak=True, poison=True)


# ------------------------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Params:
    strength: float
    cloak_steps: int
    anchor_steps: int
    guidance: float
    anchors: int
    cloak_weight: float

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Params:
        """The tunables in ``values`` (``DEFAULTS`` for any not given), checked."""
        raw = {k: values.get(k, v) for k, v in DEFAULTS.items()}
        try:
            p = cls(
                strength=float(raw["strength"]),
                cloak_steps=int(raw["cloak_steps"]),
                anchor_steps=int(raw["anchor_steps"]),
                guidance=float(raw["guidance"]),
                anchors=int(raw["anchors"]),
                cloak_weight=float(raw["cloak_weight"]),
            )
        except (TypeError, ValueError) as err:
            raise SettingsError(f"bad diffusion target setting: {err}") from None
        if not 0.05 <= p.strength <= 1.0:
            raise SettingsError(f"strength must be in 0.05..1, got {p.strength}")
        if not (1 <= p.cloak_steps <= 200 and 1 <= p.anchor_steps <= 200 and 1 <= p.anchors <= 16):
            raise SettingsError("steps must be 1..200 and anchors 1..16")
        if not 0.0 < p.cloak_weight < 1.0:
            raise SettingsError(f"cloak_weight must be strictly between 0 and 1, got {p.cloak_weight}")
        return p


def generation_size(native: int, multiple: int, aspect: float) -> tuple[int, int]:
    """(width, height) with about ``native``² pixels, the given aspect, both multiples of ``multiple``."""
    w = math.sqrt(native * native * aspect)
    h = w / aspect
    snap = lambda v: max(multiple, int(round(v / multiple)) * multiple)  # noqa: E731
    return snap(w), snap(h)


def nearest_aspect(width: int, height: int) -> float:
    a = width / height
    return min(ASPECTS, key=lambda r: (abs(math.log(r / a)), r))


# ------------------------------------------------------------------------------------------- the maker


class _Maker:
    """One request's worth of target making; loads each model at most once and frees it at the end."""

    def __init__(self, request: TargetRequest) -> None:
        self.request = request
        self.settings = request.settings
        self.params = Params.from_values(DEFAULTS)
        self.cache = TargetCache()
        self.image_hash = image_hash(request.image.convert("RGB"))
        self.sd_name, self.clip_name = dm.chosen_names()
        self._clip_ref: dm.ModelRef | None = None
        self._done = 0.0
        self._total = 1.0

    # -- progress over the whole target phase: 0..1
    def _progress(self, fraction: float, stage: str) -> None:
        if self.request.progress is not None:
            self.request.progress(min(1.0, max(0.0, fraction)), stage)

    def _step_callback(self, share: float, stage: str) -> Callable[..., dict[str, Any]]:
        start = self._done

        def on_step(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            n = max(1, int(getattr(pipe, "num_timesteps", 0) or 1))
            self._progress((start + share * (step + 1) / n) / self._total, stage)
            return kwargs

        return on_step

    def run(self, *, cloak: bool, poison: bool) -> list[Target]:
        if poison:  # a malformed --poison-target is the artist's to fix: say so before any model runs
            concepts.parse_override(self.settings.poison_target)
        # missing diffusion weights are the likeliest failure: find out before any other work
        self.sd = dm.resolve(self.sd_name, self.request.models_dir, want="pipeline")
        self.pipes = dm.Pipelines(self.sd, self.request.device)
        self._total = (1.0 if cloak else 0.0) + (float(self.params.anchors) if poison else 0.0)
        self._progress(0.0, "target: preparing")
        try:
            targets: list[Target] = []
            if cloak:
                targets.append(self._cloak())
            if poison:
                targets.extend(self._poison())
        finally:
            self.pipes.close()  # the optimiser gets the memory
        if cloak and poison:
            for t in targets:
                share = self.params.cloak_weight if t.kind == "style" else 1.0 - self.params.cloak_weight
                t.weight = share * (1.0 if t.kind == "style" else 1.0 / self.params.anchors)
        mode = self.settings.mode
        for t in targets:
            t.info = {"mode": mode, "weight": round(t.weight, 6), **t.info}
        self._progress(1.0, "target: ready")
        return targets

    # -- models, loaded lazily
    def clip_ref(self) -> dm.ModelRef:
        if self._clip_ref is None:
            self._clip_ref = dm.resolve(self.clip_name, self.request.models_dir, want="clip")
        return self._clip_ref

    def _native(self) -> tuple[int, int]:
        if not self.pipes.loaded:
            self._progress(self._done / self._total, f"target: loading {self.sd.name}")
        return self.pipes.native()

    def _analysis(self) -> tuple[dict[str, Any], bool]:
        """CLIP's view of the artwork (cached per CLIP model and image)."""
        ref = self.clip_ref()
        style_prompts = {s.name: s.prompt for s in style_catalogue.STYLES.values()}
        key = make_key(
            "clip",
            {
                "v": CACHE_VERSION,
                "model": ref.name,
                "fp": ref.fingerprint,
                "image": self.image_hash,
                "vocabulary": list(concepts.VOCABULARY),
                "styles": style_prompts,
            },
        )
        hit = self.cache.get_json(key)
        if hit is not None and isinstance(hit.get("concepts"), dict) and isinstance(hit.get("styles"), dict):
            return hit, True
        self._progress(self._done / self._total, f"target: analysing with {ref.name}")
        model, processor = dm.load_clip(ref, self.request.device)
        try:
            result = diffusion_clip.analyse(
                model, processor, self.request.image, concepts.VOCABULARY, style_prompts
            )
        finally:
            del model, processor
            dm.free()
        self.cache.put_json(key, result)
        return result, False

    def _farthest_from(self, concept: str) -> tuple[str, dict[str, float]]:
        ref = self.clip_ref()
        key = make_key(
            "far",
            {
                "v": CACHE_VERSION,
                "model": ref.name,
                "fp": ref.fingerprint,
                "concept": concept,
                "vocabulary": list(concepts.VOCABULARY),
            },
        )
        sims = self.cache.get_json(key)
        if not sims or not all(isinstance(v, float) for v in sims.values()):
            model, processor = dm.load_clip(ref, self.request.device)
            try:
                sims = diffusion_clip.farthest_concept(model, processor, concept, concepts.VOCABULARY)
            finally:
                del model, processor
                dm.free()
            self.cache.put_json(key, sims)
        return min(sims, key=lambda c: (sims[c], c)), sims

    # -- cloak
    def _cloak(self) -> Target:
        s, p = self.settings, self.params
        info: dict[str, Any] = {}
        if s.style:
            style, how = style_catalogue.resolve(s.style)
        else:
            analysis, cached = self._analysis()
            sims: dict[str, float] = analysis["styles"]
            name = min(sims, key=lambda n: (sims[n], n))
            style, how = style_catalogue.STYLES[name], "farthest from the artwork (CLIP)"
            info["style_similarity"] = sims[name]
            info["closest_style"] = max(sims, key=lambda n: (sims[n], n))
            info["clip_model"] = self.clip_ref().describe()
            info["clip_from_cache"] = cached
        w, h = self.request.image.size
        key_parts = {
            "v": CACHE_VERSION,
            "what": "cloak",
            "model": self.sd.name,
            "fp": self.sd.fingerprint,
            "prompt": style.prompt,
            "negative": style_catalogue.NEGATIVE_PROMPT,
            "seed": s.seed,
            "strength": p.strength,
            "steps": p.cloak_steps,
            "guidance": p.guidance,
            "image": self.image_hash,
        }
        key = make_key("cloak", key_parts)
        hit = self.cache.get_image(key)
        if hit is not None:
            image, made = hit
        else:
            native, multiple = self._native()
            gw, gh = generation_size(native, multiple, w / h)
            init = self.request.image.convert("RGB").resize((gw, gh), Image.Resampling.LANCZOS)
            image = self.pipes.img2img()(
                prompt=style.prompt,
                negative_prompt=style_catalogue.NEGATIVE_PROMPT,
                image=init,
                strength=p.strength,
                num_inference_steps=p.cloak_steps,
                guidance_scale=p.guidance,
                generator=torch.Generator("cpu").manual_seed(s.seed),
                callback_on_step_end=self._step_callback(1.0, f"target: cloak in {style.name}"),
            ).images[0]
            made = {"size": [gw, gh], "model": self.sd.describe()}
            self.cache.put_image(key, image, made)
        self._done += 1.0
        info.update(
            style=style.name,
            style_prompt=style.prompt,
            style_chosen_by=how,
            seed=s.seed,
            strength=p.strength,
            steps=p.cloak_steps,
            guidance=p.guidance,
            model=self.sd.describe(),
            generated_size=made.get("size"),
            cache_key=key,
            from_cache=hit is not None,
        )
        return Target(image.convert("RGB"), "style", info)

    # -- poison
    def _poison(self) -> list[Target]:
        s, p = self.settings, self.params
        info: dict[str, Any] = {}
        score: float | str
        if s.concept and s.concept.strip():
            concept, score, how = concepts.clean(s.concept), "given", "given"
        else:
            analysis, cached = self._analysis()
            probs: dict[str, float] = analysis["concepts"]
            concept = max(probs, key=lambda c: (probs[c], c))
            score, how = probs[concept], "CLIP zero-shot"
            top = sorted(probs, key=lambda c: -probs[c])[:3]
            info["concept_top3"] = {c: probs[c] for c in top}
            info["clip_model"] = self.clip_ref().describe()
            info["clip_from_cache"] = cached
        one, mapping = concepts.parse_override(s.poison_target)
        if one:
            target, target_how = one, "given"
        elif concept in mapping:
            target, target_how = mapping[concept], "given mapping"
        elif concepts.default_target(concept):
            target, target_how = concepts.default_target(concept) or "", "default mapping"
        else:
            target, sims = self._farthest_from(concept)
            target_how = "farthest concept (CLIP text)"
            info["clip_model"] = self.clip_ref().describe()
            info["target_similarity"] = sims[target]
        if target == concept:
            raise SettingsError(f"poison target {target!r} is the image's own concept; choose another")
        prompt = concepts.prompt_for(target)
        aspect = nearest_aspect(*self.request.image.size)
        info.update(
            concept=concept,
            concept_score=score,
            concept_detected_by=how,
            poison_target=target,
            poison_target_chosen_by=target_how,
            prompt=prompt,
            model=self.sd.describe(),
        )
        anchors: list[tuple[Image.Image, dict[str, Any]]] = []
        for i in range(p.anchors):
            seed = s.seed + i
            key = make_key(
                "anchor",
                {
                    "v": CACHE_VERSION,
                    "what": "anchor",
                    "model": self.sd.name,
                    "fp": self.sd.fingerprint,
                    "prompt": prompt,
                    "negative": concepts.ANCHOR_NEGATIVE,
                    "seed": seed,
                    "steps": p.anchor_steps,
                    "guidance": p.guidance,
                    "aspect": round(aspect, 4),
                },
            )
            hit = self.cache.get_image(key)
            if hit is not None:
                image, made = hit
            else:
                image, made = self._anchor(prompt, seed, aspect, i)
                self.cache.put_image(key, image, made)
            self._done += 1.0
            anchors.append(
                (
                    image,
                    {
                        "cache_key": key,
                        "seed": seed,
                        "from_cache": hit is not None,
                        "generated_size": made.get("size"),
                    },
                )
            )
        out = []
        for i, (image, anchor) in enumerate(anchors):
            facts = {
                **info,
                "anchor": anchor,
                "anchor_index": i,
                "anchors_total": p.anchors,
                "steps": p.anchor_steps,
                "guidance": p.guidance,
                "from_cache": anchor["from_cache"],
            }
            out.append(Target(image.convert("RGB"), "concept", facts, weight=1.0 / p.anchors))
        return out

    def _anchor(
        self, prompt: str, seed: int, aspect: float, index: int
    ) -> tuple[Image.Image, dict[str, Any]]:
        p = self.params
        native, multiple = self._native()
        gw, gh = generation_size(native, multiple, aspect)
        image = self.pipes.text2img()(
            prompt=prompt,
            negative_prompt=concepts.ANCHOR_NEGATIVE,
            width=gw,
            height=gh,
            num_inference_steps=p.anchor_steps,
            guidance_scale=p.guidance,
            generator=torch.Generator("cpu").manual_seed(seed),
            callback_on_step_end=self._step_callback(1.0, f"target: anchor {index + 1} ({prompt})"),
        ).images[0]
        return image, {"size": [gw, gh], "model": self.sd.describe(), "prompt": prompt, "seed": seed}


__all__ = ["DEFAULTS", "make_cloak_poison_targets", "make_cloak_targets", "make_poison_targets"]
