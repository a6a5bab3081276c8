"""Presets are data: each is a dict of RunConfig fields applied before the user's own flags."""

from __future__ import annotations

from ..errors import UserError

PRESETS: dict[str, dict] = {
    # The seed article's model and optimiser exactly (sections 3.2 and 5.2), loss bug fixed.
    "seed": {"model": "mlp", "train": {"lr_g": 1e-4, "lr_d": 1e-4, "batch_size": 64, "schedule": "simultaneous"}},
    # The article's section 4.3 case study: lr 1e-3 for 10,000 steps.
    "seed-case-study": {
        "model": "mlp",
        "train": {"lr_g": 1e-3, "lr_d": 1e-3, "steps": 10000, "schedule": "simultaneous"},
    },
    # The best quality per minute on Fashion-MNIST/MNIST on a CPU (screened in benchmarks/README.md): a small
    # class-conditional DCGAN whose G sees the class at its input *and* in its BatchNorms, and whose
    # spectral-norm D both projects the class and classifies it (projection + ACGAN); the seed's own
    # loss and simultaneous step, Adam(5e-4, beta1 0.5), batch 32 (more steps per minute), EMA.
    "fashion-mnist": {
        "model": "dcgan",
        "conditional": True,
        "model_config": {
            "g_channels": 32,
            "d_channels": 32,
            "spectral_norm": True,
            "d_norm": "none",
            "conditioning": "both",
            "class_input": True,
        },
        "train": {
            "loss": "ns",
            "schedule": "simultaneous",
            "lr_g": 5e-4,
            "lr_d": 5e-4,
            "beta1": 0.5,
            "beta2": 0.999,
            "eps": 1e-8,
            "batch_size": 32,
            "ema_beta": 0.999,
        },
    },
    # Emoji (or other labelled colour pictures, e.g. clipart) at 64 px: the lightweight (FastGAN-style) family
    # drawing at 32 px (D judges the drawing) and enlarging it with a super-resolution stage learned from the real
    # pictures, class-conditional (the class also at G's input; D both projects the class and classifies, ACGAN's
    # auxiliary head), a D with per-sample layer norm, hinge loss, adaptive DiffAugment, EMA. Emoji are
    # conditioned on Unicode's 96 subgroups ("food-fruit"), not its 8 groups (other data ignore label_by;
    # `--class "Food & Drink"` draws a group's subgroups in turn). Measured on emoji (benchmarks/README.md,
    # "Colour pictures", classes asked in the data's proportions): 10 minutes FID 154 with subgroups vs 174 with
    # groups and folder-64's 304; 30 minutes 85; >= 60 % of samples in the requested group.
    "emoji-64": {
        "model": "lightweight",
        "conditional": True,
        "data": {"resolution": 64, "label_by": "subgroup"},
        "model_config": {
            "g_channels": 32,
            "d_channels": 32,
            "d_norm": "layer",
            "class_input": True,
            "conditioning": "both",
            "upscale": 2,
            "detail_channels": 16,
        },
        "train": {
            "loss": "hinge",
            "schedule": "alternating",
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "beta1": 0.5,
            "eps": 1e-8,
            "batch_size": 16,
            "ema_beta": 0.999,
            "augment": ["color", "translation", "cutout"],
            "ada": True,
            "guard": True,
            # bf16 autocast on AMX CPUs and GPUs, float32 elsewhere: on an AMX CPU 1.6x the steps in 10 minutes
            # and FID 126/137 against 200/198 (2 seeds, paired; benchmarks/README.md); slower without AMX.
            "precision": "auto",
        },
    },
    # The folder preset until session 23 (kept to reproduce its numbers): DCGAN with spectral norm, adaptive DiffAugment, flips, EMA.
    # 32 channels, not 48: on a CPU twice the steps per minute beat the width (measured: benchmarks/README.md,
    # 900 photo crops in 5 minutes); the seed's ns loss and simultaneous step did worse here.
    "folder-64-dcgan": {
        "model": "dcgan",
        "data": {"resolution": 64, "flip": True},
        "model_config": {"g_channels": 32, "d_channels": 32, "spectral_norm": True, "d_norm": "none"},
        "train": {
            "loss": "hinge",
            "schedule": "alternating",
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "beta1": 0.5,
            "eps": 1e-8,
            "batch_size": 32,
            "ema_beta": 0.999,
            "augment": ["color", "translation", "cutout"],
            "ada": True,
            "guard": True,
            # bf16 on AMX CPUs and GPUs, float32 elsewhere: on an AMX CPU 1.5x the steps in 10 minutes and FID 427
            # against 504 on emoji (1 thread, one paired seed; benchmarks/README.md); slower without AMX.
            "precision": "auto",
        },
    },
    # Text to picture on captioned pictures (emoji names + keywords, clip-art titles, a folder with sidecar
    # .txt files or a captions.jsonl): the lightweight family at 32 px reading the frozen MiniLM embedding of a
    # caption (FiLM in every G block, also at G's input; projection in D), a matching-aware D (a real picture
    # with a wrong caption is a negative), hinge loss, DiffAugment without colour ops (colour is in the
    # captions: "red apple" vs "green apple"), EMA, and XMC-GAN's two contrastive terms in D's matching space
    # (caption <-> picture, and G's picture <-> its caption's real picture). Measured (benchmarks/text_README.md):
    # held-out names ranked first among 100 by an independent judge 15.7 % after 19 minutes without the terms,
    # 25.3 % after 21 minutes and 31.1 % after 40 with them. G learns at 1e-3 and regresses each caption's real
    # picture (caption_recon 100, full size; one emoji name = one picture): at 1,800 steps 30.8 % on held-out
    # names and 52 % on training names, against 18 % / 27 % before and 26 % / 41 % with the learning rate alone.
    # A caption several pictures share ("a cat" on a folder) is left out of the regression (it would pull
    # toward their average); the adversarial and matching terms still train it.
    # G draws each caption over its nearest training picture of another caption (retrieve; a softmax blend of the 8
    # nearest at temperature 0.02, so walks between prompts cross-fade): on held-out names 42-45 % after 600-1,200
    # steps (2 seeds), where the preset without it had 25 % at 1,200 and 40 % at 4,200 steps on the same machine;
    # paraphrases read as well as names up to 1,800 steps (benchmarks/text_README.md, session 17). When sampling, the
    # noise shifts which neighbours are nearest, so one prompt's seeds differ (retrieve_variety).
    "emoji-text": {
        "model": "lightweight",
        "data": {"resolution": 32},
        "model_config": {
            "g_channels": 32,
            "d_channels": 32,
            "d_norm": "layer",
            "class_input": True,
            "text_dim": 384,
            "text_model": "all-MiniLM-L6-v2",
            "match_weight": 1.0,
            "match_real_weight": 1.0,
            "retrieve": True,
            "retrieve_temperature": 0.02,
            # sampling only: seeds draw over different neighbours (one prompt's pictures differed by 0.005 before,
            # 0.024 with it; held-out names 43.3 % against 42.0 % at 1,800 steps; 0.05 costs 4.5 points)
            "retrieve_variety": 0.025,
        },
        "train": {
            "loss": "hinge",
            "schedule": "alternating",
            "lr_g": 1e-3,
            "lr_d": 2e-4,
            "beta1": 0.5,
            "eps": 1e-8,
            "batch_size": 16,
            "ema_beta": 0.999,
            "caption_recon": 100.0,
            "caption_recon_px": 0,
            # a frozen matcher fitted on the training pairs guides G (training.guide; fitted once, ~3 min, cached):
            # held-out names 40.1 / 39.1 -> 51.3 / 48.4 % at 1,800 steps, 2 seeds (+11.2 +- 2.9, +9.3 +- 3.0 paired; a
            # second judge of another build: +6.1, +11.2), group accuracy 55 -> 62-65 %, same speed (text_README, s. 26)
            # weight 6 with every caption a negative (below): 55.4 / 55.1 % against 52.6 / 51.6 at weight 3 (+2.9 +- 2.2,
            # +3.5 +- 2.3 paired; second judge +1.6, +3.2), session 27
            "text_guidance": 6.0,
            # each picture against every training caption of the other pictures, not the batch's 15: held-out
            # names 51.3 / 48.4 -> 52.6 / 51.6 % (+1.3 +- 2.5, +3.2 +- 2.3 paired; second judge +2.6, +0.0), same speed
            "text_guidance_negatives": "all",
            "augment": ["translation", "cutout"],
            "ada": True,
            # the divergence guard: its mode-collapse check measures the training preview, which draws 8 training
            # captions (one per column); measured at step 400: diversity 16.6 vs the 0.78 threshold, 0 rollbacks
            # (the empty-caption preview it read before scored 0.47 and rolled healthy runs back)
            "guard": True,
        },
    },
    # The folder-128-small-data preset until session 24 (kept to reproduce its numbers): SNGAN-style ResNet at the full
    # 128 px, ADA, lazy R1, minibatch stddev, EMA, the divergence guard. On a CPU it is too heavy for a budget: 2 images/s
    # at 1 thread (76 steps in 10 minutes on 300 clip-art pictures; benchmarks/README.md, session 24).
    "folder-128-resnet": {
        "model": "resnet",
        "data": {"resolution": 128, "flip": True},
        "model_config": {"g_channels": 32, "d_channels": 32, "mbstd": True},
        "train": {
            "loss": "hinge",
            "schedule": "alternating",
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "beta1": 0.0,
            "beta2": 0.99,
            "eps": 1e-8,
            "batch_size": 16,
            "ema_beta": 0.999,
            "augment": ["color", "translation", "cutout"],
            "ada": True,
            "r1_gamma": 1.0,
            "guard": True,
        },
    },
    # Sketch to image (pix2pix): U-Net + PatchGAN on (sketch, picture) pairs made from any dataset.
    "pix2pix": {
        "model": "pix2pix",
        "data": {"pairs": "sketch"},
        "train": {"schedule": "pix2pix", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "eps": 1e-8, "batch_size": 32},
    },
    # Instrument notes (gm-notes; any pitch-labelled sound data): the GANSynth-style spectrogram GAN, log-mel
    # magnitude + instantaneous frequency (2 x 128 mels x 64 frames), conditioned on pitch at G's input and
    # BatchNorms and in D by projection + an auxiliary pitch classifier; fashion-mnist's recipe otherwise
    # (measured: benchmarks/audio_README.md). 16 channels (capped at 128): at 32 a CPU step took ~3x longer,
    # and a CPU budget buys hundreds of steps, not thousands, so the EMA is short (0.99). No augmentation:
    # a shifted or recoloured spectrogram is another pitch or another sound.
    "gm-notes": {
        "model": "specgan",
        "conditional": True,
        "model_config": {
            "g_channels": 16,
            "d_channels": 16,
            "max_channels": 128,
            "conditioning": "both",
            "class_input": True,
        },
        "train": {
            "loss": "ns",
            "schedule": "simultaneous",
            "lr_g": 5e-4,
            "lr_d": 5e-4,
            "beta1": 0.5,
            "beta2": 0.999,
            "eps": 1e-8,
            "batch_size": 32,
            "ema_beta": 0.99,
        },
    },
}


# Spoken words (spoken-digits, or any folder of short speech clips in sub-folders per word): gm-notes' model and
# recipe plus DiffAugment (translation in time and frequency, cutout) under ADA. Without it D memorised the
# 4,500 utterances (D(real) 0.81 / D(fake) 0.19 by epoch 35) and G never learnt three of the ten digits: the
# digit classifier's inception score was 61.7 % of real's after 4,967 steps; with it 74.7 % after 24 minutes
# (6,102 steps), all ten digits among the samples (benchmarks/audio_README.md). Not for notes: a shifted note
# is another pitch.
PRESETS["spoken-digits"] = {
    **PRESETS["gm-notes"],
    "train": {**PRESETS["gm-notes"]["train"], "augment": ["translation", "cutout"], "ada": True},
}

# Text to picture at 64 px: emoji-text's G draws at 32 px and emoji-64's detail stage (learned from the real pictures
# only) enlarges it, so D, the retrieval bank and the losses all work on the 32 px drawing. Measured at 1,800 steps
# (benchmarks/text_README.md, session 19): held-out names 41.7 % against emoji-text's 43.3 % (-1.6 +- 2.4 paired),
# training names 48.0 / 47.8 %, at 10 % fewer steps per second; the pictures are 64 px with crisp edges.
PRESETS["emoji-text-64"] = {
    **PRESETS["emoji-text"],
    "data": {"resolution": 64},
    "model_config": {**PRESETS["emoji-text"]["model_config"], "upscale": 2, "detail_channels": 16},
}

# Your own pictures at 64 px, sorted or not: emoji-64's recipe (the lightweight family drawing at 32 px + learned
# detail, class-conditional) with flips, on classes made from the pictures' look when the folder has none
# (data.clusters auto: about one group per 45 pictures; a folder sorted into sub-folders keeps them). Measured on the
# 1,445 training emoji as an unsorted folder, 10 minutes, 1 thread (benchmarks/README.md, session 23): FID 195 / 202
# (2 seeds) with 32 groups of look, 379 / 384 unconditional; this preset 189 / 171, the DCGAN that was folder-64
# before 548 / 528.
PRESETS["folder-64"] = {
    **PRESETS["emoji-64"],
    "data": {"resolution": 64, "flip": True, "clusters": "auto"},
}

# A few hundred pictures at 128 px, sorted or not: folder-64's recipe, drawing at 64 px and enlarging 2x with the
# learned detail stage (D judges the 64 px drawing; the stage, trained on the real pictures only, adds the 128 px edges
# and texture). Measured on 300 clip-art pictures as an unsorted folder (7 groups of look), 10 minutes, 1 thread, AMX
# CPU (bf16), in the emoji classifier's features (benchmarks/README.md, session 24): FID 61 / 53 (2 seeds) against
# 203 / 282 for the ResNet it replaced (folder-128-resnet: 76 steps in 10 minutes); drawing at 32 px (upscale 4) ran
# 2.3x the steps and measured 77 / 66. With auto's one-picture group folded (6 groups): 47 / 63, within the noise.
PRESETS["folder-128-small-data"] = {
    **PRESETS["folder-64"],
    "data": {"resolution": 128, "flip": True, "clusters": "auto"},
}

# The preset that measured best per minute for each kind of data (benchmarks/README.md): the studio's Train
# panel and `ganstudio datasets` start from it. The labelled colour sources get emoji-64; folders and uploads
# (maybe unlabelled) folder-64.
RECOMMENDED = {
    "fashion-mnist": "fashion-mnist",
    "mnist": "fashion-mnist",
    "digits": "fashion-mnist",
    "emoji": "emoji-64",
    "clipart": "emoji-64",
    "gm-notes": "gm-notes",
    "spoken-digits": "spoken-digits",
}
RECOMMENDED_FOR_PICTURES = "folder-64"


def recommended_preset(data: str) -> str:
    """The preset to start from for dataset ``data`` (a named source, or anything else: a folder or upload)."""
    return RECOMMENDED.get(data, RECOMMENDED_FOR_PICTURES)


def preset(name: str) -> dict:
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
