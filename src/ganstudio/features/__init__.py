"""Feature extractors by name: ``get_extractor("classifier" | "emoji" | "folder-rcf" | "onnx:PATH", data)``.

``EXTRACTORS`` is the registry: name -> ``ExtractorSpec(build, description, argument)``. A spec
string is ``NAME`` or ``NAME:ARG``:

    classifier          the small CNN trained on the run's (labelled) data by
                        ``ganstudio features train --data X``; classifier:PATH picks a cached folder
    emoji               the classifier trained on the emoji's Unicode groups (``ganstudio features
                        train --data emoji``, shape augmentation): a colour feature space for any
                        colour pictures, whatever the run's data; pictures of any size are resized
                        to its 64 px (``fit_images``), grey ones repeated to RGB
    folder-rcf          fixed random-conv features + pixel statistics: any images, no training
    onnx:PATH           any network exported to ONNX, run with onnxruntime
    gm-notes            sound: the log-mel CNN trained on gm-notes' instrument families (``ganstudio features
                        train --data gm-notes``; gm-notes:PATH picks a cached folder); reads waveforms
    spoken-digits       sound: the log-mel CNN trained on spoken-digits' digits (likewise)
    sound:PATH          sound: any cached sound classifier (e.g. one trained on a folder of class sub-folders)
    auto                classifier when one is cached for the data (for an emoji run that is the
                        network ``emoji`` names), else emoji for an emoji run with other options
                        when the emoji classifier is cached, else folder-rcf (pictures: training-time
                        evaluation of a sound run reads its spectrogram pictures); ``ganstudio evaluate``
                        of a sound run asks ``sound_spec``: the sound classifier trained on its data

Every extractor reports ``name`` and ``id`` (a hash of its weights); numbers from different
extractors are not comparable, and every result carries both.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from ..data import DataConfig
from ..errors import UserError
from .base import Extractor, Features, fit_images, to_unit_float

__all__ = [
    "EXTRACTORS",
    "Extractor",
    "ExtractorSpec",
    "Features",
    "fit_images",
    "get_extractor",
    "resolve_spec",
    "sound_spec",
    "to_unit_float",
]


@dataclass(frozen=True)
class ExtractorSpec:
    build: Callable[[str | None, DataConfig | None], Extractor]  # (argument, the run's data) -> extractor
    description: str
    argument: str = ""  # what NAME:ARG takes ("" = no argument; "optional ..." = may be omitted)


def _classifier(arg: str | None, data: DataConfig | None) -> Extractor:
    from .classifier import load_classifier

    return load_classifier(data=data, path=arg)


def _emoji(arg: str | None, data: DataConfig | None) -> Extractor:
    from .cache import features_root
    from .classifier import find_classifier, load_classifier

    found = find_classifier("emoji")
    if found is None:
        raise UserError(
            f"no emoji classifier in {features_root()}; train it once with `ganstudio features train --data emoji` "
            "(about 3 minutes on 2 CPU cores)"
        )
    return load_classifier(path=found)


def _randconv(arg: str | None, data: DataConfig | None) -> Extractor:
    from .randconv import RandomConvExtractor

    return RandomConvExtractor()


def _onnx(arg: str | None, data: DataConfig | None) -> Extractor:
    if not arg:
        raise UserError("give the model file: --features onnx:path/to/model.onnx")
    from .onnx import OnnxExtractor

    return OnnxExtractor(arg)


def _sound(source: str | None) -> Callable[[str | None, DataConfig | None], Extractor]:
    def build(arg: str | None, data: DataConfig | None) -> Extractor:
        from .sound import load_sound_classifier

        return load_sound_classifier(data=source, path=arg)

    return build


EXTRACTORS: dict[str, ExtractorSpec] = {
    "classifier": ExtractorSpec(
        _classifier,
        "small CNN trained on the labelled data (classifier-FID)",
        "optional PATH of a cached classifier folder",
    ),
    "emoji": ExtractorSpec(
        _emoji, "the classifier trained on the emoji groups: a colour feature space for any colour pictures"
    ),
    "folder-rcf": ExtractorSpec(_randconv, "fixed random-conv features + pixel statistics (any images)"),
    "onnx": ExtractorSpec(_onnx, "a feature network exported to ONNX (onnxruntime)", "PATH of the .onnx file"),
    "gm-notes": ExtractorSpec(
        _sound("gm-notes"),
        "sound: log-mel CNN trained on gm-notes' instrument families",
        "optional PATH of a cached sound classifier folder",
    ),
    "spoken-digits": ExtractorSpec(
        _sound("spoken-digits"),
        "sound: log-mel CNN trained on spoken-digits' digits",
        "optional PATH of a cached sound classifier folder",
    ),
    "sound": ExtractorSpec(_sound(None), "sound: any cached sound classifier folder", "PATH of the folder"),
}


def resolve_spec(spec: str, data: DataConfig | None, log: Callable[[str], None] | None = None) -> str:
    """``auto`` -> ``classifier`` when one is cached for ``data``; for an emoji run with other options
    (background, subgroups) ``emoji`` when that one is cached; else ``folder-rcf`` (with a note)."""
    if spec != "auto":
        return spec
    if data is not None:
        from .classifier import classifier_data_config, find_classifier

        try:
            classifier_data_config(data)
            found = find_classifier(data)
        except UserError:
            found = None
        if found is not None:
            return "classifier"
        if data.name == "emoji":
            try:
                if find_classifier("emoji") is not None:
                    return "emoji"
            except UserError:
                pass
        from ..data import SOURCES

        if data.name in SOURCES or data.labels:
            (log or (lambda s: print(s, file=sys.stderr)))(
                f"note: no classifier cached for {data.name}; using folder-rcf features. For classifier-FID "
                f"run `ganstudio features train --data {data.name}` once"
            )
    return "folder-rcf"


def sound_spec(spec: str, data: DataConfig) -> str:
    """A sound run's extractor: ``auto`` -> the sound classifier of its data (``gm-notes``, ``spoken-digits``, or
    ``sound:PATH`` for a folder; a UserError naming the training command when none is cached); else ``spec``."""
    if spec != "auto":
        return spec
    from .sound import SOUND_SOURCES, load_sound_classifier

    if data.name in SOUND_SOURCES:
        return data.name
    return f"sound:{load_sound_classifier(data.name).path}"


def get_extractor(
    spec: str = "auto", data: DataConfig | None = None, log: Callable[[str], None] | None = None
) -> Extractor:
    """Build the extractor a spec string names (see the module docstring)."""
    spec = resolve_spec(spec, data, log)
    name, sep, arg = spec.partition(":")
    entry = EXTRACTORS.get(name)
    if entry is None:
        raise UserError(
            f"unknown features {spec!r}; choose one of auto, "
            + ", ".join(
                f"{k}:PATH" if v.argument and not v.argument.startswith("optional") else k
                for k, v in EXTRACTORS.items()
            )
        )
    if sep and not entry.argument:
        raise UserError(f"features {name!r} takes no argument (got {spec!r})")
    return entry.build(arg or None, data)
